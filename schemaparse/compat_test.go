package schemaparse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// compatCase is one compatibility check and its expected verdict. want
// lists substrings that must each appear in some message.
type compatCase struct {
	name      string
	level     string
	candidate string
	previous  []string
	refs      []Reference
	ok        bool
	want      []string
}

func runCompatCases(t *testing.T, typ SchemaType, cases []compatCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, msgs, err := CheckCompatibility(tc.level, tc.candidate, tc.previous, typ, tc.refs)
			if err != nil {
				t.Fatalf("CheckCompatibility: %v", err)
			}
			if ok != tc.ok || ok != (len(msgs) == 0) {
				t.Fatalf("compatible = %v, messages %q; want compatible = %v", ok, msgs, tc.ok)
			}
			all := strings.Join(msgs, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("messages %q lack %q", msgs, w)
				}
			}
		})
	}
}

func avroUser(fields string) string {
	return `{"type": "record", "name": "User", "namespace": "com.acme", "fields": [` + fields + `]}`
}

func TestCheckCompatibilityAvro(t *testing.T) {
	v1 := avroUser(`{"name": "id", "type": "long"}, {"name": "name", "type": "string"}`)
	withDefault := avroUser(`{"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "email", "type": "string", "default": ""}`)
	withoutDefault := avroUser(`{"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "email", "type": "string"}`)
	nameRemoved := avroUser(`{"name": "id", "type": "long"}`)
	nameDefault := avroUser(`{"name": "id", "type": "long"}, {"name": "name", "type": "string", "default": ""}`)
	idString := avroUser(`{"name": "id", "type": "string"}, {"name": "name", "type": "string"}`)
	intID := avroUser(`{"name": "id", "type": "int"}, {"name": "name", "type": "string"}`)
	enumV1 := avroUser(`{"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B", "C"]}}`)
	enumV2 := avroUser(`{"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["A", "B"]}}`)

	runCompatCases(t, Avro, []compatCase{
		{name: "add field with default / BACKWARD", level: "BACKWARD", candidate: withDefault, previous: []string{v1}, ok: true},
		{name: "add field with default / FULL", level: "FULL", candidate: withDefault, previous: []string{v1}, ok: true},
		{name: "add field without default / BACKWARD", level: "BACKWARD", candidate: withoutDefault, previous: []string{v1}, ok: false,
			want: []string{"BACKWARD: new schema cannot read data written with previous schema 1 of 1 (latest): field email: the writer does not have it and the reader gives it no default"}},
		{name: "add field without default / FORWARD", level: "FORWARD", candidate: withoutDefault, previous: []string{v1}, ok: true},
		{name: "remove field without default / BACKWARD", level: "BACKWARD", candidate: nameRemoved, previous: []string{v1}, ok: true},
		{name: "remove field without default / FORWARD", level: "FORWARD", candidate: nameRemoved, previous: []string{v1}, ok: false,
			want: []string{"FORWARD: previous schema 1 of 1 (latest) cannot read data written with the new schema: field name: the writer does not have it"}},
		{name: "remove field without default / FULL reports one direction", level: "full", candidate: nameRemoved, previous: []string{v1}, ok: false,
			want: []string{"FORWARD:"}},
		{name: "type change", level: "BACKWARD", candidate: idString, previous: []string{v1}, ok: false,
			want: []string{"field id: reader schema string not compatible with writer schema long"}},
		{name: "int promoted to long / BACKWARD", level: "BACKWARD", candidate: v1, previous: []string{intID}, ok: true},
		{name: "long narrowed to int / BACKWARD", level: "BACKWARD", candidate: intID, previous: []string{v1}, ok: false},
		{name: "enum symbol removed / BACKWARD", level: "BACKWARD", candidate: enumV2, previous: []string{enumV1}, ok: false,
			want: []string{"field status: reader com.acme.Status is missing symbol C"}},
		{name: "enum symbol added / BACKWARD", level: "BACKWARD", candidate: enumV1, previous: []string{enumV2}, ok: true},
		// The latest previous schema gave name a default, so it reads data
		// without name; v1 does not.
		{name: "non-transitive checks only the latest", level: "FORWARD", candidate: nameRemoved, previous: []string{v1, nameDefault}, ok: true},
		{name: "FORWARD_TRANSITIVE checks them all", level: "FORWARD_TRANSITIVE", candidate: nameRemoved, previous: []string{v1, nameDefault}, ok: false,
			want: []string{"FORWARD: previous schema 1 of 2 cannot read data written with the new schema"}},
		{name: "transitive checks every previous schema", level: "BACKWARD_TRANSITIVE", candidate: withoutDefault, previous: []string{v1, withoutDefault}, ok: false,
			want: []string{"previous schema 1 of 2:"}},
		{name: "latest only passes", level: "BACKWARD", candidate: withoutDefault, previous: []string{v1, withoutDefault}, ok: true},
		{name: "FULL_TRANSITIVE", level: "FULL_TRANSITIVE", candidate: withDefault, previous: []string{v1, withDefault}, ok: true},
		{name: "nested fields are reported by path, every one", level: "BACKWARD",
			candidate: avroUser(`{"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [{"name": "sku", "type": "long"}, {"name": "qty", "type": "int"}]}}}, {"name": "tags", "type": {"type": "map", "values": "int"}}`),
			previous:  []string{avroUser(`{"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [{"name": "sku", "type": "string"}]}}}, {"name": "tags", "type": {"type": "map", "values": "string"}}`)},
			ok:        false,
			want:      []string{"field items[].sku: reader schema long not compatible with writer schema string", "field items[].qty: the writer does not have it", "field tags{}: reader schema int"}},
		{name: "nullable union narrowed", level: "BACKWARD",
			candidate: avroUser(`{"name": "email", "type": "string"}`), previous: []string{avroUser(`{"name": "email", "type": ["null", "string"], "default": null}`)}, ok: false,
			want: []string{"field email:"}},
		{name: "nullable union widened", level: "BACKWARD",
			candidate: avroUser(`{"name": "email", "type": ["null", "string"], "default": null}`), previous: []string{avroUser(`{"name": "email", "type": "string"}`)}, ok: true},
		{name: "field renamed with an alias", level: "BACKWARD",
			candidate: avroUser(`{"name": "mail", "aliases": ["email"], "type": "string"}`), previous: []string{avroUser(`{"name": "email", "type": "string"}`)}, ok: true},
		{name: "record renamed without alias", level: "BACKWARD",
			candidate: `{"type": "record", "name": "Person", "namespace": "com.acme", "fields": [{"name": "id", "type": "long"}]}`, previous: []string{v1}, ok: false,
			want: []string{"root: reader record com.acme.Person cannot read writer record com.acme.User"}},
		{name: "record renamed with alias", level: "BACKWARD",
			candidate: `{"type": "record", "name": "Person", "namespace": "com.acme", "aliases": ["User"], "fields": [{"name": "id", "type": "long"}]}`, previous: []string{v1}, ok: true},
		{name: "recursive schema against itself", level: "FULL", candidate: readTestdata(t, "avro/tree.avsc"), previous: []string{readTestdata(t, "avro/tree.avsc")}, ok: true},
		{name: "debezium envelope against itself", level: "FULL_TRANSITIVE", candidate: readTestdata(t, "avro/debezium_customers_envelope.avsc"),
			previous: []string{readTestdata(t, "avro/debezium_customers_envelope.avsc")}, ok: true},
		{name: "NONE accepts anything", level: "NONE", candidate: idString, previous: []string{v1}, ok: true},
		{name: "no previous schema", level: "FULL_TRANSITIVE", candidate: idString, ok: true},
		{name: "with references", level: "BACKWARD", refs: []Reference{addressReference(t)},
			candidate: readTestdata(t, "avro/customer_with_reference.avsc"),
			previous:  []string{`{"type": "record", "name": "Customer", "namespace": "com.acme.crm", "fields": [{"name": "id", "type": "long"}, {"name": "home", "type": "com.acme.common.Address"}]}`},
			ok:        true},
	})
}

