// Package lineagetest runs propagation scenarios written as scripts, in the
// style of Prometheus's promqltest: a graph, then steps that change it, then
// expectations a data steward can read. Each script runs against a real
// embedded store with the real Propagator following the change log; after
// every step the runner waits until propagation has handled it, and checks
// that the incremental state equals a recomputation from scratch.
//
// The language, one command per line ('#' starts a comment):
//
//	load                         the indented lines below are lineage:
//	  A -DERIVES-> B -DERIVES-> C      a chain of edges (manual lineage)
//	  A -DERIVES[masking]-> B          options: masking, via=URN,
//	  A -SINKS[via=urn:connector:x]-> B     transform=T, block=C1|C2
//	  T contains F1 F2             CONTAINS edges from T to each
//	  asset U                      an asset with no edges
//	link EDGES                   add lineage (same syntax as a load line)
//	unlink A -KIND-> B           remove it
//	mask A -KIND-> B / unmask …  mark the edge masking, or not
//	block A -KIND-> B C1|C2      set the edge's block list; unblock clears it
//	classify U C [no-propagate]  attach C to U directly
//	declassify U C
//	delete U / restore U         tombstone U / register it again
//	define C [passes-masking] [no-propagate]
//	expect U C from O [mode M] [path P1 P2 …]
//	expect-not U C [from O]      U carries no C (or none from O), hierarchy aside
//	expect-reach O C             the indented "U MODE" lines below are exactly
//	  U MODE                     what O's C reaches
//	expect-carriers C            the indented URNs are exactly the live assets
//	  U                          a search for C finds (hierarchy included)
//
// Assets named in a load line or a link are registered as manual assets
// when they are unknown. Kinds come from the URN scheme
// (urn:field:…, urn:topic:…, urn:job:…).
package lineagetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/lineage"
)

// RunDir runs every script matching glob (e.g. "testdata/propagation/*.txt") as a
// subtest named after the file.
func RunDir(t *testing.T, glob string) {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no scripts match %s", glob)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			RunScript(t, f, string(b))
		})
	}
}

// Env is a running store and Propagator a script acts on.
type Env struct {
	Store   *embedded.Store
	Changes *changelog.Changelog
	Prop    *lineage.Propagator
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan error
}

