package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// MaxChangesPerRead bounds one Changes call.
const MaxChangesPerRead = 10000

// Entity returns the merged view of u. A URN that only crawled edges
// reference (no source asserts it yet) yields an entity with no Sources.
func (s *Store) Entity(ctx context.Context, u catalog.URN) (catalog.Entity, error) {
	if err := s.enter(); err != nil {
		return catalog.Entity{}, err
	}
	defer s.leave()
	return s.entity(u)
}

func (s *Store) entity(u catalog.URN) (catalog.Entity, error) {
	if err := u.Validate(); err != nil {
		return catalog.Entity{}, err
	}
	var r entityRecord
	found, err := s.get(entityKey(u), &r)
	if err != nil {
		return catalog.Entity{}, err
	}
	if found {
		if err := s.withPropagated(&r); err != nil {
			return catalog.Entity{}, err
		}
	}
	s.mu.RLock()
	_, referenced := s.idx.ids[u]
	s.mu.RUnlock()
	if !found {
		if referenced {
			return catalog.Entity{URN: u, Kind: u.Kind(), Name: u.DisplayName()}, nil
		}
		return catalog.Entity{}, catalog.Errorf(catalog.NotFound, "no asset %s", u)
	}
	live, err := s.liveOf(u)
	if err != nil {
		return catalog.Entity{}, err
	}
	return r.view(live, s.defsSnapshot(nil)), nil
}

func (s *Store) liveOf(u catalog.URN) (map[string]catalog.Properties, error) {
	var out map[string]catalog.Properties
	p := liveKeyPrefix(u)
	err := s.scan(p, func(k, v []byte) error {
		props, err := catalog.DecodeProperties(v)
		if err != nil {
			return fmt.Errorf("decode live readings of %s: %w", u, err)
		}
		if out == nil {
			out = map[string]catalog.Properties{}
		}
		out[string(k[len(p):])] = props
		return nil
	})
	return out, err
}

// Entities returns the entities of urns in order; unknown URNs yield zero
// entities.
func (s *Store) Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	return s.entities(urns)
}

func (s *Store) entities(urns []catalog.URN) ([]catalog.Entity, error) {
	out := make([]catalog.Entity, len(urns))
	for i, u := range urns {
		e, err := s.entity(u)
		switch {
		case err == nil:
			out[i] = e
		case catalog.IsNotFound(err) || catalog.KindOf(err) == catalog.Invalid:
		default:
			return nil, err
		}
	}
	return out, nil
}

// Edges returns the edges touching q.URN.
func (s *Store) Edges(ctx context.Context, q catalog.EdgeQuery) ([]catalog.Edge, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if err := q.URN.Validate(); err != nil {
		return nil, err
	}
	kinds := edgeKindSet(q.Kinds)
	var keys []catalog.EdgeKey
	lastSeen := map[string]time.Time{}
	s.mu.RLock()
	if id, ok := s.idx.ids[q.URN]; ok {
		n := s.idx.nodes[id]
		collect := func(ids []uint32) {
			for _, eid := range ids {
				e := &s.idx.edges[eid]
				if kinds != nil && !kinds[e.kind] {
					continue
				}
				if !q.At.IsZero() {
					if !e.aliveAt(q.At) {
						continue
					}
				} else if !e.alive && !q.IncludeDeleted {
					continue
				}
				keys = append(keys, s.idx.edgeKeyOf(eid))
			}
		}
		if q.Direction == catalog.Downstream || q.Direction == catalog.Both {
			collect(n.out)
		}
		if q.Direction == catalog.Upstream || q.Direction == catalog.Both {
			collect(n.in)
		}
	}
	for name, si := range s.idx.sources {
		lastSeen[name] = si.lastReconciled
	}
	s.mu.RUnlock()
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	out := make([]catalog.Edge, 0, len(keys))
	for _, k := range keys {
		var r edgeRecord
		found, err := s.get(edgeKey(k), &r)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		// A write may have tombstoned the edge since the index was read.
		if q.At.IsZero() && !q.IncludeDeleted && !r.alive() {
			continue
		}
		out = append(out, r.view(func(src string) time.Time {
			if r.Claims[src] == nil {
				return time.Time{}
			}
			return lastSeen[src]
		}))
	}
	return out, nil
}

func keyLess(a, b catalog.EdgeKey) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.To < b.To
}

