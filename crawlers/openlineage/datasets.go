package openlineage

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Datasets are shared: job A writes what job B reads. A table or dataset
// the openlineage source asserts (with its fields and their CONTAINS links)
// therefore lives in a scope of its own, DatasetScope(urn), instead of in a
// job's scope, so that one job's reconcile never deletes what another job
// still uses. That scope is reconciled in full only when
//
//   - an event carries the dataset's schema facet (authoritative for its
//     fields): the dataset, the schema's fields, the fields the batch's
//     column lineage names, and fields the schema no longer lists but that
//     OpenLineage field lineage still points at;
//   - no job links to the dataset any more (its last job dropped it or aged
//     out): the scope is reconciled empty and the dataset and its fields are
//     tombstoned.
//
// Otherwise the dataset and the fields column lineage names are asserted
// only when the catalog lacks them, so that two jobs describing a dataset
// differently do not rewrite it on every event. Topics of crawled clusters
// are never asserted: the kafka crawler owns them.

// datasetAgg is what a batch says about one owned dataset.
type datasetAgg struct {
	ref            datasetRef
	schema         []schemaField
	hasSchema      bool
	description    string
	hasDescription bool
	// fields are the paths column lineage names.
	fields map[string]bool
	// eventTime is the newest eventTime of the DatasetEvents describing it
	// (zero when none did).
	eventTime time.Time
}