func TestCheckCompatibilityProtobuf(t *testing.T) {
	v1 := "syntax = \"proto3\";\npackage acme;\nmessage Order {\n  string id = 1;\n  int32 qty = 2;\n  string note = 3;\n  Address address = 4;\n}\nmessage Address { string city = 1; }\n"
	replace := func(old, new string) string { return strings.Replace(v1, old, new, 1) }

	runCompatCases(t, Protobuf, []compatCase{
		{name: "add a field", level: "FULL", candidate: replace("string note = 3;", "string note = 3;\n  string email = 5;"), previous: []string{v1}, ok: true},
		{name: "remove a field", level: "FULL", candidate: replace("string note = 3;", ""), previous: []string{v1}, ok: true},
		{name: "rename a field", level: "FULL", candidate: replace("string note = 3;", "string remark = 3;"), previous: []string{v1}, ok: true},
		{name: "int32 to int64 shares the varint encoding", level: "FULL", candidate: replace("int32 qty", "int64 qty"), previous: []string{v1}, ok: true},
		{name: "int32 to enum shares the varint encoding", level: "FULL",
			candidate: replace("int32 qty = 2;", "Qty qty = 2;\n  enum Qty { ZERO = 0; }"), previous: []string{v1}, ok: true},
		{name: "string to bytes", level: "FULL", candidate: replace("string note", "bytes note"), previous: []string{v1}, ok: true},
		{name: "int32 to string", level: "BACKWARD", candidate: replace("int32 qty", "string qty"), previous: []string{v1}, ok: false,
			want: []string{"message acme.Order field 2 (qty): type changed: writer int32, reader string (not wire-compatible)"}},
		{name: "int32 to sint32", level: "FORWARD", candidate: replace("int32 qty", "sint32 qty"), previous: []string{v1}, ok: false,
			want: []string{"not wire-compatible"}},
		{name: "field number change", level: "BACKWARD", candidate: replace("int32 qty = 2;", "int32 qty = 6;\n  string extra = 2;"), previous: []string{v1}, ok: false,
			want: []string{"field 2 (qty): type changed: writer int32, reader string"}},
		{name: "message type change", level: "BACKWARD",
			candidate: replace("Address address = 4;", "Place address = 4;") + "message Place { string city = 1; }\n", previous: []string{v1}, ok: false,
			want: []string{"type changed: writer message<acme.Address>, reader message<acme.Place>"}},
		{name: "singular string to repeated", level: "FULL", candidate: replace("string note", "repeated string note"), previous: []string{v1}, ok: true},
		{name: "singular int32 to repeated", level: "BACKWARD", candidate: replace("int32 qty", "repeated int32 qty"), previous: []string{v1}, ok: false,
			want: []string{"repeated and singular"}},
		{name: "message removed", level: "BACKWARD",
			candidate: "syntax = \"proto3\";\npackage acme;\nmessage Order {\n  string id = 1;\n  int32 qty = 2;\n  string note = 3;\n}\n",
			previous:  []string{v1}, ok: false, want: []string{"message acme.Address: the reader does not define it"}},
		{name: "message added", level: "BACKWARD", candidate: v1 + "message Extra { string x = 1; }\n", previous: []string{v1}, ok: true},
		{name: "package changed", level: "BACKWARD", candidate: replace("package acme;", "package acme.v2;"), previous: []string{v1}, ok: false,
			want: []string{`package changed: writer "acme", reader "acme.v2"`}},
		{name: "two fields moved into a new oneof", level: "BACKWARD",
			candidate: replace("string note = 3;\n  Address address = 4;", "oneof detail {\n    string note = 3;\n    Address address = 4;\n  }"), previous: []string{v1}, ok: false,
			want: []string{"fields note, address moved into new oneof detail"}},
		{name: "one field moved into a new oneof", level: "FULL",
			candidate: replace("string note = 3;", "oneof detail {\n    string note = 3;\n  }"), previous: []string{v1}, ok: true},
		{name: "field moved into an existing oneof", level: "BACKWARD",
			candidate: replace("string note = 3;", "oneof detail {\n    string note = 3;\n    int32 code = 7;\n  }"),
			previous:  []string{replace("string note = 3;", "string note = 3;\n  oneof detail { int32 code = 7; }")}, ok: false,
			want: []string{"field 3 (note): moved into existing oneof detail"}},
		{name: "field removed from a oneof", level: "BACKWARD",
			candidate: replace("string note = 3;", "oneof detail { string note = 3; }"),
			previous:  []string{replace("string note = 3;", "oneof detail {\n    string note = 3;\n    int32 code = 7;\n  }")}, ok: false,
			want: []string{"field 7 (code): field removed from oneof detail"}},
		{name: "proto2 required field added", level: "BACKWARD",
			candidate: "syntax = \"proto2\";\npackage acme;\nmessage P {\n  optional string a = 1;\n  required string b = 2;\n}\n",
			previous:  []string{"syntax = \"proto2\";\npackage acme;\nmessage P {\n  optional string a = 1;\n}\n"}, ok: false,
			want: []string{"field 2 (b): the reader requires it and the writer does not have it"}},
		{name: "proto2 required field removed / FORWARD", level: "FORWARD",
			candidate: "syntax = \"proto2\";\npackage acme;\nmessage P {\n  optional string a = 1;\n}\n",
			previous:  []string{"syntax = \"proto2\";\npackage acme;\nmessage P {\n  optional string a = 1;\n  required string b = 2;\n}\n"}, ok: false,
			want: []string{"FORWARD:", "(b): the reader requires it"}},
		{name: "proto2 optional made required", level: "BACKWARD",
			candidate: "syntax = \"proto2\";\npackage acme;\nmessage P {\n  required string a = 1;\n}\n",
			previous:  []string{"syntax = \"proto2\";\npackage acme;\nmessage P {\n  optional string a = 1;\n}\n"}, ok: false,
			want: []string{"the writer may omit it"}},
		{name: "testdata order with references against itself", level: "FULL_TRANSITIVE", refs: []Reference{protoAddressReference(t)},
			candidate: readTestdata(t, "protobuf/order.proto"), previous: []string{readTestdata(t, "protobuf/order.proto")}, ok: true},
	})
}

