package lineage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/lineage"
)

// The scenario files under testdata/traverse and testdata/impact describe a
// graph and the walks and impact answers expected on it, in a form a
// steward can read:
//
//	# a comment
//	let topic = urn:topic:prod/orders          (then $topic stands for it)
//	load [at=2026-01-01T00:00:00Z]              a complete snapshot of the graph:
//	  $a -CONSUMES-> $b [via=$x] [masking]      an edge (Link.Via makes $x pass-through)
//	  asset $g [state=Stable] [lag=42] [owners=alice,bob]
//	downstream|upstream $a [depth=N] [limit=N] [kinds=TOPIC,JOB] [level=FIELD] [at=TIME] [edges=CONTAINS]
//	  $b 1 [path=$a>$b]                         every reported node with its depth
//	  truncated                                 the limit cut the answer
//	impact $a [depth=N] [limit=N]
//	  [~]$b 2 [fields=$f,$g] [path=…] [state=Stable] [lag=42]
//	                                            every impacted asset with its hops; ~ marks
//	                                            one that is not exact (no field lineage)
//
// Expected lists are complete: a node reported but not listed fails the
// test, and so does a listed node that is missing.

func TestTraverseScenarios(t *testing.T) { runScenarios(t, "testdata/traverse/*.txt") }

func TestImpactScenarios(t *testing.T) { runScenarios(t, "testdata/impact/*.txt") }

func runScenarios(t *testing.T, glob string) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios match %s (%v)", glob, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			runScript(t, f, string(b))
		})
	}
}

// block is one command line and its indented lines.
type block struct {
	line int
	cmd  []string
	body [][]string
	raw  []string
}

var varRef = regexp.MustCompile(`\$[A-Za-z0-9_.\-]+`)

