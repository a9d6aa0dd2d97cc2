package catalogtest

import (
	"reflect"
	"sort"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// The cases in this file cover what the lineage, policy and webhooks stages
// rely on: pair edges through pass-through nodes, multi-start walks that
// stop at blocking edges, bulk edge reads, keyset scans, commutative
// propagated attachments, stage-owned events and violations as snapshots.

const (
	sink   = catalog.URN("urn:connector:prod-connect/bq-sink")
	tOrd   = catalog.URN("urn:topic:prod/orders")
	tPay   = catalog.URN("urn:topic:prod/payments")
	tUsr   = catalog.URN("urn:topic:prod/users")
	bqOrd  = catalog.URN("urn:dataset:bigquery:proj/shop.orders_table")
	bqPay  = catalog.URN("urn:dataset:bigquery:proj/shop.payments_table")
	bqUsr  = catalog.URN("urn:dataset:bigquery:proj/shop.users_table")
	report = catalog.URN("urn:job:airflow://etl/orders-report")
)

// pairSnapshot is a three-topic sink with an exact topic → table mapping,
// and a job downstream of one table.
func pairSnapshot() catalog.Snapshot {
	s := catalog.Snapshot{Source: "prod-connect"}
	s.Assets = append(s.Assets, catalog.Asset{URN: sink, Name: "bq-sink"}, catalog.Asset{URN: report})
	for _, p := range [][2]catalog.URN{{tOrd, bqOrd}, {tPay, bqPay}, {tUsr, bqUsr}} {
		s.Assets = append(s.Assets, catalog.Asset{URN: p[0]}, catalog.Asset{URN: p[1]})
		s.Links = append(s.Links,
			catalog.Link{From: p[0], Kind: catalog.EdgeConsumes, To: sink, Confidence: 1},
			catalog.Link{From: sink, Kind: catalog.EdgeSinks, To: p[1], Confidence: 1},
			catalog.Link{From: p[0], Kind: catalog.EdgeDerives, To: p[1], Confidence: 1, Via: sink, Transform: "route"},
		)
	}
	s.Links = append(s.Links, catalog.Link{From: bqOrd, Kind: catalog.EdgeConsumes, To: report, Confidence: 1})
	return s
}

func reachedSet(tr catalog.Traversal) map[catalog.URN]int {
	out := map[catalog.URN]int{}
	for _, n := range tr.Nodes {
		out[n.URN] = n.Depth
	}
	return out
}

func testPassThrough(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(pairSnapshot())
	walk := func(q catalog.TraverseQuery) map[catalog.URN]int {
		t.Helper()
		tr, err := e.s.Traverse(e.ctx, q)
		if err != nil {
			t.Fatalf("traverse %+v: %v", q, err)
		}
		return reachedSet(tr)
	}
	// From one topic: the connector and its own table (and what follows it),
	// never another topic's table.
	got := walk(catalog.TraverseQuery{Start: tOrd, Direction: catalog.Downstream})
	want := map[catalog.URN]int{sink: 1, bqOrd: 1, report: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("downstream of orders = %v, want %v", got, want)
	}
	// Upstream of one table: its own topic and the connector only.
	got = walk(catalog.TraverseQuery{Start: bqPay, Direction: catalog.Upstream})
	want = map[catalog.URN]int{sink: 1, tPay: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("upstream of payments_table = %v, want %v", got, want)
	}
	// A walk started at the connector follows all its edges.
	got = walk(catalog.TraverseQuery{Start: sink, Direction: catalog.Downstream})
	want = map[catalog.URN]int{bqOrd: 1, bqPay: 1, bqUsr: 1, report: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("downstream of the connector = %v, want %v", got, want)
	}
	// The pair edge names its connector.
	edges, err := e.s.EdgesByKey(e.ctx, []catalog.EdgeKey{{From: tOrd, Kind: catalog.EdgeDerives, To: bqOrd}})
	if err != nil {
		t.Fatal(err)
	}
	if v := edges[0].Via(); !reflect.DeepEqual(v, []catalog.URN{sink}) {
		t.Errorf("pair edge via = %v, want [%s]", v, sink)
	}
	// Without the pair edges the connector is an ordinary node again.
	at := e.clock.T
	snap := pairSnapshot()
	var links []catalog.Link
	for _, l := range snap.Links {
		if l.Via == "" {
			links = append(links, l)
		}
	}
	snap.Links = links
	e.clock.Advance(60e9)
	e.reconcile(snap)
	got = walk(catalog.TraverseQuery{Start: tOrd, Direction: catalog.Downstream})
	want = map[catalog.URN]int{sink: 1, bqOrd: 2, bqPay: 2, bqUsr: 2, report: 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("downstream of orders without pairs = %v, want %v", got, want)
	}
	// History still knows the connector was pass-through back then.
	got = walk(catalog.TraverseQuery{Start: tOrd, Direction: catalog.Downstream, At: at})
	want = map[catalog.URN]int{sink: 1, bqOrd: 1, report: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("downstream of orders at the first crawl = %v, want %v", got, want)
	}
}

func testTraverseCarrying(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := catalog.URN("urn:dataset:s3://lake/a")
	b := catalog.URN("urn:dataset:s3://lake/b")
	c := catalog.URN("urn:dataset:s3://lake/c")
	d := catalog.URN("urn:dataset:s3://lake/d")
	f := catalog.URN("urn:field:prod/orders/value/email")
	e.apply(
		catalog.RegisterAsset{URN: a}, catalog.RegisterAsset{URN: b}, catalog.RegisterAsset{URN: c},
		catalog.RegisterAsset{URN: d}, catalog.RegisterAsset{URN: f},
		catalog.AddLineage{From: a, Kind: catalog.EdgeDerives, To: b},
		catalog.AddLineage{From: b, Kind: catalog.EdgeDerives, To: c, Masking: true},
		catalog.AddLineage{From: a, Kind: catalog.EdgeDerives, To: d},
		catalog.AddLineage{From: d, Kind: catalog.EdgeDerives, To: f},
		catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: a, Kind: catalog.EdgeDerives, To: d}, Block: []string{"PII"}},
		catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Internal", Propagates: true, PassesMasking: true}},
	)
	walk := func(q catalog.TraverseQuery) map[catalog.URN]int {
		t.Helper()
		tr, err := e.s.Traverse(e.ctx, q)
		if err != nil {
			t.Fatalf("traverse %+v: %v", q, err)
		}
		if tr.Seq != e.head() {
			t.Errorf("traversal seq = %d, want the head %d", tr.Seq, e.head())
		}
		return reachedSet(tr)
	}
	if got, want := walk(catalog.TraverseQuery{Start: a, Direction: catalog.Downstream}), map[catalog.URN]int{b: 1, c: 2, d: 1, f: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("plain walk = %v, want %v", got, want)
	}
	// PII.Email is within the blocked PII, and masking stops it.
	if got, want := walk(catalog.TraverseQuery{Start: a, Direction: catalog.Downstream, Carrying: "PII.Email"}), map[catalog.URN]int{b: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk carrying PII.Email = %v, want %v", got, want)
	}
	// Internal passes masking and is not blocked.
	if got, want := walk(catalog.TraverseQuery{Start: a, Direction: catalog.Downstream, Carrying: "Internal"}), map[catalog.URN]int{b: 1, c: 2, d: 1, f: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk carrying Internal = %v, want %v", got, want)
	}
	// Node kinds keep a walk on fields: d is a dataset, so f is out of reach.
	if got := walk(catalog.TraverseQuery{Start: a, Direction: catalog.Downstream, NodeKinds: []catalog.Kind{catalog.KindField}}); len(got) != 0 {
		t.Errorf("field-only walk from a dataset = %v, want nothing", got)
	}
	// Several starts: each node once, at its smallest depth.
	tr, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Starts: []catalog.URN{b, d}, Direction: catalog.Downstream})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reachedSet(tr), map[catalog.URN]int{c: 1, f: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk from b and d = %v, want %v", got, want)
	}
	paths := tr.Paths("", catalog.Downstream)
	if !reflect.DeepEqual(paths[c], []catalog.URN{b, c}) || !reflect.DeepEqual(paths[f], []catalog.URN{d, f}) {
		t.Errorf("multi-start paths = %v", paths)
	}
	if _, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Starts: []catalog.URN{b, "urn:dataset:s3://lake/none"}, Direction: catalog.Downstream}); !catalog.IsNotFound(err) {
		t.Errorf("walk from an unknown start: err = %v, want NotFound", err)
	}
	if _, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Direction: catalog.Downstream}); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("walk without a start: err = %v, want Invalid", err)
	}
}

