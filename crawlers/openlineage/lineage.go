package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/watershed-data/watershed/catalog"
)

// LineageSummary is the body of a 201 answer to POST /api/v1/lineage.
type LineageSummary struct {
	// Job is the job of a single-event request.
	Job string `json:"job,omitempty"`
	// Jobs lists the jobs the request changed, in order of appearance.
	Jobs []string `json:"jobs"`
	// Events counts the events accepted (ignored ones included).
	Events int `json:"events"`
	// Datasets lists the datasets the request's DatasetEvents describe.
	Datasets []string `json:"datasets,omitempty"`
	// Ignored lists valid events that changed nothing: events of a run
	// that started before the job's latest run, DatasetEvents of topics.
	Ignored []IgnoredEvent `json:"ignored,omitempty"`
	// Warnings lists the facets that were ignored because they do not match
	// their published schema (the rest of their event is recorded).
	Warnings []Warning `json:"warnings,omitempty"`
	// The counts of the one Reconcile the request made.
	EdgesAdded   int `json:"edgesAdded"`
	EdgesRemoved int `json:"edgesRemoved"`
	EdgesUpdated int `json:"edgesUpdated"`
	// Changes counts the change events written.
	Changes int `json:"changes"`
}

// IgnoredEvent names an accepted event that changed nothing, and why.
type IgnoredEvent struct {
	// Event is the JSON pointer of the event in the request ("" for a
	// single event).
	Event  string `json:"event"`
	Reason string `json:"reason"`
}

// Property and live-reading keys of an OpenLineage JOB.
const (
	liveLastEventTime  = "lastEventTime"
	liveRunID          = "latestRunId"
	liveRunState       = "latestRunState"
	liveRunStartedAt   = "latestRunStartedAt"
	liveEventType      = "latestEventType"
	maxSQLBytes        = 8 << 10
	maxFieldsPerScan   = 10000
	jobEventTypeMarker = "JOB_EVENT"
)

// stickyJobKeys are the job properties that facets set and that persist
// until a later facet of the same name replaces them.
func stickyJobKeys() []string {
	return []string{"producer", "processingType", "integration", "jobType", "description", "sql", "sourceCodeLocation"}
}

func (s *Service) serveLineage(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	evs, warnings, err := s.parseEvents(body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sum, err := s.applyEvents(r.Context(), evs)
	if err != nil {
		s.writeStoreError(w, "record lineage", err)
		return
	}
	sum.Warnings = warnings
	for _, w := range warnings {
		s.log.Info("ignored facet", "at", w.At, "reason", w.Message)
	}
	s.writeJSON(w, http.StatusCreated, sum)
}

// parseEvents validates and decodes a body holding one event or a JSON
// array of events. It fails on the first invalid event; nothing has been
// applied then. The warnings name the facets ignored.
func (s *Service) parseEvents(body []byte) ([]*olEvent, []Warning, error) {
	trimmed := bytes.TrimSpace(body)
	var raws []json.RawMessage
	var ptrs []string
	if trimmed[0] == '[' {
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, nil, notJSON(err)
		}
		if len(raws) == 0 {
			return nil, nil, errors.New("the request holds an empty array: send one event or an array of events")
		}
		for i := range raws {
			ptrs = append(ptrs, "/"+strconv.Itoa(i))
		}
	} else {
		var probe json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return nil, nil, notJSON(err)
		}
		raws, ptrs = []json.RawMessage{trimmed}, []string{""}
	}
	now := s.now().UTC()
	evs := make([]*olEvent, 0, len(raws))
	var warnings []Warning
	for i, raw := range raws {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, nil, fmt.Errorf("at %s: %w", pointerOrRoot(ptrs[i]), err)
		}
		val, err := s.schemas.validate(doc, ptrs[i])
		if err != nil {
			return nil, nil, err
		}
		ev, ws, err := decodeEvent(raw, val, ptrs[i], now)
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, ev)
		warnings = append(warnings, ws...)
	}
	return evs, warnings, nil
}

