package embedded

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// Propagated attachments live in their own keyspace, one key each:
//
//	p<urn>\x00<classification>\x00<origin>   propagated attachment (JSON attach)
//
// so that the propagation handler attaching a classification to 100,000
// fields writes 100,000 small records instead of reading, decoding and
// rewriting 100,000 entity records. The entity record on disk never holds
// them (Open moves those of older stores); every read of an entity merges
// them back into entityRecord.Propagated, and so does a txn that loads the
// entity, so the rest of the write path sees one record as before. A
// Propagate or Retract of an entity no other mutation of the batch touches
// takes the short way: it loads only the entity's propagated attachments
// (a propWork) and leaves the entity record alone; the entity's UpdatedAt
// then does not move (the attachment carries its own At).
const prefixPropagated = 'p'

func propKey(u catalog.URN, class string, origin catalog.URN) []byte {
	b := make([]byte, 0, 3+len(u)+len(class)+len(origin))
	b = append(b, prefixPropagated)
	b = append(b, u...)
	b = append(b, 0)
	b = append(b, class...)
	b = append(b, 0)
	return append(b, origin...)
}

func propPrefix(u catalog.URN) []byte {
	return append(append([]byte{prefixPropagated}, u...), 0)
}

// holdsPropagated reports whether u has propagated attachments; the caller
// holds Store.mu or Store.wmu.
func (x *index) holdsPropagated(u catalog.URN) bool {
	id, ok := x.ids[u]
	return ok && int(id/64) < len(x.propHeld) && x.propHeld[id/64]&(1<<(id%64)) != 0
}

// putAttachmentState records what r (with its propagated attachments)
// holds: whether it has propagated attachments and the names of the others.
// The caller holds Store.mu for writing.
func (x *index) putAttachmentState(r *entityRecord) {
	x.setHoldsPropagated(r.URN, len(r.Propagated) > 0)
	id, ok := x.ids[r.URN]
	if !ok {
		return
	}
	own := withoutPropagated(r).classNames()
	if len(own) == 0 && len(r.Propagated) == 0 {
		delete(x.ownClasses, id) // known empty; only carriers are asked
		return
	}
	if x.ownClasses == nil {
		x.ownClasses = map[uint32][]string{}
	}
	x.ownClasses[id] = own
}

// setHoldsPropagated records whether u has propagated attachments; the
// caller holds Store.mu for writing.
func (x *index) setHoldsPropagated(u catalog.URN, held bool) {
	id, ok := x.ids[u]
	if !ok {
		return
	}
	for int(id/64) >= len(x.propHeld) {
		x.propHeld = append(x.propHeld, 0)
	}
	if held {
		x.propHeld[id/64] |= 1 << (id % 64)
	} else {
		x.propHeld[id/64] &^= 1 << (id % 64)
	}
}

