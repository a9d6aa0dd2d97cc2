package lineage_test

import (
	"context"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage/lineagetest"
)

// TestEventsNameTheirCause: every classification.propagated|retracted
// event is written by the propagation actor with the ID of the entry that
// caused it — a classify, a new edge, a declassify — and the handler never
// reacts to its own events.
func TestEventsNameTheirCause(t *testing.T) {
	e := lineagetest.Start(t)
	ctx := context.Background()
	a, b, c := catalog.URN("urn:field:p/a/value/x"), catalog.URN("urn:field:p/b/value/x"), catalog.URN("urn:field:p/c/value/x")
	apply := func(muts ...catalog.Mutation) string {
		t.Helper()
		cs, err := e.Store.Apply(ctx, catalog.Batch{Actor: "user:test", Mutations: muts})
		if err != nil {
			t.Fatal(err)
		}
		e.Settle(t)
		return cs[len(cs)-1].ID()
	}
	apply(catalog.RegisterAsset{URN: a}, catalog.RegisterAsset{URN: b}, catalog.RegisterAsset{URN: c},
		catalog.AddLineage{From: a, To: b, Kind: catalog.EdgeDerives})
	since := func(seq uint64) []catalog.Change {
		t.Helper()
		cs, err := e.Store.Changes(ctx, seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	head := func() uint64 {
		h, err := e.Store.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	check := func(from uint64, cause string, want map[catalog.URN]catalog.ChangeType) {
		t.Helper()
		got := map[catalog.URN]catalog.ChangeType{}
		for _, ch := range since(from) {
			if !ch.Type.Family("classification") || ch.Actor != catalog.ActorPropagation {
				continue
			}
			if ch.Cause != cause {
				t.Errorf("%s %s: cause %q, want %q", ch.Type, ch.Subject, ch.Cause, cause)
			}
			got[ch.Subject] = ch.Type
		}
		if len(got) != len(want) {
			t.Errorf("propagation events %v, want %v", got, want)
		}
		for u, typ := range want {
			if got[u] != typ {
				t.Errorf("%s: event %q, want %q", u, got[u], typ)
			}
		}
	}
	h := head()
	id := apply(catalog.Classify{URN: a, Classification: "PII"})
	check(h, id, map[catalog.URN]catalog.ChangeType{b: catalog.ClassificationPropagated})
	h = head()
	id = apply(catalog.AddLineage{From: b, To: c, Kind: catalog.EdgeDerives})
	check(h, id, map[catalog.URN]catalog.ChangeType{c: catalog.ClassificationPropagated})
	h = head()
	id = apply(catalog.Declassify{URN: a, Classification: "PII"})
	check(h, id, map[catalog.URN]catalog.ChangeType{b: catalog.ClassificationRetracted, c: catalog.ClassificationRetracted})
	// Nothing more happens: the handler does not react to its own events.
	h = head()
	e.Settle(t)
	if n := len(since(h)); n != 0 {
		t.Errorf("%d entries after settling", n)
	}
}
