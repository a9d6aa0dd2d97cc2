package openlineage

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Run states as OpenLineage names them (eventType).
const (
	stateStart    = "START"
	stateRunning  = "RUNNING"
	stateComplete = "COMPLETE"
	stateAbort    = "ABORT"
	stateFail     = "FAIL"
	stateOther    = "OTHER"
)

// olEvent is the part of a RunEvent, JobEvent or DatasetEvent the service
// reads. It is decoded only after the event passed schema validation.
type olEvent struct {
	EventType string      `json:"eventType"`
	EventTime string      `json:"eventTime"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
	Run       *olRun      `json:"run"`
	Job       olJob       `json:"job"`
	Inputs    []olDataset `json:"inputs"`
	Outputs   []olDataset `json:"outputs"`
	// Dataset is a DatasetEvent's dataset.
	Dataset *olDataset `json:"dataset"`

	kind eventKind
	time time.Time // EventTime parsed
	ptr  string    // JSON pointer of the event in the request body
}

type olRun struct {
	RunID string `json:"runId"`
}

type olJob struct {
	Namespace string                     `json:"namespace"`
	Name      string                     `json:"name"`
	Facets    map[string]json.RawMessage `json:"facets"`

	// The facets the service reads, decoded by parse (nil when absent).
	jobType    *jobTypeFacet
	doc        *documentationFacet
	sql        *sqlFacet
	sourceCode *sourceCodeLocationFacet
}

func (j *olJob) parse(d *decoder, ptr string) {
	var (
		jt  jobTypeFacet
		doc documentationFacet
		sql sqlFacet
		src sourceCodeLocationFacet
	)
	for _, f := range []struct {
		name string
		dst  any
		set  func()
	}{
		{"jobType", &jt, func() { j.jobType = &jt }},
		{"documentation", &doc, func() { j.doc = &doc }},
		{"sql", &sql, func() { j.sql = &sql }},
		{"sourceCodeLocation", &src, func() { j.sourceCode = &src }},
	} {
		if d.facet(j.Facets, f.name, f.dst, ptr) {
			f.set()
		}
	}
}

type olDataset struct {
	Namespace string                     `json:"namespace"`
	Name      string                     `json:"name"`
	Facets    map[string]json.RawMessage `json:"facets"`

	// The facets the service reads, decoded by parse (nil when absent).
	schema   *schemaFacet
	doc      *documentationFacet
	columns  *columnLineageFacet
	symlinks *symlinksFacet
}

func (ds *olDataset) parse(d *decoder, ptr string, output bool) {
	var sch schemaFacet
	if d.facet(ds.Facets, "schema", &sch, ptr) {
		ds.schema = &sch
	}
	var doc documentationFacet
	if d.facet(ds.Facets, "documentation", &doc, ptr) {
		ds.doc = &doc
	}
	var sl symlinksFacet
	if d.facet(ds.Facets, "symlinks", &sl, ptr) {
		ds.symlinks = &sl
	}
	if output {
		var cl columnLineageFacet
		if d.facet(ds.Facets, "columnLineage", &cl, ptr) {
			ds.columns = &cl
		}
	}
}

// Facets the service reads. Every facet may carry "_deleted": true (2-0-2),
// which removes what an earlier event said.
type facetBase struct {
	Deleted bool `json:"_deleted"`
}

type jobTypeFacet struct {
	facetBase
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType"`
}

type documentationFacet struct {
	facetBase
	Description string `json:"description"`
}

type sqlFacet struct {
	facetBase
	Query string `json:"query"`
}

type sourceCodeLocationFacet struct {
	facetBase
	Type string `json:"type"`
	URL  string `json:"url"`
}

type schemaFacet struct {
	facetBase
	Fields []schemaField `json:"fields"`
}

type schemaField struct {
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Description string        `json:"description"`
	Fields      []schemaField `json:"fields"` // nested (SchemaDatasetFacet 1-1-0)
}

// symlinksFacet lists other names of a dataset: a table Spark reads by its
// storage path carries the metastore table (type TABLE); a Hive table
// carries its storage location (type LOCATION).
type symlinksFacet struct {
	facetBase
	Identifiers []symlink `json:"identifiers"`
}