// testTraverseStopAndLive covers StopKinds (reach the next datasets through
// the processes between, no further) and LiveOnly (tombstones neither
// reached nor walked through).
func testTraverseStopAndLive(t *testing.T, h Harness) {
	e := newEnv(t, h)
	src := catalog.URN("urn:topic:prod/src")
	job := catalog.URN("urn:job:flink://prod/enrich")
	mid := catalog.URN("urn:topic:prod/mid")
	out := catalog.URN("urn:topic:prod/out")
	group := catalog.URN("urn:group:prod/reader")
	snap := catalog.Snapshot{Source: "prod"}
	for _, u := range []catalog.URN{src, job, mid, out, group} {
		snap.Assets = append(snap.Assets, catalog.Asset{URN: u})
	}
	snap.Links = []catalog.Link{
		{From: src, Kind: catalog.EdgeConsumes, To: job, Confidence: 1},
		{From: job, Kind: catalog.EdgeProduces, To: mid, Confidence: 1},
		{From: mid, Kind: catalog.EdgeConsumes, To: group, Confidence: 1},
		{From: mid, Kind: catalog.EdgeDerives, To: out, Confidence: 1},
	}
	e.reconcile(snap)
	walk := func(q catalog.TraverseQuery) map[catalog.URN]int {
		t.Helper()
		tr, err := e.s.Traverse(e.ctx, q)
		if err != nil {
			t.Fatalf("traverse %+v: %v", q, err)
		}
		return reachedSet(tr)
	}
	datasets := []catalog.Kind{catalog.KindTopic, catalog.KindTable, catalog.KindDataset}
	if got, want := walk(catalog.TraverseQuery{Start: src, Direction: catalog.Downstream, StopKinds: datasets}), map[catalog.URN]int{job: 1, mid: 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk stopping at datasets = %v, want %v", got, want)
	}
	// A start of a stop kind is walked from.
	if got, want := walk(catalog.TraverseQuery{Start: mid, Direction: catalog.Downstream, StopKinds: datasets}), map[catalog.URN]int{group: 1, out: 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("walk from a stop kind = %v, want %v", got, want)
	}
	// Tombstone the job, keeping its edges through a manual claim: a live
	// walk neither reaches it nor crosses it; a plain walk still does.
	e.apply(catalog.RegisterAsset{URN: catalog.URN("urn:topic:prod/other")},
		catalog.AddLineage{From: src, Kind: catalog.EdgeConsumes, To: job},
		catalog.AddLineage{From: job, Kind: catalog.EdgeProduces, To: mid})
	snap.Assets = snap.Assets[:1]
	snap.Assets = append(snap.Assets, catalog.Asset{URN: mid}, catalog.Asset{URN: out}, catalog.Asset{URN: group})
	e.reconcile(snap)
	if ent := e.entity(job); !ent.Deleted() {
		t.Fatalf("job not tombstoned: %+v", ent)
	}
	if got, want := walk(catalog.TraverseQuery{Start: src, Direction: catalog.Downstream}), map[catalog.URN]int{job: 1, mid: 2, group: 3, out: 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("plain walk over a tombstone = %v, want %v", got, want)
	}
	if got := walk(catalog.TraverseQuery{Start: src, Direction: catalog.Downstream, LiveOnly: true}); len(got) != 0 {
		t.Errorf("live walk crossed a tombstone: %v", got)
	}
	if got := walk(catalog.TraverseQuery{Start: job, Direction: catalog.Downstream, LiveOnly: true}); len(got) != 0 {
		t.Errorf("live walk from a tombstone = %v, want nothing", got)
	}
}

