package schemaparse

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func protoAddressReference(t testing.TB) Reference {
	return Reference{Name: "acme/common/address.proto", Subject: "acme-common-address", Version: 2, Schema: readTestdata(t, "protobuf/acme/common/address.proto"), Type: Protobuf}
}

func TestParseProtobuf(t *testing.T) {
	address := func(p string) []string {
		return []string{p, p + ".street", p + ".city", p + ".zip", p + ".country"}
	}
	addressElem := func(p string) []string {
		return []string{p, p + "[].street", p + "[].city", p + "[].zip", p + "[].country"}
	}
	order := []string{"order_id", "placed_at", "status", "customer", "customer.id", "customer.email"}
	order = append(order, address("customer.shipping_address")...)
	order = append(order, addressElem("customer.previous_addresses")...)
	order = append(order, "items", "items[].sku", "items[].quantity", "items[].unit_price", "labels",
		"items_by_sku", "items_by_sku{}.sku", "items_by_sku{}.quantity", "items_by_sku{}.unit_price",
		"coupon", "note", "card", "card.card_last4", "card.brand", "voucher_code", "tags", "currency", "total_cents", "signature")

	runParseCases(t, []parseCase{
		{
			name:     "order with nested messages, oneof, repeated, maps, imports, well-known types, field_meta",
			typ:      Protobuf,
			file:     "protobuf/order.proto",
			refs:     []Reference{protoAddressReference(t)},
			wantName: "acme.orders.Order",
			wantRoot: "message<acme.orders.Order>",
			paths:    order,
			fields: []wantField{
				{path: "order_id", typ: "string"},
				{path: "placed_at", typ: "message<google.protobuf.Timestamp>", nullable: true}, // a leaf
				{path: "status", typ: "enum<acme.orders.Order.Status>"},
				{path: "customer", typ: "message<acme.orders.Customer>", nullable: true},
				{path: "customer.id", parent: "customer", typ: "int64"},
				{path: "customer.email", parent: "customer", typ: "string", tags: []string{"PII", "PII.Email"}},
				{path: "customer.shipping_address", parent: "customer", typ: "message<acme.common.Address>", nullable: true},
				{path: "customer.shipping_address.city", parent: "customer.shipping_address", typ: "string"},
				{path: "customer.previous_addresses", parent: "customer", typ: "repeated message<acme.common.Address>"},
				{path: "customer.previous_addresses[].zip", parent: "customer.previous_addresses", typ: "string"},
				{path: "items", typ: "repeated message<acme.orders.Order.LineItem>"},
				{path: "items[].quantity", parent: "items", typ: "int32"},
				{path: "labels", typ: "map<string,string>"},
				{path: "items_by_sku", typ: "map<string,message<acme.orders.Order.LineItem>>"},
				{path: "items_by_sku{}.unit_price", parent: "items_by_sku", typ: "double"},
				{path: "coupon", typ: "message<google.protobuf.StringValue>", nullable: true}, // wrapper
				{path: "note", typ: "string", nullable: true},                                 // proto3 optional
				{path: "card", typ: "message<acme.orders.Card>", nullable: true},              // oneof member
				{path: "card.card_last4", parent: "card", typ: "string", tags: []string{"PCI"}},
				{path: "voucher_code", typ: "string", nullable: true}, // oneof member
				{path: "tags", typ: "repeated string"},
				{path: "currency", typ: "enum<acme.common.Currency>"},
				{path: "total_cents", typ: "int64"},
				{path: "signature", typ: "bytes"},
			},
		},
		{
			name:     "custom options defined inline",
			typ:      Protobuf,
			file:     "protobuf/inline_options.proto",
			wantName: "acme.audit.AuditEvent",
			wantRoot: "message<acme.audit.AuditEvent>",
			paths:    []string{"actor_email", "action", "level"},
			fields: []wantField{
				{path: "actor_email", typ: "string", tags: []string{"Audit", "PII"}},
				{path: "action", typ: "string"},
				{path: "level", typ: "enum<acme.audit.Level>"},
			},
		},
		{
			name:     "proto2 required, optional and defaults",
			typ:      Protobuf,
			file:     "protobuf/payment_proto2.proto",
			wantName: "acme.legacy.Payment",
			wantRoot: "message<acme.legacy.Payment>",
			paths:    []string{"id", "retries", "currency", "notes", "token", "rate"},
			fields: []wantField{
				{path: "id", typ: "string"},
				{path: "retries", typ: "int32", nullable: true},
				{path: "currency", typ: "enum<acme.legacy.Payment.Currency>", nullable: true},
				{path: "notes", typ: "repeated string"},
			},
		},
	})
}

