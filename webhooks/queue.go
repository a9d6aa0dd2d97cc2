package webhooks

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Delivery is one change to deliver to one endpoint. Its webhook-id is
// derived from (endpoint, change), so it is the same on every attempt and
// replay, and receivers can deduplicate by it.
type Delivery struct {
	Endpoint string             `json:"endpoint"`
	Seq      uint64             `json:"seq"`
	Type     catalog.ChangeType `json:"type"`
	Subject  catalog.URN        `json:"subject,omitempty"`
	// Body is the exact payload, rendered when the change was enqueued.
	Body        json.RawMessage `json:"body"`
	ContentType string          `json:"contentType"`
	Attempts    int             `json:"attempts"`
	NextAt      time.Time       `json:"nextAt"`
	CreatedAt   time.Time       `json:"createdAt"`
	LastError   string          `json:"lastError,omitempty"`
	LastStatus  int             `json:"lastStatus,omitempty"`
	DeadAt      time.Time       `json:"deadAt,omitzero"`
}

// WebhookID returns the Standard Webhooks message id of d.
func (d Delivery) WebhookID() string { return fmt.Sprintf("msg_%s_%d", d.Endpoint, d.Seq) }

// Attempt is one entry of an endpoint's delivery log.
type Attempt struct {
	Endpoint  string             `json:"endpoint"`
	Seq       uint64             `json:"seq"`
	WebhookID string             `json:"webhookId"`
	Type      catalog.ChangeType `json:"type"`
	Number    int                `json:"number"`
	At        time.Time          `json:"at"`
	// Status is the HTTP status, 0 when no response came.
	Status  int           `json:"status"`
	Latency time.Duration `json:"latency"`
	Error   string        `json:"error,omitempty"`
	// Response is the start of the response body (at most 512 bytes).
	Response string `json:"response,omitempty"`
	// Outcome: delivered, retry, dead, unsubscribed, refused.
	Outcome string `json:"outcome"`
}

// outboxEvent is a catalog event the webhooks stage owes the change log
// (webhook.endpoint.disabled), kept in the queue DB until it is committed
// there, so a crash redelivers it rather than losing it.
type outboxEvent struct {
	N       uint64             `json:"n"`
	Type    catalog.ChangeType `json:"type"`
	Subject catalog.URN        `json:"subject,omitempty"`
	Data    json.RawMessage    `json:"data"`
}

// Key spaces of the queue DB.
var (
	keyEndpoint = []byte("e/")
	keyPending  = []byte("p/")
	keyDead     = []byte("d/")
	keyLog      = []byte("l/")
	keyCursor   = []byte("c/")
	keyOutbox   = []byte("o/")
	keyCounter  = []byte("m/outbox")
)

// Queue is the webhooks stage's own durable state — endpoints, pending
// deliveries, the delivery log, dead letters, its change-log cursor and an
// outbox — in a KV: a Pebble DB of its own in one process (OpenQueue), so
// an enqueue never waits behind the catalog's writer, or a namespace of the
// shared store when replicas share it (NewQueue). Every write is durable
// before it returns, except attempt results (see commitLazily).
//
// The writes only the delivering replica makes (the cursor with its
// enqueues, attempt results, log pruning, the outbox) carry the fence set
// by setFence, so a replica that lost the delivery lease cannot commit
// them; management writes carry none. Endpoint records are written with
// the record they replace as an expectation, so a management call on one
// replica and an attempt's bookkeeping on another never overwrite each
// other.
type Queue struct {
	kv KV
	mu sync.Mutex // serialises read-modify-write sequences (outbox counter)

	fmu   sync.Mutex
	fence catalog.Fence
}

// OpenQueue opens (or creates) the queue DB in dir.
func OpenQueue(dir string) (*Queue, error) {
	kv, err := openPebbleKV(dir)
	if err != nil {
		return nil, err
	}
	return &Queue{kv: kv}, nil
}

// NewQueue returns a queue kept in kv, normally a namespace of the store
// the replicas share; it does no I/O.
func NewQueue(kv KV) *Queue { return &Queue{kv: kv} }

// Close closes the KV.
func (q *Queue) Close() error { return q.kv.Close() }

// setFence stamps the delivering replica's writes from now on.
func (q *Queue) setFence(f catalog.Fence) {
	q.fmu.Lock()
	q.fence = f
	q.fmu.Unlock()
}

func (q *Queue) currentFence() catalog.Fence {
	q.fmu.Lock()
	defer q.fmu.Unlock()
	return q.fence
}

func key(prefix []byte, parts ...any) []byte {
	b := append([]byte(nil), prefix...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case int:
			b = binary.BigEndian.AppendUint16(b, uint16(v))
		}
	}
	return b
}

func endOf(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// The queue's calls are bounded by the KV's own timeouts and retries (the
// Pebble DB is local; the store's driver has its own), not by a caller's
// context.
func bg() context.Context { return context.Background() }

func (q *Queue) get(k []byte, v any) (bool, error) {
	b, found, err := q.kv.Get(bg(), k)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode webhook queue record %q: %w", k, err)
	}
	return true, nil
}