// testSuppressRule: a steward's declassify of a rule's attachment sticks
// until a manual classify lifts it, across a reopen and a recreation.
func testSuppressRule(t *testing.T, h Harness) {
	e := newEnv(t, h)
	f := catalog.URN("urn:field:prod/orders/value/email")
	e.apply(catalog.RegisterAsset{URN: f})
	rule := catalog.Classify{URN: f, Classification: "PII.Email", Source: catalog.AttachRule}
	e.apply(rule)
	if got := e.entity(f); !got.HasClassification("PII.Email") {
		t.Fatalf("rule attachment missing: %+v", got.Classifications)
	}
	if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.Declassify{URN: f, Classification: "PII.Email", Suppress: true}}}); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("suppressing a manual attachment: err = %v, want Invalid", err)
	}
	h0 := e.head()
	e.apply(catalog.Declassify{URN: f, Classification: "PII.Email", Source: catalog.AttachRule, Suppress: true})
	if got, want := e.changesSince(h0), []string{"classification.detached " + string(f)}; !reflect.DeepEqual(got, want) {
		t.Errorf("declassify changes = %v, want %v", got, want)
	}
	e.reopen()
	h1 := e.head()
	e.apply(rule)
	got := e.entity(f)
	if got.HasClassification("PII.Email") || !reflect.DeepEqual(got.Suppressed, []string{"PII.Email"}) {
		t.Errorf("after a suppressed rule classify: classifications %+v, suppressed %v", got.Classifications, got.Suppressed)
	}
	if got := e.changesSince(h1); len(got) != 0 {
		t.Errorf("a suppressed rule classify wrote %v", got)
	}
	// Another classification is not suppressed.
	e.apply(catalog.Classify{URN: f, Classification: "PII", Source: catalog.AttachRule})
	if got := e.entity(f); !got.HasClassification("PII") {
		t.Errorf("unrelated rule classification refused: %+v", got.Classifications)
	}
	// A manual classify lifts the suppression.
	e.apply(catalog.Classify{URN: f, Classification: "PII.Email"})
	e.apply(rule)
	got = e.entity(f)
	if len(got.Suppressed) != 0 {
		t.Errorf("suppression kept after a manual classify: %v", got.Suppressed)
	}
	var sources []string
	for _, a := range got.Classifications {
		if a.Classification == "PII.Email" {
			sources = append(sources, string(a.Source))
		}
	}
	if want := []string{"manual", "rule"}; !reflect.DeepEqual(sources, want) {
		t.Errorf("PII.Email sources = %v, want %v", sources, want)
	}
}

