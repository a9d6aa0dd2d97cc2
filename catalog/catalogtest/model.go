package catalogtest

import (
	"flag"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

var (
	modelOps  = flag.Int("catalog.model.ops", 1500, "operations per model-based test run")
	modelSeed = flag.Int64("catalog.model.seed", 0, "seed of the model-based test (0: random)")
)

// ModelOptions tune RunModel.
type ModelOptions struct {
	// Ops is the number of random operations; zero means -catalog.model.ops.
	Ops int
	// Seed fixes the random sequence; zero means -catalog.model.seed, or a
	// time-based seed. The seed is printed on failure.
	Seed int64
	// ReopenEvery reopens the store every that many operations; zero means 97.
	ReopenEvery int
}

// RunModel applies random reconciles and mutations to a store and to a
// simple in-memory reference, and after every operation compares the
// entities, the edges and the change events each produced.
func RunModel(t *testing.T, h Harness, o ModelOptions) {
	if o.Ops == 0 {
		o.Ops = *modelOps
	}
	if o.Seed == 0 {
		o.Seed = *modelSeed
	}
	if o.Seed == 0 {
		o.Seed = time.Now().UnixNano()
	}
	if o.ReopenEvery == 0 {
		o.ReopenEvery = 97
	}
	t.Logf("model seed %d (rerun with -catalog.model.seed=%d)", o.Seed, o.Seed)
	defer func() {
		if t.Failed() {
			t.Logf("FAILED with model seed %d", o.Seed)
		}
	}()
	rng := rand.New(rand.NewSource(o.Seed))
	e := newEnv(t, h)
	m := newModel()
	for i := 0; i < o.Ops && !t.Failed(); i++ {
		e.clock.Advance(time.Second)
		before := e.head()
		desc, wantChanges, wantErr := m.randomOp(rng, e)
		gotChanges := e.changesSince(before)
		if wantErr {
			if len(gotChanges) != 0 {
				t.Fatalf("op %d %s: failed op wrote %v", i, desc, gotChanges)
			}
		} else if !equalSets(gotChanges, wantChanges) {
			t.Fatalf("op %d %s: changes\n got %v\nwant %v", i, desc, sorted(gotChanges), sorted(wantChanges))
		}
		m.compare(t, e, fmt.Sprintf("op %d %s", i, desc))
		if (i+1)%o.ReopenEvery == 0 {
			e.reopen()
			m.compare(t, e, fmt.Sprintf("after reopen at op %d", i))
		}
	}
}

var (
	modelSources = []string{"s1", "s2", "s3"}
	modelClasses = []string{"PII", "Financial"}
	modelEdges   = []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeProduces, catalog.EdgeDerives}
)

func modelUniverse() []catalog.URN {
	var out []catalog.URN
	for i := 0; i < 10; i++ {
		out = append(out, catalog.URN(fmt.Sprintf("urn:topic:c/t%d", i)))
	}
	for i := 0; i < 5; i++ {
		out = append(out, catalog.URN(fmt.Sprintf("urn:group:c/g%d", i)))
	}
	for i := 0; i < 5; i++ {
		out = append(out, catalog.URN(fmt.Sprintf("urn:field:c/t0/value/f%d", i)))
	}
	return out
}

type mFacet struct {
	props   string // "" or a value 0..2
	classes []string
	scopes  map[string]bool
}

type mEntity struct {
	facets  map[string]mFacet
	desc    string
	direct  map[string]bool // "class/source" → propagate
	created bool            // ever had a record
}

func (e *mEntity) alive() bool { return len(e.facets) > 0 }

type mClaim struct {
	transform string
	scopes    map[string]bool
}

type model struct {
	universe []catalog.URN
	ents     map[catalog.URN]*mEntity
	edges    map[catalog.EdgeKey]map[string]mClaim
	refs     map[catalog.URN]bool // referenced by some edge, ever
}

func newModel() *model {
	return &model{universe: modelUniverse(), ents: map[catalog.URN]*mEntity{}, edges: map[catalog.EdgeKey]map[string]mClaim{}, refs: map[catalog.URN]bool{}}
}

func (m *model) ent(u catalog.URN) *mEntity {
	e := m.ents[u]
	if e == nil {
		e = &mEntity{facets: map[string]mFacet{}, direct: map[string]bool{}}
		m.ents[u] = e
	}
	return e
}

// view is what the model predicts a store shows of an entity.
type mView struct {
	alive   bool
	sources []string
	props   string
	desc    string
	attach  []string // "class/source"
}

