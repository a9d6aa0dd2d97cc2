package catalogtest

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

const (
	cluster = catalog.URN("urn:kafka:prod")
	orders  = catalog.URN("urn:topic:prod/orders")
	payment = catalog.URN("urn:topic:prod/payments")
	email   = catalog.URN("urn:field:prod/orders/value/customer.email")
	fraud   = catalog.URN("urn:group:prod/fraud-detector")
	loader  = catalog.URN("urn:group:prod/warehouse-loader")
)

func prodSnapshot(retention string) catalog.Snapshot {
	return catalog.Snapshot{
		Source: "prod",
		Assets: []catalog.Asset{
			{URN: cluster, Name: "prod", Scope: "cluster"},
			{URN: orders, Name: "orders", Properties: catalog.Properties{"partitions": 6, "configs": map[string]any{"retention.ms": retention}}, Scope: "topic/orders"},
			{URN: payment, Name: "payments", Properties: catalog.Properties{"partitions": 3}, Scope: "topic/payments"},
			{URN: fraud, Name: "fraud-detector", Live: catalog.Properties{"lag": 10, "state": "Stable"}, Scope: "group/fraud-detector"},
		},
		Links: []catalog.Link{
			{From: cluster, Kind: catalog.EdgeContains, To: orders, Confidence: 1, Scope: "topic/orders"},
			{From: cluster, Kind: catalog.EdgeContains, To: payment, Confidence: 1, Scope: "topic/payments"},
			{From: orders, Kind: catalog.EdgeConsumes, To: fraud, Origin: "consumer-offsets", Confidence: 1, Scope: "group/fraud-detector"},
		},
	}
}

func testReconcileLifecycle(t *testing.T, h Harness) {
	e := newEnv(t, h)
	h0 := e.head()
	res := e.reconcile(prodSnapshot("604800000"))
	if res.Created != 4 || res.EdgesAdded != 3 || res.Deleted != 0 {
		t.Errorf("first reconcile result = %+v, want 4 created, 3 edges added", res)
	}
	want := []string{
		"asset.created urn:kafka:prod", "asset.created urn:topic:prod/orders",
		"asset.created urn:topic:prod/payments", "asset.created urn:group:prod/fraud-detector",
		"lineage.edge.added urn:kafka:prod", "lineage.edge.added urn:kafka:prod", "lineage.edge.added urn:topic:prod/orders",
	}
	if got := e.changesSince(h0); !equalSets(got, want) {
		t.Errorf("first reconcile changes:\n got %v\nwant %v", got, want)
	}
	ent := e.entity(orders)
	if ent.Kind != catalog.KindTopic || ent.Name != "orders" || ent.Deleted() {
		t.Errorf("orders = %+v", ent)
	}
	if got := ent.Properties["partitions"]; got != num("6") {
		t.Errorf("orders partitions = %#v, want 6", got)
	}
	if !reflect.DeepEqual(ent.Sources, []string{"prod"}) {
		t.Errorf("orders sources = %v", ent.Sources)
	}

	// The same snapshot again writes no change events.
	h1 := e.head()
	e.clock.Advance(time.Minute)
	res = e.reconcile(prodSnapshot("604800000"))
	if got := e.changesSince(h1); len(got) != 0 {
		t.Errorf("identical re-crawl wrote changes %v", got)
	}
	if res.Changes != 0 || res.Created+res.Updated+res.Deleted+res.EdgesAdded+res.EdgesRemoved+res.EdgesUpdated != 0 {
		t.Errorf("identical re-crawl result = %+v", res)
	}

	// A config change is one asset.updated with the semantic diff.
	e.clock.Advance(time.Minute)
	e.reconcile(prodSnapshot("86400000"))
	cs, err := e.s.Changes(e.ctx, h1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Type != catalog.AssetUpdated || cs[0].Subject != orders {
		t.Fatalf("config change produced %v", cs)
	}
	var data catalog.AssetData
	if err := json.Unmarshal(cs[0].Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Changed) != 1 || data.Changed[0].Key != "properties.configs" {
		t.Errorf("update diff = %+v, want properties.configs", data.Changed)
	}

	// A vanished topic is tombstoned with its edge; the entity stays readable.
	h2 := e.head()
	e.clock.Advance(time.Minute)
	snap := prodSnapshot("86400000")
	snap.Assets = append(snap.Assets[:2], snap.Assets[3])
	snap.Links = []catalog.Link{snap.Links[0], snap.Links[2]}
	res = e.reconcile(snap)
	if res.Deleted != 1 || res.EdgesRemoved != 1 {
		t.Errorf("delete result = %+v", res)
	}
	want = []string{"lineage.edge.removed urn:kafka:prod", "asset.deleted urn:topic:prod/payments"}
	if got := e.changesSince(h2); !reflect.DeepEqual(got, want) {
		t.Errorf("delete changes:\n got %v\nwant %v", got, want)
	}
	gone := e.entity(payment)
	if !gone.Deleted() || !gone.DeletedAt.Equal(e.clock.T) {
		t.Errorf("payments DeletedAt = %v, want %v", gone.DeletedAt, e.clock.T)
	}
	edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: cluster, Direction: catalog.Downstream})
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || edges[0].To != orders {
		t.Errorf("alive edges from cluster = %v", edges)
	}
	edges, err = e.s.Edges(e.ctx, catalog.EdgeQuery{URN: cluster, Direction: catalog.Downstream, IncludeDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 2 {
		t.Errorf("edges from cluster including deleted = %d, want 2", len(edges))
	}
}

func testReconcileScopes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	// The group could not be described: its scope is incomplete, so the
	// group and its edge are kept although absent.
	snap := prodSnapshot("1")
	snap.Assets = snap.Assets[:3]
	snap.Links = snap.Links[:2]
	snap.Incomplete = map[string]string{"group/fraud-detector": "describe group: not authorized"}
	res := e.reconcile(snap)
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("incomplete scope produced changes %v", got)
	}
	if res.Kept != 2 {
		t.Errorf("kept = %d, want 2 (group and its edge)", res.Kept)
	}
	if e.entity(fraud).Deleted() {
		t.Error("group in an incomplete scope was deleted")
	}
	// A snapshot limited to one scope leaves the others alone.
	only := catalog.Snapshot{Source: "prod", Scopes: []string{"topic/orders"}, Assets: []catalog.Asset{
		{URN: orders, Name: "orders", Properties: catalog.Properties{"partitions": 12}, Scope: "topic/orders"},
	}}
	e.reconcile(only)
	want := []string{"asset.updated urn:topic:prod/orders", "lineage.edge.removed urn:kafka:prod"}
	if got := e.changesSince(h0); !equalSets(got, want) {
		t.Errorf("scoped snapshot changes:\n got %v\nwant %v", got, want)
	}
	if e.entity(payment).Deleted() || e.entity(fraud).Deleted() {
		t.Error("scoped snapshot deleted assets outside its scope")
	}
}

