package openlineage

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SpecVersion is the OpenLineage core spec version events are validated
// against.
const SpecVersion = "2-0-2"

const coreSchemaID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

// specFiles are upstream's published schemas, byte for byte, each at the
// path of its $id below https://openlineage.io/spec/ (see spec/README.md).
//
//go:embed spec
var specFiles embed.FS

// eventKind is the kind of an OpenLineage event.
type eventKind int

const (
	runEvent eventKind = iota
	jobEvent
	datasetEvent
)

func (k eventKind) String() string {
	switch k {
	case jobEvent:
		return "JobEvent"
	case datasetEvent:
		return "DatasetEvent"
	default:
		return "RunEvent"
	}
}

// validator holds the compiled schemas. It is safe for concurrent use.
type validator struct {
	// root is the spec's own top level (oneOf RunEvent, DatasetEvent,
	// JobEvent): it decides whether an event is valid. events holds the
	// three definitions, to say what is wrong with an invalid one.
	root    *jsonschema.Schema
	events  map[eventKind]*jsonschema.Schema
	facets  *facetSchemas
	printer *message.Printer
}

// refuseLoader keeps the compiler offline: every schema it may need is
// added as a resource.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded", url)
}

// specDocs is every embedded schema, parsed once per process (it is
// constant data; the compilers only read it), keyed by its $id.
var specDocs = sync.OnceValues(readSpecDocs)

// readSpecDocs reads every embedded schema, keyed by its $id.
func readSpecDocs() (map[string]any, error) {
	docs := map[string]any{}
	err := fs.WalkDir(specFiles, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".json" {
			return err
		}
		b, err := specFiles.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("parse %s: %w", p, err)
		}
		obj, _ := doc.(map[string]any)
		id, _ := obj["$id"].(string)
		if id == "" {
			return fmt.Errorf("%s has no $id", p)
		}
		if want := "https://openlineage.io/" + p; id != want {
			return fmt.Errorf("%s declares $id %s, want %s", p, id, want)
		}
		docs[id] = doc
		return nil
	})
	return docs, err
}

func newCompiler(docs map[string]any, formats bool) (*jsonschema.Compiler, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if formats {
		c.AssertFormat()
	}
	c.UseLoader(refuseLoader{})
	ids := make([]string, 0, len(docs))
	for id := range docs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := c.AddResource(id, docs[id]); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", id, err)
		}
	}
	return c, nil
}

// sharedValidator is the validator of every Service: the schemas are
// constant (embedded), their compiled form immutable and safe for
// concurrent use, so they are compiled once per process.
var sharedValidator = sync.OnceValues(newValidator)

func newValidator() (*validator, error) {
	docs, err := specDocs()
	if err != nil {
		return nil, err
	}
	// The core is validated with its formats asserted (uuid, date-time,
	// uri): an event's identity and time must be usable.
	c, err := newCompiler(map[string]any{coreSchemaID: docs[coreSchemaID]}, true)
	if err != nil {
		return nil, err
	}
	v := &validator{events: map[eventKind]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	if v.root, err = c.Compile(coreSchemaID); err != nil {
		return nil, fmt.Errorf("compile %s: %w", coreSchemaID, err)
	}
	for k, def := range map[eventKind]string{runEvent: "RunEvent", jobEvent: "JobEvent", datasetEvent: "DatasetEvent"} {
		sch, err := c.Compile(coreSchemaID + "#/$defs/" + def)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", def, err)
		}
		v.events[k] = sch
	}
	if v.facets, err = newFacetSchemas(docs); err != nil {
		return nil, err
	}
	return v, nil
}

// classify decides which event definition doc is, to explain why it is
// invalid. The shape decides, as the spec's oneOf does (a RunEvent needs a
// run, a JobEvent has none, a DatasetEvent has a dataset and no job): run →
// RunEvent, dataset without job → DatasetEvent, job → JobEvent (even with
// an eventType: the spec's JobEvent allows one, and ignores it), eventType
// alone → RunEvent. Only without any of them does the schemaURL fragment
// (…/OpenLineage.json#/$defs/JobEvent) say what the event meant to be; a
// fragment that disagrees with the shape (clients that stamp every event
// RunEvent) does not override it.
func classify(obj map[string]any) eventKind {
	_, hasRun := obj["run"]
	_, hasType := obj["eventType"]
	_, hasDataset := obj["dataset"]
	_, hasJob := obj["job"]
	switch {
	case hasRun:
		return runEvent
	case hasDataset && !hasJob:
		return datasetEvent
	case hasJob:
		return jobEvent
	case hasType:
		return runEvent
	}
	if u, ok := obj["schemaURL"].(string); ok {
		switch {
		case strings.HasSuffix(u, "/JobEvent"):
			return jobEvent
		case strings.HasSuffix(u, "/DatasetEvent"):
			return datasetEvent
		}
	}
	return runEvent
}

