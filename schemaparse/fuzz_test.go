package schemaparse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// FuzzParse feeds arbitrary text to every parser. Parse must never panic
// nor fail internally; what it accepts must satisfy the field-list
// invariants, diff to nothing against itself and be FULL-compatible with
// itself. `go test` runs the seed corpus (every testdata schema and a set
// of broken ones); `go test -fuzz FuzzParse` explores further.
func FuzzParse(f *testing.F) {
	for i, dir := range []string{"avro", "protobuf", "json"} {
		err := filepath.WalkDir(filepath.Join("testdata", dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(uint8(i), string(b))
			return nil
		})
		if err != nil {
			f.Fatal(err)
		}
	}
	for _, seed := range []struct {
		typ  uint8
		text string
	}{
		{0, `"string"`},
		{0, `["null", "string", {"type": "map", "values": {"type": "array", "items": "bytes"}}]`},
		{0, `{"type": "record", "name": "R", "fields": [{"name": "r", "type": ["null", "R"]}]}`},
		{0, `{"type": "record", "name": "A", "fields": [{"name": "a", "type": "int", "default": 1e400}]}`},
		{0, `{"type": "record", "name": "A", "fields": [{"name": "a", "type": {"type": "fixed", "name": "F", "size": -1}}]}`},
		{0, `{"type": "enum", "name": "E", "symbols": []}`},
		{0, `{"type": "record", "name": "A", "fields": [{"name": "a"}]}`},
		{0, `[[]]`},
		{0, `{`},
		{1, "syntax = \"proto3\";\nmessage A { map<string, A> m = 1; oneof o { A a = 2; } }\n"},
		{1, "syntax = \"proto2\";\nmessage A { optional group G = 1 { optional int32 x = 2; } }\n"},
		{1, "syntax = \"proto3\";\nimport \"missing.proto\";\n"},
		{1, "message {"},
		{1, "edition = \"2023\";\nmessage A { int32 a = 1; }\n"},
		{2, `true`},
		{2, `false`},
		{2, `{"$ref": "#"}`},
		{2, `{"allOf": [{"$ref": "#/definitions/a"}], "definitions": {"a": {"$ref": "#/definitions/b"}, "b": {"$ref": "#/definitions/a"}}}`},
		{2, `{"type": "array", "items": [{"type": "object", "properties": {"x": {"type": "integer"}}}, {"type": "string"}]}`},
		{2, `{"properties": {"a.b": {"type": "string"}, "": {"type": "string"}}}`},
		{2, `{"type": 7}`},
		{2, `{"$ref": "other.json"}`},
		{2, `[1, 2`},
	} {
		f.Add(seed.typ, seed.text)
	}
	types := [...]SchemaType{Avro, Protobuf, JSON}
	f.Fuzz(func(t *testing.T, typ uint8, text string) {
		st := types[int(typ)%len(types)]
		s, err := Parse(st, text, nil)
		if err != nil {
			if catalog.KindOf(err) != catalog.Invalid {
				t.Fatalf("Parse failed with kind %s, want Invalid: %v", catalog.KindOf(err).Code(), err)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		checkInvariants(t, s)
		if d := Diff(s, s); len(d) != 0 {
			t.Fatalf("Diff(s, s) = %v", d)
		}
		ok, msgs, err := CheckCompatibility(LevelFull, text, []string{text}, st, nil)
		if err != nil || !ok {
			t.Fatalf("schema not FULL-compatible with itself: %v, %q", err, msgs)
		}
	})
}

// FuzzWireFormat feeds arbitrary bytes to the wire-format readers: they
// must never panic, and what they read must re-encode to the same bytes.
func FuzzWireFormat(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 1, 0, 'x'})
	f.Add([]byte{0, 0, 0, 1, 0, 4, 2, 4, 'y'})
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{0, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		id, rest, err := ParseWireHeader(b)
		if err != nil {
			return
		}
		if got := AppendWireHeader(nil, id); string(got) != string(b[:5]) {
			t.Fatalf("header %x re-encodes as %x", b[:5], got)
		}
		indexes, payload, err := ParseProtobufMessageIndexes(rest)
		if err != nil {
			return
		}
		if len(indexes) == 0 || len(payload) > len(rest) {
			t.Fatalf("indexes %v, payload %d of %d bytes", indexes, len(payload), len(rest))
		}
	})
}