func TestParseProtobufDocsPropsDefaults(t *testing.T) {
	s := mustParse(t, Protobuf, readTestdata(t, "protobuf/order.proto"), protoAddressReference(t))
	if s.Doc != "An order placed in the web shop." {
		t.Errorf("schema doc = %q", s.Doc)
	}
	checkDoc(t, s, "order_id", "Order identifier.")
	checkDoc(t, s, "note", "free text from the customer")                                   // trailing comment
	checkDoc(t, s, "customer.email", "Contact address.")                                    // field_meta doc
	checkDoc(t, s, "customer.shipping_address.country", "ISO 3166-1 alpha-2 country code.") // from the reference
	checkProp(t, s, "customer.email", "pii", "true")
	checkProp(t, s, "customer.email", "owner", "crm-team")
	checkProp(t, s, "customer.email", "confluent:tags", []any{"PII", "PII.Email"})
	checkNoDefault(t, s, "total_cents") // proto3 has no defaults

	inline := mustParse(t, Protobuf, readTestdata(t, "protobuf/inline_options.proto"))
	checkProp(t, inline, "actor_email", "acme.audit.pii", true)
	checkProp(t, inline, "actor_email", "retention", "P30D")
	checkProp(t, inline, "action", "acme.audit.owner", "security")
	checkProp(t, inline, "level", "acme.audit.levels", []any{"INFO", "WARN"})
	if f, _ := inline.Field("action"); len(f.Props) != 1 {
		t.Errorf("action props = %v: standard options such as deprecated are not custom", f.Props)
	}

	p2 := mustParse(t, Protobuf, readTestdata(t, "protobuf/payment_proto2.proto"))
	checkDefault(t, p2, "retries", json.Number("3"))
	checkDefault(t, p2, "currency", "EUR")
	checkDefault(t, p2, "token", "YWI=") // bytes in base64, as the Protobuf JSON mapping
	checkDefault(t, p2, "rate", json.Number("1.5"))
	checkNoDefault(t, p2, "id")
}

func TestParseProtobufMessage(t *testing.T) {
	text := readTestdata(t, "protobuf/order.proto")
	refs := []Reference{protoAddressReference(t)}
	for _, tc := range []struct {
		indexes  []int
		wantName string
		wantPath []string
	}{
		{nil, "acme.orders.Order", nil},
		{[]int{0}, "acme.orders.Order", nil},
		// Map fields declare entry messages, which count, as in the
		// descriptor (and in Confluent's serializers): LabelsEntry,
		// ItemsBySkuEntry, LineItem.
		{[]int{0, 0}, "acme.orders.Order.LabelsEntry", []string{"key", "value"}},
		{[]int{0, 2}, "acme.orders.Order.LineItem", []string{"sku", "quantity", "unit_price"}},
		{[]int{2}, "acme.orders.Card", []string{"card_last4", "brand"}},
		{[]int{3}, "acme.orders.Category", []string{"name", "children", "parent", "by_name"}},
	} {
		s, err := ParseProtobufMessage(text, refs, tc.indexes)
		if err != nil {
			t.Fatalf("%v: %v", tc.indexes, err)
		}
		if s.Name != tc.wantName || (tc.wantPath != nil && !slices.Equal(fieldPaths(s), tc.wantPath)) {
			t.Errorf("%v: name %q paths %q, want %q %q", tc.indexes, s.Name, fieldPaths(s), tc.wantName, tc.wantPath)
		}
	}

	// Recursive messages are not expanded again.
	s, err := ParseProtobufMessage(text, refs, []int{3})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []wantField{
		{path: "children", typ: "repeated message<acme.orders.Category>", recursive: true},
		{path: "parent", typ: "message<acme.orders.Category>", nullable: true, recursive: true},
		{path: "by_name", typ: "map<string,message<acme.orders.Category>>", recursive: true},
	} {
		checkField(t, s, w)
	}

	for _, bad := range [][]int{{4}, {0, 9}, {-1}, {2, 0}} {
		if _, err := ParseProtobufMessage(text, refs, bad); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%v: err = %v, want out of range", bad, err)
		}
	}
}

func TestParseProtobufMissingImport(t *testing.T) {
	_, err := Parse(Protobuf, readTestdata(t, "protobuf/order.proto"), nil)
	var missing *MissingReferenceError
	if !errors.As(err, &missing) || missing.Name != "acme/common/address.proto" {
		t.Fatalf("err = %v, want a missing reference acme/common/address.proto", err)
	}
	if !strings.Contains(err.Error(), "schema.proto:5:8") {
		t.Errorf("err = %v, want the position of the import", err)
	}
}
