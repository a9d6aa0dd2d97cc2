package lineage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
	"github.com/watershed-data/watershed/schemaparse"
)

// The files under testdata/schemachange describe a registry subject, its
// versions, the topic bound to it and the lineage downstream, then
// candidates and what SchemaChangeImpact must answer for each:
//
//	let dwh = urn:connector:prod-connect/dwh-sink
//	registry [compatibility=FULL]                  the registry (source "sr") and its global level
//	subject NAME [compatibility=BACKWARD] [type=AVRO] [topic=URN part=value]
//	version N                                      a registered version; its text indented below
//	  {"type": "record", …}
//	load                                           lineage, as in the impact scenarios; the latest
//	  $f.email -DERIVES-> $col                     version's fields exist as
//	                                               urn:field:<topic identity>/<part>/<path>
//	candidate [type=AVRO] [subject=NAME]           the proposed schema, indented below
//	expect                                         the whole answer (lists are complete):
//	  compatible true|false  readers true|false  breaking true|false
//	  checked 1,2            message SUBSTRING
//	  change KIND PATH [from=OLD]
//	  consumer VERDICT [~]URN [fields=a,b]         ~: no field lineage says what it reads
//	  error KIND SUBSTRING                         the call fails
func TestSchemaChangeScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/schemachange/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios (%v)", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			runSchemaScript(t, f, string(b))
		})
	}
}

// section is a keyword line with the raw lines indented below it.
type section struct {
	where string
	words []string
	lines []string
}

func parseSections(t *testing.T, name, text string) []section {
	vars := map[string]string{}
	var out []section
	for i, raw := range strings.Split(text, "\n") {
		where := fmt.Sprintf("%s:%d", name, i+1)
		if raw == "" || strings.HasPrefix(raw, "#") {
			continue
		}
		expanded := varRef.ReplaceAllStringFunc(raw, func(v string) string {
			if val, ok := vars[v[1:]]; ok {
				return val
			}
			return v // schema texts may hold a '$'
		})
		if raw[0] == ' ' {
			if len(out) == 0 {
				t.Fatalf("%s: indented line outside a section", where)
			}
			s := &out[len(out)-1]
			s.lines = append(s.lines, strings.TrimPrefix(expanded, "  "))
			continue
		}
		words := strings.Fields(expanded)
		if words[0] == "let" {
			if len(words) != 4 || words[2] != "=" {
				t.Fatalf("%s: want: let name = value", where)
			}
			vars[words[1]] = words[3]
			continue
		}
		out = append(out, section{where: where, words: words})
	}
	return out
}

type schemaScenario struct {
	t *testing.T
	*scenario
	registryProps catalog.Properties
	subjects      map[string]*testSubject
	order         []string
	lineage       section
	haveLineage   bool
}

type testSubject struct {
	name, typ, compat string
	topic             catalog.URN
	part              string
	versions          map[int]string
}

func runSchemaScript(t *testing.T, name, text string) {
	base := &scenario{t: t, name: name, ctx: t.Context(), now: scenarioStart}
	base.store = openStore(t, func() time.Time { return base.now })
	sc := &schemaScenario{t: t, scenario: base, subjects: map[string]*testSubject{}}
	var cur *testSubject
	loaded := false
	var cand section
	for _, s := range parseSections(t, name, text) {
		opts, rest := options(s.words[1:])
		switch s.words[0] {
		case "registry":
			sc.registryProps = catalog.Properties{}
			if c := opts["compatibility"]; c != "" {
				sc.registryProps["compatibility"] = c
			}
		case "subject":
			if loaded {
				t.Fatalf("%s: subjects must come before the first expect", s.where)
			}
			cur = &testSubject{name: rest[0], typ: opts["type"], compat: opts["compatibility"],
				topic: catalog.URN(opts["topic"]), part: opts["part"], versions: map[int]string{}}
			if cur.typ == "" {
				cur.typ = "AVRO"
			}
			if cur.part == "" {
				cur.part = "value"
			}
			sc.subjects[cur.name] = cur
			sc.order = append(sc.order, cur.name)
		case "version":
			if cur == nil {
				t.Fatalf("%s: version before subject", s.where)
			}
			cur.versions[atoi(t, s.where, rest[0])] = strings.Join(s.lines, "\n")
		case "load":
			sc.lineage, sc.haveLineage = s, true
		case "candidate":
			cand = s
		case "expect":
			if !loaded {
				sc.loadAll()
				loaded = true
			}
			sc.check(cand, s)
		default:
			t.Fatalf("%s: unknown section %q", s.where, s.words[0])
		}
	}
}

