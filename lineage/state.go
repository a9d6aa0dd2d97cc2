package lineage

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/watershed-data/watershed/catalog"
)

// PropagationGraph is what propagation reads of the catalog; catalog.Reader
// satisfies it.
type PropagationGraph interface {
	Walker
	Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error)
	Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error)
	Classifications(ctx context.Context) ([]catalog.ClassificationDef, error)
	LastSeq(ctx context.Context) (uint64, error)
	Changes(ctx context.Context, after uint64, limit int) ([]catalog.Change, error)
}

// Key identifies one propagated attachment: classification Classification
// on URN, flowing from Origin (as catalog.Propagate keys it).
type Key struct {
	URN, Origin    catalog.URN
	Classification string
}

// State is a set of propagated attachments, each with its path.
type State map[Key][]catalog.URN

// Origin is a direct attachment that propagates: classification
// Classification attached to URN with propagation on.
type Origin struct {
	URN            catalog.URN
	Classification string
}

// carriers are the live entities carrying some defined classification, as
// one pass over the catalog's classification index finds them.
type carriers struct {
	defs    map[string]catalog.ClassificationDef
	origins []Origin // sorted
	stored  State
}

// readCarriers pages through every live entity that carries a defined
// classification (directly or by propagation) and collects the origins (live
// entities with a direct, propagating attachment of a defined
// classification) and the propagated attachments stored now. A
// classification that is not defined (a schema tag naming nothing) does not
// propagate.
func readCarriers(ctx context.Context, g PropagationGraph) (*carriers, error) {
	defs, err := g.Classifications(ctx)
	if err != nil {
		return nil, fmt.Errorf("read classification definitions: %w", err)
	}
	c := &carriers{defs: map[string]catalog.ClassificationDef{}, stored: State{}}
	var roots []string
	for _, d := range defs {
		c.defs[d.Name] = d
	}
	for _, d := range defs {
		if _, ok := c.defs[d.Parent()]; !ok {
			roots = append(roots, d.Name) // a top-level name: its search finds its descendants too
		}
	}
	sort.Strings(roots)
	seen := map[catalog.URN]bool{}
	originSet := map[Origin]bool{}
	const page = 1000
	for _, root := range roots {
		for off := 0; ; off += page {
			res, err := g.Search(ctx, catalog.SearchQuery{Classifications: []string{root}, Offset: off, Limit: page})
			if err != nil {
				return nil, fmt.Errorf("find carriers of %s: %w", root, err)
			}
			for _, e := range res.Entities {
				if seen[e.URN] || e.URN == "" || e.Deleted() {
					continue
				}
				seen[e.URN] = true
				for _, o := range originsOf(e, c.defs) {
					originSet[o] = true
				}
				for _, a := range e.Classifications {
					if !a.Direct() {
						c.stored[Key{URN: e.URN, Origin: a.Origin, Classification: a.Classification}] = a.Path
					}
				}
			}
			if off+len(res.Entities) >= res.Total || len(res.Entities) == 0 {
				break
			}
		}
	}
	for o := range originSet {
		c.origins = append(c.origins, o)
	}
	sortOrigins(c.origins)
	return c, nil
}

// originsOf returns the origins e holds: its direct attachments with
// propagation on, of defined classifications, when e is live.
func originsOf(e catalog.Entity, defs map[string]catalog.ClassificationDef) []Origin {
	if e.URN == "" || e.Deleted() {
		return nil
	}
	var out []Origin
	for _, a := range e.Classifications {
		if !a.Direct() || !a.Propagate {
			continue
		}
		if _, ok := defs[a.Classification]; !ok {
			continue
		}
		o := Origin{URN: e.URN, Classification: a.Classification}
		if len(out) == 0 || out[len(out)-1] != o {
			out = append(out, o)
		}
	}
	return out
}

func sortOrigins(os []Origin) {
	sort.Slice(os, func(i, j int) bool {
		if os[i].URN != os[j].URN {
			return os[i].URN < os[j].URN
		}
		return os[i].Classification < os[j].Classification
	})
}

// Desired computes from scratch the propagated state the catalog should
// hold: the closure of every origin (DESIGN.md §6: a pure function of the
// direct attachments and the lineage graph). Tests compare it with Stored.
func Desired(ctx context.Context, g PropagationGraph) (State, error) {
	c, err := readCarriers(ctx, g)
	if err != nil {
		return nil, err
	}
	out := State{}
	for _, o := range c.origins {
		r, err := Closure(ctx, g, o.URN, o.Classification)
		if err != nil {
			return nil, fmt.Errorf("closure of %s from %s: %w", o.Classification, o.URN, err)
		}
		for _, x := range r.Reached {
			out[Key{URN: x.URN, Origin: o.URN, Classification: o.Classification}] = x.Path
		}
	}
	return out, nil
}

// Stored reads the propagated attachments the catalog holds now.
func Stored(ctx context.Context, g PropagationGraph) (State, error) {
	c, err := readCarriers(ctx, g)
	if err != nil {
		return nil, err
	}
	return c.stored, nil
}

// Diff lists how two states differ, one line per key, sorted: "+key path"
// for what only want has, "-key" for what only got has, "~key" for a
// different path. Empty means equal.
func Diff(got, want State) []string {
	var out []string
	for k, p := range want {
		gp, ok := got[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("+%s %s from %s via %v", k.URN, k.Classification, k.Origin, p))
		case !slices.Equal(gp, p):
			out = append(out, fmt.Sprintf("~%s %s from %s: got %v, want %v", k.URN, k.Classification, k.Origin, gp, p))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("-%s %s from %s", k.URN, k.Classification, k.Origin))
		}
	}
	sort.Strings(out)
	return out
}
