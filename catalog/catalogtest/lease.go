package catalogtest

import (
	"context"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Leaser is what replicas sharing a store need of it to divide work: crawl
// leases (crawlers.Leases) and the change-log relay's lease.
type Leaser interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error)
	ReleaseLease(ctx context.Context, name, holder string, token uint64) error
	Leases(ctx context.Context, prefix string) ([]catalog.Lease, error)
}

func testLeases(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ls, ok := e.s.(Leaser)
	if !ok {
		t.Fatalf("%T grants no leases: a store replicas share must (catalogtest.Leaser)", e.s)
	}
	acquire := func(name, holder string, ttl time.Duration) (catalog.Lease, bool) {
		t.Helper()
		l, held, err := ls.AcquireLease(e.ctx, name, holder, ttl)
		if err != nil {
			t.Fatalf("acquire %s for %s: %v", name, holder, err)
		}
		return l, held
	}
	a, held := acquire("crawl/prod", "replica-a", 30*time.Second)
	if !held || a.Holder != "replica-a" || a.Token == 0 || !a.Expires.Equal(e.clock.Now().Add(30*time.Second)) {
		t.Fatalf("first acquire = %+v, %v; want replica-a holding it with a token, for 30s", a, held)
	}
	if l, held := acquire("crawl/prod", "replica-b", 30*time.Second); held || l.Holder != "replica-a" || l.Token != a.Token {
		t.Fatalf("acquire of a held lease by another = %+v, %v; want refused, showing replica-a", l, held)
	}
	if l, held := acquire("crawl/other", "replica-b", 30*time.Second); !held || l.Holder != "replica-b" {
		t.Fatalf("leases of other names are independent: %+v, %v", l, held)
	}
	e.clock.Advance(20 * time.Second)
	renewed, held := acquire("crawl/prod", "replica-a", 30*time.Second)
	if !held || renewed.Token != a.Token || !renewed.Expires.Equal(e.clock.Now().Add(30*time.Second)) || !renewed.Acquired.Equal(a.Acquired) {
		t.Fatalf("renewal = %+v; want the same token and acquisition time, a later expiry", renewed)
	}
	held2, err := ls.Leases(e.ctx, "crawl/")
	if err != nil {
		t.Fatal(err)
	}
	if len(held2) != 2 || held2[0].Name != "crawl/other" || held2[1].Name != "crawl/prod" || held2[1].Holder != "replica-a" {
		t.Fatalf("Leases(crawl/) = %+v", held2)
	}
	// replica-a dies: once its lease expires another takes over, with a
	// greater token.
	e.clock.Advance(31 * time.Second)
	b, held := acquire("crawl/prod", "replica-b", 30*time.Second)
	if !held || b.Holder != "replica-b" || b.Token <= a.Token {
		t.Fatalf("acquire after expiry = %+v, %v; want replica-b with a token above %d", b, held, a.Token)
	}
	// A stale holder's release changes nothing.
	if err := ls.ReleaseLease(e.ctx, "crawl/prod", "replica-a", a.Token); err != nil {
		t.Fatal(err)
	}
	if l, held := acquire("crawl/prod", "replica-c", time.Minute); held || l.Holder != "replica-b" {
		t.Fatalf("after a stale release the lease is %+v (held by c: %v); want replica-b's", l, held)
	}
	if err := ls.ReleaseLease(e.ctx, "crawl/prod", "replica-b", b.Token); err != nil {
		t.Fatal(err)
	}
	if got, err := ls.Leases(e.ctx, "crawl/prod"); err != nil || len(got) != 0 {
		t.Fatalf("after release Leases = %+v, %v; want none", got, err)
	}
	e.reopen()
	ls = e.s.(Leaser)
	c, held := acquire("crawl/prod", "replica-c", time.Minute)
	if !held || c.Token <= b.Token {
		t.Fatalf("acquire after release and reopen = %+v; want a token above %d (tokens never go back)", c, b.Token)
	}
	if _, _, err := ls.AcquireLease(e.ctx, "crawl/prod", "", time.Minute); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("acquire without a holder: %v, want Invalid", err)
	}
}
