package embedded

import (
	"context"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// adjacency is a compact copy of the index's graph for walks of the
// present: both directions as CSR arrays (per node an offset into one flat
// array of neighbour ids, with one flag byte per edge slot: kind, alive,
// "look closer" for Carrying) and one flag byte per node (kind, tombstone,
// pass-through candidate). A walk over it touches a few flat arrays and a
// visited bitset and allocates nothing per hop.
//
// Nodes are renumbered for locality: CSR ids ("local" ids) are the order
// of a breadth-first walk downstream from the nodes of highest out-degree,
// so the nodes a walk reaches at one depth, and their rows, lie together
// in the flat arrays instead of scattered over them (a closure of a hub
// streams through memory instead of missing the cache at every hop).
// perm and inv translate between the index's ids and local ids for the
// nodes of the build; nodes added since keep their index id as local id.
// Rows keep their edges in edge-id order, so the walk's answer does not
// depend on the numbering.
//
// It is kept exact with every commit without rewriting it: a writer that
// adds or changes an edge marks both ends dirty, and a walk reads the
// adjacency of a dirty node (or one added since the build) from the index
// instead, which is always current. Node flags are updated in place.
// When too much is dirty, the next walk rebuilds it from the index.
//
// Writers call the hooks under Store.mu held for writing; walks read it
// under Store.mu held for reading, so a built adjacency only changes while
// no walk runs. A rebuild happens under the read lock (the index cannot
// change then) and is published atomically; adjState.mu keeps two walks
// from building at once.
type adjacency struct {
	n int // nodes [0,n) have CSR rows

	perm, inv []uint32 // index id → local id, local id → index id, over [0,n)

	outOff, inOff []uint32 // len n+1: row i is [off[i], off[i+1])
	outTo, inTo   []uint32 // the other end of each slot
	outF, inF     []uint8  // slot flags: edge kind index | slotAlive | slotSpecial

	// nodeF holds the flags of every node of the index (also those added
	// since the build): kind index | nodeDeleted | nodeHasVia; urns their
	// URNs, densely, for turning reached ids into answers.
	nodeF []uint8
	urns  []catalog.URN

	dirty      []uint64 // bitset over local ids [0,n): the node's edges changed since the build
	dirtyCount int
}

// Slot flags.
const (
	slotKindMask = 0x0f
	slotAlive    = 0x10
	// slotSpecial: the edge masks data or has a block list, so a walk
	// carrying a classification must look at the edge itself.
	slotSpecial = 0x20
)

// Node flags.
const (
	nodeKindMask = 0x1f
	nodeDeleted  = 0x20
	nodeHasVia   = 0x40 // some edge names the node as Via (maybe pass-through)
)

// kindTable lists the entity kinds by index; index nodeKindMask is an
// unknown kind. edgeKindTable lists the edge kinds by index. Both are
// read-only.
var (
	kindTable     = catalog.Kinds()
	edgeKindTable = catalog.EdgeKinds()
)

// kindIndex returns the index of k in kindTable, nodeKindMask if unknown.
func kindIndex(k catalog.Kind) uint8 {
	for i, have := range kindTable {
		if have == k {
			return uint8(i)
		}
	}
	return nodeKindMask
}

// edgeKindIndex returns the index of k in edgeKindTable (its bit position in
// a kind mask), slotKindMask if unknown.
func edgeKindIndex(k catalog.EdgeKind) uint8 {
	for i, have := range edgeKindTable {
		if have == k {
			return uint8(i)
		}
	}
	return slotKindMask
}

// kindOf returns the kind of node flags f.
func kindOf(f uint8) catalog.Kind {
	if i := int(f & nodeKindMask); i < len(kindTable) {
		return kindTable[i]
	}
	return ""
}

// adjState holds an index's adjacency.
type adjState struct {
	cur atomic.Pointer[adjacency]
	mu  sync.Mutex // serialises builds
}

// nodeFlags computes the flags of node id from the index.
func (x *index) nodeFlags(id uint32) uint8 {
	n := &x.nodes[id]
	f := kindIndex(n.kind)
	if n.deleted {
		f |= nodeDeleted
	}
	if len(n.viaEdges) > 0 {
		f |= nodeHasVia
	}
	return f
}

// slotFlags computes the slot flags of edge e.
func slotFlags(e *edge) uint8 {
	f := edgeKindIndex(e.kind)
	if e.alive {
		f |= slotAlive
	}
	if e.masking || len(e.block) > 0 {
		f |= slotSpecial
	}
	return f
}

// adjNodeChanged is the writers' hook for a node added or changed (kind,
// tombstone, Via references).
func (x *index) adjNodeChanged(id uint32) {
	a := x.adj.cur.Load()
	if a == nil {
		return
	}
	f := x.nodeFlags(id)
	for int(id) >= len(a.nodeF) {
		a.nodeF = append(a.nodeF, 0)
		a.urns = append(a.urns, x.nodes[len(a.urns)].urn)
	}
	a.nodeF[a.local(id)] = f
}

// local returns the local id of index id id.
func (a *adjacency) local(id uint32) uint32 {
	if int(id) < a.n {
		return a.perm[id]
	}
	return id
}

// global returns the index id of local id i.
func (a *adjacency) global(i uint32) uint32 {
	if int(i) < a.n {
		return a.inv[i]
	}
	return i
}

// adjEdgeChanged is the writers' hook for an edge put: when it was added or
// its slot flags differ from before, its ends walk through the index until
// the next rebuild.
func (x *index) adjEdgeChanged(id uint32, added bool, before uint8) {
	a := x.adj.cur.Load()
	if a == nil {
		return
	}
	e := &x.edges[id]
	if !added && slotFlags(e) == before {
		return
	}
	a.markDirty(e.from)
	a.markDirty(e.to)
}

// markDirty marks index id id's rows stale.
func (a *adjacency) markDirty(id uint32) {
	if int(id) >= a.n {
		return
	}
	id = a.perm[id]
	w, b := id/64, uint64(1)<<(id%64)
	if a.dirty[w]&b == 0 {
		a.dirty[w] |= b
		a.dirtyCount++
	}
}

// clean reports whether local id id's CSR rows are current.
func (a *adjacency) clean(id uint32) bool {
	return int(id) < a.n && a.dirty[id/64]&(1<<(id%64)) == 0
}

// stale reports whether a is worth rebuilding for index x: more than a
// sixteenth of the nodes walk through the index.
func (a *adjacency) stale(x *index) bool {
	slow := a.dirtyCount + len(x.nodes) - a.n
	return slow > 256 && slow > a.n/16
}

// adjacency returns x's adjacency, building it when missing or stale. The
// caller holds Store.mu for reading (or writing).
func (x *index) adjacency() *adjacency {
	if a := x.adj.cur.Load(); a != nil && !a.stale(x) {
		return a
	}
	x.adj.mu.Lock()
	defer x.adj.mu.Unlock()
	if a := x.adj.cur.Load(); a != nil && !a.stale(x) {
		return a
	}
	a := buildAdjacency(x)
	x.adj.cur.Store(a)
	return a
}

// buildAdjacency builds the CSR of x's current graph, renumbered by
// localOrder. Rows list a node's edges in edge-id order, the order of the
// index's lists, so a walk over either visits edges in the same order.
func buildAdjacency(x *index) *adjacency {
	n, m := len(x.nodes), len(x.edges)
	a := &adjacency{
		n:      n,
		outOff: make([]uint32, n+1), inOff: make([]uint32, n+1),
		outTo: make([]uint32, m), inTo: make([]uint32, m),
		outF: make([]uint8, m), inF: make([]uint8, m),
		nodeF: make([]uint8, n, n+n/8), urns: make([]catalog.URN, n, n+n/8),
		dirty: make([]uint64, (n+63)/64),
	}
	a.inv = localOrder(x)
	a.perm = make([]uint32, n)
	for i, id := range a.inv {
		a.perm[id] = uint32(i)
	}
	perm := a.perm
	for i := range x.edges {
		e := &x.edges[i]
		a.outOff[perm[e.from]+1]++
		a.inOff[perm[e.to]+1]++
	}
	for i := 0; i < n; i++ {
		a.outOff[i+1] += a.outOff[i]
		a.inOff[i+1] += a.inOff[i]
		id := a.inv[i]
		a.nodeF[i] = x.nodeFlags(id)
		a.urns[i] = x.nodes[id].urn
	}
	outPos := make([]uint32, n)
	inPos := make([]uint32, n)
	copy(outPos, a.outOff[:n])
	copy(inPos, a.inOff[:n])
	for i := range x.edges {
		e := &x.edges[i]
		f := slotFlags(e)
		from, to := perm[e.from], perm[e.to]
		p := outPos[from]
		a.outTo[p], a.outF[p] = to, f
		outPos[from]++
		p = inPos[to]
		a.inTo[p], a.inF[p] = from, f
		inPos[to]++
	}
	return a
}

// localOrder returns x's node ids in the order of the adjacency's local
// ids: breadth-first downstream (over every edge) from each node not yet
// reached, taking the nodes by out-degree, highest first (ties by id).
// Walks downstream — impact, propagation — start at sources and spread
// level by level, and this order puts each level's nodes next to each
// other. It takes O(nodes + edges) besides sorting the nodes by degree.
func localOrder(x *index) []uint32 {
	n := len(x.nodes)
	// Counting sort by out-degree, highest first.
	maxDeg := 0
	for i := range x.nodes {
		maxDeg = max(maxDeg, len(x.nodes[i].out))
	}
	start := make([]uint32, maxDeg+2)
	for i := range x.nodes {
		start[maxDeg-len(x.nodes[i].out)+1]++
	}
	for d := 1; d < len(start); d++ {
		start[d] += start[d-1]
	}
	seeds := make([]uint32, n)
	for i := range x.nodes {
		d := maxDeg - len(x.nodes[i].out)
		seeds[start[d]] = uint32(i)
		start[d]++
	}
	start = nil
	order := make([]uint32, 0, n)
	seen := make([]uint64, (n+63)/64)
	for _, s := range seeds {
		if seen[s/64]&(1<<(s%64)) != 0 {
			continue
		}
		seen[s/64] |= 1 << (s % 64)
		head := len(order)
		order = append(order, s)
		for ; head < len(order); head++ {
			for _, eid := range x.nodes[order[head]].out {
				t := x.edges[eid].to
				if seen[t/64]&(1<<(t%64)) == 0 {
					seen[t/64] |= 1 << (t % 64)
					order = append(order, t)
				}
			}
		}
	}
	return order
}

// walkScratch is the reusable space of one walk: the visited bitset and
// the reached nodes in breadth-first order with the node and edge kind they
// were reached from. Scratch spaces are pooled between walks.
type walkScratch struct {
	seen   []uint64
	order  []uint32 // reached node ids, breadth-first
	parent []uint32 // order[i] was reached from parent[i]
	kind   []uint8  // … over an edge of this kind index
	// frontier is the queue of the depth being walked from.
	frontier []uint32
}

func (w *walkScratch) has(id uint32) bool { return w.seen[id/64]&(1<<(id%64)) != 0 }
func (w *walkScratch) set(id uint32)      { w.seen[id/64] |= 1 << (id % 64) }

// scratchPool recycles walk scratch spaces.
type scratchPool struct{ p sync.Pool }

// get returns an empty scratch space for node ids below n.
func (p *scratchPool) get(n int) *walkScratch {
	w, _ := p.p.Get().(*walkScratch)
	if w == nil {
		w = &walkScratch{}
	}
	words := (n + 63) / 64
	if cap(w.seen) < words {
		w.seen = make([]uint64, words, words+words/4+1)
	} else {
		w.seen = w.seen[:words]
		clear(w.seen)
	}
	w.order, w.parent, w.kind, w.frontier = w.order[:0], w.parent[:0], w.kind[:0], w.frontier[:0]
	return w
}

func (p *scratchPool) put(w *walkScratch) { p.p.Put(w) }

// walkSpec is a validated TraverseQuery in the adjacency's terms.
type walkSpec struct {
	down          bool
	maxDepth      int
	limit         int
	edges         bool
	noVia         bool
	liveOnly      bool
	mask, flow    uint32 // edge kind bits to follow; the flow kinds
	nodeKinds     uint32 // kind index bits a walk may enter; 0: any
	stopKinds     uint32 // kind index bits reached but not walked from
	carrying      string
	passesMasking bool
}

func kindBits(kinds []catalog.Kind) uint32 {
	var m uint32
	for _, k := range kinds {
		m |= 1 << kindIndex(k)
	}
	return m
}

// walkAdjacency is Traverse of the present over a (see Store.Traverse for
// the promises); starts are the start node (index) ids, tombstones already left out
// when LiveOnly. The walk records reached nodes as ids in pooled scratch
// space and turns them into URNs once, at the end, into a result allocated
// at its final size. With cnt set it counts the reached nodes per kind
// instead and turns only the first cnt.page of each kind into answers.
func (s *Store) walkAdjacency(ctx context.Context, x *index, a *adjacency, w walkSpec, starts []uint32, out *catalog.Traversal, cnt *reachCount) error {
	sc := s.scratch.get(len(x.nodes))
	defer s.scratch.put(sc)
	frontier := sc.frontier
	defer func() { sc.frontier = frontier[:0] }()
	for _, id := range starts {
		id = a.local(id)
		if !sc.has(id) {
			sc.set(id)
			frontier = append(frontier, id)
		}
	}
	off, to, fl := a.outOff, a.outTo, a.outF
	if !w.down {
		off, to, fl = a.inOff, a.inTo, a.inF
	}
	nodeF := a.nodeF
	var levels []int // levels[d-1]: where depth d ends in sc.order
	// reach handles the edge from → other of kind index k that passed the
	// kind, alive, pass-through and Carrying tests; it reports false when
	// the limit stops the walk.
	reach := func(from, other uint32, k uint8) bool {
		nf := nodeF[other]
		if w.nodeKinds != 0 && w.nodeKinds&(1<<(nf&nodeKindMask)) == 0 {
			return true
		}
		if w.liveOnly && nf&nodeDeleted != 0 {
			return true
		}
		if sc.has(other) {
			if w.edges {
				out.Edges = append(out.Edges, a.key(x, from, other, k, w.down))
			}
			return true
		}
		if w.limit > 0 && len(sc.order) >= w.limit {
			out.Truncated = true
			return false
		}
		sc.set(other)
		sc.order = append(sc.order, other)
		sc.parent = append(sc.parent, from)
		sc.kind = append(sc.kind, k)
		if w.edges {
			out.Edges = append(out.Edges, a.key(x, from, other, k, w.down))
		}
		return true
	}
	walked := 0 // sc.order[:walked] were walked from (or stopped)
	for d := 1; len(frontier) > 0 && (w.maxDepth <= 0 || d <= w.maxDepth); d++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		stop := false
		for _, id := range frontier {
			// A pass-through node reached by the walk stops the flow: its
			// pair edges carry the data across it.
			pass := d > 1 && nodeF[id]&nodeHasVia != 0 && x.passThrough(a.global(id), time.Time{})
			if a.clean(id) {
				for p, end := off[id], off[id+1]; p < end; p++ {
					f := fl[p]
					k := f & slotKindMask
					if w.mask&(1<<k) == 0 || f&slotAlive == 0 {
						continue
					}
					if pass && w.flow&(1<<k) != 0 {
						continue
					}
					other := to[p]
					if nf := nodeF[other]; (w.nodeKinds != 0 && w.nodeKinds&(1<<(nf&nodeKindMask)) == 0) ||
						(w.liveOnly && nf&nodeDeleted != 0) || (!w.edges && sc.has(other)) {
						continue // the common case, decided without a call
					}
					if w.carrying != "" && f&slotSpecial != 0 && a.blocksSlot(x, id, other, k, w) {
						continue
					}
					if !reach(id, other, k) {
						stop = true
						break
					}
				}
			} else {
				n := &x.nodes[a.global(id)]
				adj := n.out
				if !w.down {
					adj = n.in
				}
				for _, eid := range adj {
					e := &x.edges[eid]
					if e.kbit&w.mask == 0 || !e.alive {
						continue
					}
					if pass && e.kbit&w.flow != 0 {
						continue
					}
					if w.carrying != "" && blocks(e, w.carrying, w.passesMasking) {
						continue
					}
					other := e.to
					if !w.down {
						other = e.from
					}
					if !reach(id, a.local(other), uint8(bits.TrailingZeros32(e.kbit))) {
						stop = true
						break
					}
				}
			}
			if stop {
				break
			}
		}
		levels = append(levels, len(sc.order))
		if stop {
			break
		}
		// The next frontier: this depth's nodes, but those of a stop kind.
		frontier = frontier[:0]
		for _, id := range sc.order[walked:] {
			if w.stopKinds&(1<<(nodeF[id]&nodeKindMask)) == 0 {
				frontier = append(frontier, id)
			}
		}
		walked = len(sc.order)
	}
	if cnt != nil {
		a.countReached(x, w, sc, levels, out, cnt)
		return nil
	}
	out.Nodes = make([]catalog.Reached, len(sc.order))
	d := 0
	for i, id := range sc.order {
		for i >= levels[d] {
			d++
		}
		n := &out.Nodes[i]
		n.URN, n.Kind, n.Depth = a.urns[id], kindOf(nodeF[id]), d+1
		if !w.noVia {
			n.Via = a.key(x, sc.parent[i], id, sc.kind[i], w.down)
		}
	}
	if len(out.Nodes) == 0 {
		out.Nodes = nil
	}
	return nil
}