func testTwoSources(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	// A second source asserts the same edge (from another origin) and the topic.
	other := catalog.Snapshot{Source: "prod-connect", Assets: []catalog.Asset{
		{URN: orders, Properties: catalog.Properties{"producer": "debezium"}},
	}, Links: []catalog.Link{
		{From: orders, Kind: catalog.EdgeConsumes, To: fraud, Origin: "connect-config", Confidence: 0.7, Transform: "unwrap"},
	}}
	e.reconcile(other)
	want := []string{"asset.updated urn:topic:prod/orders", "lineage.edge.updated urn:topic:prod/orders"}
	if got := e.changesSince(h0); !equalSets(got, want) {
		t.Errorf("second source changes:\n got %v\nwant %v", got, want)
	}
	edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: orders, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes}})
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || len(edges[0].Claims) != 2 {
		t.Fatalf("orders→fraud = %+v, want one edge with two claims", edges)
	}
	if c := edges[0].Claims[0]; c.Source != "prod" || c.Origin != "consumer-offsets" || c.Confidence != 1 {
		t.Errorf("first claim = %+v", c)
	}
	if c := edges[0].Claims[1]; c.Source != "prod-connect" || c.Transform != "unwrap" || c.Confidence != 0.7 {
		t.Errorf("second claim = %+v", c)
	}
	ent := e.entity(orders)
	if !reflect.DeepEqual(ent.Sources, []string{"prod", "prod-connect"}) || ent.Properties["producer"] != "debezium" || ent.Properties["partitions"] != num("6") {
		t.Errorf("merged orders = %+v", ent)
	}
	// The first source drops the edge: the edge survives on the other claim.
	h1 := e.head()
	snap := prodSnapshot("1")
	snap.Links = snap.Links[:2]
	e.reconcile(snap)
	if got := e.changesSince(h1); !reflect.DeepEqual(got, []string{"lineage.edge.updated urn:topic:prod/orders"}) {
		t.Errorf("dropping one claim: changes %v", got)
	}
	edges, _ = e.s.Edges(e.ctx, catalog.EdgeQuery{URN: orders, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes}})
	if len(edges) != 1 || len(edges[0].Claims) != 1 || edges[0].Claims[0].Source != "prod-connect" {
		t.Errorf("after one claim dropped = %+v", edges)
	}
	// The second source forgets everything: topic keeps the first facet.
	e.reconcile(catalog.Snapshot{Source: "prod-connect"})
	ent = e.entity(orders)
	if ent.Deleted() || !reflect.DeepEqual(ent.Sources, []string{"prod"}) || ent.Properties["producer"] != nil {
		t.Errorf("after second source left: %+v", ent)
	}
}

func testLiveReadings(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	snap := prodSnapshot("1")
	snap.Assets[3].Live = catalog.Properties{"lag": 99, "state": "Rebalancing"}
	res := e.reconcile(snap)
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("live-only change wrote events %v", got)
	}
	if res.LiveUpdated != 1 {
		t.Errorf("LiveUpdated = %d, want 1", res.LiveUpdated)
	}
	g := e.entity(fraud)
	if g.Live["lag"] != num("99") || g.Live["state"] != "Rebalancing" {
		t.Errorf("live = %v", g.Live)
	}
	if g.Properties != nil {
		t.Errorf("live readings leaked into properties: %v", g.Properties)
	}
}

func testInvalidSnapshot(t *testing.T, h Harness) {
	e := newEnv(t, h)
	h0 := e.head()
	bad := []catalog.Snapshot{
		{Source: ""},
		{Source: "manual"},
		{Source: "prod", Assets: []catalog.Asset{{URN: "not-a-urn"}}},
		{Source: "prod", Assets: []catalog.Asset{{URN: "urn:bogus:x"}}},
		{Source: "prod", Links: []catalog.Link{{From: orders, Kind: "FLOWS", To: fraud}}},
		{Source: "prod", Links: []catalog.Link{{From: orders, Kind: catalog.EdgeConsumes, To: orders}}},
		{Source: "prod", Assets: []catalog.Asset{{URN: orders, Properties: catalog.Properties{"x": func() {}}}}},
		{Source: "prod", Assets: []catalog.Asset{{URN: orders, Classifications: []catalog.SourceClassification{{Name: "PII..x"}}}}},
	}
	for i, s := range bad {
		_, err := e.s.Reconcile(e.ctx, s, nil)
		if err == nil {
			t.Errorf("snapshot %d: no error", i)
			continue
		}
		if catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("snapshot %d: error kind %v (%v), want Invalid", i, catalog.KindOf(err), err)
		}
	}
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("invalid snapshots wrote %v", got)
	}
}

