package schemaparse

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/watershed-data/watershed/catalog"
)

// ParseProtobufMessage parses a Protobuf schema like Parse, with the message
// that message indexes select as the root instead of the first one. indexes
// are those of the Confluent wire format (see ParseProtobufMessageIndexes):
// the first selects a top-level message of the file, each further one a
// message nested in the previous, counted in descriptor order (the entry
// messages of map fields count, as they do for Confluent's serializers);
// empty means [0].
func ParseProtobufMessage(text string, refs []Reference, indexes []int) (s *Schema, err error) {
	defer recoverInternal(&err, "parse PROTOBUF schema")
	s, err = parseProtobuf(text, refs, indexes)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "parse PROTOBUF schema: %w", err)
	}
	return s, nil
}

// protoMainFile is the name the schema being parsed gets; it appears in
// error positions ("schema.proto:3:5: ...").
const protoMainFile = "schema.proto"

// parseProtobuf compiles a Protobuf schema and flattens the selected
// message.
func parseProtobuf(text string, refs []Reference, indexes []int) (*Schema, error) {
	file, err := compileProtobuf(text, refs)
	if err != nil {
		return nil, err
	}
	md, err := selectProtoMessage(file, indexes)
	if err != nil {
		return nil, err
	}
	out := &Schema{Type: Protobuf}
	if md == nil {
		return out, nil
	}
	out.Name = string(md.FullName())
	out.Doc = protoDoc(md)
	out.RootType = "message<" + out.Name + ">"
	w := &protoWalker{list: newFieldList(), onPath: map[protoreflect.FullName]bool{md.FullName(): true}}
	w.walkMessage(md, "", "")
	if out.Fields, err = w.list.result(); err != nil {
		return nil, err
	}
	return out, nil
}

// compileProtobuf compiles text with its references (by import path), the
// google/protobuf well-known types and the files Schema Registry provides
// without references, all from memory.
func compileProtobuf(text string, refs []Reference) (linker.File, error) {
	if err := requireText(text); err != nil {
		return nil, err
	}
	sources := builtinProtoSources()
	for _, ref := range refs {
		if err := checkReferenceType(ref, Protobuf); err != nil {
			return nil, err
		}
		sources[ref.Name] = ref.Schema
	}
	main := protoMainFile
	for i := 1; sources[main] != ""; i++ {
		main = "schema" + strconv.Itoa(i) + ".proto"
	}
	sources[main] = text
	known := referenceNames(refs)
	accessor := func(path string) (io.ReadCloser, error) {
		src, ok := sources[path]
		if !ok {
			return nil, &MissingReferenceError{Name: path, Known: known}
		}
		return io.NopCloser(strings.NewReader(src)), nil
	}
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{Accessor: accessor}),
		SourceInfoMode: protocompile.SourceInfoStandard,
		MaxParallelism: 1,
	}
	files, err := compiler.Compile(context.Background(), main)
	if err != nil {
		return nil, err
	}
	return files[0], nil
}

// checkReferenceType refuses a reference that says it is of a format other
// than want; an empty Type is taken to be want.
func checkReferenceType(ref Reference, want SchemaType) error {
	if strings.TrimSpace(ref.Schema) == "" {
		return fmt.Errorf("reference %q (subject %q version %d) has no schema text; resolve it before parsing", ref.Name, ref.Subject, ref.Version)
	}
	if ref.Type == "" {
		return nil
	}
	if t, err := ref.Type.Normalize(); err != nil || t != want {
		return fmt.Errorf("reference %q (subject %q version %d) is of type %q; a %s schema can only reference %s schemas", ref.Name, ref.Subject, ref.Version, ref.Type, want, want)
	}
	return nil
}

