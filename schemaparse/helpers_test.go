package schemaparse

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// readTestdata returns the text of a file under testdata/.
func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantField is what a test expects of one field. Tags nil means none.
type wantField struct {
	path      string
	parent    string
	typ       string
	nullable  bool
	tags      []string
	recursive bool
}

// parseCase is one schema and what its parse must give.
type parseCase struct {
	name     string
	typ      SchemaType
	file     string
	refs     []Reference
	wantName string
	wantRoot string
	// paths is the complete, ordered list of field paths.
	paths []string
	// fields are checked in detail.
	fields []wantField
}

func runParseCases(t *testing.T, cases []parseCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.typ, readTestdata(t, tc.file), tc.refs)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			wantType, _ := tc.typ.Normalize()
			if s.Type != wantType || s.Name != tc.wantName || s.RootType != tc.wantRoot {
				t.Errorf("schema = (%s, %q, %q), want (%s, %q, %q)", s.Type, s.Name, s.RootType, wantType, tc.wantName, tc.wantRoot)
			}
			checkInvariants(t, s)
			if got := fieldPaths(s); !slices.Equal(got, tc.paths) {
				t.Errorf("paths:\n got  %q\n want %q", got, tc.paths)
			}
			for _, w := range tc.fields {
				checkField(t, s, w)
			}
		})
	}
}

func fieldPaths(s *Schema) []string {
	paths := make([]string, len(s.Fields))
	for i, f := range s.Fields {
		paths[i] = f.Path
	}
	return paths
}

func checkField(t *testing.T, s *Schema, w wantField) {
	t.Helper()
	f, ok := s.Field(w.path)
	if !ok {
		t.Errorf("no field %q", w.path)
		return
	}
	if f.Parent != w.parent || f.Type != w.typ || f.Nullable != w.nullable || f.Recursive != w.recursive || !slices.Equal(f.Tags, w.tags) {
		t.Errorf("field %q = {parent %q, type %q, nullable %v, recursive %v, tags %q}, want {parent %q, type %q, nullable %v, recursive %v, tags %q}",
			w.path, f.Parent, f.Type, f.Nullable, f.Recursive, f.Tags, w.parent, w.typ, w.nullable, w.recursive, w.tags)
	}
}

// checkInvariants asserts what every parse promises: unique paths, parents
// listed before their children, Name the last segment of Path, sorted
// unique tags.
func checkInvariants(t testing.TB, s *Schema) {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range s.Fields {
		if seen[f.Path] {
			t.Errorf("duplicate path %q", f.Path)
		}
		if f.Parent != "" && !seen[f.Parent] {
			t.Errorf("field %q: parent %q is not listed before it", f.Path, f.Parent)
		}
		if f.Parent != "" && !strings.HasPrefix(f.Path, f.Parent) {
			t.Errorf("field %q does not start with its parent %q", f.Path, f.Parent)
		}
		if !strings.HasSuffix(f.Path, f.Name) || f.Name == "" {
			t.Errorf("field %q: name %q is not its last segment", f.Path, f.Name)
		}
		if !slices.IsSorted(f.Tags) || len(slices.Compact(slices.Clone(f.Tags))) != len(f.Tags) {
			t.Errorf("field %q: tags %q are not sorted and unique", f.Path, f.Tags)
		}
		seen[f.Path] = true
	}
}

// checkDefault asserts a field's default.
func checkDefault(t *testing.T, s *Schema, path string, want any) {
	t.Helper()
	f, ok := s.Field(path)
	if !ok {
		t.Errorf("no field %q", path)
		return
	}
	if !f.HasDefault || !reflect.DeepEqual(f.Default, want) {
		t.Errorf("field %q default = %#v (has %v), want %#v", path, f.Default, f.HasDefault, want)
	}
}

// checkNoDefault asserts a field has no default.
func checkNoDefault(t *testing.T, s *Schema, path string) {
	t.Helper()
	if f, ok := s.Field(path); !ok || f.HasDefault || f.Default != nil {
		t.Errorf("field %q: want no default, got %#v (has %v, found %v)", path, f.Default, f.HasDefault, ok)
	}
}

// checkDoc asserts a field's doc.
func checkDoc(t *testing.T, s *Schema, path, want string) {
	t.Helper()
	if f, _ := s.Field(path); f.Doc != want {
		t.Errorf("field %q doc = %q, want %q", path, f.Doc, want)
	}
}

// checkProp asserts one custom property of a field.
func checkProp(t *testing.T, s *Schema, path, key string, want any) {
	t.Helper()
	f, _ := s.Field(path)
	if got, ok := f.Props[key]; !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("field %q prop %q = %#v (present %v), want %#v", path, key, got, ok, want)
	}
}

func mustParse(t testing.TB, typ SchemaType, text string, refs ...Reference) *Schema {
	t.Helper()
	s, err := Parse(typ, text, refs)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}