func testApplyMutations(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := catalog.URN("urn:dataset:s3://lake/orders")
	b := catalog.URN("urn:job:spark://etl/daily-orders")
	h0 := e.head()
	e.apply(
		catalog.RegisterAsset{URN: a, Name: "lake orders", Properties: catalog.Properties{"format": "parquet"}},
		catalog.RegisterAsset{URN: b, Description: "nightly roll-up"},
	)
	e.apply(catalog.AddLineage{From: a, Kind: catalog.EdgeConsumes, To: b, Transform: "spark sql"})
	yes := true
	e.apply(catalog.Classify{URN: a, Classification: "PII.Email", Propagate: &yes})
	e.apply(catalog.SetDescription{URN: a, Description: "Orders landed in S3"})
	e.apply(catalog.SetOwners{URN: a, Owners: []string{"team:data", "alice", "alice"}})
	want := []string{
		"asset.created " + string(a), "asset.created " + string(b),
		"lineage.edge.added " + string(a),
		"classification.attached " + string(a),
		"asset.updated " + string(a), "asset.updated " + string(a),
	}
	if got := e.changesSince(h0); !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	ent := e.entity(a)
	if ent.Name != "lake orders" || ent.Description != "Orders landed in S3" || !reflect.DeepEqual(ent.Owners, []string{"alice", "team:data"}) {
		t.Errorf("entity = %+v", ent)
	}
	if len(ent.Classifications) != 1 || ent.Classifications[0].Classification != "PII.Email" || !ent.Classifications[0].Direct() || !ent.Classifications[0].Propagate {
		t.Errorf("classifications = %+v", ent.Classifications)
	}
	if !ent.HasClassification("PII") {
		t.Error("PII.Email should count as PII")
	}
	// Idempotent: the same classify and lineage again write nothing.
	h1 := e.head()
	e.apply(catalog.Classify{URN: a, Classification: "PII.Email", Propagate: &yes})
	e.apply(catalog.AddLineage{From: a, Kind: catalog.EdgeConsumes, To: b, Transform: "spark sql"})
	if got := e.changesSince(h1); len(got) != 0 {
		t.Errorf("repeated mutations wrote %v", got)
	}
	e.apply(catalog.Declassify{URN: a, Classification: "PII.Email"})
	e.apply(catalog.RemoveLineage{From: a, Kind: catalog.EdgeConsumes, To: b})
	want = []string{"classification.detached " + string(a), "lineage.edge.removed " + string(a)}
	if got := e.changesSince(h1); !reflect.DeepEqual(got, want) {
		t.Errorf("undo changes:\n got %v\nwant %v", got, want)
	}
	e.apply(catalog.UnregisterAsset{URN: b})
	if !e.entity(b).Deleted() {
		t.Error("unregistered asset is not tombstoned")
	}
	// Defining a child classification needs its parent.
	e.apply(catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Sensitive", Propagates: true}})
	e.apply(catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Sensitive.Health", Description: "medical", Propagates: false}})
	defs, err := e.s.Classifications(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, d := range defs {
		if d.Name == "Sensitive.Health" && !d.Propagates && d.Description == "medical" {
			found = true
		}
	}
	if !found {
		t.Errorf("Sensitive.Health not defined: %v", defs)
	}
	// Propagates defaults from the definition.
	e.apply(catalog.Classify{URN: a, Classification: "Sensitive.Health"})
	if ent := e.entity(a); len(ent.Classifications) != 1 || ent.Classifications[0].Propagate {
		t.Errorf("default propagate: %+v", ent.Classifications)
	}
}

func testApplyAtomic(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := catalog.URN("urn:dataset:s3://lake/a")
	h0 := e.head()
	_, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{
		catalog.RegisterAsset{URN: a},
		catalog.Classify{URN: a, Classification: "NoSuchClass"},
	}})
	if catalog.KindOf(err) != catalog.Invalid {
		t.Fatalf("batch with unknown classification: err = %v, want Invalid", err)
	}
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("failed batch wrote %v", got)
	}
	if _, err := e.s.Entity(e.ctx, a); !catalog.IsNotFound(err) {
		t.Errorf("failed batch left asset behind: err = %v", err)
	}
}

