package schemaregistry

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/schemaparse"
)

const nestedOrder = `{
  "type": "record", "name": "Order", "namespace": "com.acme",
  "fields": [
    {"name": "id", "type": "string", "doc": "Order id."},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
      {"name": "email", "type": "string", "pii": true},
      {"name": "address", "type": ["null", {"type": "record", "name": "Address", "fields": [
        {"name": "city", "type": "string"}
      ]}], "default": null}
    ]}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
      {"name": "sku", "type": "string"}
    ]}}},
    {"name": "attrs", "type": {"type": "map", "values": {"type": "record", "name": "Attr", "fields": [
      {"name": "unit", "type": "string", "confluent:tags": ["needs review", "Confidential"]}
    ]}}},
    {"name": "next", "type": ["null", "Order"], "default": null}
  ]
}`

// TestFieldTree: FIELD URNs follow docs/urns.md exactly, and CONTAINS links
// run from the topic to top-level fields and from each field to its
// children, for the key and the value.
func TestFieldTree(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "shop.orders-value", nestedOrder, sr.TypeAvro)
	register(t, reg, "shop.orders-key", `{"type":"record","name":"OrderKey","namespace":"com.acme","fields":[{"name":"id","type":"string"}]}`, sr.TypeAvro)
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))

	const topic = "urn:topic:prod/shop.orders"
	const value = "urn:field:prod/shop.orders/value/"
	wantFields := []string{
		"urn:field:prod/shop.orders/key/id",
		value + "attrs", value + "attrs{}.unit",
		value + "customer", value + "customer.address", value + "customer.address.city", value + "customer.email",
		value + "id", value + "items", value + "items[].sku", value + "next",
	}
	if got := assetURNs(snap, catalog.KindField); !reflect.DeepEqual(got, wantFields) {
		t.Errorf("fields\n%v\nwant\n%v", got, wantFields)
	}
	wantContains := []string{
		topic + " -> urn:field:prod/shop.orders/key/id",
		topic + " -> " + value + "attrs",
		topic + " -> " + value + "customer",
		topic + " -> " + value + "id",
		topic + " -> " + value + "items",
		topic + " -> " + value + "next",
		value + "attrs -> " + value + "attrs{}.unit",
		value + "customer -> " + value + "customer.address",
		value + "customer -> " + value + "customer.email",
		value + "customer.address -> " + value + "customer.address.city",
		value + "items -> " + value + "items[].sku",
	}
	sort.Strings(wantContains)
	got := append(linkSet(snap, catalog.EdgeContains, "urn:topic:"), linkSet(snap, catalog.EdgeContains, "urn:field:")...)
	sort.Strings(got)
	if !reflect.DeepEqual(got, wantContains) {
		t.Errorf("CONTAINS\n%v\nwant\n%v", strings.Join(got, "\n"), strings.Join(wantContains, "\n"))
	}
	for _, l := range snap.Links {
		if l.Kind == catalog.EdgeContains && l.From != RegistryURN(testSource) && (l.Origin != OriginSchema || l.Scope == "" || l.Confidence != 1) {
			t.Errorf("link %s: origin %q scope %q confidence %v", l.Key(), l.Origin, l.Scope, l.Confidence)
		}
	}

	for _, tc := range []struct {
		path string
		want map[string]string // property → JSON
	}{
		{"id", map[string]string{"path": `"id"`, "part": `"value"`, "type": `"string"`, "doc": `"Order id."`, "nullable": `false`, "recursive": `false`,
			"schemaType": `"AVRO"`, "subject": `"shop.orders-value"`, "version": `1`, "default": `<absent>`, "props": `<absent>`}},
		{"customer.email", map[string]string{"props": `{"pii":true}`, "schemaTags": `["PII"]`, "doc": `<absent>`}},
		{"customer.address", map[string]string{"nullable": `true`, "default": `null`}},
		{"next", map[string]string{"recursive": `true`, "nullable": `true`}},
		{"attrs{}.unit", map[string]string{"schemaTags": `["Confidential","needs review"]`}},
	} {
		a := mustAsset(t, snap, fieldURN("shop.orders", PartValue, tc.path))
		for k, want := range tc.want {
			if got := propJSON(t, a.Properties, k); got != want {
				t.Errorf("%s %s = %s, want %s", tc.path, k, got, want)
			}
		}
		if a.Scope != "subject/shop.orders-value" {
			t.Errorf("%s scope %q", tc.path, a.Scope)
		}
	}
	if a := mustAsset(t, snap, fieldURN("shop.orders", PartValue, "items[].sku")); a.Name != "sku" {
		t.Errorf("name %q", a.Name)
	}
	if a := mustAsset(t, snap, fieldURN("shop.orders", PartKey, "id")); a.Scope != "subject/shop.orders-key" || a.Properties["part"] != PartKey {
		t.Errorf("key field scope %q part %v", a.Scope, a.Properties["part"])
	}
	// "needs review" is no classification name: kept as a property only.
	unit := mustAsset(t, snap, fieldURN("shop.orders", PartValue, "attrs{}.unit"))
	if !reflect.DeepEqual(unit.Classifications, []catalog.SourceClassification{{Name: "Confidential", Source: catalog.AttachSchemaTag}}) {
		t.Errorf("classifications %v", unit.Classifications)
	}
}

