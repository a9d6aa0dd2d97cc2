package lineage

import (
	"context"
	"fmt"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// FanOutSnapshot is the estate of the propagation benchmark: one column
// (FanOutRoot) whose value is derived into l1 topics' "email" field, each of
// which a job derives into perTopic fields of its own output topic, with
// column lineage, CONTAINS edges and dataset-level edges throughout. With
// l1 = 1000 and perTopic = 99 the root reaches 100,000 fields (plus 2,001
// roll-ups and 1,000 readers). It is exported for bench/lineage.
func FanOutSnapshot(source string, l1, perTopic int) catalog.Snapshot {
	s := catalog.Snapshot{Source: source}
	asset := func(u catalog.URN) { s.Assets = append(s.Assets, catalog.Asset{URN: u}) }
	link := func(from catalog.URN, k catalog.EdgeKind, to catalog.URN) {
		s.Links = append(s.Links, catalog.Link{From: from, Kind: k, To: to, Confidence: 1})
	}
	table := catalog.URN("urn:table:postgres://bench-db:5432/bench.public.customers")
	asset(table)
	asset(FanOutRoot)
	link(table, catalog.EdgeContains, FanOutRoot)
	for i := 0; i < l1; i++ {
		t1 := catalog.URN(fmt.Sprintf("urn:topic:%s/l1-%04d", source, i))
		f1 := catalog.URN(fmt.Sprintf("urn:field:%s/l1-%04d/value/email", source, i))
		job := catalog.URN(fmt.Sprintf("urn:job:flink://bench/job-%04d", i))
		t2 := catalog.URN(fmt.Sprintf("urn:topic:%s/l2-%04d", source, i))
		asset(t1)
		asset(f1)
		asset(job)
		asset(t2)
		link(t1, catalog.EdgeContains, f1)
		link(FanOutRoot, catalog.EdgeDerives, f1)
		link(table, catalog.EdgeDerives, t1)
		link(t1, catalog.EdgeConsumes, job)
		link(job, catalog.EdgeProduces, t2)
		for j := 0; j < perTopic; j++ {
			f2 := catalog.URN(fmt.Sprintf("urn:field:%s/l2-%04d/value/e%03d", source, i, j))
			asset(f2)
			link(t2, catalog.EdgeContains, f2)
			link(f1, catalog.EdgeDerives, f2)
		}
	}
	return s
}

// FanOutRoot is the column FanOutSnapshot fans out from.
const FanOutRoot = catalog.URN("urn:column:postgres://bench-db:5432/bench.public.customers/email")

// Waiter waits until a subscription has handled an entry;
// *changelog.Changelog satisfies it.
type Waiter interface {
	WaitHandled(ctx context.Context, name string, seq uint64) error
}

// MeasurePropagation classifies origin as c through w and returns the time
// until the Propagator (running under SubscriptionName, followed by
// waiter) has committed every write the classification caused: the
// benchmark's propagate_100k_ms figure on FanOutSnapshot(…, 1000, 99). It
// declassifies again afterwards (not timed), so it can be called repeatedly.
func MeasurePropagation(ctx context.Context, w Writer, waiter Waiter, origin catalog.URN, c string) (time.Duration, error) {
	start := time.Now()
	cs, err := w.Apply(ctx, catalog.Batch{Actor: "user:bench", Mutations: []catalog.Mutation{catalog.Classify{URN: origin, Classification: c}}})
	if err != nil {
		return 0, fmt.Errorf("classify %s: %w", origin, err)
	}
	if len(cs) == 0 {
		return 0, fmt.Errorf("classify %s as %s changed nothing (already classified?)", origin, c)
	}
	if err := waiter.WaitHandled(ctx, SubscriptionName, cs[len(cs)-1].Seq); err != nil {
		return 0, err
	}
	took := time.Since(start)
	cs, err = w.Apply(ctx, catalog.Batch{Actor: "user:bench", Mutations: []catalog.Mutation{catalog.Declassify{URN: origin, Classification: c}}})
	if err != nil {
		return 0, fmt.Errorf("declassify %s: %w", origin, err)
	}
	if err := waiter.WaitHandled(ctx, SubscriptionName, cs[len(cs)-1].Seq); err != nil {
		return 0, err
	}
	return took, nil
}