// Start opens a store in a temporary directory and runs a Propagator on it
// until the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Env{Store: s, ctx: ctx, cancel: cancel, done: make(chan error, 1)}
	e.Changes = changelog.New(changelog.Options{Log: s, Cursors: s, BatchSize: 64})
	e.Prop = lineage.New(lineage.Options{Graph: s, Writer: s, Subscriber: e.Changes, Resync: -1, ChunkSize: 100})
	go func() { e.done <- e.Prop.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-e.done; err != nil && ctx.Err() == nil {
			t.Errorf("propagator: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return e
}

// Settle waits until the Propagator has handled every entry committed so
// far.
func (e *Env) Settle(t testing.TB) {
	t.Helper()
	head, err := e.Store.LastSeq(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	if err := e.Changes.WaitHandled(ctx, lineage.SubscriptionName, head); err != nil {
		select {
		case perr := <-e.done:
			t.Fatalf("propagator stopped: %v", perr)
		default:
		}
		t.Fatalf("propagation did not catch up with %d: %v", head, err)
	}
}

// CheckFromScratch fails t unless the stored propagated state equals the
// one recomputed from scratch.
func (e *Env) CheckFromScratch(t testing.TB, when string) {
	t.Helper()
	got, err := lineage.Stored(e.ctx, e.Store)
	if err != nil {
		t.Fatal(err)
	}
	want, err := lineage.Desired(e.ctx, e.Store)
	if err != nil {
		t.Fatal(err)
	}
	if d := lineage.Diff(got, want); len(d) > 0 {
		t.Errorf("%s: incremental state differs from a recomputation from scratch:\n  %s", when, strings.Join(d, "\n  "))
	}
}

// RunScript runs one script; name labels its errors.
func RunScript(t *testing.T, name, script string) {
	t.Helper()
	e := Start(t)
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines); i++ {
		line := strip(lines[i])
		if line == "" || isIndented(lines[i]) {
			continue
		}
		at := fmt.Sprintf("%s:%d", name, i+1)
		cmd, rest, _ := strings.Cut(line, " ")
		var block []string
		for i+1 < len(lines) && (isIndented(lines[i+1]) || strip(lines[i+1]) == "") {
			i++
			if l := strip(lines[i]); l != "" {
				block = append(block, l)
			}
		}
		if err := e.step(t, at, cmd, strings.TrimSpace(rest), block); err != nil {
			t.Fatalf("%s: %s: %v", at, line, err)
		}
	}
}

func strip(l string) string {
	if i := strings.IndexByte(l, '#'); i >= 0 {
		l = l[:i]
	}
	return strings.TrimSpace(l)
}

func isIndented(l string) bool {
	return strip(l) != "" && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t"))
}

func (e *Env) apply(muts ...catalog.Mutation) error {
	_, err := e.Store.Apply(e.ctx, catalog.Batch{Actor: "user:script", Mutations: muts})
	return err
}

// step runs one command. Mutating commands settle propagation and check
// the state against a recomputation from scratch.
func (e *Env) step(t *testing.T, at, cmd, rest string, block []string) error {
	t.Helper()
	f := strings.Fields(rest)
	var muts []catalog.Mutation
	switch cmd {
	case "load":
		if len(block) == 0 {
			return fmt.Errorf("load needs indented lines")
		}
		for _, l := range block {
			m, err := e.lineMutations(l)
			if err != nil {
				return fmt.Errorf("%q: %w", l, err)
			}
			muts = append(muts, m...)
		}
	case "link":
		m, err := e.lineMutations(rest)
		if err != nil {
			return err
		}
		muts = m
	case "unlink", "mask", "unmask", "block", "unblock":
		edges, tail, err := parseEdges(f)
		if err != nil {
			return err
		}
		if len(edges) != 1 {
			return fmt.Errorf("%s takes one edge", cmd)
		}
		ed := edges[0]
		switch cmd {
		case "unlink":
			muts = append(muts, catalog.RemoveLineage{From: ed.from, To: ed.to, Kind: ed.kind})
		case "mask", "unmask":
			muts = append(muts, catalog.AddLineage{From: ed.from, To: ed.to, Kind: ed.kind, Masking: cmd == "mask", Via: ed.via, Transform: ed.transform})
		case "block":
			if len(tail) != 1 {
				return fmt.Errorf("block needs one list of classifications (C1|C2)")
			}
			muts = append(muts, catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: ed.from, Kind: ed.kind, To: ed.to}, Block: strings.Split(tail[0], "|")})
		case "unblock":
			muts = append(muts, catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: ed.from, Kind: ed.kind, To: ed.to}})
		}
	case "classify":
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "no-propagate") {
			return fmt.Errorf("usage: classify URN C [no-propagate]")
		}
		m := catalog.Classify{URN: catalog.URN(f[0]), Classification: f[1]}
		if len(f) == 3 {
			no := false
			m.Propagate = &no
		}
		muts = append(muts, m)
	case "declassify":
		if len(f) != 2 {
			return fmt.Errorf("usage: declassify URN C")
		}
		muts = append(muts, catalog.Declassify{URN: catalog.URN(f[0]), Classification: f[1]})
	case "delete":
		for _, u := range f {
			muts = append(muts, catalog.UnregisterAsset{URN: catalog.URN(u)})
		}
	case "restore":
		for _, u := range f {
			muts = append(muts, catalog.RegisterAsset{URN: catalog.URN(u)})
		}
	case "define":
		if len(f) < 1 {
			return fmt.Errorf("usage: define C [passes-masking] [no-propagate]")
		}
		d := catalog.ClassificationDef{Name: f[0], Propagates: true}
		for _, o := range f[1:] {
			switch o {
			case "passes-masking":
				d.PassesMasking = true
			case "no-propagate":
				d.Propagates = false
			default:
				return fmt.Errorf("unknown option %q", o)
			}
		}
		muts = append(muts, catalog.DefineClassification{Def: d})
	case "expect":
		return e.expect(f)
	case "expect-not":
		return e.expectNot(f)
	case "expect-reach":
		return e.expectReach(f, block)
	case "expect-carriers":
		return e.expectCarriers(f, block)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := e.apply(muts...); err != nil {
		return err
	}
	e.Settle(t)
	e.CheckFromScratch(t, at)
	return nil
}

