package schemaparse

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// avroSchema is a compiled Avro schema plus what the library does not keep
// exactly: the field defaults as written (the library turns numbers into
// float64 first), keyed by avroDefaultKey.
type avroSchema struct {
	root     avro.Schema
	defaults map[string]any
}

func avroDefaultKey(record, field string) string { return record + "\x00" + field }

// parseAvro parses an Avro schema and flattens it.
func parseAvro(text string, refs []Reference) (*Schema, error) {
	compiled, err := compileAvro(text, refs)
	if err != nil {
		return nil, err
	}
	w := &avroWalker{list: newFieldList(), defaults: compiled.defaults, onPath: map[string]bool{}}
	out := &Schema{Type: Avro, RootType: avroTypeName(compiled.root)}
	root := derefAvro(compiled.root)
	if rec, ok := root.(*avro.RecordSchema); ok {
		out.Name, out.Doc = rec.FullName(), rec.Doc()
	}
	w.walkType(root, "", "")
	if out.Fields, err = w.list.result(); err != nil {
		return nil, err
	}
	return out, nil
}

// compileAvro parses the references (in any order: a reference that needs
// another is retried once that one is known) and then the schema, all into
// one fresh cache of named types.
func compileAvro(text string, refs []Reference) (*avroSchema, error) {
	if err := requireText(text); err != nil {
		return nil, err
	}
	doc, err := decodeOrdered(text)
	if err != nil {
		return nil, err
	}
	defaults := map[string]any{}
	cache := &avro.SchemaCache{}
	if err := parseAvroReferences(refs, cache, defaults); err != nil {
		return nil, err
	}
	root, err := parseAvroText(text, cache)
	if err != nil {
		return nil, explainAvroError(err, refs)
	}
	indexAvroDefaults(doc, "", defaults)
	return &avroSchema{root: root, defaults: defaults}, nil
}

// parseAvroReferences adds the named types of every reference to cache.
func parseAvroReferences(refs []Reference, cache *avro.SchemaCache, defaults map[string]any) error {
	pending := make([]Reference, 0, len(refs))
	for _, ref := range refs {
		if err := checkReferenceType(ref, Avro); err != nil {
			return err
		}
		pending = append(pending, ref)
	}
	for len(pending) > 0 {
		var (
			next    []Reference
			lastErr error
		)
		for _, ref := range pending {
			if err := parseAvroReference(ref, cache, defaults); err != nil {
				next, lastErr = append(next, ref), err
			}
		}
		if len(next) == len(pending) {
			ref := next[0]
			return fmt.Errorf("parse reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, explainAvroError(lastErr, refs))
		}
		pending = next
	}
	return nil
}

func parseAvroReference(ref Reference, cache *avro.SchemaCache, defaults map[string]any) error {
	doc, err := decodeOrdered(ref.Schema)
	if err != nil {
		return err
	}
	if _, err := parseAvroText(ref.Schema, cache); err != nil {
		return err
	}
	indexAvroDefaults(doc, "", defaults)
	return nil
}

// parseAvroText parses text into cache with the Avro library, turning a
// panic of the library on malformed input (an empty union with a default,
// say) into an error.
func parseAvroText(text string, cache *avro.SchemaCache) (s avro.Schema, err error) {
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, fmt.Errorf("avro: the schema is malformed (%v)", p)
		}
	}()
	return avro.ParseWithCache(text, "", cache)
}

// explainAvroError turns the library's "unknown type" into a
// *MissingReferenceError, which says which references were supplied.
func explainAvroError(err error, refs []Reference) error {
	const unknown = "avro: unknown type: "
	msg := err.Error()
	if i := strings.Index(msg, unknown); i >= 0 {
		name := strings.TrimSpace(msg[i+len(unknown):])
		if len(refs) == 0 && !strings.Contains(name, ".") {
			return fmt.Errorf("unknown type %q: neither a primitive type nor a named type defined before its use", name)
		}
		return &MissingReferenceError{Name: name, Known: referenceNames(refs)}
	}
	return err
}

// indexAvroDefaults records the default of every record field in doc, as
// written, under avroDefaultKey(record full name, field name). It follows
// the namespace rules of the Avro specification.
func indexAvroDefaults(v any, namespace string, out map[string]any) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			indexAvroDefaults(e, namespace, out)
		}
	case *jsonObject:
		switch t, _ := v.get("type"); t := t.(type) {
		case string:
			indexAvroTypeDefaults(v, t, namespace, out)
		case *jsonObject, []any:
			indexAvroDefaults(t, namespace, out)
		}
	}
}

func indexAvroTypeDefaults(v *jsonObject, typ, namespace string, out map[string]any) {
	switch typ {
	case "record", "error":
		full := avroFullName(v.str("name"), v.str("namespace"), namespace)
		ns := ""
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns = full[:i]
		}
		fields, _ := v.get("fields")
		list, _ := fields.([]any)
		for _, f := range list {
			fo, ok := f.(*jsonObject)
			if !ok {
				continue
			}
			if def, ok := fo.get("default"); ok {
				out[avroDefaultKey(full, fo.str("name"))] = plainJSON(def)
			}
			ft, _ := fo.get("type")
			indexAvroDefaults(ft, ns, out)
		}
	case "array":
		items, _ := v.get("items")
		indexAvroDefaults(items, namespace, out)
	case "map":
		values, _ := v.get("values")
		indexAvroDefaults(values, namespace, out)
	}
}

// avroFullName resolves a name the way the Avro specification does: a
// dotted name is already full; otherwise the explicit namespace, else the
// enclosing one, is prepended.
func avroFullName(name, namespace, enclosing string) string {
	if strings.Contains(name, ".") {
		return name
	}
	if namespace == "" {
		namespace = enclosing
	}
	if namespace == "" {
		return name
	}
	return namespace + "." + name
}

