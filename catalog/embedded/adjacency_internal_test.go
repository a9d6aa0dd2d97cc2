package embedded

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// checkCountTraverse compares CountTraverse(q, page) with the counts and
// per-kind first pages of want, the reference walk's answer to q.
func checkCountTraverse(t *testing.T, s *Store, q catalog.TraverseQuery, page int, want catalog.Traversal) {
	t.Helper()
	counts := map[catalog.Kind]int{}
	per := map[catalog.Kind]int{}
	var nodes []catalog.Reached
	for _, n := range want.Nodes {
		counts[n.Kind]++
		if per[n.Kind] < page {
			per[n.Kind]++
			nodes = append(nodes, n)
		}
	}
	want.Nodes, want.Edges = nodes, nil
	got, gotCounts, err := s.CountTraverse(context.Background(), q, page)
	if err != nil {
		t.Fatalf("count %+v: %v", q, err)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotCounts, counts) {
		t.Fatalf("count %+v page %d:\ngot  %v %+v\nwant %v %+v", q, page, gotCounts, got, counts, want)
	}
}

// TestAdjacencyWalkMatchesIndexWalk is the adjacency's property test: on
// random graphs under random mutations (edges added, killed, revived,
// masked, given block lists and Via nodes; entities tombstoned and
// revived), every random walk of the present over the compact adjacency
// returns exactly what the reference walk over the index's lists returns —
// nodes, order, depths, Via edges, followed edges, truncation — whether the
// adjacency is freshly built, partly dirty or rebuilt; and CountTraverse
// returns that answer's counts per kind and the first page of each kind.
func TestAdjacencyWalkMatchesIndexWalk(t *testing.T) {
	kinds := []catalog.Kind{catalog.KindTopic, catalog.KindField, catalog.KindColumn, catalog.KindJob,
		catalog.KindConnector, catalog.KindConsumerGroup, catalog.KindTable, catalog.KindDataset}
	edgeKinds := catalog.EdgeKinds()
	flowKinds := catalog.FlowEdgeKinds()
	ctx := context.Background()
	walks := 0
	for seed := int64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewSource(seed))
		x := newIndex()
		s := &Store{idx: x, defs: map[string]catalog.ClassificationDef{
			"PII": {Name: "PII"}, "Open": {Name: "Open", PassesMasking: true},
		}}
		nNodes := 20 + rng.Intn(400)
		urns := make([]catalog.URN, nNodes)
		for i := range urns {
			k := kinds[rng.Intn(len(kinds))]
			urns[i] = catalog.URN(fmt.Sprintf("urn:%s:p/n%d", k.Scheme(), i))
		}
		now := time.Unix(1_000_000, 0)
		edges := map[catalog.EdgeKey]*edgeRecord{}
		putEntity := func() {
			u := urns[rng.Intn(nNodes)]
			r := &entityRecord{URN: u, CreatedAt: now}
			if rng.Intn(4) > 0 {
				r.Facets = map[string]*facetRecord{"p": {Name: string(u)}}
			} else {
				r.DeletedAt = now
			}
			x.putEntity(r)
		}
		putEdge := func() {
			var k catalog.EdgeKind
			if rng.Intn(3) > 0 {
				k = flowKinds[rng.Intn(len(flowKinds))]
			} else {
				k = edgeKinds[rng.Intn(len(edgeKinds))]
			}
			key := catalog.EdgeKey{From: urns[rng.Intn(nNodes)], Kind: k, To: urns[rng.Intn(nNodes)]}
			r := edges[key]
			if r == nil {
				r = &edgeRecord{From: key.From, Kind: key.Kind, To: key.To}
				edges[key] = r
			}
			r = &edgeRecord{From: r.From, Kind: r.Kind, To: r.To, Alive: append([]interval(nil), r.Alive...)}
			edges[key] = r
			if rng.Intn(5) > 0 { // alive
				c := &claimRecord{Confidence: 1, Masking: rng.Intn(8) == 0}
				if rng.Intn(6) == 0 {
					c.Via = []catalog.URN{urns[rng.Intn(nNodes)]}
				}
				r.Claims = map[string]*claimRecord{"p": c}
				if rng.Intn(8) == 0 {
					r.Block = []string{"PII"}
				}
				if n := len(r.Alive); n == 0 || !r.Alive[n-1].To.IsZero() {
					r.Alive = append(r.Alive, interval{From: now})
				}
			} else if n := len(r.Alive); n > 0 && r.Alive[n-1].To.IsZero() {
				r.Alive[n-1].To = now
				r.DeletedAt = now
			}
			x.putEdge(r)
		}
		randomKinds := func() []catalog.Kind {
			var out []catalog.Kind
			for _, k := range kinds {
				if rng.Intn(3) == 0 {
					out = append(out, k)
				}
			}
			return out
		}
		walk := func() {
			q := catalog.TraverseQuery{Direction: catalog.Downstream, MaxDepth: rng.Intn(5), Edges: rng.Intn(2) == 0, LiveOnly: rng.Intn(3) == 0}
			if rng.Intn(2) == 0 {
				q.Direction = catalog.Upstream
			}
			for i := rng.Intn(3); i >= 0; i-- {
				q.Starts = append(q.Starts, urns[rng.Intn(nNodes)])
			}
			if rng.Intn(3) == 0 {
				q.EdgeKinds = []catalog.EdgeKind{edgeKinds[rng.Intn(len(edgeKinds))], flowKinds[rng.Intn(len(flowKinds))]}
			}
			if rng.Intn(4) == 0 {
				q.Limit = 1 + rng.Intn(20)
			}
			switch rng.Intn(4) {
			case 0:
				q.Carrying = "PII"
			case 1:
				q.Carrying = "Open"
			}
			if rng.Intn(4) == 0 {
				q.NodeKinds = randomKinds()
			}
			if rng.Intn(4) == 0 {
				q.StopKinds = randomKinds()
			}
			for _, u := range q.Starts {
				x.nodeID(u) // a start must be known
			}
			q.NoVia = rng.Intn(4) == 0
			got, gotErr := s.traverse(ctx, q, true, nil)
			want, wantErr := s.traverse(ctx, q, false, nil)
			if q.NoVia { // the reference ignores the hint
				for i := range want.Nodes {
					want.Nodes[i].Via = catalog.EdgeKey{}
				}
			}
			if (gotErr != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, walk %d %+v:\nadjacency %v %+v\nindex     %v %+v", seed, walks, q, gotErr, got, wantErr, want)
			}
			if wantErr == nil {
				checkCountTraverse(t, s, q, rng.Intn(6), want)
			}
			walks++
		}
		for step := 0; step < 3000; step++ {
			now = now.Add(time.Second)
			switch r := rng.Intn(100); {
			case r < 15:
				putEntity()
			case r < 70:
				putEdge()
			case r < 72:
				x.adj.cur.Store(buildAdjacency(x)) // a rebuild at any point
			default:
				walk()
			}
		}
	}
	t.Logf("%d walks compared", walks)
}