func (q *Queue) each(prefix []byte, limit int, reverse bool, fn func(k, v []byte) error) error {
	return q.kv.Scan(bg(), prefix, endOf(prefix), limit, reverse, fn)
}

// batch is a write batch that encodes values.
type batch struct {
	q   *Queue
	b   catalog.KVBatch
	err error
}

func (q *Queue) newBatch() *batch { return &batch{q: q} }

// fenced returns a batch of the delivering replica's, stamped with the
// queue's fence.
func (q *Queue) fenced() *batch { return &batch{q: q, b: catalog.KVBatch{Fence: q.currentFence()}} }

func (b *batch) set(k []byte, v any) {
	if b.err != nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		b.err = fmt.Errorf("encode %q: %w", k, err)
		return
	}
	b.b.Writes = append(b.b.Writes, catalog.KVWrite{Key: k, Value: raw})
}

func (b *batch) setRaw(k, raw []byte) {
	b.b.Writes = append(b.b.Writes, catalog.KVWrite{Key: k, Value: raw})
}

func (b *batch) del(k []byte) { b.b.Writes = append(b.b.Writes, catalog.KVWrite{Key: k, Delete: true}) }

func (b *batch) delRange(start, end []byte) {
	b.b.Writes = append(b.b.Writes, catalog.KVWrite{Key: start, End: end})
}

// expect makes the batch commit only if k holds raw (nil: absent).
func (b *batch) expect(k, raw []byte) {
	b.b.Expect = append(b.b.Expect, catalog.KVExpect{Key: k, Value: raw})
}

func (b *batch) commit() error { return b.commitWith(false) }

// commitLazily commits without waiting for the disk: the write survives a
// crash of the process (it is in the OS's hands) but not of the machine.
// Attempt results use it — losing one only repeats an attempt, and
// receivers deduplicate by webhook-id — while enqueues always sync.
func (b *batch) commitLazily() error { return b.commitWith(true) }

func (b *batch) commitWith(lazy bool) error {
	if b.err != nil {
		return b.err
	}
	b.b.Lazy = lazy
	return b.q.kv.Commit(bg(), b.b)
}

// changedMeanwhile reports whether err is a failed expectation.
func changedMeanwhile(err error) bool { return errors.Is(err, catalog.ErrKVChanged) }

// LoadCursor implements changelog.Cursors.
func (q *Queue) LoadCursor(_ context.Context, name string) (uint64, bool, error) {
	var seq uint64
	found, err := q.get(key(keyCursor, name), &seq)
	return seq, found, err
}

// SaveCursor implements changelog.Cursors.
func (q *Queue) SaveCursor(_ context.Context, name string, seq uint64) error {
	b := q.fenced()
	b.set(key(keyCursor, name), seq)
	return b.commit()
}

// enqueue stores deliveries and the cursor that covers them in one batch:
// a change is enqueued exactly once however often the dispatcher sees it.
func (q *Queue) enqueue(ds []Delivery, cursor string, seq uint64) error {
	b := q.fenced()
	for _, d := range ds {
		b.set(key(keyPending, d.Endpoint, d.Seq), d)
	}
	b.set(key(keyCursor, cursor), seq)
	return b.commit()
}

func (q *Queue) endpoint(id string) (*endpointRecord, error) {
	var r endpointRecord
	found, err := q.get(key(keyEndpoint, id), &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, catalog.Errorf(catalog.NotFound, "no webhook %s", id)
	}
	return &r, nil
}

// storedEndpoint is an endpoint record with the bytes it was read from,
// the expectation of a write that replaces it.
type storedEndpoint struct {
	r   *endpointRecord
	raw []byte
}

func (q *Queue) endpoints() ([]storedEndpoint, error) {
	var out []storedEndpoint
	err := q.each(keyEndpoint, 0, false, func(k, v []byte) error {
		var r endpointRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode webhook %q: %w", k, err)
		}
		out = append(out, storedEndpoint{&r, bytes.Clone(v)})
		return nil
	})
	return out, err
}

// putEndpoint stores r in place of the record stored as old (nil: none)
// and returns the bytes it stored; a Conflict wrapping
// catalog.ErrKVChanged says the record changed meanwhile.
func (q *Queue) putEndpoint(r *endpointRecord, old []byte) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode webhook %s: %w", r.ID, err)
	}
	b := q.newBatch()
	b.expect(key(keyEndpoint, r.ID), old)
	b.setRaw(key(keyEndpoint, r.ID), raw)
	return raw, b.commit()
}

// deleteEndpoint removes an endpoint with its pending deliveries, dead
// letters and log.
func (q *Queue) deleteEndpoint(id string) error {
	b := q.newBatch()
	b.del(key(keyEndpoint, id))
	for _, p := range [][]byte{keyPending, keyDead, keyLog} {
		pre := key(p, id+"/")
		b.delRange(pre, endOf(pre))
	}
	return b.commit()
}

