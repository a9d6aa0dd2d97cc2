package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// TestPropagatedAttachmentsKeyspace follows propagated attachments through
// their own keyspace: a Propagate leaves the entity record untouched yet
// shows on the entity, in classification search and after reopening; a
// Retract of the last one drops the name from search; unregistering drops
// the keys; and a record written by an older store with the attachments
// inline has them moved at open.
func TestPropagatedAttachmentsKeyspace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(Options{Dir: dir, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	const col, field, other = catalog.URN("urn:column:postgres://h:5432/db.public.t/email"), catalog.URN("urn:field:kafka://c/t/value/email"), catalog.URN("urn:field:kafka://c/t/value/name")
	apply := func(muts ...catalog.Mutation) []catalog.Change {
		t.Helper()
		cs, err := s.Apply(ctx, catalog.Batch{Actor: "test", Mutations: muts})
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	apply(catalog.RegisterAsset{URN: col}, catalog.RegisterAsset{URN: field}, catalog.RegisterAsset{URN: other})
	raw := func(u catalog.URN) []byte {
		t.Helper()
		b, closer, err := s.db.Get(entityKey(u))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		return append([]byte(nil), b...)
	}
	before := raw(field)
	cs := apply(catalog.Propagate{URN: field, Origin: col, Classification: "PII.Email", Path: []catalog.URN{col, field}})
	if len(cs) != 1 || cs[0].Type != catalog.ClassificationPropagated || cs[0].Subject != field {
		t.Fatalf("propagate: changes %+v", cs)
	}
	if string(raw(field)) != string(before) {
		t.Fatalf("the entity record was rewritten:\n%s\n%s", before, raw(field))
	}
	check := func(want bool) {
		t.Helper()
		e, err := s.Entity(ctx, field)
		if err != nil {
			t.Fatal(err)
		}
		has := len(e.Classifications) == 1 && e.Classifications[0].Classification == "PII.Email" && e.Classifications[0].Origin == col
		if has != want || (!want && len(e.Classifications) > 0) {
			t.Fatalf("entity classifications %+v, want attached=%v", e.Classifications, want)
		}
		r, err := s.Search(ctx, catalog.SearchQuery{Classifications: []string{"PII"}})
		if err != nil {
			t.Fatal(err)
		}
		if found := r.Total == 1 && r.Entities[0].URN == field; found != want || (!want && r.Total > 0) {
			t.Fatalf("search PII: %d results, want attached=%v", r.Total, want)
		}
	}
	check(true)
	reopen := func() {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open(Options{Dir: dir, NoSync: true}); err != nil {
			t.Fatal(err)
		}
	}
	reopen()
	check(true)
	// After a crash the index snapshot's journal names what changed.
	apply(catalog.Retract{URN: field, Origin: col, Classification: "PII.Email"})
	crash(t, s)
	if s, err = Open(Options{Dir: dir, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	check(false)
	apply(catalog.Propagate{URN: field, Origin: col, Classification: "PII.Email", Path: []catalog.URN{col, field}})
	crash(t, s)
	if s, err = Open(Options{Dir: dir, NoSync: true}); err != nil {
		t.Fatal(err)
	}
	if s.openedFrom != "snapshot" {
		t.Fatalf("opened from %s, want the snapshot and its journal", s.openedFrom)
	}
	check(true)
	if cs := apply(catalog.Propagate{URN: field, Origin: col, Classification: "PII.Email", Path: []catalog.URN{col, field}}); len(cs) != 0 {
		t.Fatalf("the same propagation again: changes %+v", cs)
	}
	cs = apply(catalog.Retract{URN: field, Origin: col, Classification: "PII.Email"})
	if len(cs) != 1 || cs[0].Type != catalog.ClassificationRetracted {
		t.Fatalf("retract: changes %+v", cs)
	}
	check(false)

	// A name another attachment holds stays searchable after a retraction.
	apply(catalog.Classify{URN: col, Classification: "Financial"})
	apply(catalog.Propagate{URN: col, Origin: field, Classification: "Financial", Path: []catalog.URN{field, col}})
	apply(catalog.Retract{URN: col, Origin: field, Classification: "Financial"})
	if r, err := s.Search(ctx, catalog.SearchQuery{Classifications: []string{"Financial"}}); err != nil || r.Total != 1 {
		t.Fatalf("search Financial after the retraction: %v, %d results", err, r.Total)
	}

	// Unregistering a carrier drops its keys with the record's attachments.
	apply(catalog.Propagate{URN: field, Origin: col, Classification: "PII.Email", Path: []catalog.URN{col, field}})
	apply(catalog.UnregisterAsset{URN: field})
	if ps, err := s.propagatedOf(field); err != nil || len(ps) != 0 {
		t.Fatalf("after unregistering: %v %+v", err, ps)
	}

	// A record of an older store (format 2) with inline attachments.
	var r entityRecord
	if err := json.Unmarshal(raw(other), &r); err != nil {
		t.Fatal(err)
	}
	r.Propagated = []attach{{Classification: "PII", Source: catalog.AttachPropagated, Origin: col, Path: []catalog.URN{col, other}}}
	v, _ := json.Marshal(&r)
	if err := s.db.Set(entityKey(other), v, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(metaKey("format"), binary.BigEndian.AppendUint64(nil, 2), nil); err != nil {
		t.Fatal(err)
	}
	reopen()
	defer s.Close()
	if ps, err := s.propagatedOf(other); err != nil || len(ps) != 1 || ps[0].Classification != "PII" {
		t.Fatalf("inline attachments were not moved: %v %+v", err, ps)
	}
	var moved entityRecord
	if err := json.Unmarshal(raw(other), &moved); err != nil || moved.Propagated != nil {
		t.Fatalf("the record still holds them: %v %+v", err, moved.Propagated)
	}
	if e, err := s.Entity(ctx, other); err != nil || len(e.Classifications) != 1 {
		t.Fatalf("entity after the move: %v %+v", err, e.Classifications)
	}
}