// testEdgeUpdatedBefore: an edge.updated event carries the edge as it was,
// so a handler sees a Via or a block list that went away.
func testEdgeUpdatedBefore(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a, b := catalog.URN("urn:topic:prod/a"), catalog.URN("urn:table:pg/b")
	c1, c2 := catalog.URN("urn:connector:c/one"), catalog.URN("urn:connector:c/two")
	e.apply(catalog.RegisterAsset{URN: a}, catalog.RegisterAsset{URN: b},
		catalog.AddLineage{From: a, Kind: catalog.EdgeDerives, To: b, Via: c1})
	h0 := e.head()
	e.apply(catalog.AddLineage{From: a, Kind: catalog.EdgeDerives, To: b, Via: c2})
	cs, err := e.s.Changes(e.ctx, h0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Type != catalog.EdgeUpdated {
		t.Fatalf("changes = %+v, want one edge.updated", cs)
	}
	d, err := cs[0].EdgeData()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Claims) != 1 || !reflect.DeepEqual(d.Claims[0].Via, []catalog.URN{c2}) {
		t.Errorf("updated claims = %+v, want via %s", d.Claims, c2)
	}
	if d.Before == nil || len(d.Before.Claims) != 1 || !reflect.DeepEqual(d.Before.Claims[0].Via, []catalog.URN{c1}) {
		t.Errorf("before = %+v, want the claim via %s", d.Before, c1)
	}
}