func testApplyErrors(t *testing.T, h Harness) {
	e := newEnv(t, h)
	a := catalog.URN("urn:dataset:s3://lake/a")
	e.apply(catalog.RegisterAsset{URN: a})
	missing := catalog.URN("urn:dataset:s3://lake/missing")
	cases := []struct {
		name string
		m    catalog.Mutation
		kind catalog.ErrorKind
	}{
		{"classify unknown urn", catalog.Classify{URN: missing, Classification: "PII"}, catalog.NotFound},
		{"classify malformed urn", catalog.Classify{URN: "orders", Classification: "PII"}, catalog.Invalid},
		{"classify unknown classification", catalog.Classify{URN: a, Classification: "Nope"}, catalog.Invalid},
		{"lineage to unknown urn", catalog.AddLineage{From: a, Kind: catalog.EdgeDerives, To: missing}, catalog.NotFound},
		{"lineage invalid kind", catalog.AddLineage{From: a, Kind: "PIPES", To: a}, catalog.Invalid},
		{"remove missing lineage", catalog.RemoveLineage{From: a, Kind: catalog.EdgeDerives, To: missing}, catalog.NotFound},
		{"declassify missing", catalog.Declassify{URN: a, Classification: "PII"}, catalog.NotFound},
		{"register crawl run", catalog.RegisterAsset{URN: "urn:crawl:prod/x"}, catalog.Invalid},
		{"register with bad properties", catalog.RegisterAsset{URN: a, Properties: catalog.Properties{"c": make(chan int)}}, catalog.Invalid},
		{"define orphan classification", catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Orphan.Child"}}, catalog.Invalid},
		{"owners empty name", catalog.SetOwners{URN: a, Owners: []string{" "}}, catalog.Invalid},
		{"unregister crawled", catalog.UnregisterAsset{URN: missing}, catalog.NotFound},
	}
	h0 := e.head()
	for _, c := range cases {
		_, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{c.m}})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := catalog.KindOf(err); got != c.kind {
			t.Errorf("%s: kind %s (%v), want %s", c.name, got.Code(), err, c.kind.Code())
		}
	}
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("failed mutations wrote %v", got)
	}
}

func testCuratedSurvivesRecreate(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	e.apply(catalog.Classify{URN: payment, Classification: "Financial"}, catalog.SetDescription{URN: payment, Description: "card payments"})
	snap := prodSnapshot("1")
	snap.Assets = append(snap.Assets[:2], snap.Assets[3])
	snap.Links = []catalog.Link{snap.Links[0], snap.Links[2]}
	e.reconcile(snap)
	if !e.entity(payment).Deleted() {
		t.Fatal("payments not tombstoned")
	}
	if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.Classify{URN: payment, Classification: "PII"}}}); catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("classify tombstone: err = %v, want Conflict", err)
	}
	e.clock.Advance(time.Hour)
	h0 := e.head()
	e.reconcile(prodSnapshot("1"))
	p := e.entity(payment)
	if p.Deleted() || p.Description != "card payments" || !p.HasClassification("Financial") {
		t.Errorf("recreated payments lost curated data: %+v", p)
	}
	want := []string{"asset.created urn:topic:prod/payments", "lineage.edge.added urn:kafka:prod"}
	if got := e.changesSince(h0); !equalSets(got, want) {
		t.Errorf("recreate changes:\n got %v\nwant %v", got, want)
	}
}

