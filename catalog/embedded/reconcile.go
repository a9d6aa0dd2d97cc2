package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/watershed-data/watershed/catalog"
)

// preparedAsset is a snapshot asset in stored form.
type preparedAsset struct {
	facet    *facetRecord
	hash     uint64
	live     []byte // canonical JSON, nil when empty
	liveHash uint64
}

type preparedLink struct {
	claim *claimRecord
	hash  uint64
}

// prepare validates s and merges duplicate assets and links.
func prepare(s *catalog.Snapshot) (map[catalog.URN]*preparedAsset, []catalog.URN, map[catalog.EdgeKey]*preparedLink, []catalog.EdgeKey, error) {
	if err := s.ValidateStructure(); err != nil {
		return nil, nil, nil, nil, err
	}
	assets := make(map[catalog.URN]*preparedAsset, len(s.Assets))
	var order []catalog.URN
	merged := make(map[catalog.URN]catalog.Properties)
	mergedLive := make(map[catalog.URN]catalog.Properties)
	for _, a := range s.Assets {
		p := assets[a.URN]
		if p == nil {
			p = &preparedAsset{facet: &facetRecord{}}
			assets[a.URN] = p
			order = append(order, a.URN)
		}
		f := p.facet
		if f.Name == "" {
			f.Name = a.Name
		}
		if f.Description == "" {
			f.Description = a.Description
		}
		if len(a.Properties) > 0 {
			m := merged[a.URN]
			if m == nil {
				m = catalog.Properties{}
				merged[a.URN] = m
			}
			for k, v := range a.Properties {
				m[k] = v
			}
		}
		if len(a.Live) > 0 {
			m := mergedLive[a.URN]
			if m == nil {
				m = catalog.Properties{}
				mergedLive[a.URN] = m
			}
			for k, v := range a.Live {
				m[k] = v
			}
		}
		for _, c := range a.Classifications {
			if c.Source == "" {
				c.Source = catalog.AttachCrawler
			}
			f.Classes = append(f.Classes, c)
		}
		f.Scopes = append(f.Scopes, a.Scope)
	}
	// Encoding the properties is most of the work: spread it over the cores.
	err := parallel(order, func(u catalog.URN) error {
		p := assets[u]
		f := p.facet
		if m := merged[u]; len(m) > 0 {
			b, err := catalog.CanonicalProperties(m)
			if err != nil {
				return fmt.Errorf("asset %s properties: %w", u, err)
			}
			f.Props = b
		}
		if m := mergedLive[u]; len(m) > 0 {
			b, err := catalog.CanonicalProperties(m)
			if err != nil {
				return fmt.Errorf("asset %s live properties: %w", u, err)
			}
			p.live = b
			p.liveHash = bytesHash(b)
		}
		f.Classes = dedupeClasses(f.Classes)
		f.Scopes = dedupeStrings(f.Scopes)
		p.hash = facetHash(f)
		return nil
	})
	if err != nil {
		return nil, nil, nil, nil, err
	}
	links := make(map[catalog.EdgeKey]*preparedLink, len(s.Links))
	var lorder []catalog.EdgeKey
	for _, l := range s.Links {
		k := l.Key()
		p := links[k]
		if p == nil {
			p = &preparedLink{claim: &claimRecord{Origin: l.Origin, Confidence: l.Confidence, Transform: l.Transform, Masking: l.Masking, Scopes: []string{l.Scope}}}
			if l.Via != "" {
				p.claim.Via = []catalog.URN{l.Via}
			}
			links[k] = p
			lorder = append(lorder, k)
			continue
		}
		c := p.claim
		if l.Confidence > c.Confidence {
			c.Confidence = l.Confidence
		}
		if c.Transform == "" {
			c.Transform = l.Transform
		}
		if c.Origin == "" {
			c.Origin = l.Origin
		}
		c.Masking = c.Masking || l.Masking
		c.Scopes = append(c.Scopes, l.Scope)
		if l.Via != "" {
			c.Via = append(c.Via, l.Via)
		}
	}
	for _, p := range links {
		p.claim.Scopes = dedupeStrings(p.claim.Scopes)
		p.claim.Via = dedupeURNs(p.claim.Via)
		p.hash = claimHash(p.claim)
	}
	return assets, order, links, lorder, nil
}