func notJSON(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("request body is not JSON: %v (at byte %d)", se, se.Offset)
	}
	return fmt.Errorf("request body is not JSON: %w", err)
}

// applyEvents applies evs in order and reconciles every job they touched in
// one snapshot: all of them are recorded, or none.
func (s *Service) applyEvents(ctx context.Context, evs []*olEvent) (LineageSummary, error) {
	s.olMu.Lock()
	defer s.olMu.Unlock()
	sum := LineageSummary{Events: len(evs), Jobs: []string{}}
	b := newBatch(s)
	for _, ev := range evs {
		if ev.kind == datasetEvent {
			reason, err := b.describeDataset(ctx, ev)
			if err != nil {
				return sum, err
			}
			if reason != "" {
				sum.Ignored = append(sum.Ignored, IgnoredEvent{Event: ev.ptr, Reason: reason})
				s.log.Info("ignored event", "reason", reason)
			}
			continue
		}
		jw, err := b.job(ctx, jobKey{namespace: strings.TrimSpace(ev.Job.Namespace), name: strings.TrimSpace(ev.Job.Name)})
		if err != nil {
			return sum, err
		}
		reason, err := jw.apply(ctx, b, ev)
		if err != nil {
			return sum, err
		}
		if reason != "" {
			sum.Ignored = append(sum.Ignored, IgnoredEvent{Event: ev.ptr, Reason: reason})
			s.log.Info("ignored event", "job", jw.urn, "reason", reason)
		}
	}
	for _, u := range b.described {
		sum.Datasets = append(sum.Datasets, string(u))
	}
	if len(evs) == 1 && evs[0].kind != datasetEvent {
		sum.Job = string(jobKey{namespace: strings.TrimSpace(evs[0].Job.Namespace), name: strings.TrimSpace(evs[0].Job.Name)}.urn())
	}
	res, err := b.reconcile(ctx)
	if err != nil {
		return sum, err
	}
	for _, jw := range b.order {
		if jw.touched {
			sum.Jobs = append(sum.Jobs, string(jw.urn))
		}
	}
	sum.EdgesAdded, sum.EdgesRemoved, sum.EdgesUpdated, sum.Changes = res.EdgesAdded, res.EdgesRemoved, res.EdgesUpdated, res.Changes
	return sum, nil
}

// batch is the work of one request (or one expiry): the jobs it touches,
// loaded from the catalog, the datasets its DatasetEvents describe, then one
// snapshot over their scopes.
type batch struct {
	s     *Service
	jobs  map[jobKey]*jobWork
	order []*jobWork
	res   *resolver
	// events holds what DatasetEvents say, per dataset; described lists
	// those datasets in order of appearance.
	events    map[catalog.URN]*datasetAgg
	described []catalog.URN
	// expireDatasets are datasets Sweep ages out.
	expireDatasets []catalog.URN
	// kept lists, per authoritative dataset, the fields kept only for
	// OpenLineage field lineage (see pruneKept).
	kept map[catalog.URN][]catalog.URN
}

func newBatch(s *Service) *batch {
	return &batch{s: s, jobs: map[jobKey]*jobWork{}, res: newResolver(s), events: map[catalog.URN]*datasetAgg{}}
}

