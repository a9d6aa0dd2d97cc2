package lineage

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Graph is what lineage reads of the catalog: a subset of catalog.Reader,
// which every store satisfies.
type Graph interface {
	Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error)
	Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error)
	EdgesByKey(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error)
	Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error)
	LastSeq(ctx context.Context) (uint64, error)
}

// Level says which nodes a walk may enter.
type Level string

// Levels.
const (
	// LevelAuto picks LevelField for a walk that starts at a FIELD or
	// COLUMN and LevelDataset otherwise, when the walk follows the flow
	// edges; with explicit EdgeKinds it means LevelAll.
	LevelAuto Level = ""
	// LevelDataset never enters FIELD or COLUMN nodes: topics, tables,
	// datasets and the connectors, jobs and groups between them.
	LevelDataset Level = "DATASET"
	// LevelField enters only FIELD and COLUMN nodes (field-level lineage).
	LevelField Level = "FIELD"
	// LevelAll enters every node the followed edges lead to.
	LevelAll Level = "ALL"
)

// Valid reports whether l is one of the levels.
func (l Level) Valid() bool {
	switch l {
	case LevelAuto, LevelDataset, LevelField, LevelAll:
		return true
	}
	return false
}

// Query describes a lineage walk.
type Query struct {
	// Starts are where the walk begins, all at depth 0; at least one. The
	// first is the Result's Root.
	Starts    []catalog.URN
	Direction catalog.Direction
	// Depth bounds the hops from the starts; 0 means unbounded.
	Depth int
	// EdgeKinds restricts the followed edges; empty means the flow kinds.
	EdgeKinds []catalog.EdgeKind
	// Level restricts the nodes the walk enters (see Level).
	Level Level
	// Kinds, when set, reports only nodes of these kinds. The walk still
	// crosses the others, so a path may pass through unreported nodes.
	Kinds []catalog.Kind
	// At walks the graph as it was at that time; zero means now.
	At time.Time
	// Limit bounds the reported nodes; 0 means no bound. When it cuts the
	// result, Result.Truncated is set.
	Limit int
	// Paths asks for one shortest explaining path per node.
	Paths bool
	// Edges asks for the full edges (claims with provenance, masking,
	// block list, alive intervals) between the root, the reported nodes
	// and the nodes on their paths.
	Edges bool
	// Assets asks for the entity of the root and of every reported node.
	Assets bool
}

// Result is a lineage walk's answer.
type Result struct {
	// Root is the first start's entity (when Query.Assets).
	Root      catalog.Entity
	Direction catalog.Direction
	// Level is the level the walk used (never LevelAuto).
	Level Level
	// Nodes are the reported nodes in breadth-first order, the starts
	// excluded.
	Nodes []Node
	// Edges are the followed edges among the starts and the nodes the walk
	// reached (when Query.Edges), sorted by key.
	Edges []catalog.Edge
	// Truncated says Query.Limit cut the result: nodes were left out.
	Truncated bool
	// Seq is the change-log position the answer reflects: the walk saw
	// exactly the graph after change Seq.
	Seq uint64
}

// Node is one reached asset.
type Node struct {
	URN  catalog.URN
	Kind catalog.Kind
	// Depth is the number of hops from the nearest start.
	Depth int
	// Path is one shortest path from a start to the node, start first
	// (when Query.Paths).
	Path []catalog.URN
	// Asset is the node's entity (when Query.Assets, else nil). It is the
	// entity as it is now, also for a walk into the past: a tombstone says
	// since when the asset is gone.
	Asset *catalog.Entity
}

// fieldKinds are the nodes of field-level lineage.
var fieldKinds = []catalog.Kind{catalog.KindField, catalog.KindColumn}

// isFieldKind reports whether k is a field-level kind.
func isFieldKind(k catalog.Kind) bool { return k == catalog.KindField || k == catalog.KindColumn }

// datasetKinds returns every kind but the field-level ones.
func datasetKinds() []catalog.Kind {
	var out []catalog.Kind
	for _, k := range catalog.Kinds() {
		if !isFieldKind(k) {
			out = append(out, k)
		}
	}
	return out
}

// resolveLevel turns LevelAuto into the level a walk from start uses.
func resolveLevel(l Level, start catalog.URN, explicitEdges bool) Level {
	if l != LevelAuto {
		return l
	}
	if explicitEdges {
		return LevelAll
	}
	if isFieldKind(start.Kind()) {
		return LevelField
	}
	return LevelDataset
}