func (q *Queue) pending(id string) ([]Delivery, error) {
	var out []Delivery
	err := q.each(key(keyPending, id+"/"), 0, false, func(k, v []byte) error {
		var d Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode delivery %q: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (q *Queue) countPending(id string) (int, error) {
	n := 0
	err := q.each(key(keyPending, id+"/"), 0, false, func(k, v []byte) error { n++; return nil })
	return n, err
}

// endpointChange is the bookkeeping an attempt applies to its endpoint's
// record as stored: it reports whether it changed anything, and the event
// to emit (webhook.endpoint.disabled) if any.
type endpointChange func(r *endpointRecord) (changed bool, ev *outboxEvent)

// record writes an attempt's result: the delivery is kept pending (retry),
// removed (delivered), or moved to the dead letters, and the attempt is
// logged, in one batch. change, when set, is applied to the endpoint's
// record as stored (failure tracking, auto-disable) and a record it
// changes is written too, with its outbox event; such a batch is synced,
// the others are committed lazily (see commitLazily). It returns the
// record and its bytes when it wrote one.
func (q *Queue) record(d Delivery, a Attempt, done, dead bool, change endpointChange) (*storedEndpoint, *outboxEvent, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for try := 0; ; try++ {
		b := q.fenced()
		switch {
		case dead:
			b.del(key(keyPending, d.Endpoint, d.Seq))
			b.set(key(keyDead, d.Endpoint, d.Seq), d)
		case done:
			b.del(key(keyPending, d.Endpoint, d.Seq))
		default:
			b.set(key(keyPending, d.Endpoint, d.Seq), d)
		}
		b.set(key(keyLog, d.Endpoint, d.Seq, a.Number), a)
		if change == nil {
			return nil, nil, b.commitLazily()
		}
		k := key(keyEndpoint, d.Endpoint)
		old, found, err := q.kv.Get(bg(), k)
		if err != nil {
			return nil, nil, err
		}
		var st *storedEndpoint
		var ev *outboxEvent
		if found {
			var r endpointRecord
			if err := json.Unmarshal(old, &r); err != nil {
				return nil, nil, fmt.Errorf("decode webhook %s: %w", d.Endpoint, err)
			}
			var changed bool
			if changed, ev = change(&r); changed {
				raw, err := json.Marshal(&r)
				if err != nil {
					return nil, nil, fmt.Errorf("encode webhook %s: %w", r.ID, err)
				}
				b.expect(k, old)
				b.setRaw(k, raw)
				st = &storedEndpoint{&r, raw}
			}
		}
		if st == nil {
			return nil, nil, b.commitLazily()
		}
		if ev != nil {
			var n uint64
			if _, err := q.get(keyCounter, &n); err != nil {
				return nil, nil, err
			}
			n++
			ev.N = n
			b.set(keyCounter, n)
			b.set(key(keyOutbox, n), ev)
		}
		err = b.commit()
		if changedMeanwhile(err) && try < 10 {
			continue // a management call changed the record: apply to the new one
		}
		if err != nil {
			return nil, nil, err
		}
		return st, ev, nil
	}
}

func (q *Queue) deadLetters(id string, limit int) ([]Delivery, error) {
	var out []Delivery
	err := q.each(key(keyDead, id+"/"), limit, false, func(k, v []byte) error {
		var d Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode dead letter %q: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// replay moves every dead letter of id back to pending, due at now, with a
// fresh attempt count; it returns them.
func (q *Queue) replay(id string, now time.Time) ([]Delivery, error) {
	dead, err := q.deadLetters(id, 0)
	if err != nil || len(dead) == 0 {
		return nil, err
	}
	b := q.newBatch()
	for i := range dead {
		d := &dead[i]
		b.del(key(keyDead, d.Endpoint, d.Seq))
		d.Attempts, d.NextAt, d.DeadAt = 0, now, time.Time{}
		b.set(key(keyPending, d.Endpoint, d.Seq), d)
	}
	return dead, b.commit()
}

// attempts returns the newest attempts of id first, those before the log
// key before (exclusive) when set.
func (q *Queue) attempts(id string, limit int) ([]Attempt, error) {
	var out []Attempt
	err := q.each(key(keyLog, id+"/"), limit, true, func(k, v []byte) error {
		var a Attempt
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode attempt %q: %w", k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// pruneLog keeps the newest keep attempts of id.
func (q *Queue) pruneLog(id string, keep int) error {
	pre := key(keyLog, id+"/")
	var cut []byte
	n := 0
	err := q.each(pre, keep+1, true, func(k, _ []byte) error {
		n++
		if n == keep+1 {
			cut = append([]byte(nil), k...)
		}
		return nil
	})
	if err != nil || cut == nil {
		return err
	}
	b := q.fenced()
	b.delRange(pre, append(cut, 0))
	return b.commit()
}

func (q *Queue) outbox() ([]outboxEvent, error) {
	var out []outboxEvent
	err := q.each(keyOutbox, 0, false, func(k, v []byte) error {
		var e outboxEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode outbox %q: %w", k, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func (q *Queue) dropOutbox(n uint64) error {
	b := q.fenced()
	b.del(key(keyOutbox, n))
	return b.commit()
}
