package connect

import (
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// snapshotBuilder collects assets and links per scope and assembles the
// snapshot: one asset per URN (the first scope to assert it owns it), one
// link per edge key, problems as Incomplete reasons.
type snapshotBuilder struct {
	source string
	whole  *scopeOutput
	scopes map[string]*scopeOutput
}

func newSnapshotBuilder(source string) *snapshotBuilder {
	return &snapshotBuilder{source: source, whole: &scopeOutput{}, scopes: map[string]*scopeOutput{}}
}

// add adds an asset that belongs to the whole source.
func (b *snapshotBuilder) add(a catalog.Asset) { b.whole.asset(a) }

// scope returns the collector of one scope.
func (b *snapshotBuilder) scope(name string) *scopeOutput {
	o, ok := b.scopes[name]
	if !ok {
		o = &scopeOutput{name: name}
		b.scopes[name] = o
	}
	return o
}

func (b *snapshotBuilder) snapshot() catalog.Snapshot {
	s := catalog.Snapshot{Source: b.source}
	names := make([]string, 0, len(b.scopes))
	for n := range b.scopes {
		names = append(names, n)
	}
	sort.Strings(names)
	outs := append([]*scopeOutput{b.whole}, make([]*scopeOutput, 0, len(names))...)
	for _, n := range names {
		outs = append(outs, b.scopes[n])
	}

	assets := map[catalog.URN]int{}
	// Links merge by edge; pair edges of different connectors stay apart,
	// so that the store records every connector the pair flows through.
	type linkKey struct {
		key catalog.EdgeKey
		via catalog.URN
	}
	links := map[linkKey]int{}
	for _, o := range outs {
		for _, a := range o.assets {
			a.Scope = o.name
			if i, dup := assets[a.URN]; dup {
				s.Assets[i] = mergeAsset(s.Assets[i], a)
				continue
			}
			assets[a.URN] = len(s.Assets)
			s.Assets = append(s.Assets, a)
		}
		for _, l := range o.links {
			l.Scope = o.name
			lk := linkKey{l.Key(), l.Via}
			if i, dup := links[lk]; dup {
				s.Links[i] = mergeLink(s.Links[i], l)
				continue
			}
			links[lk] = len(s.Links)
			s.Links = append(s.Links, l)
		}
		if len(o.problems) > 0 {
			if s.Incomplete == nil {
				s.Incomplete = map[string]string{}
			}
			s.Incomplete[o.name] = strings.Join(o.problems, "; ")
		}
	}
	sort.SliceStable(s.Assets, func(i, j int) bool { return s.Assets[i].URN < s.Assets[j].URN })
	sort.SliceStable(s.Links, func(i, j int) bool {
		a, b := s.Links[i].Key(), s.Links[j].Key()
		if a.From != b.From {
			return a.From < b.From
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return s.Links[i].Via < s.Links[j].Via
	})
	return s
}

// mergeAsset keeps the first assertion of an asset and fills in properties
// it lacks from a later one (two connectors capturing one table).
func mergeAsset(first, later catalog.Asset) catalog.Asset {
	for k, v := range later.Properties {
		if _, ok := first.Properties[k]; !ok {
			if first.Properties == nil {
				first.Properties = catalog.Properties{}
			}
			first.Properties[k] = v
		}
	}
	return first
}

// mergeLink combines two assertions of one edge: the higher confidence, the
// union of transforms, and masking only when both mask (data that reaches
// the target unmasked by any path is not masked).
func mergeLink(a, b catalog.Link) catalog.Link {
	if b.Confidence > a.Confidence {
		a.Confidence, a.Origin = b.Confidence, b.Origin
	}
	a.Transform = joinTransforms(a.Transform, b.Transform)
	a.Masking = a.Masking && b.Masking
	return a
}

func joinTransforms(a, b string) string {
	var parts []string
	for _, s := range []string{a, b} {
		for _, p := range strings.Split(s, ",") {
			if p != "" {
				parts = appendUnique(parts, p)
			}
		}
	}
	return strings.Join(parts, ",")
}

// scopeOutput collects what one scope (a connector) asserts.
type scopeOutput struct {
	name     string
	assets   []catalog.Asset
	links    []catalog.Link
	problems []string
}

func (o *scopeOutput) asset(a catalog.Asset) { o.assets = append(o.assets, a) }

func (o *scopeOutput) link(from catalog.URN, kind catalog.EdgeKind, to catalog.URN, origin string, confidence float64, transform string, masking bool) {
	o.linkVia(from, kind, to, "", origin, confidence, transform, masking)
}

// linkVia is link with the connector a pair edge flows through.
func (o *scopeOutput) linkVia(from catalog.URN, kind catalog.EdgeKind, to, via catalog.URN, origin string, confidence float64, transform string, masking bool) {
	if from == to {
		return
	}
	o.links = append(o.links, catalog.Link{
		From: from, Kind: kind, To: to, Origin: origin, Confidence: confidence,
		Transform: transform, Masking: masking, Via: via,
	})
}

// problem records why the scope's lineage is incomplete, with the
// credentials the reason may quote redacted.
func (o *scopeOutput) problem(reason string) {
	reason = redactText(reason)
	for _, p := range o.problems {
		if p == reason {
			return
		}
	}
	o.problems = append(o.problems, reason)
}