// reachCount asks a walk for counts per kind and a page of each kind.
type reachCount struct {
	page   int
	counts map[catalog.Kind]int // the answer
}

// countReached fills cnt.counts from the walk in sc and out.Nodes with the
// first cnt.page reached nodes of each kind, in breadth-first order.
func (a *adjacency) countReached(x *index, w walkSpec, sc *walkScratch, levels []int, out *catalog.Traversal, cnt *reachCount) {
	var per [nodeKindMask + 1]int
	for _, id := range sc.order {
		per[a.nodeF[id]&nodeKindMask]++
	}
	cnt.counts = map[catalog.Kind]int{}
	total := 0
	for k, c := range per {
		if c > 0 {
			cnt.counts[kindOf(uint8(k))] += c
			total += min(c, cnt.page)
		}
	}
	out.Nodes = nil
	if total == 0 {
		return
	}
	out.Nodes = make([]catalog.Reached, 0, total)
	clear(per[:])
	d := 0
	for i, id := range sc.order {
		for i >= levels[d] {
			d++
		}
		k := a.nodeF[id] & nodeKindMask
		if per[k] >= cnt.page {
			continue
		}
		per[k]++
		n := catalog.Reached{URN: a.urns[id], Kind: kindOf(a.nodeF[id]), Depth: d + 1}
		if !w.noVia {
			n.Via = a.key(x, sc.parent[i], id, sc.kind[i], w.down)
		}
		out.Nodes = append(out.Nodes, n)
		if len(out.Nodes) == total {
			break
		}
	}
}

// key returns the edge key of the slot from the walked node id to other.
func (a *adjacency) key(x *index, id, other uint32, k uint8, down bool) catalog.EdgeKey {
	if down {
		return catalog.EdgeKey{From: a.urns[id], Kind: edgeKindTable[k], To: a.urns[other]}
	}
	return catalog.EdgeKey{From: a.urns[other], Kind: edgeKindTable[k], To: a.urns[id]}
}

// blocksSlot is blocks for the edge of a CSR slot from the walked local
// id id to local id other.
func (a *adjacency) blocksSlot(x *index, id, other uint32, k uint8, w walkSpec) bool {
	from, to := a.global(id), a.global(other)
	if !w.down {
		from, to = to, from
	}
	eid, ok := x.edgeIDs[edgeIdent{from: from, to: to, kind: edgeKindTable[k]}]
	if !ok {
		return false
	}
	return blocks(&x.edges[eid], w.carrying, w.passesMasking)
}
