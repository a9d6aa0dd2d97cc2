package embedded

import (
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/watershed-data/watershed/catalog"
)

// index is the in-memory view the store rebuilds from disk at startup:
// node and edge identities with adjacency lists for traversal, per-source
// fingerprints for fast diffs, and a token index for search. Writers mutate
// it under Store.mu after their batch has committed; readers hold Store.mu
// for reading.
type index struct {
	ids     map[catalog.URN]uint32
	nodes   []node
	edgeIDs map[edgeIdent]uint32
	edges   []edge
	sources map[string]*sourceIndex

	tokens      map[string][]uint32 // token → sorted node ids
	vocab       []string            // every token; sorted when vocabSorted
	vocabSorted bool
	classes     map[string]map[uint32]struct{} // classification name → node ids

	adj      adjState // compact copy of the graph for walks (adjacency.go)
	propHeld []uint64 // node ids holding propagated attachments (attachments.go)
	// ownClasses: classification names of a node's other attachments
	// (facet tags, direct), for nodes that have any (attachments.go).
	ownClasses map[uint32][]string
	counts     map[catalog.Kind]kindCount // entity records per kind (see searchorder.go)
}

type node struct {
	urn     catalog.URN
	kind    catalog.Kind
	name    string
	record  bool // an entity record exists (else only referenced by edges)
	deleted bool
	out     []uint32 // edge ids
	in      []uint32
	tokens  []string
	classes []string
	// viaEdges are the edges whose claims name this node as Via (pair
	// edges through a connector or job); while one of them is alive the
	// node is pass-through for walks that did not start at it.
	viaEdges []uint32
}

type edgeIdent struct {
	from, to uint32
	kind     catalog.EdgeKind
}

type edge struct {
	from, to uint32
	kind     catalog.EdgeKind
	kbit     uint32 // 1 << the kind's position in catalog.EdgeKinds()
	alive    bool
	masking  bool     // some claim masks the data
	block    []string // classifications the edge blocks
	via      []uint32 // node ids the claims name as Via
	// intervals during which the edge lived, oldest first (mirrors the record)
	intervals []interval
}

// edgeKindBit returns the bit of k in a kind mask, 0 for an unknown kind.
func edgeKindBit(k catalog.EdgeKind) uint32 {
	for i, ek := range catalog.EdgeKinds() {
		if ek == k {
			return 1 << uint(i)
		}
	}
	return 0
}

// edgeKindMask returns the mask of kinds; empty kinds give the flow kinds.
func edgeKindMask(kinds []catalog.EdgeKind) uint32 {
	if len(kinds) == 0 {
		kinds = catalog.FlowEdgeKinds()
	}
	var m uint32
	for _, k := range kinds {
		m |= edgeKindBit(k)
	}
	return m
}

// passThrough reports whether node id is the Via of an edge alive at t.
func (x *index) passThrough(id uint32, t time.Time) bool {
	for _, eid := range x.nodes[id].viaEdges {
		if x.edges[eid].aliveAt(t) {
			return true
		}
	}
	return false
}

// sourceIndex fingerprints what one source asserts, so that a re-crawl can
// find the unchanged parts without touching the disk.
type sourceIndex struct {
	facets         map[uint32]uint64 // node id → facet hash
	live           map[uint32]uint64 // node id → live hash
	claims         map[uint32]uint64 // edge id → claim hash
	lastReconciled time.Time
}

func newIndex() *index {
	return &index{
		ids:     map[catalog.URN]uint32{},
		edgeIDs: map[edgeIdent]uint32{},
		sources: map[string]*sourceIndex{},
		tokens:  map[string][]uint32{},
		classes: map[string]map[uint32]struct{}{},
		counts:  map[catalog.Kind]kindCount{},
	}
}

func (x *index) source(name string) *sourceIndex {
	s := x.sources[name]
	if s == nil {
		s = &sourceIndex{facets: map[uint32]uint64{}, live: map[uint32]uint64{}, claims: map[uint32]uint64{}}
		x.sources[name] = s
	}
	return s
}