var benchWalkNodes = flag.Int("bench.walknodes", 200_000, "nodes of BenchmarkWalk's graph (5 edges each)")

// BenchmarkWalk times the downstream closure of the oldest node of a
// preferential-attachment graph (bench.walknodes nodes, 5 edges each,
// built in memory without Pebble) over the adjacency and over the index's
// lists, and counted (CountTraverse, a page of 100):
//
//	go test -run '^$' -bench Walk ./catalog/embedded/
func BenchmarkWalk(b *testing.B) {
	n := *benchWalkNodes
	rng := rand.New(rand.NewSource(1))
	x := newIndex()
	s := &Store{idx: x, defs: map[string]catalog.ClassificationDef{}}
	urns := make([]catalog.URN, n)
	for i := range urns {
		urns[i] = catalog.URN(fmt.Sprintf("urn:topic:bench/t-%07d", i))
		x.putEntity(&entityRecord{URN: urns[i], Facets: map[string]*facetRecord{"p": {Name: string(urns[i])}}})
	}
	var ends []int // one entry per edge end: picking from it is preferential
	for i := 1; i < n; i++ {
		for j := 0; j < 5; j++ {
			from := rng.Intn(i)
			if len(ends) > 0 && rng.Intn(2) == 0 {
				from = ends[rng.Intn(len(ends))]
			}
			ends = append(ends, from)
			x.putEdge(&edgeRecord{From: urns[from], Kind: catalog.EdgeDerives, To: urns[i],
				Claims: map[string]*claimRecord{"p": {Confidence: 1}}, Alive: []interval{{From: time.Unix(1, 0)}}})
		}
	}
	q := catalog.TraverseQuery{Start: urns[0], Direction: catalog.Downstream}
	b.Run("counted", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, counts, err := s.CountTraverse(context.Background(), q, 100)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(counts[catalog.KindTopic]), "nodes")
		}
	})
	for _, compact := range []bool{true, false} {
		b.Run(fmt.Sprintf("compact=%v", compact), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				tr, err := s.traverse(context.Background(), q, compact, nil)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(tr.Nodes)), "nodes")
			}
		})
	}
}
