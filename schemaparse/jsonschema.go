package schemaparse

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// jsonDoc is one JSON Schema document: the schema being parsed, or one of
// its references.
type jsonDoc struct {
	// name is the reference's name; "" for the schema itself.
	name string
	// id is the document's $id (or draft-4 id).
	id   string
	root any
}

// key names the document in recursion keys.
func (d *jsonDoc) key() string {
	if d.name == "" {
		return "\x00schema"
	}
	return d.name
}

// jsonSchemaSet is a JSON Schema with its references, decoded.
type jsonSchemaSet struct {
	main  *jsonDoc
	refs  []*jsonDoc
	known []string
}

// loadJSONSchemaSet decodes the schema and its references and validates
// them against their metaschema (draft-07 unless "$schema" says otherwise).
func loadJSONSchemaSet(text string, refs []Reference) (*jsonSchemaSet, error) {
	if err := requireText(text); err != nil {
		return nil, err
	}
	root, err := decodeOrdered(text)
	if err != nil {
		return nil, err
	}
	set := &jsonSchemaSet{main: newJSONDoc("", root), known: referenceNames(refs)}
	for _, ref := range refs {
		if err := checkReferenceType(ref, JSON); err != nil {
			return nil, err
		}
		doc, err := decodeOrdered(ref.Schema)
		if err != nil {
			return nil, fmt.Errorf("reference %q (subject %q version %d): %w", ref.Name, ref.Subject, ref.Version, err)
		}
		set.refs = append(set.refs, newJSONDoc(ref.Name, doc))
	}
	if err := set.validate(); err != nil {
		return nil, err
	}
	return set, nil
}

func newJSONDoc(name string, root any) *jsonDoc {
	d := &jsonDoc{name: name, root: root}
	if obj, ok := root.(*jsonObject); ok {
		d.id = obj.str("$id")
		if d.id == "" {
			d.id = obj.str("id")
		}
	}
	return d
}

// jsonMainURL is where the schema being parsed lives for the validator;
// relative references resolve against it unless the schema has an $id.
const (
	jsonMainBase = "mem://watershed/"
	jsonMainURL  = jsonMainBase + "schema.json"
)

// validate compiles the documents with a JSON Schema validator, which
// checks them against their metaschema and resolves every $ref.
func (s *jsonSchemaSet) validate() error {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.UseRegexpEngine(acceptAnyRegexp) // ECMA patterns need not compile with Go's regexp
	loader := &jsonRefLoader{set: s}
	c.UseLoader(loader)
	if err := c.AddResource(jsonMainURL, plainJSON(s.main.root)); err != nil {
		return fmt.Errorf("load schema: %w", err)
	}
	if err := compileJSONSchema(c); err != nil {
		if loader.missing != nil {
			return loader.missing
		}
		msg := strings.ReplaceAll(err.Error(), jsonMainBase, "")
		return fmt.Errorf("invalid JSON Schema: %s", strings.Join(strings.Fields(msg), " "))
	}
	return nil
}

// compileJSONSchema compiles the schema at jsonMainURL, turning a panic of
// the validator on malformed input into an error.
func compileJSONSchema(c *jsonschema.Compiler) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the schema is malformed (%v)", p)
		}
	}()
	_, err = c.Compile(jsonMainURL)
	return err
}

// acceptAnyRegexp stands in for a regexp engine: parsing never matches data,
// so patterns are kept, not compiled.
func acceptAnyRegexp(pattern string) (jsonschema.Regexp, error) {
	return literalPattern(pattern), nil
}

// literalPattern is a pattern kept as text.
type literalPattern string

// String returns the pattern.
func (p literalPattern) String() string { return string(p) }

// MatchString matches everything: patterns are never applied to data here.
func (p literalPattern) MatchString(string) bool { return true }

// jsonRefLoader serves references to the validator by URL and remembers
// the first one it could not find (the validator's error hides its type).
type jsonRefLoader struct {
	set     *jsonSchemaSet
	missing *MissingReferenceError
}

