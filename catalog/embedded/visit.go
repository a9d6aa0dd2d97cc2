package embedded

import "sync"

// visitSet marks the nodes one walk has visited. A node is visited when its
// stamp equals the set's generation, so reusing the set for the next walk
// costs one increment instead of a clear.
type visitSet struct {
	stamp []uint32
	gen   uint32
}

// visit marks id and reports whether it was unvisited.
func (v *visitSet) visit(id uint32) bool {
	if v.stamp[id] == v.gen {
		return false
	}
	v.stamp[id] = v.gen
	return true
}

// seen reports whether id was visited.
func (v *visitSet) seen(id uint32) bool { return v.stamp[id] == v.gen }

// visitPool recycles visit sets between walks; concurrent walks each get
// their own.
type visitPool struct{ p sync.Pool }

// get returns an empty set for node ids below n.
func (p *visitPool) get(n int) *visitSet {
	v, _ := p.p.Get().(*visitSet)
	if v == nil {
		v = &visitSet{}
	}
	if len(v.stamp) < n {
		v.stamp = make([]uint32, n+n/4+16)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 { // wrapped: stamps from 2^32 walks ago would look current
		clear(v.stamp)
		v.gen = 1
	}
	return v
}

func (p *visitPool) put(v *visitSet) { p.p.Put(v) }
