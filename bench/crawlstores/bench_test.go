package crawlstores

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/catalog/neo4j"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/kafka"
	"github.com/watershed-data/watershed/crawlers/kafka/kafkatest"
	"github.com/watershed-data/watershed/internal/realservers"
)

// The cluster of crawlers/kafka's BenchmarkCrawlReconcile.
const topics, partitions, groups = 20000, 4, 5000

const source = "prod"

// BenchmarkCrawlStores seeds a kfake cluster of 3 brokers with 20,000
// topics × 4 partitions and 5,000 consumer groups, then for the embedded
// store and the real Neo4j in turn: a full crawl reconciled into an empty
// catalog, 10 records produced (lag moves), and an unchanged re-crawl,
// which must write no change event. It prints one table row per store
// (seconds of crawl+reconcile, of the reconcile alone, and change events)
// and reports them as metrics. Without Neo4j it skips with the
// realservers reason.
//
//	eval "$(infra/up neo4j)"; go test -run '^$' -bench CrawlStores -benchtime 1x -timeout 30m ./bench/crawlstores/
func BenchmarkCrawlStores(b *testing.B) {
	st := realservers.Require(b, realservers.Neo4j)
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		b.Fatalf("start kfake: %v", err)
	}
	defer c.Close()
	seedStart := time.Now()
	kafkatest.SeedLarge(b, c.ListenAddrs(), topics, partitions, groups)
	b.Logf("seeded %d topics, %d groups in %.1fs", topics, groups, time.Since(seedStart).Seconds())
	cfg := kafka.Config{Bootstrap: c.ListenAddrs(), Timeout: "30s"}
	cr, err := cfg.New(crawlers.Env{Source: source})
	if err != nil {
		b.Fatal(err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()

	ctx := context.Background()
	stores := []struct {
		name string
		open func(b *testing.B) (catalog.Store, func())
	}{
		{"embedded", func(b *testing.B) (catalog.Store, func()) {
			s, err := embedded.Open(embedded.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			return s, func() {}
		}},
		{"neo4j", func(b *testing.B) (catalog.Store, func()) {
			var id [4]byte
			_, _ = rand.Read(id[:])
			s, err := neo4j.Open(ctx, neo4j.Options{URI: st.Neo4j.BoltURL, User: st.Neo4j.User, Password: st.Neo4j.Password, LabelPrefix: "B" + hex.EncodeToString(id[:]) + "_"})
			if err != nil {
				b.Fatalf("open neo4j store: %v", err)
			}
			return s, func() {
				if err := s.Drop(ctx); err != nil {
					b.Errorf("drop the bench catalog: %v", err)
				}
			}
		}},
	}
	var rows []row
	for _, sc := range stores {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				s, drop := sc.open(b)
				r := row{store: sc.name}
				r.full = crawlInto(b, cr, s)
				if r.full.res.Created < topics+groups {
					b.Fatalf("full crawl created %d entities", r.full.res.Created)
				}
				recs := make([]*kgo.Record, 10)
				for i := range recs {
					recs[i] = &kgo.Record{Topic: kafkatest.TopicName(0), Partition: 0, Value: fmt.Appendf(nil, "record-%d", i)}
				}
				if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
					b.Fatalf("produce: %v", err)
				}
				r.again = crawlInto(b, cr, s)
				if r.again.res.Changes != 0 {
					b.Fatalf("re-crawl with no change wrote %d change events", r.again.res.Changes)
				}
				drop()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.full.total.Seconds(), "full-s")
				b.ReportMetric(r.full.reconcile.Seconds(), "full-reconcile-s")
				b.ReportMetric(float64(r.full.res.Changes), "full-events")
				b.ReportMetric(r.again.total.Seconds(), "recrawl-s")
				b.ReportMetric(r.again.reconcile.Seconds(), "recrawl-reconcile-s")
				b.ReportMetric(float64(r.again.res.Changes), "recrawl-events")
				rows = append(rows, r)
			}
		})
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "store\tfull s\tof which reconcile s\tfull events\tre-crawl s\tof which reconcile s\tre-crawl events\t\n")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%.2f\t%.2f\t%d\t%.2f\t%.2f\t%d\t\n", r.store, r.full.total.Seconds(), r.full.reconcile.Seconds(), r.full.res.Changes,
			r.again.total.Seconds(), r.again.reconcile.Seconds(), r.again.res.Changes)
	}
	_ = w.Flush()
}

type row struct {
	store       string
	full, again timing
}

type timing struct {
	total, reconcile time.Duration
	res              catalog.ReconcileResult
}

// crawlInto crawls once and reconciles the snapshot into s.
func crawlInto(b *testing.B, cr crawlers.Crawler, s catalog.Store) timing {
	ctx := context.Background()
	start := time.Now()
	snap, err := cr.Crawl(ctx)
	if err != nil {
		b.Fatalf("crawl: %v", err)
	}
	if len(snap.Incomplete) != 0 {
		b.Fatalf("crawl incomplete: %v", snap.Incomplete)
	}
	snap.Source = source
	mid := time.Now()
	res, err := s.Reconcile(ctx, snap, nil)
	if err != nil {
		b.Fatalf("reconcile: %v", err)
	}
	return timing{total: time.Since(start), reconcile: time.Since(mid), res: res}
}
