package schemaparse

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/watershed-data/watershed/catalog"
)

// Schema Registry compatibility levels.
const (
	LevelBackward           = "BACKWARD"
	LevelBackwardTransitive = "BACKWARD_TRANSITIVE"
	LevelForward            = "FORWARD"
	LevelForwardTransitive  = "FORWARD_TRANSITIVE"
	LevelFull               = "FULL"
	LevelFullTransitive     = "FULL_TRANSITIVE"
	LevelNone               = "NONE"
)

// compatLevel is what a level asks for.
type compatLevel struct {
	name       string
	backward   bool // the new schema reads data written with old ones
	forward    bool // old schemas read data written with the new one
	transitive bool // against every previous schema, not only the latest
}

// parseCompatLevel reads a level name, case-insensitively.
func parseCompatLevel(level string) (compatLevel, error) {
	name := strings.ToUpper(strings.TrimSpace(level))
	l := compatLevel{name: name, transitive: strings.HasSuffix(name, "_TRANSITIVE")}
	switch strings.TrimSuffix(name, "_TRANSITIVE") {
	case LevelBackward:
		l.backward = true
	case LevelForward:
		l.forward = true
	case LevelFull:
		l.backward, l.forward = true, true
	case LevelNone:
		if l.transitive {
			return l, catalog.Errorf(catalog.Invalid, "unknown compatibility level %q", level)
		}
	default:
		return l, catalog.Errorf(catalog.Invalid, "unknown compatibility level %q (want BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE)", level)
	}
	return l, nil
}

// CheckCompatibility decides, as Schema Registry would, whether candidate
// may be registered after previous (ordered oldest to newest) under level:
// BACKWARD (the new schema can read data written with the latest previous
// one), FORWARD (the latest previous schema can read data written with the
// new one), FULL (both), their _TRANSITIVE forms (against every previous
// schema), or NONE (always compatible). Level names are case-insensitive.
// Every schema is parsed with the same refs.
//
// messages explain each incompatibility, prefixed with the direction and
// the previous schema concerned ("BACKWARD: new schema cannot read data
// written with previous schema 2 of 2 (latest): ..."); they are empty when
// compatible. err is non-nil only when the level is unknown or a schema
// does not parse (kind catalog.Invalid).
//
// Avro applies the reader/writer resolution rules of the Avro
// specification. Protobuf and JSON Schema apply the rules the README lists
// (field numbers, wire types, required and oneof changes; types, required
// properties, content models, enums and bounds).
func CheckCompatibility(level string, candidate string, previous []string, schemaType SchemaType, refs []Reference) (compatible bool, messages []string, err error) {
	t, err := schemaType.Normalize()
	if err != nil {
		return false, nil, err
	}
	lvl, err := parseCompatLevel(level)
	if err != nil {
		return false, nil, err
	}
	defer recoverInternal(&err, "check "+string(t)+" compatibility")
	switch t {
	case Protobuf:
		messages, err = checkLevel(protobufCompat(), lvl, candidate, previous, refs)
	case JSON:
		messages, err = checkLevel(jsonSchemaCompat(), lvl, candidate, previous, refs)
	default:
		messages, err = checkLevel(avroCompat(), lvl, candidate, previous, refs)
	}
	if err != nil {
		return false, nil, err
	}
	return len(messages) == 0, messages, nil
}

// compatFormat is how one schema format is loaded and checked.
type compatFormat[T any] struct {
	load func(text string, refs []Reference) (T, error)
	// check lists why reader cannot read data written with writer; an
	// error means it could not tell.
	check func(reader, writer T) ([]string, error)
}

// checkLevel runs the checks lvl asks for.
func checkLevel[T any](f compatFormat[T], lvl compatLevel, candidate string, previous []string, refs []Reference) ([]string, error) {
	cand, err := f.load(candidate, refs)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "parse candidate schema: %w", err)
	}
	if !lvl.backward && !lvl.forward {
		return nil, nil
	}
	first := 0
	if !lvl.transitive && len(previous) > 0 {
		first = len(previous) - 1
	}
	var messages []string
	for i := first; i < len(previous); i++ {
		label := fmt.Sprintf("previous schema %d of %d", i+1, len(previous))
		if i == len(previous)-1 {
			label += " (latest)"
		}
		prev, err := f.load(previous[i], refs)
		if err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "parse %s: %w", label, err)
		}
		if lvl.backward {
			msgs, err := f.check(cand, prev)
			if err != nil {
				return nil, catalog.Errorf(catalog.Invalid, "compare with %s: %w", label, err)
			}
			for _, m := range msgs {
				messages = append(messages, fmt.Sprintf("BACKWARD: new schema cannot read data written with %s: %s", label, m))
			}
		}
		if lvl.forward {
			msgs, err := f.check(prev, cand)
			if err != nil {
				return nil, catalog.Errorf(catalog.Invalid, "compare with %s: %w", label, err)
			}
			for _, m := range msgs {
				messages = append(messages, fmt.Sprintf("FORWARD: %s cannot read data written with the new schema: %s", label, m))
			}
		}
	}
	return messages, nil
}