func edgeKindSet(kinds []catalog.EdgeKind) map[catalog.EdgeKind]bool {
	if len(kinds) == 0 {
		return nil
	}
	m := make(map[catalog.EdgeKind]bool, len(kinds))
	for _, k := range kinds {
		m[k] = true
	}
	return m
}

// Search finds entities. Every word of q.Text must match one of an entity's
// tokens exactly or as a prefix. Results rank exact name matches first, then
// entities whose name (rather than only URN or description) matches, then by
// kind order, name and URN. A search without text costs its page, not the
// catalog (see browse).
func (s *Store) Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error) {
	if err := s.enter(); err != nil {
		return catalog.SearchResult{}, err
	}
	defer s.leave()
	for _, k := range q.Kinds {
		if !k.Valid() {
			return catalog.SearchResult{}, catalog.Errorf(catalog.Invalid, "unknown kind %q", k)
		}
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 1000
	}
	if q.Offset < 0 {
		return catalog.SearchResult{}, catalog.Errorf(catalog.Invalid, "negative offset")
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	qwords := words(text)
	kindRank := map[catalog.Kind]int{}
	for i, k := range catalog.Kinds() {
		kindRank[k] = i
	}
	wantKind := map[catalog.Kind]bool{}
	for _, k := range q.Kinds {
		wantKind[k] = true
	}

	type hit struct {
		id    uint32
		score int
	}
	var hits []hit
	s.lockForSearch()
	if len(qwords) == 0 {
		page, total, err := s.browse(q, wantKind, browseSortMax)
		s.mu.RUnlock()
		if err != nil {
			return catalog.SearchResult{}, err
		}
		ents, err := s.entities(page)
		if err != nil {
			return catalog.SearchResult{}, err
		}
		return catalog.SearchResult{Entities: ents, Total: total}, nil
	}
	x := s.idx
	var cands map[uint32]int // id → score
	vocab := x.vocab         // sorted: lockForSearch made sure
	for wi, w := range qwords {
		matched := map[uint32]int{}
		i := sort.SearchStrings(vocab, w)
		for ; i < len(vocab) && strings.HasPrefix(vocab[i], w); i++ {
			tok := vocab[i]
			sc := 1
			if tok == w {
				sc = 2
			}
			for _, id := range x.tokens[tok] {
				if matched[id] < sc {
					matched[id] = sc
				}
			}
		}
		if wi == 0 {
			cands = matched
		} else {
			for id, sc := range cands {
				if m, ok := matched[id]; ok {
					cands[id] = sc + m
				} else {
					delete(cands, id)
				}
			}
		}
		if len(cands) == 0 {
			break
		}
	}
	keep := func(id uint32) bool {
		n := &x.nodes[id]
		if !n.record || (n.deleted && !q.IncludeDeleted) {
			return false
		}
		if len(wantKind) > 0 && !wantKind[n.kind] {
			return false
		}
		for _, c := range q.Classifications {
			ok := false
			for _, have := range n.classes {
				if catalog.ClassificationWithin(have, c) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	for id, sc := range cands {
		if !keep(id) {
			continue
		}
		name := strings.ToLower(x.nodes[id].name)
		switch {
		case name == text:
			sc += 100
		case strings.HasPrefix(name, text):
			sc += 50
		case strings.Contains(name, text):
			sc += 20
		}
		hits = append(hits, hit{id: id, score: sc})
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := &x.nodes[hits[i].id], &x.nodes[hits[j].id]
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		if kindRank[a.kind] != kindRank[b.kind] {
			return kindRank[a.kind] < kindRank[b.kind]
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.urn < b.urn
	})
	total := len(hits)
	var page []catalog.URN
	for i := q.Offset; i < total && len(page) < q.Limit; i++ {
		page = append(page, x.nodes[hits[i].id].urn)
	}
	s.mu.RUnlock()
	ents, err := s.entities(page)
	if err != nil {
		return catalog.SearchResult{}, err
	}
	return catalog.SearchResult{Entities: ents, Total: total}, nil
}

// Traverse walks the in-memory graph breadth-first under a read lock, so
// the walk sees one consistent graph, and reports the log position it saw.
// A walk of the present runs over the compact adjacency (adjacency.go); a
// walk into the past (At) over the index's lists and alive intervals. Either
// way edges are tested by kind bit, flags and integer ids and visited nodes
// are marked in pooled scratch space, so a hop allocates nothing.
func (s *Store) Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error) {
	return s.traverse(ctx, q, q.At.IsZero(), nil)
}

// CountTraverse is Traverse of q counted: it returns the number of reached
// nodes per kind (the kinds of Traverse's Nodes, counted) and, as the
// Traversal's Nodes, only the first page reached nodes of each kind in
// Traverse's order, with the same depths and Via edges; Seq and Truncated
// are Traverse's. q.Edges is ignored (no edges are returned). A walk of
// the present runs over the adjacency and allocates for the page only,
// not for the closure; a walk of the past counts Traverse's answer.
func (s *Store) CountTraverse(ctx context.Context, q catalog.TraverseQuery, page int) (catalog.Traversal, map[catalog.Kind]int, error) {
	if page < 0 {
		return catalog.Traversal{}, nil, catalog.Errorf(catalog.Invalid, "count traverse: page must not be negative")
	}
	q.Edges = false
	cnt := &reachCount{page: page}
	if !q.At.IsZero() {
		tr, err := s.traverse(ctx, q, false, nil)
		if err != nil {
			return catalog.Traversal{}, nil, err
		}
		cnt.counts = map[catalog.Kind]int{}
		per := map[catalog.Kind]int{}
		kept := tr.Nodes[:0]
		for _, n := range tr.Nodes {
			cnt.counts[n.Kind]++
			if per[n.Kind] < page {
				per[n.Kind]++
				kept = append(kept, n)
			}
		}
		tr.Nodes = kept
		if len(kept) == 0 {
			tr.Nodes = nil
		}
		return tr, cnt.counts, nil
	}
	tr, err := s.traverse(ctx, q, true, cnt)
	if err != nil {
		return catalog.Traversal{}, nil, err
	}
	return tr, cnt.counts, nil
}

// traverse is Traverse over the adjacency when compact is set (only for
// walks of the present), else over the index's lists.
// With cnt set (compact only) it counts instead (see CountTraverse).
func (s *Store) traverse(ctx context.Context, q catalog.TraverseQuery, compact bool, cnt *reachCount) (catalog.Traversal, error) {
	var out catalog.Traversal
	starts := q.StartURNs()
	if len(starts) == 0 {
		return out, catalog.Errorf(catalog.Invalid, "traverse: no start")
	}
	for _, u := range starts {
		if err := u.Validate(); err != nil {
			return out, err
		}
	}
	if q.Direction != catalog.Downstream && q.Direction != catalog.Upstream {
		return out, catalog.Errorf(catalog.Invalid, "traverse: direction must be downstream or upstream")
	}
	for _, k := range q.EdgeKinds {
		if !k.Valid() {
			return out, catalog.Errorf(catalog.Invalid, "traverse: unknown edge kind %q", k)
		}
	}
	var nodeKinds map[catalog.Kind]bool
	if len(q.NodeKinds) > 0 {
		nodeKinds = make(map[catalog.Kind]bool, len(q.NodeKinds))
		for _, k := range q.NodeKinds {
			nodeKinds[k] = true
		}
	}
	var stopKinds map[catalog.Kind]bool
	if len(q.StopKinds) > 0 {
		stopKinds = make(map[catalog.Kind]bool, len(q.StopKinds))
		for _, k := range q.StopKinds {
			stopKinds[k] = true
		}
	}
	mask := edgeKindMask(q.EdgeKinds)
	flow := edgeKindMask(nil)
	if err := s.enter(); err != nil {
		return out, err
	}
	defer s.leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	x := s.idx
	passesMasking := false
	if q.Carrying != "" {
		if err := catalog.ValidClassificationName(q.Carrying); err != nil {
			return out, err
		}
		passesMasking = s.defs[q.Carrying].PassesMasking
	}
	out.Seq = s.head
	ids := make([]uint32, 0, len(starts))
	for _, u := range starts {
		id, ok := x.ids[u]
		if !ok {
			return catalog.Traversal{}, catalog.Errorf(catalog.NotFound, "no asset %s", u)
		}
		if q.LiveOnly && x.nodes[id].deleted {
			continue // a tombstone starts nothing
		}
		ids = append(ids, id)
	}
	if compact {
		w := walkSpec{
			down: q.Direction == catalog.Downstream, maxDepth: q.MaxDepth, limit: q.Limit, edges: q.Edges, noVia: q.NoVia,
			liveOnly: q.LiveOnly, mask: mask, flow: flow, nodeKinds: kindBits(q.NodeKinds),
			stopKinds: kindBits(q.StopKinds), carrying: q.Carrying, passesMasking: passesMasking,
		}
		if err := s.walkAdjacency(ctx, x, x.adjacency(), w, ids, &out, cnt); err != nil {
			return catalog.Traversal{}, err
		}
		return out, nil
	}
	if err := s.walkIndex(ctx, x, q, ids, nodeKinds, stopKinds, mask, flow, passesMasking, &out); err != nil {
		return catalog.Traversal{}, err
	}
	return out, nil
}

// walkIndex is Traverse over the index's own lists: the walk into the past
// (edges alive at q.At), and the reference the adjacency walk must match.
func (s *Store) walkIndex(ctx context.Context, x *index, q catalog.TraverseQuery, starts []uint32,
	nodeKinds, stopKinds map[catalog.Kind]bool, mask, flow uint32, passesMasking bool, out *catalog.Traversal) error {
	v := s.visits.get(len(x.nodes))
	defer s.visits.put(v)
	frontier := make([]uint32, 0, len(starts))
	for _, id := range starts {
		if v.visit(id) {
			frontier = append(frontier, id)
		}
	}
	isStart := len(frontier)
	var next []uint32
	for d := 1; len(frontier) > 0 && (q.MaxDepth <= 0 || d <= q.MaxDepth); d++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		next = next[:0]
		for i, id := range frontier {
			n := &x.nodes[id]
			adj := n.out
			if q.Direction == catalog.Upstream {
				adj = n.in
			}
			// A pass-through node reached by the walk stops the flow: its
			// pair edges carry the data across it.
			through := d > 1 || i >= isStart
			pass := through && len(n.viaEdges) > 0 && x.passThrough(id, q.At)
			for _, eid := range adj {
				e := &x.edges[eid]
				if e.kbit&mask == 0 || !e.aliveAt(q.At) {
					continue
				}
				if pass && e.kbit&flow != 0 {
					continue
				}
				if q.Carrying != "" && blocks(e, q.Carrying, passesMasking) {
					continue
				}
				other := e.to
				if q.Direction == catalog.Upstream {
					other = e.from
				}
				if nodeKinds != nil && !nodeKinds[x.nodes[other].kind] {
					continue
				}
				if q.LiveOnly && x.nodes[other].deleted {
					continue
				}
				if v.seen(other) {
					if q.Edges {
						out.Edges = append(out.Edges, x.edgeKeyOf(eid))
					}
					continue
				}
				if q.Limit > 0 && len(out.Nodes) >= q.Limit {
					out.Truncated = true
					return nil
				}
				v.visit(other)
				on := &x.nodes[other]
				out.Nodes = append(out.Nodes, catalog.Reached{URN: on.urn, Kind: on.kind, Depth: d, Via: x.edgeKeyOf(eid)})
				if q.Edges {
					out.Edges = append(out.Edges, x.edgeKeyOf(eid))
				}
				if stopKinds != nil && stopKinds[on.kind] {
					continue // reached, not walked from
				}
				next = append(next, other)
			}
		}
		frontier, next = next, frontier
		isStart = 0
	}
	return nil
}

// blocks reports whether e stops classification c (see catalog.Edge.Blocks).
func blocks(e *edge, c string, passesMasking bool) bool {
	if e.masking && !passesMasking {
		return true
	}
	for _, b := range e.block {
		if catalog.ClassificationWithin(c, b) {
			return true
		}
	}
	return false
}

// EdgesByKey returns the edges of keys in order; unknown keys yield zero
// edges.
func (s *Store) EdgesByKey(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	lastSeen := map[string]time.Time{}
	s.mu.RLock()
	for name, si := range s.idx.sources {
		lastSeen[name] = si.lastReconciled
	}
	s.mu.RUnlock()
	out := make([]catalog.Edge, len(keys))
	for i, k := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if k.Validate() != nil {
			continue
		}
		var r edgeRecord
		found, err := s.get(edgeKey(k), &r)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		out[i] = r.view(func(src string) time.Time {
			if r.Claims[src] == nil {
				return time.Time{}
			}
			return lastSeen[src]
		})
	}
	return out, nil
}

// Scan pages through the live entities of kind in URN order, reading the
// entity keyspace from after onwards; see catalog.Reader.
func (s *Store) Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error) {
	if !kind.Valid() {
		return nil, "", catalog.Errorf(catalog.Invalid, "scan: unknown kind %q", kind)
	}
	if limit <= 0 {
		return nil, "", catalog.Errorf(catalog.Invalid, "scan: limit must be positive")
	}
	if err := s.enter(); err != nil {
		return nil, "", err
	}
	defer s.leave()
	prefix := entityKey(catalog.URN("urn:" + kind.Scheme() + ":"))
	lower := prefix
	if after != "" {
		if !strings.HasPrefix(string(after), "urn:"+kind.Scheme()+":") {
			return nil, "", catalog.Errorf(catalog.Invalid, "scan: cursor %s is not a %s URN", after, kind)
		}
		lower = append(entityKey(after), 0) // the smallest key after it
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, "", fmt.Errorf("open iterator: %w", err)
	}
	defer it.Close()
	defs := s.defsSnapshot(nil)
	var out []catalog.Entity
	var last catalog.URN
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return nil, "", err
		}
		if len(out) == limit {
			return out, last, nil
		}
		var r entityRecord
		if err := json.Unmarshal(it.Value(), &r); err != nil {
			return nil, "", fmt.Errorf("decode entity %q: %w", it.Key(), err)
		}
		if !r.alive() || r.URN.Kind() != kind {
			continue
		}
		if err := s.withPropagated(&r); err != nil {
			return nil, "", err
		}
		live, err := s.liveOf(r.URN)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r.view(live, defs))
		last = r.URN
	}
	if err := it.Error(); err != nil {
		return nil, "", fmt.Errorf("scan %s: %w", kind, err)
	}
	return out, "", nil
}

