package embedded

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// The search order index lists every entity record in the order a search
// without text ranks them — kind (in catalog.Kinds order), name, URN — with
// live entities and tombstones apart:
//
//	o<0 live | 1 deleted><kind rank><escaped name>\x00<urn>
//
// The keys carry no value and are staged in the batch that writes the
// records. A search without text reads its page straight off the index
// (first N costs N keys, not a sort of the catalog), and its total comes
// from counts per kind the in-memory index maintains.
const prefixOrder = 'o'

// kindRanks gives each kind its position in catalog.Kinds; an unknown kind
// ranks first, as in the search's sort.
var kindRanks = func() map[catalog.Kind]byte {
	m := map[catalog.Kind]byte{}
	for i, k := range catalog.Kinds() {
		m[k] = byte(i)
	}
	return m
}()

func orderPrefix(deleted bool, rank byte) []byte {
	var d byte
	if deleted {
		d = 1
	}
	return []byte{prefixOrder, d, rank}
}

// orderKey escapes 0x00 and 0x01 in the name (as 0x01 0x01 and 0x01 0x02)
// so that the 0x00 terminator sorts a name before every longer one, and
// byte order of the keys is (name, URN) order.
func orderKey(deleted bool, kind catalog.Kind, name string, u catalog.URN) []byte {
	b := make([]byte, 0, 5+len(name)+len(u))
	b = append(b, orderPrefix(deleted, kindRanks[kind])...)
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case 0, 1:
			b = append(b, 1, c+1)
		default:
			b = append(b, c)
		}
	}
	b = append(b, 0)
	return append(b, u...)
}

// entityOrderKey returns the order key of record r (nil: no record).
func entityOrderKey(r *entityRecord) []byte {
	if r == nil {
		return nil
	}
	return orderKey(!r.alive(), r.URN.Kind(), r.displayName(), r.URN)
}

// orderKeyURN returns the URN at the end of an order key.
func orderKeyURN(k []byte) ([]byte, error) {
	i := bytes.IndexByte(k[3:], 0)
	if i < 0 {
		return nil, fmt.Errorf("read order key %q: no terminator", k)
	}
	return k[3+i+1:], nil
}

// stageOrder stages the order key changes of the entity records a txn
// writes.
func (t *txn) stageOrder(b batchWriter, ents []*entityRecord) error {
	for _, r := range ents {
		before, after := entityOrderKey(t.entOrig[r.URN]), entityOrderKey(r)
		if bytes.Equal(before, after) {
			continue
		}
		if before != nil {
			if err := b.Delete(before, nil); err != nil {
				return fmt.Errorf("stage search order: %w", err)
			}
		}
		if err := b.Set(after, nil, nil); err != nil {
			return fmt.Errorf("stage search order: %w", err)
		}
	}
	return nil
}

// kindCount counts the entity records of one kind.
type kindCount struct{ live, deleted int }

// count adds d to the count of n's kind, if n has a record.
func (x *index) count(n *node, d int) {
	if !n.record {
		return
	}
	c := x.counts[n.kind]
	if n.deleted {
		c.deleted += d
	} else {
		c.live += d
	}
	x.counts[n.kind] = c
}

// countAll recomputes the counts from the nodes.
func (x *index) countAll() {
	x.counts = map[catalog.Kind]kindCount{}
	for i := range x.nodes {
		x.count(&x.nodes[i], 1)
	}
}

// searchKinds returns the kinds a search covers (all when none is asked
// for), in rank order, with the ranks to read.
func searchKinds(kinds []catalog.Kind) []byte {
	var ranks []byte
	seen := map[byte]bool{}
	if len(kinds) == 0 {
		kinds = catalog.Kinds()
	}
	for _, k := range kinds {
		r := kindRanks[k]
		if !seen[r] {
			seen[r] = true
			ranks = append(ranks, r)
		}
	}
	sort.Slice(ranks, func(i, j int) bool { return ranks[i] < ranks[j] })
	return ranks
}

