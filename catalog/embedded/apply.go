package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// Apply validates and commits every mutation of b atomically. See
// catalog.Writer.
func (s *Store) Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error) {
	if len(b.Mutations) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return nil, err
	}
	t := s.newTxn(s.now(), b.Origin, b.Actor, b.Cause)
	if err := t.prefetch(b.Mutations); err != nil {
		return nil, err
	}
	for i, m := range b.Mutations {
		if err := s.applyOne(t, m); err != nil {
			if len(b.Mutations) > 1 {
				return nil, fmt.Errorf("mutation %d of %d: %w", i+1, len(b.Mutations), err)
			}
			return nil, err
		}
	}
	return s.commit(t)
}

func (s *Store) applyOne(t *txn, m catalog.Mutation) error {
	switch m := m.(type) {
	case catalog.RegisterAsset:
		return s.registerAsset(t, m)
	case catalog.UnregisterAsset:
		r, err := existing(t, m.URN, true)
		if err != nil {
			return err
		}
		if r.Facets[catalog.ManualSource] == nil {
			return catalog.Errorf(catalog.NotFound, "asset %s was not registered through the API", m.URN)
		}
		delete(r.Facets, catalog.ManualSource)
		return nil
	case catalog.AddLineage:
		return s.addLineage(t, m)
	case catalog.RemoveLineage:
		k := catalog.EdgeKey{From: m.From, Kind: m.Kind, To: m.To}
		if err := k.Validate(); err != nil {
			return err
		}
		r, _, err := t.edge(k)
		if err != nil {
			return err
		}
		if r.Claims[catalog.ManualSource] == nil {
			return catalog.Errorf(catalog.NotFound, "no manual lineage %s; crawled lineage is removed by its crawler", k)
		}
		delete(r.Claims, catalog.ManualSource)
		return nil
	case catalog.Classify:
		return s.classify(t, m)
	case catalog.Declassify:
		src := m.Source
		if src == "" {
			src = catalog.AttachManual
		}
		r, err := existing(t, m.URN, true)
		if err != nil {
			return err
		}
		if m.Suppress && src != catalog.AttachRule {
			return catalog.Errorf(catalog.Invalid, "declassify: only rule attachments can be suppressed, not %s ones", src)
		}
		for i, a := range r.Direct {
			if a.Classification == m.Classification && a.Source == src {
				r.Direct = append(r.Direct[:i], r.Direct[i+1:]...)
				if len(r.Direct) == 0 {
					r.Direct = nil
				}
				if m.Suppress {
					r.Suppressed = addSorted(r.Suppressed, m.Classification)
				}
				return nil
			}
		}
		return catalog.Errorf(catalog.NotFound, "%s has no %s classification %s", m.URN, src, m.Classification)
	case catalog.SetDescription:
		if len(m.Description) > catalog.MaxDescriptionBytes {
			return catalog.Errorf(catalog.Invalid, "description is %d bytes; the limit is %d", len(m.Description), catalog.MaxDescriptionBytes)
		}
		r, err := existing(t, m.URN, true)
		if err != nil {
			return err
		}
		r.Description = m.Description
		return nil
	case catalog.SetOwners:
		owners, err := catalog.NormalizeOwners(m.Owners)
		if err != nil {
			return err
		}
		r, err := existing(t, m.URN, true)
		if err != nil {
			return err
		}
		r.Owners = owners
		return nil
	case catalog.DefineClassification:
		return s.defineClassification(t, m.Def)
	case catalog.SetPropagated:
		return setPropagated(t, m)
	case catalog.Propagate:
		return propagate(t, m)
	case catalog.Retract:
		return retract(t, m)
	case catalog.Emit:
		return emitStage(t, m)
	case catalog.SetEdgeBlock:
		if err := m.Edge.Validate(); err != nil {
			return err
		}
		for _, c := range m.Block {
			if err := catalog.ValidClassificationName(c); err != nil {
				return err
			}
		}
		r, _, err := t.edge(m.Edge)
		if err != nil {
			return err
		}
		if !r.alive() {
			return catalog.Errorf(catalog.NotFound, "no live edge %s", m.Edge)
		}
		block := dedupeStrings(append([]string(nil), m.Block...))
		r.Block = block
		return nil
	default:
		return catalog.Errorf(catalog.Invalid, "unsupported mutation %T", m)
	}
}