func jsonObjectSchema(closed bool, props string, required ...string) string {
	req := `"` + strings.Join(required, `", "`) + `"`
	if len(required) == 0 {
		req = ""
	}
	return fmt.Sprintf(`{"type": "object", "additionalProperties": %v, "properties": {%s}, "required": [%s]}`, !closed, props, req)
}

func TestCheckCompatibilityJSONSchema(t *testing.T) {
	base := `"id": {"type": "integer"}, "name": {"type": "string", "maxLength": 100}`
	closedV1 := jsonObjectSchema(true, base, "id")
	openV1 := jsonObjectSchema(false, base, "id")

	runCompatCases(t, JSON, []compatCase{
		{name: "closed model: add optional property / BACKWARD", level: "BACKWARD",
			candidate: jsonObjectSchema(true, base+`, "email": {"type": "string"}`, "id"), previous: []string{closedV1}, ok: true},
		{name: "closed model: add optional property / FORWARD", level: "FORWARD",
			candidate: jsonObjectSchema(true, base+`, "email": {"type": "string"}`, "id"), previous: []string{closedV1}, ok: false,
			want: []string{"property email: the reader's closed content model (additionalProperties: false) does not accept it"}},
		{name: "open model: add optional property / BACKWARD", level: "BACKWARD",
			candidate: jsonObjectSchema(false, base+`, "email": {"type": "string"}`, "id"), previous: []string{openV1}, ok: false,
			want: []string{"property email: added to an open content model"}},
		{name: "open model: add optional property / FORWARD", level: "FORWARD",
			candidate: jsonObjectSchema(false, base+`, "email": {"type": "string"}`, "id"), previous: []string{openV1}, ok: true},
		{name: "open model: remove property / BACKWARD", level: "BACKWARD",
			candidate: jsonObjectSchema(false, `"id": {"type": "integer"}`, "id"), previous: []string{openV1}, ok: true},
		{name: "add required property", level: "BACKWARD",
			candidate: jsonObjectSchema(true, base+`, "email": {"type": "string"}`, "id", "email"), previous: []string{closedV1}, ok: false,
			want: []string{"property email: required property added"}},
		{name: "optional made required", level: "BACKWARD",
			candidate: jsonObjectSchema(true, base, "id", "name"), previous: []string{closedV1}, ok: false,
			want: []string{"property name: became required"}},
		{name: "type change", level: "BACKWARD",
			candidate: jsonObjectSchema(true, `"id": {"type": "string"}, "name": {"type": "string", "maxLength": 100}`, "id"), previous: []string{closedV1}, ok: false,
			want: []string{"property id: type integer is no longer accepted"}},
		{name: "integer widened to number / BACKWARD", level: "BACKWARD",
			candidate: jsonObjectSchema(true, `"id": {"type": "number"}, "name": {"type": "string", "maxLength": 100}`, "id"), previous: []string{closedV1}, ok: true},
		{name: "integer widened to number / FORWARD", level: "FORWARD",
			candidate: jsonObjectSchema(true, `"id": {"type": "number"}, "name": {"type": "string", "maxLength": 100}`, "id"), previous: []string{closedV1}, ok: false,
			want: []string{"type number is no longer accepted"}},
		{name: "null no longer accepted", level: "BACKWARD",
			candidate: `{"type": "object", "properties": {"a": {"type": "string"}}}`,
			previous:  []string{`{"type": "object", "properties": {"a": {"type": ["string", "null"]}}}`}, ok: false,
			want: []string{"property a: null is no longer accepted"}},
		{name: "maxLength lowered", level: "BACKWARD",
			candidate: jsonObjectSchema(true, `"id": {"type": "integer"}, "name": {"type": "string", "maxLength": 50}`, "id"), previous: []string{closedV1}, ok: false,
			want: []string{"property name: maxLength lowered from 100 to 50"}},
		{name: "maxLength raised", level: "BACKWARD",
			candidate: jsonObjectSchema(true, `"id": {"type": "integer"}, "name": {"type": "string", "maxLength": 500}`, "id"), previous: []string{closedV1}, ok: true},
		{name: "enum value removed", level: "BACKWARD",
			candidate: `{"type": "string", "enum": ["A", "B"]}`, previous: []string{`{"type": "string", "enum": ["A", "B", "C"]}`}, ok: false,
			want: []string{`root: enum value "C" removed`}},
		{name: "enum value added", level: "BACKWARD",
			candidate: `{"type": "string", "enum": ["A", "B", "C"]}`, previous: []string{`{"type": "string", "enum": ["A", "B"]}`}, ok: true},
		{name: "nested change through $ref and array items", level: "BACKWARD",
			candidate: strings.Replace(readTestdata(t, "json/order.json"), `"quantity": {"type": "integer", "minimum": 1, "default": 1}`, `"quantity": {"type": "string"}`, 1),
			previous:  []string{readTestdata(t, "json/order.json")}, ok: false,
			want: []string{"property items[].quantity: type integer is no longer accepted"}},
		{name: "content model closed", level: "BACKWARD", candidate: closedV1, previous: []string{openV1}, ok: false,
			want: []string{"root: content model closed"}},
		{name: "recursive schema against itself", level: "FULL", candidate: readTestdata(t, "json/category.json"), previous: []string{readTestdata(t, "json/category.json")}, ok: true},
		{name: "with references", level: "FULL_TRANSITIVE", refs: []Reference{jsonAddressReference(t)},
			candidate: readTestdata(t, "json/customer_with_reference.json"), previous: []string{readTestdata(t, "json/customer_with_reference.json")}, ok: true},
	})
}

