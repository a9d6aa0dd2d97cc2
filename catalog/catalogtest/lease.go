package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"strings"
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

// testFencing checks that a snapshot fenced with a lease's token commits
// only while that token holds the lease: a stale holder's write (its lease
// expired and taken over) is refused whole — nothing written, no event, no
// crawl run — and so is one fenced by an expired or never granted lease.
func testFencing(t *testing.T, h Harness) {
	e := newEnv(t, h)
	ls, ok := e.s.(Leaser)
	if !ok {
		t.Fatalf("%T grants no leases: a store replicas share must (catalogtest.Leaser)", e.s)
	}
	acquire := func(holder string) catalog.Lease {
		t.Helper()
		l, held, err := ls.AcquireLease(e.ctx, "crawl/prod", holder, 30*time.Second)
		if err != nil || !held {
			t.Fatalf("acquire crawl/prod for %s: %+v, %v, %v", holder, l, held, err)
		}
		return l
	}
	fenced := func(retention string, l catalog.Lease) catalog.Snapshot {
		s := prodSnapshot(retention)
		s.Fence = catalog.Fence{Lease: l.Name, Token: l.Token}
		return s
	}
	run := func() *catalog.CrawlRun {
		return &catalog.CrawlRun{Source: "prod", Kind: "kafka", Trigger: "schedule", Status: catalog.CrawlSucceeded, StartedAt: e.clock.T}
	}
	a := acquire("replica-a")
	if res, err := e.s.Reconcile(e.ctx, fenced("1", a), run()); err != nil || res.Created != 4 {
		t.Fatalf("reconcile fenced by the current token: %+v, %v; want 4 created", res, err)
	}
	// replica-a pauses past its expiry; replica-b takes the lease over.
	e.clock.Advance(31 * time.Second)
	b := acquire("replica-b")
	h0 := e.head()
	stale := fenced("2", a)
	stale.Assets = append(stale.Assets[:2:2], catalog.Asset{URN: "urn:topic:prod/stale", Name: "stale"}) // payments gone, fraud-detector gone
	_, err := e.s.Reconcile(e.ctx, stale, run())
	if catalog.KindOf(err) != catalog.Conflict || !errors.Is(err, catalog.ErrFenced) ||
		!strings.Contains(err.Error(), "replica-b") || !strings.Contains(err.Error(), fmt.Sprintf("token %d", b.Token)) {
		t.Fatalf("reconcile fenced by a taken-over lease: %v; want a Conflict wrapping ErrFenced naming replica-b and token %d", err, b.Token)
	}
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("the fenced-off write emitted %v", got)
	}
	if _, err := e.s.Entity(e.ctx, "urn:topic:prod/stale"); !catalog.IsNotFound(err) {
		t.Errorf("the fenced-off write created its asset: %v", err)
	}
	if p := e.entity(payment); !p.DeletedAt.IsZero() {
		t.Errorf("the fenced-off write deleted payments: %+v", p)
	}
	if o := e.entity(orders); fmt.Sprint(o.Properties["configs"]) != "map[retention.ms:1]" {
		t.Errorf("the fenced-off write updated orders: %v", o.Properties)
	}
	if runs, err := e.s.CrawlRuns(e.ctx, "prod", 10); err != nil || len(runs) != 1 {
		t.Errorf("crawl runs after the fenced-off write: %d, %v; want the first one only", len(runs), err)
	}
	// The new holder's write, fenced by its token, goes through.
	cur := stale
	cur.Fence.Token = b.Token
	if res, err := e.s.Reconcile(e.ctx, cur, run()); err != nil || res.Created != 1 || res.Deleted != 2 {
		t.Fatalf("reconcile fenced by the new holder's token: %+v, %v; want 1 created, 2 deleted", res, err)
	}
	// An expired lease (nobody took it over) fences too, and so does one
	// never granted.
	e.clock.Advance(31 * time.Second)
	if _, err := e.s.Reconcile(e.ctx, fenced("3", b), nil); !errors.Is(err, catalog.ErrFenced) || catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("reconcile fenced by an expired lease: %v; want fenced off", err)
	}
	never := prodSnapshot("4")
	never.Fence = catalog.Fence{Lease: "crawl/never", Token: 1}
	if _, err := e.s.Reconcile(e.ctx, never, nil); !errors.Is(err, catalog.ErrFenced) || catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("reconcile fenced by a lease never granted: %v; want fenced off", err)
	}
}
