package neo4j

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// KV is an ordered key-value namespace in the store, for a stage's own
// state that replicas share (the webhooks queue). Each key is a
// (:KV {id, v}) node: id is the namespace, '/', and the key in lower-case
// hex, so the order of ids is the order of keys and a range of keys is a
// range of the unique index on id. A batch is one transaction, retried by
// the driver on transient errors (its writes are idempotent); a batch with
// expectations first takes the write lock of the namespace's (:KVLock)
// node, so expectations are checked and the writes committed with no other
// expecting batch in between. A fenced batch takes its lease's lock as
// crawl writes do. Every commit is durable (Lazy is ignored).
type KV struct {
	s  *Store
	ns string
}

// kvPage bounds the keys one read of a scan returns.
const kvPage = 500

// KV returns the namespace ns (letters, digits, '-', '_' and '.'); it does
// no I/O.
func (s *Store) KV(ns string) (*KV, error) {
	if ns == "" || strings.IndexFunc(ns, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) >= 0 {
		return nil, catalog.Errorf(catalog.Invalid, "key-value namespace %q: use letters, digits, '-', '_' and '.'", ns)
	}
	return &KV{s: s, ns: ns}, nil
}

func (kv *KV) id(k []byte) string { return kv.ns + "/" + hex.EncodeToString(k) }

// bound is the id bounding a range at k; nil k is the namespace's end.
func (kv *KV) bound(k []byte) string {
	if k == nil {
		return kv.ns + "0" // '0' follows '/'
	}
	return kv.id(k)
}

func (kv *KV) key(id string) ([]byte, error) {
	k, err := hex.DecodeString(strings.TrimPrefix(id, kv.ns+"/"))
	if err != nil {
		return nil, fmt.Errorf("decode key %q: %w", id, err)
	}
	return k, nil
}

// Close does nothing: the store owns the connection.
func (kv *KV) Close() error { return nil }

// Get returns the value at k and whether there is one.
func (kv *KV) Get(ctx context.Context, k []byte) ([]byte, bool, error) {
	v, err := kv.s.view(ctx, func(r reader) (any, error) {
		return r.collect("MATCH (n:`KV` {id: $id}) RETURN n.v", map[string]any{"id": kv.id(k)})
	})
	if err != nil {
		return nil, false, fmt.Errorf("read key-value %s: %w", kv.ns, err)
	}
	recs := v.([]*neo4j.Record)
	if len(recs) == 0 {
		return nil, false, nil
	}
	b, _ := recs[0].Values[0].([]byte)
	if b == nil {
		b = []byte{}
	}
	return b, true, nil
}

// Scan calls fn for the keys in [start, end) in order (descending when
// reverse), at most limit of them when limit > 0, reading kvPage keys per
// transaction: a scan is not one snapshot.
func (kv *KV) Scan(ctx context.Context, start, end []byte, limit int, reverse bool, fn func(k, v []byte) error) error {
	lo, hi := kv.id(start), kv.bound(end)
	n := 0
	for {
		page := kvPage
		if limit > 0 && limit-n < page {
			page = limit - n
		}
		q := "MATCH (n:`KV`) WHERE n.id >= $lo AND n.id < $hi RETURN n.id, n.v ORDER BY n.id LIMIT $n"
		if reverse {
			q = "MATCH (n:`KV`) WHERE n.id >= $lo AND n.id < $hi RETURN n.id, n.v ORDER BY n.id DESC LIMIT $n"
		}
		v, err := kv.s.view(ctx, func(r reader) (any, error) {
			return r.collect(q, map[string]any{"lo": lo, "hi": hi, "n": int64(page)})
		})
		if err != nil {
			return fmt.Errorf("scan key-value %s: %w", kv.ns, err)
		}
		recs := v.([]*neo4j.Record)
		for _, rec := range recs {
			id := rec.Values[0].(string)
			k, err := kv.key(id)
			if err != nil {
				return err
			}
			val, _ := rec.Values[1].([]byte)
			if err := fn(k, val); err != nil {
				return err
			}
			n++
			if reverse {
				hi = id
			} else {
				lo = id + "\x00" // the next id after this one
			}
		}
		if len(recs) < page || limit > 0 && n >= limit {
			return nil
		}
	}
}

// Commit applies b in one transaction (see catalog.KVBatch).
func (kv *KV) Commit(ctx context.Context, b catalog.KVBatch) error {
	s := kv.s
	_, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		run := func(q string, params map[string]any) error {
			res, err := tx.Run(ctx, s.q.Replace(q), params)
			if err != nil {
				return err
			}
			_, err = res.Consume(ctx)
			return err
		}
		if !b.Fence.IsZero() {
			cur, err := s.lockLease(ctx, tx, b.Fence.Lease)
			if err != nil {
				return nil, fmt.Errorf("lock lease %s: %w", b.Fence.Lease, err)
			}
			if err := b.Fence.Check(cur, s.now()); err != nil {
				return nil, err
			}
		}
		if len(b.Expect) > 0 {
			if err := run("MERGE (l:`KVLock` {ns: $ns}) SET l.lock = coalesce(l.lock, 0) + 1", map[string]any{"ns": kv.ns}); err != nil {
				return nil, err
			}
			for _, e := range b.Expect {
				res, err := tx.Run(ctx, s.q.Replace("MATCH (n:`KV` {id: $id}) RETURN n.v"), map[string]any{"id": kv.id(e.Key)})
				if err != nil {
					return nil, err
				}
				recs, err := res.Collect(ctx)
				if err != nil {
					return nil, err
				}
				var cur []byte
				if len(recs) > 0 {
					cur, _ = recs[0].Values[0].([]byte)
					if cur == nil {
						cur = []byte{}
					}
				}
				if (cur != nil) != (e.Value != nil) || !bytes.Equal(cur, e.Value) {
					return nil, catalog.Errorf(catalog.Conflict, "%s key %x: %w", kv.ns, e.Key, catalog.ErrKVChanged)
				}
			}
		}
		var sets []map[string]any
		flush := func() error {
			if len(sets) == 0 {
				return nil
			}
			err := run("UNWIND $rows AS r MERGE (n:`KV` {id: r.id}) SET n.v = r.v", map[string]any{"rows": sets})
			sets = nil
			return err
		}
		for _, w := range b.Writes {
			if w.End == nil && !w.Delete {
				v := w.Value
				if v == nil {
					v = []byte{}
				}
				sets = append(sets, map[string]any{"id": kv.id(w.Key), "v": v})
				continue
			}
			if err := flush(); err != nil {
				return nil, err
			}
			var err error
			if w.End != nil {
				err = run("MATCH (n:`KV`) WHERE n.id >= $lo AND n.id < $hi DELETE n", map[string]any{"lo": kv.id(w.Key), "hi": kv.bound(w.End)})
			} else {
				err = run("MATCH (n:`KV` {id: $id}) DELETE n", map[string]any{"id": kv.id(w.Key)})
			}
			if err != nil {
				return nil, err
			}
		}
		return nil, flush()
	})
	if err != nil {
		return fmt.Errorf("commit key-value %s: %w", kv.ns, classify(err))
	}
	return nil
}