// existing loads the record of an entity that must exist; with alive it
// must not be a tombstone either.
func existing(t *txn, u catalog.URN, alive bool) (*entityRecord, error) {
	if err := u.Validate(); err != nil {
		return nil, err
	}
	r, found, err := t.entity(u)
	if err != nil {
		return nil, err
	}
	if !found && !r.alive() {
		return nil, catalog.Errorf(catalog.NotFound, "no asset %s", u)
	}
	if alive && !r.alive() {
		return nil, catalog.Errorf(catalog.Conflict, "asset %s was deleted at %s", u, r.DeletedAt.Format("2006-01-02T15:04:05Z07:00"))
	}
	return r, nil
}

func (s *Store) registerAsset(t *txn, m catalog.RegisterAsset) error {
	if err := m.URN.Validate(); err != nil {
		return err
	}
	switch m.URN.Kind() {
	case catalog.KindCrawlRun, catalog.KindViolation:
		return catalog.Errorf(catalog.Invalid, "assets of kind %s are created by Watershed itself, not registered", m.URN.Kind())
	}
	if len(m.Name) > catalog.MaxNameBytes {
		return catalog.Errorf(catalog.Invalid, "name is %d bytes; the limit is %d", len(m.Name), catalog.MaxNameBytes)
	}
	if len(m.Description) > catalog.MaxDescriptionBytes {
		return catalog.Errorf(catalog.Invalid, "description is %d bytes; the limit is %d", len(m.Description), catalog.MaxDescriptionBytes)
	}
	props, err := catalog.CanonicalProperties(m.Properties)
	if err != nil {
		return err
	}
	if len(props) > 256<<10 {
		return catalog.Errorf(catalog.Invalid, "properties are %d bytes encoded; the limit is %d", len(props), 256<<10)
	}
	if string(props) == "{}" {
		props = nil
	}
	r, _, err := t.entity(m.URN)
	if err != nil {
		return err
	}
	if r.Facets == nil {
		r.Facets = map[string]*facetRecord{}
	}
	f := &facetRecord{Name: m.Name, Description: m.Description, Props: props, FirstSeen: t.at}
	if old := r.Facets[catalog.ManualSource]; old != nil {
		f.FirstSeen = old.FirstSeen
	}
	r.Facets[catalog.ManualSource] = f
	return nil
}

func (s *Store) addLineage(t *txn, m catalog.AddLineage) error {
	k := catalog.EdgeKey{From: m.From, Kind: m.Kind, To: m.To}
	if err := k.Validate(); err != nil {
		return err
	}
	for _, u := range []catalog.URN{m.From, m.To} {
		if err := s.known(t, u); err != nil {
			return err
		}
	}
	r, _, err := t.edge(k)
	if err != nil {
		return err
	}
	if r.Claims == nil {
		r.Claims = map[string]*claimRecord{}
	}
	if m.Via != "" {
		if err := m.Via.Validate(); err != nil {
			return fmt.Errorf("lineage via: %w", err)
		}
	}
	c := &claimRecord{Origin: "manual", Confidence: 1, Transform: m.Transform, Masking: m.Masking, FirstSeen: t.at, LastSeen: t.at}
	if m.Via != "" {
		c.Via = []catalog.URN{m.Via}
	}
	if old := r.Claims[catalog.ManualSource]; old != nil {
		if old.Transform == c.Transform && old.Masking == c.Masking && slices.Equal(old.Via, c.Via) {
			return nil // adding the same manual lineage twice changes nothing
		}
		c.FirstSeen = old.FirstSeen
	}
	r.Claims[catalog.ManualSource] = c
	return nil
}

