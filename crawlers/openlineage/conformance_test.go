package openlineage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/watershed-data/watershed/catalog"
)

// The conformance tests run the upstream corpus in testdata/corpus (see its
// README.md): 1,003 OpenLineage events from the spec, its clients, its
// integration tests, its compatibility tests and Marquez, the Kafka Streams
// describe() texts of Kafka's own tests, and the published schemas.
//
// The oracle is upstream's schemas, read from the corpus (not from the
// service's embedded copies), applied as the spec wires them: the core
// OpenLineage.json 2-0-2 (its oneOf of RunEvent, DatasetEvent, JobEvent;
// formats asserted) decides whether an event is valid, and each standard
// facet is checked against its facet schema (the version its _schemaURL
// names, else the newest) the way upstream's compatibility tests do, by
// validating {name: facet} against the facet file. An event the core
// refuses must get a 400 naming the problem that upstream names; every
// other event must be accepted, with a warning for exactly the facets
// upstream's facet schemas refuse, and mapped: its job, its dataset links,
// its column lineage, its schema fields are in the catalog afterwards.

type corpusFile struct {
	name string
	data []byte
}

type manifestRow struct {
	file, kind, tier, scenario string
	seq                        int
	repo, commit, path         string
	note, licence              string
}

type corpus struct {
	files map[string][]byte
	rows  []manifestRow
}

func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	f, err := os.Open("testdata/corpus/corpus.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	c := &corpus{files: map[string][]byte{}}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		c.files[h.Name] = b
	}
	lines := strings.Split(strings.TrimRight(string(c.files["MANIFEST.tsv"]), "\n"), "\n")
	head := strings.Split(lines[0], "\t")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	for _, k := range []string{"file", "kind", "tier", "scenario", "seq", "repo", "commit", "path", "note", "licence"} {
		if _, ok := col[k]; !ok {
			t.Fatalf("MANIFEST.tsv lacks column %q", k)
		}
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, "\t")
		seq, _ := strconv.Atoi(f[col["seq"]])
		c.rows = append(c.rows, manifestRow{
			file: f[col["file"]], kind: f[col["kind"]], tier: f[col["tier"]], scenario: f[col["scenario"]], seq: seq,
			repo: f[col["repo"]], commit: f[col["commit"]], path: f[col["path"]], note: f[col["note"]], licence: f[col["licence"]],
		})
	}
	return c
}

// Every corpus file is in the manifest with its origin and licence, and
// every manifest row names a file of the corpus.
func TestCorpusManifest(t *testing.T) {
	c := loadCorpus(t)
	listed := map[string]bool{}
	kinds := map[string]int{}
	for _, r := range c.rows {
		if _, ok := c.files[r.file]; !ok {
			t.Errorf("MANIFEST lists %s, which the corpus lacks", r.file)
		}
		if r.repo == "" || len(r.commit) != 40 || r.path == "" || r.licence == "" {
			t.Errorf("%s: origin incomplete: %+v", r.file, r)
		}
		listed[r.file] = true
		kinds[r.kind]++
	}
	for name := range c.files {
		if name != "MANIFEST.tsv" && name != "README.md" && !listed[name] {
			t.Errorf("%s is not in MANIFEST.tsv", name)
		}
	}
	if kinds["event"] != 1003 || kinds["topology"] != 85 || kinds["schema"] < 100 {
		t.Errorf("corpus kinds = %v", kinds)
	}
}

