package graph

import (
	"context"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/graph/model"
	"github.com/watershed-data/watershed/lineage"
)

// Bounds on list arguments; larger values are clamped or rejected so that
// one request cannot ask the server for unbounded work.
const (
	maxSearchPage    = 500
	maxChangesPage   = 1000
	maxNeighbors     = 1000
	maxLineageDepth  = 50
	maxLineageLimit  = 10000
	maxTypeFilters   = 50
	maxFilterStrings = 50
)

// apply commits one mutation on behalf of the caller.
func (r *Resolver) apply(ctx context.Context, m catalog.Mutation) error {
	p, err := requireWriter(ctx)
	if err != nil {
		return err
	}
	_, err = r.Catalog.Apply(ctx, catalog.Batch{Actor: p.Actor(), Origin: "/watershed/graphql", Mutations: []catalog.Mutation{m}})
	return err
}

// mutateAsset applies m and returns the asset as it is now.
func (r *Resolver) mutateAsset(ctx context.Context, u catalog.URN, m catalog.Mutation) (catalog.Entity, error) {
	if err := r.apply(ctx, m); err != nil {
		return catalog.Entity{}, err
	}
	forgetAsset(ctx, u)
	return r.Catalog.Entity(ctx, u)
}

// mutateEdge applies m and returns the edge as it is now (a tombstone after
// a removal).
func (r *Resolver) mutateEdge(ctx context.Context, k catalog.EdgeKey, m catalog.Mutation) (catalog.Edge, error) {
	if err := r.apply(ctx, m); err != nil {
		return catalog.Edge{}, err
	}
	edges, err := r.Catalog.Edges(ctx, catalog.EdgeQuery{URN: k.From, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{k.Kind}, IncludeDeleted: true})
	if err != nil {
		return catalog.Edge{}, err
	}
	for _, e := range edges {
		if e.To == k.To {
			return e, nil
		}
	}
	return catalog.Edge{}, catalog.Errorf(catalog.Internal, "edge %s vanished after the mutation", k)
}

func (r *Resolver) neighbors(ctx context.Context, u catalog.URN, dir catalog.Direction, kinds []catalog.EdgeKind, first int) ([]model.Neighbor, error) {
	if first < 0 || first > maxNeighbors {
		return nil, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxNeighbors)
	}
	edges, err := r.Catalog.Edges(ctx, catalog.EdgeQuery{URN: u, Direction: dir, Kinds: kinds})
	if err != nil {
		return nil, err
	}
	if len(edges) > first {
		edges = edges[:first]
	}
	urns := make([]catalog.URN, len(edges))
	for i, e := range edges {
		urns[i] = e.To
		if dir == catalog.Upstream {
			urns[i] = e.From
		}
	}
	assets, err := loadAssets(ctx, r.Catalog, urns)
	if err != nil {
		return nil, err
	}
	out := make([]model.Neighbor, len(edges))
	for i, e := range edges {
		out[i] = model.Neighbor{Edge: e, Asset: assets[i]}
	}
	return out, nil
}

func (r *Resolver) search(ctx context.Context, text string, kinds []catalog.Kind, classes []string, includeDeleted bool, first int, after *string) (model.AssetConnection, error) {
	var out model.AssetConnection
	if first < 0 || first > maxSearchPage {
		return out, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxSearchPage)
	}
	if len(classes) > maxFilterStrings || len(kinds) > maxFilterStrings {
		return out, catalog.Errorf(catalog.Invalid, "at most %d kinds and %d classifications", maxFilterStrings, maxFilterStrings)
	}
	if len(text) > 1000 {
		return out, catalog.Errorf(catalog.Invalid, "query is longer than 1000 bytes")
	}
	offset, err := model.ParseOffsetCursor(after)
	if err != nil {
		return out, err
	}
	// first: 0 asks only for the total; the store cannot be asked for an
	// empty page (a zero limit means its maximum), so ask for one and drop it.
	res, err := r.Catalog.Search(ctx, catalog.SearchQuery{Text: text, Kinds: kinds, Classifications: classes, IncludeDeleted: includeDeleted, Offset: offset, Limit: max(first, 1)})
	if err != nil {
		return out, err
	}
	if first == 0 {
		res.Entities = nil
	}
	out.TotalCount = res.Total
	out.Edges = make([]model.AssetEdge, len(res.Entities))
	for i, e := range res.Entities {
		out.Edges[i] = model.AssetEdge{Cursor: model.OffsetCursor(offset + i), Node: e}
	}
	out.PageInfo.HasPreviousPage = offset > 0
	out.PageInfo.HasNextPage = offset+len(res.Entities) < res.Total
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor = &out.Edges[0].Cursor
		out.PageInfo.EndCursor = &out.Edges[n-1].Cursor
	}
	return out, nil
}