// known reports NotFound unless u is an alive entity, an entity created in
// this txn, or a URN that crawled edges already reference.
func (s *Store) known(t *txn, u catalog.URN) error {
	if r, ok := t.entities[u]; ok && r.alive() {
		return nil
	}
	s.mu.RLock()
	id, ok := s.idx.ids[u]
	var n node
	if ok {
		n = s.idx.nodes[id]
	}
	s.mu.RUnlock()
	if !ok {
		return catalog.Errorf(catalog.NotFound, "no asset %s (register it first)", u)
	}
	if n.record && n.deleted {
		return catalog.Errorf(catalog.Conflict, "asset %s was deleted", u)
	}
	return nil
}

func (s *Store) classify(t *txn, m catalog.Classify) error {
	if err := catalog.ValidClassificationName(m.Classification); err != nil {
		return err
	}
	src := m.Source
	if src == "" {
		src = catalog.AttachManual
	}
	if src != catalog.AttachManual && src != catalog.AttachRule {
		return catalog.Errorf(catalog.Invalid, "classify: source must be manual or rule, not %q", src)
	}
	defs := s.defsSnapshot(t.defs)
	def, ok := defs[m.Classification]
	if !ok {
		return catalog.Errorf(catalog.Invalid, "unknown classification %q (define it with defineClassification first)", m.Classification)
	}
	r, err := existing(t, m.URN, true)
	if err != nil {
		return err
	}
	switch {
	case src == catalog.AttachRule && slices.Contains(r.Suppressed, m.Classification):
		return nil // a steward removed it: rules do not attach it again
	case src == catalog.AttachManual:
		r.Suppressed = removeString(r.Suppressed, m.Classification)
	}
	prop := def.Propagates
	if m.Propagate != nil {
		prop = *m.Propagate
	}
	for i, a := range r.Direct {
		if a.Classification == m.Classification && a.Source == src {
			if a.Propagate == prop {
				return nil
			}
			r.Direct[i].Propagate = prop
			r.Direct[i].Actor = t.actor
			r.Direct[i].At = t.at
			return nil
		}
	}
	r.Direct = append(r.Direct, attach{Classification: m.Classification, Source: src, Propagate: prop, Actor: t.actor, At: t.at})
	sort.Slice(r.Direct, func(i, j int) bool {
		if r.Direct[i].Classification != r.Direct[j].Classification {
			return r.Direct[i].Classification < r.Direct[j].Classification
		}
		return r.Direct[i].Source < r.Direct[j].Source
	})
	return nil
}

func (s *Store) defineClassification(t *txn, d catalog.ClassificationDef) error {
	if err := catalog.ValidClassificationName(d.Name); err != nil {
		return err
	}
	if len(d.Description) > catalog.MaxDescriptionBytes {
		return catalog.Errorf(catalog.Invalid, "description is %d bytes; the limit is %d", len(d.Description), catalog.MaxDescriptionBytes)
	}
	defs := s.defsSnapshot(t.defs)
	if p := d.Parent(); p != "" {
		if _, ok := defs[p]; !ok {
			return catalog.Errorf(catalog.Invalid, "define classification %s: parent %s is not defined", d.Name, p)
		}
	}
	created := t.at
	if old, ok := defs[d.Name]; ok {
		if old.Description == d.Description && old.Propagates == d.Propagates && old.PassesMasking == d.PassesMasking {
			return nil
		}
		created = old.CreatedAt
	}
	t.defs[d.Name] = &classDefRecord{Name: d.Name, Description: d.Description, Propagates: d.Propagates, PassesMasking: d.PassesMasking, CreatedAt: created}
	return t.emit(catalog.ClassificationDefined, "", catalog.ClassificationData{Classification: d.Name, Propagate: d.Propagates, Description: d.Description, PassesMasking: d.PassesMasking})
}

