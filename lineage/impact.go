package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/watershed-data/watershed/catalog"
)

// ImpactQuery asks what lies downstream of one asset.
type ImpactQuery struct {
	URN catalog.URN
	// Depth bounds the hops; 0 means unbounded.
	Depth int
	// Limit bounds the impacted assets reported (the nearest first); 0
	// means no bound.
	Limit int
	// Totals asks for ImpactReport.Totals: how many assets are impacted in
	// all, per group, whatever Limit leaves out. For a dataset-level root
	// on a store that is a Counter this costs a walk of the whole closure
	// but allocates only for the reported page.
	Totals bool
}

// ImpactReport is everything downstream of an asset, grouped by kind.
type ImpactReport struct {
	Root catalog.Entity
	// Level is LevelField when the root is a FIELD or COLUMN (only what
	// derives from it is reported), LevelDataset otherwise.
	Level          Level
	ConsumerGroups []Impacted
	Connectors     []Impacted
	Jobs           []Impacted
	// Datasets are tables, databases and other datasets: the sinks.
	Datasets []Impacted
	Topics   []Impacted
	// Fields are the fields and columns deriving from a field root.
	Fields []Impacted
	// Other holds impacted assets of any other kind.
	Other []Impacted
	// Truncated says Limit left impacted assets out.
	Truncated bool
	// Totals counts every impacted asset per group (Limit aside); nil
	// unless ImpactQuery.Totals asked for it.
	Totals *ImpactTotals
	// Seq is the change-log position the answer reflects.
	Seq uint64
}

// ImpactTotals counts the impacted assets of an ImpactReport's groups over
// the whole answer, before Limit.
type ImpactTotals struct {
	ConsumerGroups, Connectors, Jobs, Datasets, Topics, Fields, Other int
	// All is the sum of the groups.
	All int
}

// add counts n assets of kind k in their group.
func (t *ImpactTotals) add(k catalog.Kind, n int) {
	switch k {
	case catalog.KindConsumerGroup:
		t.ConsumerGroups += n
	case catalog.KindConnector:
		t.Connectors += n
	case catalog.KindJob:
		t.Jobs += n
	case catalog.KindTable, catalog.KindDataset, catalog.KindDatabase:
		t.Datasets += n
	case catalog.KindTopic:
		t.Topics += n
	case catalog.KindField, catalog.KindColumn:
		t.Fields += n
	default:
		t.Other += n
	}
	t.All += n
}

// All returns every impacted asset, nearest first.
func (r ImpactReport) All() []Impacted {
	var out []Impacted
	for _, g := range [][]Impacted{r.ConsumerGroups, r.Connectors, r.Jobs, r.Datasets, r.Topics, r.Fields, r.Other} {
		out = append(out, g...)
	}
	sortImpacted(out)
	return out
}

// Impacted is one asset downstream of the root.
type Impacted struct {
	Asset catalog.Entity
	// Hops is the number of lineage steps from the root.
	Hops int
	// Path is one shortest explaining path, the root first and this asset
	// last. In a field-level answer a path may begin with the root's
	// CONTAINS step to the nested field that derives, and the step into a
	// dataset is from the field of it that derives from the root.
	Path []catalog.URN
	// Exact says field lineage shows the asset derives from a field root.
	// It is false for an asset that only reads (or lies downstream of a
	// reader of) a dataset holding such a field, when no field lineage
	// says which fields that reader uses. Dataset-level answers are exact.
	Exact bool
	// Fields are, in a field-level answer, the asset's fields that derive
	// from the root (for a dataset) or that it reads (for a consumer,
	// connector or job), sorted.
	Fields []catalog.URN
	// State and Lag are a consumer group's state and total lag as last
	// crawled (live readings); empty and nil otherwise.
	State string
	Lag   *int64
}