// The embedded schemas are upstream's, byte for byte, and every published
// schema of the corpus is embedded (spec/README.md).
func TestEmbeddedSchemasAreUpstream(t *testing.T) {
	c := loadCorpus(t)
	embedded := map[string][]byte{}
	err := fs.WalkDir(specFiles, "spec", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := specFiles.ReadFile(p)
		embedded["schemas/"+strings.TrimPrefix(p, "spec/")] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range embedded {
		up, ok := c.files[name]
		if !ok {
			t.Errorf("%s is embedded but not an upstream schema", name)
		} else if !bytes.Equal(up, b) {
			t.Errorf("%s differs from upstream", name)
		}
	}
	for name := range c.files {
		if strings.HasPrefix(name, "schemas/facets/") || name == "schemas/2-0-2/OpenLineage.json" {
			if _, ok := embedded[name]; !ok {
				t.Errorf("upstream %s is not embedded", name)
			}
		}
	}
	// Every embedded facet schema compiles.
	v, err := newValidator()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k, vs := range v.facets.versions {
		for _, fv := range vs {
			obj := map[string]any{"_schemaURL": fv.id}
			if _, _, ok := v.facets.schema(k.kind, k.name, obj); !ok {
				t.Errorf("facet %s of %s does not compile", k.name, fv.id)
			}
			n++
		}
	}
	if n < 90 {
		t.Errorf("only %d facet schemas", n)
	}
}

// oracle is upstream's verdict on an event.
type oracle struct {
	core    *jsonschema.Schema
	facets  map[facetKey][]oracleFacet
	printer *message.Printer
}

type oracleFacet struct {
	id      string
	version string
	root    *jsonschema.Schema // the facet file: validates {name: facet}
}

func newOracle(t *testing.T, c *corpus) *oracle {
	t.Helper()
	withFormats := jsonschema.NewCompiler()
	withFormats.AssertFormat()
	plain := jsonschema.NewCompiler()
	docs := map[string]any{}
	for name, b := range c.files {
		if !strings.HasPrefix(name, "schemas/") {
			continue
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		id := doc.(map[string]any)["$id"].(string)
		docs[id] = doc
		for _, comp := range []*jsonschema.Compiler{withFormats, plain} {
			comp.DefaultDraft(jsonschema.Draft2020)
			comp.UseLoader(refuseLoader{})
			if err := comp.AddResource(id, doc); err != nil {
				t.Fatal(err)
			}
		}
	}
	o := &oracle{facets: map[facetKey][]oracleFacet{}, printer: message.NewPrinter(language.English)}
	var err error
	if o.core, err = withFormats.Compile("https://openlineage.io/spec/2-0-2/OpenLineage.json"); err != nil {
		t.Fatal(err)
	}
	for id, doc := range docs {
		version, ok := strings.CutPrefix(id, "https://openlineage.io/spec/facets/")
		if !ok {
			continue
		}
		version, _, _ = strings.Cut(version, "/")
		obj := doc.(map[string]any)
		props, _ := obj["properties"].(map[string]any)
		if len(props) != 1 {
			continue
		}
		for name, p := range props {
			def, ok := strings.CutPrefix(fmt.Sprint(p.(map[string]any)["$ref"]), "#/$defs/")
			if !ok {
				continue // LineageFacet: anyOf of a dataset and a job facet
			}
			all, _ := obj["$defs"].(map[string]any)[def].(map[string]any)["allOf"].([]any)
			for _, a := range all {
				ref, _ := a.(map[string]any)["$ref"].(string)
				if _, kind, ok := strings.Cut(ref, "#/$defs/"); ok {
					root, err := plain.Compile(id)
					if err != nil {
						t.Fatalf("compile %s: %v", id, err)
					}
					k := facetKey{kind: kind, name: name}
					o.facets[k] = append(o.facets[k], oracleFacet{id: id, version: version, root: root})
				}
			}
		}
	}
	for _, vs := range o.facets {
		sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i].version, vs[j].version) })
	}
	return o
}