// nodeID returns the id of u, adding a referenced-only node if needed.
func (x *index) nodeID(u catalog.URN) uint32 {
	id, added := x.addNode(u)
	if added {
		x.setTokens(id, tokensOf(u, x.nodes[id].name, ""))
	}
	return id
}

// addNode returns the id of u, adding a node without search tokens if needed.
func (x *index) addNode(u catalog.URN) (uint32, bool) {
	if id, ok := x.ids[u]; ok {
		return id, false
	}
	id := uint32(len(x.nodes))
	x.ids[u] = id
	x.nodes = append(x.nodes, node{urn: u, kind: u.Kind(), name: u.DisplayName()})
	x.adjNodeChanged(id)
	return id, true
}

// hasRecord reports whether an entity record exists for u.
func (x *index) hasRecord(u catalog.URN) bool {
	id, ok := x.ids[u]
	return ok && x.nodes[id].record
}

// isDeleted reports whether u's record is a tombstone.
func (x *index) isDeleted(u catalog.URN) bool {
	id, ok := x.ids[u]
	return ok && x.nodes[id].deleted
}

// putEntity refreshes the node of r after r was committed.
func (x *index) putEntity(r *entityRecord) { x.putEntityTokens(r, true) }

// putEntityTokens is putEntity that recomputes the search tokens only when
// asked (the name or description may have changed).
func (x *index) putEntityTokens(r *entityRecord, tokens bool) {
	id, added := x.addNode(r.URN)
	n := &x.nodes[id]
	x.count(n, -1)
	n.record = true
	if d := !r.alive(); d != n.deleted {
		n.deleted = d
		x.adjNodeChanged(id)
	}
	x.count(n, 1)
	if name := r.displayName(); tokens || added || n.name != name {
		n.name = name
		x.setTokens(id, tokensOf(r.URN, n.name, r.effectiveDescription()))
	}
	x.setClasses(id, r.classNames())
	for src, s := range x.sources {
		if _, ok := r.Facets[src]; !ok {
			delete(s.facets, id)
		}
	}
	for src, f := range r.Facets {
		x.source(src).facets[id] = facetHash(f)
	}
}

// putEdge refreshes the edge of r after r was committed.
func (x *index) putEdge(r *edgeRecord) {
	from, to := x.nodeID(r.From), x.nodeID(r.To)
	ident := edgeIdent{from: from, to: to, kind: r.Kind}
	id, ok := x.edgeIDs[ident]
	added := !ok
	if !ok {
		id = uint32(len(x.edges))
		x.edgeIDs[ident] = id
		x.edges = append(x.edges, edge{from: from, to: to, kind: r.Kind, kbit: edgeKindBit(r.Kind)})
		x.nodes[from].out = append(x.nodes[from].out, id)
		x.nodes[to].in = append(x.nodes[to].in, id)
	}
	e := &x.edges[id]
	before := slotFlags(e)
	e.alive = r.alive()
	e.intervals = append(e.intervals[:0], r.Alive...)
	e.block = append(e.block[:0], r.Block...)
	e.masking = false
	var via []uint32
	for _, c := range r.Claims {
		e.masking = e.masking || c.Masking
		for _, v := range c.Via {
			vid := x.nodeID(v)
			if !slices.Contains(via, vid) {
				via = append(via, vid)
			}
		}
	}
	// A dead edge has no claims; it keeps naming its last Via nodes, which
	// time travel needs. Keep the nodes' back references in step.
	if !e.alive && len(via) == 0 {
		via = e.via
	}
	for _, old := range e.via {
		if !slices.Contains(via, old) {
			x.nodes[old].viaEdges = removeID(x.nodes[old].viaEdges, id)
			x.adjNodeChanged(old)
		}
	}
	for _, v := range via {
		if !slices.Contains(e.via, v) {
			x.nodes[v].viaEdges = append(x.nodes[v].viaEdges, id)
			x.adjNodeChanged(v)
		}
	}
	e.via = via
	x.adjEdgeChanged(id, added, before)
	for src, s := range x.sources {
		if _, ok := r.Claims[src]; !ok {
			delete(s.claims, id)
		}
	}
	for src, c := range r.Claims {
		x.source(src).claims[id] = claimHash(c)
	}
}

