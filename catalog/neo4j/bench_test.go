package neo4j

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
)

var benchNodes = flag.Int("bench.nodes", 5000, "nodes of the graph BenchmarkStores builds")

// benchSnapshot is a layered graph of n topics, 10 layers of n/10, each
// topic feeding two of the next layer (2j and 2j+1, wrapping), so the
// closure of a first-layer topic grows to the width of the graph; bump
// changes the properties of one topic in a hundred.
func benchSnapshot(n int, bump bool) catalog.Snapshot {
	const layers = 10
	w := n / layers
	urn := func(l, j int) catalog.URN { return catalog.URN(fmt.Sprintf("urn:topic:bench/l%d-t%d", l, j)) }
	s := catalog.Snapshot{Source: "bench"}
	for l := 0; l < layers; l++ {
		for j := 0; j < w; j++ {
			p := catalog.Properties{"partitions": j % 12, "layer": l}
			if bump && j%100 == 0 {
				p["partitions"] = 99
			}
			s.Assets = append(s.Assets, catalog.Asset{URN: urn(l, j), Name: fmt.Sprintf("l%d-t%d", l, j), Properties: p, Scope: fmt.Sprintf("topic/%d/%d", l, j)})
			if l+1 < layers {
				for _, k := range []int{(2 * j) % w, (2*j + 1) % w} {
					s.Links = append(s.Links, catalog.Link{From: urn(l, j), Kind: catalog.EdgeDerives, To: urn(l+1, k), Confidence: 1, Scope: fmt.Sprintf("topic/%d/%d", l, j)})
				}
			}
		}
	}
	return s
}

// BenchmarkStores builds the same graph of -bench.nodes topics in the
// embedded store and in the real Neo4j, in one run, and reports for each:
// the first reconcile of the whole source (create), an identical re-crawl,
// a re-crawl changing 1% of the topics, and the p50/p99 latency of the
// impact closure (unbounded downstream walk) of first-layer topics.
//
//	eval "$(infra/up neo4j)"; go test -run '^$' -bench Stores -benchtime 1x -bench.nodes 20000 ./catalog/neo4j/
func BenchmarkStores(b *testing.B) {
	n := *benchNodes
	open := map[string]func(b *testing.B) catalog.Store{
		"embedded": func(b *testing.B) catalog.Store {
			s, err := embedded.Open(embedded.Options{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"neo4j": func(b *testing.B) catalog.Store { return openTest(b, fmt.Sprintf("bench-%d", n), nil) },
	}
	for _, name := range []string{"embedded", "neo4j"} {
		b.Run(fmt.Sprintf("%s/nodes=%d", name, n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s := open[name](b)
				benchStore(b, s, n)
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchStore(b *testing.B, s catalog.Store, n int) {
	ctx := context.Background()
	timed := func(metric string, snap catalog.Snapshot) catalog.ReconcileResult {
		start := time.Now()
		res, err := s.Reconcile(ctx, snap, nil)
		if err != nil {
			b.Fatalf("%s: %v", metric, err)
		}
		b.ReportMetric(time.Since(start).Seconds(), metric)
		return res
	}
	if res := timed("s/reconcile-create", benchSnapshot(n, false)); res.Created != n/10*10 {
		b.Fatalf("created %d of %d", res.Created, n)
	}
	if res := timed("s/reconcile-same", benchSnapshot(n, false)); res.Changes != 0 {
		b.Fatalf("identical re-crawl wrote %d changes", res.Changes)
	}
	if res := timed("s/reconcile-1pct", benchSnapshot(n, true)); res.Updated == 0 {
		b.Fatal("changed re-crawl updated nothing")
	}
	rng := rand.New(rand.NewSource(1))
	w := n / 10
	var lat []time.Duration
	reached := 0
	for i := -3; i < 50; i++ { // three walks warm up (Neo4j plans the hop query on its first use)
		start := time.Now()
		tr, err := s.Traverse(ctx, catalog.TraverseQuery{Start: catalog.URN(fmt.Sprintf("urn:topic:bench/l0-t%d", rng.Intn(w))), Direction: catalog.Downstream})
		if err != nil {
			b.Fatal(err)
		}
		if i >= 0 {
			lat = append(lat, time.Since(start))
			reached += len(tr.Nodes)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms/closure-p50")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "ms/closure-p99")
	b.ReportMetric(float64(reached)/float64(len(lat)), "nodes/closure")
}
