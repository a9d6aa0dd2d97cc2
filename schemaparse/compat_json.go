package schemaparse

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// jsonSchemaCompat checks JSON Schemas the way Schema Registry does: the
// reader must accept every document the writer accepts. See
// jsonComparer.compare for the rules.
func jsonSchemaCompat() compatFormat[*jsonSchemaSet] {
	return compatFormat[*jsonSchemaSet]{load: loadJSONSchemaSet, check: jsonIncompatibilities}
}

// maxCompatMessages bounds the messages of one check.
const maxCompatMessages = 100

// jsonIncompatibilities lists why reader rejects documents writer accepts.
func jsonIncompatibilities(reader, writer *jsonSchemaSet) ([]string, error) {
	c := &jsonComparer{r: newJSONWalker(reader), w: newJSONWalker(writer)}
	rv := c.r.view(jsonNode{value: reader.main.root, doc: reader.main})
	wv := c.w.view(jsonNode{value: writer.main.root, doc: writer.main})
	c.compare("", rv, wv, 0)
	if c.r.err != nil {
		return nil, c.r.err
	}
	if c.w.err != nil {
		return nil, c.w.err
	}
	return c.msgs, nil
}

// jsonComparer walks a reader and a writer schema side by side.
type jsonComparer struct {
	r, w *jsonWalker
	msgs []string
}

func (c *jsonComparer) report(path, format string, args ...any) {
	if len(c.msgs) >= maxCompatMessages {
		return
	}
	where := "root"
	if path != "" {
		where = "property " + path
	}
	c.msgs = append(c.msgs, where+": "+fmt.Sprintf(format, args...))
}

// compare checks one value: its types (integer widens to number), null,
// enum, numeric and length bounds and pattern; then object properties and
// array items / map values recursively.
func (c *jsonComparer) compare(path string, rv, wv *jsonView, depth int) {
	if depth > 64 || len(c.msgs) >= maxCompatMessages {
		return
	}
	doneR, doneW := c.r.expand(rv), c.w.expand(wv)
	defer doneR()
	defer doneW()
	c.compareTypes(path, rv, wv)
	c.compareEnums(path, rv, wv)
	c.compareBounds(path, rv, wv)
	if rv.isObject() || wv.isObject() {
		c.compareObjects(path, rv, wv, depth)
	}
	c.compareElements(path, "[]", rv.items, wv.items, containsString(wv.effectiveTypes(), "array"), depth)
	if len(rv.props) == 0 && len(wv.props) == 0 {
		c.compareElements(path, "{}", rv.values, wv.values, wv.isObject(), depth)
	}
}

func (c *jsonComparer) compareTypes(path string, rv, wv *jsonView) {
	if !rv.typed {
		return
	}
	rTypes := rv.effectiveTypes()
	wTypes := wv.effectiveTypes()
	if !wv.typed && len(wTypes) == 0 {
		c.report(path, "the writer accepts any type, the reader only %s", describeJSONTypes(rTypes, rv.nullable))
		return
	}
	for _, t := range wTypes {
		if containsString(rTypes, t) || (t == "integer" && containsString(rTypes, "number")) {
			continue
		}
		c.report(path, "type %s is no longer accepted (writer: %s, reader: %s)", t, describeJSONTypes(wTypes, wv.nullable), describeJSONTypes(rTypes, rv.nullable))
	}
	if wv.nullable && !rv.nullable {
		c.report(path, "null is no longer accepted")
	}
}

func describeJSONTypes(types []string, nullable bool) string {
	if nullable {
		types = append(append([]string(nil), types...), "null")
	}
	if len(types) == 0 {
		return "any"
	}
	return strings.Join(types, "|")
}