func fieldURN(topic catalog.URN, part, path string) catalog.URN {
	return catalog.MakeURN(catalog.KindField, topic.Identity()+"/"+part+"/"+catalog.EscapeIdentity(path))
}

// loadAll reconciles the registry (subjects, versions, the bound topics'
// fields of the latest version, as the registry crawler asserts them) and
// the lineage.
func (sc *schemaScenario) loadAll() {
	t := sc.t
	reg := catalog.MakeURN(catalog.KindSchemaRegistry, "sr")
	snap := catalog.Snapshot{Source: "sr", Assets: []catalog.Asset{{URN: reg, Name: "sr", Properties: sc.registryProps}}}
	for _, name := range sc.order {
		s := sc.subjects[name]
		su := catalog.MakeURN(catalog.KindSchemaSubject, "sr/"+catalog.EscapeIdentity(name))
		var nums []int
		for v := range s.versions {
			nums = append(nums, v)
		}
		sort.Ints(nums)
		props := catalog.Properties{"schemaType": s.typ, "versions": len(nums)}
		if len(nums) > 0 {
			props["latestVersion"] = nums[len(nums)-1]
		}
		if s.compat != "" {
			props["compatibility"], props["compatibilitySource"] = s.compat, "subject"
		}
		snap.Assets = append(snap.Assets, catalog.Asset{URN: su, Name: name, Properties: props})
		snap.Links = append(snap.Links, catalog.Link{From: reg, Kind: catalog.EdgeContains, To: su, Confidence: 1})
		for _, v := range nums {
			vu := catalog.MakeURN(catalog.KindSchemaVersion, "sr/"+catalog.EscapeIdentity(name)+"/"+strconv.Itoa(v))
			snap.Assets = append(snap.Assets, catalog.Asset{URN: vu, Properties: catalog.Properties{
				"subject": name, "version": v, "schemaType": s.typ, "schema": s.versions[v]}})
			snap.Links = append(snap.Links, catalog.Link{From: su, Kind: catalog.EdgeHasSchema, To: vu, Confidence: 1})
		}
		if s.topic == "" || len(nums) == 0 {
			continue
		}
		latest := nums[len(nums)-1]
		snap.Assets = append(snap.Assets, catalog.Asset{URN: s.topic})
		snap.Links = append(snap.Links, catalog.Link{From: s.topic, Kind: catalog.EdgeHasSchema, To: su, Confidence: 1})
		sch, err := schemaparse.Parse(schemaparse.SchemaType(s.typ), s.versions[latest], nil)
		if err != nil {
			t.Fatalf("subject %s version %d: %v", name, latest, err)
		}
		for _, f := range sch.Fields {
			fu := fieldURN(s.topic, s.part, f.Path)
			parent := s.topic
			if f.Parent != "" {
				parent = fieldURN(s.topic, s.part, f.Parent)
			}
			snap.Assets = append(snap.Assets, catalog.Asset{URN: fu, Name: f.Name, Properties: catalog.Properties{
				"path": f.Path, "part": s.part, "type": f.Type, "subject": name, "version": latest}})
			snap.Links = append(snap.Links, catalog.Link{From: parent, Kind: catalog.EdgeContains, To: fu, Confidence: 1})
		}
	}
	if _, err := sc.store.Reconcile(sc.ctx, snap, nil); err != nil {
		t.Fatalf("load registry: %v", err)
	}
	if sc.haveLineage {
		b := block{cmd: []string{"load"}}
		for _, l := range sc.lineage.lines {
			b.body = append(b.body, strings.Fields(l))
			b.raw = append(b.raw, sc.lineage.where)
		}
		sc.load(sc.lineage.where, b)
	}
}

