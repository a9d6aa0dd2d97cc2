package kafka

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/crawlers"
)

// reconcileInto crawls cfg and reconciles the snapshot into s, returning
// the change events it wrote as "type subject" strings, sorted.
func reconcileInto(t testing.TB, s *embedded.Store, cfg Config) []string {
	t.Helper()
	snap := crawl(t, cfg)
	before, err := s.LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(context.Background(), snap, nil); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	cs, err := s.Changes(context.Background(), before, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c.Type) + " " + string(c.Subject)
	}
	sort.Strings(out)
	return out
}

// TestCrawlIntoStore checks the change events a real crawl produces in the
// real store: topics appearing, changing config and disappearing give
// exactly the right events, and a re-crawl where only offsets and lag moved
// gives none.
func TestCrawlIntoStore(t *testing.T) {
	c := newTestCluster(t, 1)
	adm := newAdmin(t, c)
	createTopic(t, adm, 3, 1, map[string]*string{"retention.ms": ptr("604800000")}, "orders")
	createTopic(t, adm, 1, 1, nil, "payments")
	p := newProducer(t, c)
	produce(t, p, "orders", 0, 5)
	commit(t, adm, "fraud", map[string]map[int32]int64{"orders": {0: 2}})
	store, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := configFor(c)

	first := reconcileInto(t, store, cfg)
	want := []string{
		"asset.created " + string(ClusterURN(testSource)),
		"asset.created " + string(topicURN("orders")),
		"asset.created " + string(topicURN("payments")),
		"asset.created " + string(groupURN("fraud")),
		"lineage.edge.added " + string(ClusterURN(testSource)), // CONTAINS orders
		"lineage.edge.added " + string(ClusterURN(testSource)), // CONTAINS payments
		"lineage.edge.added " + string(topicURN("orders")),
	}
	for b := range int32(c.Brokers()) { // the cluster CONTAINS each broker
		want = append(want, "asset.created "+string(BrokerURN(testSource, b)), "lineage.edge.added "+string(ClusterURN(testSource)))
	}
	sort.Strings(want)
	if fmt.Sprint(first) != fmt.Sprint(want) {
		t.Fatalf("first crawl events:\n got %v\nwant %v", first, want)
	}

	// Only offsets and lag move: no events, but the live lag is current.
	produce(t, p, "orders", 0, 7)
	commit(t, adm, "fraud", map[string]map[int32]int64{"orders": {0: 4}})
	if got := reconcileInto(t, store, cfg); len(got) != 0 {
		t.Fatalf("re-crawl with moving lag wrote %v", got)
	}
	g, err := store.Entity(context.Background(), groupURN("fraud"))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(g.Live["totalLag"]) != "8" {
		t.Errorf("live totalLag = %v, want 8 (12 produced, 4 committed)", g.Live["totalLag"])
	}

	// A config change is one update of that topic.
	alter := kadm.AlterConfig{Op: kadm.SetConfig, Name: "retention.ms", Value: ptr("86400000")}
	if _, err := adm.AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{alter}, "orders"); err != nil {
		t.Fatal(err)
	}
	if got := reconcileInto(t, store, cfg); fmt.Sprint(got) != fmt.Sprint([]string{"asset.updated " + string(topicURN("orders"))}) {
		t.Fatalf("config change events = %v", got)
	}

	// A deleted topic and a new one.
	if _, err := adm.DeleteTopics(testCtx(t), "payments"); err != nil {
		t.Fatal(err)
	}
	createTopic(t, adm, 1, 1, nil, "refunds")
	time.Sleep(50 * time.Millisecond)
	got := reconcileInto(t, store, cfg)
	want = []string{
		"asset.created " + string(topicURN("refunds")),
		"asset.deleted " + string(topicURN("payments")),
		"lineage.edge.added " + string(ClusterURN(testSource)),
		"lineage.edge.removed " + string(ClusterURN(testSource)),
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delete/create events:\n got %v\nwant %v", got, want)
	}
	if e, _ := store.Entity(context.Background(), topicURN("payments")); !e.Deleted() {
		t.Error("deleted topic is not a tombstone")
	}
}

// BenchmarkCrawlReconcile crawls the 20,000-topic × 4-partition, 5,000-group
// cluster into the embedded store (full crawl), then crawls it again after
// traffic moved lag (re-crawl), reporting both durations and the re-crawl's
// change events (which must be zero):
//
//	go test -run '^$' -bench CrawlReconcile -benchtime 1x ./crawlers/kafka/
func BenchmarkCrawlReconcile(b *testing.B) {
	const topics, partitions, groups = 20000, 4, 5000
	c := newCluster(b, kfake.NumBrokers(3))
	seedLarge(b, c, topics, partitions, groups)
	cfg := configFor(c)
	cfg.Timeout = "30s"
	cr, err := cfg.New(crawlers.Env{Source: testSource})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	once := func(s *embedded.Store) (time.Duration, catalog.ReconcileResult) {
		start := time.Now()
		snap, err := cr.Crawl(ctx)
		if err != nil {
			b.Fatal(err)
		}
		snap.Source = testSource
		res, err := s.Reconcile(ctx, snap, nil)
		if err != nil {
			b.Fatal(err)
		}
		return time.Since(start), res
	}
	for b.Loop() {
		s, err := embedded.Open(embedded.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		full, res := once(s)
		if res.Created < topics+groups {
			b.Fatalf("full crawl created %d entities", res.Created)
		}
		produce(b, newProducer(b, c), "domain-00.topic-00000", 0, 10)
		again, res2 := once(s)
		if res2.Changes != 0 {
			b.Fatalf("re-crawl with no change wrote %d change events", res2.Changes)
		}
		b.ReportMetric(full.Seconds(), "full-s")
		b.ReportMetric(again.Seconds(), "recrawl-s")
		b.ReportMetric(float64(res.Changes), "full-events")
		b.ReportMetric(float64(res2.Changes), "recrawl-events")
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
