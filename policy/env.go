package policy

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Reader is what checks read from the catalog (catalog.Reader satisfies
// it).
type Reader interface {
	Entity(ctx context.Context, urn catalog.URN) (catalog.Entity, error)
	Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error)
	Edges(ctx context.Context, q catalog.EdgeQuery) ([]catalog.Edge, error)
	Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error)
	Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error)
}

// Hop is an asset a lineage walk reached, with one explaining path in the
// direction data flows (the upstream end first).
type Hop struct {
	URN   catalog.URN
	Kind  catalog.Kind
	Depth int
	Path  []catalog.URN
}

// Lineage answers the lineage questions of the built-ins and the CEL
// helpers. The lineage stage owns those semantics (pass-through
// connectors, what blocks a classification), so main wires these as
// function values over the catalog's walks; this package never imports
// lineage. A nil function answers nothing.
type Lineage struct {
	// Downstream lists what lies within hops hops downstream of urn along
	// flow edges (hops 0: any distance, up to the wiring's bound), nearest
	// first, each with one path from urn.
	Downstream func(ctx context.Context, urn catalog.URN, hops int) ([]Hop, error)
	// Upstream is Downstream against the flow; paths end at urn.
	Upstream func(ctx context.Context, urn catalog.URN, hops int) ([]Hop, error)
	// Reaching lists what lies upstream of urn along flow edges that let
	// classification through (not on an edge's block list, not masked
	// unless the classification passes masking): the assets whose data
	// reaches urn with that classification intact, each with one path
	// ending at urn.
	Reaching func(ctx context.Context, urn catalog.URN, classification string) ([]Hop, error)
}

// Env is what a check evaluates against: the catalog, lineage and the
// clock, with reads remembered for the duration of one evaluation pass (a
// batch of changes or a page of a sweep), so a topic read by forty groups
// is read once.
type Env struct {
	r       Reader
	lineage Lineage
	now     time.Time

	ents    map[catalog.URN]*catalog.Entity // nil value: unknown
	carried map[carryKey]*Carried
	walks   map[walkKey][]Hop
	edges   map[edgeKey][]catalog.Edge
}

type edgeKey struct {
	urn   catalog.URN
	dir   catalog.Direction
	kinds string
}

type carryKey struct {
	urn   catalog.URN
	class string
}

type walkKey struct {
	urn   catalog.URN
	dir   int // 0 down, 1 up, 2 reaching
	hops  int
	class string
}

// NewEnv returns an Env over r. Checks get one from the engine; tests
// build their own.
func NewEnv(r Reader, l Lineage, now time.Time) *Env {
	return &Env{r: r, lineage: l, now: now, ents: map[catalog.URN]*catalog.Entity{}, carried: map[carryKey]*Carried{}, walks: map[walkKey][]Hop{},
		edges: map[edgeKey][]catalog.Edge{}}
}

// Now is the evaluation's clock reading.
func (e *Env) Now() time.Time { return e.now }

