package schemaparse

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typ     SchemaType
		text    string
		refs    []Reference
		want    []string // substrings of the message
		missing string   // the name of a *MissingReferenceError, if one is expected
	}{
		{name: "unknown schema type", typ: "XML", text: "<a/>", want: []string{`unknown schema type "XML"`}},
		{name: "empty text", typ: Avro, text: " \n", want: []string{"parse AVRO schema", "empty"}},
		{
			name: "avro malformed JSON", typ: Avro,
			text: "{\"type\": \"record\",\n \"name\": \"A\",\n \"fields\": [{\"name\": \"a\" \"type\": \"string\"}]}",
			want: []string{"parse AVRO schema", "line 3, column", "invalid character"},
		},
		{name: "avro bare word", typ: Avro, text: "string", want: []string{"invalid JSON at line 1"}},
		{name: "avro trailing data", typ: Avro, text: `"string" "long"`, want: []string{"after the top-level JSON value"}},
		{
			name: "avro unknown type", typ: Avro,
			text: `{"type": "record", "name": "A", "fields": [{"name": "a", "type": "strin"}]}`,
			want: []string{`unknown type "strin"`},
		},
		{
			name: "avro missing reference", typ: Avro,
			text:    `{"type": "record", "name": "A", "fields": [{"name": "a", "type": "com.acme.common.Address"}]}`,
			want:    []string{`"com.acme.common.Address" is not defined`},
			missing: "com.acme.common.Address",
		},
		{
			name: "avro record without fields", typ: Avro,
			text: `{"type": "record", "name": "A"}`,
			want: []string{"record must have an array of fields"},
		},
		{
			name: "avro bad default", typ: Avro,
			text: `{"type": "record", "name": "A", "fields": [{"name": "a", "type": "int", "default": "x"}]}`,
			want: []string{"invalid default for field a"},
		},
		{
			name: "avro reference of another format", typ: Avro,
			text: `"string"`,
			refs: []Reference{{Name: "x.proto", Subject: "x", Version: 1, Schema: "syntax = \"proto3\";", Type: Protobuf}},
			want: []string{`reference "x.proto"`, "can only reference AVRO"},
		},
		{
			name: "avro unresolved reference text", typ: Avro,
			text: `"string"`,
			refs: []Reference{{Name: "com.acme.A", Subject: "a", Version: 2}},
			want: []string{`reference "com.acme.A" (subject "a" version 2) has no schema text`},
		},
		{
			name: "proto syntax error", typ: Protobuf,
			text: "syntax = \"proto3\";\nmessage A {\n  string a = 1\n}\n",
			want: []string{"parse PROTOBUF schema", "schema.proto:4:1", "syntax error"},
		},
		{
			name: "proto unknown type", typ: Protobuf,
			text: "syntax = \"proto3\";\nmessage A {\n  Foo a = 1;\n}\n",
			want: []string{"schema.proto:3:3", "unknown type Foo"},
		},
		{
			name: "proto missing import", typ: Protobuf,
			text:    "syntax = \"proto3\";\nimport \"acme/x.proto\";\nmessage A { acme.X x = 1; }\n",
			refs:    []Reference{{Name: "acme/y.proto", Subject: "y", Version: 1, Schema: "syntax = \"proto3\";\npackage acme;\nmessage Y {}\n"}},
			want:    []string{`"acme/x.proto" is not defined by the schema or its references (acme/y.proto)`},
			missing: "acme/x.proto",
		},
		{
			name: "json malformed", typ: JSON,
			text: "{\n  \"type\": \"object\",\n}",
			want: []string{"parse JSON schema", "line 3, column 1"},
		},
		{
			name: "json invalid against metaschema", typ: JSON,
			text: `{"type": "object", "properties": {"a": {"type": "strin"}}}`,
			want: []string{"invalid JSON Schema", "/properties/a/type"},
		},
		{
			name: "json dangling pointer", typ: JSON,
			text: `{"type": "object", "properties": {"a": {"$ref": "#/definitions/Nope"}}}`,
			want: []string{"invalid JSON Schema", "#/definitions/Nope", "not found"},
		},
		{
			name: "json missing reference", typ: JSON,
			text:    `{"type": "object", "properties": {"a": {"$ref": "customer.json#/definitions/Customer"}}}`,
			want:    []string{`"customer.json" is not defined`},
			missing: "customer.json",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.typ, tc.text, tc.refs)
			if err == nil {
				t.Fatalf("Parse = %+v, want an error", s)
			}
			if catalog.KindOf(err) != catalog.Invalid {
				t.Errorf("kind = %v, want Invalid: %v", catalog.KindOf(err).Code(), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var missing *MissingReferenceError
			if got := errors.As(err, &missing); got != (tc.missing != "") || (got && missing.Name != tc.missing) {
				t.Errorf("missing reference = %v (%v), want %q", got, missing, tc.missing)
			}
		})
	}
}