func testChangeLog(t *testing.T, h Harness) {
	e := newEnv(t, h)
	h0 := e.head()
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- e.s.WaitChanges(ctx, h0) }()
	e.reconcile(prodSnapshot("1"))
	if err := <-waited; err != nil {
		t.Fatalf("WaitChanges: %v", err)
	}
	all, err := e.s.Changes(e.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq != all[i-1].Seq+1 {
			t.Fatalf("sequence gap: %d then %d", all[i-1].Seq, all[i].Seq)
		}
	}
	if last := all[len(all)-1]; last.Seq != e.head() {
		t.Errorf("head %d != last change %d", e.head(), last.Seq)
	}
	page, err := e.s.Changes(e.ctx, h0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].Seq != h0+1 {
		t.Errorf("page after %d = %v", h0, page)
	}
	for _, c := range page {
		if c.Origin != "/watershed/sources/prod" || c.Actor != "crawler:prod" || !c.Time.Equal(e.clock.T) || c.ID() == "" || len(c.Data) == 0 {
			t.Errorf("change envelope = %+v", c)
		}
	}
	// Cause is kept.
	b, err := e.s.Apply(e.ctx, catalog.Batch{Actor: "system:propagation", Cause: page[0].ID(), Mutations: []catalog.Mutation{
		catalog.Classify{URN: orders, Classification: "PII", Source: catalog.AttachRule},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1 || b[0].Cause != page[0].ID() || b[0].Actor != "system:propagation" {
		t.Errorf("caused change = %+v", b)
	}
	// A snapshot observed before the last write commits at that write's time:
	// change times never go backwards.
	late := catalog.Snapshot{Source: "late", At: e.clock.T.Add(-time.Hour), Assets: []catalog.Asset{{URN: "urn:topic:prod/late"}}}
	h1 := e.head()
	e.reconcile(late)
	lc, err := e.s.Changes(e.ctx, h1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lc) != 1 || lc[0].Time.Before(e.clock.T) {
		t.Errorf("late snapshot change = %+v, want time ≥ %v", lc, e.clock.T)
	}
	// A canceled wait returns the context error.
	ctx2, cancel2 := context.WithCancel(e.ctx)
	cancel2()
	if err := e.s.WaitChanges(ctx2, e.head()); err == nil {
		t.Error("WaitChanges with canceled context returned nil")
	}
}

func testSearch(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	e.reconcile(catalog.Snapshot{Source: "prod-sr", Assets: []catalog.Asset{
		{URN: email, Name: "customer.email", Classifications: []catalog.SourceClassification{{Name: "PII.Email", Source: catalog.AttachSchemaTag}}},
	}})
	search := func(q catalog.SearchQuery) []catalog.URN {
		t.Helper()
		res, err := e.s.Search(e.ctx, q)
		if err != nil {
			t.Fatalf("search %+v: %v", q, err)
		}
		out := make([]catalog.URN, len(res.Entities))
		for i, ent := range res.Entities {
			out[i] = ent.URN
		}
		return out
	}
	if got := search(catalog.SearchQuery{Text: "orders"}); len(got) < 1 || got[0] != orders {
		t.Errorf("search orders = %v, want orders first", got)
	}
	if got := search(catalog.SearchQuery{Text: "ord", Kinds: []catalog.Kind{catalog.KindTopic}}); !reflect.DeepEqual(got, []catalog.URN{orders}) {
		t.Errorf("prefix search = %v", got)
	}
	if got := search(catalog.SearchQuery{Text: "email"}); !reflect.DeepEqual(got, []catalog.URN{email}) {
		t.Errorf("field search = %v", got)
	}
	if got := search(catalog.SearchQuery{Classifications: []string{"PII"}}); !reflect.DeepEqual(got, []catalog.URN{email}) {
		t.Errorf("classification search = %v", got)
	}
	if got := search(catalog.SearchQuery{Text: "fraud detector"}); !reflect.DeepEqual(got, []catalog.URN{fraud}) {
		t.Errorf("two-word search = %v", got)
	}
	if got := search(catalog.SearchQuery{Text: "zzz"}); len(got) != 0 {
		t.Errorf("no-match search = %v", got)
	}
	res, err := e.s.Search(e.ctx, catalog.SearchQuery{Kinds: []catalog.Kind{catalog.KindTopic}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 2 || len(res.Entities) != 1 {
		t.Errorf("paged search total=%d len=%d", res.Total, len(res.Entities))
	}
	res2, err := e.s.Search(e.ctx, catalog.SearchQuery{Kinds: []catalog.Kind{catalog.KindTopic}, Limit: 1, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Entities) != 1 || res2.Entities[0].URN == res.Entities[0].URN {
		t.Errorf("second page = %v", res2.Entities)
	}
	if _, err := e.s.Search(e.ctx, catalog.SearchQuery{Kinds: []catalog.Kind{"SPACESHIP"}}); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("invalid kind: err = %v", err)
	}
	// Deleted entities are hidden unless asked for.
	snap := prodSnapshot("1")
	snap.Assets = append(snap.Assets[:2], snap.Assets[3])
	snap.Links = []catalog.Link{snap.Links[0], snap.Links[2]}
	e.reconcile(snap)
	if got := search(catalog.SearchQuery{Text: "payments"}); len(got) != 0 {
		t.Errorf("deleted topic found: %v", got)
	}
	if got := search(catalog.SearchQuery{Text: "payments", IncludeDeleted: true}); !reflect.DeepEqual(got, []catalog.URN{payment}) {
		t.Errorf("deleted topic with IncludeDeleted = %v", got)
	}
}

func chainSnapshot() catalog.Snapshot {
	// table → connector → orders → fraud, orders → loader → dwh, loader → orders (cycle)
	tbl := catalog.URN("urn:table:postgres://db:5432/shop.public.orders")
	conn := catalog.URN("urn:connector:prod-connect/orders-cdc")
	dwh := catalog.URN("urn:table:snowflake://acme/dwh.public.orders")
	return catalog.Snapshot{Source: "lineage", Assets: []catalog.Asset{
		{URN: tbl}, {URN: conn}, {URN: orders}, {URN: fraud}, {URN: loader}, {URN: dwh},
	}, Links: []catalog.Link{
		{From: tbl, Kind: catalog.EdgeCaptures, To: conn, Confidence: 1},
		{From: conn, Kind: catalog.EdgeProduces, To: orders, Confidence: 1},
		{From: orders, Kind: catalog.EdgeConsumes, To: fraud, Confidence: 1},
		{From: orders, Kind: catalog.EdgeConsumes, To: loader, Confidence: 1},
		{From: loader, Kind: catalog.EdgeSinks, To: dwh, Confidence: 1},
		{From: loader, Kind: catalog.EdgeProduces, To: orders, Confidence: 1},
		{From: cluster, Kind: catalog.EdgeContains, To: orders, Confidence: 1},
	}}
}

func testTraverse(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(chainSnapshot())
	tbl := catalog.URN("urn:table:postgres://db:5432/shop.public.orders")
	dwh := catalog.URN("urn:table:snowflake://acme/dwh.public.orders")
	walk := func(q catalog.TraverseQuery) catalog.Traversal {
		t.Helper()
		tr, err := e.s.Traverse(e.ctx, q)
		if err != nil {
			t.Fatalf("traverse %+v: %v", q, err)
		}
		return tr
	}
	depths := func(tr catalog.Traversal) map[catalog.URN]int {
		m := map[catalog.URN]int{}
		for _, n := range tr.Nodes {
			m[n.URN] = n.Depth
		}
		return m
	}
	tr := walk(catalog.TraverseQuery{Start: tbl, Direction: catalog.Downstream})
	want := map[catalog.URN]int{"urn:connector:prod-connect/orders-cdc": 1, orders: 2, fraud: 3, loader: 3, dwh: 4}
	if got := depths(tr); !reflect.DeepEqual(got, want) {
		t.Errorf("downstream of table = %v, want %v", got, want)
	}
	path := tr.PathTo(tbl, dwh, catalog.Downstream)
	if len(path) != 5 || path[0] != tbl || path[4] != dwh || path[2] != orders {
		t.Errorf("path to dwh = %v", path)
	}
	if tr := walk(catalog.TraverseQuery{Start: tbl, Direction: catalog.Downstream, MaxDepth: 2}); len(tr.Nodes) != 2 || tr.Truncated {
		t.Errorf("depth 2 = %+v", tr)
	}
	tr = walk(catalog.TraverseQuery{Start: dwh, Direction: catalog.Upstream})
	if got := depths(tr); got[tbl] != 4 || got[loader] != 1 || len(got) != 4 {
		t.Errorf("upstream of dwh = %v", got)
	}
	if _, ok := depths(tr)[cluster]; ok {
		t.Error("structural CONTAINS edge followed by default")
	}
	tr = walk(catalog.TraverseQuery{Start: orders, Direction: catalog.Upstream, EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}})
	if got := depths(tr); !reflect.DeepEqual(got, map[catalog.URN]int{cluster: 1}) {
		t.Errorf("upstream CONTAINS of orders = %v", got)
	}
	tr = walk(catalog.TraverseQuery{Start: tbl, Direction: catalog.Downstream, Limit: 2})
	if !tr.Truncated || len(tr.Nodes) != 2 {
		t.Errorf("limited walk = %+v, want 2 nodes, truncated", tr)
	}
	tr = walk(catalog.TraverseQuery{Start: orders, Direction: catalog.Downstream, Edges: true})
	if len(tr.Edges) != 4 { // orders→fraud, orders→loader, loader→dwh, loader→orders
		t.Errorf("edges of walk from orders = %v", tr.Edges)
	}
	if _, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Start: "urn:topic:prod/none", Direction: catalog.Downstream}); !catalog.IsNotFound(err) {
		t.Errorf("traverse unknown: err = %v", err)
	}
}

func testHistory(t *testing.T, h Harness) {
	e := newEnv(t, h)
	t0 := e.clock.T
	e.reconcile(prodSnapshot("1"))
	e.clock.Advance(24 * time.Hour)
	t1 := e.clock.T
	snap := prodSnapshot("1")
	snap.Links = snap.Links[:2] // fraud stops consuming orders
	e.reconcile(snap)
	consumersAt := func(at time.Time) int {
		t.Helper()
		edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: orders, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes}, At: at})
		if err != nil {
			t.Fatal(err)
		}
		return len(edges)
	}
	if got := consumersAt(t0.Add(time.Hour)); got != 1 {
		t.Errorf("consumers of orders on day 0 = %d, want 1", got)
	}
	if got := consumersAt(t1.Add(time.Hour)); got != 0 {
		t.Errorf("consumers of orders on day 1 = %d, want 0", got)
	}
	tr, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Start: orders, Direction: catalog.Downstream, At: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Nodes) != 1 || tr.Nodes[0].URN != fraud {
		t.Errorf("historical traversal = %+v", tr.Nodes)
	}
	e.clock.Advance(24 * time.Hour)
	e.reconcile(prodSnapshot("1")) // it comes back
	edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: orders, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{catalog.EdgeConsumes}})
	if err != nil {
		t.Fatal(err)
	}
	if len(edges) != 1 || len(edges[0].Alive) != 2 || !edges[0].Alive[0].To.Equal(t1) {
		t.Errorf("revived edge intervals = %+v", edges)
	}
	if got := consumersAt(t1.Add(time.Hour)); got != 0 {
		t.Errorf("after revival, consumers on day 1 = %d, want 0", got)
	}
}