// propagatedOf reads u's propagated attachments, sorted by classification
// and origin (key order).
func (s *Store) propagatedOf(u catalog.URN) ([]attach, error) {
	var out []attach
	err := s.scan(propPrefix(u), func(k, v []byte) error {
		var a attach
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode propagated attachment %q: %w", k[1:], err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// propagatedOfSorted reads the propagated attachments of urns[i] into
// res[i] for each i of idx, which lists the URNs in key order, with one
// iterator.
func (s *Store) propagatedOfSorted(urns []catalog.URN, idx []int, res [][]attach) error {
	if len(idx) == 0 {
		return nil
	}
	p := []byte{prefixPropagated}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("open iterator: %w", err)
	}
	defer it.Close()
	for _, i := range idx {
		prefix := propPrefix(urns[i])
		for ok := it.SeekGE(prefix); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Next() {
			var a attach
			if err := json.Unmarshal(it.Value(), &a); err != nil {
				return fmt.Errorf("decode propagated attachment %q: %w", it.Key()[1:], err)
			}
			res[i] = append(res[i], a)
		}
		if err := it.Error(); err != nil {
			return fmt.Errorf("read propagated attachments: %w", err)
		}
	}
	return nil
}

// withPropagated sets r's propagated attachments from their keyspace.
func (s *Store) withPropagated(r *entityRecord) error {
	s.mu.RLock()
	held := s.idx.holdsPropagated(r.URN)
	s.mu.RUnlock()
	if !held {
		r.Propagated = nil
		return nil
	}
	ps, err := s.propagatedOf(r.URN)
	if err != nil {
		return err
	}
	r.Propagated = ps
	return nil
}

// propWork is the working copy of the propagated attachments of an entity
// that a txn changes without loading its record.
type propWork struct {
	orig, work []attach
	// classes is the entity's new set of classification names when the
	// change removes a name (derive reads the record to know it); nil when
	// the set only grows or stays.
	classes []string
	changed bool
}

// propWork returns the working propagated attachments of u, an entity with
// a live record that no mutation of t loaded, reading them on first use.
func (t *txn) propWork(u catalog.URN) (*propWork, error) {
	if p := t.props[u]; p != nil {
		return p, nil
	}
	var ps []attach
	var err error
	if t.s.idx.holdsPropagated(u) {
		ps, err = t.s.propagatedOf(u)
	}
	if err != nil {
		return nil, err
	}
	t.addPropWork(u, ps)
	return t.props[u], nil
}

func (t *txn) addPropWork(u catalog.URN, ps []attach) {
	if t.props == nil {
		t.props = map[catalog.URN]*propWork{}
	}
	t.props[u] = &propWork{orig: ps, work: cloneAttach(ps)}
	t.entOrder = append(t.entOrder, u)
}

// propagatedList returns the list a Propagate or Retract of u changes: the
// loaded record's, else the propWork's (nil when u is a committed
// tombstone).
func (t *txn) propagatedList(u catalog.URN) (*[]attach, error) {
	if r, ok := t.entities[u]; ok {
		if !r.alive() {
			return nil, nil
		}
		return &r.Propagated, nil
	}
	if t.s.idx.isDeleted(u) {
		return nil, nil
	}
	p, err := t.propWork(u)
	if err != nil {
		return nil, err
	}
	return &p.work, nil
}

// prefetchPropagated loads, on every core, the propagated attachments of
// the entities a batch of only Propagate and Retract mutations touches, in
// the order the mutations touch them.
func (t *txn) prefetchPropagated(muts []catalog.Mutation) error {
	workers := runtime.GOMAXPROCS(0)
	if len(muts) < 256 {
		return nil
	}
	var urns []catalog.URN
	seen := make(map[catalog.URN]bool, len(muts))
	for _, m := range muts {
		var u catalog.URN
		switch m := m.(type) {
		case catalog.Propagate:
			u = m.URN
		case catalog.Retract:
			u = m.URN
		default:
			return nil
		}
		if !seen[u] && t.s.idx.hasRecord(u) && !t.s.idx.isDeleted(u) {
			seen[u] = true
			urns = append(urns, u)
		}
	}
	// Only entities holding attachments need a read.
	var read []catalog.URN
	for _, u := range urns {
		if t.s.idx.holdsPropagated(u) {
			read = append(read, u)
		}
	}
	// Each worker seeks one iterator through its share in key order:
	// opening an iterator per entity would cost more than the reads.
	order := make([]int, len(read))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return read[order[i]] < read[order[j]] })
	res := make([][]attach, len(read))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(order) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := min(w*chunk, len(order)), min((w+1)*chunk, len(order))
		wg.Add(1)
		go func(w int, mine []int) {
			defer wg.Done()
			errs[w] = t.s.propagatedOfSorted(read, mine, res)
		}(w, order[lo:hi])
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	got := make(map[catalog.URN][]attach, len(read))
	for i, u := range read {
		got[u] = res[i]
	}
	for _, u := range urns {
		t.addPropWork(u, got[u])
	}
	return nil
}

