package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// canonical is an index with ids replaced by URNs and edge keys and lists
// sorted, so that two indexes built in different orders (a running store,
// a snapshot, a rebuild from the records) compare equal when they describe
// the same state.
type canonical struct {
	Nodes   map[catalog.URN]canonNode
	Edges   map[string]canonEdge
	Sources map[string]canonSource
	Tokens  map[string][]catalog.URN
	Vocab   []string
	Classes map[string][]catalog.URN
	Counts  map[catalog.Kind]kindCount
}

type canonNode struct {
	Kind               catalog.Kind
	Name               string
	Record, Deleted    bool
	Out, In, ViaEdges  []string
	Tokens, ClassNames []string
	IDKnown            bool // the URN → id map names this node
}

type canonEdge struct {
	Kind           catalog.EdgeKind
	Kbit           uint32
	Alive, Masking bool
	Block          []string
	Via            []catalog.URN
	Intervals      []string
	IDKnown        bool // the identity → id map names this edge
}

type canonSource struct {
	Facets, Live   map[catalog.URN]uint64
	Claims         map[string]uint64
	LastReconciled int64
}

func edgeName(x *index, id uint32) string {
	k := x.edgeKeyOf(id)
	return string(k.From) + " " + string(k.Kind) + " " + string(k.To)
}