// Load returns the reference a URL names.
func (l *jsonRefLoader) Load(u string) (any, error) {
	if doc := l.set.docByURL(u); doc != nil {
		return plainJSON(doc.root), nil
	}
	err := &MissingReferenceError{Name: strings.TrimPrefix(u, jsonMainBase), Known: l.set.known}
	if l.missing == nil {
		l.missing = err
	}
	return nil, err
}

// docByURL finds the document a $ref's document part names: by reference
// name, by $id, then by the last path segment (a relative "customer.json"
// resolved against some base).
func (s *jsonSchemaSet) docByURL(u string) *jsonDoc {
	all := append([]*jsonDoc{s.main}, s.refs...)
	for _, d := range all {
		if d.name != "" && d.name == u {
			return d
		}
	}
	for _, d := range all {
		if d.id != "" && strings.TrimSuffix(d.id, "#") == u {
			return d
		}
	}
	base := lastSegment(u)
	for _, d := range s.refs {
		if lastSegment(d.name) == base {
			return d
		}
	}
	return nil
}

func lastSegment(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return path.Base(u)
}

// jsonNode is a schema value and the document it sits in (for $ref).
type jsonNode struct {
	value any
	doc   *jsonDoc
}

// resolve finds the target of ref seen in from, and a key that names the
// target for recursion detection.
func (s *jsonSchemaSet) resolve(from *jsonDoc, ref string) (jsonNode, string, error) {
	docPart, frag, _ := strings.Cut(ref, "#")
	doc := from
	if docPart != "" {
		if doc = s.docByURL(docPart); doc == nil {
			return jsonNode{}, "", &MissingReferenceError{Name: ref, Known: s.known}
		}
	}
	target, ok := lookupFragment(doc.root, frag)
	if !ok {
		return jsonNode{}, "", fmt.Errorf("$ref %q: %q not found in %s", ref, "#"+frag, docLabel(doc))
	}
	return jsonNode{value: target, doc: doc}, doc.key() + "#" + frag, nil
}

func docLabel(d *jsonDoc) string {
	if d.name == "" {
		return "the schema"
	}
	return "reference " + strconv.Quote(d.name)
}