// Impact answers what lies downstream of q.URN, on one consistent snapshot.
//
// For a dataset-level root (topic, table, connector, job…) it is the
// downstream closure over the flow edges, never entering fields; pair edges
// make a multi-topic connector pass-through, so a topic's impact holds its
// own tables only. For a FIELD or COLUMN root it is only what derives from
// that field (and from its nested fields):
//
//  1. the fields and columns reached over field-level DERIVES edges;
//  2. the datasets holding them, and the connectors and jobs that carry
//     one of those field edges (the edge's Via, else the process between
//     the two datasets) — exact;
//  3. the readers of a dataset holding the root or a derived field that
//     have no field lineage out of it (consumer groups; jobs and
//     connectors that map no field of it), since nothing says which
//     fields they use, and what lies downstream of them — not exact.
//
// Readers that map fields of the dataset, none of them deriving from the
// root, are not impacted.
func Impact(ctx context.Context, g Graph, q ImpactQuery) (ImpactReport, error) {
	if err := q.URN.Validate(); err != nil {
		return ImpactReport{}, err
	}
	if q.Depth < 0 || q.Limit < 0 {
		return ImpactReport{}, catalog.Errorf(catalog.Invalid, "impact: depth and limit must not be negative")
	}
	return consistently(ctx, g, func(r *snapshot) (ImpactReport, error) { return impact(ctx, r, q) })
}

func impact(ctx context.Context, r *snapshot, q ImpactQuery) (ImpactReport, error) {
	var items []*item
	var totals *ImpactTotals
	truncated := false
	level := LevelDataset
	if isFieldKind(q.URN.Kind()) {
		level = LevelField
		fa, err := analyzeFields(ctx, r, []catalog.URN{q.URN}, true, q.Depth)
		if err != nil {
			return ImpactReport{}, err
		}
		items = fa.list()
		if q.Totals {
			totals = &ImpactTotals{}
			for _, it := range items {
				totals.add(it.urn.Kind(), 1)
			}
		}
	} else if q.Totals {
		// The whole closure counted, and the nearest Limit of it: those
		// come first in breadth-first order, so they are among the first
		// Limit of their kind.
		page := q.Limit
		if page == 0 {
			page = math.MaxInt32
		}
		tr, counts, err := r.countTraverse(ctx, catalog.TraverseQuery{Start: q.URN, Direction: catalog.Downstream, MaxDepth: q.Depth}, page)
		if err != nil {
			return ImpactReport{}, err
		}
		totals = &ImpactTotals{}
		all := 0
		for k, n := range counts {
			all += n
			if !isFieldKind(k) {
				totals.add(k, n)
			}
		}
		nodes := tr.Nodes
		if q.Limit > 0 && len(nodes) > q.Limit {
			nodes = nodes[:q.Limit]
		}
		truncated = q.Limit > 0 && all > q.Limit
		items = datasetItems(q.URN, nodes)
	} else {
		// Breadth-first order is nearest first, so the store may stop at
		// the limit; paths are built for what is reported only.
		tr, err := r.traverse(ctx, catalog.TraverseQuery{Start: q.URN, Direction: catalog.Downstream, MaxDepth: q.Depth, Limit: q.Limit})
		if err != nil {
			return ImpactReport{}, err
		}
		truncated = tr.Truncated
		items = datasetItems(q.URN, tr.Nodes)
	}
	out := ImpactReport{Level: level, Seq: r.seq, Truncated: truncated, Totals: totals}
	sort.SliceStable(items, func(i, j int) bool { return itemLess(items[i], items[j]) })
	if q.Limit > 0 && len(items) > q.Limit {
		items, out.Truncated = items[:q.Limit], true
	}
	urns := make([]catalog.URN, 0, len(items)+1)
	urns = append(urns, q.URN)
	for _, it := range items {
		urns = append(urns, it.urn)
	}
	ents, err := r.entities(ctx, urns)
	if err != nil {
		return ImpactReport{}, err
	}
	out.Root = ents[0]
	for i, it := range items {
		im := it.impacted(ents[i+1])
		switch it.urn.Kind() {
		case catalog.KindConsumerGroup:
			out.ConsumerGroups = append(out.ConsumerGroups, im)
		case catalog.KindConnector:
			out.Connectors = append(out.Connectors, im)
		case catalog.KindJob:
			out.Jobs = append(out.Jobs, im)
		case catalog.KindTable, catalog.KindDataset, catalog.KindDatabase:
			out.Datasets = append(out.Datasets, im)
		case catalog.KindTopic:
			out.Topics = append(out.Topics, im)
		case catalog.KindField, catalog.KindColumn:
			out.Fields = append(out.Fields, im)
		default:
			out.Other = append(out.Other, im)
		}
	}
	return out, nil
}