// Entity returns urn's entity, or nil when the catalog does not know it.
// Tombstones are returned (check Deleted).
func (e *Env) Entity(ctx context.Context, urn catalog.URN) (*catalog.Entity, error) {
	if ent, ok := e.ents[urn]; ok {
		return ent, nil
	}
	got, err := e.r.Entity(ctx, urn)
	switch {
	case catalog.IsNotFound(err) || catalog.KindOf(err) == catalog.Invalid:
		e.ents[urn] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	e.ents[urn] = &got
	return &got, nil
}

// remember seeds the pass's cache with entities just read (ents[i] is
// urns[i]'s, a zero Entity for an unknown one).
func (e *Env) remember(urns []catalog.URN, ents []catalog.Entity) {
	for i, u := range urns {
		if ents[i].URN == "" {
			e.ents[u] = nil
			continue
		}
		ent := ents[i]
		e.ents[u] = &ent
	}
}

// Entities returns the entities of urns that the catalog knows and that
// are live, in order, remembering every read.
func (e *Env) Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	var missing []catalog.URN
	for _, u := range urns {
		if _, ok := e.ents[u]; !ok {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		got, err := e.r.Entities(ctx, missing)
		if err != nil {
			return nil, err
		}
		for i, u := range missing {
			if got[i].URN == "" {
				e.ents[u] = nil
				continue
			}
			g := got[i]
			e.ents[u] = &g
		}
	}
	out := make([]catalog.Entity, 0, len(urns))
	for _, u := range urns {
		if ent := e.ents[u]; ent != nil && !ent.Deleted() {
			out = append(out, *ent)
		}
	}
	return out, nil
}

// Edges returns the live edges of urn in dir of the given kinds,
// remembered.
func (e *Env) Edges(ctx context.Context, urn catalog.URN, dir catalog.Direction, kinds ...catalog.EdgeKind) ([]catalog.Edge, error) {
	k := edgeKey{urn: urn, dir: dir, kinds: fmt.Sprint(kinds)}
	if edges, ok := e.edges[k]; ok {
		return edges, nil
	}
	edges, err := e.r.Edges(ctx, catalog.EdgeQuery{URN: urn, Direction: dir, Kinds: kinds})
	if catalog.IsNotFound(err) {
		edges, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.edges[k] = edges
	return edges, nil
}

// Neighbors returns the live entities at the other end of urn's edges in
// dir of the given kinds, sorted by URN.
func (e *Env) Neighbors(ctx context.Context, urn catalog.URN, dir catalog.Direction, kinds ...catalog.EdgeKind) ([]catalog.Entity, error) {
	edges, err := e.Edges(ctx, urn, dir, kinds...)
	if err != nil {
		return nil, err
	}
	seen := map[catalog.URN]bool{}
	var urns []catalog.URN
	for _, ed := range edges {
		u := ed.To
		if dir == catalog.Upstream {
			u = ed.From
		}
		if !seen[u] {
			seen[u] = true
			urns = append(urns, u)
		}
	}
	sort.Slice(urns, func(i, j int) bool { return urns[i] < urns[j] })
	return e.Entities(ctx, urns)
}

// Downstream is Lineage.Downstream, remembered.
func (e *Env) Downstream(ctx context.Context, urn catalog.URN, hops int) ([]Hop, error) {
	return e.walk(ctx, walkKey{urn: urn, dir: 0, hops: hops}, func() ([]Hop, error) {
		if e.lineage.Downstream == nil {
			return nil, nil
		}
		return e.lineage.Downstream(ctx, urn, hops)
	})
}

// Upstream is Lineage.Upstream, remembered.
func (e *Env) Upstream(ctx context.Context, urn catalog.URN, hops int) ([]Hop, error) {
	return e.walk(ctx, walkKey{urn: urn, dir: 1, hops: hops}, func() ([]Hop, error) {
		if e.lineage.Upstream == nil {
			return nil, nil
		}
		return e.lineage.Upstream(ctx, urn, hops)
	})
}

// Reaching is Lineage.Reaching, remembered.
func (e *Env) Reaching(ctx context.Context, urn catalog.URN, class string) ([]Hop, error) {
	return e.walk(ctx, walkKey{urn: urn, dir: 2, class: class}, func() ([]Hop, error) {
		if e.lineage.Reaching == nil {
			return nil, nil
		}
		return e.lineage.Reaching(ctx, urn, class)
	})
}

func (e *Env) walk(ctx context.Context, k walkKey, f func() ([]Hop, error)) ([]Hop, error) {
	if hs, ok := e.walks[k]; ok {
		return hs, nil
	}
	hs, err := f()
	if catalog.IsNotFound(err) {
		hs, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.walks[k] = hs
	return hs, nil
}

// FieldHit is a field (or column) carrying a classification.
type FieldHit struct {
	URN            catalog.URN
	Path           string
	Classification string
	Propagated     bool
}

// Carried says which classifications (at or below one name) an asset
// carries, on itself or on the fields it contains.
type Carried struct {
	// Classifications are the distinct names carried, sorted.
	Classifications []string
	// Direct holds the asset's own attachments (direct or propagated,
	// roll-ups included) at or below the name.
	Direct []string
	// Fields lists the contained fields that carry it, sorted by URN.
	Fields []FieldHit
}

// Any reports whether anything is carried.
func (c *Carried) Any() bool { return c != nil && len(c.Classifications) > 0 }

// maxContained bounds the fields a roll-up reads per dataset.
const maxContained = 20000

// Carries reports what of classification class (or below it; "" is every
// classification) the asset urn carries: its own attachments (direct, propagated, or the roll-up the
// lineage stage marks on a dataset containing a carrying field) and those
// of the fields it contains (a topic's schema fields, a table's columns),
// so the answer does not wait for propagation.
func (e *Env) Carries(ctx context.Context, urn catalog.URN, class string) (*Carried, error) {
	k := carryKey{urn, class}
	if c, ok := e.carried[k]; ok {
		return c, nil
	}
	c := &Carried{}
	ent, err := e.Entity(ctx, urn)
	if err != nil {
		return nil, err
	}
	if ent == nil || ent.Deleted() {
		e.carried[k] = c
		return c, nil
	}
	names := map[string]bool{}
	for _, a := range ent.Classifications {
		if within(a.Classification, class) {
			names[a.Classification] = true
			c.Direct = appendUnique(c.Direct, a.Classification)
		}
	}
	if ent.Kind == catalog.KindTopic || ent.Kind == catalog.KindTable || ent.Kind == catalog.KindDataset {
		tr, err := e.r.Traverse(ctx, catalog.TraverseQuery{Start: urn, Direction: catalog.Downstream,
			EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: []catalog.Kind{catalog.KindField, catalog.KindColumn}, Limit: maxContained})
		if err != nil && !catalog.IsNotFound(err) {
			return nil, fmt.Errorf("read the fields of %s: %w", urn, err)
		}
		urns := make([]catalog.URN, len(tr.Nodes))
		for i, n := range tr.Nodes {
			urns[i] = n.URN
		}
		fields, err := e.r.Entities(ctx, urns)
		if err != nil {
			return nil, fmt.Errorf("read the fields of %s: %w", urn, err)
		}
		for _, f := range fields {
			if f.URN == "" || f.Deleted() {
				continue
			}
			for _, a := range f.Classifications {
				if !within(a.Classification, class) {
					continue
				}
				names[a.Classification] = true
				path, _ := f.Properties["path"].(string)
				if path == "" {
					path = f.Name
				}
				c.Fields = append(c.Fields, FieldHit{URN: f.URN, Path: path, Classification: a.Classification, Propagated: !a.Direct()})
			}
		}
		sort.Slice(c.Fields, func(i, j int) bool {
			if c.Fields[i].URN != c.Fields[j].URN {
				return c.Fields[i].URN < c.Fields[j].URN
			}
			return c.Fields[i].Classification < c.Fields[j].Classification
		})
		c.Fields = dedupeHits(c.Fields)
	}
	for n := range names {
		c.Classifications = append(c.Classifications, n)
	}
	sort.Strings(c.Classifications)
	sort.Strings(c.Direct)
	e.carried[k] = c
	return c, nil
}

// within reports whether name is class or lies below it; every name is
// within "".
func within(name, class string) bool {
	return class == "" || catalog.ClassificationWithin(name, class)
}

func dedupeHits(hs []FieldHit) []FieldHit {
	out := hs[:0]
	for i, h := range hs {
		if i > 0 && h.URN == hs[i-1].URN && h.Classification == hs[i-1].Classification {
			continue
		}
		out = append(out, h)
	}
	return out
}

func appendUnique(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// DatasetOf returns the dataset a field or column belongs to (a field's
// topic, a column's table), or urn itself.
func DatasetOf(urn catalog.URN) catalog.URN {
	if t, ok := urn.TopicOfField(); ok {
		return t
	}
	if t, _, ok := urn.Column(); ok {
		return t
	}
	return urn
}

// evidenceOf writes what a Carried holds as JSON evidence, the field list
// bounded.
func evidenceOf(c *Carried) map[string]any {
	out := map[string]any{"classifications": stringsAny(c.Classifications)}
	if len(c.Direct) > 0 {
		out["onAsset"] = stringsAny(c.Direct)
	}
	if len(c.Fields) > 0 {
		const keep = 20
		var fs []any
		for i, f := range c.Fields {
			if i == keep {
				break
			}
			m := map[string]any{"urn": string(f.URN), "path": f.Path, "classification": f.Classification}
			if f.Propagated {
				m["propagated"] = true
			}
			fs = append(fs, m)
		}
		out["fields"] = fs
		if len(c.Fields) > keep {
			out["moreFields"] = len(c.Fields) - keep
		}
	}
	return out
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func urnsAny(us []catalog.URN) []any {
	out := make([]any, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}
