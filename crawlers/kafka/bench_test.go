package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/kafka/kafkatest"
)

// seedLarge seeds c with kafkatest.SeedLarge.
func seedLarge(b testing.TB, c *kfake.Cluster, topics int, partitions int32, groups int) {
	b.Helper()
	kafkatest.SeedLarge(b, c.ListenAddrs(), topics, partitions, groups)
}

// BenchmarkCrawl crawls a kfake cluster of 3 brokers with 20,000 topics of
// 4 partitions and 5,000 consumer groups with committed offsets. The quality
// bar is ≤ 2 s per crawl on 2 cores.
func BenchmarkCrawl(b *testing.B) {
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
	var snap catalog.Snapshot
	for b.Loop() {
		if snap, err = cr.Crawl(ctx); err != nil {
			b.Fatal(err)
		}
	}
	snap.Source = testSource
	if err := snap.Validate(); err != nil {
		b.Fatalf("snapshot does not validate: %v", err)
	}
	var nt, ng int
	for _, a := range snap.Assets {
		switch a.URN.Kind() {
		case catalog.KindTopic:
			nt++
		case catalog.KindConsumerGroup:
			ng++
		}
	}
	if nt != topics || ng != groups || len(snap.Incomplete) != 0 {
		b.Fatalf("snapshot has %d topics, %d groups, incomplete %v", nt, ng, snap.Incomplete)
	}
	b.ReportMetric(float64(len(snap.Assets)), "assets")
	b.ReportMetric(float64(len(snap.Links)), "links")
}