func (r *Resolver) lineage(ctx context.Context, u catalog.URN, dir catalog.Direction, depth int, at *time.Time, kinds []catalog.EdgeKind, limit int, level *lineage.Level, assetKinds []catalog.Kind) (lineage.Result, error) {
	if depth < 0 || depth > maxLineageDepth {
		return lineage.Result{}, catalog.Errorf(catalog.Invalid, "depth must be between 0 and %d", maxLineageDepth)
	}
	if limit < 1 || limit > maxLineageLimit {
		return lineage.Result{}, catalog.Errorf(catalog.Invalid, "limit must be between 1 and %d", maxLineageLimit)
	}
	if len(kinds) > maxFilterStrings || len(assetKinds) > maxFilterStrings {
		return lineage.Result{}, catalog.Errorf(catalog.Invalid, "at most %d edge kinds and %d kinds", maxFilterStrings, maxFilterStrings)
	}
	q := lineage.Query{Starts: []catalog.URN{u}, Direction: dir, Depth: depth, EdgeKinds: kinds, Kinds: assetKinds,
		Limit: limit, Paths: true, Edges: true, Assets: true}
	if at != nil {
		q.At = *at
	}
	if level != nil {
		q.Level = *level
	}
	return lineage.Traverse(ctx, r.Catalog, q)
}

func (r *Resolver) impact(ctx context.Context, u catalog.URN, depth, limit int) (lineage.ImpactReport, error) {
	if depth < 0 || depth > maxLineageDepth {
		return lineage.ImpactReport{}, catalog.Errorf(catalog.Invalid, "depth must be between 0 and %d", maxLineageDepth)
	}
	if limit < 1 || limit > maxLineageLimit {
		return lineage.ImpactReport{}, catalog.Errorf(catalog.Invalid, "limit must be between 1 and %d", maxLineageLimit)
	}
	return lineage.Impact(ctx, r.Catalog, lineage.ImpactQuery{URN: u, Depth: depth, Limit: limit})
}

func (r *Resolver) changes(ctx context.Context, after *string, first int) (model.ChangeConnection, error) {
	var out model.ChangeConnection
	if first < 0 || first > maxChangesPage {
		return out, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxChangesPage)
	}
	pos, err := model.ParseSeqCursor(after)
	if err != nil {
		return out, err
	}
	cs, err := r.Catalog.Changes(ctx, pos, first+1)
	if err != nil {
		return out, err
	}
	out.PageInfo.HasPreviousPage = pos > 0
	if len(cs) > first {
		cs = cs[:first]
		out.PageInfo.HasNextPage = true
	}
	out.Edges = make([]model.ChangeEdge, len(cs))
	for i, c := range cs {
		out.Edges[i] = model.ChangeEdge{Cursor: c.ID(), Node: c}
	}
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor = &out.Edges[0].Cursor
		out.PageInfo.EndCursor = &out.Edges[n-1].Cursor
	}
	return out, nil
}

// subscribeChanges tails the change log from after (or the head) and sends
// the entries that pass the filters. Sending blocks until the client has
// taken the previous entry, so a slow client only delays itself.
func (r *Resolver) subscribeChanges(ctx context.Context, types []string, subject string, after *string) (<-chan catalog.Change, error) {
	if len(types) > maxTypeFilters {
		return nil, catalog.Errorf(catalog.Invalid, "at most %d type filters", maxTypeFilters)
	}
	match := changeFilter(types, subject)
	pos, err := model.ParseSeqCursor(after)
	if err != nil {
		return nil, err
	}
	if after == nil {
		if pos, err = r.Catalog.LastSeq(ctx); err != nil {
			return nil, err
		}
	}
	ch := make(chan catalog.Change)
	go func() {
		defer close(ch)
		err := r.Changes.Follow(ctx, pos, func(ctx context.Context, e changelog.Entry) error {
			if !match(e) {
				return nil
			}
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err != nil && ctx.Err() == nil && r.Logger != nil {
			r.Logger.Warn("change subscription ended", "err", err)
		}
	}()
	return ch, nil
}

// changeFilter matches entries by type and subject; a pattern ending in "*"
// matches by prefix.
func changeFilter(types []string, subject string) func(catalog.Change) bool {
	matches := func(pattern, s string) bool {
		if p, ok := strings.CutSuffix(pattern, "*"); ok {
			return strings.HasPrefix(s, p)
		}
		return pattern == s
	}
	return func(c catalog.Change) bool {
		if subject != "" && !matches(subject, string(c.Subject)) {
			return false
		}
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if matches(t, string(c.Type)) {
				return true
			}
		}
		return false
	}
}

func (r *Resolver) crawl(ctx context.Context, source string) (catalog.CrawlRun, error) {
	if _, err := requireWriter(ctx); err != nil {
		return catalog.CrawlRun{}, err
	}
	if r.Crawls == nil {
		return catalog.CrawlRun{}, catalog.Errorf(catalog.NotFound, "no sources are configured")
	}
	run, err := r.Crawls.Crawl(ctx, source, "manual")
	if err != nil && run.StartedAt.IsZero() {
		return run, err // not found or already running: nothing was attempted
	}
	// A failed crawl is a recorded run, not a GraphQL error: its status and
	// errors say what went wrong.
	return run, nil
}

func (r *Resolver) crawlRuns(ctx context.Context, source string, first int) ([]catalog.CrawlRun, error) {
	if first < 1 || first > 500 {
		return nil, catalog.Errorf(catalog.Invalid, "first must be between 1 and 500")
	}
	return r.Catalog.CrawlRuns(ctx, source, first)
}

// sourceLease returns who crawls source now.
func (r *Resolver) sourceLease(ctx context.Context, source string) (*catalog.Lease, error) {
	if r.Crawls == nil {
		return nil, nil
	}
	return r.Crawls.Lease(ctx, source)
}

func (r *Resolver) sources() []crawlers.SourceStatus {
	if r.Crawls == nil {
		return []crawlers.SourceStatus{}
	}
	return r.Crawls.Sources()
}