// datasetItems are the impacted assets of a dataset-level walk from root
// that reached nodes in breadth-first order (each one's Via predecessor
// before it).
func datasetItems(root catalog.URN, nodes []catalog.Reached) []*item {
	via := make(map[catalog.URN]catalog.EdgeKey, len(nodes))
	for _, n := range nodes {
		via[n.URN] = n.Via
	}
	var items []*item
	for _, n := range nodes {
		if isFieldKind(n.Kind) {
			continue // dataset level (see Level.nodeKinds)
		}
		items = append(items, &item{urn: n.URN, hops: n.Depth, path: pathBack(root, n.URN, n.Depth, via), exact: true})
	}
	return items
}

// pathBack follows the walk's Via edges from u back to the root.
func pathBack(root, u catalog.URN, depth int, via map[catalog.URN]catalog.EdgeKey) []catalog.URN {
	path := make([]catalog.URN, depth+1)
	path[depth] = u
	for i := depth; i > 0; i-- {
		path[i-1] = via[path[i]].From
	}
	return path
}

func sortImpacted(s []Impacted) {
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Hops != s[j].Hops {
			return s[i].Hops < s[j].Hops
		}
		return s[i].Asset.URN < s[j].Asset.URN
	})
}

// item is an impacted asset being assembled.
type item struct {
	urn   catalog.URN
	hops  int
	path  []catalog.URN
	exact bool
	// fields are the asset's own fields that derive from a start (a
	// dataset) or the fields it reads (a process), as field lineage says;
	// mayFields those it may read, through a reader without field lineage.
	fields, mayFields map[catalog.URN]bool
	// reads and mayRead are the indexes of the starts the asset derives
	// from through field lineage, and those it may depend on through a
	// reader without field lineage.
	reads, mayRead map[int]bool
}

func itemLess(a, b *item) bool {
	if a.hops != b.hops {
		return a.hops < b.hops
	}
	return a.urn < b.urn
}

func (it *item) impacted(e catalog.Entity) Impacted {
	if e.URN == "" {
		e = catalog.Entity{URN: it.urn, Kind: it.urn.Kind(), Name: it.urn.DisplayName()}
	}
	fields := it.fields
	if !it.exact {
		fields = it.mayFields
	}
	im := Impacted{Asset: e, Hops: it.hops, Path: it.path, Exact: it.exact, Fields: sortedURNs(fields)}
	if it.urn.Kind() == catalog.KindConsumerGroup {
		im.State, _ = e.Live["state"].(string)
		im.Lag = liveInt(e.Live["totalLag"])
	}
	return im
}

// liveInt reads a live reading as an integer.
func liveInt(v any) *int64 {
	var n int64
	switch x := v.(type) {
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return nil
		}
		n = i
	case float64:
		if x != math.Trunc(x) {
			return nil
		}
		n = int64(x)
	case int:
		n = int64(x)
	case int64:
		n = x
	default:
		return nil
	}
	return &n
}