func sortedURNs(x *index, ids []uint32) []catalog.URN {
	if len(ids) == 0 {
		return nil
	}
	out := make([]catalog.URN, 0, len(ids))
	for _, id := range ids {
		out = append(out, x.nodes[id].urn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortedEdges(x *index, ids []uint32, deadVia bool) []string {
	var out []string
	for _, id := range ids {
		if deadVia || x.edges[id].alive {
			out = append(out, edgeName(x, id))
		}
	}
	sort.Strings(out)
	return out
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// canonicalize builds the canonical form of x. Without deadVia it leaves
// out which nodes dead edges pass through: a running store remembers it
// (time travel uses it) but a dead edge's record names no Via, so a
// rebuild from the records cannot know it — a snapshot keeps it.
func canonicalize(x *index, deadVia bool) canonical {
	c := canonical{Nodes: map[catalog.URN]canonNode{}, Edges: map[string]canonEdge{}, Sources: map[string]canonSource{},
		Tokens: map[string][]catalog.URN{}, Classes: map[string][]catalog.URN{}, Vocab: append([]string(nil), x.sortedVocab()...),
		Counts: map[catalog.Kind]kindCount{}}
	for k, n := range x.counts {
		if n != (kindCount{}) {
			c.Counts[k] = n
		}
	}
	for i := range x.nodes {
		n := &x.nodes[i]
		id, ok := x.ids[n.urn]
		c.Nodes[n.urn] = canonNode{Kind: n.kind, Name: n.name, Record: n.record, Deleted: n.deleted,
			Out: sortedEdges(x, n.out, true), In: sortedEdges(x, n.in, true), ViaEdges: sortedEdges(x, n.viaEdges, deadVia),
			Tokens: nilIfEmpty(n.tokens), ClassNames: nilIfEmpty(n.classes), IDKnown: ok && id == uint32(i)}
	}
	for i := range x.edges {
		e := &x.edges[i]
		var ivs []string
		for _, iv := range e.intervals {
			ivs = append(ivs, iv.From.UTC().Format(time.RFC3339Nano)+"/"+iv.To.UTC().Format(time.RFC3339Nano))
		}
		id, ok := x.edgeIDs[edgeIdent{from: e.from, to: e.to, kind: e.kind}]
		via := sortedURNs(x, e.via)
		if !e.alive && !deadVia {
			via = nil
		}
		c.Edges[edgeName(x, uint32(i))] = canonEdge{Kind: e.kind, Kbit: e.kbit, Alive: e.alive, Masking: e.masking,
			Block: nilIfEmpty(e.block), Via: via, Intervals: ivs, IDKnown: ok && id == uint32(i)}
	}
	for name, si := range x.sources {
		cs := canonSource{Facets: map[catalog.URN]uint64{}, Live: map[catalog.URN]uint64{}, Claims: map[string]uint64{}, LastReconciled: si.lastReconciled.UnixNano()}
		for id, h := range si.facets {
			cs.Facets[x.nodes[id].urn] = h
		}
		for id, h := range si.live {
			cs.Live[x.nodes[id].urn] = h
		}
		for id, h := range si.claims {
			cs.Claims[edgeName(x, id)] = h
		}
		if si.lastReconciled.IsZero() {
			cs.LastReconciled = 0
		}
		c.Sources[name] = cs
	}
	for t, ids := range x.tokens {
		c.Tokens[t] = sortedURNs(x, ids)
	}
	for cl, set := range x.classes {
		ids := make([]uint32, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		c.Classes[cl] = sortedURNs(x, ids)
	}
	return c
}

// canonDiff describes the first entries where a and b differ ("" if none).
func canonDiff(a, b canonical) string {
	if reflect.DeepEqual(a, b) {
		return ""
	}
	av, bv := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := 0; i < av.NumField(); i++ {
		fa, fb := av.Field(i), bv.Field(i)
		if reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		name := av.Type().Field(i).Name
		if fa.Kind() != reflect.Map {
			return fmt.Sprintf("%s: %v != %v", name, fa.Interface(), fb.Interface())
		}
		for _, k := range fa.MapKeys() {
			va, vb := fa.MapIndex(k), fb.MapIndex(k)
			if !vb.IsValid() {
				return fmt.Sprintf("%s[%v] only in the first: %+v", name, k, va.Interface())
			}
			if !reflect.DeepEqual(va.Interface(), vb.Interface()) {
				return fmt.Sprintf("%s[%v]: %+v != %+v", name, k, va.Interface(), vb.Interface())
			}
		}
		for _, k := range fb.MapKeys() {
			if !fa.MapIndex(k).IsValid() {
				return fmt.Sprintf("%s[%v] only in the second: %+v", name, k, fb.MapIndex(k).Interface())
			}
		}
	}
	return "differ"
}

// TestCanonicalCoversEveryField fails when a field is added to the index
// without the snapshot (snapshot.go) and canonicalize learning it: count
// the fields each knows.
func TestCanonicalCoversEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]int{
		// ids, nodes, edgeIDs, edges, sources, tokens, vocab, vocabSorted,
		// classes, counts; and, not in the snapshot, adj (a cache built by
		// the first walk), propHeld (rebuilt by loadAttachmentState) and
		// ownClasses (a cache writers fill).
		reflect.TypeOf(index{}):       13,
		reflect.TypeOf(node{}):        10,
		reflect.TypeOf(edge{}):        9,
		reflect.TypeOf(sourceIndex{}): 4,
	} {
		if got := typ.NumField(); got != want {
			t.Errorf("%s has %d fields, the snapshot and canonicalize know %d: teach them the new ones", typ, got, want)
		}
	}
}

// snapshotScenario writes a store with every kind of indexed state: names
// and descriptions (tokens), classifications, live readings, scopes, pass-
// through edges, masking and blocks, tombstones and closed intervals.
func snapshotScenario(t *testing.T, s *Store, round int) {
	t.Helper()
	ctx := context.Background()
	u := func(n string) catalog.URN { return catalog.URN("urn:topic:prod/" + n) }
	conn := catalog.URN("urn:connector:prod/sink")
	table := catalog.URN("urn:table:dw/orders")
	snap := catalog.Snapshot{Source: "prod", Assets: []catalog.Asset{
		{URN: u("orders"), Name: "orders", Description: "All orders, round " + string(rune('a'+round)), Scope: "group/a",
			Classifications: []catalog.SourceClassification{{Name: "PII.email"}}, Live: catalog.Properties{"lag": round}},
		{URN: u("payments"), Description: "payments", Scope: "group/b", Properties: catalog.Properties{"p": round}},
		{URN: conn, Name: "sink"},
	}, Links: []catalog.Link{
		{From: u("orders"), Kind: catalog.EdgeSinks, To: table, Via: conn, Confidence: 1, Scope: "group/a"},
		{From: u("payments"), Kind: catalog.EdgeProduces, To: u("orders"), Confidence: 0.5, Masking: round%2 == 0},
	}}
	if round > 0 {
		snap.Assets = append(snap.Assets, catalog.Asset{URN: u("refunds"), Scope: "group/b"})
	}
	if round == 2 {
		snap.Assets = snap.Assets[1:] // orders gone: a tombstone and a closed edge
		snap.Links = snap.Links[1:]
	}
	if _, err := s.Reconcile(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.Apply(ctx, catalog.Batch{Actor: "test", Mutations: []catalog.Mutation{
		catalog.RegisterAsset{URN: catalog.URN("urn:topic:manual/m" + string(rune('0'+round))), Description: "registered by hand"},
		catalog.Classify{URN: u("payments"), Classification: "PII"},
		catalog.AddLineage{From: u("payments"), To: table, Kind: catalog.EdgeProduces},
		catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: u("payments"), Kind: catalog.EdgeProduces, To: table}, Block: []string{"PII"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if round == 1 {
		if _, err := s.Apply(ctx, catalog.Batch{Actor: "test", Mutations: []catalog.Mutation{catalog.UnregisterAsset{URN: "urn:topic:manual/m0"}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// crash closes the database under s without Close: no snapshot is written,
// as when the process is killed (every batch was synced).
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	s.cache.Unref()
}

// requireRebuildEqual checks that s's index describes the state of before
// (the index of the store that was closed or crashed) and what a rebuild
// from the records gives. A rebuild forgets what dead edges passed through
// (see canonicalize), a snapshot does not.
func requireRebuildEqual(t *testing.T, s *Store, before *index, what string) {
	t.Helper()
	deadVia := s.openedFrom == "snapshot"
	if d := canonDiff(canonicalize(before, deadVia), canonicalize(s.idx, deadVia)); d != "" {
		t.Errorf("%s: index differs from the state before: %s", what, d)
	}
	rebuilt, err := s.rebuildIndex(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, si := range rebuilt.sources { // as load does after the index
		if cur := s.idx.sources[name]; cur != nil {
			si.lastReconciled = cur.lastReconciled
		}
	}
	if d := canonDiff(canonicalize(rebuilt, false), canonicalize(s.idx, false)); d != "" {
		t.Errorf("%s: index differs from a rebuild from the records: %s", what, d)
	}
}

// TestOpenFromSnapshotMatchesRebuild: a clean restart loads the index
// snapshot; after a crash it loads the last snapshot and replays the
// journal; a stale, corrupt or missing snapshot makes Open rebuild from
// the records. Every way gives the state the store had, which is also the
// state a rebuild from the records gives.
func TestOpenFromSnapshotMatchesRebuild(t *testing.T) {
	dir := t.TempDir()
	open := func(wantFrom string) *Store {
		t.Helper()
		s, err := Open(Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if s.openedFrom != wantFrom {
			t.Fatalf("opened from %s, want %s", s.openedFrom, wantFrom)
		}
		return s
	}
	s := open("records") // a new store
	snapshotScenario(t, s, 0)
	want := s.idx
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open("snapshot")
	if s.journaled != 0 {
		t.Errorf("clean restart replayed %d journaled records, want 0", s.journaled)
	}
	requireRebuildEqual(t, s, want, "clean restart")
	old, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		t.Fatal(err)
	}

	snapshotScenario(t, s, 1)
	snapshotScenario(t, s, 2)
	want = s.idx
	crash(t, s)
	s = open("snapshot")
	if s.journaled == 0 {
		t.Error("restart after a crash replayed no journal")
	}
	requireRebuildEqual(t, s, want, "restart after a crash")
	snapshotScenario(t, s, 3)
	want = s.idx
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A stale snapshot (an older generation) is not used.
	if err := os.WriteFile(filepath.Join(dir, snapshotFile), old, 0o644); err != nil {
		t.Fatal(err)
	}
	s = open("records")
	requireRebuildEqual(t, s, want, "stale snapshot")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A corrupt one neither.
	cur, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshotFile), cur[:len(cur)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	s = open("records")
	requireRebuildEqual(t, s, want, "truncated snapshot")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Nor a missing one; and a crash right after a rebuild loses nothing.
	if err := os.Remove(filepath.Join(dir, snapshotFile)); err != nil {
		t.Fatal(err)
	}
	s = open("records")
	requireRebuildEqual(t, s, want, "missing snapshot")
	snapshotScenario(t, s, 4)
	want = s.idx
	crash(t, s)
	s = open("records")
	requireRebuildEqual(t, s, want, "crash without a snapshot")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCheckpointBoundsReplay: once the journal holds more than
// CheckpointAfter records a commit writes a new snapshot, so after a crash
// Open replays only what was written since; Checkpoint does it on demand.
func TestCheckpointBoundsReplay(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, CheckpointAfter: 4})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		snapshotScenario(t, s, round)
	}
	if s.journal > 4+8 { // at most the limit plus one commit's records
		t.Errorf("journal holds %d records after commits with CheckpointAfter 4", s.journal)
	}
	want := s.idx
	crash(t, s)
	s, err = Open(Options{Dir: dir, CheckpointAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	if s.openedFrom != "snapshot" || s.journaled > 12 {
		t.Errorf("opened from %s replaying %d records, want the checkpoint and a short journal", s.openedFrom, s.journaled)
	}
	requireRebuildEqual(t, s, want, "crash after checkpoints")
	snapshotScenario(t, s, 3)
	if err := s.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	want = s.idx
	crash(t, s)
	s, err = Open(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.openedFrom != "snapshot" || s.journaled != 0 {
		t.Errorf("opened from %s replaying %d records, want the checkpoint and an empty journal", s.openedFrom, s.journaled)
	}
	requireRebuildEqual(t, s, want, "crash after Checkpoint")
}
