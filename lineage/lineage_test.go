package lineage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
)

const (
	tOrders = catalog.URN("urn:topic:prod/orders")
	gBill   = catalog.URN("urn:group:prod/billing")
)

func smallStore(t *testing.T) (*scenario, context.Context) {
	t.Helper()
	sc := &scenario{t: t, ctx: t.Context(), now: scenarioStart}
	sc.store = openStore(t, func() time.Time { return sc.now })
	snap := catalog.Snapshot{Source: "prod", Assets: []catalog.Asset{{URN: tOrders}, {URN: gBill}},
		Links: []catalog.Link{{From: tOrders, Kind: catalog.EdgeConsumes, To: gBill, Confidence: 1, Origin: "consumer-offsets"}}}
	if _, err := sc.store.Reconcile(sc.ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	return sc, sc.ctx
}

// movingGraph commits a change the first time the walk's entities are read,
// as a concurrent writer would.
type movingGraph struct {
	*scenario
	moved bool
}

func (g *movingGraph) Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	if !g.moved {
		g.moved = true
		if _, err := g.store.Apply(ctx, catalog.Batch{Actor: "test", Mutations: []catalog.Mutation{
			catalog.SetDescription{URN: gBill, Description: "pays the bills"}}}); err != nil {
			return nil, err
		}
	}
	return g.store.Entities(ctx, urns)
}

func (g *movingGraph) Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error) {
	return g.store.Traverse(ctx, q)
}

func (g *movingGraph) EdgesByKey(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error) {
	return g.store.EdgesByKey(ctx, keys)
}

func (g *movingGraph) Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error) {
	return g.store.Scan(ctx, kind, after, limit)
}

func (g *movingGraph) LastSeq(ctx context.Context) (uint64, error) { return g.store.LastSeq(ctx) }

func TestTraverseRereadsWhenTheCatalogMoves(t *testing.T) {
	sc, ctx := smallStore(t)
	before, err := sc.store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g := &movingGraph{scenario: sc}
	res, err := lineage.Traverse(ctx, g, lineage.Query{Starts: []catalog.URN{tOrders}, Direction: catalog.Downstream, Assets: true, Edges: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Seq != before+1 {
		t.Errorf("seq %d, want %d (the position after the concurrent write)", res.Seq, before+1)
	}
	if len(res.Nodes) != 1 || res.Nodes[0].Asset.Description != "pays the bills" {
		t.Errorf("nodes %+v: want the billing group as of the new position", res.Nodes)
	}
	if len(res.Edges) != 1 || res.Edges[0].Claims[0].Origin != "consumer-offsets" {
		t.Errorf("edges %+v: want the consumes edge with its provenance", res.Edges)
	}
}

func TestImpactSeqIsThePositionRead(t *testing.T) {
	sc, ctx := smallStore(t)
	head, err := sc.store.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := lineage.Impact(ctx, sc.store, lineage.ImpactQuery{URN: tOrders})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Seq != head || len(rep.ConsumerGroups) != 1 || rep.Level != lineage.LevelDataset {
		t.Errorf("impact = %+v, want the billing group at seq %d", rep, head)
	}
}

func TestBadQueries(t *testing.T) {
	sc, ctx := smallStore(t)
	for _, c := range []struct {
		name string
		run  func() error
		kind catalog.ErrorKind
		msg  string
	}{
		{"no start", func() error {
			_, err := lineage.Traverse(ctx, sc.store, lineage.Query{Direction: catalog.Downstream})
			return err
		}, catalog.Invalid, "no start"},
		{"both directions", func() error {
			_, err := lineage.Traverse(ctx, sc.store, lineage.Query{Starts: []catalog.URN{tOrders}, Direction: catalog.Both})
			return err
		}, catalog.Invalid, "direction"},
		{"unknown level", func() error {
			_, err := lineage.Traverse(ctx, sc.store, lineage.Query{Starts: []catalog.URN{tOrders}, Level: "COLUMN"})
			return err
		}, catalog.Invalid, "level"},
		{"unknown kind", func() error {
			_, err := lineage.Traverse(ctx, sc.store, lineage.Query{Starts: []catalog.URN{tOrders}, Kinds: []catalog.Kind{"QUEUE"}})
			return err
		}, catalog.Invalid, "kind"},
		{"unknown start", func() error {
			_, err := lineage.Traverse(ctx, sc.store, lineage.Query{Starts: []catalog.URN{"urn:topic:prod/nope"}})
			return err
		}, catalog.NotFound, "urn:topic:prod/nope"},
		{"unknown impact root", func() error {
			_, err := lineage.Impact(ctx, sc.store, lineage.ImpactQuery{URN: "urn:field:prod/nope/value/x"})
			return err
		}, catalog.NotFound, "nope"},
		{"negative depth", func() error {
			_, err := lineage.Impact(ctx, sc.store, lineage.ImpactQuery{URN: tOrders, Depth: -1})
			return err
		}, catalog.Invalid, "depth"},
		{"subject URN of another kind", func() error {
			_, err := lineage.SchemaChangeImpact(ctx, sc.store, lineage.SchemaChangeQuery{Subject: string(tOrders), Schema: `"string"`})
			return err
		}, catalog.Invalid, "not a schema subject"},
		{"empty candidate", func() error {
			_, err := lineage.SchemaChangeImpact(ctx, sc.store, lineage.SchemaChangeQuery{Subject: "orders-value", Schema: " "})
			return err
		}, catalog.Invalid, "empty"},
		{"unknown schema type", func() error {
			_, err := lineage.SchemaChangeImpact(ctx, sc.store, lineage.SchemaChangeQuery{Subject: "orders-value", Schema: `"string"`, SchemaType: "XML"})
			return err
		}, catalog.Invalid, "XML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.run()
			if catalog.KindOf(err) != c.kind || err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("err = %v (%v), want %v containing %q", err, catalog.KindOf(err), c.kind, c.msg)
			}
		})
	}
}

