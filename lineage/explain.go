package lineage

import (
	"context"
	"fmt"

	"github.com/watershed-data/watershed/catalog"
)

// Preview is a dry run of attaching a classification: what it would reach.
type Preview struct {
	Origin         catalog.URN
	Classification string
	// Propagates is the definition's default: when false, a classify
	// without propagate: true would reach nothing, and Reached is what it
	// reaches with propagation on.
	Propagates bool
	// Reached is sorted by URN, at most the limit asked for.
	Reached []Reached
	// Total is the number of assets reached; more than len(Reached) when
	// the limit cut the list.
	Total int
}

// PreviewGraph is what Preview reads; catalog.Reader satisfies it.
type PreviewGraph interface {
	Walker
	Entity(ctx context.Context, u catalog.URN) (catalog.Entity, error)
	Classifications(ctx context.Context) ([]catalog.ClassificationDef, error)
}

// PreviewClassification computes what attaching classification c to urn
// (with propagation on) would reach, without writing anything: the same
// Closure the Propagator writes. limit bounds Reached (0: no bound). It is
// NotFound for an unknown asset and Invalid for an undefined classification.
func PreviewClassification(ctx context.Context, g PreviewGraph, urn catalog.URN, c string, limit int) (Preview, error) {
	def, err := definition(ctx, g, c)
	if err != nil {
		return Preview{}, err
	}
	if _, err := g.Entity(ctx, urn); err != nil {
		return Preview{}, err
	}
	r, err := Closure(ctx, g, urn, c)
	if err != nil {
		return Preview{}, err
	}
	p := Preview{Origin: urn, Classification: c, Propagates: def.Propagates, Reached: r.Reached, Total: len(r.Reached)}
	if limit > 0 && len(p.Reached) > limit {
		p.Reached = p.Reached[:limit]
	}
	return p, nil
}

func definition(ctx context.Context, g PreviewGraph, c string) (catalog.ClassificationDef, error) {
	if err := catalog.ValidClassificationName(c); err != nil {
		return catalog.ClassificationDef{}, err
	}
	defs, err := g.Classifications(ctx)
	if err != nil {
		return catalog.ClassificationDef{}, fmt.Errorf("read classification definitions: %w", err)
	}
	for _, d := range defs {
		if d.Name == c {
			return d, nil
		}
	}
	return catalog.ClassificationDef{}, catalog.Errorf(catalog.Invalid, "unknown classification %q", c)
}

// Explanation says why an asset carries a classification: one per direct
// attachment and one per origin of a propagated attachment.
type Explanation struct {
	// Classification is the attached one: PII.Email when PII was asked.
	Classification string
	Source         catalog.AttachmentSource
	// Origin and Path are set for a propagated attachment (origin first,
	// the asset last); Mode follows from the path.
	Origin catalog.URN
	Path   []catalog.URN
	Mode   Mode
	// Hops are the steps of Path with the edges they follow.
	Hops []Hop
}

// Direct reports whether the attachment is direct.
func (x Explanation) Direct() bool { return x.Source != catalog.AttachPropagated }

// Hop is one step of an explaining path.
type Hop struct {
	From, To catalog.URN
	// Containment marks the step from a field up to the dataset containing
	// it (the roll-up); it follows CONTAINS edges the other way, through any
	// struct fields between, and Edge is nil.
	Containment bool
	// Edge is the flow edge the step follows (nil for a containment step,
	// or when the edge went away since the path was written).
	Edge *catalog.Edge
}

// ExplainGraph is what Explain reads; catalog.Reader satisfies it.
type ExplainGraph interface {
	Entity(ctx context.Context, u catalog.URN) (catalog.Entity, error)
	EdgesByKey(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error)
}

// Explain answers "why does urn carry c": every attachment of c or of a
// classification below it (hierarchy: asking for PII explains PII.Email),
// direct ones first, each propagated one with its origin, its path and the
// edges along it. An asset that does not carry c gives an empty answer; an
// unknown asset is NotFound.
func Explain(ctx context.Context, g ExplainGraph, urn catalog.URN, c string) ([]Explanation, error) {
	if err := catalog.ValidClassificationName(c); err != nil {
		return nil, err
	}
	e, err := g.Entity(ctx, urn)
	if err != nil {
		return nil, err
	}
	var direct, propagated []Explanation
	var keys []catalog.EdgeKey
	for _, a := range e.Classifications {
		if !catalog.ClassificationWithin(a.Classification, c) {
			continue
		}
		x := Explanation{Classification: a.Classification, Source: a.Source}
		if a.Direct() {
			direct = append(direct, x)
			continue
		}
		x.Origin, x.Path, x.Mode = a.Origin, a.Path, ModeOf(a.Path)
		for i := 0; i+1 < len(a.Path); i++ {
			from, to := a.Path[i], a.Path[i+1]
			h := Hop{From: from, To: to, Containment: IsField(from.Kind()) && !IsField(to.Kind())}
			if !h.Containment {
				for _, k := range catalog.FlowEdgeKinds() {
					keys = append(keys, catalog.EdgeKey{From: from, Kind: k, To: to})
				}
			}
			x.Hops = append(x.Hops, h)
		}
		propagated = append(propagated, x)
	}
	if len(keys) > 0 {
		edges, err := g.EdgesByKey(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("read the edges along the paths: %w", err)
		}
		alive := map[[2]catalog.URN]*catalog.Edge{}
		for i := range edges {
			ed := &edges[i]
			if ed.From == "" || ed.Deleted() {
				continue
			}
			k := [2]catalog.URN{ed.From, ed.To}
			if _, ok := alive[k]; !ok {
				alive[k] = ed
			}
		}
		for i := range propagated {
			for j := range propagated[i].Hops {
				h := &propagated[i].Hops[j]
				if !h.Containment {
					h.Edge = alive[[2]catalog.URN{h.From, h.To}]
				}
			}
		}
	}
	return append(direct, propagated...), nil
}
