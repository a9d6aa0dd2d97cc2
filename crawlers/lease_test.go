package crawlers_test

import (
	"context"
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
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	store, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
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
	_, err = b.Crawl(ctx, "c", "manual")
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