// TestSchemaTagClassifications: "pii": true and Confluent tags in Avro,
// Protobuf (field_meta) and JSON Schema become schema-tag classifications
// of the fields.
func TestSchemaTagClassifications(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "identity.users-value", readTestdata(t, "avro/user_pii.avsc"), sr.TypeAvro)
	register(t, reg, "acme-address", readTestdata(t, "protobuf/acme/common/address.proto"), sr.TypeProtobuf)
	register(t, reg, "shop.orders-value", readTestdata(t, "protobuf/order.proto"), sr.TypeProtobuf,
		sr.SchemaReference{Name: "acme/common/address.proto", Subject: "acme-address", Version: 1})
	register(t, reg, "web.orders-value", readTestdata(t, "json/order.json"), sr.TypeJSON)
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))

	tag := func(names ...string) []catalog.SourceClassification {
		var out []catalog.SourceClassification
		for _, n := range names {
			out = append(out, catalog.SourceClassification{Name: n, Source: catalog.AttachSchemaTag})
		}
		return out
	}
	for _, tc := range []struct {
		topic, path string
		want        []catalog.SourceClassification
	}{
		{"identity.users", "email", tag("PII", "PII.Email")},
		{"identity.users", "ssn", tag("PII", "Sensitive")},
		{"identity.users", "date_of_birth", tag("PII")},
		{"identity.users", "ip_address", tag("PII")},
		{"identity.users", "marketing_opt_in", nil},
		{"identity.users", "user_id", nil},
		{"shop.orders", "customer.email", tag("PII", "PII.Email")},
		{"shop.orders", "card.card_last4", tag("PCI")},
		{"shop.orders", "customer.shipping_address.city", nil},
		{"web.orders", "customer.email", tag("PII", "PII.Email")},
		{"web.orders", "customer.name", tag("PII")},
	} {
		a := mustAsset(t, snap, fieldURN(tc.topic, PartValue, tc.path))
		if !reflect.DeepEqual(a.Classifications, tc.want) {
			t.Errorf("%s %s: classifications %v, want %v", tc.topic, tc.path, a.Classifications, tc.want)
		}
	}
	if got := propJSON(t, mustAsset(t, snap, fieldURN("shop.orders", PartValue, "customer.email")).Properties, "props"); !strings.Contains(got, `"owner":"crm-team"`) {
		t.Errorf("protobuf field_meta params not kept: %s", got)
	}
	// Subjects get no classifications: fields carry them, the catalog
	// propagates.
	for _, a := range snap.Assets {
		if a.URN.Kind() != catalog.KindField && len(a.Classifications) > 0 {
			t.Errorf("%s carries classifications %v", a.URN, a.Classifications)
		}
	}
}

