package embedded

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// txn collects the records one write changes. At commit it derives the
// change events from the difference between each record's original and
// final state, so several mutations of one entity in one batch yield their
// net effect, and a write that changes nothing yields no events.
// A txn is used by one writer holding Store.wmu.
type txn struct {
	s      *Store
	at     time.Time
	origin string
	actor  string
	cause  string

	entities  map[catalog.URN]*entityRecord
	entOrig   map[catalog.URN]*entityRecord // nil value: did not exist
	entRaw    map[catalog.URN][]byte        // the stored encoding of entOrig
	entOrder  []catalog.URN
	edges     map[catalog.EdgeKey]*edgeRecord
	edgeOrig  map[catalog.EdgeKey]*edgeRecord
	edgeOrder []catalog.EdgeKey
	defs      map[string]*classDefRecord
	// props are entities whose propagated attachments change while their
	// record is not loaded (attachments.go); also listed in entOrder.
	props map[catalog.URN]*propWork

	live    map[string][]byte // live key → value; nil deletes
	liveIdx []liveUpdate
	puts    [][2][]byte    // other keys to set
	dels    [][]byte       // other keys to delete
	changes []changeRecord // events emitted explicitly (not derived)

	// run, when set, is a crawl run recorded at commit with runRes as its
	// result, once the number of catalog changes is known.
	run    *catalog.CrawlRun
	runRes *catalog.ReconcileResult
}

type liveUpdate struct {
	source string
	urn    catalog.URN
	hash   uint64 // 0 deletes
}

func (s *Store) newTxn(at time.Time, origin, actor, cause string) *txn {
	if at.IsZero() {
		at = s.now()
	}
	// Write times never go backwards (a snapshot observed before the last
	// write commits at that write's time), so alive intervals stay ordered
	// and change times follow sequence numbers. Callers hold wmu.
	if at.Before(s.lastAt) {
		at = s.lastAt
	}
	if origin == "" {
		origin = "/watershed"
	}
	return &txn{
		s: s, at: at.UTC(), origin: origin, actor: actor, cause: cause,
		entities: map[catalog.URN]*entityRecord{}, entOrig: map[catalog.URN]*entityRecord{}, entRaw: map[catalog.URN][]byte{},
		edges: map[catalog.EdgeKey]*edgeRecord{}, edgeOrig: map[catalog.EdgeKey]*edgeRecord{},
		defs: map[string]*classDefRecord{}, live: map[string][]byte{},
	}
}

// entity returns the working record of u, loading it from disk on first use.
// The second result reports whether the record existed before this txn.
func (t *txn) entity(u catalog.URN) (*entityRecord, bool, error) {
	if r, ok := t.entities[u]; ok {
		return r, t.entOrig[u] != nil, nil
	}
	var orig entityRecord
	var found bool
	// The index knows every record: skip the disk for URNs it has not seen.
	// (Writers hold wmu, so the index cannot change under us.)
	var raw []byte
	if t.s.idx.hasRecord(u) {
		var err error
		t.s.recordReads.Add(1)
		if raw, found, err = t.s.getRaw(entityKey(u), &orig, true); err != nil {
			return nil, false, err
		}
	}
	var work *entityRecord
	p, short := t.props[u]
	if found {
		if err := t.s.withPropagated(&orig); err != nil {
			return nil, false, err
		}
		work = cloneEntity(&orig)
		if short {
			work.Propagated = p.work // what earlier mutations of t did
		}
		t.entOrig[u] = &orig
		t.entRaw[u] = raw
	} else {
		work = &entityRecord{URN: u}
		t.entOrig[u] = nil
	}
	t.entities[u] = work
	if short {
		delete(t.props, u) // already in entOrder
	} else {
		t.entOrder = append(t.entOrder, u)
	}
	return work, found, nil
}

// prefetch loads, on every core, what a large batch made only of Propagate
// and Retract mutations (the propagation handler's) will touch: the
// entities' propagated attachments (see prefetchPropagated).
func (t *txn) prefetch(muts []catalog.Mutation) error { return t.prefetchPropagated(muts) }

