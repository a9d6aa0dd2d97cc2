package lineage

import (
	"context"

	"github.com/watershed-data/watershed/catalog"
)

// Counter is what a store may offer for walks whose answer is a count and
// a page rather than every reached node; *embedded.Store implements it.
// Lineage falls back to Traverse (and counts its answer) for a store that
// does not.
type Counter interface {
	// CountTraverse answers q as Traverse would, counted: the number of
	// reached nodes per kind and, as the Traversal's Nodes, only the first
	// page reached nodes of each kind in Traverse's order, with their
	// depths and Via edges; Seq and Truncated are Traverse's. q.Edges is
	// ignored. It allocates for the page, not for the closure.
	CountTraverse(ctx context.Context, q catalog.TraverseQuery, page int) (catalog.Traversal, map[catalog.Kind]int, error)
}

// countTraverse is CountTraverse on the snapshot: through the store's
// Counter when it has one, else by counting Traverse's answer.
func (r *snapshot) countTraverse(ctx context.Context, q catalog.TraverseQuery, page int) (catalog.Traversal, map[catalog.Kind]int, error) {
	q.Edges = false
	c, ok := r.g.(Counter)
	if !ok {
		tr, err := r.traverse(ctx, q)
		if err != nil {
			return tr, nil, err
		}
		counts, nodes := pageByKind(tr.Nodes, page)
		tr.Nodes = nodes
		return tr, counts, nil
	}
	tr, counts, err := c.CountTraverse(ctx, q, page)
	if err != nil {
		return tr, nil, err
	}
	r.saw(tr.Seq)
	return tr, counts, nil
}

// pageByKind counts nodes per kind and keeps the first page of each kind,
// in order (reusing nodes' array).
func pageByKind(nodes []catalog.Reached, page int) (map[catalog.Kind]int, []catalog.Reached) {
	counts := map[catalog.Kind]int{}
	kept := nodes[:0]
	for _, n := range nodes {
		counts[n.Kind]++
		if counts[n.Kind] <= page {
			kept = append(kept, n)
		}
	}
	if len(kept) == 0 {
		kept = nil
	}
	return counts, kept
}
