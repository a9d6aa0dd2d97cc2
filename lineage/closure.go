package lineage

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/watershed-data/watershed/catalog"
)

// Walker is the one read the closure makes: catalog.Reader satisfies it.
// Every walk the closure asks for is declarative (kinds, Carrying,
// StopKinds, LiveOnly), so a store can push it down.
type Walker interface {
	Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error)
}

// Mode says how a classification reaches an asset from its origin. It
// follows from the asset's path (see ModeOf), so the catalog stores only the
// path.
type Mode string

// Modes, in the order a path can pass through them.
const (
	// ModeField: a field or column reached along field-level lineage
	// (column → field, field → field, field → column).
	ModeField Mode = "FIELD"
	// ModeRollup: a dataset (topic, table, dataset) that contains a field
	// carrying the classification: "this topic contains PII". A roll-up
	// does not flow on by itself; the fields do.
	ModeRollup Mode = "ROLLUP"
	// ModeReader: a connector, job or consumer group that reads a dataset
	// containing the classification. Like a roll-up it does not flow on.
	ModeReader Mode = "READER"
	// ModeCoarse: a dataset that a carrying field's dataset feeds through
	// lineage without field mapping (rule 2): the coarse fallback, so that
	// nothing escapes through an unmapped job. It flows on at dataset level.
	ModeCoarse Mode = "COARSE"
	// ModeDataset: an asset reached along dataset-level lineage from a
	// dataset-level attachment, direct or coarse.
	ModeDataset Mode = "DATASET"
)

// flows reports whether an attachment of mode m flows on downstream at
// dataset level (as opposed to a roll-up or a reader mark).
func (m Mode) flows() bool { return m == ModeCoarse || m == ModeDataset }

// Reached is one asset a classification reaches from its origin.
type Reached struct {
	URN  catalog.URN
	Mode Mode
	// Path explains it: the origin first, URN last. Each step follows an
	// unblocked flow edge, except the containment step from a field up to
	// the dataset that (transitively) contains it.
	Path []catalog.URN
}

// Reach is everything one origin's classification reaches: a pure function
// of the lineage graph (see Closure).
type Reach struct {
	Origin         catalog.URN
	Classification string
	// Reached holds every asset reached, the origin excluded, sorted by URN.
	Reached []Reached
	// Touched lists, in no order, every entity the computation looked at: the
	// starts and reached nodes of all its walks. A change of an edge or an
	// entity that touches none of them cannot change the result, which is
	// what makes incremental propagation exact.
	Touched []catalog.URN
}

// Node kinds by granularity. Fields are FIELD and COLUMN; datasets are the
// things that hold fields (TOPIC, TABLE, DATASET); every other kind on a
// flow edge (CONNECTOR, JOB, CONSUMER_GROUP, …) is a process.
var (
	fieldNodeKinds   = []catalog.Kind{catalog.KindField, catalog.KindColumn}
	datasetNodeKinds = []catalog.Kind{catalog.KindTopic, catalog.KindTable, catalog.KindDataset}
	// containNodeKinds are what a containment walk enters: fields and datasets.
	containNodeKinds = append(append([]catalog.Kind(nil), fieldNodeKinds...), datasetNodeKinds...)
	// nonFieldNodeKinds are what a dataset-level walk enters: everything but fields.
	nonFieldNodeKinds = func() []catalog.Kind {
		var out []catalog.Kind
		for _, k := range catalog.Kinds() {
			if !IsField(k) {
				out = append(out, k)
			}
		}
		return out
	}()
)

// IsField reports whether k is field-level (FIELD, COLUMN).
func IsField(k catalog.Kind) bool { return k == catalog.KindField || k == catalog.KindColumn }

// IsDataset reports whether k is a dataset that holds fields (TOPIC, TABLE,
// DATASET).
func IsDataset(k catalog.Kind) bool {
	return k == catalog.KindTopic || k == catalog.KindTable || k == catalog.KindDataset
}

// ModeOf derives the mode of a propagated attachment from its path (origin
// first, the carrier last), by the kinds along it. It returns "" for a path
// of fewer than two steps.
func ModeOf(path []catalog.URN) Mode {
	n := len(path)
	if n < 2 {
		return ""
	}
	last := path[n-1].Kind()
	switch {
	case IsField(last):
		return ModeField
	case !IsField(path[0].Kind()):
		return ModeDataset
	}
	// A field origin: the field part, then the containing dataset, then
	// (maybe) processes reading it and the first dataset without field
	// mapping, then dataset-level flow.
	i := 0
	for i < n && IsField(path[i].Kind()) {
		i++
	}
	if i == n-1 {
		return ModeRollup
	}
	for j := i + 1; j < n; j++ {
		if IsDataset(path[j].Kind()) {
			if j == n-1 {
				return ModeCoarse
			}
			return ModeDataset
		}
	}
	return ModeReader
}