func (c *jsonComparer) compareEnums(path string, rv, wv *jsonView) {
	if !rv.hasEnum {
		return
	}
	if !wv.hasEnum {
		c.report(path, "enum added")
		return
	}
	allowed := map[string]bool{}
	for _, e := range rv.enum {
		allowed[canonicalJSON(e)] = true
	}
	for _, e := range wv.enum {
		if k := canonicalJSON(e); !allowed[k] {
			c.report(path, "enum value %s removed", k)
		}
	}
}

// compareBounds reports bounds the reader tightened or added.
func (c *jsonComparer) compareBounds(path string, rv, wv *jsonView) {
	keys := make([]string, 0, len(rv.limits))
	for k := range rv.limits {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r, _ := strconv.ParseFloat(string(rv.limits[k]), 64)
		wn, ok := wv.limits[k]
		if !ok {
			c.report(path, "%s %s added", k, rv.limits[k])
			continue
		}
		w, _ := strconv.ParseFloat(string(wn), 64)
		if (strings.HasPrefix(k, "max") || k == "exclusiveMaximum") && r < w {
			c.report(path, "%s lowered from %s to %s", k, wn, rv.limits[k])
		}
		if (strings.HasPrefix(k, "min") || k == "exclusiveMinimum") && r > w {
			c.report(path, "%s raised from %s to %s", k, wn, rv.limits[k])
		}
	}
	if rv.pattern != "" && rv.pattern != wv.pattern {
		c.report(path, "pattern %q added or changed", rv.pattern)
	}
}

// compareObjects applies the content-model rules: a property the reader
// requires must be required by the writer; a property the writer has must
// be accepted by the reader (not removed from a closed model); a property
// the reader adds must not be one an open writer may already send with any
// type.
func (c *jsonComparer) compareObjects(path string, rv, wv *jsonView, depth int) {
	required := make([]string, 0, len(rv.required))
	for name := range rv.required {
		required = append(required, name)
	}
	sort.Strings(required)
	for _, name := range required {
		if wv.required[name] {
			continue
		}
		if _, ok := wv.propIndex[name]; ok {
			c.report(joinPath(path, name), "became required")
		} else {
			c.report(joinPath(path, name), "required property added")
		}
	}
	if rv.closed && !wv.closed {
		c.report(path, "content model closed (additionalProperties: false): the writer may send other properties")
	}
	for _, wp := range wv.props {
		child := joinPath(path, wp.name)
		switch rp, ok := rv.propIndex[wp.name]; {
		case ok:
			c.compare(child, c.r.view(rp.nodes...), c.w.view(wp.nodes...), depth+1)
		case rv.closed:
			c.report(child, "the reader's closed content model (additionalProperties: false) does not accept it")
		case len(rv.values) > 0:
			c.compare(child, c.r.view(rv.values...), c.w.view(wp.nodes...), depth+1)
		}
	}
	for _, rp := range rv.props {
		if _, ok := wv.propIndex[rp.name]; ok || wv.closed {
			continue
		}
		child := joinPath(path, rp.name)
		pv := c.r.view(rp.nodes...)
		if len(wv.values) > 0 {
			c.compare(child, pv, c.w.view(wv.values...), depth+1)
			continue
		}
		if pv.typed || pv.hasEnum || pv.isObject() || len(pv.limits) > 0 || pv.pattern != "" {
			c.report(child, "added to an open content model: the writer may already send %s with any value (close the writer's content model with additionalProperties: false to add properties)", rp.name)
		}
	}
}

// compareElements compares array items or map values (suffix "[]" or
// "{}"); writerContainer says whether the writer is an array or object at
// all (if not, compareTypes has said so).
func (c *jsonComparer) compareElements(path, suffix string, r, w []jsonNode, writerContainer bool, depth int) {
	if len(r) == 0 {
		return
	}
	rv := c.r.view(r...)
	if len(w) == 0 {
		if writerContainer && (rv.typed || rv.isObject() || rv.hasEnum) {
			c.report(path, "the reader constrains the elements (%s), the writer does not", suffix)
		}
		return
	}
	c.compare(path+suffix, rv, c.w.view(w...), depth+1)
}
