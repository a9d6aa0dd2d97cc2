package schemaparse

import (
	"fmt"
	"strings"

	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// protobufCompat checks Protobuf schemas at the level of the wire format,
// as Schema Registry does: every message of the writer's file is compared,
// by full name, with the reader's.
func protobufCompat() compatFormat[linker.File] {
	return compatFormat[linker.File]{
		load: compileProtobuf,
		check: func(reader, writer linker.File) ([]string, error) {
			return protobufIncompatibilities(reader, writer), nil
		},
	}
}

// protobufIncompatibilities lists why reader cannot read what writer wrote:
// a changed package, a message the reader lacks, and field problems (see
// protoFieldIncompatibilities and protoOneofIncompatibilities).
func protobufIncompatibilities(reader, writer linker.File) []string {
	var msgs []string
	if reader.Package() != writer.Package() {
		msgs = append(msgs, fmt.Sprintf("package changed: writer %q, reader %q", writer.Package(), reader.Package()))
	}
	readerMsgs := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	forEachProtoMessage(reader.Messages(), func(md protoreflect.MessageDescriptor) {
		readerMsgs[md.FullName()] = md
	})
	forEachProtoMessage(writer.Messages(), func(wm protoreflect.MessageDescriptor) {
		rm, ok := readerMsgs[wm.FullName()]
		if !ok {
			msgs = append(msgs, fmt.Sprintf("message %s: the reader does not define it", wm.FullName()))
			return
		}
		msgs = append(msgs, protoMessageIncompatibilities(rm, wm)...)
	})
	return msgs
}

// forEachProtoMessage calls fn for every message, nested ones included,
// except map entries.
func forEachProtoMessage(mds protoreflect.MessageDescriptors, fn func(protoreflect.MessageDescriptor)) {
	for i := 0; i < mds.Len(); i++ {
		md := mds.Get(i)
		if md.IsMapEntry() {
			continue
		}
		fn(md)
		forEachProtoMessage(md.Messages(), fn)
	}
}

// protoMessageIncompatibilities compares two versions of one message.
func protoMessageIncompatibilities(rm, wm protoreflect.MessageDescriptor) []string {
	var msgs []string
	wfs, rfs := wm.Fields(), rm.Fields()
	for i := 0; i < wfs.Len(); i++ {
		wf := wfs.Get(i)
		rf := rfs.ByNumber(wf.Number())
		if rf == nil {
			if o := realOneof(wf); o != nil && rm.Oneofs().ByName(o.Name()) != nil {
				msgs = append(msgs, fmt.Sprintf("%s: field removed from oneof %s", protoFieldLabel(wm, wf), o.Name()))
			}
			continue
		}
		msgs = append(msgs, protoFieldIncompatibilities(protoFieldLabel(wm, wf), rf, wf)...)
	}
	for i := 0; i < rfs.Len(); i++ {
		rf := rfs.Get(i)
		if wfs.ByNumber(rf.Number()) == nil && rf.Cardinality() == protoreflect.Required {
			msgs = append(msgs, fmt.Sprintf("%s: the reader requires it and the writer does not have it", protoFieldLabel(rm, rf)))
		}
	}
	return append(msgs, protoOneofIncompatibilities(rm, wm)...)
}

func protoFieldLabel(md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) string {
	return fmt.Sprintf("message %s field %d (%s)", md.FullName(), fd.Number(), fd.Name())
}

// realOneof returns the oneof fd belongs to, ignoring the synthetic oneof of
// a proto3 optional field.
func realOneof(fd protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return o
	}
	return nil
}