func (x *index) edgeID(k catalog.EdgeKey) (uint32, bool) {
	from, ok := x.ids[k.From]
	if !ok {
		return 0, false
	}
	to, ok := x.ids[k.To]
	if !ok {
		return 0, false
	}
	id, ok := x.edgeIDs[edgeIdent{from: from, to: to, kind: k.Kind}]
	return id, ok
}

func (x *index) edgeKeyOf(id uint32) catalog.EdgeKey {
	e := x.edges[id]
	return catalog.EdgeKey{From: x.nodes[e.from].urn, Kind: e.kind, To: x.nodes[e.to].urn}
}

// aliveAt reports whether edge e existed at t (zero t: now).
func (e *edge) aliveAt(t time.Time) bool {
	if t.IsZero() {
		return e.alive
	}
	for _, iv := range e.intervals {
		if !t.Before(iv.From) && (iv.To.IsZero() || t.Before(iv.To)) {
			return true
		}
	}
	return false
}

func (x *index) setClasses(id uint32, names []string) {
	n := &x.nodes[id]
	for _, c := range n.classes {
		if set := x.classes[c]; set != nil {
			delete(set, id)
			if len(set) == 0 {
				delete(x.classes, c)
			}
		}
	}
	n.classes = names
	for _, c := range names {
		set := x.classes[c]
		if set == nil {
			set = map[uint32]struct{}{}
			x.classes[c] = set
		}
		set[id] = struct{}{}
	}
}

func (x *index) setTokens(id uint32, toks []string) {
	n := &x.nodes[id]
	if slices.Equal(n.tokens, toks) {
		return
	}
	for _, t := range n.tokens {
		x.tokens[t] = removeSorted(x.tokens[t], id)
		if len(x.tokens[t]) == 0 {
			delete(x.tokens, t)
			x.vocabSorted = false // removal is applied lazily on the next sort
		}
	}
	for _, t := range toks {
		list, existed := x.tokens[t]
		if !existed {
			x.vocab = append(x.vocab, t)
			x.vocabSorted = false
		}
		x.tokens[t] = insertSorted(list, id)
	}
	n.tokens = toks
}

// sortedVocab returns the sorted list of live tokens.
func (x *index) sortedVocab() []string {
	if !x.vocabSorted {
		live := x.vocab[:0]
		seen := make(map[string]struct{}, len(x.vocab))
		for _, t := range x.vocab {
			if _, ok := x.tokens[t]; !ok {
				continue
			}
			if _, dup := seen[t]; dup {
				continue
			}
			seen[t] = struct{}{}
			live = append(live, t)
		}
		sort.Strings(live)
		x.vocab = live
		x.vocabSorted = true
	}
	return x.vocab
}

// tokensOf returns the search tokens of an entity: the lower-cased name, the
// words of its name, its URN identity and its description.
func tokensOf(u catalog.URN, name, desc string) []string {
	set := map[string]struct{}{}
	add := func(s string) {
		if s != "" && len(s) <= 200 {
			set[s] = struct{}{}
		}
	}
	lname := strings.ToLower(name)
	add(lname)
	for _, w := range words(lname) {
		add(w)
	}
	for _, w := range words(strings.ToLower(u.Identity())) {
		add(w)
	}
	for i, w := range words(strings.ToLower(desc)) {
		if i >= 64 {
			break
		}
		add(w)
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// words splits s on anything that is not a letter or digit.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func insertSorted(list []uint32, id uint32) []uint32 {
	if n := len(list); n == 0 || list[n-1] < id {
		return append(list, id)
	}
	i := sort.Search(len(list), func(i int) bool { return list[i] >= id })
	if i < len(list) && list[i] == id {
		return list
	}
	list = append(list, 0)
	copy(list[i+1:], list[i:])
	list[i] = id
	return list
}

func removeSorted(list []uint32, id uint32) []uint32 {
	i := sort.Search(len(list), func(i int) bool { return list[i] >= id })
	if i < len(list) && list[i] == id {
		return append(list[:i], list[i+1:]...)
	}
	return list
}

func removeID(list []uint32, id uint32) []uint32 {
	for i, x := range list {
		if x == id {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}