// lookupFragment resolves a JSON pointer ("/definitions/Address") or a
// plain-name anchor ("address") in root.
func lookupFragment(root any, frag string) (any, bool) {
	if frag == "" {
		return root, true
	}
	if !strings.HasPrefix(frag, "/") {
		return findAnchor(root, frag, 0)
	}
	cur := root
	for _, tok := range strings.Split(frag[1:], "/") {
		if t, err := url.PathUnescape(tok); err == nil {
			tok = t
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case *jsonObject:
			next, ok := c.get(tok)
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// findAnchor finds the subschema declaring "$anchor": name (or the draft-7
// "$id": "#name").
func findAnchor(v any, name string, depth int) (any, bool) {
	if depth > maxJSONDepth {
		return nil, false
	}
	switch v := v.(type) {
	case *jsonObject:
		if v.str("$anchor") == name || v.str("$id") == "#"+name {
			return v, true
		}
		for _, k := range v.keys {
			if found, ok := findAnchor(v.values[k], name, depth+1); ok {
				return found, true
			}
		}
	case []any:
		for _, e := range v {
			if found, ok := findAnchor(e, name, depth+1); ok {
				return found, true
			}
		}
	}
	return nil, false
}

// jsonProp is a property and every subschema that describes it.
type jsonProp struct {
	name  string
	nodes []jsonNode
}

// jsonView merges what a subschema, the targets of its $refs and its
// allOf/anyOf/oneOf branches say about one value.
type jsonView struct {
	types     []string // declared types other than "null", in order
	typed     bool     // a "type" keyword constrains the value
	nullable  bool
	props     []*jsonProp
	propIndex map[string]*jsonProp
	required  map[string]bool
	items     []jsonNode // array element schemas
	values    []jsonNode // additionalProperties schemas (map values)
	closed    bool       // additionalProperties: false
	enum      []any
	hasEnum   bool
	doc       string
	title     string
	def       any
	hasDef    bool
	custom    map[string]any
	limits    map[string]json.Number
	pattern   string
	// refs are the $ref targets merged in; they are being expanded while
	// the view's children are walked.
	refs []string
	// recursive is set when a $ref pointed at a target already being
	// expanded; only that target's type was merged.
	recursive bool
}

func newJSONView() *jsonView {
	return &jsonView{propIndex: map[string]*jsonProp{}, required: map[string]bool{}}
}

// jsonWalker builds views and flattens them into fields.
type jsonWalker struct {
	set *jsonSchemaSet
	// active counts the $ref targets being expanded on the current path.
	active map[string]int
	list   *fieldList
	err    error
	// steps counts subschemas visited; combinators and $refs reused at
	// many places could otherwise take exponential time.
	steps int
}

// maxJSONSteps bounds the subschemas one parse or comparison visits.
const maxJSONSteps = 200000

func newJSONWalker(set *jsonSchemaSet) *jsonWalker {
	return &jsonWalker{set: set, active: map[string]int{set.main.key() + "#": 1}, list: newFieldList()}
}

// parseJSONSchema parses a JSON Schema and flattens it.
func parseJSONSchema(text string, refs []Reference) (*Schema, error) {
	set, err := loadJSONSchemaSet(text, refs)
	if err != nil {
		return nil, err
	}
	w := newJSONWalker(set)
	root := w.view(jsonNode{value: set.main.root, doc: set.main})
	out := &Schema{Type: JSON, Name: root.title, Doc: root.doc, RootType: w.typeName(root, 0)}
	if out.Name == "" {
		out.Name = set.main.id
	}
	w.walkChildren(root, "", "")
	if w.err != nil {
		return nil, w.err
	}
	if out.Fields, err = w.list.result(); err != nil {
		return nil, err
	}
	return out, nil
}

// view merges nodes into one view.
func (w *jsonWalker) view(nodes ...jsonNode) *jsonView {
	v := newJSONView()
	for _, n := range nodes {
		w.collect(v, n, true, 0)
	}
	return v
}

// collect merges node n into v. required counts only outside anyOf/oneOf
// branches: a property one alternative requires may be absent.
func (w *jsonWalker) collect(v *jsonView, n jsonNode, required bool, depth int) {
	obj, ok := n.value.(*jsonObject)
	if !ok || depth > maxJSONDepth || w.err != nil {
		return // true, false and non-schemas constrain nothing we list
	}
	if w.steps++; w.steps > maxJSONSteps {
		w.err = fmt.Errorf("schema too complex: more than %d subschemas to visit", maxJSONSteps)
		return
	}
	collectKeywords(v, obj, n.doc, required)
	if ref := obj.str("$ref"); ref != "" {
		w.collectRef(v, n.doc, ref, required, depth)
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf"} {
		branches, _ := obj.values[kw].([]any)
		for _, b := range branches {
			w.collect(v, jsonNode{value: b, doc: n.doc}, required && kw == "allOf", depth+1)
		}
	}
}

// collectRef merges the target of a $ref, or only its type when the target
// is already being expanded (a recursive schema).
func (w *jsonWalker) collectRef(v *jsonView, from *jsonDoc, ref string, required bool, depth int) {
	target, key, err := w.set.resolve(from, ref)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	if w.active[key] > 0 {
		v.recursive = true
		if obj, ok := target.value.(*jsonObject); ok {
			collectType(v, obj)
		}
		return
	}
	w.active[key]++
	w.collect(v, target, required, depth+1)
	w.active[key]--
	v.refs = append(v.refs, key)
}

// expand marks v's $ref targets as being expanded until the returned
// function is called.
func (w *jsonWalker) expand(v *jsonView) func() {
	for _, k := range v.refs {
		w.active[k]++
	}
	return func() {
		for _, k := range v.refs {
			w.active[k]--
		}
	}
}

// collectKeywords merges the keywords of one schema object into v; the
// first schema to give a description, default or limit wins.
func collectKeywords(v *jsonView, obj *jsonObject, doc *jsonDoc, required bool) {
	collectType(v, obj)
	for _, k := range obj.keys {
		val := obj.values[k]
		switch k {
		case "type", "$ref", "allOf", "anyOf", "oneOf":
		case "nullable":
			if b, _ := val.(bool); b {
				v.nullable = true
			}
		case "description":
			if s, ok := val.(string); ok && v.doc == "" {
				v.doc = s
			}
		case "title":
			if s, ok := val.(string); ok && v.title == "" {
				v.title = s
			}
		case "default":
			if !v.hasDef {
				v.def, v.hasDef = plainJSON(val), true
			}
		case "enum":
			if vals, ok := val.([]any); ok {
				v.addEnum(vals...)
			}
		case "const":
			v.addEnum(val)
		case "properties":
			if props, ok := val.(*jsonObject); ok {
				for _, name := range props.keys {
					v.addProp(name, jsonNode{value: props.values[name], doc: doc})
				}
			}
		case "required":
			if names, ok := val.([]any); ok && required {
				for _, n := range names {
					if s, ok := n.(string); ok {
						v.required[s] = true
					}
				}
			}
		case "items", "prefixItems":
			if list, ok := val.([]any); ok {
				for _, e := range list {
					v.items = append(v.items, jsonNode{value: e, doc: doc})
				}
			} else {
				v.items = append(v.items, jsonNode{value: val, doc: doc})
			}
		case "additionalProperties":
			switch a := val.(type) {
			case bool:
				v.closed = v.closed || !a
			case *jsonObject:
				v.values = append(v.values, jsonNode{value: a, doc: doc})
			}
		case "pattern":
			if s, ok := val.(string); ok && v.pattern == "" {
				v.pattern = s
			}
		default:
			if isJSONLimit(k) {
				if num, ok := val.(json.Number); ok {
					v.setLimit(k, num)
				}
			} else if !isStandardJSONKeyword(k) {
				if v.custom == nil {
					v.custom = map[string]any{}
				}
				if _, seen := v.custom[k]; !seen {
					v.custom[k] = plainJSON(val)
				}
			}
		}
	}
}

// collectType merges the "type" keyword of obj into v.
func collectType(v *jsonView, obj *jsonObject) {
	t, ok := obj.get("type")
	if !ok {
		return
	}
	var names []any
	switch t := t.(type) {
	case string:
		names = []any{t}
	case []any:
		names = t
	}
	for _, n := range names {
		s, ok := n.(string)
		if !ok {
			continue
		}
		v.typed = true
		if s == "null" {
			v.nullable = true
			continue
		}
		if !containsString(v.types, s) {
			v.types = append(v.types, s)
		}
	}
}

func (v *jsonView) addProp(name string, n jsonNode) {
	p, ok := v.propIndex[name]
	if !ok {
		p = &jsonProp{name: name}
		v.propIndex[name] = p
		v.props = append(v.props, p)
	}
	p.nodes = append(p.nodes, n)
}

func (v *jsonView) addEnum(vals ...any) {
	v.hasEnum = true
	for _, e := range vals {
		if e == nil {
			v.nullable = true
		}
		v.enum = append(v.enum, plainJSON(e))
	}
}

func (v *jsonView) setLimit(k string, n json.Number) {
	if v.limits == nil {
		v.limits = map[string]json.Number{}
	}
	if _, seen := v.limits[k]; !seen {
		v.limits[k] = n
	}
}

// isObject reports whether v describes an object (declared or implied by
// object keywords).
func (v *jsonView) isObject() bool {
	return containsString(v.types, "object") || len(v.props) > 0 || len(v.required) > 0 || len(v.values) > 0 || v.closed
}

// effectiveTypes returns the declared types, else those implied by the
// keywords present.
func (v *jsonView) effectiveTypes() []string {
	if len(v.types) > 0 {
		return v.types
	}
	var types []string
	if len(v.props) > 0 || len(v.values) > 0 || v.closed {
		types = append(types, "object")
	}
	if len(v.items) > 0 {
		types = append(types, "array")
	}
	for _, e := range v.enum {
		if t := jsonKind(e); t != "" && t != "null" && !containsString(types, t) {
			types = append(types, t)
		}
	}
	return types
}

// jsonKind names the JSON Schema type of a JSON value.
func jsonKind(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any, *jsonObject:
		return "object"
	}
	return ""
}

// typeName renders v in the notation of Field.Type.
func (w *jsonWalker) typeName(v *jsonView, depth int) string {
	types := v.effectiveTypes()
	if len(types) == 0 {
		if v.nullable && v.typed {
			return "null"
		}
		return "any"
	}
	names := make([]string, 0, len(types))
	for _, t := range types {
		names = append(names, w.typeNameOf(t, v, depth))
	}
	if len(names) == 1 {
		return names[0]
	}
	return "union<" + strings.Join(names, ",") + ">"
}

func (w *jsonWalker) typeNameOf(t string, v *jsonView, depth int) string {
	if depth > 32 {
		return t
	}
	switch {
	case t == "array":
		elem := "any"
		if len(v.items) > 0 {
			done := w.expand(v)
			elem = w.typeName(w.view(v.items...), depth+1)
			done()
		}
		return "array<" + elem + ">"
	case t == "object" && len(v.props) == 0 && len(v.values) > 0:
		done := w.expand(v)
		value := w.typeName(w.view(v.values...), depth+1)
		done()
		return "map<" + value + ">"
	}
	return t
}

// walkChildren lists the fields inside a value described by v: its
// properties, or those of its array elements or map values. It reports
// whether the elements or values (through nested containers) are a schema
// already being expanded.
func (w *jsonWalker) walkChildren(v *jsonView, prefix, parent string) (recursive bool) {
	if w.list.full || w.err != nil {
		return false
	}
	done := w.expand(v)
	defer done()
	if len(v.props) > 0 {
		w.walkProperties(v, prefix, parent)
	}
	if len(v.items) > 0 {
		iv := w.view(v.items...)
		if w.walkChildren(iv, prefix+"[]", parent) || iv.recursive {
			recursive = true
		}
	}
	if len(v.values) > 0 && len(v.props) == 0 {
		vv := w.view(v.values...)
		if w.walkChildren(vv, prefix+"{}", parent) || vv.recursive {
			recursive = true
		}
	}
	return recursive
}

// walkProperties lists the properties of v and, depth first, theirs. A
// property with an empty name has no path and is left out.
func (w *jsonWalker) walkProperties(v *jsonView, prefix, parent string) {
	for _, p := range v.props {
		if w.list.full || w.err != nil {
			return
		}
		if p.name == "" {
			continue
		}
		cv := w.view(p.nodes...)
		path := joinPath(prefix, p.name)
		field := Field{
			Path:       path,
			Name:       p.name,
			Parent:     parent,
			Type:       w.typeName(cv, 0),
			Doc:        cv.doc,
			Nullable:   cv.nullable || !v.required[p.name],
			Default:    cv.def,
			HasDefault: cv.hasDef,
			Props:      cv.custom,
		}
		i := w.list.add(field)
		if i < 0 {
			continue
		}
		if w.walkChildren(cv, path, path) || cv.recursive {
			w.list.markRecursive(i)
		}
	}
}

func containsString(ss []string, s string) bool {
	for _, e := range ss {
		if e == s {
			return true
		}
	}
	return false
}

// isJSONLimit reports whether k is a numeric bound that compatibility
// checks compare.
func isJSONLimit(k string) bool {
	switch k {
	case "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
		"minItems", "maxItems", "minProperties", "maxProperties":
		return true
	}
	return false
}

// isStandardJSONKeyword reports whether k belongs to a JSON Schema
// vocabulary (drafts 4 to 2020-12) or to OpenAPI's "nullable"; every other
// keyword is a custom property.
func isStandardJSONKeyword(k string) bool {
	switch k {
	case "$schema", "$id", "id", "$ref", "$defs", "definitions", "$comment", "$anchor",
		"$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor", "$vocabulary",
		"title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly",
		"type", "enum", "const", "format", "nullable",
		"properties", "patternProperties", "additionalProperties", "required", "propertyNames",
		"dependencies", "dependentRequired", "dependentSchemas", "unevaluatedProperties",
		"items", "additionalItems", "prefixItems", "contains", "minContains", "maxContains",
		"uniqueItems", "unevaluatedItems", "pattern", "multipleOf",
		"allOf", "anyOf", "oneOf", "not", "if", "then", "else",
		"contentEncoding", "contentMediaType", "contentSchema":
		return true
	}
	return isJSONLimit(k)
}
