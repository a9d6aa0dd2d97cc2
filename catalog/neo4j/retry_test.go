package neo4j

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/catalogtest"
)

// TestRetryAfterLostCommit: a write whose transaction committed but whose
// answer never reached the store (a connection lost at commit) is retried,
// and the retry neither applies it again nor writes its events twice; it
// answers what the first attempt committed.
func TestRetryAfterLostCommit(t *testing.T) {
	clock := catalogtest.NewClock()
	s := openTest(t, "lost-commit", clock.Now)
	defer s.Close()
	ctx := context.Background()
	var mu sync.Mutex
	lost, asked := 0, 0
	loseNext := func() { mu.Lock(); lost = 1; mu.Unlock() }
	s.loseResult = func() bool {
		mu.Lock()
		defer mu.Unlock()
		asked++
		if lost > 0 {
			lost--
			return true
		}
		return false
	}
	changesSince := func(after uint64) []string {
		t.Helper()
		cs, err := s.Changes(ctx, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, string(c.Type)+" "+string(c.Subject))
		}
		return out
	}
	head := func() uint64 {
		t.Helper()
		h, err := s.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	// An Emit is not idempotent by itself: only the txn id keeps it once.
	h0 := head()
	loseNext()
	hook := catalog.URN("urn:dataset:webhook://endpoints/1")
	ch, err := s.Apply(ctx, catalog.Batch{Actor: catalog.ActorWebhooks, Mutations: []catalog.Mutation{
		catalog.Emit{Type: catalog.WebhookEndpointDisabled, Subject: hook, Data: map[string]any{"reason": "410 Gone"}},
	}})
	if err != nil {
		t.Fatalf("apply with a lost answer: %v", err)
	}
	if asked < 2 {
		t.Fatalf("the write was not retried (asked %d times)", asked)
	}
	if got, want := changesSince(h0), []string{"webhook.endpoint.disabled " + string(hook)}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes after a retried emit = %v, want %v", got, want)
	}
	if len(ch) != 1 || ch[0].Seq != h0+1 || string(ch[0].Data) != `{"reason":"410 Gone"}` {
		t.Errorf("retried apply answered %+v, want the committed change %d", ch, h0+1)
	}

	// A reconcile with its crawl run: the run's event and the result once.
	h1 := head()
	clock.Advance(time.Minute)
	loseNext()
	snap := catalog.Snapshot{Source: "prod", Assets: []catalog.Asset{{URN: "urn:topic:prod/orders", Name: "orders"}}}
	run := &catalog.CrawlRun{Source: "prod", Kind: "kafka", Status: catalog.CrawlSucceeded, StartedAt: clock.T}
	res, err := s.Reconcile(ctx, snap, run)
	if err != nil {
		t.Fatalf("reconcile with a lost answer: %v", err)
	}
	if got, want := changesSince(h1), []string{"asset.created urn:topic:prod/orders", "crawl.completed " + string(run.URN())}; !reflect.DeepEqual(got, want) {
		t.Errorf("changes after a retried reconcile = %v, want %v", got, want)
	}
	if res.Created != 1 || res.Changes != 1 || res.Seq != h1+1 {
		t.Errorf("retried reconcile answered %+v, want the first attempt's result", res)
	}
	runs, err := s.CrawlRuns(ctx, "prod", 10)
	if err != nil || len(runs) != 1 {
		t.Errorf("crawl runs after a retried reconcile = %+v, %v; want one", runs, err)
	}

	// A failed crawl run: one crawl.failed.
	h2 := head()
	clock.Advance(time.Minute)
	loseNext()
	c, err := s.RecordCrawlRun(ctx, catalog.CrawlRun{Source: "prod", Status: catalog.CrawlFailed, StartedAt: clock.T, Errors: []string{"broker down"}})
	if err != nil {
		t.Fatalf("record crawl run with a lost answer: %v", err)
	}
	if got := changesSince(h2); len(got) != 1 || c.Seq != h2+1 || c.Type != catalog.CrawlFailedEvent {
		t.Errorf("changes after a retried crawl run = %v (answered %+v)", got, c)
	}
}

// TestTwoReplicas: two stores on one database — as two replicas — see each
// other's writes, wake on each other's changes, and their concurrent
// writes get one gapless sequence with every event once.
func TestTwoReplicas(t *testing.T) {
	clock := catalogtest.NewClock()
	a := openTest(t, "replicas", clock.Now)
	defer a.Close()
	b := openTest(t, "replicas", clock.Now)
	defer b.Close()
	b.poll = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h0, err := b.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	woke := make(chan error, 1)
	go func() { woke <- b.WaitChanges(ctx, h0) }()
	u := catalog.URN("urn:topic:prod/shared")
	if _, err := a.Apply(ctx, catalog.Batch{Actor: "user:a", Mutations: []catalog.Mutation{catalog.RegisterAsset{URN: u, Name: "shared"}}}); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Fatalf("replica b did not wake on replica a's write: %v", err)
	}
	if e, err := b.Entity(ctx, u); err != nil || e.Name != "shared" {
		t.Errorf("replica b reads %+v, %v", e, err)
	}

	h1, err := a.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const per = 15
	var wg sync.WaitGroup
	errs := make(chan error, 2*per)
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < per; j++ {
				urn := catalog.URN(fmt.Sprintf("urn:topic:prod/r%d-%d", i, j))
				if _, err := s.Apply(ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.RegisterAsset{URN: urn}}}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent apply: %v", err)
	}
	cs, err := a.Changes(ctx, h1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2*per {
		t.Fatalf("%d changes after %d concurrent writes", len(cs), 2*per)
	}
	seen := map[catalog.URN]bool{}
	for i, c := range cs {
		if c.Seq != h1+uint64(i)+1 {
			t.Fatalf("change %d has seq %d, want %d: the sequence has a gap", i, c.Seq, h1+uint64(i)+1)
		}
		if c.Type != catalog.AssetCreated || seen[c.Subject] {
			t.Errorf("change %+v is not a first creation", c)
		}
		seen[c.Subject] = true
	}
}
