package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/lineage"
)

// TestPropagationQueries drives previewClassification, classify with a
// running Propagator, the attachments' mode, explainClassification and
// declassify through the real handler.
func TestPropagationQueries(t *testing.T) {
	s := newServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cl := changelog.New(changelog.Options{Log: s.store, Cursors: s.store})
	p := lineage.New(lineage.Options{Graph: s.store, Writer: s.store, Subscriber: cl, Resync: -1})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	const (
		col   = "urn:column:postgres://db:5432/shop.public.customers/email"
		table = "urn:table:postgres://db:5432/shop.public.customers"
		topic = "urn:topic:prod/cdc.customers"
		field = "urn:field:prod/cdc.customers/value/after.email"
		dwh   = "urn:column:postgres://dwh:5432/dwh.staging.customers/email"
		crm   = "urn:column:postgres://crm:5432/crm.public.contacts/email"
	)
	var muts []catalog.Mutation
	for _, u := range []catalog.URN{col, table, topic, field, dwh, crm} {
		muts = append(muts, catalog.RegisterAsset{URN: u})
	}
	muts = append(muts,
		catalog.AddLineage{From: table, To: col, Kind: catalog.EdgeContains},
		catalog.AddLineage{From: topic, To: field, Kind: catalog.EdgeContains},
		catalog.AddLineage{From: col, To: field, Kind: catalog.EdgeDerives, Transform: "debezium"},
		catalog.AddLineage{From: field, To: dwh, Kind: catalog.EdgeDerives, Transform: "unwrap"},
		catalog.AddLineage{From: field, To: crm, Kind: catalog.EdgeDerives, Transform: "MaskField", Masking: true},
	)
	if _, err := s.store.Apply(ctx, catalog.Batch{Mutations: muts}); err != nil {
		t.Fatal(err)
	}
	settle := func() {
		t.Helper()
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := cl.WaitHandled(wctx, lineage.SubscriptionName, s.head()); err != nil {
			t.Fatal(err)
		}
	}
	settle()

	// A dry run writes nothing.
	h0 := s.head()
	d := s.ok(`query($u: URN!) { previewClassification(urn: $u, classification: "PII.Email") {
		origin classification propagates totalCount reached { asset { urn kind } mode path } } }`, map[string]any{"u": col})
	reached := map[string]string{}
	for _, r := range get(d, "previewClassification", "reached").([]any) {
		reached[get(r, "asset", "urn").(string)] = get(r, "mode").(string)
	}
	want := map[string]string{field: "FIELD", dwh: "FIELD", topic: "ROLLUP", table: "ROLLUP"}
	if len(reached) != len(want) || get(d, "previewClassification", "totalCount") != float64(4) {
		t.Fatalf("preview reached %v, want %v", reached, want)
	}
	for u, m := range want {
		if reached[u] != m {
			t.Errorf("preview: %s mode %q, want %s", u, reached[u], m)
		}
	}
	if s.head() != h0 {
		t.Errorf("previewClassification wrote %d changes", s.head()-h0)
	}
	d = s.ok(`query($u: URN!) { previewClassification(urn: $u, classification: "PII.Email", first: 0) { totalCount reached { mode } } }`, map[string]any{"u": col})
	if get(d, "previewClassification", "totalCount") != float64(4) || len(get(d, "previewClassification", "reached").([]any)) != 0 {
		t.Errorf("preview with first 0 = %v", d)
	}
	s.code("", `{ previewClassification(urn: "urn:topic:prod/none", classification: "PII") { totalCount } }`, nil, "NOT_FOUND")
	s.code("", `{ previewClassification(urn: "urn:topic:prod/cdc.customers", classification: "Nope") { totalCount } }`, nil, "INVALID_ARGUMENT")

	// Classify for real: the propagated attachments carry origin, path and mode.
	s.ok(`mutation($u: URN!) { classify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": col})
	settle()
	d = s.ok(`query($u: URN!) { asset(urn: $u) { classifications { name direct source origin path mode } } }`, map[string]any{"u": topic})
	c := get(d, "asset", "classifications", 0)
	if get(c, "name") != "PII.Email" || get(c, "direct") != false || get(c, "source") != "PROPAGATED" || get(c, "origin") != col || get(c, "mode") != "ROLLUP" {
		t.Errorf("topic classifications = %v", d)
	}
	if path, _ := json.Marshal(get(c, "path")); string(path) != `["`+col+`","`+field+`","`+topic+`"]` {
		t.Errorf("topic path = %s", path)
	}
	d = s.ok(`query($u: URN!) { asset(urn: $u) { classifications { name } } }`, map[string]any{"u": crm})
	if n := len(get(d, "asset", "classifications").([]any)); n != 0 {
		t.Errorf("the masked column carries %v", d)
	}
	// Why does the warehouse column carry PII? The hierarchy finds PII.Email.
	d = s.ok(`query($u: URN!) { explainClassification(urn: $u, classification: "PII") {
		classification source direct origin { urn } mode path hops { from to containment edge { kind claims { transform } } } } }`, map[string]any{"u": dwh})
	xs := get(d, "explainClassification").([]any)
	if len(xs) != 1 {
		t.Fatalf("explain = %v", d)
	}
	x := xs[0]
	if get(x, "classification") != "PII.Email" || get(x, "direct") != false || get(x, "origin", "urn") != col || get(x, "mode") != "FIELD" {
		t.Errorf("explanation = %v", x)
	}
	hops := get(x, "hops").([]any)
	if len(hops) != 2 || get(hops[0], "edge", "kind") != "DERIVES" || get(hops[0], "edge", "claims", 0, "transform") != "debezium" || get(hops[1], "to") != dwh || get(hops[1], "containment") != false {
		t.Errorf("hops = %v", hops)
	}
	d = s.ok(`query($u: URN!) { explainClassification(urn: $u, classification: "PII.Email") { mode hops { containment edge { kind } } } }`, map[string]any{"u": topic})
	if h := get(d, "explainClassification", 0, "hops", 1); get(h, "containment") != true || get(h, "edge") != nil {
		t.Errorf("roll-up hop = %v", d)
	}
	d = s.ok(`query($u: URN!) { explainClassification(urn: $u, classification: "PII") { source direct } }`, map[string]any{"u": col})
	if get(d, "explainClassification", 0, "source") != "MANUAL" || get(d, "explainClassification", 0, "direct") != true {
		t.Errorf("explain the origin = %v", d)
	}
	d = s.ok(`query($u: URN!) { explainClassification(urn: $u, classification: "Financial") { source } }`, map[string]any{"u": col})
	if n := len(get(d, "explainClassification").([]any)); n != 0 {
		t.Errorf("explain of a classification not carried = %v", d)
	}

	// Declassifying a propagated copy is refused with the reason; the origin
	// retracts everything.
	msg := s.code("", `mutation($u: URN!) { declassify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": dwh}, "INVALID_ARGUMENT")
	if !strings.Contains(msg, "propagated from "+col) {
		t.Errorf("declassify of a propagated copy: %s", msg)
	}
	s.ok(`mutation($u: URN!) { declassify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": col})
	settle()
	d = s.ok(`{ search(classifications: ["PII"]) { totalCount } }`, nil)
	if get(d, "search", "totalCount") != float64(0) {
		t.Errorf("after declassify, PII carriers = %v", d)
	}

	// A rule's attachment: declassify removes it for good.
	if _, err := s.store.Apply(ctx, catalog.Batch{Actor: catalog.ActorRules, Mutations: []catalog.Mutation{catalog.Classify{URN: field, Classification: "PII", Source: catalog.AttachRule}}}); err != nil {
		t.Fatal(err)
	}
	s.ok(`mutation($u: URN!) { declassify(urn: $u, classification: "PII") { urn } }`, map[string]any{"u": field})
	if _, err := s.store.Apply(ctx, catalog.Batch{Actor: catalog.ActorRules, Mutations: []catalog.Mutation{catalog.Classify{URN: field, Classification: "PII", Source: catalog.AttachRule}}}); err != nil {
		t.Fatal(err)
	}
	if e, err := s.store.Entity(ctx, field); err != nil || e.HasClassification("PII") {
		t.Errorf("a declassified rule attachment came back: %+v, %v", e.Classifications, err)
	}
	s.code("", `mutation($u: URN!) { declassify(urn: $u, classification: "PII") { urn } }`, map[string]any{"u": field}, "NOT_FOUND")
}
