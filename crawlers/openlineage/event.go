package openlineage

import (
	"encoding/json"
	"fmt"
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

// olEvent is the part of a RunEvent or JobEvent the service reads. It is
// decoded only after the event passed schema validation.
type olEvent struct {
	EventType string      `json:"eventType"`
	EventTime string      `json:"eventTime"`
	Producer  string      `json:"producer"`
	SchemaURL string      `json:"schemaURL"`
	Run       *olRun      `json:"run"`
	Job       olJob       `json:"job"`
	Inputs    []olDataset `json:"inputs"`
	Outputs   []olDataset `json:"outputs"`

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

func (j *olJob) parse(ptr string) error {
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
		ok, err := facet(j.Facets, f.name, f.dst, ptr)
		if err != nil {
			return err
		}
		if ok {
			f.set()
		}
	}
	return nil
}

type olDataset struct {
	Namespace string                     `json:"namespace"`
	Name      string                     `json:"name"`
	Facets    map[string]json.RawMessage `json:"facets"`

	// The facets the service reads, decoded by parse (nil when absent).
	schema  *schemaFacet
	doc     *documentationFacet
	columns *columnLineageFacet
}

func (d *olDataset) parse(ptr string, output bool) error {
	var sch schemaFacet
	if ok, err := facet(d.Facets, "schema", &sch, ptr); err != nil {
		return err
	} else if ok {
		if err := checkSchemaFields(sch.Fields, ptr+"/facets/schema/fields"); err != nil {
			return err
		}
		d.schema = &sch
	}
	var doc documentationFacet
	if ok, err := facet(d.Facets, "documentation", &doc, ptr); err != nil {
		return err
	} else if ok {
		d.doc = &doc
	}
	if output {
		var cl columnLineageFacet
		if ok, err := facet(d.Facets, "columnLineage", &cl, ptr); err != nil {
			return err
		} else if ok {
			d.columns = &cl
		}
	}
	return nil
}

// checkSchemaFields enforces what SchemaDatasetFacet requires of a field:
// a non-empty name.
func checkSchemaFields(fs []schemaField, ptr string) error {
	for i, f := range fs {
		if strings.TrimSpace(f.Name) == "" {
			return fmt.Errorf("at %s/%d: a schema field needs a name", ptr, i)
		}
		if err := checkSchemaFields(f.Fields, fmt.Sprintf("%s/%d/fields", ptr, i)); err != nil {
			return err
		}
	}
	return nil
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

// decodeEvent decodes a validated event. ptr locates it in the body for
// error messages.
func decodeEvent(raw json.RawMessage, kind eventKind, ptr string, now time.Time) (*olEvent, error) {
	var ev olEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, fmt.Errorf("at %s: %w", pointerOrRoot(ptr), err)
	}
	ev.kind, ev.ptr = kind, ptr
	t, err := time.Parse(time.RFC3339Nano, strings.ToUpper(ev.EventTime))
	if err != nil {
		return nil, fmt.Errorf("at %s/eventTime: %q is not an RFC 3339 date-time", ptr, ev.EventTime)
	}
	ev.time = t.UTC()
	if ev.time.After(now) {
		// A producer's clock ahead of ours must not keep a job fresh.
		ev.time = now
	}
	if kind == runEvent && (ev.Run == nil || ev.Run.RunID == "") {
		return nil, fmt.Errorf("at %s/run: missing property 'runId'", ptr)
	}
	if strings.TrimSpace(ev.Job.Namespace) == "" || strings.TrimSpace(ev.Job.Name) == "" {
		return nil, fmt.Errorf("at %s/job: namespace and name must not be empty", ptr)
	}
	if err := ev.Job.parse(ptr + "/job"); err != nil {
		return nil, err
	}
	for i := range ev.Inputs {
		p := fmt.Sprintf("%s/inputs/%d", ptr, i)
		if strings.TrimSpace(ev.Inputs[i].Namespace) == "" || strings.TrimSpace(ev.Inputs[i].Name) == "" {
			return nil, fmt.Errorf("at %s: namespace and name must not be empty", p)
		}
		if err := ev.Inputs[i].parse(p, false); err != nil {
			return nil, err
		}
	}
	for i := range ev.Outputs {
		p := fmt.Sprintf("%s/outputs/%d", ptr, i)
		if strings.TrimSpace(ev.Outputs[i].Namespace) == "" || strings.TrimSpace(ev.Outputs[i].Name) == "" {
			return nil, fmt.Errorf("at %s: namespace and name must not be empty", p)
		}
		if err := ev.Outputs[i].parse(p, true); err != nil {
			return nil, err
		}
		if cl := ev.Outputs[i].columns; cl != nil {
			for out, f := range cl.Fields {
				if strings.TrimSpace(out) == "" {
					return nil, fmt.Errorf("at %s/facets/columnLineage/fields: an output field needs a name", p)
				}
				for j, in := range f.InputFields {
					if strings.TrimSpace(in.Namespace) == "" || strings.TrimSpace(in.Name) == "" || strings.TrimSpace(in.Field) == "" {
						return nil, fmt.Errorf("at %s/facets/columnLineage/fields/%s/inputFields/%d: namespace, name and field must not be empty", p, jsonPointer([]string{out})[1:], j)
					}
				}
			}
		}
	}
	return &ev, nil
}

// facet decodes the facet name of facets into out. It reports false when
// the facet is absent; an undecodable facet is an error naming its pointer.
func facet(facets map[string]json.RawMessage, name string, out any, ptr string) (bool, error) {
	raw, ok := facets[name]
	if !ok {
		return false, nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return false, fmt.Errorf("at %s/facets/%s: %w", ptr, name, err)
	}
	return true, nil
}