// derivePropWork compares u's propagated attachments before and after and
// returns the classification events; it records whether anything changed
// and, when a classification name goes, the entity's new names.
func (t *txn) derivePropWork(u catalog.URN, p *propWork) ([]catalog.AttachmentChange, error) {
	if sameAttach(p.orig, p.work) {
		return nil, nil
	}
	p.changed = true
	before, after := publicAttachments(p.orig), publicAttachments(p.work)
	still := map[string]bool{}
	for _, a := range p.work {
		still[a.Classification] = true
	}
	for _, a := range p.orig {
		if !still[a.Classification] {
			// A name may go, unless another attachment keeps it. (Writers
			// hold wmu, so the index cannot change under us.)
			var names []string
			for _, a := range p.work {
				names = append(names, a.Classification)
			}
			own, err := t.ownClasses(u)
			if err != nil {
				return nil, err
			}
			p.classes = mergeClasses(own, names)
			break
		}
	}
	return catalog.AttachmentChanges(before, after), nil
}

// ownClasses returns the classification names of u's attachments other
// than the propagated ones: from the index when a commit recorded them
// (putAttachmentState), else from the record, remembered for next time.
// The caller is a writer holding wmu.
func (t *txn) ownClasses(u catalog.URN) ([]string, error) {
	x := t.s.idx
	id, ok := x.ids[u]
	if !ok {
		return nil, nil
	}
	if own, known := x.ownClasses[id]; known {
		return own, nil
	}
	var r entityRecord
	if _, err := t.s.get(entityKey(u), &r); err != nil {
		return nil, err
	}
	own := withoutPropagated(&r).classNames()
	t.s.mu.Lock()
	if x.ownClasses == nil {
		x.ownClasses = map[uint32][]string{}
	}
	x.ownClasses[id] = own
	t.s.mu.Unlock()
	return own, nil
}

func publicAttachments(as []attach) []catalog.Attachment {
	out := make([]catalog.Attachment, len(as))
	for i, a := range as {
		out[i] = a.public()
	}
	catalog.SortAttachments(out)
	return out
}

// stagePropagated stages the difference between two propagated lists of u.
func stagePropagated(b *pebble.Batch, u catalog.URN, before, after []attach) error {
	type key struct {
		c string
		o catalog.URN
	}
	old := make(map[key]*attach, len(before))
	for i := range before {
		old[key{before[i].Classification, before[i].Origin}] = &before[i]
	}
	for i := range after {
		a := &after[i]
		k := key{a.Classification, a.Origin}
		if o, ok := old[k]; ok {
			delete(old, k)
			if sameAttach([]attach{*o}, []attach{*a}) {
				continue
			}
		}
		v, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("encode propagated attachment of %s: %w", u, err)
		}
		if err := b.Set(propKey(u, a.Classification, a.Origin), v, nil); err != nil {
			return fmt.Errorf("stage propagated attachment of %s: %w", u, err)
		}
	}
	gone := make([]key, 0, len(old))
	for k := range old {
		gone = append(gone, k)
	}
	sort.Slice(gone, func(i, j int) bool {
		return bytes.Compare(propKey(u, gone[i].c, gone[i].o), propKey(u, gone[j].c, gone[j].o)) < 0
	})
	for _, k := range gone {
		if err := b.Delete(propKey(u, k.c, k.o), nil); err != nil {
			return fmt.Errorf("stage retraction of %s: %w", u, err)
		}
	}
	return nil
}

// withoutPropagated returns r as stored: its propagated attachments live
// under their own keys.
func withoutPropagated(r *entityRecord) *entityRecord {
	if r.Propagated == nil {
		return r
	}
	c := *r
	c.Propagated = nil
	return &c
}