func parseScript(t *testing.T, name, text string) []block {
	vars := map[string]string{}
	var blocks []block
	for i, raw := range strings.Split(text, "\n") {
		line := raw
		if j := strings.Index(line, "#"); j >= 0 {
			line = line[:j]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		expanded := varRef.ReplaceAllStringFunc(line, func(v string) string {
			val, ok := vars[v[1:]]
			if !ok {
				t.Fatalf("%s:%d: undefined %s", name, i+1, v)
			}
			return val
		})
		fields := strings.Fields(expanded)
		if line[0] == ' ' || line[0] == '\t' {
			if len(blocks) == 0 {
				t.Fatalf("%s:%d: indented line outside a block", name, i+1)
			}
			b := &blocks[len(blocks)-1]
			b.body = append(b.body, fields)
			b.raw = append(b.raw, fmt.Sprintf("%s:%d", name, i+1))
			continue
		}
		if fields[0] == "let" {
			if len(fields) != 4 || fields[2] != "=" {
				t.Fatalf("%s:%d: want: let name = value", name, i+1)
			}
			vars[fields[1]] = fields[3]
			continue
		}
		blocks = append(blocks, block{line: i + 1, cmd: fields})
	}
	return blocks
}

// options splits key=value words from the others.
func options(words []string) (map[string]string, []string) {
	opts := map[string]string{}
	var rest []string
	for _, w := range words {
		if k, v, ok := strings.Cut(w, "="); ok {
			opts[k] = v
		} else {
			rest = append(rest, w)
		}
	}
	return opts, rest
}

type scenario struct {
	t     *testing.T
	name  string
	ctx   context.Context
	store *embedded.Store
	now   time.Time
}

// scenarioStart is the store's clock when a scenario begins; `load at=`
// moves it forward.
var scenarioStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func openStore(t *testing.T, now func() time.Time) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir(), NoSync: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

func runScript(t *testing.T, name, text string) {
	sc := &scenario{t: t, name: name, ctx: context.Background(), now: scenarioStart}
	sc.store = openStore(t, func() time.Time { return sc.now })
	for _, b := range parseScript(t, name, text) {
		where := fmt.Sprintf("%s:%d", name, b.line)
		switch b.cmd[0] {
		case "load":
			sc.load(where, b)
		case "downstream", "upstream":
			sc.walk(where, b)
		case "impact":
			sc.impact(where, b)
		default:
			t.Fatalf("%s: unknown command %q", where, b.cmd[0])
		}
	}
}

func parseTime(t *testing.T, where, s string) time.Time {
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return at
}

func atoi(t *testing.T, where, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	return n
}

// load reconciles the block as the complete snapshot of one source.
func (sc *scenario) load(where string, b block) {
	t := sc.t
	opts, _ := options(b.cmd[1:])
	snap := catalog.Snapshot{Source: "scenario"}
	if at, ok := opts["at"]; ok {
		sc.now = parseTime(t, where, at)
	}
	assets := map[catalog.URN]*catalog.Asset{}
	asset := func(u string) *catalog.Asset {
		a := assets[catalog.URN(u)]
		if a == nil {
			a = &catalog.Asset{URN: catalog.URN(u)}
			assets[a.URN] = a
		}
		return a
	}
	owners := map[catalog.URN][]string{}
	for i, words := range b.body {
		at := b.raw[i]
		if words[0] == "asset" {
			a := asset(words[1])
			o, _ := options(words[2:])
			for k, v := range o {
				switch k {
				case "state":
					if a.Live == nil {
						a.Live = catalog.Properties{}
					}
					a.Live["state"] = v
				case "lag":
					if a.Live == nil {
						a.Live = catalog.Properties{}
					}
					a.Live["totalLag"] = atoi(t, at, v)
				case "owners":
					owners[a.URN] = strings.Split(v, ",")
				default:
					if a.Properties == nil {
						a.Properties = catalog.Properties{}
					}
					a.Properties[k] = v
				}
			}
			continue
		}
		if len(words) < 3 || !strings.HasPrefix(words[1], "-") || !strings.HasSuffix(words[1], "->") {
			t.Fatalf("%s: want: FROM -KIND-> TO [via=URN] [masking]", at)
		}
		l := catalog.Link{From: catalog.URN(words[0]), Kind: catalog.EdgeKind(strings.TrimSuffix(strings.TrimPrefix(words[1], "-"), "->")),
			To: catalog.URN(words[2]), Confidence: 1}
		o, flags := options(words[3:])
		l.Via = catalog.URN(o["via"])
		l.Transform = o["transform"]
		for _, f := range flags {
			if f != "masking" {
				t.Fatalf("%s: unknown flag %q", at, f)
			}
			l.Masking = true
		}
		asset(string(l.From))
		asset(string(l.To))
		snap.Links = append(snap.Links, l)
	}
	for _, a := range assets {
		snap.Assets = append(snap.Assets, *a)
	}
	sort.Slice(snap.Assets, func(i, j int) bool { return snap.Assets[i].URN < snap.Assets[j].URN })
	if _, err := sc.store.Reconcile(sc.ctx, snap, nil); err != nil {
		t.Fatalf("%s: load: %v", where, err)
	}
	for u, list := range owners {
		if _, err := sc.store.Apply(sc.ctx, catalog.Batch{Actor: "test", Mutations: []catalog.Mutation{catalog.SetOwners{URN: u, Owners: list}}}); err != nil {
			t.Fatalf("%s: set owners: %v", where, err)
		}
	}
}

func (sc *scenario) walk(where string, b block) {
	t := sc.t
	opts, rest := options(b.cmd[1:])
	if len(rest) != 1 {
		t.Fatalf("%s: want one start", where)
	}
	q := lineage.Query{Starts: []catalog.URN{catalog.URN(rest[0])}, Direction: catalog.Downstream, Paths: true, Edges: true, Assets: true}
	if b.cmd[0] == "upstream" {
		q.Direction = catalog.Upstream
	}
	for k, v := range opts {
		switch k {
		case "depth":
			q.Depth = atoi(t, where, v)
		case "limit":
			q.Limit = atoi(t, where, v)
		case "level":
			q.Level = lineage.Level(v)
		case "at":
			q.At = parseTime(t, where, v)
		case "kinds":
			for _, k := range strings.Split(v, ",") {
				q.Kinds = append(q.Kinds, catalog.Kind(k))
			}
		case "edges":
			for _, k := range strings.Split(v, ",") {
				q.EdgeKinds = append(q.EdgeKinds, catalog.EdgeKind(k))
			}
		default:
			t.Fatalf("%s: unknown option %s", where, k)
		}
	}
	res, err := lineage.Traverse(sc.ctx, sc.store, q)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if res.Root.URN != q.Starts[0] {
		t.Errorf("%s: root %q, want %q", where, res.Root.URN, q.Starts[0])
	}
	got := map[string]lineage.Node{}
	for _, n := range res.Nodes {
		got[string(n.URN)] = n
		if n.Asset.URN != n.URN {
			t.Errorf("%s: node %s carries asset %q", where, n.URN, n.Asset.URN)
		}
		checkPath(t, where, n.URN, n.Path, q.Starts[0], res.Edges, q.Direction)
	}
	wantTrunc := false
	seen := map[string]bool{}
	for i, words := range b.body {
		at := b.raw[i]
		if words[0] == "truncated" {
			wantTrunc = true
			continue
		}
		if len(words) < 2 {
			t.Fatalf("%s: want: URN DEPTH [path=…]", at)
		}
		seen[words[0]] = true
		n, ok := got[words[0]]
		if !ok {
			t.Errorf("%s: %s not reached (got %s)", at, words[0], nodeList(res.Nodes))
			continue
		}
		if d := atoi(t, at, words[1]); n.Depth != d {
			t.Errorf("%s: %s at depth %d, want %d", at, words[0], n.Depth, d)
		}
		o, _ := options(words[2:])
		if p, ok := o["path"]; ok && joinPath(n.Path) != p {
			t.Errorf("%s: path to %s is %s, want %s", at, words[0], joinPath(n.Path), p)
		}
	}
	for u := range got {
		if !seen[u] {
			t.Errorf("%s: %s reached but not expected", where, u)
		}
	}
	if res.Truncated != wantTrunc {
		t.Errorf("%s: truncated = %v, want %v", where, res.Truncated, wantTrunc)
	}
}

// checkPath verifies that a walk's path runs from the start to u along the
// answer's edges.
func checkPath(t *testing.T, where string, u catalog.URN, path []catalog.URN, start catalog.URN, edges []catalog.Edge, dir catalog.Direction) {
	t.Helper()
	if len(path) < 2 || path[0] != start || path[len(path)-1] != u {
		t.Errorf("%s: path to %s is %v", where, u, path)
		return
	}
	for i := 1; i < len(path); i++ {
		from, to := path[i-1], path[i]
		if dir == catalog.Upstream {
			from, to = to, from
		}
		ok := false
		for _, e := range edges {
			if e.From == from && e.To == to {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: path to %s uses %s → %s, which is not among the answer's edges", where, u, from, to)
		}
	}
}

func joinPath(p []catalog.URN) string {
	s := make([]string, len(p))
	for i, u := range p {
		s[i] = string(u)
	}
	return strings.Join(s, ">")
}

func nodeList(ns []lineage.Node) string {
	var s []string
	for _, n := range ns {
		s = append(s, fmt.Sprintf("%s@%d", n.URN, n.Depth))
	}
	return strings.Join(s, " ")
}

func (sc *scenario) impact(where string, b block) {
	t := sc.t
	opts, rest := options(b.cmd[1:])
	if len(rest) != 1 {
		t.Fatalf("%s: want one root", where)
	}
	q := lineage.ImpactQuery{URN: catalog.URN(rest[0])}
	for k, v := range opts {
		switch k {
		case "depth":
			q.Depth = atoi(t, where, v)
		case "limit":
			q.Limit = atoi(t, where, v)
		default:
			t.Fatalf("%s: unknown option %s", where, k)
		}
	}
	rep, err := lineage.Impact(sc.ctx, sc.store, q)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	checkGroups(t, where, rep)
	got := map[string]lineage.Impacted{}
	for _, im := range rep.All() {
		got[string(im.Asset.URN)] = im
		if len(im.Path) < 2 || im.Path[0] != q.URN || im.Path[len(im.Path)-1] != im.Asset.URN {
			t.Errorf("%s: path of %s is %v", where, im.Asset.URN, im.Path)
		}
	}
	wantTrunc := false
	seen := map[string]bool{}
	for i, words := range b.body {
		at := b.raw[i]
		if words[0] == "truncated" {
			wantTrunc = true
			continue
		}
		if len(words) < 2 {
			t.Fatalf("%s: want: [~]URN HOPS [fields=…] [path=…]", at)
		}
		u, exact := strings.CutPrefix(words[0], "~")
		exact = !exact
		seen[u] = true
		im, ok := got[u]
		if !ok {
			t.Errorf("%s: %s not impacted (got %v)", at, u, rep.All())
			continue
		}
		if h := atoi(t, at, words[1]); im.Hops != h {
			t.Errorf("%s: %s at %d hops, want %d", at, u, im.Hops, h)
		}
		if im.Exact != exact {
			t.Errorf("%s: %s exact = %v, want %v", at, u, im.Exact, exact)
		}
		o, _ := options(words[2:])
		if p, ok := o["path"]; ok && joinPath(im.Path) != p {
			t.Errorf("%s: path to %s is %s, want %s", at, u, joinPath(im.Path), p)
		}
		if f, ok := o["fields"]; ok {
			if g := joinURNs(im.Fields, ","); g != f {
				t.Errorf("%s: fields of %s are %s, want %s", at, u, g, f)
			}
		}
		if s, ok := o["state"]; ok && im.State != s {
			t.Errorf("%s: state of %s is %q, want %q", at, u, im.State, s)
		}
		if l, ok := o["lag"]; ok && (im.Lag == nil || strconv.FormatInt(*im.Lag, 10) != l) {
			t.Errorf("%s: lag of %s is %v, want %s", at, u, im.Lag, l)
		}
		if o2, ok := o["owners"]; ok && strings.Join(im.Asset.Owners, ",") != o2 {
			t.Errorf("%s: owners of %s are %v, want %s", at, u, im.Asset.Owners, o2)
		}
	}
	for u := range got {
		if !seen[u] {
			t.Errorf("%s: %s impacted but not expected (%v)", where, u, got[u])
		}
	}
	if rep.Truncated != wantTrunc {
		t.Errorf("%s: truncated = %v, want %v", where, rep.Truncated, wantTrunc)
	}
}

func joinURNs(us []catalog.URN, sep string) string {
	s := make([]string, len(us))
	for i, u := range us {
		s[i] = string(u)
	}
	return strings.Join(s, sep)
}

// checkGroups verifies that every impacted asset sits in its kind's group.
func checkGroups(t *testing.T, where string, rep lineage.ImpactReport) {
	t.Helper()
	groups := map[string][]lineage.Impacted{
		"consumerGroups": rep.ConsumerGroups, "connectors": rep.Connectors, "jobs": rep.Jobs,
		"datasets": rep.Datasets, "topics": rep.Topics, "fields": rep.Fields, "other": rep.Other,
	}
	want := map[catalog.Kind]string{
		catalog.KindConsumerGroup: "consumerGroups", catalog.KindConnector: "connectors", catalog.KindJob: "jobs",
		catalog.KindTable: "datasets", catalog.KindDataset: "datasets", catalog.KindDatabase: "datasets",
		catalog.KindTopic: "topics", catalog.KindField: "fields", catalog.KindColumn: "fields",
	}
	for name, g := range groups {
		for _, im := range g {
			w := want[im.Asset.Kind]
			if w == "" {
				w = "other"
			}
			if w != name {
				t.Errorf("%s: %s (%s) is in %s, want %s", where, im.Asset.URN, im.Asset.Kind, name, w)
			}
		}
	}
}