type symlink struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
}

type columnLineageFacet struct {
	facetBase
	Fields map[string]columnLineageField `json:"fields"`
}

type columnLineageField struct {
	InputFields               []inputField `json:"inputFields"`
	TransformationDescription string       `json:"transformationDescription"`
	TransformationType        string       `json:"transformationType"`
}

type inputField struct {
	Namespace       string           `json:"namespace"`
	Name            string           `json:"name"`
	Field           string           `json:"field"`
	Transformations []transformation `json:"transformations"`
}

type transformation struct {
	Type        string `json:"type"`
	Subtype     string `json:"subtype"`
	Description string `json:"description"`
	Masking     bool   `json:"masking"`
}

// decoder decodes the facets of one validated event: facets that did not
// match their schema are skipped, and one that does not decode (a custom
// facet under a standard name) is skipped with a warning.
type decoder struct {
	skip     map[string]bool
	warnings []Warning
}

// facet decodes the facet name of facets (located at ptr) into out. It
// reports false when the facet is absent or skipped.
func (d *decoder) facet(facets map[string]json.RawMessage, name string, out any, ptr string) bool {
	raw, ok := facets[name]
	if !ok {
		return false
	}
	at := ptr + "/facets/" + jsonPointer([]string{name})[1:]
	if d.skip[at] {
		return false
	}
	if err := json.Unmarshal(raw, out); err != nil {
		d.warnings = append(d.warnings, Warning{At: at, Message: fmt.Sprintf("%s facet does not decode: %v; the facet is ignored", name, err)})
		return false
	}
	return true
}

// decodeEvent decodes a validated event. ptr locates it in the body for
// error messages and warnings.
func decodeEvent(raw json.RawMessage, val validation, ptr string, now time.Time) (*olEvent, []Warning, error) {
	var ev olEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, nil, fmt.Errorf("at %s: %w", pointerOrRoot(ptr), err)
	}
	ev.kind, ev.ptr = val.kind, ptr
	t, err := parseEventTime(ev.EventTime)
	if err != nil {
		return nil, nil, fmt.Errorf("at %s/eventTime: %q is not an RFC 3339 date-time", ptr, ev.EventTime)
	}
	ev.time = t.UTC()
	if ev.time.After(now) {
		// A producer's clock ahead of ours must not keep a job fresh.
		ev.time = now
	}
	if ev.kind == runEvent && (ev.Run == nil || ev.Run.RunID == "") {
		return nil, nil, fmt.Errorf("at %s/run: missing property 'runId'", ptr)
	}
	d := &decoder{skip: val.skip, warnings: slices.Clone(val.warnings)}
	if ev.kind == datasetEvent {
		if ev.Dataset == nil {
			return nil, nil, fmt.Errorf("at %s: missing property 'dataset'", pointerOrRoot(ptr))
		}
		ev.Dataset.parse(d, ptr+"/dataset", false)
		ev.Inputs, ev.Outputs = nil, nil
		return &ev, d.warnings, nil
	}
	ev.Dataset = nil
	ev.Job.parse(d, ptr+"/job")
	for i := range ev.Inputs {
		ev.Inputs[i].parse(d, fmt.Sprintf("%s/inputs/%d", ptr, i), false)
	}
	for i := range ev.Outputs {
		ev.Outputs[i].parse(d, fmt.Sprintf("%s/outputs/%d", ptr, i), true)
	}
	return &ev, d.warnings, nil
}

// parseEventTime parses an RFC 3339 date-time, a leap second included:
// 23:59:60 is the instant before the next day's 00:00:00 (Go's time cannot
// hold it, so it is read as the next second, which orders it correctly
// against every other event but one sent in that very next second).
func parseEventTime(s string) (time.Time, error) {
	s = strings.ToUpper(s)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	// "2016-12-31T23:59:60Z", "…T23:59:60.5+01:00": second 60.
	if len(s) > 19 && s[10] == 'T' && s[16] == ':' && s[17:19] == "60" {
		t, err2 := time.Parse(time.RFC3339Nano, s[:17]+"59"+s[19:])
		if err2 == nil {
			return t.Add(time.Second), nil
		}
	}
	return time.Time{}, err
}