// selectProtoMessage follows message indexes into file; nil when the file
// declares no message and no index was asked for.
func selectProtoMessage(file protoreflect.FileDescriptor, indexes []int) (protoreflect.MessageDescriptor, error) {
	msgs := file.Messages()
	if len(indexes) == 0 {
		if msgs.Len() == 0 {
			return nil, nil
		}
		indexes = []int{0}
	}
	var md protoreflect.MessageDescriptor
	for depth, idx := range indexes {
		if idx < 0 || idx >= msgs.Len() {
			return nil, fmt.Errorf("message indexes %v: index %d at depth %d is out of range (%d messages there)", indexes, idx, depth, msgs.Len())
		}
		md = msgs.Get(idx)
		msgs = md.Messages()
	}
	return md, nil
}

// protoWalker flattens a message into a fieldList.
type protoWalker struct {
	list *fieldList
	// onPath holds the messages being expanded on the path from the root.
	onPath map[protoreflect.FullName]bool
}

// walkMessage lists the fields of md (oneof members among them, in
// declaration order) and, depth first, theirs.
func (w *protoWalker) walkMessage(md protoreflect.MessageDescriptor, prefix, parent string) {
	fields := md.Fields()
	for i := 0; i < fields.Len() && !w.list.full; i++ {
		fd := fields.Get(i)
		path := joinPath(prefix, string(fd.Name()))
		props, metaDoc := protoFieldProps(fd)
		field := Field{
			Path:     path,
			Name:     string(fd.Name()),
			Parent:   parent,
			Type:     protoTypeName(fd),
			Doc:      protoDoc(fd),
			Nullable: protoNullable(fd),
			Props:    props,
		}
		if field.Doc == "" {
			field.Doc = metaDoc
		}
		if fd.HasDefault() {
			field.HasDefault = true
			field.Default = protoSingularJSON(fd, fd.Default())
		}
		idx := w.list.add(field)
		if idx < 0 {
			continue
		}
		if w.walkFieldValue(fd, path) {
			w.list.markRecursive(idx)
		}
	}
}

// walkFieldValue lists the fields below a message-typed field, its elements
// or its map values. It reports whether the message is already on the path.
func (w *protoWalker) walkFieldValue(fd protoreflect.FieldDescriptor, path string) bool {
	if fd.IsMap() {
		if v := fd.MapValue(); v.Message() != nil {
			return w.walkNested(v.Message(), path+"{}", path)
		}
		return false
	}
	if fd.Message() == nil {
		return false
	}
	prefix := path
	if fd.IsList() {
		prefix += "[]"
	}
	return w.walkNested(fd.Message(), prefix, path)
}

func (w *protoWalker) walkNested(md protoreflect.MessageDescriptor, prefix, parent string) bool {
	if isProtoValueType(string(md.FullName())) {
		return false
	}
	if w.onPath[md.FullName()] {
		return true
	}
	w.onPath[md.FullName()] = true
	w.walkMessage(md, prefix, parent)
	delete(w.onPath, md.FullName())
	return false
}

// protoTypeName renders a field's type in the notation of Field.Type.
func protoTypeName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return "map<" + protoElementType(fd.MapKey()) + "," + protoElementType(fd.MapValue()) + ">"
	}
	if fd.IsList() {
		return "repeated " + protoElementType(fd)
	}
	return protoElementType(fd)
}

// protoElementType renders the type of one value of fd.
func protoElementType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		return "message<" + string(fd.Message().FullName()) + ">"
	case protoreflect.GroupKind:
		return "group<" + string(fd.Message().FullName()) + ">"
	case protoreflect.EnumKind:
		return "enum<" + string(fd.Enum().FullName()) + ">"
	}
	return fd.Kind().String()
}

// protoNullable reports whether a field may be absent: singular fields with
// explicit presence (proto3 optional, proto2 optional, oneof members,
// message fields and so wrapper types), but not required ones.
func protoNullable(fd protoreflect.FieldDescriptor) bool {
	return !fd.IsList() && !fd.IsMap() && fd.Cardinality() != protoreflect.Required && fd.HasPresence()
}

// protoDoc returns the comment documenting d: its leading comment, else its
// trailing one.
func protoDoc(d protoreflect.Descriptor) string {
	loc := d.ParentFile().SourceLocations().ByDescriptor(d)
	c := loc.LeadingComments
	if strings.TrimSpace(c) == "" {
		c = loc.TrailingComments
	}
	return cleanComment(c)
}