// snapshot builds the batch's snapshot: per touched job its JOB asset,
// dataset links and (when settled) column links; the datasets they assert;
// and the dataset scopes that lost their last job.
func (b *batch) snapshot(ctx context.Context) (catalog.Snapshot, error) {
	s := b.s
	snap := catalog.Snapshot{Source: SourceOpenLineage, At: s.now().UTC()}
	scopes := map[string]bool{}
	addScope := func(sc string) {
		if !scopes[sc] {
			scopes[sc] = true
			snap.Scopes = append(snap.Scopes, sc)
		}
	}
	batchJobs := map[catalog.URN]bool{}
	referenced := map[catalog.URN]bool{}
	dropped := map[catalog.URN]bool{}
	aggs := map[catalog.URN]*datasetAgg{}
	var aggOrder []catalog.URN
	agg := func(ref datasetRef) *datasetAgg {
		a := aggs[ref.URN]
		if a == nil {
			a = &datasetAgg{ref: ref, fields: map[string]bool{}}
			aggs[ref.URN] = a
			aggOrder = append(aggOrder, ref.URN)
		}
		return a
	}

	for _, jw := range b.order {
		if !jw.touched && !jw.expire {
			continue
		}
		batchJobs[jw.urn] = true
		addScope(jw.key.scope())
		var links []catalog.Link
		if jw.expire {
			addScope(jw.key.colScope())
		} else {
			snap.Assets = append(snap.Assets, jw.asset())
			links = jw.currentLinks()
			r := jw.cur
			if r != nil && r.hasDatasets() {
				for _, u := range append(slices.Clone(r.inputs), r.outputs...) {
					d := r.datasets[u]
					if d.seeded || !d.ref.owned() {
						continue
					}
					a := agg(d.ref)
					if d.hasSchema {
						a.schema, a.hasSchema = d.schema, true
					}
					if d.hasDescription {
						a.description, a.hasDescription = d.description, true
					}
				}
			}
			if r != nil && (r.hasColumns || (r.complete && !r.seeded)) {
				addScope(jw.key.colScope())
				snap.Links = append(snap.Links, r.columnLinks(jw.key.colScope())...)
				for _, e := range r.columns {
					for _, side := range []struct {
						u    catalog.URN
						path string
					}{{e.input, e.inPath}, {e.output, e.outPath}} {
						if d := r.datasets[side.u]; d != nil && !d.seeded && d.ref.owned() {
							agg(d.ref).fields[side.path] = true
						}
					}
				}
			}
		}
		snap.Links = append(snap.Links, links...)
		now := map[catalog.URN]bool{}
		for _, l := range links {
			now[datasetEnd(l)] = true
			referenced[datasetEnd(l)] = true
		}
		for _, l := range jw.prevLinks {
			if u := datasetEnd(l); !now[u] {
				dropped[u] = true
			}
		}
	}
	// What DatasetEvents say, and datasets that gained an alias.
	for _, u := range b.described {
		e := b.events[u]
		a := agg(e.ref)
		if e.hasSchema {
			a.schema, a.hasSchema = e.schema, true
		}
		if e.hasDescription {
			a.description, a.hasDescription = e.description, true
		}
		if e.eventTime.After(a.eventTime) {
			a.eventTime = e.eventTime
		}
	}
	for _, u := range sortedURNs(b.res.declared) {
		if _, ok := aggs[u]; !ok && u.Kind() != catalog.KindTopic {
			agg(datasetRef{URN: u, Kind: u.Kind()})
		}
	}
	for _, u := range b.expireDatasets {
		addScope(DatasetScope(u))
	}
	if len(snap.Scopes) == 0 && len(aggs) == 0 {
		return snap, nil
	}

	// Datasets that lost their last job.
	var orphans []catalog.URN
	for u := range dropped {
		if !referenced[u] && aggs[u] == nil && (u.Kind() == catalog.KindTable || u.Kind() == catalog.KindDataset) {
			orphans = append(orphans, u)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i] < orphans[j] })
	for _, u := range orphans {
		used, err := s.datasetInUse(ctx, u, batchJobs)
		if err != nil {
			return snap, err
		}
		if !used {
			addScope(DatasetScope(u))
		}
	}

	// Datasets the batch describes. A dataset's scope is rewritten when a
	// schema facet describes it, a DatasetEvent does, or it gained an alias;
	// otherwise it is asserted only where the catalog lacks it.
	var candidates []catalog.Asset
	var candidateLinks []catalog.Link
	for _, u := range aggOrder {
		a := aggs[u]
		ent, err := s.cat.Entity(ctx, u)
		switch {
		case catalog.IsNotFound(err):
			ent = catalog.Entity{}
		case err != nil:
			return snap, fmt.Errorf("read dataset %s: %w", u, err)
		case ent.Deleted() || !slices.Contains(ent.Sources, SourceOpenLineage):
			ent = catalog.Entity{}
		}
		if a.ref.Namespace == "" && ent.URN != "" {
			// Known only as the target of an alias: its identity is stored.
			a.ref.Namespace, _ = ent.Properties["namespace"].(string)
			a.ref.Name, _ = ent.Properties["name"].(string)
			if r := resolveDataset(a.ref.Namespace, a.ref.Name, s.clusters); r.URN == u {
				a.ref = r
			}
		}
		recorded, err := s.recordedAliases(ctx, u, ent)
		if err != nil {
			return snap, err
		}
		aliases, added := mergeAliases(recorded, b.res.declared[u])
		if a.hasSchema || added || !a.eventTime.IsZero() {
			addScope(DatasetScope(u))
			assets, links, kept, err := s.rewriteDataset(ctx, a, ent, aliases)
			if err != nil {
				return snap, err
			}
			if len(kept) > 0 {
				if b.kept == nil {
					b.kept = map[catalog.URN][]catalog.URN{}
				}
				b.kept[u] = kept
			}
			snap.Assets = append(snap.Assets, assets...)
			snap.Links = append(snap.Links, links...)
			continue
		}
		if a.ref.Namespace == "" && a.ref.Name == "" {
			continue // an alias target the catalog no longer has
		}
		candidates = append(candidates, datasetAsset(a.ref, a.description))
		for _, p := range sortedKeys(a.fields) {
			f := fieldAsset(a.ref, p, "", "")
			candidates = append(candidates, f)
			candidateLinks = append(candidateLinks, containsLink(a.ref, a.ref.URN, f.URN))
		}
	}
	if len(candidates) > 0 {
		missing, err := s.missing(ctx, candidates)
		if err != nil {
			return snap, err
		}
		for _, a := range candidates {
			if missing[a.URN] {
				snap.Assets = append(snap.Assets, a)
			}
		}
		for _, l := range candidateLinks {
			if missing[l.To] {
				snap.Links = append(snap.Links, l)
			}
		}
	}
	return snap, nil
}

// datasetInUse reports whether a job outside exclude links to u with an
// OpenLineage claim, or a DatasetEvent described it within the TTL.
func (s *Service) datasetInUse(ctx context.Context, u catalog.URN, exclude map[catalog.URN]bool) (bool, error) {
	ent, err := s.cat.Entity(ctx, u)
	switch {
	case catalog.IsNotFound(err):
	case err != nil:
		return false, fmt.Errorf("read dataset %s: %w", u, err)
	default:
		if t := parseLive(ent.Live).lastEventTime; !t.IsZero() && s.now().Sub(t) <= s.ttl {
			return true, nil
		}
	}
	edges, err := s.cat.Edges(ctx, catalog.EdgeQuery{URN: u, Direction: catalog.Both, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeProduces}})
	if err != nil {
		return false, fmt.Errorf("read edges of %s: %w", u, err)
	}
	for _, e := range edges {
		if _, ok := claimOf(e, SourceOpenLineage); !ok {
			continue
		}
		other := e.From
		if other == u {
			other = e.To
		}
		if other.Kind() == catalog.KindJob && !exclude[other] {
			return true, nil
		}
	}
	return false, nil
}