func (m *model) view(u catalog.URN) mView {
	e := m.ents[u]
	if e == nil {
		return mView{}
	}
	v := mView{alive: e.alive(), desc: e.desc}
	for s := range e.facets {
		v.sources = append(v.sources, s)
	}
	sort.Strings(v.sources)
	for _, s := range v.sources { // first source by name wins
		if p := e.facets[s].props; p != "" {
			v.props = p
			break
		}
	}
	set := map[string]bool{}
	for _, f := range e.facets {
		for _, c := range f.classes {
			set[c+"/schema-tag"] = true
		}
	}
	for k := range e.direct {
		set[k] = true
	}
	for k := range set {
		v.attach = append(v.attach, k)
	}
	sort.Strings(v.attach)
	return v
}

type mEdgeView struct {
	alive  bool
	claims string
}

func (m *model) edgeView(k catalog.EdgeKey) mEdgeView {
	cs := m.edges[k]
	if len(cs) == 0 {
		return mEdgeView{}
	}
	var parts []string
	for s, c := range cs {
		parts = append(parts, s+"="+c.transform)
	}
	sort.Strings(parts)
	return mEdgeView{alive: true, claims: strings.Join(parts, ",")}
}

// events predicts the change events between two views of an entity.
func entityEvents(u catalog.URN, before, after mView) []string {
	var out []string
	switch {
	case !before.alive && after.alive:
		out = append(out, "asset.created "+string(u))
	case before.alive && !after.alive:
		return []string{"asset.deleted " + string(u)}
	case before.alive && after.alive:
		if before.props != after.props || before.desc != after.desc || !reflect.DeepEqual(before.sources, after.sources) {
			out = append(out, "asset.updated "+string(u))
		}
	}
	if !after.alive {
		return out
	}
	b := map[string]bool{}
	for _, a := range before.attach {
		b[a] = true
	}
	a := map[string]bool{}
	for _, x := range after.attach {
		a[x] = true
		if !b[x] {
			out = append(out, "classification.attached "+string(u))
		}
	}
	for x := range b {
		if !a[x] {
			out = append(out, "classification.detached "+string(u))
		}
	}
	return out
}

func edgeEvents(k catalog.EdgeKey, before, after mEdgeView) []string {
	switch {
	case !before.alive && after.alive:
		return []string{"lineage.edge.added " + string(k.From)}
	case before.alive && !after.alive:
		return []string{"lineage.edge.removed " + string(k.From)}
	case before.alive && after.alive && before.claims != after.claims:
		return []string{"lineage.edge.updated " + string(k.From)}
	}
	return nil
}

// track runs fn and returns the events it should have produced.
func (m *model) track(fn func()) []string {
	views := map[catalog.URN]mView{}
	for _, u := range m.universe {
		views[u] = m.view(u)
	}
	edges := map[catalog.EdgeKey]mEdgeView{}
	for k := range m.edges {
		edges[k] = m.edgeView(k)
	}
	fn()
	var out []string
	for _, u := range m.universe {
		out = append(out, entityEvents(u, views[u], m.view(u))...)
	}
	for k := range m.edges {
		out = append(out, edgeEvents(k, edges[k], m.edgeView(k))...)
	}
	return out
}

func (m *model) pick(rng *rand.Rand) catalog.URN { return m.universe[rng.Intn(len(m.universe))] }

func (m *model) aliveURNs() []catalog.URN {
	var out []catalog.URN
	for _, u := range m.universe {
		if e := m.ents[u]; e != nil && e.alive() {
			out = append(out, u)
		}
	}
	return out
}