// cleanComment trims the decoration of a comment's lines.
func cleanComment(c string) string {
	lines := strings.Split(c, "\n")
	out := lines[:0]
	for _, l := range lines {
		l = strings.TrimSpace(l)
		l = strings.TrimSpace(strings.TrimPrefix(l, "*"))
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// protoFieldProps returns the custom options of a field as properties, and
// the doc of its (confluent.field_meta), if any. The params of field_meta
// become properties of their own (values are strings), its tags
// "confluent:tags"; any other custom option is keyed by its full name.
func protoFieldProps(fd protoreflect.FieldDescriptor) (map[string]any, string) {
	opts := fd.Options()
	if opts == nil {
		return nil, ""
	}
	m := opts.ProtoReflect()
	if !m.IsValid() {
		return nil, ""
	}
	props := map[string]any{}
	var doc string
	m.Range(func(xd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !xd.IsExtension() {
			return true
		}
		if isConfluentMeta(xd) {
			doc = mergeConfluentMeta(props, v.Message())
			return true
		}
		props[string(xd.FullName())] = protoValueJSON(xd, v)
		return true
	})
	if len(props) == 0 {
		return nil, doc
	}
	return props, doc
}

// isConfluentMeta reports whether an option is Confluent's field_meta (or
// an inline definition shaped like it: a message with params or tags).
func isConfluentMeta(xd protoreflect.FieldDescriptor) bool {
	if xd.Name() != "field_meta" || xd.Message() == nil || xd.IsList() {
		return false
	}
	fields := xd.Message().Fields()
	return fields.ByName("tags") != nil || fields.ByName("params") != nil
}

// mergeConfluentMeta adds the params and tags of a field_meta value to
// props and returns its doc.
func mergeConfluentMeta(props map[string]any, meta protoreflect.Message) string {
	fields := meta.Descriptor().Fields()
	if fd := fields.ByName("params"); fd != nil && fd.IsMap() {
		meta.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			props[k.String()] = protoSingularJSON(fd.MapValue(), v)
			return true
		})
	}
	if fd := fields.ByName("tags"); fd != nil && fd.IsList() {
		tags, _ := props[propConfluentTags].([]any)
		list := meta.Get(fd).List()
		for i := 0; i < list.Len(); i++ {
			tags = append(tags, protoSingularJSON(fd, list.Get(i)))
		}
		if len(tags) > 0 {
			props[propConfluentTags] = tags
		}
	}
	if fd := fields.ByName("doc"); fd != nil && fd.Kind() == protoreflect.StringKind && !fd.IsList() {
		return meta.Get(fd).String()
	}
	return ""
}

// protoValueJSON converts an option value to a JSON value.
func protoValueJSON(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch {
	case fd.IsList():
		l := v.List()
		out := make([]any, l.Len())
		for i := range out {
			out[i] = protoSingularJSON(fd, l.Get(i))
		}
		return out
	case fd.IsMap():
		out := map[string]any{}
		v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
			out[k.String()] = protoSingularJSON(fd.MapValue(), mv)
			return true
		})
		return out
	}
	return protoSingularJSON(fd, v)
}

// protoSingularJSON converts one value of fd's kind to a JSON value, as the
// Protobuf JSON mapping does (bytes in base64, enums by name).
func protoSingularJSON(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return json.Number(strconv.Itoa(int(v.Enum())))
	case protoreflect.FloatKind:
		return floatNumber(v.Float(), 32)
	case protoreflect.DoubleKind:
		return floatNumber(v.Float(), 64)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return json.Number(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return json.Number(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.MessageKind, protoreflect.GroupKind:
		out := map[string]any{}
		v.Message().Range(func(f protoreflect.FieldDescriptor, fv protoreflect.Value) bool {
			key := string(f.Name())
			if f.IsExtension() {
				key = string(f.FullName())
			}
			out[key] = protoValueJSON(f, fv)
			return true
		})
		return out
	}
	return nil
}