// avroCompat checks Avro schemas with the schema resolution rules of the
// Avro specification (field defaults, type promotions, enum symbols and
// defaults, union branches, names and aliases).
func avroCompat() compatFormat[*avroSchema] {
	return compatFormat[*avroSchema]{
		load: compileAvro,
		check: func(reader, writer *avroSchema) ([]string, error) {
			c := &avroComparer{onPath: map[string]bool{}}
			c.compare("", reader.root, writer.root)
			if c.steps > maxAvroCompareSteps {
				// Too many paths to list them all: judge the whole schema.
				c.msgs = nil
				c.judge("", reader.root, writer.root)
			}
			return c.msgs, nil
		},
	}
}

// avroComparer walks matching records, arrays and maps of a reader and a
// writer schema to report every incompatible field by path; everything else
// (primitives, promotions, enums, fixed, unions) is judged by the library.
type avroComparer struct {
	msgs []string
	// onPath holds the (reader, writer) record pairs being compared.
	onPath map[string]bool
	// steps counts comparisons; a schema reusing records at many places
	// could otherwise take exponential time.
	steps int
}

// maxAvroCompareSteps bounds the field-by-field comparison.
const maxAvroCompareSteps = 100000

func (c *avroComparer) report(path, msg string) {
	if len(c.msgs) >= maxCompatMessages {
		return
	}
	where := "root"
	if path != "" {
		where = "field " + path
	}
	c.msgs = append(c.msgs, where+": "+msg)
}

func (c *avroComparer) compare(path string, reader, writer avro.Schema) {
	if c.steps++; c.steps > maxAvroCompareSteps {
		return
	}
	reader, writer = derefAvro(reader), derefAvro(writer)
	switch r := reader.(type) {
	case *avro.RecordSchema:
		if w, ok := writer.(*avro.RecordSchema); ok {
			c.compareRecords(path, r, w)
			return
		}
	case *avro.ArraySchema:
		if w, ok := writer.(*avro.ArraySchema); ok {
			c.compare(path+"[]", r.Items(), w.Items())
			return
		}
	case *avro.MapSchema:
		if w, ok := writer.(*avro.MapSchema); ok {
			c.compare(path+"{}", r.Values(), w.Values())
			return
		}
	}
	c.judge(path, reader, writer)
}

// judge lets the library decide whether reader reads writer.
func (c *avroComparer) judge(path string, reader, writer avro.Schema) {
	// A fresh checker each time: it caches results by canonical form,
	// which ignores defaults.
	if err := avro.NewSchemaCompatibility().Compatible(reader, writer); err != nil {
		c.report(path, strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "avro: ")), " "))
	}
}

// compareRecords applies the record rules of the specification: the names
// match (or the reader has an alias for the writer's), every reader field
// is in the writer (by name or reader alias) or has a default, and matched
// fields are compatible.
func (c *avroComparer) compareRecords(path string, r, w *avro.RecordSchema) {
	key := r.FullName() + "\x00" + w.FullName()
	if c.onPath[key] {
		return
	}
	c.onPath[key] = true
	defer delete(c.onPath, key)
	if r.Name() != w.Name() && !slices.Contains(r.Aliases(), w.FullName()) {
		c.report(path, fmt.Sprintf("reader record %s cannot read writer record %s: the names differ and the reader has no alias for it", r.FullName(), w.FullName()))
		return
	}
	for _, rf := range r.Fields() {
		fieldPath := joinPath(path, rf.Name())
		wf := writerField(w, rf)
		if wf == nil {
			if !rf.HasDefault() {
				c.report(fieldPath, "the writer does not have it and the reader gives it no default")
			}
			continue
		}
		c.compare(fieldPath, rf.Type(), wf.Type())
	}
}

// writerField finds the writer's field for a reader field, by name or by
// one of the reader field's aliases.
func writerField(w *avro.RecordSchema, rf *avro.Field) *avro.Field {
	for _, wf := range w.Fields() {
		if wf.Name() == rf.Name() || slices.Contains(rf.Aliases(), wf.Name()) {
			return wf
		}
	}
	return nil
}