// edge returns the working record of k, loading it from disk on first use.
func (t *txn) edge(k catalog.EdgeKey) (*edgeRecord, bool, error) {
	if r, ok := t.edges[k]; ok {
		return r, t.edgeOrig[k] != nil, nil
	}
	var orig edgeRecord
	var found bool
	if _, known := t.s.idx.edgeID(k); known {
		var err error
		t.s.recordReads.Add(1)
		if found, err = t.s.get(edgeKey(k), &orig); err != nil {
			return nil, false, err
		}
	}
	var work *edgeRecord
	if found {
		work = cloneEdge(&orig)
		t.edgeOrig[k] = &orig
	} else {
		work = &edgeRecord{From: k.From, Kind: k.Kind, To: k.To}
		t.edgeOrig[k] = nil
	}
	t.edges[k] = work
	t.edgeOrder = append(t.edgeOrder, k)
	return work, found, nil
}

func (t *txn) setLive(source string, u catalog.URN, b []byte) {
	var h uint64
	if b != nil {
		h = bytesHash(b)
	}
	t.live[string(liveKey(u, source))] = b
	t.liveIdx = append(t.liveIdx, liveUpdate{source: source, urn: u, hash: h})
}

func (t *txn) emit(typ catalog.ChangeType, subject catalog.URN, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	t.changes = append(t.changes, changeRecord{Type: typ, Subject: subject, Data: b})
	return nil
}

// cloneEntity returns a deep copy of r (a record as decoded from disk), so
// that the working record can change while the original is kept for the
// diff. It copies field by field: a JSON round trip cost as much as the
// rest of a propagated write.
func cloneEntity(r *entityRecord) *entityRecord {
	c := *r
	if r.Facets != nil {
		c.Facets = make(map[string]*facetRecord, len(r.Facets))
		for k, f := range r.Facets {
			cf := *f
			cf.Props = append(json.RawMessage(nil), f.Props...)
			cf.Classes = append([]catalog.SourceClassification(nil), f.Classes...)
			cf.Scopes = append([]string(nil), f.Scopes...)
			c.Facets[k] = &cf
		}
	}
	c.Owners = append([]string(nil), r.Owners...)
	c.Direct = cloneAttach(r.Direct)
	c.Propagated = cloneAttach(r.Propagated)
	c.Suppressed = append([]string(nil), r.Suppressed...)
	return &c
}

func cloneAttach(as []attach) []attach {
	if as == nil {
		return nil
	}
	out := make([]attach, len(as))
	for i, a := range as {
		a.Path = append([]catalog.URN(nil), a.Path...)
		out[i] = a
	}
	return out
}

func cloneEdge(r *edgeRecord) *edgeRecord {
	c := *r
	c.Claims = make(map[string]*claimRecord, len(r.Claims))
	for k, v := range r.Claims {
		cv := *v
		c.Claims[k] = &cv
	}
	c.Block = append([]string(nil), r.Block...)
	c.Alive = append([]interval(nil), r.Alive...)
	return &c
}