func testPropagated(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	h0 := e.head()
	att := catalog.Attachment{Classification: "PII", Source: catalog.AttachPropagated, Origin: orders, Path: []catalog.URN{orders, fraud}}
	e.apply(catalog.SetPropagated{URN: fraud, Attachments: []catalog.Attachment{att}})
	e.apply(catalog.SetPropagated{URN: fraud, Attachments: []catalog.Attachment{att}}) // same again: nothing
	e.apply(catalog.SetPropagated{URN: fraud})
	want := []string{"classification.propagated " + string(fraud), "classification.retracted " + string(fraud)}
	if got := e.changesSince(h0); !reflect.DeepEqual(got, want) {
		t.Errorf("propagation changes:\n got %v\nwant %v", got, want)
	}
}

func testCrawlRuns(t *testing.T, h Harness) {
	e := newEnv(t, h)
	start := e.clock.T
	run := &catalog.CrawlRun{Source: "prod", Kind: "kafka", Trigger: "manual", Status: catalog.CrawlSucceeded, StartedAt: start, Duration: 1500 * time.Millisecond, Counts: map[string]int{"TOPIC": 2}}
	if _, err := e.s.Reconcile(e.ctx, prodSnapshot("1"), run); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	ch, err := e.s.RecordCrawlRun(e.ctx, catalog.CrawlRun{Source: "prod", Kind: "kafka", Status: catalog.CrawlFailed, StartedAt: e.clock.T, Errors: []string{"dial tcp: connection refused"}})
	if err != nil {
		t.Fatal(err)
	}
	if ch.Type != catalog.CrawlFailedEvent {
		t.Errorf("failed run event = %s", ch.Type)
	}
	runs, err := e.s.CrawlRuns(e.ctx, "prod", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Status != catalog.CrawlFailed || runs[1].Status != catalog.CrawlSucceeded {
		t.Fatalf("runs = %+v", runs)
	}
	if runs[1].Result.Created != 4 || runs[1].Counts["TOPIC"] != 2 || runs[1].Duration != 1500*time.Millisecond {
		t.Errorf("succeeded run = %+v", runs[1])
	}
	if runs[0].Errors[0] != "dial tcp: connection refused" {
		t.Errorf("failed run errors = %v", runs[0].Errors)
	}
	all, err := e.s.Changes(e.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var completed int
	for _, c := range all {
		if c.Type == catalog.CrawlCompletedEvent {
			completed++
		}
	}
	if completed != 1 {
		t.Errorf("crawl.completed events = %d, want 1", completed)
	}
}

func testReopen(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	e.apply(catalog.Classify{URN: orders, Classification: "PII"}, catalog.SetOwners{URN: orders, Owners: []string{"team:orders"}})
	before := e.entity(orders)
	beforeChanges, err := e.s.Changes(e.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	beforeFraud := e.entity(fraud)
	e.reopen()
	after := e.entity(orders)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("orders changed across reopen:\nbefore %+v\n after %+v", before, after)
	}
	if got := e.entity(fraud); !reflect.DeepEqual(beforeFraud.Live, got.Live) {
		t.Errorf("live readings changed across reopen: %v vs %v", beforeFraud.Live, got.Live)
	}
	afterChanges, err := e.s.Changes(e.ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(beforeChanges, afterChanges) {
		t.Errorf("change log changed across reopen: %d vs %d entries", len(beforeChanges), len(afterChanges))
	}
	// Reconcile after reopen still sees the old facets: no spurious events.
	h0 := e.head()
	e.reconcile(prodSnapshot("1"))
	if got := e.changesSince(h0); len(got) != 0 {
		t.Errorf("re-crawl after reopen wrote %v", got)
	}
	// Search and traversal indexes were rebuilt.
	res, err := e.s.Search(e.ctx, catalog.SearchQuery{Text: "orders", Classifications: []string{"PII"}})
	if err != nil || len(res.Entities) != 1 {
		t.Errorf("search after reopen = %v, %v", res, err)
	}
	tr, err := e.s.Traverse(e.ctx, catalog.TraverseQuery{Start: orders, Direction: catalog.Downstream})
	if err != nil || len(tr.Nodes) != 1 {
		t.Errorf("traverse after reopen = %v, %v", tr, err)
	}
}

func testPushScopes(t *testing.T, h Harness) {
	e := newEnv(t, h)
	d := catalog.URN("urn:dataset:s3://lake/d")
	jobA, jobB := catalog.URN("urn:job:spark://etl/a"), catalog.URN("urn:job:spark://etl/b")
	push := func(scope string, job catalog.URN, withD bool) {
		t.Helper()
		s := catalog.Snapshot{Source: "openlineage", Scopes: []string{scope}, Assets: []catalog.Asset{{URN: job, Scope: scope}}}
		if withD {
			s.Assets = append(s.Assets, catalog.Asset{URN: d, Scope: scope})
			s.Links = append(s.Links, catalog.Link{From: d, Kind: catalog.EdgeConsumes, To: job, Confidence: 1, Scope: scope})
		}
		e.reconcile(s)
	}
	push("job/a", jobA, true)
	push("job/b", jobB, true)
	// Job b stops reading d; job a still does: d stays.
	push("job/b", jobB, false)
	if e.entity(d).Deleted() {
		t.Fatal("dataset still asserted under job/a was deleted by a job/b snapshot")
	}
	// One snapshot asserting the same link under two scopes, then one of the
	// scopes alone forgets it: the other keeps it.
	two := catalog.Snapshot{Source: "topology", Assets: []catalog.Asset{{URN: d, Scope: "app/x"}, {URN: d, Scope: "app/y"}}, Links: []catalog.Link{
		{From: d, Kind: catalog.EdgeConsumes, To: jobB, Confidence: 1, Scope: "app/x"},
		{From: d, Kind: catalog.EdgeConsumes, To: jobB, Confidence: 1, Scope: "app/y"},
	}}
	e.reconcile(two)
	e.reconcile(catalog.Snapshot{Source: "topology", Scopes: []string{"app/x"}})
	edges, err := e.s.Edges(e.ctx, catalog.EdgeQuery{URN: d, Direction: catalog.Downstream})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ed := range edges {
		for _, c := range ed.Claims {
			if ed.To == jobB && c.Source == "topology" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("claim still asserted under app/y was removed by an app/x snapshot: %+v", edges)
	}
	push("job/a", jobA, false)
	e.reconcile(catalog.Snapshot{Source: "topology", Scopes: []string{"app/y"}})
	if !e.entity(d).Deleted() {
		t.Error("dataset asserted by no scope any more is not a tombstone")
	}
}

func testNoSilentWrites(t *testing.T, h Harness) {
	e := newEnv(t, h)
	e.reconcile(prodSnapshot("1"))
	referenced := catalog.URN("urn:group:prod/only-referenced")
	e.reconcile(catalog.Snapshot{Source: "other", Links: []catalog.Link{{From: orders, Kind: catalog.EdgeConsumes, To: referenced, Confidence: 1}}})
	h0 := e.head()
	att := catalog.Attachment{Classification: "PII", Source: catalog.AttachPropagated, Origin: orders, Path: []catalog.URN{orders, referenced}}
	for _, u := range []catalog.URN{referenced, "urn:group:prod/never-seen"} {
		_, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.SetPropagated{URN: u, Attachments: []catalog.Attachment{att}}}})
		if catalog.KindOf(err) != catalog.Conflict {
			t.Errorf("propagating onto %s: %v, want Conflict", u, err)
		}
	}
	// A tombstoned edge cannot be changed silently.
	snap := prodSnapshot("1")
	snap.Links = snap.Links[:2]
	e.reconcile(snap)
	h1 := e.head()
	_, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: orders, Kind: catalog.EdgeConsumes, To: fraud}, Block: []string{"PII"}}}})
	if !catalog.IsNotFound(err) {
		t.Errorf("blocking a removed edge: %v, want NotFound", err)
	}
	if h := e.head(); h != h1 {
		t.Errorf("failed mutations wrote %d changes", h-h1)
	}
	if _, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{catalog.AddLineage{From: orders, Kind: catalog.EdgeConsumes, To: referenced}}}); err != nil {
		t.Errorf("lineage to a referenced URN: %v", err)
	}
	if h := e.head(); h == h0 {
		t.Error("lineage to a referenced URN wrote no change")
	}
	// In one batch, later mutations see earlier ones.
	k := catalog.EdgeKey{From: orders, Kind: catalog.EdgeDerives, To: payment}
	ch, err := e.s.Apply(e.ctx, catalog.Batch{Mutations: []catalog.Mutation{
		catalog.AddLineage{From: k.From, Kind: k.Kind, To: k.To},
		catalog.SetEdgeBlock{Edge: k, Block: []string{"PII"}},
		catalog.RemoveLineage{From: k.From, Kind: k.Kind, To: k.To},
	}})
	if err != nil {
		t.Fatalf("add, block and remove in one batch: %v", err)
	}
	if len(ch) != 0 {
		t.Errorf("add then remove in one batch wrote %v", ch)
	}
	if cs, err := e.s.Changes(e.ctx, ^uint64(0), 10); err != nil || len(cs) != 0 {
		t.Errorf("changes after the largest sequence = %v, %v", cs, err)
	}
	bad := catalog.Snapshot{Source: "x", Links: []catalog.Link{{From: orders, Kind: catalog.EdgeConsumes, To: fraud, Confidence: nan()}}}
	if _, err := e.s.Reconcile(e.ctx, bad, nil); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("NaN confidence: %v, want Invalid", err)
	}
}