func sortedURNs(set map[catalog.URN]bool) []catalog.URN {
	out := make([]catalog.URN, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// fieldAnalysis is the field-level lineage downstream of a set of start
// fields, and what it implies for datasets and their readers.
type fieldAnalysis struct {
	starts []catalog.URN
	index  map[catalog.URN]int // start → its index
	depth  int
	// hop and path of every field in the analysis (starts at 0).
	hop  map[catalog.URN]int
	path map[catalog.URN][]catalog.URN
	// reachedBy lists, per field, the starts it derives from (itself
	// included for a start).
	reachedBy map[catalog.URN]map[int]bool
	edges     []catalog.EdgeKey // field-level DERIVES edges of the walk
	parent    map[catalog.URN]catalog.URN
	via       map[catalog.EdgeKey][]catalog.URN
	views     map[catalog.URN]*datasetView
	items     map[catalog.URN]*item
}

// process kinds read one dataset and write others.
func isProcess(k catalog.Kind) bool {
	return k == catalog.KindConsumerGroup || k == catalog.KindConnector || k == catalog.KindJob
}

// analyzeFields walks field lineage downstream of starts (and, with
// nested, of the fields nested in them) and collects the impacted assets
// (see Impact). A depth > 0 bounds the hops.
func analyzeFields(ctx context.Context, r *snapshot, starts []catalog.URN, nested bool, depth int) (*fieldAnalysis, error) {
	fa := &fieldAnalysis{
		index: map[catalog.URN]int{}, depth: depth, hop: map[catalog.URN]int{}, path: map[catalog.URN][]catalog.URN{},
		reachedBy: map[catalog.URN]map[int]bool{}, parent: map[catalog.URN]catalog.URN{},
		via: map[catalog.EdgeKey][]catalog.URN{}, views: map[catalog.URN]*datasetView{}, items: map[catalog.URN]*item{},
	}
	prefix := map[catalog.URN][]catalog.URN{} // start → the path from the root to it
	for _, s := range starts {
		fa.addStart(s, prefix, nil)
	}
	if nested {
		// A change to a record field is a change to the fields nested in it.
		root := starts[0]
		tr, err := r.traverse(ctx, catalog.TraverseQuery{Start: root, Direction: catalog.Downstream,
			EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: fieldKinds})
		if err != nil {
			return nil, err
		}
		paths := tr.Paths(root, catalog.Downstream)
		for _, n := range tr.Nodes {
			fa.addStart(n.URN, prefix, paths[n.URN][:len(paths[n.URN])-1])
		}
	}
	// 1. The field-level walk.
	walk, err := r.traverse(ctx, catalog.TraverseQuery{Starts: fa.starts, Direction: catalog.Downstream, MaxDepth: depth,
		EdgeKinds: []catalog.EdgeKind{catalog.EdgeDerives}, NodeKinds: fieldKinds, Edges: true})
	if err != nil {
		return nil, err
	}
	for _, s := range fa.starts {
		fa.hop[s] = 0
		fa.path[s] = append(append([]catalog.URN{}, prefix[s]...), s)
	}
	for i, s := range fa.starts {
		fa.reachedBy[s] = map[int]bool{i: true}
	}
	walkPaths := walk.Paths(fa.starts[0], catalog.Downstream)
	for _, n := range walk.Nodes {
		p := walkPaths[n.URN]
		fa.hop[n.URN] = n.Depth
		fa.path[n.URN] = append(append([]catalog.URN{}, prefix[p[0]]...), p...)
	}
	fa.edges = walk.Edges
	fa.attribute()

	// 2. Where each field lives: its CONTAINS ancestors.
	fields := make([]catalog.URN, 0, len(fa.hop))
	for f := range fa.hop {
		fields = append(fields, f)
	}
	sort.Slice(fields, func(i, j int) bool { return fields[i] < fields[j] })
	if err := fa.readParents(ctx, r, fields); err != nil {
		return nil, err
	}
	byContainer := map[catalog.URN][]catalog.URN{}
	for _, f := range fields {
		if d := fa.container(f); d != "" {
			byContainer[d] = append(byContainer[d], f)
		}
	}
	// 3. Per dataset: its readers and outputs, and the field edges leaving
	// it, to tell readers with field lineage from those without.
	ds := make([]*datasetView, 0, len(byContainer))
	for d, fs := range byContainer {
		v, err := fa.viewDataset(ctx, r, d, fs)
		if err != nil {
			return nil, err
		}
		ds = append(ds, v)
		fa.views[d] = v
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].urn < ds[j].urn })
	var heads []catalog.URN
	for _, v := range ds {
		for _, k := range v.fieldOut {
			if _, ok := fa.parent[k.To]; !ok {
				heads = append(heads, k.To)
			}
		}
	}
	if err := fa.readParents(ctx, r, heads); err != nil {
		return nil, err
	}
	keys := append([]catalog.EdgeKey{}, fa.edges...)
	for _, v := range ds {
		keys = append(keys, v.fieldOut...)
		keys = append(keys, v.out...)
	}
	full, err := r.edges(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, e := range full {
		if via := e.Via(); len(via) > 0 {
			fa.via[e.EdgeKey] = via
		}
	}
	// 4. The impacted assets.
	readersOf := map[catalog.URN]*datasetView{}
	for _, v := range ds {
		readersOf[v.urn] = v
	}
	for _, n := range walk.Nodes {
		f := n.URN
		fa.add(f, fa.hop[f], fa.path[f], true, nil, fa.reachedBy[f], nil)
		if d := fa.container(f); d != "" {
			fa.add(d, fa.hop[f], appendPath(fa.path[f], d), true, []catalog.URN{f}, fa.reachedBy[f], nil)
		}
	}
	for _, k := range fa.edges {
		da, db := fa.container(k.From), fa.container(k.To)
		if da == "" || da == db {
			continue
		}
		for _, x := range fa.mediators(k, readersOf[da], db) {
			fa.add(x, fa.hop[k.From]+1, appendPath(fa.path[k.From], x), true, []catalog.URN{k.From}, fa.reachedBy[k.From], nil)
		}
	}
	for _, v := range ds {
		if err := fa.coarse(ctx, r, v); err != nil {
			return nil, err
		}
	}
	// The starts are not downstream of themselves.
	for _, s := range fa.starts {
		delete(fa.items, s)
	}
	if depth > 0 {
		for u, it := range fa.items {
			if it.hops > depth {
				delete(fa.items, u)
			}
		}
	}
	return fa, nil
}

func (fa *fieldAnalysis) addStart(s catalog.URN, prefix map[catalog.URN][]catalog.URN, before []catalog.URN) {
	if _, ok := fa.index[s]; ok {
		return
	}
	fa.index[s] = len(fa.starts)
	fa.starts = append(fa.starts, s)
	prefix[s] = before
}

// attribute computes which starts each reached field derives from.
func (fa *fieldAnalysis) attribute() {
	out := map[catalog.URN][]catalog.URN{}
	for _, k := range fa.edges {
		out[k.From] = append(out[k.From], k.To)
	}
	for i, s := range fa.starts {
		if len(out[s]) == 0 {
			continue
		}
		seen := map[catalog.URN]bool{s: true}
		queue := []catalog.URN{s}
		for len(queue) > 0 {
			cur := queue[0]
			queue = queue[1:]
			for _, next := range out[cur] {
				if seen[next] {
					continue
				}
				seen[next] = true
				queue = append(queue, next)
				if fa.reachedBy[next] == nil {
					fa.reachedBy[next] = map[int]bool{}
				}
				fa.reachedBy[next][i] = true
			}
		}
	}
}

// readParents records the CONTAINS parents of fields and of their
// ancestors, with one upstream walk.
func (fa *fieldAnalysis) readParents(ctx context.Context, r *snapshot, fields []catalog.URN) error {
	if len(fields) == 0 {
		return nil
	}
	tr, err := r.traverse(ctx, catalog.TraverseQuery{Starts: fields, Direction: catalog.Upstream,
		EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, Edges: true})
	if err != nil {
		return err
	}
	for _, k := range tr.Edges {
		if _, ok := fa.parent[k.To]; !ok || k.From < fa.parent[k.To] {
			fa.parent[k.To] = k.From
		}
	}
	for _, f := range fields {
		if _, ok := fa.parent[f]; !ok {
			fa.parent[f] = "" // known to have none
		}
	}
	return nil
}

// container returns the dataset (topic, table, dataset) holding field f,
// or "" when the catalog does not say.
func (fa *fieldAnalysis) container(f catalog.URN) catalog.URN {
	cur := f
	for i := 0; i < 10000; i++ {
		p := fa.parent[cur]
		if p == "" {
			return ""
		}
		if !isFieldKind(p.Kind()) {
			return p
		}
		cur = p
	}
	return ""
}

// datasetView is what the analysis knows of one dataset holding fields of
// interest.
type datasetView struct {
	urn    catalog.URN
	fields []catalog.URN // the fields of interest it holds
	// out are its dataset-level edges (to readers and to datasets);
	// fieldOut the field-level edges leaving any of its fields.
	out, fieldOut []catalog.EdgeKey
	readers       []catalog.URN
	// outputs lists, per reader, the datasets it writes.
	outputs map[catalog.URN]map[catalog.URN]bool
}

func (fa *fieldAnalysis) viewDataset(ctx context.Context, r *snapshot, d catalog.URN, fields []catalog.URN) (*datasetView, error) {
	v := &datasetView{urn: d, fields: fields, outputs: map[catalog.URN]map[catalog.URN]bool{}}
	next, err := r.traverse(ctx, catalog.TraverseQuery{Start: d, Direction: catalog.Downstream, MaxDepth: 1, NodeKinds: datasetKinds(), Edges: true})
	if err != nil {
		return nil, err
	}
	v.out = next.Edges
	for _, n := range next.Nodes {
		if !isProcess(n.Kind) {
			continue
		}
		v.readers = append(v.readers, n.URN)
		// Everything the reader writes, as a walk started at it sees it.
		outs, err := r.traverse(ctx, catalog.TraverseQuery{Start: n.URN, Direction: catalog.Downstream, MaxDepth: 1, NodeKinds: datasetKinds()})
		if err != nil {
			return nil, err
		}
		set := map[catalog.URN]bool{}
		for _, o := range outs.Nodes {
			set[o.URN] = true
		}
		v.outputs[n.URN] = set
	}
	own, err := r.traverse(ctx, catalog.TraverseQuery{Start: d, Direction: catalog.Downstream,
		EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: fieldKinds})
	if err != nil {
		return nil, err
	}
	if len(own.Nodes) > 0 {
		all := make([]catalog.URN, len(own.Nodes))
		for i, n := range own.Nodes {
			all[i] = n.URN
		}
		fo, err := r.traverse(ctx, catalog.TraverseQuery{Starts: all, Direction: catalog.Downstream, MaxDepth: 1,
			EdgeKinds: []catalog.EdgeKind{catalog.EdgeDerives}, NodeKinds: fieldKinds, Edges: true})
		if err != nil {
			return nil, err
		}
		v.fieldOut = fo.Edges
	}
	return v, nil
}

// mediators returns the processes that carry field edge k out of the
// dataset v into dataset db: the edge's Via when it names any, else the
// readers of v that write db.
func (fa *fieldAnalysis) mediators(k catalog.EdgeKey, v *datasetView, db catalog.URN) []catalog.URN {
	if via := fa.via[k]; len(via) > 0 {
		return via
	}
	if v == nil || db == "" {
		return nil
	}
	var out []catalog.URN
	for _, x := range v.readers {
		if v.outputs[x][db] {
			out = append(out, x)
		}
	}
	return out
}

// mapped reports whether reader x carries any field edge out of v.
func (fa *fieldAnalysis) mapped(x catalog.URN, v *datasetView) bool {
	for _, k := range v.fieldOut {
		for _, m := range fa.mediators(k, v, fa.container(k.To)) {
			if m == x {
				return true
			}
		}
	}
	return false
}

// mappedDirect reports whether a field edge leads from v into dataset t
// with no process between them.
func (fa *fieldAnalysis) mappedDirect(t catalog.URN, v *datasetView) bool {
	for _, k := range v.fieldOut {
		if fa.container(k.To) == t {
			return true
		}
	}
	return false
}

// coarse adds the readers of v without field lineage out of it, and what
// lies downstream of them, as possibly impacted.
func (fa *fieldAnalysis) coarse(ctx context.Context, r *snapshot, v *datasetView) error {
	// The nearest field of interest in v says how far v is from the root.
	best := v.fields[0]
	for _, f := range v.fields[1:] {
		if fa.hop[f] < fa.hop[best] || (fa.hop[f] == fa.hop[best] && f < best) {
			best = f
		}
	}
	hopD, pathD := fa.hop[best], appendPath(fa.path[best], v.urn)
	may := map[int]bool{}
	for _, f := range v.fields {
		for i := range fa.reachedBy[f] {
			may[i] = true
		}
	}
	pairs := map[catalog.URN][]catalog.URN{} // reader → the datasets its pair edges from v reach
	var direct []catalog.URN
	for _, k := range v.out {
		if k.From != v.urn || isProcess(k.To.Kind()) {
			continue
		}
		if via := fa.via[k]; len(via) > 0 {
			for _, x := range via {
				pairs[x] = append(pairs[x], k.To)
			}
			continue
		}
		if !fa.mappedDirect(k.To, v) {
			direct = append(direct, k.To)
		}
	}
	for _, x := range v.readers {
		if fa.mapped(x, v) {
			continue
		}
		hx, px := hopD+1, appendPath(pathD, x)
		fa.add(x, hx, px, false, v.fields, nil, may)
		outs := pairs[x]
		if len(outs) == 0 {
			for o := range v.outputs[x] {
				outs = append(outs, o)
			}
		}
		if err := fa.downstream(ctx, r, outs, hx, px, may); err != nil {
			return err
		}
	}
	if len(direct) > 0 {
		return fa.downstream(ctx, r, direct, hopD, pathD, may)
	}
	return nil
}

// downstream adds datasets outs, one hop past the asset at hops/path, and
// their dataset-level closure, as possibly impacted.
func (fa *fieldAnalysis) downstream(ctx context.Context, r *snapshot, outs []catalog.URN, hops int, path []catalog.URN, may map[int]bool) error {
	if len(outs) == 0 || (fa.depth > 0 && hops+1 > fa.depth) {
		return nil
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i] < outs[j] })
	for _, o := range outs {
		fa.add(o, hops+1, appendPath(path, o), false, nil, nil, may)
	}
	max := 0
	if fa.depth > 0 {
		max = fa.depth - hops - 1
		if max == 0 {
			return nil
		}
	}
	tr, err := r.traverse(ctx, catalog.TraverseQuery{Starts: outs, Direction: catalog.Downstream, MaxDepth: max})
	if err != nil {
		return err
	}
	paths := tr.Paths(outs[0], catalog.Downstream)
	for _, n := range tr.Nodes {
		if isFieldKind(n.Kind) {
			continue // dataset level (see Level.nodeKinds)
		}
		p := paths[n.URN]
		if len(p) == 0 {
			continue
		}
		full := append(appendPath(path, p[0]), p[1:]...)
		fa.add(n.URN, hops+1+n.Depth, full, false, nil, nil, may)
	}
	return nil
}

