package embedded

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// fullSortSearch is the reference for a search without text: every node
// the query keeps, sorted by kind rank, name and URN, then paged — what
// Search did before the search order index.
func fullSortSearch(x *index, q catalog.SearchQuery) ([]catalog.URN, int) {
	want := map[catalog.Kind]bool{}
	for _, k := range q.Kinds {
		want[k] = true
	}
	var ids []uint32
	for i := range x.nodes {
		n := &x.nodes[i]
		if !n.record || (n.deleted && !q.IncludeDeleted) || (len(want) > 0 && !want[n.kind]) {
			continue
		}
		ok := true
		for _, c := range q.Classifications {
			found := false
			for _, have := range n.classes {
				found = found || catalog.ClassificationWithin(have, c)
			}
			ok = ok && found
		}
		if ok {
			ids = append(ids, uint32(i))
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := &x.nodes[ids[i]], &x.nodes[ids[j]]
		if kindRanks[a.kind] != kindRanks[b.kind] {
			return kindRanks[a.kind] < kindRanks[b.kind]
		}
		if a.name != b.name {
			return a.name < b.name
		}
		return a.urn < b.urn
	})
	var page []catalog.URN
	for i := q.Offset; i < len(ids) && len(page) < q.Limit; i++ {
		page = append(page, x.nodes[ids[i]].urn)
	}
	return page, len(ids)
}

// browseStore writes n entities of four kinds whose names collide and sort
// in every way (prefixes, control bytes), a tenth classified PII.email and
// a seventh Finance, then tombstones every fifth.
func browseStore(t testing.TB, n int) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	schemes := []string{"topic", "table", "connector", "dataset"}
	names := []string{"orders", "orders_v2", "Orders", "order", "a\x01b", "a\x00b", "a", ""}
	snap := catalog.Snapshot{Source: "prod"}
	for i := 0; i < n; i++ {
		u := catalog.URN(fmt.Sprintf("urn:%s:prod/e%05d", schemes[i%len(schemes)], i))
		a := catalog.Asset{URN: u, Name: names[i%len(names)]}
		if i%10 == 0 {
			a.Classifications = append(a.Classifications, catalog.SourceClassification{Name: "PII.email"})
		}
		if i%7 == 0 {
			a.Classifications = append(a.Classifications, catalog.SourceClassification{Name: "Finance"})
		}
		snap.Assets = append(snap.Assets, a)
	}
	if _, err := s.Reconcile(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	var kept []catalog.Asset
	for i, a := range snap.Assets {
		if i%5 != 0 {
			kept = append(kept, a)
		}
	}
	snap.Assets = kept
	if _, err := s.Reconcile(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	// A rename moves an entity in the order.
	if _, err := s.Reconcile(ctx, catalog.Snapshot{Source: "other", Assets: []catalog.Asset{{URN: "urn:topic:prod/e00001", Name: "zzz"}}}, nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBrowseMatchesFullSort: a search without text returns the page and
// total a full sort of the catalog gives, for every filter combination.
func TestBrowseMatchesFullSort(t *testing.T) {
	ctx := context.Background()
	s := browseStore(t, 600)
	defer s.Close()
	for _, kinds := range [][]catalog.Kind{nil, {catalog.KindTable}, {catalog.KindDataset, catalog.KindTopic}, {catalog.KindJob}} {
		for _, classes := range [][]string{nil, {"PII"}, {"PII.email", "Finance"}, {"Nope"}} {
			for _, del := range []bool{false, true} {
				for _, page := range [][2]int{{0, 20}, {0, 1000}, {37, 15}, {590, 50}} {
					q := catalog.SearchQuery{Kinds: kinds, Classifications: classes, IncludeDeleted: del, Offset: page[0], Limit: page[1]}
					res, err := s.Search(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					var got []catalog.URN
					for _, e := range res.Entities {
						got = append(got, e.URN)
					}
					want, total := fullSortSearch(s.idx, q)
					if !reflect.DeepEqual(got, want) || res.Total != total {
						t.Errorf("%+v: got %d of %d %v, want %d of %d %v", q, len(got), res.Total, got, len(want), total, want)
					}
					// Large classifications walk the order index instead.
					if err := s.enter(); err != nil {
						t.Fatal(err)
					}
					wantKind := map[catalog.Kind]bool{}
					for _, k := range kinds {
						wantKind[k] = true
					}
					s.mu.RLock()
					walked, total2, err := s.browse(q, wantKind, 0)
					s.mu.RUnlock()
					s.leave()
					if err != nil || !reflect.DeepEqual(walked, want) || total2 != total {
						t.Errorf("%+v walking: got %d of %d %v (%v), want %d of %d %v", q, len(walked), total2, walked, err, len(want), total, want)
					}
				}
			}
		}
	}
}

// TestBrowseReadsItsPage: search(first: 20) without text reads about 20
// entries of the search order, not the catalog, and its total comes from
// the maintained counts.
func TestBrowseReadsItsPage(t *testing.T) {
	ctx := context.Background()
	s := browseStore(t, 5000)
	defer s.Close()
	for _, q := range []catalog.SearchQuery{
		{Limit: 20},
		{Limit: 20, Kinds: []catalog.Kind{catalog.KindTable}},
		{Limit: 20, IncludeDeleted: true},
	} {
		before := s.searchReads.Load()
		res, err := s.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		reads := s.searchReads.Load() - before
		if len(res.Entities) != 20 || reads > 40 {
			t.Errorf("%+v: %d results after reading %d index entries; want 20 after at most 40", q, len(res.Entities), reads)
		}
		if _, total := fullSortSearch(s.idx, q); res.Total != total {
			t.Errorf("%+v: total %d, want %d", q, res.Total, total)
		}
	}
}