// describeDataset folds a DatasetEvent into the batch: its dataset's
// schema, documentation and symlinks facets. It returns why the event was
// ignored, or "".
func (b *batch) describeDataset(ctx context.Context, ev *olEvent) (string, error) {
	d := ev.Dataset
	ref, err := b.res.resolve(ctx, d.Namespace, d.Name, d.symlinks)
	if err != nil {
		return "", err
	}
	if !ref.owned() {
		return fmt.Sprintf("%s is a topic of Kafka source %s: the kafka crawler describes it", ref.URN, ref.Cluster), nil
	}
	a := b.events[ref.URN]
	if a == nil {
		a = &datasetAgg{ref: ref, fields: map[string]bool{}}
		b.events[ref.URN] = a
		b.described = append(b.described, ref.URN)
	}
	if f := d.schema; f != nil {
		if f.Deleted {
			a.schema, a.hasSchema = nil, true
		} else {
			a.schema, a.hasSchema = f.Fields, true
		}
	}
	if f := d.doc; f != nil {
		a.description, a.hasDescription = f.Description, true
		if f.Deleted {
			a.description = ""
		}
	}
	if ev.time.After(a.eventTime) {
		a.eventTime = ev.time
	}
	return "", nil
}

func (b *batch) job(ctx context.Context, key jobKey) (*jobWork, error) {
	if b.res == nil {
		b.res = newResolver(b.s)
	}
	if jw := b.jobs[key]; jw != nil {
		return jw, nil
	}
	jw, err := b.s.loadJob(ctx, key)
	if err != nil {
		return nil, err
	}
	b.jobs[key] = jw
	b.order = append(b.order, jw)
	return jw, nil
}

// reconcile writes the batch's snapshot and, once it is durable, keeps the
// runs in memory. A batch that touched nothing writes nothing.
func (b *batch) reconcile(ctx context.Context) (catalog.ReconcileResult, error) {
	snap, err := b.snapshot(ctx)
	if err != nil {
		return catalog.ReconcileResult{}, err
	}
	if len(snap.Scopes) == 0 {
		return catalog.ReconcileResult{}, nil
	}
	res, err := b.s.store.Reconcile(ctx, snap, nil)
	if err != nil {
		return res, fmt.Errorf("reconcile %s: %w", SourceOpenLineage, err)
	}
	for _, jw := range b.order {
		switch {
		case jw.expire:
			b.s.runs.removeJob(jw.key)
		case jw.touched && jw.cur != nil && jw.cur.runID != "":
			b.s.runs.put(jw.cur)
		}
	}
	pruned, err := b.pruneKept(ctx, snap)
	if err != nil {
		// The batch is recorded; the leftover fields go with the next write.
		b.s.log.Warn("prune fields no lineage uses", "err", err)
	}
	res.Deleted += pruned.Deleted
	res.EdgesRemoved += pruned.EdgesRemoved
	res.Changes += pruned.Changes
	return res, nil
}

// liveState is what the JOB's live readings say about its runs.
type liveState struct {
	lastEventTime time.Time
	runID         string
	runState      string
	runStarted    time.Time
	eventType     string
}

func parseLive(p catalog.Properties) liveState {
	str := func(k string) string { v, _ := p[k].(string); return v }
	tm := func(k string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, str(k))
		if err != nil {
			return time.Time{}
		}
		return t
	}
	return liveState{lastEventTime: tm(liveLastEventTime), runID: str(liveRunID), runState: str(liveRunState), runStarted: tm(liveRunStartedAt), eventType: str(liveEventType)}
}

// jobWork is one job while a batch is applied.
type jobWork struct {
	key jobKey
	urn catalog.URN
	// props are the job's sticky properties; live its run readings.
	props catalog.Properties
	live  liveState
	// prevLinks are the dataset-level links the job asserts in the catalog.
	prevLinks []catalog.Link
	// lineage is the dataset-level lineage to keep when the current run
	// has reported no dataset yet.
	lineage []catalog.Link
	cur     *runState
	touched bool
	// expire removes the job's lineage (Sweep).
	expire bool
}

