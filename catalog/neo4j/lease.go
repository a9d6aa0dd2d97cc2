package neo4j

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// Leases are (:Lease {name}) nodes. A grant or renewal is one transaction
// that first takes the node's write lock, so replicas asking at once are
// serialised and at most one holds an unexpired lease. Tokens live on the
// node and only grow, across restarts of every replica. Expiry is judged
// by the asking replica's clock (Options.Now): replicas' clocks must agree
// to well within the ttls they use. A fenced write (Snapshot.Fence) takes
// the same lock in its own transaction, after the counter's, and checks
// the token there.

// AcquireLease grants the lease name to holder until now plus ttl, or
// renews it when holder holds it already. It returns the lease as it
// stands and whether holder holds it: false, with the other holder's
// lease, while that one has not expired. A grant to a new holder (after a
// release or an expiry) takes a token one above the last. A retried
// acquisition is harmless: it renews.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return catalog.Lease{}, false, catalog.Errorf(catalog.Invalid, "acquire lease: a name, a holder and a positive ttl are required")
	}
	type answer struct {
		l    catalog.Lease
		held bool
	}
	v, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := s.lockLease(ctx, tx, name)
		if err != nil {
			return nil, err
		}
		now := s.now().UTC()
		if cur.Held(now) && cur.Holder != holder {
			return answer{cur, false}, nil
		}
		next := cur
		if !cur.Held(now) || cur.Holder != holder {
			next = catalog.Lease{Name: name, Holder: holder, Token: cur.Token + 1, Acquired: now}
		}
		next.Expires = now.Add(ttl)
		if err := s.putLease(ctx, tx, next); err != nil {
			return nil, err
		}
		return answer{next, true}, nil
	})
	if err != nil {
		return catalog.Lease{}, false, fmt.Errorf("acquire lease %s: %w", name, classify(err))
	}
	a := v.(answer)
	return a.l, a.held, nil
}

// ReleaseLease gives up the lease name when holder holds it with token;
// otherwise (expired and taken over, or never held) it does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token uint64) error {
	_, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		cur, err := s.lockLease(ctx, tx, name)
		if err != nil || cur.Holder != holder || cur.Token != token {
			return nil, err
		}
		cur.Holder, cur.Acquired, cur.Expires = "", time.Time{}, time.Time{}
		return nil, s.putLease(ctx, tx, cur)
	})
	if err != nil {
		return fmt.Errorf("release lease %s: %w", name, classify(err))
	}
	return nil
}

// Leases returns the leases whose names start with prefix and that are
// held now, by name.
func (s *Store) Leases(ctx context.Context, prefix string) ([]catalog.Lease, error) {
	v, err := s.view(ctx, func(r reader) (any, error) {
		return r.collect("MATCH (l:`Lease`) WHERE l.name STARTS WITH $p RETURN l.name, l.holder, l.token, l.acquired, l.expires", map[string]any{"p": prefix})
	})
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	now := s.now()
	var out []catalog.Lease
	for _, rec := range v.([]*neo4j.Record) {
		if l := leaseOf(rec.Values); l.Held(now) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func leaseOf(v []any) catalog.Lease {
	holder, _ := v[1].(string)
	return catalog.Lease{Name: v[0].(string), Holder: holder, Token: uint64(asInt(v[2])), Acquired: fromNanos(asInt(v[3])), Expires: fromNanos(asInt(v[4]))}
}

// lockLease creates the lease node when missing, takes its write lock and
// reads it.
func (s *Store) lockLease(ctx context.Context, tx neo4j.ManagedTransaction, name string) (catalog.Lease, error) {
	res, err := tx.Run(ctx, s.q.Replace(`MERGE (l:`+"`Lease`"+` {name: $name})
		ON CREATE SET l.holder = '', l.token = 0, l.acquired = 0, l.expires = 0
		SET l.lock = coalesce(l.lock, 0) + 1
		RETURN l.name, l.holder, l.token, l.acquired, l.expires`), map[string]any{"name": name})
	if err != nil {
		return catalog.Lease{}, err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return catalog.Lease{}, err
	}
	return leaseOf(rec.Values), nil
}

func (s *Store) putLease(ctx context.Context, tx neo4j.ManagedTransaction, l catalog.Lease) error {
	nanos := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixNano()
	}
	res, err := tx.Run(ctx, s.q.Replace("MATCH (l:`Lease` {name: $name}) SET l.holder = $holder, l.token = $token, l.acquired = $acquired, l.expires = $expires"),
		map[string]any{"name": l.Name, "holder": l.Holder, "token": int64(l.Token), "acquired": nanos(l.Acquired), "expires": nanos(l.Expires)})
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// checkFence refuses a write fenced by f unless f's lease is held now
// under f's token. It takes the lease node's write lock in t, so no grant
// of the lease commits between the check and t's commit.
func (s *Store) checkFence(t *txCtx, f catalog.Fence) error {
	if f.IsZero() {
		return nil
	}
	cur, err := s.lockLease(t.ctx, t.tx, f.Lease)
	if err != nil {
		return fmt.Errorf("lock lease %s: %w", f.Lease, err)
	}
	return f.Check(cur, s.now())
}