// avroWalker flattens an Avro schema into a fieldList.
type avroWalker struct {
	list     *fieldList
	defaults map[string]any
	// onPath holds the records being expanded on the path from the root.
	onPath map[string]bool
}

// walkType lists the fields below a value of type s, whose path prefix is
// prefix and whose nearest field is parent. It reports whether s (through
// arrays, maps and unions) is a record already on the path.
func (w *avroWalker) walkType(s avro.Schema, prefix, parent string) (recursive bool) {
	if w.list.full {
		return false
	}
	switch s := derefAvro(s).(type) {
	case *avro.RecordSchema:
		name := s.FullName()
		if w.onPath[name] {
			return true
		}
		w.onPath[name] = true
		w.walkRecord(s, prefix, parent)
		delete(w.onPath, name)
	case *avro.ArraySchema:
		return w.walkType(s.Items(), prefix+"[]", parent)
	case *avro.MapSchema:
		return w.walkType(s.Values(), prefix+"{}", parent)
	case *avro.UnionSchema:
		for _, member := range s.Types() {
			if w.walkType(member, prefix, parent) {
				recursive = true
			}
		}
	}
	return recursive
}

// walkRecord lists the fields of rec and, depth first, theirs.
func (w *avroWalker) walkRecord(rec *avro.RecordSchema, prefix, parent string) {
	for _, f := range rec.Fields() {
		path := joinPath(prefix, f.Name())
		field := Field{
			Path:     path,
			Name:     f.Name(),
			Parent:   parent,
			Type:     avroTypeName(f.Type()),
			Doc:      f.Doc(),
			Nullable: avroNullable(f.Type()),
			Props:    avroFieldProps(f),
		}
		if as := f.Aliases(); len(as) > 0 {
			field.Aliases = slices.Clone(as)
		}
		if f.HasDefault() {
			field.HasDefault = true
			if def, ok := w.defaults[avroDefaultKey(rec.FullName(), f.Name())]; ok {
				field.Default = def
			} else {
				field.Default = jsonValue(f.Default())
			}
		}
		i := w.list.add(field)
		if i < 0 {
			continue
		}
		if w.walkType(f.Type(), path, path) {
			w.list.markRecursive(i)
		}
	}
}

// derefAvro follows a reference to a named type.
func derefAvro(s avro.Schema) avro.Schema {
	if ref, ok := s.(*avro.RefSchema); ok {
		return ref.Schema()
	}
	return s
}

// avroTypeName renders s in the notation of Field.Type.
func avroTypeName(s avro.Schema) string {
	switch s := derefAvro(s).(type) {
	case *avro.RecordSchema:
		if s.IsError() {
			return "error<" + s.FullName() + ">"
		}
		return "record<" + s.FullName() + ">"
	case *avro.EnumSchema:
		return "enum<" + s.FullName() + ">"
	case *avro.FixedSchema:
		if l := avroLogicalName(s.Logical()); l != "" {
			return l
		}
		return "fixed<" + s.FullName() + ">"
	case *avro.ArraySchema:
		return "array<" + avroTypeName(s.Items()) + ">"
	case *avro.MapSchema:
		return "map<" + avroTypeName(s.Values()) + ">"
	case *avro.UnionSchema:
		names := make([]string, 0, len(s.Types()))
		for _, m := range s.Types() {
			names = append(names, avroTypeName(m))
		}
		return "union<" + strings.Join(names, ",") + ">"
	case *avro.NullSchema:
		return "null"
	case *avro.PrimitiveSchema:
		if l := avroLogicalName(s.Logical()); l != "" {
			return l
		}
		return string(s.Type())
	case nil:
		return "null"
	}
	return string(s.Type())
}

// avroLogicalName renders a logical type: "timestamp-millis", "decimal(10,2)".
func avroLogicalName(l avro.LogicalSchema) string {
	if l == nil {
		return ""
	}
	if d, ok := l.(*avro.DecimalLogicalSchema); ok {
		return "decimal(" + strconv.Itoa(d.Precision()) + "," + strconv.Itoa(d.Scale()) + ")"
	}
	return string(l.Type())
}

// avroNullable reports whether a value of type s may be null.
func avroNullable(s avro.Schema) bool {
	switch s := derefAvro(s).(type) {
	case *avro.NullSchema:
		return true
	case *avro.UnionSchema:
		for _, m := range s.Types() {
			if m.Type() == avro.Null {
				return true
			}
		}
	}
	return false
}

// avroFieldProps merges the custom attributes of a field's type (for a
// union with null, of its other member) with the field's own, which win.
func avroFieldProps(f *avro.Field) map[string]any {
	props := map[string]any{}
	if ps, ok := avroValueType(f.Type()).(interface{ Props() map[string]any }); ok {
		maps.Copy(props, ps.Props())
	}
	maps.Copy(props, f.Props())
	if len(props) == 0 {
		return nil
	}
	for k, v := range props {
		props[k] = jsonValue(v)
	}
	return props
}

// avroValueType returns the type a nullable union wraps (["null", T] → T),
// else s itself, with references followed.
func avroValueType(s avro.Schema) avro.Schema {
	s = derefAvro(s)
	u, ok := s.(*avro.UnionSchema)
	if !ok {
		return s
	}
	var only avro.Schema
	for _, m := range u.Types() {
		if m.Type() == avro.Null {
			continue
		}
		if only != nil {
			return s
		}
		only = m
	}
	if only == nil {
		return s
	}
	return derefAvro(only)
}