// Closure computes what classification c, attached directly to origin with
// propagation on, reaches in the graph w walks now (DESIGN.md §6):
//
//  1. from a field or column, along field-level edges to fields and columns;
//     from any other asset, along dataset-level edges to everything
//     downstream (datasets, connectors, jobs, consumer groups);
//  2. from every field that carries c (the origin included), to the datasets
//     containing it (a roll-up); from each such dataset one hop on, through
//     the connectors and jobs between, to the next datasets: those reached
//     without field mapping (see below) get c coarsely and pass it on at
//     dataset level; the processes on the way are marked as readers;
//  3. no walk crosses an edge that blocks c (its block list, or masking
//     unless c's definition passes masking), nor a tombstone;
//  4. the result holds exactly what some unblocked path reaches.
//
// A hop from dataset D to dataset E has field mapping when some field of E
// derives (by an alive field-level edge, blocking or not) from a field of
// the datasets that feed the hop: D itself for a direct dataset edge (a
// pair edge topic → table through a sink connector), or the datasets read
// by the connector or job that writes E. So a job that declares column
// lineage for its output passes exactly the fields it maps, and a job that
// declares none passes everything, coarsely.
//
// Each reached asset gets one path: a flowing one (coarse or dataset-level)
// before a roll-up or reader mark, then the shortest, then the first in URN
// order, so the result never depends on the order edges were written in.
// Closure only reads; origin itself is never in the result. An unknown
// origin is NotFound; a tombstoned one reaches nothing.
func Closure(ctx context.Context, w Walker, origin catalog.URN, c string) (Reach, error) {
	r := &reacher{
		ctx: ctx, w: w, class: c, origin: origin,
		best:       map[catalog.URN]*Reached{},
		touched:    map[catalog.URN]struct{}{origin: {}},
		containers: map[catalog.URN][]catalog.URN{},
		sources:    map[catalog.URN]map[catalog.URN]bool{},
		inputs:     map[catalog.URN]map[catalog.URN]bool{},
	}
	var err error
	if IsField(origin.Kind()) {
		err = r.fromField()
	} else {
		err = r.fromDataset()
	}
	if err != nil {
		return Reach{}, err
	}
	out := Reach{Origin: origin, Classification: c, Reached: make([]Reached, 0, len(r.best))}
	for _, b := range r.best {
		out.Reached = append(out.Reached, *b)
	}
	sort.Slice(out.Reached, func(i, j int) bool { return out.Reached[i].URN < out.Reached[j].URN })
	out.Touched = make([]catalog.URN, 0, len(r.touched))
	for u := range r.touched {
		out.Touched = append(out.Touched, u)
	}
	return out, nil
}

type reacher struct {
	ctx    context.Context
	w      Walker
	class  string
	origin catalog.URN

	best    map[catalog.URN]*Reached
	touched map[catalog.URN]struct{}

	containers map[catalog.URN][]catalog.URN        // field → datasets containing it (memo)
	sources    map[catalog.URN]map[catalog.URN]bool // dataset → datasets whose fields feed its fields
	inputs     map[catalog.URN]map[catalog.URN]bool // process → datasets it reads (through processes)
}

// offer records a candidate path for u, keeping the better one.
func (r *reacher) offer(u catalog.URN, m Mode, path []catalog.URN) {
	if u == r.origin {
		return
	}
	old, ok := r.best[u]
	if ok && !better(m, path, old.Mode, old.Path) {
		return
	}
	r.best[u] = &Reached{URN: u, Mode: m, Path: path}
}

// better orders candidate paths: flowing modes first, then shorter, then
// smaller URN by URN.
func better(m Mode, p []catalog.URN, om Mode, op []catalog.URN) bool {
	if m.flows() != om.flows() {
		return m.flows()
	}
	if len(p) != len(op) {
		return len(p) < len(op)
	}
	for i := range p {
		if p[i] != op[i] {
			return p[i] < op[i]
		}
	}
	return false
}

// fromDataset: a dataset-level origin reaches everything downstream along
// dataset-level edges.
func (r *reacher) fromDataset() error {
	g, err := r.walk(catalog.TraverseQuery{Starts: []catalog.URN{r.origin}, Direction: catalog.Downstream, NodeKinds: nonFieldNodeKinds, Carrying: r.class}, nil)
	if err != nil {
		return err
	}
	for _, u := range g.order {
		r.offer(u, ModeDataset, g.path(u, nil))
	}
	return nil
}