// TestValuePathsMatchSchemaparse reads the snapshot the way the connect
// crawler reads the catalog (crawlers/connect CatalogLookup): the value
// paths of a topic are the FIELD URNs reachable from the topic by CONTAINS
// under urn:field:<cluster>/<topic>/value/, and its record name is the
// property valueSchemaName. They must equal what schemaparse finds.
func TestValuePathsMatchSchemaparse(t *testing.T) {
	reg := newRegistry(t)
	type entry struct {
		topic, file string
		typ         sr.SchemaType
		refs        []sr.SchemaReference
		name        string
	}
	register(t, reg, "acme-address", readTestdata(t, "protobuf/acme/common/address.proto"), sr.TypeProtobuf)
	register(t, reg, "address", readTestdata(t, "avro/address.avsc"), sr.TypeAvro)
	entries := []entry{
		{"dbserver1.inventory.customers", "avro/debezium_customers_envelope.avsc", sr.TypeAvro, nil, "dbserver1.inventory.customers.Envelope"},
		{"identity.users", "avro/user_pii.avsc", sr.TypeAvro, nil, "com.acme.identity.User"},
		{"crm.customers", "avro/customer_with_reference.avsc", sr.TypeAvro,
			[]sr.SchemaReference{{Name: "com.acme.common.Address", Subject: "address", Version: 1}}, "com.acme.crm.Customer"},
		{"shop.orders", "protobuf/order.proto", sr.TypeProtobuf,
			[]sr.SchemaReference{{Name: "acme/common/address.proto", Subject: "acme-address", Version: 1}}, "acme.orders.Order"},
		{"web.orders", "json/order.json", sr.TypeJSON, nil, "Order"},
		{"nested.orders", "", sr.TypeAvro, nil, "com.acme.Order"},
	}
	for _, e := range entries {
		text := nestedOrder
		if e.file != "" {
			text = readTestdata(t, e.file)
		}
		register(t, reg, e.topic+"-value", text, e.typ, e.refs...)
	}
	snap := crawlOnce(t, newTestCrawler(t, noSample(reg), nil))

	for _, e := range entries {
		t.Run(e.topic, func(t *testing.T) {
			text := nestedOrder
			if e.file != "" {
				text = readTestdata(t, e.file)
			}
			var refs []schemaparse.Reference
			for _, r := range e.refs {
				ss, _ := reg.GetSchema(r.Subject, r.Version)
				refs = append(refs, schemaparse.Reference{Name: r.Name, Subject: r.Subject, Version: r.Version, Schema: ss.Schema.Schema, Type: schemaparse.SchemaType(ss.Type.String())})
			}
			want, err := schemaparse.Parse(schemaparse.SchemaType(e.typ.String()), text, refs)
			if err != nil {
				t.Fatalf("schemaparse: %v", err)
			}
			var wantPaths []string
			for _, f := range want.Fields {
				wantPaths = append(wantPaths, f.Path)
			}
			sort.Strings(wantPaths)

			topic := topicURN(e.topic)
			gotPaths := valuePaths(snap, topic)
			if !reflect.DeepEqual(gotPaths, wantPaths) {
				t.Errorf("value paths\n%v\nwant\n%v", gotPaths, wantPaths)
			}
			ta := mustAsset(t, snap, topic)
			if ta.Properties["valueSchemaName"] != e.name || want.Name != e.name {
				t.Errorf("valueSchemaName %v, schemaparse %q, want %q", ta.Properties["valueSchemaName"], want.Name, e.name)
			}
		})
	}
}

// valuePaths walks CONTAINS links from topic breadth-first, as a catalog
// traversal would, and returns the value field paths reached.
func valuePaths(s catalog.Snapshot, topic catalog.URN) []string {
	out := map[catalog.URN][]catalog.URN{}
	for _, l := range s.Links {
		if l.Kind == catalog.EdgeContains {
			out[l.From] = append(out[l.From], l.To)
		}
	}
	seen := map[catalog.URN]bool{topic: true}
	queue := []catalog.URN{topic}
	var paths []string
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, next := range out[u] {
			if seen[next] {
				continue
			}
			seen[next] = true
			queue = append(queue, next)
			if _, _, part, p, ok := next.Field(); ok && part == PartValue {
				if _, asserted := findAsset(s, next); asserted {
					paths = append(paths, p)
				}
			}
		}
	}
	slices.Sort(paths)
	return paths
}