// missing reports which of the assets the catalog lacks or holds without an
// openlineage facet.
func (s *Service) missing(ctx context.Context, assets []catalog.Asset) (map[catalog.URN]bool, error) {
	urns := make([]catalog.URN, len(assets))
	for i, a := range assets {
		urns[i] = a.URN
	}
	ents, err := s.cat.Entities(ctx, urns)
	if err != nil {
		return nil, fmt.Errorf("read datasets: %w", err)
	}
	out := map[catalog.URN]bool{}
	for i, e := range ents {
		if e.URN == "" || e.Deleted() || !slices.Contains(e.Sources, SourceOpenLineage) {
			out[urns[i]] = true
		}
	}
	return out, nil
}

// rewriteDataset returns everything the dataset's scope holds once the
// batch rewrites it: the dataset (its description and the newest
// DatasetEvent time kept unless the batch says otherwise), its fields, its
// aliases (aliases.go) and the CONTAINS and location links. ent is the
// dataset as the openlineage source asserts it (zero when it does not).
//
// With a schema facet the fields are the schema's (nested fields contained
// by their parent), the fields column lineage names, and fields the catalog
// has that OpenLineage field lineage uses (kept: the batch itself may be
// removing that lineage, see pruneKept). Without one, the fields asserted
// so far stay, and column lineage adds to them.
func (s *Service) rewriteDataset(ctx context.Context, a *datasetAgg, ent catalog.Entity, aliases []aliasDecl) (assets []catalog.Asset, links []catalog.Link, kept []catalog.URN, err error) {
	desc := ent.Description
	if a.hasDescription {
		desc = a.description
	}
	ds := datasetAsset(a.ref, desc)
	if len(aliases) > 0 {
		ds.Properties[propAliases] = aliasURNs(aliases)
	}
	last := parseLive(ent.Live).lastEventTime
	if a.eventTime.After(last) {
		last = a.eventTime
	}
	if !last.IsZero() {
		ds.Live = catalog.Properties{liveLastEventTime: last.UTC().Format(time.RFC3339Nano)}
	}
	assets = []catalog.Asset{ds}
	have := map[catalog.URN]bool{}
	var walk func(parent catalog.URN, prefix string, fs []schemaField)
	walk = func(parent catalog.URN, prefix string, fs []schemaField) {
		for _, f := range fs {
			path := f.Name
			if prefix != "" {
				path = prefix + "." + f.Name
			}
			fa := fieldAsset(a.ref, path, f.Type, f.Description)
			if !have[fa.URN] {
				have[fa.URN] = true
				assets = append(assets, fa)
				links = append(links, containsLink(a.ref, parent, fa.URN))
			}
			walk(fa.URN, path, f.Fields)
		}
	}
	walk(a.ref.URN, "", a.schema)
	for _, p := range sortedKeys(a.fields) {
		fa := fieldAsset(a.ref, p, "", "")
		if !have[fa.URN] {
			have[fa.URN] = true
			assets = append(assets, fa)
			links = append(links, containsLink(a.ref, a.ref.URN, fa.URN))
		}
	}
	aa, al := aliasAssets(a.ref, aliases)
	assets = append(assets, aa...)
	links = append(links, al...)

	// Fields asserted before: without a schema facet they all stay; with
	// one, those the schema no longer lists stay while field lineage uses
	// them.
	existing, err := s.assertedFields(ctx, a.ref.URN)
	if err != nil {
		return nil, nil, nil, err
	}
	var extra []containedField
	for _, f := range existing {
		if !have[f.urn] {
			extra = append(extra, f)
		}
	}
	if len(extra) == 0 {
		return assets, links, nil, nil
	}
	urns := make([]catalog.URN, len(extra))
	for i, f := range extra {
		urns[i] = f.urn
	}
	ents, err := s.cat.Entities(ctx, urns)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read fields of %s: %w", a.ref.URN, err)
	}
	for i, f := range extra {
		if ents[i].URN == "" {
			continue
		}
		if a.hasSchema {
			used, err := s.fieldInUse(ctx, f.urn)
			if err != nil {
				return nil, nil, nil, err
			}
			if !used {
				continue
			}
		}
		props := catalog.Properties{}
		for _, k := range []string{"path", "type", "description"} {
			if v, ok := ents[i].Properties[k]; ok {
				props[k] = v
			}
		}
		desc, _ := props["description"].(string)
		path, _ := props["path"].(string)
		if path == "" {
			path = ents[i].Name
		}
		assets = append(assets, catalog.Asset{URN: f.urn, Name: path, Description: desc, Properties: props, Scope: DatasetScope(a.ref.URN)})
		links = append(links, containsLink(a.ref, f.parent, f.urn))
		have[f.urn] = true
		if a.hasSchema {
			kept = append(kept, f.urn)
		}
	}
	return assets, links, kept, nil
}