// Warning is a problem in an accepted event: a facet that does not match
// its published schema is ignored, the rest of the event is recorded.
type Warning struct {
	// At is the JSON pointer of the facet in the request body.
	At string `json:"at"`
	// Message says what is wrong and that the facet was ignored.
	Message string `json:"message"`
}

// validation is what validate found in one event.
type validation struct {
	kind eventKind
	// warnings name the facets that do not match their schema; skip holds
	// their pointers in the request: decodeEvent ignores them.
	warnings []Warning
	skip     map[string]bool
}

// validate checks one decoded event (numbers as json.Number) against the
// OpenLineage core spec, then every standard facet it carries against that
// facet's published schema. prefix is the JSON pointer of the event in the
// request body ("" for a single event, "/3" for the fourth of an array).
// An event the core refuses is an error naming the JSON pointer of the
// offending value; a facet that does not match its schema is a warning and
// is skipped.
func (v *validator) validate(doc any, prefix string) (validation, error) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return validation{}, fmt.Errorf("at %s: an OpenLineage event must be a JSON object", pointerOrRoot(prefix))
	}
	kind := classify(obj)
	res := validation{kind: kind, skip: map[string]bool{}}
	if err := v.root.Validate(doc); err != nil {
		if derr := v.events[kind].Validate(doc); derr != nil {
			return res, fmt.Errorf("%s does not match the OpenLineage %s schema: %s", kind, SpecVersion, v.describe(derr, prefix))
		}
		// Valid as the definition its shape suggests, yet not exactly one of
		// the three: it has both a job and a dataset.
		var matches []string
		for _, k := range []eventKind{runEvent, jobEvent, datasetEvent} {
			if v.events[k].Validate(doc) == nil {
				matches = append(matches, k.String())
			}
		}
		return res, fmt.Errorf("at %s: the event matches %s: an OpenLineage event is exactly one of RunEvent, JobEvent and DatasetEvent (a JobEvent has no dataset, a DatasetEvent no job)", pointerOrRoot(prefix), strings.Join(matches, " and "))
	}
	for _, c := range facetContainers(obj) {
		for _, name := range sortedFacetNames(c.facets) {
			raw := c.facets[name]
			ptr := c.ptr + "/" + jsonPointer([]string{name})[1:]
			sch, label, ok := v.facets.schema(c.kind, name, raw)
			if !ok {
				continue // a custom facet: its schema is its producer's business
			}
			if err := sch.Validate(raw); err != nil {
				res.skip[prefix+ptr] = true
				res.warnings = append(res.warnings, Warning{
					At:      prefix + ptr,
					Message: fmt.Sprintf("%s facet does not match %s: %s; the facet is ignored", name, label, v.describe(err, prefix+ptr)),
				})
			}
		}
	}
	return res, nil
}

// facetContainer is one "facets" object of an event.
type facetContainer struct {
	kind   string // RunFacet, JobFacet, DatasetFacet, InputDatasetFacet, OutputDatasetFacet
	ptr    string // its JSON pointer in the event
	facets map[string]any
}

func facetContainers(obj map[string]any) []facetContainer {
	var out []facetContainer
	add := func(parent any, key, kind, ptr string) {
		p, _ := parent.(map[string]any)
		if f, ok := p[key].(map[string]any); ok {
			out = append(out, facetContainer{kind: kind, ptr: ptr + "/" + key, facets: f})
		}
	}
	add(obj["run"], "facets", "RunFacet", "/run")
	add(obj["job"], "facets", "JobFacet", "/job")
	add(obj["dataset"], "facets", "DatasetFacet", "/dataset")
	for _, side := range []struct{ key, extra, kind string }{{"inputs", "inputFacets", "InputDatasetFacet"}, {"outputs", "outputFacets", "OutputDatasetFacet"}} {
		list, _ := obj[side.key].([]any)
		for i, d := range list {
			ptr := fmt.Sprintf("/%s/%d", side.key, i)
			add(d, "facets", "DatasetFacet", ptr)
			add(d, side.extra, side.kind, ptr)
		}
	}
	return out
}