// badFacets returns the pointers of the standard facets upstream's facet
// schemas refuse.
func (o *oracle) badFacets(obj map[string]any) []string {
	var bad []string
	for _, c := range facetContainers(obj) {
		for name, raw := range c.facets {
			vs := o.facets[facetKey{kind: c.kind, name: name}]
			f, _ := raw.(map[string]any)
			if len(vs) == 0 || f["_deleted"] == true {
				continue
			}
			chosen := vs[len(vs)-1]
			if u, ok := f["_schemaURL"].(string); ok {
				base, _, _ := strings.Cut(u, "#")
				for _, v := range vs {
					if v.id == base {
						chosen = v
					}
				}
			}
			if chosen.root.Validate(map[string]any{name: raw}) != nil {
				bad = append(bad, c.ptr+jsonPointer([]string{name}))
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// leaves returns "pointer: message" of every leaf of a validation error.
func (o *oracle) leaves(err error) map[string]bool {
	out := map[string]bool{}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return out
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			out[jsonPointer(e.InstanceLocation)+": "+e.ErrorKind.LocalizedString(o.printer)] = true
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return out
}

var problemRE = regexp.MustCompile(`at ("" \(the event\)|/\S*): (.*?)(?: \(and \d+ more problems?\))?$`)

// serve posts a JSON body to the handler directly (no HTTP round trip: the
// corpus is a thousand requests) and decodes the answer.
func (e *env) serve(path string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req := httptest.NewRequestWithContext(e.ctx, http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.svc.Handler().ServeHTTP(rec, req)
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("answer is not a JSON object: %v: %s", err, rec.Body.Bytes())
	}
	return rec.Code, m
}

// corpusEvent is one event of the corpus in posting order.
type corpusEvent struct {
	row  manifestRow
	body []byte
}

// TestCorpusConformance posts every corpus event, scenario by scenario in
// sequence order, and checks the answer and the catalog against upstream's
// schemas. Scenarios whose jobs another scenario posted already go to a
// fresh store, so that each is judged on its own.
func TestCorpusConformance(t *testing.T) {
	c := loadCorpus(t)
	o := newOracle(t, c)
	var events []corpusEvent
	for _, r := range c.rows {
		if r.kind == "event" {
			events = append(events, corpusEvent{row: r, body: c.files[r.file]})
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		a, b := events[i].row, events[j].row
		if a.scenario != b.scenario {
			return a.scenario < b.scenario
		}
		return a.seq < b.seq
	})
	var scenarios [][]corpusEvent
	for i, ev := range events {
		if i == 0 || ev.row.scenario != events[i-1].row.scenario {
			scenarios = append(scenarios, nil)
		}
		scenarios[len(scenarios)-1] = append(scenarios[len(scenarios)-1], ev)
	}

	// Scenarios that share no job share a store (greedily, in order, at most
	// 150 events a store): each scenario's jobs see only its own events.
	type group struct {
		jobs   map[string]bool
		events []corpusEvent
	}
	var groups []*group
	for _, sc := range scenarios {
		jobs := scenarioJobs(sc)
		var g *group
		for _, cand := range groups {
			free := len(cand.events)+len(sc) <= 20
			for j := range jobs {
				free = free && !cand.jobs[j]
			}
			if free {
				g = cand
				break
			}
		}
		if g == nil {
			g = &group{jobs: map[string]bool{}}
			groups = append(groups, g)
		}
		for j := range jobs {
			g.jobs[j] = true
		}
		g.events = append(g.events, sc...)
	}
	var mu sync.Mutex
	var accepted, refused, warned int
	var st mappingStats
	t.Run("stores", func(t *testing.T) {
		for i, g := range groups {
			t.Run(fmt.Sprintf("%02d-%s", i, g.events[0].row.scenario), func(t *testing.T) {
				t.Parallel()
				// A clock after every corpus event: no eventTime is clamped.
				e := newEnvWith(t, envOptions{base: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), noSync: true}, nil)
				defer e.close()
				for _, ev := range g.events {
					verdict := checkCorpusEvent(t, e, o, ev, &st)
					mu.Lock()
					switch verdict {
					case "accepted":
						accepted++
					case "warned":
						accepted++
						warned++
					case "refused":
						refused++
					}
					mu.Unlock()
				}
			})
		}
	})
	t.Logf("%d events: %d accepted (%d with ignored facets), %d refused; %d scenarios in %d stores", len(events), accepted, warned, refused, len(scenarios), len(groups))
	if accepted+refused != len(events) || accepted < 900 {
		t.Errorf("accepted %d, refused %d of %d", accepted, refused, len(events))
	}
	t.Logf("checked: %d jobs (%d failed or aborted runs), %d dataset links, %d column links, %d schema fields, %d DatasetEvents; %d events ignored as older runs",
		st.jobs.Load(), st.failed.Load(), st.datasetLinks.Load(), st.columnLinks.Load(), st.schemaFields.Load(), st.datasetEvents.Load(), st.ignored.Load())
	if st.jobs.Load() < 900 || st.datasetLinks.Load() < 800 || st.columnLinks.Load() < 300 || st.schemaFields.Load() < 1400 || st.datasetEvents.Load() < 1 {
		t.Error("the corpus checked fewer mapping facts than it holds")
	}
}

func scenarioJobs(sc []corpusEvent) map[string]bool {
	out := map[string]bool{}
	for _, ev := range sc {
		var probe struct {
			Job struct{ Namespace, Name string }
		}
		if json.Unmarshal(ev.body, &probe) == nil {
			out[strings.TrimSpace(probe.Job.Namespace)+"\x00"+strings.TrimSpace(probe.Job.Name)] = true
		}
	}
	return out
}

// mappingStats counts the mapping facts checked, so that the checks cannot
// pass by checking nothing.
type mappingStats struct {
	jobs, datasetLinks, columnLinks, schemaFields, datasetEvents, ignored, failed atomic.Int64
}

// checkCorpusEvent posts one event and checks the verdict and the mapping.
func checkCorpusEvent(t *testing.T, e *env, o *oracle, ev corpusEvent, st *mappingStats) string {
	t.Helper()
	name := ev.row.file
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ev.body))
	status, m := e.serve(LineagePath, ev.body)
	msg, _ := m["error"].(string)
	if err != nil {
		if status != http.StatusBadRequest || !strings.HasPrefix(msg, "request body is not JSON") {
			t.Errorf("%s is not JSON: %d %v", name, status, m)
		}
		return "refused"
	}
	obj, _ := doc.(map[string]any)
	if cerr := o.core.Validate(doc); cerr != nil {
		if status != http.StatusBadRequest {
			t.Errorf("%s: upstream refuses it (%v), the endpoint answered %d %v", name, firstLeaf(o, cerr), status, m)
			return "refused"
		}
		if strings.Contains(msg, "an OpenLineage event is exactly one of") {
			return "refused"
		}
		p := problemRE.FindStringSubmatch(msg)
		if p == nil {
			t.Errorf("%s: the error names no problem: %q", name, msg)
			return "refused"
		}
		ptr := p[1]
		if strings.HasPrefix(ptr, `""`) {
			ptr = ""
		}
		if !o.leaves(cerr)[ptr+": "+p[2]] {
			t.Errorf("%s: the error %q names a problem upstream does not report; upstream: %v", name, msg, o.leaves(cerr))
		}
		return "refused"
	}
	if status != http.StatusCreated {
		t.Errorf("%s: upstream accepts it, the endpoint answered %d %v", name, status, m)
		return "refused"
	}
	bad := o.badFacets(obj)
	var warned []string
	ws, _ := m["warnings"].([]any)
	for _, w := range ws {
		wm := w.(map[string]any)
		warned = append(warned, wm["at"].(string))
		if wmsg, _ := wm["message"].(string); !strings.HasSuffix(wmsg, "; the facet is ignored") || !strings.Contains(wmsg, " at ") {
			t.Errorf("%s: warning %q does not say what and where", name, wmsg)
		}
	}
	sort.Strings(warned)
	if strings.Join(warned, " ") != strings.Join(bad, " ") {
		t.Errorf("%s: warnings at %v, upstream's facet schemas refuse %v", name, warned, bad)
	}
	skip := map[string]bool{}
	for _, b := range bad {
		skip[b] = true
	}
	checkMapped(t, e, name, obj, m, skip, st)
	if len(bad) > 0 {
		return "warned"
	}
	return "accepted"
}

func firstLeaf(o *oracle, err error) string {
	var ls []string
	for l := range o.leaves(err) {
		ls = append(ls, l)
	}
	sort.Strings(ls)
	if len(ls) == 0 {
		return err.Error()
	}
	return ls[0]
}

// checkMapped checks what an accepted event put in the catalog.
func checkMapped(t *testing.T, e *env, name string, obj map[string]any, answer map[string]any, skip map[string]bool, st *mappingStats) {
	t.Helper()
	if ign, _ := answer["ignored"].([]any); len(ign) > 0 {
		reason, _ := ign[0].(map[string]any)["reason"].(string)
		if len(ign) != 1 || reason == "" {
			t.Errorf("%s: ignored = %v", name, ign)
		}
		if answer["changes"] != float64(0) {
			t.Errorf("%s: an ignored event changed %v", name, answer["changes"])
		}
		st.ignored.Add(1)
		return
	}
	str := func(m any, k string) string { s, _ := m.(map[string]any)[k].(string); return s }
	facets := func(ds any, ptr string) map[string]any {
		f, _ := ds.(map[string]any)["facets"].(map[string]any)
		out := map[string]any{}
		for k, v := range f {
			if !skip[ptr+"/facets/"+k] {
				out[k] = v
			}
		}
		return out
	}
	canonical := func(ds any, ptr string) datasetRef {
		var sl *symlinksFacet
		if raw, ok := facets(ds, ptr)["symlinks"]; ok {
			b, _ := json.Marshal(raw)
			sl = &symlinksFacet{}
			if json.Unmarshal(b, sl) != nil {
				sl = nil
			}
		}
		r := newResolver(e.svc)
		ref, err := r.resolve(e.ctx, str(ds, "namespace"), str(ds, "name"), sl)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ref.URN.Validate() != nil {
			t.Errorf("%s: %s is not a valid URN", name, ref.URN)
		}
		return ref
	}
	checkSchema := func(ref datasetRef, ds any, ptr string) {
		sch, ok := facets(ds, ptr)["schema"].(map[string]any)
		if !ok || !ref.owned() || sch["_deleted"] == true {
			return
		}
		fields, _ := sch["fields"].([]any)
		for _, f := range fields {
			fu := ref.fieldURN(str(f, "name"))
			if _, ok := e.edge(catalog.EdgeKey{From: ref.URN, Kind: catalog.EdgeContains, To: fu}); !ok {
				t.Errorf("%s: schema field %s of %s not recorded", name, fu, ref.URN)
			}
			st.schemaFields.Add(1)
		}
	}
	hasClaim := func(k catalog.EdgeKey) bool {
		ed, ok := e.edge(k)
		if !ok || ed.Deleted() {
			return false
		}
		_, ok = claimOf(ed, SourceOpenLineage)
		return ok
	}

	if classify(obj) == datasetEvent {
		ds := obj["dataset"]
		ref := canonical(ds, "/dataset")
		if fmt.Sprint(answer["datasets"]) != "["+string(ref.URN)+"]" {
			t.Errorf("%s: datasets = %v, want %s", name, answer["datasets"], ref.URN)
		}
		ent, ok := e.entity(ref.URN)
		if !ok || ent.Live[liveLastEventTime] == nil || !slices.Contains(ent.Sources, SourceOpenLineage) {
			t.Errorf("%s: dataset %s = %+v", name, ref.URN, ent)
		}
		checkSchema(ref, ds, "/dataset")
		st.datasetEvents.Add(1)
		return
	}

	job := JobURN(strings.TrimSpace(str(obj["job"], "namespace")), strings.TrimSpace(str(obj["job"], "name")))
	ent, ok := e.entity(job)
	if !ok || !slices.Contains(ent.Sources, SourceOpenLineage) {
		t.Errorf("%s: job %s not recorded", name, job)
		return
	}
	eventType, _ := obj["eventType"].(string)
	switch {
	case classify(obj) == jobEvent:
		eventType = jobEventTypeMarker
	case eventType == "":
		eventType = stateOther
	}
	if ent.Live[liveEventType] != eventType {
		t.Errorf("%s: latestEventType = %v, want %s", name, ent.Live[liveEventType], eventType)
	}
	st.jobs.Add(1)
	if eventType == stateFail || eventType == stateAbort {
		if ent.Live[liveRunState] != eventType {
			t.Errorf("%s: latestRunState = %v", name, ent.Live[liveRunState])
		}
		st.failed.Add(1)
		return // the last known lineage stays
	}
	schemaOf := map[catalog.URN]func(){}
	for _, side := range []string{"inputs", "outputs"} {
		list, _ := obj[side].([]any)
		for i, ds := range list {
			ptr := fmt.Sprintf("/%s/%d", side, i)
			ref := canonical(ds, ptr)
			k := catalog.EdgeKey{From: ref.URN, Kind: catalog.EdgeConsumes, To: job}
			if side == "outputs" {
				k = catalog.EdgeKey{From: job, Kind: catalog.EdgeProduces, To: ref.URN}
			}
			if !hasClaim(k) {
				t.Errorf("%s: %s not recorded", name, k)
			}
			st.datasetLinks.Add(1)
			schemaOf[ref.URN] = func() { checkSchema(ref, ds, ptr) } // the last one of a dataset holds
			if side != "outputs" {
				continue
			}
			cl, ok := facets(ds, ptr)["columnLineage"].(map[string]any)
			if !ok || cl["_deleted"] == true {
				continue
			}
			fields, _ := cl["fields"].(map[string]any)
			for out, f := range fields {
				to := ref.fieldURN(out)
				ins, _ := f.(map[string]any)["inputFields"].([]any)
				for _, in := range ins {
					from := canonical(in, "").fieldURN(str(in, "field"))
					if from == to {
						continue
					}
					if k := (catalog.EdgeKey{From: from, Kind: catalog.EdgeDerives, To: to}); !hasClaim(k) {
						t.Errorf("%s: column lineage %s not recorded", name, k)
					}
					st.columnLinks.Add(1)
				}
			}
		}
	}
	for _, check := range schemaOf {
		check()
	}
}

var (
	sourceLineRE = regexp.MustCompile(`^\s*Source:\s+\S+\s+\(topics:\s*\[([^\]]*)\]\)`)
	sinkLineRE   = regexp.MustCompile(`^\s*Sink:\s+\S+\s+\(topic:\s*([^)\s]+)\)`)
)

// Every describe() text of Kafka's own tests parses, and a post of it links
// the topics its Source and Sink lines name. The hand-abbreviated snippets
// of Kafka's docs (tier "docs") name successors they never declare: they
// are not describe() texts, and are refused with the line.
func TestCorpusTopologies(t *testing.T) {
	c := loadCorpus(t)
	e := newEnvWith(t, envOptions{noSync: true}, nil)
	n := 0
	for _, r := range c.rows {
		if r.kind != "topology" {
			continue
		}
		n++
		text := string(c.files[r.file])
		app := strings.NewReplacer(".txt", "", "topologies/", "").Replace(r.file)
		body, _ := json.Marshal(TopologyRequest{ApplicationID: app, Cluster: "prod", Topology: text})
		status, m := e.serve(TopologiesPath, body)
		if r.tier == "docs" {
			if msg, _ := m["error"].(string); status != http.StatusBadRequest || m["line"] == nil || !strings.Contains(msg, "malformed topology: line") {
				t.Errorf("%s (abbreviated): %d %v", r.file, status, m)
			}
			continue
		}
		if status != http.StatusCreated {
			t.Errorf("%s: %d %v", r.file, status, m)
			continue
		}
		if _, err := parseTopology(text); err != nil {
			t.Errorf("%s: %v", r.file, err)
		}
		got := map[string]bool{}
		for _, k := range []string{"sourceTopics", "sinkTopics", "internalTopics"} {
			list, _ := m[k].([]any)
			for _, x := range list {
				got[x.(string)] = true
			}
		}
		for _, line := range strings.Split(text, "\n") {
			var topics []string
			if s := sourceLineRE.FindStringSubmatch(line); s != nil {
				for _, tp := range strings.Split(s[1], ",") {
					if tp = strings.TrimSpace(tp); tp != "" {
						topics = append(topics, tp)
					}
				}
			}
			if s := sinkLineRE.FindStringSubmatch(line); s != nil {
				topics = append(topics, s[1])
			}
			for _, tp := range topics {
				if !got[tp] && !got[app+"-"+tp] {
					t.Errorf("%s: topic %s of line %q is not linked: %v", r.file, tp, strings.TrimSpace(line), m)
				}
			}
		}
		if ent, ok := e.entity(catalog.StreamsJobURN("prod", app)); !ok || !slices.Contains(ent.Sources, SourceTopology) {
			t.Errorf("%s: job not recorded", r.file)
		}
	}
	if n != 85 {
		t.Errorf("%d topologies", n)
	}
}
