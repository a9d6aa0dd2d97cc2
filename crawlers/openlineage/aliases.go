package openlineage

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Aliases. One table often has two OpenLineage names: Spark names a
// metastore table by its storage path (hdfs://nn:8020 + /user/hive/warehouse/t1)
// and says, in the symlinks facet, which table that is (hive://nn:9083 +
// default.t1, type TABLE); Hive names it by the table and gives its
// location (type LOCATION); Trino and dbt name the table. Those are one
// asset, the canonical one:
//
//   - a crawled topic, a Kafka dataset or a database table keeps its own
//     name (a symlink never turns a topic or a table into something else);
//   - any other dataset (a path) whose symlinks name a TABLE is that table
//     (the first TABLE identifier);
//   - otherwise the dataset is itself.
//
// Every other name becomes an alias: an asset of its own URN with the
// property aliasOf (the canonical URN), asserted in the canonical dataset's
// scope, so that an event naming only the alias — a Spark job reading the
// path directly, column lineage naming the path — lands on the canonical
// asset too (one hop: an alias of an alias is not followed). An alias that
// is a storage location also gets the link location DERIVES table, so that
// lineage another crawler records on the path (a Connect S3 sink's dataset)
// flows into the table. The canonical asset lists its aliases in the
// property aliases. Aliases accumulate until the dataset goes; a crawled
// topic is never made an alias.

// Property keys of aliases.
const (
	propAliasOf     = "aliasOf"
	propAliases     = "aliases"
	propSymlinkType = "symlinkType"
	// transformLocation is the Transform of a location → table link.
	transformLocation = "storage location"
)

// aliasDecl is one alias of a canonical dataset.
type aliasDecl struct {
	ref datasetRef
	// typ is the symlink type (TABLE, LOCATION…); the name an event gave a
	// dataset that its TABLE symlink replaced is its LOCATION.
	typ string
}

// location reports whether the alias is where the canonical dataset's data
// is stored (its link DERIVES the canonical dataset).
func (a aliasDecl) location() bool { return strings.EqualFold(a.typ, "LOCATION") }

// canonicalOf chooses the canonical dataset among own and its symlinks and
// returns the others as aliases.
func canonicalOf(own datasetRef, links []symlink, clusters func(string) (string, bool)) (datasetRef, []aliasDecl) {
	if len(links) == 0 {
		return own, nil
	}
	canon, ownType := own, ""
	if own.Kind != catalog.KindTopic && !own.kafka && own.Kind != catalog.KindTable {
		for _, l := range links {
			if strings.EqualFold(l.Type, "TABLE") {
				canon, ownType = resolveDataset(l.Namespace, l.Name, clusters), "LOCATION"
				break
			}
		}
	}
	var out []aliasDecl
	seen := map[catalog.URN]bool{canon.URN: true}
	add := func(ref datasetRef, typ string) {
		if seen[ref.URN] || ref.Kind == catalog.KindTopic {
			return
		}
		seen[ref.URN] = true
		out = append(out, aliasDecl{ref: ref, typ: strings.ToUpper(typ)})
	}
	add(own, ownType)
	for _, l := range links {
		add(resolveDataset(l.Namespace, l.Name, clusters), l.Type)
	}
	if canon.Kind == catalog.KindTopic {
		return canon, nil // topics are the kafka crawler's: nothing to record on them
	}
	return canon, out
}

// resolver maps the datasets of one request onto catalog URNs, aliases
// included. It is used under the service's write lock.
type resolver struct {
	s *Service
	// aliasOf maps an alias URN to its canonical dataset: the aliases the
	// request declares, and those read from the catalog.
	aliasOf map[catalog.URN]datasetRef
	// known caches catalog lookups: false when the URN is no alias.
	known map[catalog.URN]bool
	// declared lists, per canonical dataset, the aliases the request
	// declares.
	declared map[catalog.URN][]aliasDecl
}

func newResolver(s *Service) *resolver {
	return &resolver{s: s, aliasOf: map[catalog.URN]datasetRef{}, known: map[catalog.URN]bool{}, declared: map[catalog.URN][]aliasDecl{}}
}

// resolve maps an OpenLineage dataset (with its symlinks facet, if any)
// onto its canonical dataset, recording the aliases it declares.
func (r *resolver) resolve(ctx context.Context, namespace, name string, sl *symlinksFacet) (datasetRef, error) {
	own := resolveDataset(namespace, name, r.s.clusters)
	var links []symlink
	if sl != nil && !sl.Deleted {
		links = sl.Identifiers
	}
	canon, aliases := canonicalOf(own, links, r.s.clusters)
	target, err := r.follow(ctx, canon)
	if err != nil {
		return datasetRef{}, err
	}
	// canon may itself be a known alias: what the event declares then
	// belongs to the dataset it stands for.
	canon = target
	for _, a := range aliases {
		if a.ref.URN == canon.URN {
			continue
		}
		r.aliasOf[a.ref.URN] = canon
		r.known[a.ref.URN] = true
		if _, dup := r.lookupDecl(canon.URN, a.ref.URN); !dup {
			r.declared[canon.URN] = append(r.declared[canon.URN], a)
		}
	}
	return canon, nil
}