// loadJob reads what the catalog holds about key: its sticky properties,
// its run readings, its dataset links, and the run in memory (or one
// recovered from those links).
func (s *Service) loadJob(ctx context.Context, key jobKey) (*jobWork, error) {
	jw := &jobWork{key: key, urn: key.urn(), props: catalog.Properties{}}
	ent, err := s.cat.Entity(ctx, jw.urn)
	switch {
	case catalog.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("read job %s: %w", jw.urn, err)
	case !ent.Deleted() && slices.Contains(ent.Sources, SourceOpenLineage):
		for _, k := range stickyJobKeys() {
			if v, ok := ent.Properties[k]; ok {
				jw.props[k] = v
			}
		}
		jw.live = parseLive(ent.Live)
	}
	edges, err := s.cat.Edges(ctx, catalog.EdgeQuery{URN: jw.urn, Direction: catalog.Both, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeProduces}})
	if err != nil {
		return nil, fmt.Errorf("read edges of job %s: %w", jw.urn, err)
	}
	for _, e := range edges {
		c, ok := claimOf(e, SourceOpenLineage)
		if !ok {
			continue
		}
		jw.prevLinks = append(jw.prevLinks, catalog.Link{From: e.From, Kind: e.Kind, To: e.To, Origin: c.Origin, Confidence: c.Confidence, Transform: c.Transform, Masking: c.Masking, Scope: key.scope()})
	}
	sortLinks(jw.prevLinks)
	jw.lineage = jw.prevLinks
	if jw.live.runID != "" {
		if r := s.runs.get(jw.live.runID); r != nil && r.job == key {
			jw.cur = r.clone()
		} else {
			jw.cur = seededRun(key, jw.live, jw.prevLinks)
		}
	}
	return jw, nil
}

// seededRun recovers the latest run of a job whose accumulated state is no
// longer in memory: its datasets are those the job links to now; what the
// run's column lineage said is unknown until a column facet arrives again.
func seededRun(key jobKey, live liveState, links []catalog.Link) *runState {
	r := newRun(key, live.runID, live.runStarted)
	r.state, r.seeded = live.runState, true
	for _, l := range links {
		u, output := l.From, false
		if l.Kind == catalog.EdgeProduces {
			u, output = l.To, true
		}
		d := r.dataset(datasetRef{URN: u, Kind: u.Kind()}, output)
		d.seeded = true
	}
	return r
}

func claimOf(e catalog.Edge, source string) (catalog.Claim, bool) {
	if e.Deleted() {
		return catalog.Claim{}, false
	}
	for _, c := range e.Claims {
		if c.Source == source {
			return c, true
		}
	}
	return catalog.Claim{}, false
}

// apply folds one event into the job. It returns why the event was ignored,
// or "".
func (jw *jobWork) apply(ctx context.Context, b *batch, ev *olEvent) (string, error) {
	s := b.s
	t := ev.time
	if ev.kind == jobEvent {
		if jw.cur != nil && t.Before(jw.cur.started) {
			return "the JobEvent is older than the job's latest run", nil
		}
		r := newRun(jw.key, "", t)
		r.complete = true
		jw.switchRun(r)
		if err := jw.accumulate(ctx, b.res, ev); err != nil {
			return "", err
		}
		jw.live.runID, jw.live.runState, jw.live.runStarted, jw.live.eventType = "", "", time.Time{}, jobEventTypeMarker
	} else {
		id := strings.ToLower(ev.Run.RunID)
		if jw.cur == nil || jw.cur.runID != id {
			if jw.cur != nil && t.Before(jw.cur.started) {
				return fmt.Sprintf("run %s started before the job's latest run %s", id, jw.cur.runID), nil
			}
			next := newRun(jw.key, id, t)
			if r := s.runs.get(id); r != nil && r.job == jw.key {
				next = r.clone()
			}
			jw.switchRun(next)
		}
		r := jw.cur
		if t.Before(r.started) {
			r.started = t
		}
		switch ev.EventType {
		case stateStart, stateRunning, stateComplete, stateFail, stateAbort:
			r.state = ev.EventType
		}
		if ev.EventType == stateComplete {
			r.complete = true
		}
		// A failed or aborted run keeps the last known lineage.
		if ev.EventType != stateFail && ev.EventType != stateAbort {
			if err := jw.accumulate(ctx, b.res, ev); err != nil {
				return "", err
			}
		}
		jw.live.runID, jw.live.runState, jw.live.runStarted = r.runID, r.state, r.started
		jw.live.eventType = ev.EventType
		if jw.live.eventType == "" {
			jw.live.eventType = stateOther
		}
	}
	if t.After(jw.live.lastEventTime) {
		jw.live.lastEventTime = t
	}
	jw.applyJobFacets(ev)
	jw.touched = true
	return "", nil
}