// protoFieldIncompatibilities compares two versions of the field with one
// number: map-ness, wire type, named type, cardinality and required-ness.
func protoFieldIncompatibilities(label string, rf, wf protoreflect.FieldDescriptor) []string {
	var msgs []string
	if rf.IsMap() != wf.IsMap() {
		return []string{fmt.Sprintf("%s: writer has %s, reader has %s", label, protoTypeName(wf), protoTypeName(rf))}
	}
	if rf.IsMap() {
		if p := protoKindIncompatibility(rf.MapKey(), wf.MapKey()); p != "" {
			msgs = append(msgs, label+": map key: "+p)
		}
		if p := protoKindIncompatibility(rf.MapValue(), wf.MapValue()); p != "" {
			msgs = append(msgs, label+": map value: "+p)
		}
		return msgs
	}
	if p := protoKindIncompatibility(rf, wf); p != "" {
		msgs = append(msgs, label+": "+p)
	}
	if rf.IsList() != wf.IsList() && !(protoLengthDelimited(rf) && protoLengthDelimited(wf)) {
		msgs = append(msgs, fmt.Sprintf("%s: changed between repeated and singular (only string, bytes and message fields may)", label))
	}
	if rf.Cardinality() == protoreflect.Required && wf.Cardinality() != protoreflect.Required {
		msgs = append(msgs, fmt.Sprintf("%s: the reader requires it and the writer may omit it", label))
	}
	return msgs
}

// protoKindIncompatibility explains why a value written as wf cannot be
// read as rf, "" when it can: same kind and named type, or kinds sharing a
// wire encoding.
func protoKindIncompatibility(rf, wf protoreflect.FieldDescriptor) string {
	rk, wk := rf.Kind(), wf.Kind()
	if rk == wk {
		if rn, wn := protoNamedType(rf), protoNamedType(wf); rn != wn {
			return fmt.Sprintf("type changed: writer %s, reader %s", protoElementType(wf), protoElementType(rf))
		}
		return ""
	}
	if g := protoWireGroup(rk); g != "" && g == protoWireGroup(wk) {
		return ""
	}
	return fmt.Sprintf("type changed: writer %s, reader %s (not wire-compatible)", protoElementType(wf), protoElementType(rf))
}

// protoNamedType is the message or enum a field refers to, "" for scalars.
func protoNamedType(fd protoreflect.FieldDescriptor) protoreflect.FullName {
	if fd.Message() != nil {
		return fd.Message().FullName()
	}
	if fd.Enum() != nil {
		return fd.Enum().FullName()
	}
	return ""
}

// protoWireGroup names the kinds that share an encoding and may replace one
// another; "" for kinds that only match themselves.
func protoWireGroup(k protoreflect.Kind) string {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return "varint"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "zigzag"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "fixed32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "fixed64"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "length-delimited"
	}
	return ""
}

// protoLengthDelimited reports whether a singular value of fd reads the
// same as one element of a repeated fd.
func protoLengthDelimited(fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return true
	}
	return false
}

// protoOneofIncompatibilities finds fields the writer kept apart that the
// reader puts in one oneof: a field moved into a oneof the writer already
// had, or several fields moved into a new one. Setting both would then
// lose one.
func protoOneofIncompatibilities(rm, wm protoreflect.MessageDescriptor) []string {
	var msgs []string
	oneofs := rm.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		ro := oneofs.Get(i)
		if ro.IsSynthetic() {
			continue
		}
		existing := wm.Oneofs().ByName(ro.Name())
		var moved []string
		members := ro.Fields()
		for j := 0; j < members.Len(); j++ {
			wf := wm.Fields().ByNumber(members.Get(j).Number())
			if wf == nil {
				continue
			}
			if wo := realOneof(wf); wo != nil && wo.Name() == ro.Name() {
				continue
			}
			if existing != nil && !existing.IsSynthetic() {
				msgs = append(msgs, fmt.Sprintf("%s: moved into existing oneof %s", protoFieldLabel(wm, wf), ro.Name()))
				continue
			}
			moved = append(moved, string(wf.Name()))
		}
		if len(moved) > 1 {
			msgs = append(msgs, fmt.Sprintf("message %s: fields %s moved into new oneof %s", wm.FullName(), strings.Join(moved, ", "), ro.Name()))
		}
	}
	return msgs
}