// derive fixes up lifecycle timestamps and derives change events from the
// difference between original and working records, in a stable order:
// entity creations and updates, classification events, edge events, then
// entity deletions. It returns the records that must be written.
func (t *txn) derive() (ents []*entityRecord, edges []*edgeRecord, err error) {
	var created, updated, classEvents, edgeEvents, deleted []changeRecord
	add := func(list *[]changeRecord, typ catalog.ChangeType, subject catalog.URN, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", typ, err)
		}
		*list = append(*list, changeRecord{Type: typ, Subject: subject, Data: b})
		return nil
	}
	defs := t.s.defsSnapshot(t.defs)

	for _, u := range t.entOrder {
		if p, short := t.props[u]; short {
			evs, err := t.derivePropWork(u, p)
			if err != nil {
				return nil, nil, err
			}
			for _, ev := range evs {
				if err := add(&classEvents, ev.Type, u, ev.Data); err != nil {
					return nil, nil, err
				}
			}
			continue
		}
		work, orig := t.entities[u], t.entOrig[u]
		wasAlive := orig != nil && orig.alive()
		isAlive := work.alive()
		switch {
		case !wasAlive && isAlive:
			if work.CreatedAt.IsZero() {
				work.CreatedAt = t.at
			}
			work.DeletedAt = time.Time{}
		case wasAlive && !isAlive:
			work.DeletedAt = t.at
			// A tombstone carries no propagated attachments: what flowed
			// through it is the propagation handler's to recompute, and the
			// deletion event subsumes their retraction.
			work.Propagated = nil
		}
		if orig != nil && t.unchanged(u, work) {
			continue
		}
		if orig == nil && !isAlive && !hasCurated(work) {
			continue // touched but never became anything: nothing to write
		}
		work.UpdatedAt = t.at
		ents = append(ents, work)

		// Full views (with decoded properties) are only needed to diff an
		// update; a creation needs the name, sources and attachments.
		kind := u.Kind()
		var before, after catalog.Entity
		switch {
		case orig != nil && kind != catalog.KindViolation && sameFacets(orig, work) && orig.Description == work.Description && slices.Equal(orig.Owners, work.Owners):
			// Only attachments (or timestamps) changed: skip decoding the
			// properties, which cannot differ.
			before = catalog.Entity{Name: orig.displayName(), Sources: orig.sources(), Classifications: orig.attachments(defs)}
			after = catalog.Entity{Name: work.displayName(), Sources: work.sources(), Classifications: work.attachments(defs)}
		case orig != nil:
			before = orig.view(nil, defs)
			after = work.view(nil, defs)
		case kind == catalog.KindViolation:
			after = work.view(nil, defs) // its event carries the evidence
		default:
			after = catalog.Entity{Name: work.displayName(), Sources: work.sources(), Classifications: work.attachments(defs)}
		}
		data := catalog.AssetData{Kind: kind, Name: after.Name, Sources: after.Sources}
		switch {
		case !wasAlive && isAlive:
			typ := catalog.AssetCreated
			switch kind {
			case catalog.KindSchemaVersion:
				typ = catalog.SchemaVersionAdded
			case catalog.KindViolation:
				typ = catalog.PolicyViolationOpened
				data.Properties, data.Classifications, data.Description = after.Properties, catalog.ClassificationNames(after), after.Description
			}
			if err := add(&created, typ, u, data); err != nil {
				return nil, nil, err
			}
		case wasAlive && !isAlive:
			data.Name, data.Sources = before.Name, before.Sources
			typ := catalog.AssetDeleted
			if kind == catalog.KindViolation {
				typ = catalog.PolicyViolationResolved
				data.Properties, data.Classifications, data.Description = before.Properties, catalog.ClassificationNames(before), before.Description
			}
			if err := add(&deleted, typ, u, data); err != nil {
				return nil, nil, err
			}
			continue // a deletion subsumes its classification changes
		case wasAlive && isAlive:
			data.Changed = catalog.EntityDiff(before, after)
			if len(data.Changed) > 0 {
				if err := add(&updated, catalog.AssetUpdated, u, data); err != nil {
					return nil, nil, err
				}
			}
		}
		if !isAlive || kind == catalog.KindViolation {
			// A violation's classifications (what it is about) are part of
			// its opened and resolved events, not classification changes.
			continue
		}
		for _, ev := range catalog.AttachmentChanges(before.Classifications, after.Classifications) {
			if err := add(&classEvents, ev.Type, u, ev.Data); err != nil {
				return nil, nil, err
			}
		}
	}

	for _, k := range t.edgeOrder {
		work, orig := t.edges[k], t.edgeOrig[k]
		wasAlive := orig != nil && orig.alive()
		isAlive := work.alive()
		switch {
		case !wasAlive && isAlive:
			work.Alive = append(work.Alive, interval{From: t.at})
			work.DeletedAt = time.Time{}
		case wasAlive && !isAlive:
			if n := len(work.Alive); n > 0 {
				work.Alive[n-1].To = t.at
			}
			work.DeletedAt = t.at
		}
		if orig != nil && edgesEqual(orig, work) {
			continue
		}
		if orig == nil && !isAlive {
			continue
		}
		edges = append(edges, work)
		switch {
		case !wasAlive && isAlive:
			err = add(&edgeEvents, catalog.EdgeAdded, k.From, work.data())
		case wasAlive && !isAlive:
			err = add(&edgeEvents, catalog.EdgeRemoved, k.From, orig.data())
		case wasAlive && isAlive && !reflect.DeepEqual(orig.data(), work.data()):
			d, before := work.data(), orig.data()
			d.Before = &before
			err = add(&edgeEvents, catalog.EdgeUpdated, k.From, d)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	all := make([]changeRecord, 0, len(created)+len(updated)+len(classEvents)+len(edgeEvents)+len(deleted)+len(t.changes))
	all = append(all, created...)
	all = append(all, updated...)
	all = append(all, classEvents...)
	all = append(all, edgeEvents...)
	all = append(all, deleted...)
	all = append(all, t.changes...)
	t.changes = all
	return ents, edges, nil
}

// sameFacetText reports whether a and b have the same facets with the same
// names and descriptions (what the search tokens are made of).
func sameFacetText(a, b *entityRecord) bool {
	if len(a.Facets) != len(b.Facets) {
		return false
	}
	for k, fa := range a.Facets {
		fb, ok := b.Facets[k]
		if !ok || fa.Name != fb.Name || fa.Description != fb.Description {
			return false
		}
	}
	return true
}

// sameFacets reports whether a and b hold the same facets, field by field.
func sameFacets(a, b *entityRecord) bool {
	if len(a.Facets) != len(b.Facets) {
		return false
	}
	for k, fa := range a.Facets {
		fb, ok := b.Facets[k]
		if !ok || fa.Name != fb.Name || fa.Description != fb.Description || !bytes.Equal(fa.Props, fb.Props) ||
			!fa.FirstSeen.Equal(fb.FirstSeen) || !slices.Equal(fa.Scopes, fb.Scopes) || !reflect.DeepEqual(fa.Classes, fb.Classes) {
			return false
		}
	}
	return true
}

func hasCurated(r *entityRecord) bool {
	return r.Description != "" || len(r.Owners) > 0 || len(r.Direct) > 0 || len(r.Propagated) > 0 || len(r.Suppressed) > 0
}

// unchanged reports whether work encodes exactly as its record did on disk.
// Records are written by json.Marshal, whose output for them is canonical
// (sorted map keys, RFC 3339 UTC times, compacted raw properties), so equal
// bytes mean an equal record; encoding only work saves half the cost of
// comparing two encodings.
func (t *txn) unchanged(u catalog.URN, work *entityRecord) bool {
	orig := t.entOrig[u]
	if !sameRecord(orig, work) {
		return false // cheap and exact in this direction
	}
	raw, ok := t.entRaw[u]
	if !ok {
		return recordsEqual(orig, work)
	}
	b, err := json.Marshal(withoutPropagated(work))
	return err == nil && bytes.Equal(b, raw)
}

// sameRecord compares two entity records field by field, nil and empty
// lists alike (they encode alike). It is a fast filter: a false answer is
// certain, a true one is confirmed by the encoding (see unchanged).
// TestSameRecordCoversEveryField fails when a field is added to
// entityRecord without being compared here.
func sameRecord(a, b *entityRecord) bool {
	if a.URN != b.URN || a.Description != b.Description || !slices.Equal(a.Owners, b.Owners) ||
		!slices.Equal(a.Suppressed, b.Suppressed) || !sameAttach(a.Direct, b.Direct) || !sameAttach(a.Propagated, b.Propagated) ||
		!a.CreatedAt.Equal(b.CreatedAt) || !a.UpdatedAt.Equal(b.UpdatedAt) || !a.DeletedAt.Equal(b.DeletedAt) {
		return false
	}
	return sameFacets(a, b)
}

func sameAttach(a, b []attach) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Classification != y.Classification || x.Source != y.Source || x.Propagate != y.Propagate ||
			x.Origin != y.Origin || x.Actor != y.Actor || !x.At.Equal(y.At) || !slices.Equal(x.Path, y.Path) {
			return false
		}
	}
	return true
}

