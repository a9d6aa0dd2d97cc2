package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// seedLarge creates topics × partitions with batched CreateTopics requests
// and groups that each commit offsets on every partition of one topic, 64
// commits in flight at a time. Every tenth topic gets a retention override.
func seedLarge(b testing.TB, c *kfake.Cluster, topics int, partitions int32, groups int) {
	b.Helper()
	adm := newAdmin(b, c)
	ctx := context.Background()
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("domain-%02d.topic-%05d", i%50, i)
	}
	const batch = 1000
	for lo := 0; lo < topics; lo += batch {
		hi := min(lo+batch, topics)
		var plain, tuned []string
		for i, n := range names[lo:hi] {
			if (lo+i)%10 == 0 {
				tuned = append(tuned, n)
			} else {
				plain = append(plain, n)
			}
		}
		createTopic(b, adm, partitions, 3, nil, plain...)
		createTopic(b, adm, partitions, 3, map[string]*string{"retention.ms": ptr("604800000"), "cleanup.policy": ptr("compact,delete")}, tuned...)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	errs := make(chan error, 1)
	for g := range groups {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var os kadm.Offsets
			topic := names[(g*4)%topics]
			for p := range partitions {
				os.Add(kadm.Offset{Topic: topic, Partition: p, At: 0, LeaderEpoch: -1})
			}
			group := fmt.Sprintf("service-%04d", g)
			var err error
			for range 3 { // seeding is not what is measured: retry a loaded broker
				if err = adm.CommitAllOffsets(ctx, group, os); err == nil {
					return
				}
			}
			select {
			case errs <- fmt.Errorf("group %s: %w", group, err):
			default:
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatalf("commit: %v", err)
	default:
	}
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