func setPropagated(t *txn, m catalog.SetPropagated) error {
	if err := m.URN.Validate(); err != nil {
		return err
	}
	as := make([]attach, 0, len(m.Attachments))
	for _, a := range m.Attachments {
		if a.Source != catalog.AttachPropagated {
			return catalog.Errorf(catalog.Invalid, "set propagated: attachment %s has source %q", a.Classification, a.Source)
		}
		if err := catalog.ValidClassificationName(a.Classification); err != nil {
			return err
		}
		if err := a.Origin.Validate(); err != nil {
			return fmt.Errorf("propagated %s origin: %w", a.Classification, err)
		}
		a.At = t.at
		as = append(as, attachFrom(a))
	}
	sort.Slice(as, func(i, j int) bool {
		if as[i].Classification != as[j].Classification {
			return as[i].Classification < as[j].Classification
		}
		return as[i].Origin < as[j].Origin
	})
	r, _, err := t.entity(m.URN)
	if err != nil {
		return err
	}
	if !r.alive() {
		// A tombstone keeps what it had until it is recreated (its record
		// cannot change without an event, and deleted assets get none).
		if len(as) == 0 {
			return nil
		}
		return catalog.Errorf(catalog.Conflict, "set propagated: asset %s does not exist or was deleted", m.URN)
	}
	// Keep the original timestamps of attachments that did not change, so a
	// recomputation that finds the same result writes nothing.
	old := map[string]attach{}
	for _, a := range r.Propagated {
		old[a.Classification+"\x00"+string(a.Origin)] = a
	}
	for i, a := range as {
		if o, ok := old[a.Classification+"\x00"+string(a.Origin)]; ok && slices.Equal(o.Path, a.Path) && o.Propagate == a.Propagate {
			as[i] = o
		}
	}
	if len(as) == 0 {
		as = nil
	}
	r.Propagated = as
	return nil
}

// maxPathLen bounds the explaining path of a propagated attachment.
const maxPathLen = 10000

func propagate(t *txn, m catalog.Propagate) error {
	if err := m.URN.Validate(); err != nil {
		return err
	}
	if err := m.Origin.Validate(); err != nil {
		return fmt.Errorf("propagate %s origin: %w", m.Classification, err)
	}
	if err := catalog.ValidClassificationName(m.Classification); err != nil {
		return err
	}
	if len(m.Path) > maxPathLen {
		return catalog.Errorf(catalog.Invalid, "propagate %s to %s: path of %d hops; the limit is %d", m.Classification, m.URN, len(m.Path), maxPathLen)
	}
	for _, u := range m.Path {
		if err := u.Validate(); err != nil {
			return fmt.Errorf("propagate %s path: %w", m.Classification, err)
		}
	}
	if !t.s.idx.hasRecord(m.URN) {
		if r, ok := t.entities[m.URN]; !ok || !r.alive() {
			return nil // nothing to attach to: not an error (see catalog.Propagate)
		}
	}
	list, err := t.propagatedList(m.URN)
	if err != nil || list == nil {
		return err
	}
	a := attach{Classification: m.Classification, Source: catalog.AttachPropagated, Origin: m.Origin, Path: append([]catalog.URN(nil), m.Path...), Actor: t.actor, At: t.at}
	ps := *list
	for i, o := range ps {
		if o.Classification == m.Classification && o.Origin == m.Origin {
			if slices.Equal(o.Path, a.Path) {
				return nil
			}
			ps[i] = a
			return nil
		}
	}
	ps = append(ps, a)
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Classification != ps[j].Classification {
			return ps[i].Classification < ps[j].Classification
		}
		return ps[i].Origin < ps[j].Origin
	})
	*list = ps
	return nil
}

func retract(t *txn, m catalog.Retract) error {
	if err := m.URN.Validate(); err != nil {
		return err
	}
	if err := m.Origin.Validate(); err != nil {
		return fmt.Errorf("retract %s origin: %w", m.Classification, err)
	}
	if err := catalog.ValidClassificationName(m.Classification); err != nil {
		return err
	}
	if _, pending := t.entities[m.URN]; !pending && !t.s.idx.hasRecord(m.URN) {
		return nil
	}
	list, err := t.propagatedList(m.URN)
	if err != nil || list == nil {
		return err // nil list: a tombstone carries no propagated attachments
	}
	ps := *list
	for i, o := range ps {
		if o.Classification == m.Classification && o.Origin == m.Origin {
			ps = append(ps[:i], ps[i+1:]...)
			if len(ps) == 0 {
				ps = nil
			}
			*list = ps
			return nil
		}
	}
	return nil
}