// pruneKept runs after the batch's reconcile: fields an authoritative
// dataset kept only because OpenLineage field lineage used them are removed
// when that lineage is gone now (the batch may have removed it). It
// re-reconciles the affected dataset scopes as snap had them, minus those
// fields. The first write is complete without it; this one only tidies.
func (b *batch) pruneKept(ctx context.Context, snap catalog.Snapshot) (catalog.ReconcileResult, error) {
	var res catalog.ReconcileResult
	if len(b.kept) == 0 {
		return res, nil
	}
	unused := map[catalog.URN]bool{}
	scopes := map[string]bool{}
	for ds, fields := range b.kept {
		for _, f := range fields {
			used, err := b.s.fieldInUse(ctx, f)
			if err != nil {
				return res, err
			}
			if !used {
				unused[f] = true
				scopes[DatasetScope(ds)] = true
			}
		}
	}
	if len(unused) == 0 {
		return res, nil
	}
	next := catalog.Snapshot{Source: SourceOpenLineage, At: b.s.now().UTC()}
	for sc := range scopes {
		next.Scopes = append(next.Scopes, sc)
	}
	sort.Strings(next.Scopes)
	for _, a := range snap.Assets {
		if scopes[a.Scope] && !unused[a.URN] {
			next.Assets = append(next.Assets, a)
		}
	}
	for _, l := range snap.Links {
		if scopes[l.Scope] && !unused[l.To] && !unused[l.From] {
			next.Links = append(next.Links, l)
		}
	}
	res, err := b.s.store.Reconcile(ctx, next, nil)
	if err != nil {
		return res, fmt.Errorf("prune fields: %w", err)
	}
	return res, nil
}

type containedField struct{ parent, urn catalog.URN }

// assertedFields walks the CONTAINS links the openlineage source asserts
// from dataset u down (nested fields included), at most maxFieldsPerScan.
func (s *Service) assertedFields(ctx context.Context, u catalog.URN) ([]containedField, error) {
	var out []containedField
	queue := []catalog.URN{u}
	seen := map[catalog.URN]bool{u: true}
	for len(queue) > 0 && len(out) < maxFieldsPerScan {
		cur := queue[0]
		queue = queue[1:]
		edges, err := s.cat.Edges(ctx, catalog.EdgeQuery{URN: cur, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeContains}})
		if err != nil {
			return nil, fmt.Errorf("read fields of %s: %w", cur, err)
		}
		for _, e := range edges {
			if _, ok := claimOf(e, SourceOpenLineage); !ok || seen[e.To] {
				continue
			}
			seen[e.To] = true
			out = append(out, containedField{parent: cur, urn: e.To})
			queue = append(queue, e.To)
		}
	}
	return out, nil
}

// fieldInUse reports whether an OpenLineage DERIVES link touches field u.
func (s *Service) fieldInUse(ctx context.Context, u catalog.URN) (bool, error) {
	edges, err := s.cat.Edges(ctx, catalog.EdgeQuery{URN: u, Direction: catalog.Both, Kinds: []catalog.EdgeKind{catalog.EdgeDerives}})
	if err != nil {
		return false, fmt.Errorf("read lineage of %s: %w", u, err)
	}
	for _, e := range edges {
		if _, ok := claimOf(e, SourceOpenLineage); ok {
			return true, nil
		}
	}
	return false, nil
}

// datasetAsset is a TABLE or DATASET as the openlineage source asserts it.
func datasetAsset(ref datasetRef, description string) catalog.Asset {
	return catalog.Asset{
		URN:         ref.URN,
		Name:        ref.Name,
		Description: description,
		Properties:  catalog.Properties{"namespace": ref.Namespace, "name": ref.Name},
		Scope:       DatasetScope(ref.URN),
	}
}

// fieldAsset is a COLUMN or FIELD of an owned dataset.
func fieldAsset(ref datasetRef, path, typ, description string) catalog.Asset {
	props := catalog.Properties{"path": path}
	if typ != "" {
		props["type"] = typ
	}
	if description != "" {
		props["description"] = description
	}
	return catalog.Asset{URN: ref.fieldURN(path), Name: path, Description: description, Properties: props, Scope: DatasetScope(ref.URN)}
}

func containsLink(ref datasetRef, parent, child catalog.URN) catalog.Link {
	return catalog.Link{From: parent, Kind: catalog.EdgeContains, To: child, Origin: OriginOpenLineage, Confidence: 1, Scope: DatasetScope(ref.URN)}
}

func sortedURNs[V any](m map[catalog.URN]V) []catalog.URN {
	out := make([]catalog.URN, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