func recordsEqual(a, b *entityRecord) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

func edgesEqual(a, b *edgeRecord) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

// defsSnapshot returns the definitions including those pending in this txn.
func (s *Store) defsSnapshot(pending map[string]*classDefRecord) map[string]catalog.ClassificationDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]catalog.ClassificationDef, len(s.defs)+len(pending))
	for k, v := range s.defs {
		out[k] = v
	}
	for k, v := range pending {
		out[k] = v.public()
	}
	return out
}

// commit writes t in one synced batch, then publishes it to the indexes and
// wakes change waiters. It returns the committed changes.
func (s *Store) commit(t *txn) ([]catalog.Change, error) {
	ents, edges, err := t.derive()
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	head, closed := s.head, s.closed
	s.mu.RUnlock()
	if closed {
		return nil, catalog.ErrClosed
	}
	if t.run != nil {
		n := len(t.changes)
		t.runRes.Changes, t.runRes.Seq = n, 0
		if n > 0 {
			t.runRes.Seq = head + uint64(n)
		}
		if err := t.recordRun(t.run, t.runRes); err != nil {
			return nil, err
		}
	}
	if len(ents) == 0 && len(edges) == 0 && len(t.changes) == 0 && len(t.live) == 0 && len(t.puts) == 0 && len(t.dels) == 0 && len(t.defs) == 0 && !t.propsChanged() {
		return nil, nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	encoded, err := encodeAll(len(ents), func(i int) ([]byte, error) { return json.Marshal(withoutPropagated(ents[i])) })
	if err != nil {
		return nil, fmt.Errorf("encode entity: %w", err)
	}
	for i, r := range ents {
		if err := b.Set(entityKey(r.URN), encoded[i], nil); err != nil {
			return nil, fmt.Errorf("stage entity %s: %w", r.URN, err)
		}
		var before []attach
		if o := t.entOrig[r.URN]; o != nil {
			before = o.Propagated
		}
		if err := stagePropagated(b, r.URN, before, r.Propagated); err != nil {
			return nil, err
		}
	}
	if err := t.stagePropWork(b); err != nil {
		return nil, err
	}
	for _, r := range edges {
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode edge %s: %w", r.key(), err)
		}
		if err := b.Set(edgeKey(r.key()), v, nil); err != nil {
			return nil, fmt.Errorf("stage edge %s: %w", r.key(), err)
		}
	}
	if err := t.stageDerived(b, ents, edges); err != nil {
		return nil, err
	}
	liveKeys := make([]string, 0, len(t.live))
	for k := range t.live {
		liveKeys = append(liveKeys, k)
	}
	sort.Strings(liveKeys)
	for _, k := range liveKeys {
		v := t.live[k]
		var err error
		if v == nil {
			err = b.Delete([]byte(k), nil)
		} else {
			err = b.Set([]byte(k), v, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("stage live readings: %w", err)
		}
	}
	for name, d := range t.defs {
		v, err := json.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("encode classification %s: %w", name, err)
		}
		if err := b.Set(classDefKey(name), v, nil); err != nil {
			return nil, fmt.Errorf("stage classification %s: %w", name, err)
		}
	}
	for _, kv := range t.puts {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			return nil, fmt.Errorf("stage record: %w", err)
		}
	}
	for _, k := range t.dels {
		if err := b.Delete(k, nil); err != nil {
			return nil, fmt.Errorf("stage deletion: %w", err)
		}
	}
	out := make([]catalog.Change, len(t.changes))
	for i := range t.changes {
		c := &t.changes[i]
		head++
		c.Seq, c.Time, c.Origin, c.Actor = head, t.at, t.origin, t.actor
		if c.Cause == "" {
			c.Cause = t.cause
		}
	}
	encoded, err = encodeAll(len(t.changes), func(i int) ([]byte, error) { return json.Marshal(&t.changes[i]) })
	if err != nil {
		return nil, fmt.Errorf("encode change: %w", err)
	}
	for i := range t.changes {
		c := &t.changes[i]
		if err := b.Set(changeKey(c.Seq), encoded[i], nil); err != nil {
			return nil, fmt.Errorf("stage change: %w", err)
		}
		out[i] = c.public()
	}
	if err := b.Commit(s.sync); err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "commit batch: %w", err)
	}

	s.mu.Lock()
	for _, r := range ents {
		// Only a changed name or description changes the search tokens.
		o := t.entOrig[r.URN]
		s.idx.putEntityTokens(r, o == nil || o.Description != r.Description || !sameFacetText(o, r))
		s.idx.putAttachmentState(r)
	}
	for _, r := range edges {
		s.idx.putEdge(r)
	}
	t.publishPropWork()
	for _, lu := range t.liveIdx {
		src := s.idx.source(lu.source)
		id := s.idx.nodeID(lu.urn)
		if lu.hash == 0 {
			delete(src.live, id)
		} else {
			src.live[id] = lu.hash
		}
	}
	for name, d := range t.defs {
		s.defs[name] = d.public()
	}
	s.lastAt = t.at
	if len(out) > 0 {
		s.head = head
		close(s.notify)
		s.notify = make(chan struct{})
	}
	s.mu.Unlock()
	s.maybeCheckpoint()
	return out, nil
}

// encodeAll runs encode for 0..n-1 and returns the results in order, on
// every core when n is large: a batch of propagated attachments writes
// thousands of records and events, and JSON encoding is most of its cost.
func encodeAll(n int, encode func(i int) ([]byte, error)) ([][]byte, error) {
	out := make([][]byte, n)
	workers := runtime.GOMAXPROCS(0)
	if n < 256 || workers < 2 {
		for i := 0; i < n; i++ {
			b, err := encode(i)
			if err != nil {
				return nil, err
			}
			out[i] = b
		}
		return out, nil
	}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += workers {
				b, err := encode(i)
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = b
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