// randomOp performs one random operation on the store and the model. It
// returns a description, the expected changes, and whether an error was
// expected (and seen).
func (m *model) randomOp(rng *rand.Rand, e *env) (string, []string, bool) {
	t := e.t
	switch r := rng.Intn(10); {
	case r < 5:
		return m.opReconcile(rng, e)
	case r < 7:
		alive := m.aliveURNs()
		if len(alive) == 0 {
			return m.opReconcile(rng, e)
		}
		u := alive[rng.Intn(len(alive))]
		class := modelClasses[rng.Intn(len(modelClasses))]
		key := class + "/manual"
		if _, has := m.ents[u].direct[key]; has && rng.Intn(2) == 0 {
			want := m.track(func() { delete(m.ents[u].direct, key) })
			e.apply(catalog.Declassify{URN: u, Classification: class})
			return "declassify " + string(u) + " " + class, want, false
		}
		want := m.track(func() { m.ents[u].direct[key] = true })
		e.apply(catalog.Classify{URN: u, Classification: class})
		return "classify " + string(u) + " " + class, want, false
	case r < 8:
		alive := m.aliveURNs()
		if len(alive) == 0 {
			return m.opReconcile(rng, e)
		}
		u := alive[rng.Intn(len(alive))]
		d := []string{"", "a", "b"}[rng.Intn(3)]
		want := m.track(func() { m.ents[u].desc = d })
		e.apply(catalog.SetDescription{URN: u, Description: d})
		return "describe " + string(u) + " " + d, want, false
	case r < 9:
		alive := m.aliveURNs()
		if len(alive) < 2 {
			return m.opReconcile(rng, e)
		}
		from, to := alive[rng.Intn(len(alive))], alive[rng.Intn(len(alive))]
		if from == to {
			return m.opReconcile(rng, e)
		}
		k := catalog.EdgeKey{From: from, Kind: modelEdges[rng.Intn(len(modelEdges))], To: to}
		if _, has := m.edges[k]["manual"]; has {
			want := m.track(func() { delete(m.edges[k], "manual") })
			e.apply(catalog.RemoveLineage{From: k.From, Kind: k.Kind, To: k.To})
			return "remove lineage " + k.String(), want, false
		}
		want := m.track(func() {
			if m.edges[k] == nil {
				m.edges[k] = map[string]mClaim{}
			}
			m.edges[k]["manual"] = mClaim{transform: "manual"}
			m.refs[from], m.refs[to] = true, true
		})
		e.apply(catalog.AddLineage{From: k.From, Kind: k.Kind, To: k.To, Transform: "manual"})
		return "add lineage " + k.String(), want, false
	default:
		// An operation that must fail and change nothing.
		var muts []catalog.Mutation
		var desc string
		switch rng.Intn(3) {
		case 0:
			desc = "classify unknown asset"
			muts = []catalog.Mutation{catalog.Classify{URN: "urn:topic:c/never", Classification: "PII"}}
		case 1:
			desc = "batch whose second mutation is invalid"
			u := m.pick(rng)
			muts = []catalog.Mutation{catalog.SetDescription{URN: u, Description: "x"}, catalog.Classify{URN: u, Classification: "Undefined"}}
		default:
			desc = "lineage to unknown asset"
			muts = []catalog.Mutation{catalog.AddLineage{From: m.pick(rng), Kind: catalog.EdgeConsumes, To: "urn:group:c/never"}}
		}
		if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: muts}); err == nil {
			t.Fatalf("%s: no error", desc)
		}
		return desc, nil, true
	}
}

func scopeSet(ss ...string) map[string]bool {
	out := map[string]bool{}
	for _, s := range ss {
		out[s] = true
	}
	return out
}

// retainedScopes returns the scopes of an earlier assertion that a snapshot
// limited to limited (all when empty) with the given incomplete scopes does
// not speak for.
func retainedScopes(old, limited, incomplete map[string]bool) map[string]bool {
	out := map[string]bool{}
	for s := range old {
		if incomplete[s] || (len(limited) > 0 && !limited[s]) {
			out[s] = true
		}
	}
	return out
}

func union(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for s := range a {
		out[s] = true
	}
	for s := range b {
		out[s] = true
	}
	return out
}

