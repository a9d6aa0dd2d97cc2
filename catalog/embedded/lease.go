package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// The embedded store serves one process, so its leases only matter within
// it (a crawl scheduler asks the same way in both modes); they are kept on
// disk so that fencing tokens never go backwards across a restart.

func leaseKey(name string) []byte { return append([]byte{prefixLease}, name...) }

// AcquireLease grants the lease name to holder until the store's clock
// plus ttl, or renews it when holder holds it already. It returns the
// lease as it stands and whether holder holds it: false, with the other
// holder's lease, while that one has not expired. A grant to a new holder
// (after a release or an expiry) takes a token one above the last.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error) {
	if name == "" || holder == "" || ttl <= 0 {
		return catalog.Lease{}, false, catalog.Errorf(catalog.Invalid, "acquire lease: a name, a holder and a positive ttl are required")
	}
	if err := s.enter(); err != nil {
		return catalog.Lease{}, false, err
	}
	defer s.leave()
	s.lmu.Lock()
	defer s.lmu.Unlock()
	cur, _, err := s.lease(name)
	if err != nil {
		return catalog.Lease{}, false, err
	}
	now := s.now().UTC()
	if cur.Held(now) && cur.Holder != holder {
		return cur, false, nil
	}
	next := cur
	if !cur.Held(now) || cur.Holder != holder {
		next = catalog.Lease{Name: name, Holder: holder, Token: cur.Token + 1, Acquired: now}
	}
	next.Expires = now.Add(ttl)
	if err := s.putLease(next); err != nil {
		return catalog.Lease{}, false, err
	}
	return next, true, nil
}

// ReleaseLease gives up the lease name when holder holds it with token;
// otherwise (expired and taken over, or never held) it does nothing.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string, token uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	s.lmu.Lock()
	defer s.lmu.Unlock()
	cur, found, err := s.lease(name)
	if err != nil || !found || cur.Holder != holder || cur.Token != token {
		return err
	}
	cur.Holder, cur.Acquired, cur.Expires = "", time.Time{}, time.Time{}
	return s.putLease(cur)
}

// Leases returns the leases whose names start with prefix and that are
// held now, by name.
func (s *Store) Leases(ctx context.Context, prefix string) ([]catalog.Lease, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	lower := leaseKey(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "read leases: %w", err)
	}
	defer it.Close()
	now := s.now()
	var out []catalog.Lease
	for it.First(); it.Valid(); it.Next() {
		var l catalog.Lease
		if err := json.Unmarshal(it.Value(), &l); err != nil {
			return nil, fmt.Errorf("decode lease %q: %w", it.Key()[1:], err)
		}
		if l.Held(now) {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (s *Store) lease(name string) (catalog.Lease, bool, error) {
	b, closer, err := s.db.Get(leaseKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return catalog.Lease{Name: name}, false, nil
	}
	if err != nil {
		return catalog.Lease{}, false, catalog.Errorf(catalog.Unavailable, "read lease %s: %w", name, err)
	}
	defer closer.Close() // releases a cache reference; it cannot fail
	var l catalog.Lease
	if err := json.Unmarshal(b, &l); err != nil {
		return catalog.Lease{}, false, fmt.Errorf("decode lease %s: %w", name, err)
	}
	return l, true, nil
}

func (s *Store) putLease(l catalog.Lease) error {
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode lease %s: %w", l.Name, err)
	}
	if err := s.db.Set(leaseKey(l.Name), b, s.sync); err != nil {
		return catalog.Errorf(catalog.Unavailable, "write lease %s: %w", l.Name, err)
	}
	return nil
}

// checkFence refuses a write fenced by f unless f's lease is held now
// under f's token. The caller holds wmu and lmu through its commit.
func (s *Store) checkFence(f catalog.Fence) error {
	cur, _, err := s.lease(f.Lease)
	if err != nil {
		return err
	}
	return f.Check(cur, s.now())
}