func TestCheckCompatibilityErrors(t *testing.T) {
	v1 := avroUser(`{"name": "id", "type": "long"}`)
	for _, tc := range []struct {
		name, level, candidate string
		previous               []string
		typ                    SchemaType
		want                   string
	}{
		{name: "unknown level", level: "SIDEWAYS", candidate: v1, previous: []string{v1}, want: `unknown compatibility level "SIDEWAYS"`},
		{name: "NONE_TRANSITIVE", level: "NONE_TRANSITIVE", candidate: v1, want: "unknown compatibility level"},
		{name: "unknown type", level: "BACKWARD", candidate: v1, typ: "XML", want: "unknown schema type"},
		{name: "bad candidate", level: "NONE", candidate: `{"type": "record"`, want: "parse candidate schema"},
		{name: "bad previous", level: "BACKWARD_TRANSITIVE", candidate: v1, previous: []string{"{", v1}, want: "parse previous schema 1 of 2"},
		{name: "bad proto candidate", level: "BACKWARD", candidate: "message {", typ: Protobuf, want: "schema.proto:1:9"},
		{name: "bad JSON previous", level: "FORWARD", candidate: `{"type": "string"}`, previous: []string{`{"type": 5}`}, typ: JSON, want: "parse previous schema 1 of 1 (latest): invalid JSON Schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, msgs, err := CheckCompatibility(tc.level, tc.candidate, tc.previous, tc.typ, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || ok || msgs != nil {
				t.Fatalf("= %v, %q, %v; want an error containing %q", ok, msgs, err, tc.want)
			}
			if catalog.KindOf(err) != catalog.Invalid {
				t.Errorf("kind %s, want Invalid", catalog.KindOf(err).Code())
			}
		})
	}
}
