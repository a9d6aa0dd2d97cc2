package main

import (
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"

	"github.com/watershed-data/watershed/catalog"
)

// graph is a generated lineage graph: assets 0..n-1 and directed edges
// (data flows from tail to head), held as flat arrays.
type graph struct {
	kinds    []catalog.Kind
	from, to []uint32
	outDeg   []uint32
	hubs     []uint32 // assets by out-degree, highest first (the top ones)
	backEdge int      // edges that close a cycle
}

// role of an asset in the generated estate.
const (
	roleDataset  = iota // topics, tables, datasets: read by processes, written by producers
	roleProducer        // jobs and connectors: read datasets, write datasets
	roleReader          // consumer groups: read datasets, write nothing
)

// generate builds a power-law lineage graph of n assets and about e edges
// with Price's model, the classic model of growing citation and dependency
// networks: assets arrive in order, and each new asset is fed by earlier
// ones picked with probability proportional to their out-degree + 1, so
// popular topics become hubs read by tens of thousands of consumers. A
// dataset is written by producers (PRODUCES, SINKS) or derived from other
// datasets (DERIVES); a job, connector or consumer group reads datasets
// (CONSUMES, CAPTURES). Consumer groups write nothing. One edge in a
// thousand points back to an earlier dataset, so the graph has cycles.
// The same seed gives the same graph.
func generate(n, e int, seed int64) *graph {
	rng := rand.New(rand.NewSource(seed))
	g := &graph{kinds: make([]catalog.Kind, n), outDeg: make([]uint32, n)}
	g.from = make([]uint32, 0, e)
	g.to = make([]uint32, 0, e)
	roles := make([]uint8, n)
	// Preferential attachment: an asset appears in its pool once, plus once
	// per edge leaving it, so a uniform draw from the pool is a draw
	// proportional to out-degree + 1.
	var datasets, producers, parents []uint32
	// In-degree is 1 + floor(X), X exponential with the scale that makes
	// the mean in-degree e/n.
	scale := 1 / math.Log(1+1/(float64(e)/float64(n)-1))
	const seedAssets = 16
	for v := 0; v < n; v++ {
		role := roleDataset
		switch r := rng.Float64(); {
		case v < seedAssets:
			role = roleDataset
		case r < 0.40:
			role = roleDataset
		case r < 0.60:
			role = roleProducer
		default:
			role = roleReader
		}
		roles[v] = uint8(role)
		g.kinds[v] = kindOf(role, rng)
		if v >= seedAssets {
			m := 1 + int(-math.Log(1-rng.Float64())*scale)
			parents = parents[:0]
			for i, tries := 0, 0; i < m && tries < 8*m; tries++ {
				var u uint32
				if role == roleDataset && len(producers) > 0 && rng.Float64() < 0.7 {
					u = producers[rng.Intn(len(producers))] // written by a job or connector
				} else {
					u = datasets[rng.Intn(len(datasets))] // read from, or derived from, a dataset
				}
				if slices.Contains(parents, u) {
					continue // hubs are drawn often: draw again
				}
				parents = append(parents, u)
				i++
				g.add(u, uint32(v))
				if roles[u] == roleDataset {
					datasets = append(datasets, u)
				} else {
					producers = append(producers, u)
				}
			}
		}
		switch role {
		case roleDataset:
			datasets = append(datasets, uint32(v))
			// Rarely a dataset feeds an earlier one back: a cycle.
			if v > seedAssets && rng.Intn(1000) == 0 {
				w := datasets[rng.Intn(len(datasets))]
				if w != uint32(v) {
					g.add(uint32(v), w)
					g.backEdge++
				}
			}
		case roleProducer:
			producers = append(producers, uint32(v))
		}
	}
	order := make([]uint32, n)
	for i := range order {
		order[i] = uint32(i)
	}
	sort.Slice(order, func(i, j int) bool { return g.outDeg[order[i]] > g.outDeg[order[j]] })
	g.hubs = order[:min(100, n)]
	return g
}

func (g *graph) add(u, v uint32) {
	g.from = append(g.from, u)
	g.to = append(g.to, v)
	g.outDeg[u]++
}

func kindOf(role int, rng *rand.Rand) catalog.Kind {
	r := rng.Float64()
	switch role {
	case roleDataset:
		switch {
		case r < 0.6:
			return catalog.KindTopic
		case r < 0.85:
			return catalog.KindTable
		}
		return catalog.KindDataset
	case roleProducer:
		if r < 0.7 {
			return catalog.KindJob
		}
		return catalog.KindConnector
	}
	return catalog.KindConsumerGroup
}

// urn names asset i in the kind's URN form.
func (g *graph) urn(i uint32) catalog.URN {
	switch g.kinds[i] {
	case catalog.KindTopic:
		return catalog.URN(fmt.Sprintf("urn:topic:bench/domain-%d.topic-%07d", i%97, i))
	case catalog.KindTable:
		return catalog.URN(fmt.Sprintf("urn:table:postgres://db-%d:5432/shop.public.table_%07d", i%31, i))
	case catalog.KindDataset:
		return catalog.URN(fmt.Sprintf("urn:dataset:s3://lake-%d/curated/d-%07d", i%13, i))
	case catalog.KindJob:
		return catalog.URN(fmt.Sprintf("urn:job:flink://flink-%d/job-%07d", i%7, i))
	case catalog.KindConnector:
		return catalog.URN(fmt.Sprintf("urn:connector:connect-%d/connector-%07d", i%5, i))
	}
	return catalog.URN(fmt.Sprintf("urn:group:bench/group-%07d", i))
}

// edgeKind is the flow kind of the edge u → v, from their kinds.
func (g *graph) edgeKind(u, v uint32) catalog.EdgeKind {
	ku, kv := g.kinds[u], g.kinds[v]
	switch {
	case isProcess(kv) && ku == catalog.KindTable && kv == catalog.KindConnector:
		return catalog.EdgeCaptures
	case isProcess(kv):
		return catalog.EdgeConsumes
	case ku == catalog.KindConnector && kv != catalog.KindTopic:
		return catalog.EdgeSinks
	case isProcess(ku):
		return catalog.EdgeProduces
	}
	return catalog.EdgeDerives
}

func isProcess(k catalog.Kind) bool {
	return k == catalog.KindJob || k == catalog.KindConnector || k == catalog.KindConsumerGroup
}

// closure is the reference closure of start over the generated edges (a
// plain BFS), to check every system's answer against.
func (g *graph) closure(start uint32) int {
	head := make([]uint32, len(g.kinds)+1)
	for _, u := range g.from {
		head[u+1]++
	}
	for i := 1; i < len(head); i++ {
		head[i] += head[i-1]
	}
	adj := make([]uint32, len(g.from))
	pos := append([]uint32(nil), head[:len(head)-1]...)
	for i, u := range g.from {
		adj[pos[u]] = g.to[i]
		pos[u]++
	}
	seen := make([]bool, len(g.kinds))
	seen[start] = true
	queue := []uint32{start}
	count := 0
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range adj[head[u]:head[u+1]] {
			if !seen[v] {
				seen[v] = true
				count++
				queue = append(queue, v)
			}
		}
	}
	return count
}