// fromField: field lineage, roll-ups, hops without field mapping, and the
// dataset-level flow from those.
func (r *reacher) fromField() error {
	fw, err := r.walk(catalog.TraverseQuery{Starts: []catalog.URN{r.origin}, Direction: catalog.Downstream, NodeKinds: fieldNodeKinds, Carrying: r.class}, nil)
	if err != nil {
		return err
	}
	carriers := append([]catalog.URN{r.origin}, fw.order...)
	fieldPath := map[catalog.URN][]catalog.URN{r.origin: {r.origin}}
	for _, f := range fw.order {
		p := fw.path(f, nil)
		fieldPath[f] = p
		r.offer(f, ModeField, p)
	}
	if err := r.loadContainers(carriers); err != nil {
		return err
	}
	// Roll-ups: each dataset containing a carrier, with the best path.
	prefix := map[catalog.URN][]catalog.URN{}
	for _, f := range carriers {
		for _, d := range r.containers[f] {
			p := extendPath(fieldPath[f], d)
			r.offer(d, ModeRollup, p)
			if old, ok := prefix[d]; !ok || better(ModeRollup, p, ModeRollup, old) {
				prefix[d] = p
			}
		}
	}
	// Hops from each containing dataset to the next datasets.
	coarse := map[catalog.URN][]catalog.URN{}
	for _, d := range sortedKeys(prefix) {
		if err := r.hop(d, prefix[d], coarse); err != nil {
			return err
		}
	}
	if len(coarse) == 0 {
		return nil
	}
	// Dataset-level flow from every coarse dataset.
	starts := sortedKeys(coarse)
	offsets := make(map[catalog.URN]int, len(starts))
	for _, s := range starts {
		offsets[s] = len(coarse[s]) - 1
	}
	cw, err := r.walk(catalog.TraverseQuery{Starts: starts, Direction: catalog.Downstream, NodeKinds: nonFieldNodeKinds, Carrying: r.class}, offsets)
	if err != nil {
		return err
	}
	for _, u := range cw.order {
		r.offer(u, ModeDataset, cw.path(u, coarse))
	}
	return nil
}

// hop walks one dataset-level hop from d (reached by path p): processes on
// the way are readers, and each next dataset reached by a route without field
// mapping joins coarse with its path.
func (r *reacher) hop(d catalog.URN, p []catalog.URN, coarse map[catalog.URN][]catalog.URN) error {
	hw, err := r.walk(catalog.TraverseQuery{Starts: []catalog.URN{d}, Direction: catalog.Downstream, NodeKinds: nonFieldNodeKinds, StopKinds: datasetNodeKinds, Carrying: r.class}, nil)
	if err != nil {
		return err
	}
	for _, u := range hw.order {
		if !IsDataset(u.Kind()) {
			r.offer(u, ModeReader, concatPath(p, hw.path(u, nil)))
		}
	}
	// Every route into a next dataset e ends with an edge x → e, x being d
	// or a process between: it is unmapped when no field of e derives from
	// a field of what feeds x.
	type route struct{ via, to catalog.URN }
	var unmapped []route
	for _, e := range hw.edges {
		if e.To == d || !IsDataset(e.To.Kind()) || !hw.reached(e.From) {
			continue
		}
		feeds := map[catalog.URN]bool{d: true}
		if e.From != d {
			if feeds, err = r.inputsOf(e.From); err != nil {
				return err
			}
		}
		src, err := r.sourcesOf(e.To)
		if err != nil {
			return err
		}
		if !intersects(feeds, src) {
			unmapped = append(unmapped, route{e.From, e.To})
		}
	}
	for _, rt := range unmapped {
		full := extendPath(concatPath(p, hw.path(rt.via, nil)), rt.to)
		r.offer(rt.to, ModeCoarse, full)
		if old, ok := coarse[rt.to]; !ok || better(ModeCoarse, full, ModeCoarse, old) {
			coarse[rt.to] = full
		}
	}
	return nil
}