func testEdgesByKeyAndScan(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	keys := []catalog.EdgeKey{
		{From: orders, Kind: catalog.EdgeConsumes, To: fraud},
		{From: orders, Kind: catalog.EdgeConsumes, To: loader}, // unknown
		{From: cluster, Kind: catalog.EdgeContains, To: payment},
	}
	edges, err := e.s.EdgesByKey(e.ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 3 || edges[0].EdgeKey != keys[0] || edges[1].From != "" || edges[2].EdgeKey != keys[2] {
		t.Errorf("EdgesByKey = %+v", edges)
	}
	if len(edges[0].Claims) != 1 || edges[0].Claims[0].Origin != "consumer-offsets" {
		t.Errorf("EdgesByKey claims = %+v", edges[0].Claims)
	}

	var snap catalog.Snapshot
	snap.Source = "many"
	var want []catalog.URN
	for _, n := range []string{"e", "a", "d", "b", "c"} {
		u := catalog.URN("urn:topic:many/" + n)
		snap.Assets = append(snap.Assets, catalog.Asset{URN: u})
		want = append(want, u)
	}
	snap.Assets = append(snap.Assets, catalog.Asset{URN: "urn:group:many/g"})
	e.reconcile(snap)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	want = append([]catalog.URN{orders, payment}, want...)
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	var got []catalog.URN
	var after catalog.URN
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("scan does not end")
		}
		ents, next, err := e.s.Scan(e.ctx, catalog.KindTopic, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, en := range ents {
			if en.Kind != catalog.KindTopic {
				t.Errorf("scan of topics returned %s", en.URN)
			}
			got = append(got, en.URN)
		}
		if next == "" {
			break
		}
		after = next
		if pages == 0 {
			// A topic deleted mid-scan behind the cursor does not disturb it;
			// one ahead of it is not returned.
			snap.Assets = snap.Assets[1:] // drops many/e
			e.reconcile(snap)
			var kept []catalog.URN
			for _, u := range want {
				if u != "urn:topic:many/e" {
					kept = append(kept, u)
				}
			}
			want = kept
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("scan = %v, want %v", got, want)
	}
	if _, _, err := e.s.Scan(e.ctx, "SPACESHIP", "", 1); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("scan of an unknown kind: err = %v", err)
	}
}

func testPropagateRetract(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	p1 := catalog.Propagate{URN: fraud, Origin: orders, Classification: "PII", Path: []catalog.URN{orders, fraud}}
	p2 := catalog.Propagate{URN: fraud, Origin: payment, Classification: "PII", Path: []catalog.URN{payment, fraud}}
	p3 := catalog.Propagate{URN: fraud, Origin: orders, Classification: "Financial", Path: []catalog.URN{orders, fraud}}
	e.apply(p1)
	e.apply(p2, p3)
	e.apply(p1) // the same again: nothing
	ent := e.entity(fraud)
	var keys []string
	for _, a := range ent.Classifications {
		if a.Direct() {
			t.Errorf("unexpected direct attachment %+v", a)
		}
		keys = append(keys, a.Classification+"<"+string(a.Origin))
	}
	if want := []string{"Financial<" + string(orders), "PII<" + string(orders), "PII<" + string(payment)}; !reflect.DeepEqual(keys, want) {
		t.Errorf("attachments = %v, want %v", keys, want)
	}
	// A new path replaces the old one (one event); retracting one origin
	// leaves the other; retracting what is absent changes nothing.
	e.apply(catalog.Propagate{URN: fraud, Origin: orders, Classification: "PII", Path: []catalog.URN{orders, loader, fraud}})
	e.apply(catalog.Retract{URN: fraud, Origin: orders, Classification: "PII"})
	e.apply(catalog.Retract{URN: fraud, Origin: orders, Classification: "PII"})
	e.apply(catalog.Retract{URN: "urn:group:prod/nobody", Origin: orders, Classification: "PII"})
	want := []string{
		"classification.propagated " + string(fraud),
		"classification.propagated " + string(fraud), "classification.propagated " + string(fraud),
		"classification.propagated " + string(fraud),
		"classification.retracted " + string(fraud),
	}
	if got := e.changesSince(h0); !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	ent = e.entity(fraud)
	if !ent.HasClassification("PII") || len(ent.Classifications) != 2 {
		t.Errorf("after retracting one origin: %+v", ent.Classifications)
	}
	cs, err := e.s.Changes(e.ctx, h0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := cs[0].ClassificationData()
	if err != nil || d.Origin != orders || !reflect.DeepEqual(d.Path, []catalog.URN{orders, fraud}) {
		t.Errorf("propagated event data = %+v, %v", d, err)
	}
	// A tombstone is skipped, and deleting an asset drops what was
	// propagated to it.
	snap := prodSnapshot("1")
	snap.Assets = snap.Assets[:3]
	snap.Links = snap.Links[:2]
	e.reconcile(snap)
	if got := e.entity(fraud); !got.Deleted() || len(got.Classifications) != 0 {
		t.Errorf("tombstone classifications = %+v", got.Classifications)
	}
	h1 := e.head()
	e.apply(p1, catalog.Retract{URN: fraud, Origin: payment, Classification: "PII"})
	if got := e.changesSince(h1); len(got) != 0 {
		t.Errorf("propagate to a tombstone wrote %v", got)
	}
	for _, m := range []catalog.Mutation{
		catalog.Propagate{URN: fraud, Origin: "bad", Classification: "PII"},
		catalog.Propagate{URN: fraud, Origin: orders, Classification: "no spaces"},
		catalog.Retract{URN: "bad", Origin: orders, Classification: "PII"},
	} {
		if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{m}}); catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("%+v: err = %v, want Invalid", m, err)
		}
	}
}