// switchRun makes next the job's current run; the lineage of the run it
// replaces stays until next reports a dataset.
func (jw *jobWork) switchRun(next *runState) {
	if jw.cur != nil && jw.cur.hasDatasets() {
		jw.lineage = jw.cur.datasetLinks(jw.urn, jw.key.scope())
	}
	jw.cur = next
}

// accumulate adds the event's datasets and column lineage to the run.
// Datasets land on their canonical dataset (see aliases.go).
func (jw *jobWork) accumulate(ctx context.Context, res *resolver, ev *olEvent) error {
	r := jw.cur
	for i := range ev.Inputs {
		d := &ev.Inputs[i]
		ref, err := res.resolve(ctx, d.Namespace, d.Name, d.symlinks)
		if err != nil {
			return err
		}
		r.dataset(ref, false).absorb(d)
	}
	for i := range ev.Outputs {
		d := &ev.Outputs[i]
		ref, err := res.resolve(ctx, d.Namespace, d.Name, d.symlinks)
		if err != nil {
			return err
		}
		r.dataset(ref, true).absorb(d)
		if d.columns != nil {
			if err := r.setColumns(ctx, ref, d.columns, res); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *datasetInfo) absorb(ds *olDataset) {
	if f := ds.schema; f != nil {
		if f.Deleted {
			d.schema, d.hasSchema = nil, false
		} else {
			d.schema, d.hasSchema = f.Fields, true
		}
	}
	if f := ds.doc; f != nil {
		d.description, d.hasDescription = f.Description, true
		if f.Deleted {
			d.description = ""
		}
	}
}

// setColumns replaces what the run knows about the column lineage of the
// output dataset out with facet (a facet replaces its previous instance).
func (r *runState) setColumns(ctx context.Context, out datasetRef, facet *columnLineageFacet, res *resolver) error {
	r.hasColumns = true
	for k, e := range r.columns {
		if e.output == out.URN {
			delete(r.columns, k)
		}
	}
	if facet.Deleted {
		return nil
	}
	outFields := make([]string, 0, len(facet.Fields))
	for f := range facet.Fields {
		outFields = append(outFields, f)
	}
	sort.Strings(outFields)
	for _, of := range outFields {
		f := facet.Fields[of]
		to := out.fieldURN(of)
		for _, in := range f.InputFields {
			inRef, err := res.resolve(ctx, in.Namespace, in.Name, nil)
			if err != nil {
				return err
			}
			r.dataset(inRef, false)
			from := inRef.fieldURN(in.Field)
			if from == to {
				continue // an in-place update of a column is no lineage
			}
			k := catalog.EdgeKey{From: from, Kind: catalog.EdgeDerives, To: to}
			e := r.columns[k]
			if e == nil {
				e = &columnEdge{key: k, output: out.URN, outPath: of, input: inRef.URN, inPath: in.Field}
				r.columns[k] = e
			}
			e.add(in.Transformations, f.TransformationType, f.TransformationDescription)
		}
	}
	return nil
}

// add records the transformations of one input-field mapping. Transform
// lists "TYPE/SUBTYPE (description)" per transformation; the deprecated
// field-level transformationType/Description stand in when an input field
// has none. Only DIRECT transformations carry data, so the edge masks when
// at least one DIRECT transformation does and none passes data unmasked.
func (e *columnEdge) add(ts []transformation, legacyType, legacyDesc string) {
	addText := func(s string) {
		if s != "" && !slices.Contains(e.transforms, s) {
			e.transforms = append(e.transforms, s)
		}
	}
	if len(ts) == 0 {
		text := legacyType
		if legacyDesc != "" {
			text = strings.TrimSpace(text + " (" + legacyDesc + ")")
		}
		addText(text)
		switch strings.ToUpper(legacyType) {
		case "MASKED":
			e.directMasked = true
		case "IDENTITY":
			e.directClear = true
		}
		return
	}
	for _, t := range ts {
		text := t.Type
		if t.Subtype != "" {
			text += "/" + t.Subtype
		}
		if t.Description != "" {
			text += " (" + t.Description + ")"
		}
		addText(text)
		if strings.EqualFold(t.Type, "INDIRECT") {
			continue
		}
		if t.Masking {
			e.directMasked = true
		} else {
			e.directClear = true
		}
	}
}

// applyJobFacets updates the job's sticky properties: a facet present in
// the event replaces what the previous one said; an absent facet changes
// nothing; a facet with "_deleted": true removes it.
func (jw *jobWork) applyJobFacets(ev *olEvent) {
	p := jw.props
	set := func(k, v string) {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	if ev.Producer != "" {
		p["producer"] = ev.Producer
	}
	j := &ev.Job
	if f := j.jobType; f != nil {
		if f.Deleted {
			*f = jobTypeFacet{}
		}
		set("processingType", f.ProcessingType)
		set("integration", f.Integration)
		set("jobType", f.JobType)
	}
	if f := j.doc; f != nil {
		if f.Deleted {
			f.Description = ""
		}
		set("description", f.Description)
	}
	if f := j.sql; f != nil {
		q := f.Query
		if f.Deleted {
			q = ""
		}
		if len(q) > maxSQLBytes {
			q = truncateUTF8(q, maxSQLBytes) + "…"
		}
		set("sql", q)
	}
	if f := j.sourceCode; f != nil {
		u := f.URL
		if f.Deleted {
			u = ""
		}
		set("sourceCodeLocation", u)
	}
}

func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// asset is the JOB as the openlineage source asserts it.
func (jw *jobWork) asset() catalog.Asset {
	props := catalog.Properties{"namespace": jw.key.namespace, "name": jw.key.name}
	for k, v := range jw.props {
		props[k] = v
	}
	desc, _ := props["description"].(string)
	live := catalog.Properties{}
	if !jw.live.lastEventTime.IsZero() {
		live[liveLastEventTime] = jw.live.lastEventTime.UTC().Format(time.RFC3339Nano)
	}
	if jw.live.runID != "" {
		live[liveRunID] = jw.live.runID
		live[liveRunState] = jw.live.runState
		live[liveRunStartedAt] = jw.live.runStarted.UTC().Format(time.RFC3339Nano)
	}
	if jw.live.eventType != "" {
		live[liveEventType] = jw.live.eventType
	}
	return catalog.Asset{URN: jw.urn, Name: jw.key.name, Description: desc, Properties: props, Live: live, Scope: jw.key.scope()}
}

// currentLinks are the dataset-level links the job asserts after the
// batch: the current run's datasets once it reported any, else the lineage
// it had.
func (jw *jobWork) currentLinks() []catalog.Link {
	if jw.cur != nil && jw.cur.hasDatasets() {
		return jw.cur.datasetLinks(jw.urn, jw.key.scope())
	}
	return jw.lineage
}

// datasetEnd is the dataset side of a job's CONSUMES or PRODUCES link.
func datasetEnd(l catalog.Link) catalog.URN {
	if l.Kind == catalog.EdgeConsumes {
		return l.From
	}
	return l.To
}

func sortLinks(ls []catalog.Link) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.From != b.From {
			return a.From < b.From
		}
		return a.To < b.To
	})
}