type edgeSpec struct {
	from, to  catalog.URN
	kind      catalog.EdgeKind
	masking   bool
	via       catalog.URN
	transform string
	block     []string
}

// parseEdges reads "A -K-> B -K2[opts]-> C …" from f and returns the edges
// and the words after the last node.
func parseEdges(f []string) ([]edgeSpec, []string, error) {
	if len(f) < 3 {
		return nil, nil, fmt.Errorf("want an edge: A -KIND-> B")
	}
	var out []edgeSpec
	i := 0
	for i+2 < len(f) && strings.HasPrefix(f[i+1], "-") && strings.HasSuffix(f[i+1], "->") {
		spec := strings.TrimSuffix(strings.TrimPrefix(f[i+1], "-"), "->")
		ed := edgeSpec{from: catalog.URN(f[i]), to: catalog.URN(f[i+2])}
		kind, opts, hasOpts := strings.Cut(spec, "[")
		ed.kind = catalog.EdgeKind(kind)
		if !ed.kind.Valid() {
			return nil, nil, fmt.Errorf("unknown edge kind %q", kind)
		}
		if hasOpts {
			opts = strings.TrimSuffix(opts, "]")
			for _, o := range strings.Split(opts, ",") {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "masking":
					ed.masking = true
				case "via":
					ed.via = catalog.URN(v)
				case "transform":
					ed.transform = v
				case "block":
					ed.block = strings.Split(v, "|")
				default:
					return nil, nil, fmt.Errorf("unknown edge option %q", o)
				}
			}
		}
		out = append(out, ed)
		i += 2
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("want an edge: A -KIND-> B, got %q", strings.Join(f, " "))
	}
	return out, f[i+1:], nil
}

// lineMutations turns one load line into mutations, registering unknown
// assets first.
func (e *Env) lineMutations(l string) ([]catalog.Mutation, error) {
	f := strings.Fields(l)
	var muts []catalog.Mutation
	var urns []catalog.URN
	switch {
	case len(f) >= 2 && f[0] == "asset":
		for _, u := range f[1:] {
			urns = append(urns, catalog.URN(u))
		}
	case len(f) >= 3 && f[1] == "contains":
		urns = append(urns, catalog.URN(f[0]))
		for _, c := range f[2:] {
			urns = append(urns, catalog.URN(c))
			muts = append(muts, catalog.AddLineage{From: catalog.URN(f[0]), To: catalog.URN(c), Kind: catalog.EdgeContains})
		}
	default:
		edges, tail, err := parseEdges(f)
		if err != nil {
			return nil, err
		}
		if len(tail) > 0 {
			return nil, fmt.Errorf("unexpected %q after the edges", strings.Join(tail, " "))
		}
		for _, ed := range edges {
			urns = append(urns, ed.from, ed.to)
			if ed.via != "" {
				urns = append(urns, ed.via)
			}
			muts = append(muts, catalog.AddLineage{From: ed.from, To: ed.to, Kind: ed.kind, Masking: ed.masking, Via: ed.via, Transform: ed.transform})
			if len(ed.block) > 0 {
				muts = append(muts, catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: ed.from, Kind: ed.kind, To: ed.to}, Block: ed.block})
			}
		}
	}
	var reg []catalog.Mutation
	seen := map[catalog.URN]bool{}
	for _, u := range urns {
		if seen[u] {
			continue
		}
		seen[u] = true
		if _, err := e.Store.Entity(e.ctx, u); catalog.IsNotFound(err) {
			reg = append(reg, catalog.RegisterAsset{URN: u})
		} else if err != nil {
			return nil, err
		}
	}
	return append(reg, muts...), nil
}

// attachment finds U's propagated attachment of C from O.
func (e *Env) attachment(u catalog.URN, c string, o catalog.URN) (catalog.Attachment, bool, error) {
	ent, err := e.Store.Entity(e.ctx, u)
	if err != nil {
		return catalog.Attachment{}, false, err
	}
	for _, a := range ent.Classifications {
		if !a.Direct() && a.Classification == c && a.Origin == o {
			return a, true, nil
		}
	}
	return catalog.Attachment{}, false, nil
}

