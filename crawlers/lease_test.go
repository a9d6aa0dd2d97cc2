package crawlers_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/crawlers"
)

// clock is a settable store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sharedStore is the store replicas share, on a settable clock.
func sharedStore(t *testing.T) (*embedded.Store, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	store, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, clk
}

// replica is one process's crawl manager over the shared store.
func replica(t *testing.T, store *embedded.Store, holder string, fn func(context.Context) (catalog.Snapshot, error)) *crawlers.Manager {
	t.Helper()
	m, err := crawlers.NewManager(crawlers.ManagerOptions{
		Sources: []crawlers.SourceSpec{{Name: "c", Kind: "scripted", Config: &scripted{fn: fn}}},
		Store:   store, Catalog: store, Leases: store, Holder: holder, LeaseTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestCrawlLeases checks that two replicas never crawl one source at once,
// that the holder shows, and that a dead replica's lease lapses so another
// takes over, while the stale crawl writes nothing.
func TestCrawlLeases(t *testing.T) {
	store, clk := sharedStore(t)
	ctx := context.Background()
	started, release := make(chan struct{}), make(chan struct{})
	a := replica(t, store, "replica-a", func(ctx context.Context) (catalog.Snapshot, error) {
		close(started)
		<-release // a replica that hangs (or dies) mid-crawl
		return topics("stale"), nil
	})
	b := replica(t, store, "replica-b", func(context.Context) (catalog.Snapshot, error) { return topics("fresh"), nil })

	aDone := make(chan error, 1)
	go func() {
		_, err := a.Crawl(ctx, "c", "manual")
		aDone <- err
	}()
	<-started
	_, err := b.Crawl(ctx, "c", "manual")
	if catalog.KindOf(err) != catalog.Conflict || !strings.Contains(err.Error(), "replica-a") {
		t.Fatalf("crawl by b while a holds the lease: %v, want a Conflict naming replica-a", err)
	}
	for _, m := range []*crawlers.Manager{a, b} {
		l, err := m.Lease(ctx, "c")
		if err != nil || l == nil || l.Holder != "replica-a" {
			t.Fatalf("lease seen from a replica: %+v, %v; want replica-a", l, err)
		}
	}
	// a stops renewing (dead); past the TTL b takes over.
	clk.advance(2 * time.Hour)
	run, err := b.Crawl(ctx, "c", "manual")
	if err != nil || run.Result.Created != 1 {
		t.Fatalf("crawl by b after a's lease lapsed: %+v, %v", run, err)
	}
	close(release)
	if err := <-aDone; err == nil {
		t.Error("the crawl that lost its lease succeeded")
	}
	if _, err := store.Entity(ctx, catalog.MakeURN(catalog.KindTopic, "c/stale")); !catalog.IsNotFound(err) {
		t.Errorf("the stale crawl wrote its snapshot: %v", err)
	}
	if l, err := b.Lease(ctx, "c"); err != nil || l != nil {
		t.Errorf("lease after the crawls: %+v, %v; want released", l, err)
	}
}

// pausingStore is the shared store as seen by a replica that pauses right
// before its write, after its pre-write lease check passed: meanwhile the
// lease expires and another replica takes it over.
type pausingStore struct {
	*embedded.Store
	pause func()
}

func (p pausingStore) Reconcile(ctx context.Context, s catalog.Snapshot, run *catalog.CrawlRun) (catalog.ReconcileResult, error) {
	p.pause()
	return p.Store.Reconcile(ctx, s, run)
}

// TestCrawlFencedAfterTakeover checks that a crawl whose lease was taken
// over between its last lease check and its write commits nothing: the
// store fences the snapshot off (no asset, no deletion, no event, no crawl
// run) and the run is a failure of this replica only.
func TestCrawlFencedAfterTakeover(t *testing.T) {
	store, clk := sharedStore(t)
	ctx := context.Background()
	b := replica(t, store, "replica-b", func(context.Context) (catalog.Snapshot, error) { return topics("fresh"), nil })
	if _, err := b.Crawl(ctx, "c", "manual"); err != nil {
		t.Fatal(err)
	}
	head, err := store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	takeover := func() {
		clk.advance(2 * time.Hour)
		if l, held, err := store.AcquireLease(ctx, crawlers.LeaseName("c"), "replica-b", time.Hour); err != nil || !held {
			t.Errorf("take the lease over: %+v, %v, %v", l, held, err)
		}
	}
	a, err := crawlers.NewManager(crawlers.ManagerOptions{
		Sources: []crawlers.SourceSpec{{Name: "c", Kind: "scripted", Config: &scripted{fn: func(context.Context) (catalog.Snapshot, error) {
			return topics("stale"), nil // fresh is gone: an unfenced write would delete it
		}}}},
		Store: pausingStore{Store: store, pause: takeover}, Catalog: store, Leases: store, Holder: "replica-a", LeaseTTL: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Crawl(ctx, "c", "manual")
	if !errors.Is(err, catalog.ErrFenced) || catalog.KindOf(err) != catalog.Conflict || !strings.Contains(err.Error(), "replica-b") {
		t.Fatalf("crawl whose lease was taken over: %v; want a Conflict wrapping ErrFenced naming replica-b", err)
	}
	if run.Status != catalog.CrawlFailed {
		t.Errorf("fenced-off run status = %s, want failed", run.Status)
	}
	if st := a.Sources()[0]; st.LastRun == nil || st.LastRun.Status != catalog.CrawlFailed {
		t.Errorf("replica-a's last run = %+v, want the failed one", st.LastRun)
	}
	if _, err := store.Entity(ctx, catalog.MakeURN(catalog.KindTopic, "c/stale")); !catalog.IsNotFound(err) {
		t.Errorf("the fenced-off crawl wrote its snapshot: %v", err)
	}
	if e, err := store.Entity(ctx, catalog.MakeURN(catalog.KindTopic, "c/fresh")); err != nil || !e.DeletedAt.IsZero() {
		t.Errorf("the fenced-off crawl deleted what it did not see: %+v, %v", e, err)
	}
	if cs, err := store.Changes(ctx, head, 0); err != nil || len(cs) != 0 {
		t.Errorf("changes after the fenced-off crawl: %d, %v; want none", len(cs), err)
	}
	if runs, err := store.CrawlRuns(ctx, "c", 10); err != nil || len(runs) != 1 {
		t.Errorf("crawl runs in the store: %d, %v; want replica-b's only", len(runs), err)
	}
	if l, err := b.Lease(ctx, "c"); err != nil || l == nil || l.Holder != "replica-b" {
		t.Errorf("lease after the fenced-off crawl: %+v, %v; want replica-b's, untouched by a's release", l, err)
	}
}
