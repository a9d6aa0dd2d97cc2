package schemaparse

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// SchemaType is a schema format, spelled as Schema Registry spells it in
// the "schemaType" of a registered schema. The empty SchemaType means AVRO,
// as it does in the registry.
type SchemaType string

// The schema formats Schema Registry supports.
const (
	Avro     SchemaType = "AVRO"
	Protobuf SchemaType = "PROTOBUF"
	JSON     SchemaType = "JSON"
)

// Normalize returns t in its canonical spelling ("" and any letter case of
// "avro" give AVRO), or an Invalid error for a format the registry does not
// know.
func (t SchemaType) Normalize() (SchemaType, error) {
	switch strings.ToUpper(strings.TrimSpace(string(t))) {
	case "", "AVRO":
		return Avro, nil
	case "PROTOBUF":
		return Protobuf, nil
	case "JSON":
		return JSON, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "unknown schema type %q (want AVRO, PROTOBUF or JSON)", string(t))
}

// Reference is a schema another schema refers to, as listed in the
// "references" of a registered schema, with its text already fetched.
//
// Name means what the format makes of it: for Avro the full name of a type
// the reference defines (the text is parsed before the schema and every
// named type it defines becomes usable); for Protobuf the import path
// ("acme/address.proto"); for JSON Schema the URL or relative name that a
// "$ref" uses ("customer.json", "https://acme.com/customer.json").
type Reference struct {
	Name    string
	Subject string
	Version int
	// Schema is the referenced schema's text.
	Schema string
	// Type is the referenced schema's format; "" means AVRO.
	Type SchemaType
}

// Field is one field of a flattened schema.
type Field struct {
	// Path is the dotted path from the root: "customer.address.city";
	// "items[].sku" below an array element; "attrs{}.x" below a map value.
	Path string
	// Name is the last segment of Path ("city", "sku").
	Name string
	// Parent is the Path of the enclosing field, "" at the root.
	Parent string
	// Type is a human-readable type: "string", "long", "record<com.acme.Customer>",
	// "array<string>", "map<long>", "enum<com.acme.Status>", "union<null,string>",
	// "timestamp-millis", "decimal(10,2)"; Protobuf "int64", "message<acme.Address>",
	// "repeated string", "map<string,int64>"; JSON Schema "string", "integer",
	// "object", "array<object>", "map<integer>". The README lists them all.
	Type string
	Doc  string
	// Nullable reports that the field may be null or absent: an Avro union
	// with null; a Protobuf field with explicit presence (proto3 optional,
	// proto2 optional, oneof members, message fields including wrapper
	// types); a JSON Schema property whose type allows null or that is not
	// required.
	Nullable bool
	// Default is the field's default as a JSON value (string, json.Number,
	// bool, nil, []any, map[string]any); meaningful when HasDefault.
	Default    any
	HasDefault bool
	// Props holds the custom (non-standard) attributes of the field, as JSON
	// values: Avro field and type attributes ("pii": true, "confluent:tags",
	// "connect.name"); Protobuf custom options (the params of
	// (confluent.field_meta) as strings, its tags as "confluent:tags", other
	// options by their full name); JSON Schema keywords that are not part of
	// the standard vocabularies. Nil when there are none.
	Props map[string]any
	// Tags are the classification names derived from Props: "PII" for a
	// truthy "pii" property (true or "true"; for Protobuf also a custom
	// option named pii), and every Confluent field tag ("confluent:tags")
	// verbatim. Sorted, without duplicates, nil when there are none.
	Tags []string
	// Recursive marks a field whose type is a named type (record, message,
	// $ref target) already being expanded on the path from the root. Its
	// children are not listed again.
	Recursive bool
	// Aliases are the field's Avro aliases: former names of the field that
	// a reader with this schema still matches in data written with an
	// older one (a rename). Nil for other formats and fields without any.
	Aliases []string
}

// Schema is a parsed schema flattened into fields.
type Schema struct {
	Type SchemaType
	// Name is the Avro record's full name, the Protobuf message's full name,
	// or the JSON Schema's title (else its $id). Empty for an anonymous root
	// such as an Avro "string" key schema.
	Name string
	// Doc is the root's documentation: the record doc, the message's leading
	// comment, the JSON Schema description.
	Doc string
	// RootType is the Type of the root, in the notation of Field.Type:
	// "record<com.acme.Order>", "string", "message<acme.Order>", "object".
	RootType string
	// Fields lists every field in pre-order (parents before children), in
	// declaration order.
	Fields []Field
}

// Field returns the field at path and whether there is one.
func (s *Schema) Field(path string) (Field, bool) {
	if s == nil {
		return Field{}, false
	}
	for _, f := range s.Fields {
		if f.Path == path {
			return f, true
		}
	}
	return Field{}, false
}

// MissingReferenceError reports a named type, import or $ref target that
// the schema needs and that neither the schema nor its references define.
type MissingReferenceError struct {
	// Name is the missing Avro type name, Protobuf import path or JSON
	// Schema $ref.
	Name string
	// Known lists the names of the references that were supplied.
	Known []string
}