func TestSchemaTypeNormalize(t *testing.T) {
	for in, want := range map[SchemaType]SchemaType{"": Avro, "avro": Avro, "AVRO": Avro, " Protobuf ": Protobuf, "json": JSON} {
		if got, err := in.Normalize(); err != nil || got != want {
			t.Errorf("%q.Normalize() = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := SchemaType("XML").Normalize(); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("XML: err = %v, want Invalid", err)
	}
}

func TestTagsFromProps(t *testing.T) {
	for _, tc := range []struct {
		props map[string]any
		want  []string
	}{
		{nil, nil},
		{map[string]any{"pii": true}, []string{"PII"}},
		{map[string]any{"PII": "TRUE"}, []string{"PII"}},
		{map[string]any{"pii": false, "owner": "x"}, nil},
		{map[string]any{"pii": "no"}, nil},
		{map[string]any{"confluent:tags": []any{"b", "a", "b", ""}}, []string{"a", "b"}},
		{map[string]any{"confluent:tags": "Sensitive", "pii": true}, []string{"PII", "Sensitive"}},
		{map[string]any{"acme.pii": true}, []string{"PII"}},
		{map[string]any{"epii": true}, nil},
	} {
		if got := tagsFromProps(tc.props); !slices.Equal(got, tc.want) {
			t.Errorf("tagsFromProps(%v) = %q, want %q", tc.props, got, tc.want)
		}
	}
}

// A small text can describe an exponentially large tree by reusing a type
// at two places on every level. Parse must give up quickly, and a
// compatibility check must still answer.
func TestPathologicalSchemasStayBounded(t *testing.T) {
	const levels = 30
	text := fmt.Sprintf(`{"type": "record", "name": "R%d", "fields": [{"name": "a", "type": "string"}]}`, levels)
	for i := levels - 1; i >= 0; i-- {
		text = fmt.Sprintf(`{"type": "record", "name": "R%d", "fields": [{"name": "a", "type": %s}, {"name": "b", "type": "R%d"}]}`, i, text, i+1)
	}
	start := time.Now()
	if _, err := Parse(Avro, text, nil); err == nil || !strings.Contains(err.Error(), "more than 50000 fields") {
		t.Errorf("Avro: err = %v, want the field limit", err)
	}
	if ok, msgs, err := CheckCompatibility(LevelFull, text, []string{text}, Avro, nil); err != nil || !ok {
		t.Errorf("Avro self-compatibility = %v, %q, %v", ok, msgs, err)
	}

	var defs []string
	for i := 0; i < levels; i++ {
		defs = append(defs, fmt.Sprintf(`"d%d": {"allOf": [{"$ref": "#/definitions/d%d"}, {"$ref": "#/definitions/d%d"}]}`, i, i+1, i+1))
	}
	defs = append(defs, fmt.Sprintf(`"d%d": {"type": "object", "properties": {"x": {"type": "string"}}}`, levels))
	jsonText := `{"$ref": "#/definitions/d0", "definitions": {` + strings.Join(defs, ", ") + `}}`
	if _, err := Parse(JSON, jsonText, nil); err == nil || !strings.Contains(err.Error(), "too complex") {
		t.Errorf("JSON: err = %v, want too complex", err)
	}
	if _, _, err := CheckCompatibility(LevelFull, jsonText, []string{jsonText}, JSON, nil); err == nil || !strings.Contains(err.Error(), "too complex") {
		t.Errorf("JSON compatibility: err = %v, want too complex", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}
