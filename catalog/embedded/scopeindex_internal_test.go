package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// scopedSource asserts jobs×5 datasets, five per scope "job/<j>", with a
// PRODUCES link from each job's first dataset to its other four.
func scopedSource(jobs int) catalog.Snapshot {
	snap := catalog.Snapshot{Source: "ol"}
	for j := 0; j < jobs; j++ {
		snap.Assets = append(snap.Assets, jobAssets(j, 0)...)
		snap.Links = append(snap.Links, jobLinks(j)...)
	}
	return snap
}

func jobURN(j, d int) catalog.URN {
	return catalog.URN(fmt.Sprintf("urn:dataset:ol/job%d.ds%d", j, d))
}

func jobAssets(j, round int) []catalog.Asset {
	var out []catalog.Asset
	for d := 0; d < 5; d++ {
		out = append(out, catalog.Asset{URN: jobURN(j, d), Scope: fmt.Sprintf("job/%d", j), Properties: catalog.Properties{"round": round}})
	}
	return out
}

func jobLinks(j int) []catalog.Link {
	var out []catalog.Link
	for d := 1; d < 5; d++ {
		out = append(out, catalog.Link{From: jobURN(j, 0), Kind: catalog.EdgeProduces, To: jobURN(j, d), Confidence: 1, Scope: fmt.Sprintf("job/%d", j)})
	}
	return out
}

// TestScopedReconcileReadsOnlyItsScope: a Scopes-limited reconcile of one
// job's five datasets reads the records of that job, not every record the
// source asserts, and still removes what the job no longer asserts and
// keeps (and counts as kept) everything outside its scope.
func TestScopedReconcileReadsOnlyItsScope(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const jobs = 400
	if _, err := s.Reconcile(ctx, scopedSource(jobs), nil); err != nil {
		t.Fatal(err)
	}
	// Job 7 now asserts four datasets (ds4 dropped, ds1 changed) and three
	// links.
	snap := catalog.Snapshot{Source: "ol", Scopes: []string{"job/7"}}
	snap.Assets = jobAssets(7, 0)[:4]
	snap.Assets[1].Properties = catalog.Properties{"round": 1}
	snap.Links = jobLinks(7)[:3]
	before := s.recordReads.Load()
	res, err := s.Reconcile(ctx, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	reads := s.recordReads.Load() - before
	// ds1 (changed), ds4 (dropped) and the dropped link: three records. On
	// a full walk this was every one of the 2,000 assets and 1,600 links.
	if reads > 3 {
		t.Errorf("scoped reconcile read %d records, want at most 3", reads)
	}
	if res.Updated != 1 || res.Deleted != 1 || res.EdgesRemoved != 1 {
		t.Errorf("result = %+v, want 1 updated, 1 deleted, 1 edge removed", res)
	}
	if want := (jobs-1)*5 + (jobs-1)*4; res.Kept != want {
		t.Errorf("kept = %d, want %d (everything outside job/7)", res.Kept, want)
	}
	e, err := s.Entity(ctx, jobURN(7, 4))
	if err != nil || e.DeletedAt.IsZero() {
		t.Errorf("dropped dataset = %+v, %v; want a tombstone", e, err)
	}
	if e, err := s.Entity(ctx, jobURN(8, 4)); err != nil || !e.DeletedAt.IsZero() {
		t.Errorf("dataset of another job = %+v, %v; want it kept", e, err)
	}
}

// TestScopeIndexMigration: a data directory in format 1 (no scope index,
// search order or journal) gets them built when it opens, so a scoped
// reconcile after the upgrade removes what it must and a search without
// text finds everything.
func TestScopeIndexMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reconcile(ctx, scopedSource(20), nil); err != nil {
		t.Fatal(err)
	}
	// Make it a format 1 directory: no scope index, no search order.
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], 1)
	b := s.db.NewBatch()
	for _, p := range []byte{prefixScope, prefixOrder, prefixJournal} {
		if err := b.DeleteRange([]byte{p}, []byte{p + 1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete(metaKey("snapshot"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(metaKey("format"), v[:], nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	urns, keys, err := s.scopedAssertions("ol", []string{"job/3"})
	if err != nil || len(urns) != 5 || len(keys) != 4 {
		t.Fatalf("scope index after migration: %d entities, %d edges, %v; want 5 and 4", len(urns), len(keys), err)
	}
	if s.openedFrom != "records" {
		t.Errorf("a format 1 directory opened from %s, want a rebuild from the records", s.openedFrom)
	}
	found, err := s.Search(ctx, catalog.SearchQuery{Limit: 1000})
	if err != nil || len(found.Entities) != 100 || found.Total != 100 {
		t.Fatalf("search after migration: %d of %d, %v; want all 100", len(found.Entities), found.Total, err)
	}
	snap := catalog.Snapshot{Source: "ol", Scopes: []string{"job/3"}, Assets: jobAssets(3, 0)[:2]}
	res, err := s.Reconcile(ctx, snap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 3 || res.EdgesRemoved != 4 || res.Kept != 19*5+19*4 {
		t.Errorf("result = %+v, want 3 deleted, 4 edges removed, %d kept", res, 19*5+19*4)
	}
}