// nodeKinds returns the TraverseQuery.NodeKinds of level l. A dataset-level
// walk over the flow edges needs none: the only flow edges that touch
// fields are field-level DERIVES edges, which no dataset has, so it never
// reaches a field; fields reached otherwise are left out of the answer
// (see report). Leaving the filter out spares the store a kind test per
// edge on the walks that matter most, impact closures of hubs.
func (l Level) nodeKinds(explicitEdges bool) []catalog.Kind {
	switch {
	case l == LevelField:
		return fieldKinds
	case l == LevelDataset && explicitEdges:
		return datasetKinds()
	}
	return nil
}

// reports says whether a walk at level l reports a node of kind k.
func (l Level) reports(k catalog.Kind) bool {
	return l != LevelDataset || !isFieldKind(k)
}

// Traverse walks lineage from q.Starts on one consistent snapshot of the
// catalog. It is cycle-safe, reports each node once at its smallest depth,
// and sets Truncated when q.Limit left nodes out. Unknown starts are
// NotFound; malformed queries are Invalid.
//
// The walk itself is one catalog Traverse, so its nodes, depths, paths and
// edge keys are exactly the graph at Result.Seq. Entities and full edges
// are read right after, in one call each; should the catalog change in
// between, the whole answer is read again (up to three times), so they too
// describe the graph at Seq unless the catalog changes continuously.
func Traverse(ctx context.Context, g Graph, q Query) (Result, error) {
	if len(q.Starts) == 0 {
		return Result{}, catalog.Errorf(catalog.Invalid, "lineage: no start")
	}
	if q.Direction != catalog.Downstream && q.Direction != catalog.Upstream {
		return Result{}, catalog.Errorf(catalog.Invalid, "lineage: direction must be downstream or upstream")
	}
	if q.Depth < 0 || q.Limit < 0 {
		return Result{}, catalog.Errorf(catalog.Invalid, "lineage: depth and limit must not be negative")
	}
	if !q.Level.Valid() {
		return Result{}, catalog.Errorf(catalog.Invalid, "lineage: unknown level %q", q.Level)
	}
	for _, k := range q.Kinds {
		if !k.Valid() {
			return Result{}, catalog.Errorf(catalog.Invalid, "lineage: unknown kind %q", k)
		}
	}
	return consistently(ctx, g, func(r *snapshot) (Result, error) { return traverse(ctx, r, q) })
}

func traverse(ctx context.Context, r *snapshot, q Query) (Result, error) {
	level := resolveLevel(q.Level, q.Starts[0], len(q.EdgeKinds) > 0)
	tq := catalog.TraverseQuery{
		Starts: q.Starts, Direction: q.Direction, MaxDepth: q.Depth, EdgeKinds: q.EdgeKinds,
		At: q.At, Edges: q.Edges, NodeKinds: level.nodeKinds(len(q.EdgeKinds) > 0),
		// Via makes paths and, for a filtered or cut result, the edges among
		// the reported nodes.
		NoVia: !q.Paths && !q.Edges,
	}
	if len(q.Kinds) == 0 {
		// Every node the store returns is reported (a dataset-level walk
		// reaches no field), so the store may stop at the limit.
		tq.Limit = q.Limit
	}
	tr, err := r.traverse(ctx, tq)
	if err != nil {
		return Result{}, err
	}
	out := Result{Direction: q.Direction, Level: level, Truncated: tr.Truncated, Seq: r.seq}
	var paths map[catalog.URN][]catalog.URN
	if q.Paths {
		paths = tr.Paths(q.Starts[0], q.Direction)
	}
	report := kindSet(q.Kinds)
	out.Nodes = make([]Node, 0, len(tr.Nodes))
	for _, n := range tr.Nodes {
		if (report != nil && !report[n.Kind]) || !level.reports(n.Kind) {
			continue
		}
		if q.Limit > 0 && len(out.Nodes) == q.Limit {
			out.Truncated = true
			break
		}
		out.Nodes = append(out.Nodes, Node{URN: n.URN, Kind: n.Kind, Depth: n.Depth, Path: paths[n.URN]})
	}
	if q.Edges {
		keys := tr.Edges
		if report != nil || len(out.Nodes) < len(tr.Nodes) {
			keys = edgesAmong(tr, out.Nodes, q.Starts, q.Direction)
		}
		if out.Edges, err = r.edges(ctx, keys); err != nil {
			return Result{}, err
		}
	}
	if q.Assets {
		urns := make([]catalog.URN, 0, len(out.Nodes)+1)
		urns = append(urns, q.Starts[0])
		for _, n := range out.Nodes {
			urns = append(urns, n.URN)
		}
		ents, err := r.entities(ctx, urns)
		if err != nil {
			return Result{}, err
		}
		out.Root = ents[0]
		for i := range out.Nodes {
			out.Nodes[i].Asset = &ents[i+1]
		}
	}
	return out, nil
}