func TestSchemaChangeFindsTheSubject(t *testing.T) {
	sc, ctx := smallStore(t)
	const text = `{"type": "record", "name": "O", "fields": [{"name": "id", "type": "long"}]}`
	for _, reg := range []string{"sr-eu", "sr-us"} {
		ru := catalog.MakeURN(catalog.KindSchemaRegistry, reg)
		su := catalog.MakeURN(catalog.KindSchemaSubject, reg+"/orders-value")
		vu := catalog.MakeURN(catalog.KindSchemaVersion, reg+"/orders-value/1")
		snap := catalog.Snapshot{Source: reg, Assets: []catalog.Asset{
			{URN: ru}, {URN: su, Name: "orders-value", Properties: catalog.Properties{"schemaType": "AVRO"}},
			{URN: vu, Properties: catalog.Properties{"version": 1, "schema": text}}},
			Links: []catalog.Link{{From: ru, Kind: catalog.EdgeContains, To: su, Confidence: 1}, {From: su, Kind: catalog.EdgeHasSchema, To: vu, Confidence: 1}}}
		if _, err := sc.store.Reconcile(ctx, snap, nil); err != nil {
			t.Fatal(err)
		}
	}
	_, err := lineage.SchemaChangeImpact(ctx, sc.store, lineage.SchemaChangeQuery{Subject: "orders-value", Schema: text})
	if catalog.KindOf(err) != catalog.Invalid || !strings.Contains(err.Error(), "sr-eu, sr-us") {
		t.Errorf("ambiguous subject: %v, want Invalid naming both registries", err)
	}
	for _, q := range []lineage.SchemaChangeQuery{
		{Subject: "orders-value", Registry: "sr-us", Schema: text},
		{Subject: "urn:subject:sr-us/orders-value", Schema: text},
	} {
		rep, err := lineage.SchemaChangeImpact(ctx, sc.store, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if rep.Subject.URN != "urn:subject:sr-us/orders-value" || rep.LatestVersion != 1 || len(rep.Changes) != 0 ||
			!rep.Compatibility.Compatible || rep.Compatibility.LevelSource != "default" || rep.Compatibility.Level != "BACKWARD" {
			t.Errorf("%+v: got %+v", q, rep)
		}
	}
	if _, err := lineage.SchemaChangeImpact(ctx, sc.store, lineage.SchemaChangeQuery{Subject: "orders-value", Registry: "sr-ap", Schema: text}); !catalog.IsNotFound(err) {
		t.Errorf("unknown registry: %v, want NotFound", err)
	}
}