func emitStage(t *txn, m catalog.Emit) error {
	if err := catalog.ValidateEmit(m); err != nil {
		return err
	}
	return t.emit(m.Type, m.Subject, m.Data)
}

// RecordCrawlRun stores a crawl run that did not reconcile and its
// crawl.failed event (see recordRun for the others). See catalog.Writer.
// The Change is zero when the run wrote no event.
func (s *Store) RecordCrawlRun(ctx context.Context, run catalog.CrawlRun) (catalog.Change, error) {
	if err := catalog.ValidateSource(run.Source); err != nil {
		return catalog.Change{}, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return catalog.Change{}, err
	}
	t := s.newTxn(s.now(), "/watershed/sources/"+run.Source, "crawler:"+run.Source, "")
	t.run, t.runRes = &run, &run.Result
	changes, err := s.commit(t)
	if err != nil || len(changes) == 0 {
		return catalog.Change{}, err
	}
	return changes[len(changes)-1], nil
}

// CrawlRunData is the payload of crawl.completed, crawl.failed and
// crawl.recovered events.
type CrawlRunData = catalog.CrawlRunData

// recordRun stages run (with res as its result) and its event, and prunes
// the source's oldest runs beyond the retention. The run is always kept;
// its event says what happened to the source, so a crawl that changes
// nothing writes none (DESIGN §4): crawl.failed for a failed run,
// crawl.recovered for the first run that succeeds (or is partial) after a
// failed one, crawl.completed for a run that changed something.
func (t *txn) recordRun(run *catalog.CrawlRun, res *catalog.ReconcileResult) error {
	if run.StartedAt.IsZero() {
		run.StartedAt = t.at
	}
	rec := runRecord{
		Source: run.Source, Kind: run.Kind, Trigger: run.Trigger, Status: run.Status,
		StartedAt: run.StartedAt.UTC(), Duration: run.Duration, Counts: run.Counts, Result: *res, Errors: run.Errors,
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode crawl run: %w", err)
	}
	key := runKey(run.Source, run.StartedAt)
	t.puts = append(t.puts, [2][]byte{key, v})
	// The source's previous run is its newest stored one; prune the oldest
	// (the new one sorts first).
	prefix := append(append([]byte{prefixRun}, run.Source...), 0)
	it, err := t.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return fmt.Errorf("open crawl run iterator: %w", err)
	}
	defer it.Close()
	var prev catalog.CrawlStatus
	n := 1
	for it.First(); it.Valid(); it.Next() {
		if prev == "" && !bytes.Equal(it.Key(), key) {
			var p runRecord
			if err := json.Unmarshal(it.Value(), &p); err != nil {
				return fmt.Errorf("decode crawl run: %w", err)
			}
			prev = p.Status
		}
		n++
		if n > t.s.runs {
			t.dels = append(t.dels, append([]byte(nil), it.Key()...))
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	typ := catalog.CrawlEvent(run.Status, prev, res.Changes)
	if typ == "" {
		return nil // nothing happened to the source: the run is kept, no event
	}
	return t.emit(typ, run.URN(), catalog.NewCrawlRunData(*run, *res))
}

// addSorted inserts s into the sorted list if it is not there yet.
func addSorted(list []string, s string) []string {
	i := sort.SearchStrings(list, s)
	if i < len(list) && list[i] == s {
		return list
	}
	list = append(list, "")
	copy(list[i+1:], list[i:])
	list[i] = s
	return list
}

// removeString returns list without s (nil when nothing is left).
func removeString(list []string, s string) []string {
	out := list[:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