// mergeClasses returns the sorted union of two sorted name lists.
func mergeClasses(a, b []string) []string {
	set := make(map[string]struct{}, len(a)+len(b))
	for _, n := range a {
		set[n] = struct{}{}
	}
	for _, n := range b {
		set[n] = struct{}{}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// propNamesByURN reads the classification names of every propagated
// attachment from the keys alone (for rebuilding the index at open): the
// attachments it returns hold only their Classification.
func (s *Store) propNamesByURN() (map[catalog.URN][]attach, error) {
	out := map[catalog.URN][]attach{}
	err := s.scan([]byte{prefixPropagated}, func(k, v []byte) error {
		rest := k[1:]
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			return fmt.Errorf("decode propagated key %q: no separator", k)
		}
		j := bytes.IndexByte(rest[i+1:], 0)
		if j < 0 {
			return fmt.Errorf("decode propagated key %q: no second separator", k)
		}
		u := catalog.URN(rest[:i])
		out[u] = append(out[u], attach{Classification: string(rest[i+1 : i+1+j])})
		return nil
	})
	return out, err
}

// moveInlinePropagated stages the move of the propagated attachments an
// entity record of format 2 or older holds to their own keys: the record
// without them, and a key per attachment (see migration).
func moveInlinePropagated(b *pebble.Batch, r *entityRecord) error {
	v, err := json.Marshal(withoutPropagated(r))
	if err != nil {
		return fmt.Errorf("encode entity %s: %w", r.URN, err)
	}
	if err := b.Set(entityKey(r.URN), v, nil); err != nil {
		return fmt.Errorf("stage entity %s: %w", r.URN, err)
	}
	return stagePropagated(b, r.URN, nil, r.Propagated)
}

// loadAttachmentState completes an index just loaded (from the records or
// from a snapshot and the journal) with the propagated attachments: which
// entities hold some, and their classification names, which the records
// themselves no longer carry. It reads the keys only.
func (s *Store) loadAttachmentState(x *index) error {
	props, err := s.propNamesByURN()
	if err != nil {
		return err
	}
	for u, as := range props {
		id, ok := x.ids[u]
		if !ok {
			continue
		}
		x.setHoldsPropagated(u, true)
		names := make([]string, len(as))
		for i, a := range as {
			names[i] = a.Classification
		}
		if merged := mergeClasses(x.nodes[id].classes, names); !slices.Equal(merged, x.nodes[id].classes) {
			x.setClasses(id, merged)
		}
	}
	return nil
}

// propsChanged reports whether a propWork of t changed (after derive).
func (t *txn) propsChanged() bool {
	for _, p := range t.props {
		if p.changed {
			return true
		}
	}
	return false
}

// stagePropWork stages the changed propWorks of t, in entOrder. The
// common case, attachments added to entities that held none, is encoded on
// every core.
func (t *txn) stagePropWork(b *pebble.Batch) error {
	type put struct {
		u catalog.URN
		a *attach
	}
	var fresh []put
	for _, u := range t.entOrder {
		p := t.props[u]
		if p == nil || !p.changed {
			continue
		}
		if len(p.orig) == 0 {
			for i := range p.work {
				fresh = append(fresh, put{u, &p.work[i]})
			}
			continue
		}
		if err := stagePropagated(b, u, p.orig, p.work); err != nil {
			return err
		}
	}
	encoded, err := encodeAll(len(fresh), func(i int) ([]byte, error) { return json.Marshal(fresh[i].a) })
	if err != nil {
		return fmt.Errorf("encode propagated attachment: %w", err)
	}
	// An Open from the index snapshot replays the journal: name the
	// entities whose classification names this batch changes.
	for _, u := range t.entOrder {
		if p := t.props[u]; p != nil && p.changed {
			if err := b.Set(journalKey(entityKey(u)), nil, nil); err != nil {
				return fmt.Errorf("stage journal: %w", err)
			}
			t.s.journal++
		}
	}
	for i, f := range fresh {
		if err := b.Set(propKey(f.u, f.a.Classification, f.a.Origin), encoded[i], nil); err != nil {
			return fmt.Errorf("stage propagated attachment of %s: %w", f.u, err)
		}
	}
	return nil
}

// publishPropWork updates the index's classification names of the changed
// propWorks of t; the caller holds Store.mu for writing.
func (t *txn) publishPropWork() {
	x := t.s.idx
	for u, p := range t.props {
		if !p.changed {
			continue
		}
		x.setHoldsPropagated(u, len(p.work) > 0)
		id, ok := x.ids[u]
		if !ok {
			continue
		}
		names := p.classes
		if names == nil {
			var added []string
			for _, a := range p.work {
				added = append(added, a.Classification)
			}
			names = mergeClasses(x.nodes[id].classes, added)
		}
		if !slices.Equal(names, x.nodes[id].classes) {
			x.setClasses(id, names)
		}
	}
}