func (r *resolver) lookupDecl(canon, alias catalog.URN) (aliasDecl, bool) {
	for _, d := range r.declared[canon] {
		if d.ref.URN == alias {
			return d, true
		}
	}
	return aliasDecl{}, false
}

// follow returns the dataset ref stands for: itself, or the canonical
// dataset when ref is an alias (declared in this request, or an asset the
// openlineage source asserts with aliasOf).
func (r *resolver) follow(ctx context.Context, ref datasetRef) (datasetRef, error) {
	if ref.Kind == catalog.KindTopic {
		return ref, nil
	}
	if c, ok := r.aliasOf[ref.URN]; ok {
		return c, nil
	}
	if isAlias, ok := r.known[ref.URN]; ok && !isAlias {
		return ref, nil
	}
	ent, err := r.s.cat.Entity(ctx, ref.URN)
	switch {
	case catalog.IsNotFound(err):
		r.known[ref.URN] = false
		return ref, nil
	case err != nil:
		return ref, fmt.Errorf("read dataset %s: %w", ref.URN, err)
	}
	target, _ := ent.Properties[propAliasOf].(string)
	if ent.Deleted() || !slices.Contains(ent.Sources, SourceOpenLineage) || target == "" || catalog.URN(target) == ref.URN {
		r.known[ref.URN] = false
		return ref, nil
	}
	tu := catalog.URN(target)
	canon := datasetRef{URN: tu, Kind: tu.Kind()}
	if te, err := r.s.cat.Entity(ctx, tu); err == nil {
		ns, _ := te.Properties["namespace"].(string)
		name, _ := te.Properties["name"].(string)
		if c := resolveDataset(ns, name, r.s.clusters); c.URN == tu {
			canon = c
		} else {
			canon.Namespace, canon.Name = ns, name
		}
	} else if !catalog.IsNotFound(err) {
		return ref, fmt.Errorf("read dataset %s: %w", tu, err)
	}
	r.aliasOf[ref.URN] = canon
	r.known[ref.URN] = true
	return canon, nil
}

// aliasAssets returns what the canonical dataset's scope holds for its
// aliases: one asset per alias (aliasOf, symlinkType) and the location →
// dataset links.
func aliasAssets(canon datasetRef, aliases []aliasDecl) ([]catalog.Asset, []catalog.Link) {
	sort.Slice(aliases, func(i, j int) bool { return aliases[i].ref.URN < aliases[j].ref.URN })
	var assets []catalog.Asset
	var links []catalog.Link
	scope := DatasetScope(canon.URN)
	for _, a := range aliases {
		props := catalog.Properties{"namespace": a.ref.Namespace, "name": a.ref.Name, propAliasOf: string(canon.URN)}
		if a.typ != "" {
			props[propSymlinkType] = a.typ
		}
		assets = append(assets, catalog.Asset{URN: a.ref.URN, Name: a.ref.Name, Properties: props, Scope: scope})
		if a.location() {
			links = append(links, catalog.Link{From: a.ref.URN, Kind: catalog.EdgeDerives, To: canon.URN, Origin: OriginOpenLineage, Confidence: 1, Transform: transformLocation, Scope: scope})
		}
	}
	return assets, links
}

// recordedAliases reads the aliases the catalog records for the canonical
// dataset ent (its aliases property, each alias asset's own properties).
func (s *Service) recordedAliases(ctx context.Context, canon catalog.URN, ent catalog.Entity) ([]aliasDecl, error) {
	var urns []catalog.URN
	switch v := ent.Properties[propAliases].(type) {
	case []any:
		for _, x := range v {
			if str, ok := x.(string); ok {
				urns = append(urns, catalog.URN(str))
			}
		}
	case []string:
		for _, x := range v {
			urns = append(urns, catalog.URN(x))
		}
	}
	if len(urns) == 0 {
		return nil, nil
	}
	ents, err := s.cat.Entities(ctx, urns)
	if err != nil {
		return nil, fmt.Errorf("read aliases of %s: %w", canon, err)
	}
	var out []aliasDecl
	for i, e := range ents {
		if e.URN == "" || e.Deleted() {
			continue
		}
		if target, _ := e.Properties[propAliasOf].(string); catalog.URN(target) != canon {
			continue // claimed by another dataset since
		}
		ns, _ := e.Properties["namespace"].(string)
		name, _ := e.Properties["name"].(string)
		typ, _ := e.Properties[propSymlinkType].(string)
		ref := datasetRef{URN: urns[i], Kind: urns[i].Kind(), Namespace: ns, Name: name}
		out = append(out, aliasDecl{ref: ref, typ: typ})
	}
	return out, nil
}

// mergeAliases adds the declared aliases to the recorded ones; it reports
// whether any is new.
func mergeAliases(recorded, declared []aliasDecl) ([]aliasDecl, bool) {
	out := slices.Clone(recorded)
	added := false
	for _, d := range declared {
		i := slices.IndexFunc(out, func(a aliasDecl) bool { return a.ref.URN == d.ref.URN })
		switch {
		case i < 0:
			out = append(out, d)
			added = true
		case out[i].typ != d.typ && d.typ != "":
			out[i] = d
			added = true
		}
	}
	return out, added
}

func aliasURNs(as []aliasDecl) []any {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a.ref.URN)
	}
	sort.Strings(out)
	anys := make([]any, len(out))
	for i, u := range out {
		anys[i] = u
	}
	return anys
}