func (sc *schemaScenario) check(cand, exp section) {
	t := sc.t
	where := exp.where
	opts, _ := options(cand.words[1:])
	subject := opts["subject"]
	if subject == "" {
		subject = sc.order[0]
	}
	rep, err := lineage.SchemaChangeImpact(sc.ctx, sc.store, lineage.SchemaChangeQuery{
		Subject: subject, Registry: opts["registry"], Schema: strings.Join(cand.lines, "\n"), SchemaType: opts["type"]})
	var wantChanges, gotChanges, wantConsumers, gotConsumers []string
	for _, l := range exp.lines {
		w := strings.Fields(l)
		switch w[0] {
		case "error":
			if err == nil {
				t.Errorf("%s: no error, want %s %q", where, w[1], strings.Join(w[2:], " "))
				return
			}
			if k := catalog.KindOf(err).Code(); k != w[1] || !strings.Contains(err.Error(), strings.Join(w[2:], " ")) {
				t.Errorf("%s: error %s %q, want %s containing %q", where, k, err, w[1], strings.Join(w[2:], " "))
			}
			return
		}
	}
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	for _, c := range rep.Changes {
		s := string(c.Kind) + " " + c.Path
		if c.PreviousPath != "" {
			s += " from=" + c.PreviousPath
		}
		gotChanges = append(gotChanges, s)
	}
	for _, c := range rep.Consumers {
		gotConsumers = append(gotConsumers, fmt.Sprintf("%s %s fields=%s lineage=%v", c.Verdict, c.Asset.URN, strings.Join(c.Fields, ","), c.FieldLineage))
		if c.Reason == "" {
			t.Errorf("%s: %s has no reason", where, c.Asset.URN)
		}
	}
	for _, l := range exp.lines {
		w := strings.Fields(l)
		switch w[0] {
		case "compatible":
			if fmt.Sprint(rep.Compatibility.Compatible) != w[1] {
				t.Errorf("%s: compatible = %v, want %s (%v)", where, rep.Compatibility.Compatible, w[1], rep.Compatibility.Messages)
			}
		case "readers":
			if fmt.Sprint(rep.Compatibility.ReadersCompatible) != w[1] {
				t.Errorf("%s: readers compatible = %v, want %s (%v)", where, rep.Compatibility.ReadersCompatible, w[1], rep.Compatibility.ReaderMessages)
			}
		case "breaking":
			if fmt.Sprint(rep.Breaking) != w[1] {
				t.Errorf("%s: breaking = %v, want %s", where, rep.Breaking, w[1])
			}
		case "level":
			if got := rep.Compatibility.Level + " " + rep.Compatibility.LevelSource; got != strings.Join(w[1:], " ") {
				t.Errorf("%s: level %q, want %q", where, got, strings.Join(w[1:], " "))
			}
		case "checked":
			var got []string
			for _, v := range rep.Compatibility.Checked {
				got = append(got, strconv.Itoa(v))
			}
			if strings.Join(got, ",") != strings.Join(w[1:], "") {
				t.Errorf("%s: checked %v, want %s", where, got, strings.Join(w[1:], ""))
			}
		case "message":
			sub := strings.Join(w[1:], " ")
			found := false
			for _, m := range rep.Compatibility.Messages {
				found = found || strings.Contains(m, sub)
			}
			if !found {
				t.Errorf("%s: no message contains %q: %q", where, sub, rep.Compatibility.Messages)
			}
		case "change":
			wantChanges = append(wantChanges, strings.Join(w[1:], " "))
		case "consumer":
			o, rest := options(w[1:])
			u, coarse := strings.CutPrefix(rest[1], "~")
			wantConsumers = append(wantConsumers, fmt.Sprintf("%s %s fields=%s lineage=%v", rest[0], u, o["fields"], !coarse))
		default:
			t.Fatalf("%s: unknown expectation %q", where, w[0])
		}
	}
	compare(t, where, "changes", gotChanges, wantChanges)
	compare(t, where, "consumers", gotConsumers, wantConsumers)
}

// compare reports the differences between two lists, order ignored.
func compare(t *testing.T, where, what string, got, want []string) {
	t.Helper()
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	for _, s := range want {
		if !g[s] {
			t.Errorf("%s: %s lack %q\n\tgot: %s", where, what, s, strings.Join(got, "\n\t     "))
		}
	}
	for _, s := range got {
		if !w[s] {
			t.Errorf("%s: %s hold unexpected %q", where, what, s)
		}
	}
}