// loadContainers fills r.containers for fields: the datasets reached from
// each up CONTAINS edges through fields only, with one walk.
func (r *reacher) loadContainers(fields []catalog.URN) error {
	var todo []catalog.URN
	for _, f := range fields {
		if _, ok := r.containers[f]; !ok {
			todo = append(todo, f)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	g, err := r.walk(catalog.TraverseQuery{Starts: todo, Direction: catalog.Upstream, EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: containNodeKinds, StopKinds: datasetNodeKinds}, nil)
	if err != nil {
		return err
	}
	parents := map[catalog.URN][]catalog.URN{} // child → parents
	for _, e := range g.edges {
		parents[e.To] = append(parents[e.To], e.From)
	}
	// The datasets above a field are those above its parents; the walk
	// stopped at datasets, so a field-only chain ends at each of them.
	var above func(u catalog.URN, depth int) []catalog.URN
	above = func(u catalog.URN, depth int) []catalog.URN {
		if c, ok := r.containers[u]; ok {
			return c
		}
		r.containers[u] = nil // guards against a CONTAINS cycle
		var out []catalog.URN
		for _, p := range parents[u] {
			if IsDataset(p.Kind()) {
				out = append(out, p)
			} else if depth < 64 {
				out = append(out, above(p, depth+1)...)
			}
		}
		if len(out) > 1 {
			sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
			out = slices.Compact(out)
		}
		r.containers[u] = out
		return out
	}
	for _, f := range todo {
		above(f, 0)
	}
	return nil
}

// sourcesOf returns the datasets whose fields feed a field of dataset e.
func (r *reacher) sourcesOf(e catalog.URN) (map[catalog.URN]bool, error) {
	if s, ok := r.sources[e]; ok {
		return s, nil
	}
	fields, err := r.walk(catalog.TraverseQuery{Starts: []catalog.URN{e}, Direction: catalog.Downstream, EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: fieldNodeKinds}, nil)
	if err != nil {
		return nil, err
	}
	out := map[catalog.URN]bool{}
	if len(fields.order) > 0 {
		up, err := r.walk(catalog.TraverseQuery{Starts: fields.order, Direction: catalog.Upstream, NodeKinds: fieldNodeKinds, MaxDepth: 1}, nil)
		if err != nil {
			return nil, err
		}
		var from []catalog.URN
		seen := map[catalog.URN]bool{}
		for _, ed := range up.edges {
			if !seen[ed.From] {
				seen[ed.From] = true
				from = append(from, ed.From)
			}
		}
		if err := r.loadContainers(from); err != nil {
			return nil, err
		}
		for _, f := range from {
			for _, d := range r.containers[f] {
				out[d] = true
			}
		}
	}
	r.sources[e] = out
	return out, nil
}

// inputsOf returns the datasets process x reads, through other processes.
func (r *reacher) inputsOf(x catalog.URN) (map[catalog.URN]bool, error) {
	if s, ok := r.inputs[x]; ok {
		return s, nil
	}
	g, err := r.walk(catalog.TraverseQuery{Starts: []catalog.URN{x}, Direction: catalog.Upstream, NodeKinds: nonFieldNodeKinds, StopKinds: datasetNodeKinds}, nil)
	if err != nil {
		return nil, err
	}
	out := map[catalog.URN]bool{}
	for _, u := range g.order {
		if IsDataset(u.Kind()) {
			out[u] = true
		}
	}
	r.inputs[x] = out
	return out, nil
}

// subgraph is the result of one walk with deterministic shortest paths.
type subgraph struct {
	// order lists the reached nodes; a start is in it only when another
	// start reached it by a shorter way. Its order carries no meaning.
	order []catalog.URN
	idx   map[catalog.URN]int32 // node → index into urns, pred, dist
	urns  []catalog.URN
	pred  []int32 // -1 for a start
	dist  []int32
	edges []catalog.EdgeKey
}

func (g *subgraph) reached(u catalog.URN) bool {
	_, ok := g.idx[u]
	return ok
}

// path returns the path from a start to u in walk order (for an upstream
// walk, from u's side), prefixed by prefixes[start] when given (whose last
// element is the start).
func (g *subgraph) path(u catalog.URN, prefixes map[catalog.URN][]catalog.URN) []catalog.URN {
	i := g.idx[u]
	n := int(g.dist[i]) + 1
	cur := i
	for g.pred[cur] >= 0 {
		cur = g.pred[cur]
	}
	start := g.urns[cur]
	pre := prefixes[start]
	if len(pre) > 0 {
		pre = pre[:len(pre)-1]
		n = int(g.dist[i]-g.dist[cur]) + 1
	}
	out := make([]catalog.URN, len(pre)+n)
	copy(out, pre)
	for k, cur := len(out)-1, i; k >= len(pre); k-- {
		out[k] = g.urns[cur]
		cur = g.pred[cur]
	}
	return out
}

// walk runs q on the live graph and fixes one shortest path per reached
// node over the edges it followed: from the starts at their offsets (zero
// when offsets is nil), breaking ties by the smaller predecessor URN. So the
// paths depend on the graph only, not on the order its edges were written
// in (which a store's adjacency reflects).
func (r *reacher) walk(q catalog.TraverseQuery, offsets map[catalog.URN]int) (*subgraph, error) {
	if err := r.ctx.Err(); err != nil {
		return nil, err
	}
	q.Edges, q.LiveOnly = true, true
	tr, err := r.w.Traverse(r.ctx, q)
	if err != nil {
		return nil, fmt.Errorf("walk from %d starts: %w", len(q.Starts), err)
	}
	n := len(q.Starts) + len(tr.Nodes)
	g := &subgraph{idx: make(map[catalog.URN]int32, n), urns: make([]catalog.URN, 0, n), edges: tr.Edges}
	add := func(u catalog.URN) int32 {
		if i, ok := g.idx[u]; ok {
			return i
		}
		i := int32(len(g.urns))
		g.idx[u] = i
		g.urns = append(g.urns, u)
		r.touched[u] = struct{}{}
		return i
	}
	for _, s := range q.Starts {
		add(s)
	}
	for _, nd := range tr.Nodes {
		add(nd.URN)
	}
	g.pred = make([]int32, len(g.urns))
	g.dist = make([]int32, len(g.urns))
	for i := range g.pred {
		g.pred[i] = -1
	}
	// Edges in walk direction, as indices.
	type arc struct{ a, b int32 }
	arcs := make([]arc, 0, len(tr.Edges))
	for _, e := range tr.Edges {
		a, b := e.From, e.To
		if q.Direction == catalog.Upstream {
			a, b = b, a
		}
		ia, oka := g.idx[a]
		ib, okb := g.idx[b]
		if oka && okb {
			arcs = append(arcs, arc{ia, ib})
		}
	}
	if offsets == nil {
		// The walk's depths are the shortest distances already: keep, for
		// each node, the smallest predecessor one hop closer.
		isStart := make([]bool, len(g.urns))
		for _, s := range q.Starts {
			isStart[g.idx[s]] = true
		}
		for _, nd := range tr.Nodes {
			g.dist[g.idx[nd.URN]] = int32(nd.Depth)
		}
		for _, a := range arcs {
			if isStart[a.b] || g.dist[a.a]+1 != g.dist[a.b] {
				continue
			}
			if p := g.pred[a.b]; p < 0 || g.urns[a.a] < g.urns[p] {
				g.pred[a.b] = a.a
			}
		}
		for i := range g.urns {
			if !isStart[i] {
				g.order = append(g.order, g.urns[i])
			}
		}
		return g, nil
	}
	// Start offsets differ: a bucketed BFS over the followed edges.
	adj := make([][]int32, len(g.urns))
	for _, a := range arcs {
		adj[a.a] = append(adj[a.a], a.b)
	}
	const unseen = int32(-1)
	for i := range g.dist {
		g.dist[i] = unseen
	}
	var buckets [][]int32
	push := func(d int32, i int32) {
		for int(d) >= len(buckets) {
			buckets = append(buckets, nil)
		}
		buckets[d] = append(buckets[d], i)
	}
	for _, s := range q.Starts {
		i, d := g.idx[s], int32(offsets[s])
		if g.dist[i] == unseen || d < g.dist[i] {
			g.dist[i] = d
			push(d, i)
		}
	}
	for d := int32(0); int(d) < len(buckets); d++ {
		for _, u := range buckets[d] {
			if g.dist[u] != d {
				continue // found shorter later: a stale entry
			}
			for _, v := range adj[u] {
				switch old := g.dist[v]; {
				case old == unseen || old > d+1:
					g.dist[v], g.pred[v] = d+1, u
					push(d+1, v)
				case old == d+1 && g.pred[v] >= 0 && g.urns[u] < g.urns[g.pred[v]]:
					g.pred[v] = u
				}
			}
		}
	}
	for i := range g.urns {
		if g.pred[i] >= 0 {
			g.order = append(g.order, g.urns[i])
		}
	}
	return g, nil
}

func extendPath(p []catalog.URN, u catalog.URN) []catalog.URN {
	out := make([]catalog.URN, len(p), len(p)+1)
	copy(out, p)
	return append(out, u)
}

// concatPath joins p (ending at x) and q (starting at x).
func concatPath(p, q []catalog.URN) []catalog.URN {
	out := make([]catalog.URN, 0, len(p)+len(q)-1)
	out = append(out, p...)
	return append(out, q[1:]...)
}

func intersects(a, b map[catalog.URN]bool) bool {
	if len(b) < len(a) {
		a, b = b, a
	}
	for u := range a {
		if b[u] {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[catalog.URN]V) []catalog.URN {
	out := make([]catalog.URN, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