func sortedFacetNames(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// facetSchemas are the published facet schemas, compiled on first use.
// Formats are not asserted in facets (they are annotations in JSON Schema
// 2020-12, and upstream's own validator does not assert them): a dbt
// dataSource facet's uri "bigquery" is no URI, yet no reason to drop it.
type facetSchemas struct {
	// versions lists, per container kind and facet name, the schemas of
	// that facet, oldest first.
	versions map[facetKey][]facetVersion

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	compiled map[string]*jsonschema.Schema
}

type facetKey struct{ kind, name string }

type facetVersion struct {
	id      string // the file's $id
	def     string // the facet's definition in $defs
	version string // e.g. 1-2-0
}

func (f facetVersion) label() string { return f.def + " " + f.version }

func newFacetSchemas(docs map[string]any) (*facetSchemas, error) {
	c, err := newCompiler(docs, false)
	if err != nil {
		return nil, err
	}
	out := &facetSchemas{versions: map[facetKey][]facetVersion{}, compiler: c, compiled: map[string]*jsonschema.Schema{}}
	for id, doc := range docs {
		rest, ok := strings.CutPrefix(id, "https://openlineage.io/spec/facets/")
		if !ok {
			continue
		}
		version, _, _ := strings.Cut(rest, "/")
		obj, _ := doc.(map[string]any)
		props, _ := obj["properties"].(map[string]any)
		defs, _ := obj["$defs"].(map[string]any)
		for name, p := range props {
			ref, _ := p.(map[string]any)["$ref"].(string)
			def, ok := strings.CutPrefix(ref, "#/$defs/")
			if !ok {
				continue // not one facet (LineageFacet's anyOf)
			}
			d, _ := defs[def].(map[string]any)
			all, _ := d["allOf"].([]any)
			for _, a := range all {
				base, _ := a.(map[string]any)["$ref"].(string)
				if _, kind, ok := strings.Cut(base, "OpenLineage.json#/$defs/"); ok {
					k := facetKey{kind: kind, name: name}
					out.versions[k] = append(out.versions[k], facetVersion{id: id, def: def, version: version})
				}
			}
		}
	}
	for _, vs := range out.versions {
		sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i].version, vs[j].version) })
	}
	return out, nil
}

// versionLess orders "1-0-2" before "1-0-10".
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "-"), strings.Split(b, "-")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, ea := strconv.Atoi(pa[i])
		nb, eb := strconv.Atoi(pb[i])
		if ea != nil || eb != nil {
			if pa[i] != pb[i] {
				return pa[i] < pb[i]
			}
			continue
		}
		if na != nb {
			return na < nb
		}
	}
	return len(pa) < len(pb)
}

// schema returns the schema a standard facet is validated against: the
// version its _schemaURL names when that is a published version of the
// facet, else the newest. ok is false for a facet that is not standard
// and for a deletion ({"_deleted": true}), which carries no content.
func (f *facetSchemas) schema(kind, name string, raw any) (*jsonschema.Schema, string, bool) {
	vs := f.versions[facetKey{kind: kind, name: name}]
	if len(vs) == 0 {
		return nil, "", false
	}
	obj, _ := raw.(map[string]any)
	if del, _ := obj["_deleted"].(bool); del {
		return nil, "", false
	}
	chosen := vs[len(vs)-1]
	if u, ok := obj["_schemaURL"].(string); ok {
		base, _, _ := strings.Cut(u, "#")
		for _, v := range vs {
			if v.id == base {
				chosen = v
			}
		}
	}
	ref := chosen.id + "#/$defs/" + chosen.def
	f.mu.Lock()
	defer f.mu.Unlock()
	sch, ok := f.compiled[ref]
	if !ok {
		var err error
		if sch, err = f.compiler.Compile(ref); err != nil {
			// The package's tests compile every embedded facet schema.
			return nil, "", false
		}
		f.compiled[ref] = sch
	}
	return sch, chosen.label(), true
}

// describe turns a validation error into "at <pointer>: <reason>", choosing
// the most specific (deepest) of the leaf errors, and says how many other
// problems there were.
func (v *validator) describe(err error, prefix string) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var leaves []*jsonschema.ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			leaves = append(leaves, e)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	type leaf struct{ ptr, msg string }
	seen := map[leaf]bool{}
	var ls []leaf
	for _, e := range leaves {
		l := leaf{ptr: prefix + jsonPointer(e.InstanceLocation), msg: e.ErrorKind.LocalizedString(v.printer)}
		if !seen[l] {
			seen[l] = true
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool {
		di, dj := strings.Count(ls[i].ptr, "/"), strings.Count(ls[j].ptr, "/")
		if di != dj {
			return di > dj
		}
		if ls[i].ptr != ls[j].ptr {
			return ls[i].ptr < ls[j].ptr
		}
		return ls[i].msg < ls[j].msg
	})
	if len(ls) == 0 {
		return "at " + pointerOrRoot(prefix) + ": " + ve.ErrorKind.LocalizedString(v.printer)
	}
	s := "at " + pointerOrRoot(ls[0].ptr) + ": " + ls[0].msg
	if n := len(ls) - 1; n == 1 {
		s += " (and 1 more problem)"
	} else if n > 1 {
		s += fmt.Sprintf(" (and %d more problems)", n)
	}
	return s
}

// jsonPointer renders tokens as an RFC 6901 pointer.
func jsonPointer(tokens []string) string {
	var sb strings.Builder
	for _, t := range tokens {
		sb.WriteByte('/')
		t = strings.ReplaceAll(t, "~", "~0")
		sb.WriteString(strings.ReplaceAll(t, "/", "~1"))
	}
	return sb.String()
}

// pointerOrRoot shows the root pointer "" as "/" would be wrong (that names
// the key ""), so the root is written as the empty pointer in quotes.
func pointerOrRoot(p string) string {
	if p == "" {
		return `"" (the event)`
	}
	return p
}