// orderedPage reads the search order index, kind by kind in rank order,
// and returns the URNs of the entities keep accepts from the offset-th on,
// at most limit. It reads offset+limit accepted keys plus those keep
// refuses. The caller holds s.mu for reading and has entered the store.
func (s *Store) orderedPage(ranks []byte, includeDeleted bool, offset, limit int, keep func(id uint32) bool) ([]catalog.URN, error) {
	x := s.idx
	var page []catalog.URN
	skipped := 0
	for _, rank := range ranks {
		streams := [][]byte{orderPrefix(false, rank)}
		if includeDeleted {
			streams = append(streams, orderPrefix(true, rank))
		}
		done, err := s.mergeOrder(streams, func(k []byte) (bool, error) {
			s.searchReads.Add(1)
			u, err := orderKeyURN(k)
			if err != nil {
				return false, err
			}
			id, ok := x.ids[catalog.URN(u)]
			if !ok || !keep(id) {
				return false, nil // committed, not yet published; or filtered out
			}
			if skipped < offset {
				skipped++
				return false, nil
			}
			page = append(page, x.nodes[id].urn)
			return len(page) >= limit, nil
		})
		if err != nil || done {
			return page, err
		}
	}
	return page, nil
}

// mergeOrder calls fn with the keys of the given prefixes (each of the
// same length) merged in the order of what follows the prefix, until fn
// reports it is done; it reports whether fn did.
func (s *Store) mergeOrder(prefixes [][]byte, fn func(k []byte) (bool, error)) (bool, error) {
	its := make([]*pebble.Iterator, 0, len(prefixes))
	defer func() {
		for _, it := range its {
			it.Close() // read-only iterators: closing reports only earlier errors, checked below
		}
	}()
	for _, p := range prefixes {
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return false, fmt.Errorf("open search order iterator: %w", err)
		}
		it.First()
		its = append(its, it)
	}
	for {
		var best *pebble.Iterator
		for _, it := range its {
			if it.Valid() && (best == nil || bytes.Compare(it.Key()[3:], best.Key()[3:]) < 0) {
				best = it
			}
		}
		if best == nil {
			break
		}
		done, err := fn(best.Key())
		if err != nil || done {
			return done, err
		}
		best.Next()
	}
	for _, it := range its {
		if err := it.Error(); err != nil {
			return false, fmt.Errorf("read search order: %w", err)
		}
	}
	return false, nil
}

// browseSortMax is the most candidates a classification-filtered browse
// sorts; above it, it walks the order index instead, reading keys until
// its page is full.
const browseSortMax = 20_000

// browse answers a search without text. Unfiltered (or by kind only) its
// page comes off the search order index and its total from the counts per
// kind; filtered by classification it touches the members of the first
// filter's classifications, sorting them when they are at most sortMax,
// else walking the order index until its page is full. The caller holds
// s.mu for reading and has entered the store.
func (s *Store) browse(q catalog.SearchQuery, wantKind map[catalog.Kind]bool, sortMax int) ([]catalog.URN, int, error) {
	x := s.idx
	ranks := searchKinds(q.Kinds)
	base := func(n *node) bool {
		return n.record && (!n.deleted || q.IncludeDeleted) && (len(wantKind) == 0 || wantKind[n.kind])
	}
	if len(q.Classifications) == 0 {
		total := 0
		for k, c := range x.counts {
			if len(wantKind) == 0 || wantKind[k] {
				total += c.live
				if q.IncludeDeleted {
					total += c.deleted
				}
			}
		}
		page, err := s.orderedPage(ranks, q.IncludeDeleted, q.Offset, q.Limit, func(id uint32) bool { return base(&x.nodes[id]) })
		return page, total, err
	}
	keep := func(id uint32) bool {
		n := &x.nodes[id]
		if !base(n) {
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
	var ids []uint32
	seen := map[uint32]bool{}
	for name, set := range x.classes {
		if !catalog.ClassificationWithin(name, q.Classifications[0]) {
			continue
		}
		s.searchReads.Add(uint64(len(set)))
		for id := range set {
			if !seen[id] {
				seen[id] = true
				if keep(id) {
					ids = append(ids, id)
				}
			}
		}
	}
	total := len(ids)
	if total > sortMax {
		page, err := s.orderedPage(ranks, q.IncludeDeleted, q.Offset, q.Limit, keep)
		return page, total, err
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := &x.nodes[ids[i]], &x.nodes[ids[j]]
		if ra, rb := kindRanks[a.kind], kindRanks[b.kind]; ra != rb {
			return ra < rb
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.urn < b.urn
	})
	var page []catalog.URN
	for i := q.Offset; i < total && len(page) < q.Limit; i++ {
		page = append(page, x.nodes[ids[i]].urn)
	}
	return page, total, nil
}
