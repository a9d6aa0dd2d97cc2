package neo4j

import (
	"context"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog/catalogtest"
)

// TestLeases: one holder at a time; a renewal keeps the token; an expired
// lease goes to another holder with a greater token; a stale release does
// nothing; tokens survive a new store on the same database. (The
// catalogtest Leases case covers the rest once it is on main.)
func TestLeases(t *testing.T) {
	clock := catalogtest.NewClock()
	s := openTest(t, "leases", clock.Now)
	defer s.Close()
	ctx := context.Background()
	a, held, err := s.AcquireLease(ctx, "crawl/prod", "replica-a", 30*time.Second)
	if err != nil || !held || a.Token == 0 || !a.Expires.Equal(clock.T.Add(30*time.Second)) {
		t.Fatalf("first acquire = %+v, %v, %v", a, held, err)
	}
	if l, held, err := s.AcquireLease(ctx, "crawl/prod", "replica-b", 30*time.Second); err != nil || held || l.Holder != "replica-a" {
		t.Fatalf("acquire of a held lease = %+v, %v, %v; want refused", l, held, err)
	}
	clock.Advance(20 * time.Second)
	if r, held, err := s.AcquireLease(ctx, "crawl/prod", "replica-a", 30*time.Second); err != nil || !held || r.Token != a.Token || !r.Acquired.Equal(a.Acquired) {
		t.Fatalf("renewal = %+v, %v, %v; want the same token", r, held, err)
	}
	clock.Advance(31 * time.Second)
	b, held, err := s.AcquireLease(ctx, "crawl/prod", "replica-b", 30*time.Second)
	if err != nil || !held || b.Token <= a.Token {
		t.Fatalf("acquire after expiry = %+v, %v, %v; want a token above %d", b, held, err, a.Token)
	}
	if err := s.ReleaseLease(ctx, "crawl/prod", "replica-a", a.Token); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Leases(ctx, "crawl/"); err != nil || len(got) != 1 || got[0].Holder != "replica-b" {
		t.Fatalf("leases after a stale release = %+v, %v", got, err)
	}
	if err := s.ReleaseLease(ctx, "crawl/prod", "replica-b", b.Token); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Leases(ctx, "crawl/"); err != nil || len(got) != 0 {
		t.Fatalf("leases after release = %+v, %v", got, err)
	}
	other := openTest(t, "leases", clock.Now)
	defer other.Close()
	if c, held, err := other.AcquireLease(ctx, "crawl/prod", "replica-c", time.Minute); err != nil || !held || c.Token <= b.Token {
		t.Fatalf("acquire by another store = %+v, %v, %v; want a token above %d", c, held, err, b.Token)
	}
}