// edgesAmong keeps the walk's edges whose ends are both starts, reported
// nodes or nodes on a reported node's path, so a filtered or cut result
// still shows how each reported node was reached.
func edgesAmong(tr catalog.Traversal, nodes []Node, starts []catalog.URN, dir catalog.Direction) []catalog.EdgeKey {
	keep := make(map[catalog.URN]bool, len(nodes)+len(starts))
	for _, s := range starts {
		keep[s] = true
	}
	via := make(map[catalog.URN]catalog.EdgeKey, len(tr.Nodes))
	for _, n := range tr.Nodes {
		via[n.URN] = n.Via
	}
	for _, n := range nodes {
		// Mark the node and its Via chain back to a start.
		for cur := n.URN; !keep[cur]; {
			keep[cur] = true
			e, ok := via[cur]
			if !ok {
				break
			}
			if dir == catalog.Upstream {
				cur = e.To
			} else {
				cur = e.From
			}
		}
	}
	var out []catalog.EdgeKey
	for _, k := range tr.Edges {
		if keep[k.From] && keep[k.To] {
			out = append(out, k)
		}
	}
	return out
}

func kindSet(kinds []catalog.Kind) map[catalog.Kind]bool {
	if len(kinds) == 0 {
		return nil
	}
	m := make(map[catalog.Kind]bool, len(kinds))
	for _, k := range kinds {
		m[k] = true
	}
	return m
}

// maxReads bounds how often an answer is read again because the catalog
// changed while it was being read.
const maxReads = 3

// snapshot reads the catalog for one answer and notices when the catalog
// moved on while it did: every walk must report the same position, and the
// head must still be there once the answer is complete.
type snapshot struct {
	g     Graph
	seq   uint64
	walks int
	moved bool
}

func (r *snapshot) traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error) {
	tr, err := r.g.Traverse(ctx, q)
	if err != nil {
		return tr, err
	}
	r.saw(tr.Seq)
	return tr, nil
}

// saw records that a walk answered at change-log position seq.
func (r *snapshot) saw(seq uint64) {
	if r.walks == 0 {
		r.seq = seq
	} else if seq != r.seq {
		r.moved = true
	}
	r.walks++
}

// entities reads the entities of urns, in order; unknown URNs give zero
// entities.
func (r *snapshot) entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	if len(urns) == 0 {
		return nil, nil
	}
	ents, err := r.g.Entities(ctx, urns)
	if err != nil {
		return nil, fmt.Errorf("read assets: %w", err)
	}
	if len(ents) != len(urns) {
		return nil, catalog.Errorf(catalog.Internal, "read assets: asked for %d, got %d", len(urns), len(ents))
	}
	return ents, nil
}

// edges reads the full edges of keys, sorted by key, leaving out keys the
// store no longer knows.
func (r *snapshot) edges(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error) {
	if len(keys) == 0 {
		return []catalog.Edge{}, nil
	}
	all, err := r.g.EdgesByKey(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("read edges: %w", err)
	}
	out := make([]catalog.Edge, 0, len(all))
	for _, e := range all {
		if e.From != "" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return edgeKeyLess(out[i].EdgeKey, out[j].EdgeKey) })
	return out, nil
}

func edgeKeyLess(a, b catalog.EdgeKey) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.To < b.To
}

// consistently runs read until the catalog did not change while it ran,
// at most maxReads times; the last answer stands when it kept changing.
func consistently[T any](ctx context.Context, g Graph, read func(r *snapshot) (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		r := &snapshot{g: g}
		v, err := read(r)
		if err != nil {
			return v, err
		}
		if attempt == maxReads || r.walks == 0 {
			return v, nil
		}
		head, err := g.LastSeq(ctx)
		if err != nil {
			return v, fmt.Errorf("read the change-log position: %w", err)
		}
		if !r.moved && head == r.seq {
			return v, nil
		}
	}
}