// Changes returns up to limit changes after the given sequence number.
// Only changes whose effects are already visible to readers are returned:
// a change committed to disk but not yet published to the indexes waits.
func (s *Store) Changes(ctx context.Context, after uint64, limit int) ([]catalog.Change, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if limit <= 0 || limit > MaxChangesPerRead {
		limit = MaxChangesPerRead
	}
	s.mu.RLock()
	head := s.head
	s.mu.RUnlock()
	if after >= head {
		return nil, nil
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: changeKey(after + 1), UpperBound: changeKey(head + 1)})
	if err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "open change iterator: %w", err)
	}
	defer it.Close()
	var out []catalog.Change
	for it.First(); it.Valid() && len(out) < limit; it.Next() {
		var c changeRecord
		if err := json.Unmarshal(it.Value(), &c); err != nil {
			return nil, fmt.Errorf("decode change %x: %w", it.Key(), err)
		}
		out = append(out, c.public())
	}
	if err := it.Error(); err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "read changes: %w", err)
	}
	return out, nil
}

// LastSeq returns the newest change's sequence number.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, catalog.ErrClosed
	}
	return s.head, nil
}

// Classifications returns the definitions sorted by name.
func (s *Store) Classifications(ctx context.Context) ([]catalog.ClassificationDef, error) {
	defs := s.defsSnapshot(nil)
	out := make([]catalog.ClassificationDef, 0, len(defs))
	for _, d := range defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CrawlRuns returns crawl runs, newest first.
func (s *Store) CrawlRuns(ctx context.Context, source string, limit int) ([]catalog.CrawlRun, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	if limit <= 0 {
		limit = 100
	}
	prefix := []byte{prefixRun}
	if source != "" {
		prefix = append(append(prefix, source...), 0)
	}
	var out []catalog.CrawlRun
	err := s.scan(prefix, func(k, v []byte) error {
		if source != "" && len(out) >= limit {
			return nil
		}
		var r runRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode crawl run: %w", err)
		}
		out = append(out, catalog.CrawlRun{
			Source: r.Source, Kind: r.Kind, Trigger: r.Trigger, Status: r.Status, StartedAt: r.StartedAt,
			Duration: r.Duration, Counts: r.Counts, Result: r.Result, Errors: r.Errors,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartedAt.After(out[j].StartedAt) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// lockForSearch read-locks the index with its vocabulary sorted. Sorting
// needs the write lock, but only after writes added tokens; searches then
// run concurrently under the read lock.
func (s *Store) lockForSearch() {
	for {
		s.mu.RLock()
		if s.idx.vocabSorted {
			return
		}
		s.mu.RUnlock()
		s.mu.Lock()
		s.idx.sortedVocab()
		s.mu.Unlock()
	}
}
