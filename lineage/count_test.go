package lineage_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

// traverseOnly hides the store's Counter, so lineage counts Traverse's
// answer itself.
type traverseOnly struct{ lineage.Graph }

// TestImpactTotalsMatchTraverse is the compact closure's property test: on
// random graphs (cycles, pair edges through pass-through connectors, some
// fields), Impact with Totals answers the same through the store's
// CountTraverse as through Traverse, its report is the one Impact gives
// without Totals, and its totals count exactly the assets of the unlimited
// report, per group.
func TestImpactTotalsMatchTraverse(t *testing.T) {
	kinds := []catalog.Kind{catalog.KindTopic, catalog.KindJob, catalog.KindConsumerGroup, catalog.KindConnector, catalog.KindTable, catalog.KindField}
	edgeKinds := []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeProduces, catalog.EdgeDerives}
	truncated := 0
	for seed := int64(1); seed <= 10; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 30 + rng.Intn(60)
		urns := make([]catalog.URN, n)
		snap := catalog.Snapshot{Source: "random"}
		for i := range urns {
			k := kinds[rng.Intn(len(kinds))]
			name := fmt.Sprintf("r/n%02d", i)
			if k == catalog.KindField {
				name = fmt.Sprintf("r/n%02d/value/f", i)
			}
			urns[i] = catalog.MakeURN(k, name)
			snap.Assets = append(snap.Assets, catalog.Asset{URN: urns[i]})
		}
		for i := 0; i < n*3; i++ {
			a, b := rng.Intn(n), rng.Intn(n)
			if a == b {
				continue
			}
			l := catalog.Link{From: urns[a], Kind: edgeKinds[rng.Intn(len(edgeKinds))], To: urns[b], Confidence: 1}
			if c := rng.Intn(n); l.Kind == catalog.EdgeDerives && urns[c].Kind() == catalog.KindConnector && c != a && c != b && rng.Intn(2) == 0 {
				l.Via = urns[c]
			}
			snap.Links = append(snap.Links, l)
		}
		store := openStore(t, nil)
		ctx := t.Context()
		if _, err := store.Reconcile(ctx, snap, nil); err != nil {
			t.Fatal(err)
		}
		for q := 0; q < 25; q++ {
			root := urns[rng.Intn(n)]
			query := lineage.ImpactQuery{URN: root, Depth: rng.Intn(4), Limit: rng.Intn(6)}
			plain, err := lineage.Impact(ctx, store, query)
			if err != nil {
				t.Fatal(err)
			}
			query.Totals = true
			counted, err := lineage.Impact(ctx, store, query)
			if err != nil {
				t.Fatal(err)
			}
			fallback, err := lineage.Impact(ctx, traverseOnly{store}, query)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(counted, fallback) {
				t.Fatalf("seed %d %+v: CountTraverse and Traverse differ:\n%+v\n%+v", seed, query, counted, fallback)
			}
			if counted.Totals == nil {
				t.Fatalf("seed %d %+v: no totals", seed, query)
			}
			totals := counted.Totals
			if counted.Truncated {
				truncated++
			}
			counted.Totals = nil
			if !reflect.DeepEqual(counted, plain) {
				t.Fatalf("seed %d %+v: with totals\n%+v\nwithout\n%+v", seed, query, counted, plain)
			}
			query.Limit, query.Totals = 0, false
			full, err := lineage.Impact(ctx, store, query)
			if err != nil {
				t.Fatal(err)
			}
			want := lineage.ImpactTotals{ConsumerGroups: len(full.ConsumerGroups), Connectors: len(full.Connectors), Jobs: len(full.Jobs),
				Datasets: len(full.Datasets), Topics: len(full.Topics), Fields: len(full.Fields), Other: len(full.Other), All: len(full.All())}
			if *totals != want {
				t.Fatalf("seed %d %+v: totals %+v, the full report has %+v", seed, query, *totals, want)
			}
		}
	}
	if truncated == 0 {
		t.Fatal("no query was cut by its limit: the pages went untested")
	}
}