func (e *Env) expect(f []string) error {
	if len(f) < 4 || f[2] != "from" {
		return fmt.Errorf("usage: expect URN C from ORIGIN [mode M] [path P…]")
	}
	u, c, o := catalog.URN(f[0]), f[1], catalog.URN(f[3])
	a, ok, err := e.attachment(u, c, o)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s carries no %s from %s; it carries %s", u, c, o, e.describe(u))
	}
	rest := f[4:]
	for len(rest) > 0 {
		switch rest[0] {
		case "mode":
			if len(rest) < 2 {
				return fmt.Errorf("mode needs a value")
			}
			if got := lineage.ModeOf(a.Path); string(got) != rest[1] {
				return fmt.Errorf("%s %s from %s: mode %s (path %v), want %s", u, c, o, got, a.Path, rest[1])
			}
			rest = rest[2:]
		case "path":
			var want []catalog.URN
			for _, p := range rest[1:] {
				want = append(want, catalog.URN(p))
			}
			if !reflect.DeepEqual(a.Path, want) {
				return fmt.Errorf("%s %s from %s: path %v, want %v", u, c, o, a.Path, want)
			}
			rest = nil
		default:
			return fmt.Errorf("unknown expect option %q", rest[0])
		}
	}
	return nil
}

func (e *Env) expectNot(f []string) error {
	if len(f) != 2 && !(len(f) == 4 && f[2] == "from") {
		return fmt.Errorf("usage: expect-not URN C [from ORIGIN]")
	}
	u, c := catalog.URN(f[0]), f[1]
	ent, err := e.Store.Entity(e.ctx, u)
	if err != nil {
		return err
	}
	for _, a := range ent.Classifications {
		if a.Classification != c {
			continue
		}
		if len(f) == 4 && (a.Direct() || a.Origin != catalog.URN(f[3])) {
			continue
		}
		return fmt.Errorf("%s carries %s (%s, origin %s, path %v)", u, c, a.Source, a.Origin, a.Path)
	}
	return nil
}

func (e *Env) expectReach(f []string, block []string) error {
	if len(f) != 2 {
		return fmt.Errorf("usage: expect-reach ORIGIN C, then indented \"URN MODE\" lines")
	}
	o, c := catalog.URN(f[0]), f[1]
	want := map[catalog.URN]string{}
	for _, l := range block {
		w := strings.Fields(l)
		if len(w) != 2 {
			return fmt.Errorf("want \"URN MODE\", got %q", l)
		}
		want[catalog.URN(w[0])] = w[1]
	}
	st, err := lineage.Stored(e.ctx, e.Store)
	if err != nil {
		return err
	}
	got := map[catalog.URN]string{}
	for k, p := range st {
		if k.Origin == o && k.Classification == c {
			got[k.URN] = string(lineage.ModeOf(p))
		}
	}
	if reflect.DeepEqual(got, want) {
		return nil
	}
	var lines []string
	for u, m := range want {
		if got[u] != m {
			lines = append(lines, fmt.Sprintf("want %s %s, got %q", u, m, got[u]))
		}
	}
	for u, m := range got {
		if _, ok := want[u]; !ok {
			lines = append(lines, fmt.Sprintf("unexpected %s %s (path %v)", u, m, st[lineage.Key{URN: u, Origin: o, Classification: c}]))
		}
	}
	sort.Strings(lines)
	return fmt.Errorf("%s from %s:\n  %s", c, o, strings.Join(lines, "\n  "))
}

func (e *Env) describe(u catalog.URN) string {
	ent, err := e.Store.Entity(e.ctx, u)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, a := range ent.Classifications {
		if a.Direct() {
			parts = append(parts, a.Classification+" ("+string(a.Source)+")")
		} else {
			parts = append(parts, fmt.Sprintf("%s from %s", a.Classification, a.Origin))
		}
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

func (e *Env) expectCarriers(f []string, block []string) error {
	if len(f) != 1 {
		return fmt.Errorf("usage: expect-carriers C, then indented URNs")
	}
	res, err := e.Store.Search(e.ctx, catalog.SearchQuery{Classifications: f, Limit: 1000})
	if err != nil {
		return err
	}
	var got, want []string
	for _, ent := range res.Entities {
		got = append(got, string(ent.URN))
	}
	for _, l := range block {
		want = append(want, strings.Fields(l)...)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("carriers of %s:\n  got  %v\n  want %v", f[0], got, want)
	}
	return nil
}