// Error says which name is missing and which references were supplied.
func (e *MissingReferenceError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("%q is not defined and no references were supplied", e.Name)
	}
	return fmt.Sprintf("%q is not defined by the schema or its references (%s)", e.Name, strings.Join(e.Known, ", "))
}

// maxFields bounds how many fields one schema may expand to. A schema that
// reuses a named type at many places expands it at each, so a small text can
// describe an exponentially large tree; past this bound Parse gives up.
const maxFields = 50000

// Parse parses text, a schema of schemaType, with the references it needs
// already resolved, and flattens it into fields. The empty schemaType means
// AVRO. For Protobuf the first message of the file is the root (see
// ParseProtobufMessage for another one).
//
// Errors are of kind catalog.Invalid and say what is wrong and where; a
// missing reference wraps a *MissingReferenceError.
func Parse(schemaType SchemaType, text string, refs []Reference) (s *Schema, err error) {
	t, err := schemaType.Normalize()
	if err != nil {
		return nil, err
	}
	defer recoverInternal(&err, "parse "+string(t)+" schema")
	switch t {
	case Protobuf:
		s, err = parseProtobuf(text, refs, nil)
	case JSON:
		s, err = parseJSONSchema(text, refs)
	default:
		s, err = parseAvro(text, refs)
	}
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "parse %s schema: %w", t, err)
	}
	return s, nil
}

// requireText refuses an empty or blank schema text.
func requireText(text string) error {
	if strings.TrimSpace(text) == "" {
		return errors.New("the schema text is empty")
	}
	return nil
}

// recoverInternal turns a panic raised while handling what, by this
// package or a library it calls, into an Internal error, so that bad input
// never crashes a crawler.
func recoverInternal(err *error, what string) {
	if p := recover(); p != nil {
		*err = catalog.Errorf(catalog.Internal, "%s: internal error: %v", what, p)
	}
}

// fieldList accumulates the fields of one schema, refusing a second field
// with the same path and stopping at maxFields.
type fieldList struct {
	fields []Field
	index  map[string]int
	full   bool
}

func newFieldList() *fieldList {
	return &fieldList{index: map[string]int{}}
}

// add appends f and returns its index, or -1 when a field with the same path
// exists already or the list is full.
func (l *fieldList) add(f Field) int {
	if _, dup := l.index[f.Path]; dup {
		return -1
	}
	if len(l.fields) >= maxFields {
		l.full = true
		return -1
	}
	f.Tags = tagsFromProps(f.Props)
	l.index[f.Path] = len(l.fields)
	l.fields = append(l.fields, f)
	return len(l.fields) - 1
}

// markRecursive sets Recursive on the field at index i.
func (l *fieldList) markRecursive(i int) {
	if i >= 0 {
		l.fields[i].Recursive = true
	}
}

// result returns the fields, or an error if the schema expanded past
// maxFields.
func (l *fieldList) result() ([]Field, error) {
	if l.full {
		return nil, fmt.Errorf("schema expands to more than %d fields; is a type reused recursively?", maxFields)
	}
	return l.fields, nil
}

// joinPath appends name to a parent path prefix.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Classification-carrying property names.
const (
	propPII           = "pii"
	propConfluentTags = "confluent:tags"
)

// tagsFromProps derives classification names from custom properties: a
// truthy "pii" (or a Protobuf option named pii, such as "acme.pii") gives
// "PII"; "confluent:tags" gives its tags verbatim.
func tagsFromProps(props map[string]any) []string {
	var tags []string
	for k, v := range props {
		key := strings.ToLower(k)
		switch {
		case key == propPII || strings.HasSuffix(key, "."+propPII):
			if truthy(v) {
				tags = append(tags, "PII")
			}
		case key == propConfluentTags:
			tags = append(tags, stringsOf(v)...)
		}
	}
	return sortedUnique(tags)
}

// truthy reports whether v is true, or a string that says so (Protobuf
// field_meta params are strings).
func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		s := strings.ToLower(strings.TrimSpace(v))
		return s == "true" || s == "yes"
	}
	return false
}

// stringsOf returns the non-empty strings in v, a string or a JSON array.
func stringsOf(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		if s := strings.TrimSpace(v); s != "" {
			out = append(out, s)
		}
	case []any:
		for _, e := range v {
			out = append(out, stringsOf(e)...)
		}
	case []string:
		for _, e := range v {
			out = append(out, stringsOf(e)...)
		}
	}
	return out
}

// sortedUnique sorts ss and removes duplicates; nil when empty.
func sortedUnique(ss []string) []string {
	if len(ss) == 0 {
		return nil
	}
	sort.Strings(ss)
	out := ss[:1]
	for _, s := range ss[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}

// referenceNames lists the names of refs, for error messages.
func referenceNames(refs []Reference) []string {
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		names = append(names, r.Name)
	}
	return names
}
