package schemaparse

import "sort"

// Kinds of FieldChange.
const (
	ChangeAdded       = "added"
	ChangeRemoved     = "removed"
	ChangeType        = "type-changed"
	ChangeNullability = "nullability-changed"
	ChangeDefault     = "default-changed"
)

// FieldChange is one difference between two versions of a schema at one
// field path.
type FieldChange struct {
	Path string
	// Kind is ChangeAdded, ChangeRemoved, ChangeType, ChangeNullability or
	// ChangeDefault.
	Kind string
	// Before is the field in the old schema, nil when added; After the
	// field in the new schema, nil when removed.
	Before, After *Field
}

// Diff compares two parsed schemas field by field, matching fields by path.
// A field present in only one of them is added or removed (its children
// too, each with its own change); a field in both may have several changes,
// one per kind, in the order type, nullability, default. Docs, props and
// tags are not compared. The result is sorted by path; a nil schema counts
// as one without fields.
func Diff(old, new *Schema) []FieldChange {
	before := fieldsByPath(old)
	after := fieldsByPath(new)
	var changes []FieldChange
	for path, b := range before {
		a, ok := after[path]
		if !ok {
			changes = append(changes, FieldChange{Path: path, Kind: ChangeRemoved, Before: b})
			continue
		}
		changes = append(changes, fieldChanges(b, a)...)
	}
	for path, a := range after {
		if _, ok := before[path]; !ok {
			changes = append(changes, FieldChange{Path: path, Kind: ChangeAdded, After: a})
		}
	}
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].Path != changes[j].Path {
			return changes[i].Path < changes[j].Path
		}
		return changeOrder(changes[i].Kind) < changeOrder(changes[j].Kind)
	})
	return changes
}

// fieldChanges compares two versions of one field.
func fieldChanges(b, a *Field) []FieldChange {
	var out []FieldChange
	if b.Type != a.Type {
		out = append(out, FieldChange{Path: b.Path, Kind: ChangeType, Before: b, After: a})
	}
	if b.Nullable != a.Nullable {
		out = append(out, FieldChange{Path: b.Path, Kind: ChangeNullability, Before: b, After: a})
	}
	if b.HasDefault != a.HasDefault || (b.HasDefault && canonicalJSON(b.Default) != canonicalJSON(a.Default)) {
		out = append(out, FieldChange{Path: b.Path, Kind: ChangeDefault, Before: b, After: a})
	}
	return out
}

func changeOrder(kind string) int {
	switch kind {
	case ChangeAdded, ChangeRemoved:
		return 0
	case ChangeType:
		return 1
	case ChangeNullability:
		return 2
	}
	return 3
}

// fieldsByPath indexes copies of s's fields by path.
func fieldsByPath(s *Schema) map[string]*Field {
	out := map[string]*Field{}
	if s == nil {
		return out
	}
	for i := range s.Fields {
		f := s.Fields[i]
		out[f.Path] = &f
	}
	return out
}