func testEmitAndViolations(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	hook := catalog.URN("urn:dataset:webhook://endpoints/1") // any URN
	ch, err := e.s.Apply(e.ctx, catalog.Batch{Actor: catalog.ActorWebhooks, Cause: "7", Mutations: []catalog.Mutation{
		catalog.Emit{Type: catalog.WebhookEndpointDisabled, Subject: hook, Data: map[string]any{"reason": "410 Gone"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch) != 1 || ch[0].Type != catalog.WebhookEndpointDisabled || ch[0].Actor != catalog.ActorWebhooks || ch[0].Cause != "7" || string(ch[0].Data) != `{"reason":"410 Gone"}` {
		t.Errorf("emitted = %+v", ch)
	}
	for _, typ := range []catalog.ChangeType{"asset.created", "classification.propagated", "crawl.completed", "Bad Type", "single"} {
		if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.Emit{Type: typ}}}); catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("emit %q: err = %v, want Invalid", typ, err)
		}
	}

	// Violations: the policy engine reconciles one scope per (policy,
	// subject); opening and resolving are the store's own diffing.
	v := catalog.URN("urn:violation:pii-retention/urn:topic:prod/orders")
	open := catalog.Snapshot{Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Cause: "42",
		Scopes: []string{"pii-retention/" + string(orders)},
		Assets: []catalog.Asset{{URN: v, Name: "retention above 168h", Description: "kept 14 days", Properties: catalog.Properties{"evidence": "retention.ms=1"},
			Classifications: []catalog.SourceClassification{{Name: "PII.Email"}}, Scope: "pii-retention/" + string(orders)}}}
	e.reconcile(open)
	e.reconcile(open) // still open: nothing new
	e.clock.Advance(60e9)
	e.reconcile(catalog.Snapshot{Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Scopes: open.Scopes})
	cs, err := e.s.Changes(e.ctx, h0+1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, string(c.Type)+" "+string(c.Subject)+" "+c.Actor+" "+c.Cause)
	}
	want := []string{
		"policy.violation.opened " + string(v) + " system:policy 42",
		"policy.violation.resolved " + string(v) + " system:policy ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("violation changes:\n got %v\nwant %v", got, want)
	}
	// Both events carry the violation's evidence: the opened one as opened,
	// the resolved one as it was last (its tombstone has none).
	for _, c := range cs {
		d, err := c.AssetData()
		if err != nil {
			t.Fatal(err)
		}
		if d.Kind != catalog.KindViolation || d.Properties["evidence"] != "retention.ms=1" || d.Description != "kept 14 days" || !reflect.DeepEqual(d.Classifications, []string{"PII.Email"}) {
			t.Errorf("%s data = %+v", c.Type, d)
		}
	}
	if err := catalog.ValidateSource(catalog.PolicySource); err == nil {
		t.Error("a crawler may use the reserved policy source")
	}
}
