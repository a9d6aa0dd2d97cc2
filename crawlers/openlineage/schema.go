package openlineage

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// SpecVersion is the OpenLineage core spec version events are validated
// against.
const SpecVersion = "2-0-2"

const (
	coreSchemaID    = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
	columnFacetID   = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json"
	coreSchemaFile  = "spec/OpenLineage.json"
	columnFacetFile = "spec/ColumnLineageDatasetFacet.json"
)

//go:embed spec/OpenLineage.json spec/ColumnLineageDatasetFacet.json
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
	events  map[eventKind]*jsonschema.Schema
	columns *jsonschema.Schema
	printer *message.Printer
}

// refuseLoader keeps the compiler offline: every schema it may need is
// added as a resource.
type refuseLoader struct{}

func (refuseLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded", url)
}

func newValidator() (*validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.UseLoader(refuseLoader{})
	for _, r := range []struct{ id, file string }{{coreSchemaID, coreSchemaFile}, {columnFacetID, columnFacetFile}} {
		b, err := specFiles.ReadFile(r.file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", r.file, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", r.file, err)
		}
		if err := c.AddResource(r.id, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", r.id, err)
		}
	}
	v := &validator{events: map[eventKind]*jsonschema.Schema{}, printer: message.NewPrinter(language.English)}
	for k, def := range map[eventKind]string{runEvent: "RunEvent", jobEvent: "JobEvent", datasetEvent: "DatasetEvent"} {
		sch, err := c.Compile(coreSchemaID + "#/$defs/" + def)
		if err != nil {
			return nil, fmt.Errorf("compile %s: %w", def, err)
		}
		v.events[k] = sch
	}
	sch, err := c.Compile(columnFacetID + "#/$defs/ColumnLineageDatasetFacet")
	if err != nil {
		return nil, fmt.Errorf("compile column lineage facet: %w", err)
	}
	v.columns = sch
	return v, nil
}

// classify decides which event definition doc claims to be. The spec's
// schemaURL names it (…/OpenLineage.json#/$defs/RunEvent); without a
// recognisable one the shape decides: run or eventType → RunEvent, dataset →
// DatasetEvent, job alone → JobEvent. Classifying first lets validation
// report the one definition's problems instead of a oneOf summary.
func classify(obj map[string]any) eventKind {
	if u, ok := obj["schemaURL"].(string); ok {
		switch {
		case strings.HasSuffix(u, "/RunEvent"):
			return runEvent
		case strings.HasSuffix(u, "/JobEvent"):
			return jobEvent
		case strings.HasSuffix(u, "/DatasetEvent"):
			return datasetEvent
		}
	}
	_, hasRun := obj["run"]
	_, hasType := obj["eventType"]
	_, hasDataset := obj["dataset"]
	_, hasJob := obj["job"]
	switch {
	case hasRun || hasType:
		return runEvent
	case hasDataset:
		return datasetEvent
	case hasJob:
		return jobEvent
	}
	return runEvent
}

// validate checks one decoded event (numbers as json.Number) against the
// spec and, for each output dataset, its columnLineage facet against the
// facet schema. prefix is the JSON pointer of the event in the request body
// ("" for a single event, "/3" for the fourth of an array). The error's
// message names the JSON pointer of the offending value.
func (v *validator) validate(doc any, prefix string) (eventKind, error) {
	obj, ok := doc.(map[string]any)
	if !ok {
		return runEvent, fmt.Errorf("at %s: an OpenLineage event must be a JSON object", pointerOrRoot(prefix))
	}
	kind := classify(obj)
	if err := v.events[kind].Validate(doc); err != nil {
		return kind, fmt.Errorf("%s does not match the OpenLineage %s schema: %s", kind, SpecVersion, v.describe(err, prefix))
	}
	outputs, _ := obj["outputs"].([]any)
	for i, o := range outputs {
		ds, _ := o.(map[string]any)
		facets, _ := ds["facets"].(map[string]any)
		cl, ok := facets["columnLineage"]
		if !ok {
			continue
		}
		p := fmt.Sprintf("%s/outputs/%d/facets/columnLineage", prefix, i)
		if err := v.columns.Validate(cl); err != nil {
			return kind, fmt.Errorf("columnLineage facet does not match the ColumnLineageDatasetFacet 1-2-0 schema: %s", v.describe(err, p))
		}
	}
	return kind, nil
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
