package schemaparse

import (
	"encoding/json"
	"errors"
	"testing"
)

func jsonAddressReference(t testing.TB) Reference {
	return Reference{Name: "address.json", Subject: "address-value", Version: 1, Schema: readTestdata(t, "json/address.json"), Type: JSON}
}

func TestParseJSONSchema(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name:     "order with $defs, nested objects, arrays, maps, oneOf, nullable",
			typ:      JSON,
			file:     "json/order.json",
			wantName: "Order",
			wantRoot: "object",
			paths: []string{"order_id", "placed_at", "status", "customer", "customer.id", "customer.email", "customer.name",
				"customer.address", "customer.address.street", "customer.address.city", "customer.address.zip",
				"customer.previous_addresses", "customer.previous_addresses[].street", "customer.previous_addresses[].city", "customer.previous_addresses[].zip",
				"items", "items[].sku", "items[].quantity", "items[].unit_price", "tags", "attributes", "coupon",
				"payment", "payment.card_last4", "payment.brand", "payment.voucher_code", "total", "channel"},
			fields: []wantField{
				{path: "order_id", typ: "string"},                  // required
				{path: "placed_at", typ: "string", nullable: true}, // not required
				{path: "customer", typ: "object"},
				{path: "customer.id", parent: "customer", typ: "integer"},
				{path: "customer.email", parent: "customer", typ: "string", tags: []string{"PII", "PII.Email"}},
				{path: "customer.name", parent: "customer", typ: "string", nullable: true, tags: []string{"PII"}},
				{path: "customer.address", parent: "customer", typ: "object", nullable: true},
				{path: "customer.address.zip", parent: "customer.address", typ: "string", nullable: true}, // required, type allows null
				{path: "customer.address.city", parent: "customer.address", typ: "string"},
				{path: "customer.previous_addresses", parent: "customer", typ: "array<object>", nullable: true},
				{path: "customer.previous_addresses[].street", parent: "customer.previous_addresses", typ: "string"},
				{path: "items", typ: "array<object>"},
				{path: "items[].sku", parent: "items", typ: "string"},
				{path: "items[].unit_price", parent: "items", typ: "number", nullable: true},
				{path: "tags", typ: "array<string>", nullable: true},
				{path: "attributes", typ: "map<integer>", nullable: true},
				{path: "coupon", typ: "string", nullable: true},
				{path: "payment", typ: "object", nullable: true},
				// Required in one oneOf branch only: may be absent.
				{path: "payment.card_last4", parent: "payment", typ: "string", nullable: true, tags: []string{"PII"}},
				{path: "payment.voucher_code", parent: "payment", typ: "string", nullable: true},
				{path: "channel", typ: "string", nullable: true}, // type implied by enum, null among its values
			},
		},
		{
			name:     "recursive $refs stop at a schema already on the path",
			typ:      JSON,
			file:     "json/category.json",
			wantName: "Category",
			wantRoot: "object",
			paths:    []string{"name", "children", "parent", "head", "head.value", "head.next"},
			fields: []wantField{
				{path: "name", typ: "string"},
				{path: "children", typ: "array<object>", nullable: true, recursive: true},
				{path: "parent", typ: "object", nullable: true, recursive: true},
				{path: "head", typ: "object", nullable: true},
				{path: "head.next", parent: "head", typ: "object", nullable: true, recursive: true},
			},
		},
		{
			name:     "reference to another subject",
			typ:      JSON,
			file:     "json/customer_with_reference.json",
			refs:     []Reference{jsonAddressReference(t)},
			wantName: "Customer",
			wantRoot: "object",
			paths: []string{"id", "home", "home.street", "home.city", "home.geo", "home.geo.lat", "home.geo.lon",
				"work", "work.street", "work.city", "work.geo", "work.geo.lat", "work.geo.lon",
				"last_seen_at", "last_seen_at.lat", "last_seen_at.lon"},
			fields: []wantField{
				{path: "home", typ: "object"},
				{path: "home.street", parent: "home", typ: "string", tags: []string{"PII"}},
				{path: "home.geo.lat", parent: "home.geo", typ: "number", nullable: true},
				{path: "work", typ: "object", nullable: true},
				{path: "work.street", parent: "work", typ: "string", nullable: true, tags: []string{"PII"}},
				{path: "last_seen_at", typ: "object", nullable: true},
			},
		},
	})
}

func TestParseJSONSchemaDocsDefaultsProps(t *testing.T) {
	s := mustParse(t, JSON, readTestdata(t, "json/order.json"))
	if s.Doc != "An order placed in the web shop." {
		t.Errorf("schema doc = %q", s.Doc)
	}
	checkDoc(t, s, "placed_at", "When the order was placed.")
	checkDoc(t, s, "customer", "Who placed the order.") // from the $ref target
	checkDefault(t, s, "status", "PLACED")
	checkDefault(t, s, "items[].quantity", json.Number("1"))
	checkNoDefault(t, s, "order_id")
	checkProp(t, s, "customer.email", "pii", true)
	checkProp(t, s, "customer.email", "confluent:tags", []any{"PII.Email"})
	if f, _ := s.Field("items[].sku"); f.Props != nil {
		t.Errorf("items[].sku props = %v: pattern and format are standard keywords", f.Props)
	}

	// Name falls back to $id; type arrays, OpenAPI nullable and anyOf null.
	s = mustParse(t, JSON, `{
		"$id": "https://acme.com/schemas/event.json",
		"type": "object",
		"properties": {
			"a": {"type": ["integer", "string", "null"]},
			"b": {"type": "string", "nullable": true},
			"c": {"anyOf": [{"type": "null"}, {"type": "number"}]},
			"d": {"allOf": [{"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}, {"properties": {"y": {"type": "boolean"}}}]},
			"e": {}
		},
		"required": ["a", "b", "c", "d", "e"]
	}`)
	if s.Name != "https://acme.com/schemas/event.json" {
		t.Errorf("name = %q, want the $id", s.Name)
	}
	for _, w := range []wantField{
		{path: "a", typ: "union<integer,string>", nullable: true},
		{path: "b", typ: "string", nullable: true},
		{path: "c", typ: "number", nullable: true},
		{path: "d", typ: "object"},
		{path: "d.x", parent: "d", typ: "string"}, // required in an allOf branch
		{path: "d.y", parent: "d", typ: "boolean", nullable: true},
		{path: "e", typ: "any"},
	} {
		checkField(t, s, w)
	}
}

func TestParseJSONSchemaMissingReference(t *testing.T) {
	_, err := Parse(JSON, readTestdata(t, "json/customer_with_reference.json"), nil)
	var missing *MissingReferenceError
	if !errors.As(err, &missing) || missing.Name != "address.json" {
		t.Fatalf("err = %v, want a missing reference address.json", err)
	}
}