// add records an impacted asset, keeping an exact explanation over a
// possible one and then the shortest.
func (fa *fieldAnalysis) add(u catalog.URN, hops int, path []catalog.URN, exact bool, fields []catalog.URN, reads, mayRead map[int]bool) {
	it := fa.items[u]
	if it == nil {
		it = &item{urn: u, hops: hops, path: path, exact: exact, fields: map[catalog.URN]bool{}, mayFields: map[catalog.URN]bool{},
			reads: map[int]bool{}, mayRead: map[int]bool{}}
		fa.items[u] = it
	} else if (exact && !it.exact) || (exact == it.exact && (hops < it.hops || (hops == it.hops && pathLess(path, it.path)))) {
		it.hops, it.path, it.exact = hops, path, exact
	}
	if !isFieldKind(u.Kind()) {
		set := it.mayFields
		if exact {
			set = it.fields
		}
		for _, f := range fields {
			set[f] = true
		}
	}
	for i := range reads {
		it.reads[i] = true
	}
	for i := range mayRead {
		it.mayRead[i] = true
	}
}

func pathLess(a, b []catalog.URN) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// list returns the impacted assets, nearest first.
func (fa *fieldAnalysis) list() []*item {
	out := make([]*item, 0, len(fa.items))
	for _, it := range fa.items {
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return itemLess(out[i], out[j]) })
	return out
}

func appendPath(p []catalog.URN, u catalog.URN) []catalog.URN {
	out := make([]catalog.URN, len(p), len(p)+1)
	copy(out, p)
	return append(out, u)
}

// String renders an impacted asset for logs and test failures.
func (im Impacted) String() string {
	exact := ""
	if !im.Exact {
		exact = "~"
	}
	return fmt.Sprintf("%s%s@%d", exact, im.Asset.URN, im.Hops)
}
