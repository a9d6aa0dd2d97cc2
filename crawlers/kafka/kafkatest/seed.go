// Package kafkatest seeds Kafka clusters for the benchmarks of the Kafka
// crawler and of the stores it feeds (bench/crawlstores), so they crawl the
// same estate.
package kafkatest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TopicName is the name SeedLarge gives topic i: domain-<i%50>.topic-<i>.
func TopicName(i int) string { return fmt.Sprintf("domain-%02d.topic-%05d", i%50, i) }

// SeedLarge creates, on the cluster at addrs, topics × partitions with
// replication factor 3 in batched CreateTopics requests (every tenth topic
// with a retention and cleanup override) and groups service-0000… that each
// commit offset 0 on every partition of one topic, 64 commits in flight at
// a time. It fails t on the first error that three tries do not overcome.
func SeedLarge(t testing.TB, addrs []string, topics int, partitions int32, groups int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		t.Fatalf("seed client: %v", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	names := make([]string, topics)
	for i := range names {
		names[i] = TopicName(i)
	}
	tuned := map[string]*string{"retention.ms": ptr("604800000"), "cleanup.policy": ptr("compact,delete")}
	const batch = 1000
	for lo := 0; lo < topics; lo += batch {
		var plain, over []string
		for i := lo; i < min(lo+batch, topics); i++ {
			if i%10 == 0 {
				over = append(over, names[i])
			} else {
				plain = append(plain, names[i])
			}
		}
		for _, set := range []struct {
			names   []string
			configs map[string]*string
		}{{plain, nil}, {over, tuned}} {
			if len(set.names) == 0 {
				continue
			}
			resp, err := adm.CreateTopics(ctx, partitions, 3, set.configs, set.names...)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("create topics: %v", err)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var once sync.Once
	var first error
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
			once.Do(func() { first = fmt.Errorf("group %s: %w", group, err) })
		})
	}
	wg.Wait()
	if first != nil {
		t.Fatalf("commit offsets: %v", first)
	}
}

func ptr(s string) *string { return &s }