func (m *model) opReconcile(rng *rand.Rand, e *env) (string, []string, bool) {
	src := modelSources[rng.Intn(len(modelSources))]
	snap := catalog.Snapshot{Source: src}
	all := []string{"sc0", "sc1", "sc2"}
	allowed := all
	limited := map[string]bool{}
	if rng.Intn(4) == 0 {
		// A push-style snapshot that speaks only for some scopes.
		allowed = nil
		for _, sc := range all {
			if rng.Intn(2) == 0 {
				allowed = append(allowed, sc)
			}
		}
		if len(allowed) == 0 {
			allowed = []string{all[rng.Intn(3)]}
		}
		snap.Scopes = allowed
		limited = scopeSet(allowed...)
	}
	pickScopes := func() []string {
		out := []string{allowed[rng.Intn(len(allowed))]}
		if rng.Intn(3) == 0 {
			out = append(out, allowed[rng.Intn(len(allowed))])
		}
		return out
	}
	present := map[catalog.URN]mFacet{}
	for _, u := range m.universe {
		if rng.Intn(2) == 0 {
			continue
		}
		scopes := pickScopes()
		f := mFacet{scopes: scopeSet(scopes...)}
		a := catalog.Asset{URN: u, Scope: scopes[0]}
		if v := rng.Intn(4); v > 0 {
			f.props = fmt.Sprint(v - 1)
			a.Properties = catalog.Properties{"p": v - 1}
		}
		if rng.Intn(5) == 0 {
			c := modelClasses[rng.Intn(len(modelClasses))]
			f.classes = []string{c}
			a.Classifications = []catalog.SourceClassification{{Name: c, Source: catalog.AttachSchemaTag}}
		}
		present[u] = f
		snap.Assets = append(snap.Assets, a)
		for _, sc := range scopes[1:] { // the same asset asserted under another scope
			snap.Assets = append(snap.Assets, catalog.Asset{URN: u, Scope: sc})
		}
	}
	links := map[catalog.EdgeKey]mClaim{}
	for i := 0; i < rng.Intn(8); i++ {
		from, to := m.pick(rng), m.pick(rng)
		if from == to {
			continue
		}
		k := catalog.EdgeKey{From: from, Kind: modelEdges[rng.Intn(len(modelEdges))], To: to}
		if _, dup := links[k]; dup {
			continue
		}
		scopes := pickScopes()
		c := mClaim{transform: []string{"", "smt"}[rng.Intn(2)], scopes: scopeSet(scopes...)}
		links[k] = c
		for _, sc := range scopes {
			snap.Links = append(snap.Links, catalog.Link{From: k.From, Kind: k.Kind, To: k.To, Transform: c.transform, Scope: sc, Confidence: 1})
		}
	}
	incomplete := map[string]bool{}
	if rng.Intn(3) == 0 {
		sc := all[rng.Intn(3)]
		incomplete[sc] = true
		snap.Incomplete = map[string]string{sc: "test"}
	}
	want := m.track(func() {
		for _, u := range m.universe {
			ent := m.ents[u]
			var old mFacet
			var had bool
			if ent != nil {
				old, had = ent.facets[src]
			}
			var kept map[string]bool
			if had {
				kept = retainedScopes(old.scopes, limited, incomplete)
			}
			if f, now := present[u]; now {
				f.scopes = union(f.scopes, kept)
				m.ent(u).facets[src] = f
				m.ents[u].created = true
				continue
			}
			if !had {
				continue
			}
			if len(kept) > 0 {
				old.scopes = kept
				ent.facets[src] = old
			} else {
				delete(ent.facets, src)
			}
		}
		for k, cs := range m.edges {
			c, had := cs[src]
			if !had {
				continue
			}
			kept := retainedScopes(c.scopes, limited, incomplete)
			if nc, now := links[k]; now {
				nc.scopes = union(nc.scopes, kept)
				links[k] = nc
				continue
			}
			if len(kept) > 0 {
				c.scopes = kept
				cs[src] = c
			} else {
				delete(cs, src)
			}
		}
		for k, c := range links {
			if m.edges[k] == nil {
				m.edges[k] = map[string]mClaim{}
			}
			m.edges[k][src] = c
			m.refs[k.From], m.refs[k.To] = true, true
		}
	})
	e.reconcile(snap)
	return fmt.Sprintf("reconcile %s (%d assets, %d links, scopes %v, incomplete %v)", src, len(snap.Assets), len(snap.Links), snap.Scopes, snap.Incomplete), want, false
}

// compare checks every entity and edge of the universe against the model.
func (m *model) compare(t *testing.T, e *env, when string) {
	t.Helper()
	for _, u := range m.universe {
		want := m.view(u)
		got, err := e.s.Entity(e.ctx, u)
		me := m.ents[u]
		if me == nil || !me.created {
			if err == nil && len(got.Sources) > 0 {
				t.Fatalf("%s: %s exists in store, not in model: %+v", when, u, got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: entity %s: %v", when, u, err)
		}
		gv := mView{alive: !got.Deleted(), sources: got.Sources, desc: got.Description}
		if p, ok := got.Properties["p"]; ok {
			gv.props = fmt.Sprint(p)
		}
		for _, a := range got.Classifications {
			gv.attach = append(gv.attach, a.Classification+"/"+string(a.Source))
		}
		sort.Strings(gv.attach)
		if len(gv.sources) == 0 {
			gv.sources = nil
		}
		if !reflect.DeepEqual(gv, want) {
			t.Fatalf("%s: entity %s\n got %+v\nwant %+v", when, u, gv, want)
		}
	}
	for _, u := range m.universe {
		edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: u, Direction: catalog.Downstream})
		if err != nil {
			t.Fatalf("%s: edges of %s: %v", when, u, err)
		}
		got := map[catalog.EdgeKey]string{}
		for _, ed := range edges {
			var parts []string
			for _, c := range ed.Claims {
				parts = append(parts, c.Source+"="+c.Transform)
			}
			got[ed.EdgeKey] = strings.Join(parts, ",")
		}
		want := map[catalog.EdgeKey]string{}
		for k := range m.edges {
			if k.From == u {
				if v := m.edgeView(k); v.alive {
					want[k] = v.claims
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: edges from %s\n got %v\nwant %v", when, u, got, want)
		}
	}
}
