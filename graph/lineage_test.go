package graph_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

const (
	lgTopic   = catalog.URN("urn:topic:prod/customers")
	lgFEmail  = catalog.URN("urn:field:prod/customers/value/email")
	lgFID     = catalog.URN("urn:field:prod/customers/value/id")
	lgSink    = catalog.URN("urn:connector:prod-connect/dwh-sink")
	lgTable   = catalog.URN("urn:table:postgres://dwh:5432/dwh.public.customers")
	lgCEmail  = catalog.URN("urn:column:postgres://dwh:5432/dwh.public.customers/email")
	lgGroup   = catalog.URN("urn:group:prod/analytics")
	lgSubject = catalog.URN("urn:subject:sr/customers-value")
	lgSchema  = `{"type": "record", "name": "C", "fields": [{"name": "id", "type": "long"}, {"name": "email", "type": ["null", "string"], "default": null}]}`
)

// lineageEstate loads a topic with a registered schema, a sink mapping its
// email field into a column, and a consumer group with live readings.
func lineageEstate(t *testing.T, s *server) {
	t.Helper()
	ctx := context.Background()
	snap := catalog.Snapshot{Source: "prod", Assets: []catalog.Asset{
		{URN: lgTopic}, {URN: lgSink}, {URN: lgTable}, {URN: lgCEmail},
		{URN: lgGroup, Live: catalog.Properties{"state": "Stable", "totalLag": 7}},
		{URN: lgFEmail, Properties: catalog.Properties{"path": "email", "part": "value", "subject": "customers-value"}},
		{URN: lgFID, Properties: catalog.Properties{"path": "id", "part": "value", "subject": "customers-value"}},
		{URN: "urn:registry:sr"},
		{URN: lgSubject, Name: "customers-value", Properties: catalog.Properties{"schemaType": "AVRO", "compatibility": "BACKWARD"}},
		{URN: "urn:schema:sr/customers-value/1", Properties: catalog.Properties{"version": 1, "schema": lgSchema}},
	}, Links: []catalog.Link{
		{From: lgTopic, Kind: catalog.EdgeContains, To: lgFEmail, Confidence: 1},
		{From: lgTopic, Kind: catalog.EdgeContains, To: lgFID, Confidence: 1},
		{From: lgTopic, Kind: catalog.EdgeConsumes, To: lgSink, Confidence: 1, Origin: "connect-config"},
		{From: lgSink, Kind: catalog.EdgeSinks, To: lgTable, Confidence: 1},
		{From: lgTable, Kind: catalog.EdgeContains, To: lgCEmail, Confidence: 1},
		{From: lgFEmail, Kind: catalog.EdgeDerives, To: lgCEmail, Confidence: 1},
		{From: lgTopic, Kind: catalog.EdgeConsumes, To: lgGroup, Confidence: 1},
		{From: "urn:registry:sr", Kind: catalog.EdgeContains, To: lgSubject, Confidence: 1},
		{From: lgSubject, Kind: catalog.EdgeHasSchema, To: "urn:schema:sr/customers-value/1", Confidence: 1},
		{From: lgTopic, Kind: catalog.EdgeHasSchema, To: lgSubject, Confidence: 1},
	}}
	if _, err := s.store.Reconcile(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.Apply(ctx, catalog.Batch{Actor: "test", Mutations: []catalog.Mutation{catalog.SetOwners{URN: lgTable, Owners: []string{"dwh-team"}}}}); err != nil {
		t.Fatal(err)
	}
}

func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestImpactQuery(t *testing.T) {
	s := newServer(t, nil)
	lineageEstate(t, s)
	d := s.ok(`query($u: URN!) { impact(urn: $u) {
		root { urn } level truncated seq
		consumerGroups { asset { urn } hops exact state lag path }
		connectors { asset { urn } hops exact fields }
		datasets { asset { urn owners } hops exact fields }
		fields { asset { urn } hops }
		topics { asset { urn } } jobs { asset { urn } } other { asset { urn } }
	} }`, map[string]any{"u": string(lgFEmail)})
	im := d["impact"].(map[string]any)
	want := map[string]string{
		"level":          `"FIELD"`,
		"consumerGroups": `[{"asset":{"urn":"urn:group:prod/analytics"},"exact":false,"hops":1,"lag":7,"path":["urn:field:prod/customers/value/email","urn:topic:prod/customers","urn:group:prod/analytics"],"state":"Stable"}]`,
		"connectors":     `[{"asset":{"urn":"urn:connector:prod-connect/dwh-sink"},"exact":true,"fields":["urn:field:prod/customers/value/email"],"hops":1}]`,
		"datasets":       `[{"asset":{"owners":["dwh-team"],"urn":"urn:table:postgres://dwh:5432/dwh.public.customers"},"exact":true,"fields":["urn:column:postgres://dwh:5432/dwh.public.customers/email"],"hops":1}]`,
		"fields":         `[{"asset":{"urn":"urn:column:postgres://dwh:5432/dwh.public.customers/email"},"hops":1}]`,
		"topics":         `[]`,
		"jobs":           `[]`,
		"truncated":      `false`,
	}
	for k, w := range want {
		if got := asJSON(t, im[k]); got != w {
			t.Errorf("impact.%s = %s\n\twant %s", k, got, w)
		}
	}
	if want := strconv.FormatUint(s.head(), 10); im["seq"] != want {
		t.Errorf("seq = %v, want the head %s", im["seq"], want)
	}

	// The topic's dataset-level impact holds both consumers, exactly.
	d = s.ok(`{ impact(urn: "urn:topic:prod/customers", limit: 1) { level truncated consumerGroups { asset { urn } } connectors { asset { urn } hops } } }`, nil)
	if got := asJSON(t, d["impact"]); got != `{"connectors":[{"asset":{"urn":"urn:connector:prod-connect/dwh-sink"},"hops":1}],"consumerGroups":[],"level":"DATASET","truncated":true}` {
		t.Errorf("topic impact with limit 1 = %s", got)
	}
	s.code("", `{ impact(urn: "urn:topic:prod/customers", depth: 51) { truncated } }`, nil, "INVALID_ARGUMENT")
	s.code("", `{ impact(urn: "urn:topic:prod/customers", limit: 0) { truncated } }`, nil, "INVALID_ARGUMENT")
	s.code("", `{ impact(urn: "urn:topic:prod/nope") { truncated } }`, nil, "NOT_FOUND")
}

func TestLineageLevelsAndKinds(t *testing.T) {
	s := newServer(t, nil)
	lineageEstate(t, s)
	d := s.ok(`{ lineage(urn: "urn:topic:prod/customers", direction: DOWNSTREAM, kinds: [TABLE]) { level seq nodes { asset { urn } depth path } edges { from to claims { origin } } } }`, nil)
	got := asJSON(t, d["lineage"])
	for _, w := range []string{`"level":"DATASET"`, `"nodes":[{"asset":{"urn":"urn:table:postgres://dwh:5432/dwh.public.customers"},"depth":2,"path":["urn:topic:prod/customers","urn:connector:prod-connect/dwh-sink","urn:table:postgres://dwh:5432/dwh.public.customers"]}]`,
		`{"claims":[{"origin":"connect-config"}],"from":"urn:topic:prod/customers","to":"urn:connector:prod-connect/dwh-sink"}`} {
		if !strings.Contains(got, w) {
			t.Errorf("lineage = %s\n\twant it to contain %s", got, w)
		}
	}
	if strings.Contains(got, "analytics") {
		t.Errorf("lineage reports a group or its edge although kinds is [TABLE]: %s", got)
	}
	d = s.ok(`{ lineage(urn: "urn:field:prod/customers/value/email", direction: DOWNSTREAM) { level nodes { asset { urn } } } }`, nil)
	if got := asJSON(t, d["lineage"]); got != `{"level":"FIELD","nodes":[{"asset":{"urn":"urn:column:postgres://dwh:5432/dwh.public.customers/email"}}]}` {
		t.Errorf("field lineage = %s", got)
	}
	d = s.ok(`{ lineage(urn: "urn:topic:prod/customers", direction: DOWNSTREAM, level: ALL, edgeKinds: [CONTAINS]) { level nodes { asset { urn } } } }`, nil)
	if got := asJSON(t, d["lineage"]); !strings.Contains(got, `"level":"ALL"`) || !strings.Contains(got, string(lgFEmail)) {
		t.Errorf("structural lineage = %s", got)
	}
}

func TestSchemaChangeImpactQuery(t *testing.T) {
	s := newServer(t, nil)
	lineageEstate(t, s)
	const q = `query($s: String!, $t: SchemaType) { schemaChangeImpact(subject: "customers-value", schema: $s, schemaType: $t) {
		subject { urn } schemaType latestVersion breaking seq
		compatibility { level levelSource compatible messages checked readersCompatible }
		changes { path kind previousPath field breaking before { type nullable default } after { type } }
		consumers { asset { urn } verdict fields fieldLineage reason hops path }
	} }`
	cand := `{"type": "record", "name": "C", "fields": [{"name": "id", "type": "long"}]}`
	d := s.ok(q, map[string]any{"s": cand, "t": "AVRO"})
	r := d["schemaChangeImpact"].(map[string]any)
	want := map[string]string{
		"subject":       `{"urn":"urn:subject:sr/customers-value"}`,
		"breaking":      `true`,
		"latestVersion": `1`,
		"compatibility": `{"checked":[1],"compatible":true,"level":"BACKWARD","levelSource":"subject","messages":[],"readersCompatible":true}`,
		"changes":       `[{"after":null,"before":{"default":null,"nullable":true,"type":"union\u003cnull,string\u003e"},"breaking":true,"field":"urn:field:prod/customers/value/email","kind":"REMOVED","path":"email","previousPath":null}]`,
	}
	for k, w := range want {
		if got := asJSON(t, r[k]); got != w {
			t.Errorf("schemaChangeImpact.%s = %s\n\twant %s", k, got, w)
		}
	}
	cons := asJSON(t, r["consumers"])
	for _, w := range []string{
		`{"asset":{"urn":"urn:connector:prod-connect/dwh-sink"},"fieldLineage":true,"fields":["email"],"hops":1,"path":["urn:field:prod/customers/value/email","urn:connector:prod-connect/dwh-sink"],"reason":"field lineage shows it depends on email (removed)","verdict":"BREAKING"}`,
		`"asset":{"urn":"urn:group:prod/analytics"},"fieldLineage":false,"fields":["email"]`,
		`"verdict":"UNKNOWN"`,
	} {
		if !strings.Contains(cons, w) {
			t.Errorf("consumers = %s\n\twant it to contain %s", cons, w)
		}
	}
	msg := s.code("", q, map[string]any{"s": `{"type": "record", "name": "C", "fields": [{"name": "id", "type": "lng"}]}`}, "INVALID_ARGUMENT")
	if !strings.Contains(msg, "does not parse") || !strings.Contains(msg, "lng") {
		t.Errorf("parse error message %q does not name the problem", msg)
	}
	s.code("", q, map[string]any{"s": cand, "t": "XML"}, "GRAPHQL_VALIDATION_FAILED")
	s.code("", `{ schemaChangeImpact(subject: "nope-value", schema: "\"string\"") { breaking } }`, nil, "NOT_FOUND")
}