// parallel calls fn for every item on all cores and returns the first error.
func parallel[T any](items []T, fn func(T) error) error {
	workers := runtime.GOMAXPROCS(0)
	if len(items) < 256 || workers == 1 {
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	per := (len(items) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(items))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, it := range items[lo:hi] {
				if err := fn(it); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func dedupeClasses(cs []catalog.SourceClassification) []catalog.SourceClassification {
	if len(cs) == 0 {
		return nil
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Name != cs[j].Name {
			return cs[i].Name < cs[j].Name
		}
		return cs[i].Source < cs[j].Source
	})
	out := cs[:1]
	for _, c := range cs[1:] {
		if c != out[len(out)-1] {
			out = append(out, c)
		}
	}
	return out
}

func dedupeURNs(us []catalog.URN) []catalog.URN {
	if len(us) == 0 {
		return nil
	}
	sort.Slice(us, func(i, j int) bool { return us[i] < us[j] })
	out := us[:0]
	for i, u := range us {
		if i == 0 || u != us[i-1] {
			out = append(out, u)
		}
	}
	return out
}

func dedupeStrings(ss []string) []string {
	sort.Strings(ss)
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	if len(out) == 1 && out[0] == "" {
		return nil
	}
	return out
}

// Reconcile diffs snap against what snap.Source asserted before and commits
// the differences with their change events in one batch. See
// catalog.Writer.
func (s *Store) Reconcile(ctx context.Context, snap catalog.Snapshot, run *catalog.CrawlRun) (catalog.ReconcileResult, error) {
	var res catalog.ReconcileResult
	assets, order, links, lorder, err := prepare(&snap)
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkOpenLocked(); err != nil {
		return res, err
	}
	if !snap.Fence.IsZero() {
		// Holding lmu until the commit keeps the lease from changing hands
		// between the check and the write.
		s.lmu.Lock()
		defer s.lmu.Unlock()
		if err := s.checkFence(snap.Fence); err != nil {
			return res, fmt.Errorf("reconcile %s: %w", snap.Source, err)
		}
	}
	src := snap.Source
	actor := snap.Actor
	if actor == "" {
		actor = "crawler:" + src
	}
	t := s.newTxn(snap.At, "/watershed/sources/"+src, actor, snap.Cause)
	// The index is only mutated by writers, and we hold wmu: read it freely.
	x := s.idx
	si := x.sources[src]
	if si == nil {
		si = &sourceIndex{facets: map[uint32]uint64{}, live: map[uint32]uint64{}, claims: map[uint32]uint64{}}
	}
	// retained returns the scopes of an earlier assertion that this snapshot
	// does not speak for: those outside a Scopes-limited snapshot and those
	// it marks incomplete. They survive next to (or instead of) the new ones.
	retained := snap.Retainer()

	// A Scopes-limited snapshot speaks only for its scopes: of what the
	// source asserted before, it can change only what the scope index lists
	// under them. Everything else is kept as it is without being read.
	scoped := len(snap.Scopes) > 0
	var inScope []catalog.URN
	var inScopeLinks []catalog.EdgeKey
	if scoped {
		if inScope, inScopeLinks, err = s.scopedAssertions(src, snap.Scopes); err != nil {
			return res, err
		}
	}
	// Assets asserted now.
	newClasses := map[string]bool{}
	assertedAgain := 0 // assets of the snapshot the source asserted before
	for _, u := range order {
		p := assets[u]
		id, known := x.ids[u]
		var oldHash, oldLive uint64
		var hadFacet bool
		if known {
			oldHash, hadFacet = si.facets[id]
			oldLive = si.live[id]
		}
		if hadFacet {
			assertedAgain++
		}
		if p.liveHash != oldLive {
			t.setLive(src, u, p.live)
			res.LiveUpdated++
		}
		if hadFacet && oldHash == p.hash {
			continue
		}
		r, _, err := t.entity(u)
		if err != nil {
			return res, err
		}
		if r.Facets == nil {
			r.Facets = map[string]*facetRecord{}
		}
		if old := r.Facets[src]; old != nil {
			p.facet.FirstSeen = old.FirstSeen
			p.facet.Scopes = dedupeStrings(append(append([]string(nil), p.facet.Scopes...), retained(old.Scopes)...))
			res.Updated++
		} else {
			p.facet.FirstSeen = t.at
			if !r.alive() {
				res.Created++
			} else {
				res.Updated++
			}
		}
		r.Facets[src] = p.facet
		for _, c := range p.facet.Classes {
			newClasses[c.Name] = true
		}
	}
	// Assets asserted before but absent now.
	var absent []catalog.URN
	if scoped {
		for _, u := range inScope {
			if id, ok := x.ids[u]; ok && assets[u] == nil {
				if _, had := si.facets[id]; had {
					absent = append(absent, u)
				}
			}
		}
		// The others are all outside the snapshot's scopes: kept.
		res.Kept += len(si.facets) - assertedAgain - len(absent)
	} else {
		for id := range si.facets {
			if u := x.nodes[id].urn; assets[u] == nil {
				absent = append(absent, u)
			}
		}
	}
	for _, u := range absent {
		r, _, err := t.entity(u)
		if err != nil {
			return res, err
		}
		f := r.Facets[src]
		if f == nil {
			continue
		}
		if rem := retained(f.Scopes); len(rem) > 0 {
			f.Scopes = dedupeStrings(rem)
			res.Kept++
			continue
		}
		delete(r.Facets, src)
		if si.live[x.ids[u]] != 0 {
			t.setLive(src, u, nil)
		}
		if !r.alive() {
			res.Deleted++
		} else {
			res.Updated++
		}
	}
	// Links asserted now.
	linkedAgain := 0 // links of the snapshot the source asserted before
	for _, k := range lorder {
		p := links[k]
		if id, ok := x.edgeID(k); ok {
			h, had := si.claims[id]
			if had {
				linkedAgain++
			}
			if had && h == p.hash {
				continue
			}
		}
		r, _, err := t.edge(k)
		if err != nil {
			return res, err
		}
		if r.Claims == nil {
			r.Claims = map[string]*claimRecord{}
		}
		wasAlive := r.alive()
		if old := r.Claims[src]; old != nil {
			p.claim.FirstSeen = old.FirstSeen
			p.claim.Scopes = dedupeStrings(append(append([]string(nil), p.claim.Scopes...), retained(old.Scopes)...))
		} else {
			p.claim.FirstSeen = t.at
		}
		p.claim.LastSeen = t.at
		r.Claims[src] = p.claim
		if wasAlive {
			res.EdgesUpdated++
		} else {
			res.EdgesAdded++
		}
	}
	// Links asserted before but absent now.
	var gone []catalog.EdgeKey
	if scoped {
		for _, k := range inScopeLinks {
			if id, ok := x.edgeID(k); ok && links[k] == nil {
				if _, had := si.claims[id]; had {
					gone = append(gone, k)
				}
			}
		}
		res.Kept += len(si.claims) - linkedAgain - len(gone)
	} else {
		for id := range si.claims {
			if k := x.edgeKeyOf(id); links[k] == nil {
				gone = append(gone, k)
			}
		}
	}
	for _, k := range gone {
		r, _, err := t.edge(k)
		if err != nil {
			return res, err
		}
		c := r.Claims[src]
		if c == nil {
			continue
		}
		if rem := retained(c.Scopes); len(rem) > 0 {
			c.Scopes = dedupeStrings(rem)
			res.Kept++
			continue
		}
		delete(r.Claims, src)
		if r.alive() {
			res.EdgesUpdated++
		} else {
			res.EdgesRemoved++
		}
	}
	// Classifications named by sources are defined on first sight.
	defs := s.defsSnapshot(nil)
	for name := range newClasses {
		if err := ensureParents(t, name, defs); err != nil {
			return res, err
		}
	}

	sr, err := json.Marshal(sourceRecord{LastReconciled: t.at})
	if err != nil {
		return res, fmt.Errorf("encode source state: %w", err)
	}
	t.puts = append(t.puts, [2][]byte{sourceKey(src), sr})
	if run != nil {
		t.run, t.runRes = run, &res
	}
	changes, err := s.commit(t)
	if err != nil {
		return catalog.ReconcileResult{}, err
	}
	s.mu.Lock()
	s.idx.source(src).lastReconciled = t.at
	s.mu.Unlock()
	if run == nil { // with a run, commit filled these in before staging it
		res.Changes = len(changes)
		if len(changes) > 0 {
			res.Seq = changes[len(changes)-1].Seq
		}
	}
	return res, nil
}

// ensureParents defines name and its missing ancestors with default settings.
func ensureParents(t *txn, name string, defs map[string]catalog.ClassificationDef) error {
	parts := strings.Split(name, ".")
	for i := range parts {
		n := strings.Join(parts[:i+1], ".")
		if _, ok := defs[n]; ok {
			continue
		}
		if _, ok := t.defs[n]; ok {
			continue
		}
		const desc = "Defined by a source's schema tags"
		t.defs[n] = &classDefRecord{Name: n, Description: desc, Propagates: true, CreatedAt: t.at}
		if err := t.emit(catalog.ClassificationDefined, "", catalog.ClassificationData{Classification: n, Propagate: true, Description: desc}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) checkOpenLocked() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.checkOpen()
}