func nan() float64 {
	var zero float64
	return zero / zero
}

func testCrawlRunCounts(t *testing.T, h Harness) {
	e := newEnv(t, h)
	run := &catalog.CrawlRun{Source: "prod", Status: catalog.CrawlSucceeded, StartedAt: e.clock.T}
	res, err := e.s.Reconcile(e.ctx, prodSnapshot("1"), run)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := e.s.CrawlRuns(e.ctx, "prod", 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changes != 7 || runs[0].Result.Changes != res.Changes || runs[0].Result.Seq != res.Seq || res.Seq == 0 {
		t.Errorf("result %+v, stored run %+v", res, runs[0].Result)
	}
	cs, err := e.s.Changes(e.ctx, res.Seq, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Type != catalog.CrawlCompletedEvent || !strings.Contains(string(cs[0].Data), `"changes":7`) {
		t.Errorf("crawl.completed = %+v", cs)
	}
}

// A crawl that changes nothing writes no event; every run is recorded. A
// failed run writes crawl.failed, the first run after it that succeeds (or
// is partial) crawl.recovered, whether or not it changed anything.
func testCrawlEvents(t *testing.T, h Harness) {
	e := newEnv(t, h)
	var crawlEvents []string
	crawl := func(status catalog.CrawlStatus, snap *catalog.Snapshot) {
		t.Helper()
		e.clock.Advance(time.Minute)
		run := catalog.CrawlRun{Source: "prod", Kind: "kafka", Trigger: "schedule", Status: status, StartedAt: e.clock.T}
		h0 := e.head()
		if snap == nil {
			run.Errors = []string{"dial tcp: connection refused"}
			if _, err := e.s.RecordCrawlRun(e.ctx, run); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.s.Reconcile(e.ctx, *snap, &run); err != nil {
			t.Fatal(err)
		}
		cs, err := e.s.Changes(e.ctx, h0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if strings.HasPrefix(string(c.Type), "crawl.") {
				crawlEvents = append(crawlEvents, string(c.Type))
			}
		}
	}
	snap := prodSnapshot("1")
	crawl(catalog.CrawlSucceeded, &snap) // first crawl: creates everything
	crawl(catalog.CrawlSucceeded, &snap) // nothing changed
	crawl(catalog.CrawlSucceeded, &snap)
	crawl(catalog.CrawlFailed, nil)
	crawl(catalog.CrawlFailed, nil)
	crawl(catalog.CrawlSucceeded, &snap) // recovered, though nothing changed
	crawl(catalog.CrawlSucceeded, &snap)
	changed := prodSnapshot("2")
	crawl(catalog.CrawlSucceeded, &changed) // a change
	crawl(catalog.CrawlFailed, nil)
	partial := changed
	partial.Incomplete = map[string]string{"topic/orders": "no leader"}
	crawl(catalog.CrawlPartial, &partial) // a partial run is no failure: recovered
	crawl(catalog.CrawlPartial, &partial)
	want := []string{"crawl.completed", "crawl.failed", "crawl.failed", "crawl.recovered", "crawl.completed", "crawl.failed", "crawl.recovered"}
	if !reflect.DeepEqual(crawlEvents, want) {
		t.Errorf("crawl events:\n got %v\nwant %v", crawlEvents, want)
	}
	runs, err := e.s.CrawlRuns(e.ctx, "prod", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 11 {
		t.Errorf("%d crawl runs recorded, want 11", len(runs))
	}
	// A succeeded run recorded without a reconcile writes nothing either.
	h0 := e.head()
	e.clock.Advance(time.Minute)
	if ch, err := e.s.RecordCrawlRun(e.ctx, catalog.CrawlRun{Source: "prod", Status: catalog.CrawlSucceeded, StartedAt: e.clock.T}); err != nil || ch.Seq != 0 {
		t.Errorf("RecordCrawlRun of a quiet success = %+v, %v", ch, err)
	}
	if e.head() != h0 {
		t.Error("a quiet run wrote a change")
	}
}
