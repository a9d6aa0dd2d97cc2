package lineage_test

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

// TestTraverseMatchesNaiveBFS compares Traverse with a plain BFS over
// random graphs with cycles, pair edges through pass-through connectors,
// depth bounds, both directions and kind filters.
func TestTraverseMatchesNaiveBFS(t *testing.T) {
	for seed := int64(1); seed <= 12; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkRandomGraph(t, seed) })
	}
}

type refEdge struct {
	from, to int
	kind     catalog.EdgeKind
	via      int // -1: none
}

func checkRandomGraph(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	n := 40 + rng.Intn(40)
	kinds := []catalog.Kind{catalog.KindTopic, catalog.KindJob, catalog.KindConsumerGroup, catalog.KindConnector, catalog.KindTable}
	urns := make([]catalog.URN, n)
	kindOf := make([]catalog.Kind, n)
	for i := range urns {
		kindOf[i] = kinds[rng.Intn(len(kinds))]
		urns[i] = catalog.MakeURN(kindOf[i], fmt.Sprintf("r/n%02d", i))
	}
	var edges []refEdge
	seen := map[[2]int]bool{}
	for i := 0; i < n*2; i++ {
		a, b := rng.Intn(n), rng.Intn(n)
		if a == b || seen[[2]int{a, b}] {
			continue
		}
		seen[[2]int{a, b}] = true
		e := refEdge{from: a, to: b, kind: []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeProduces, catalog.EdgeDerives}[rng.Intn(3)], via: -1}
		if e.kind == catalog.EdgeDerives && rng.Intn(3) == 0 {
			// A pair edge through some connector.
			for tries := 0; tries < 10; tries++ {
				if c := rng.Intn(n); kindOf[c] == catalog.KindConnector && c != a && c != b {
					e.via = c
					break
				}
			}
		}
		edges = append(edges, e)
	}
	sc := &scenario{t: t, ctx: t.Context(), now: scenarioStart}
	sc.store = openStore(t, func() time.Time { return sc.now })
	snap := catalog.Snapshot{Source: "random"}
	for _, u := range urns {
		snap.Assets = append(snap.Assets, catalog.Asset{URN: u})
	}
	passThrough := map[int]bool{}
	for _, e := range edges {
		l := catalog.Link{From: urns[e.from], Kind: e.kind, To: urns[e.to], Confidence: 1}
		if e.via >= 0 {
			l.Via = urns[e.via]
			passThrough[e.via] = true
		}
		snap.Links = append(snap.Links, l)
	}
	if _, err := sc.store.Reconcile(sc.ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	for q := 0; q < 30; q++ {
		start := rng.Intn(n)
		dir := catalog.Downstream
		if rng.Intn(2) == 0 {
			dir = catalog.Upstream
		}
		depth := rng.Intn(4) // 0: unbounded
		var only map[catalog.Kind]bool
		query := lineage.Query{Starts: []catalog.URN{urns[start]}, Direction: dir, Depth: depth, Paths: true, Edges: true}
		if rng.Intn(3) == 0 {
			k := kinds[rng.Intn(len(kinds))]
			only = map[catalog.Kind]bool{k: true}
			query.Kinds = []catalog.Kind{k}
		}
		// The reference: BFS, not continuing through a pass-through node
		// other than the start along flow edges.
		want := map[catalog.URN]int{}
		dist := map[int]int{start: 0}
		frontier := []int{start}
		for d := 1; len(frontier) > 0 && (depth == 0 || d <= depth); d++ {
			var next []int
			for _, u := range frontier {
				if u != start && passThrough[u] {
					continue
				}
				for _, e := range edges {
					from, to := e.from, e.to
					if dir == catalog.Upstream {
						from, to = to, from
					}
					if from != u {
						continue
					}
					if _, ok := dist[to]; ok {
						continue
					}
					dist[to] = d
					next = append(next, to)
					if only == nil || only[kindOf[to]] {
						want[urns[to]] = d
					}
				}
			}
			frontier = next
		}
		res, err := lineage.Traverse(sc.ctx, sc.store, query)
		if err != nil {
			t.Fatal(err)
		}
		got := map[catalog.URN]int{}
		for _, nd := range res.Nodes {
			got[nd.URN] = nd.Depth
			checkPath(t, fmt.Sprintf("seed %d query %d", seed, q), nd.URN, nd.Path, urns[start], res.Edges, dir)
			if len(nd.Path) != nd.Depth+1 {
				t.Errorf("seed %d query %d: path to %s has %d steps at depth %d", seed, q, nd.URN, len(nd.Path)-1, nd.Depth)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed %d query %d (%s from %s, depth %d, kinds %v):\n got %v\nwant %v", seed, q, map[catalog.Direction]string{0: "down", 1: "up"}[dir], urns[start], depth, query.Kinds, got, want)
		}
	}
}
