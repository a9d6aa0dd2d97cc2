package connect

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/internal/fakeconnect"
)

// graphReader is a catalog.Reader over a fixed graph: enough of a store for
// CatalogLookup, which reads entities, edges and CONTAINS walks.
type graphReader struct {
	catalog.Reader // unused methods panic
	entities       map[catalog.URN]catalog.Entity
	edges          []catalog.Edge
	fail           error
}

func (g *graphReader) Entity(_ context.Context, u catalog.URN) (catalog.Entity, error) {
	if g.fail != nil {
		return catalog.Entity{}, g.fail
	}
	e, ok := g.entities[u]
	if !ok {
		return catalog.Entity{}, catalog.Errorf(catalog.NotFound, "no entity %s", u)
	}
	return e, nil
}

func (g *graphReader) Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	out := make([]catalog.Entity, len(urns))
	for i, u := range urns {
		e, err := g.Entity(ctx, u)
		if catalog.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (g *graphReader) Edges(_ context.Context, q catalog.EdgeQuery) ([]catalog.Edge, error) {
	var out []catalog.Edge
	for _, e := range g.edges {
		if e.From == q.URN && (len(q.Kinds) == 0 || e.Kind == q.Kinds[0]) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (g *graphReader) Traverse(_ context.Context, q catalog.TraverseQuery) (catalog.Traversal, error) {
	var t catalog.Traversal
	frontier := []catalog.URN{q.Start}
	seen := map[catalog.URN]bool{q.Start: true}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []catalog.URN
		for _, u := range frontier {
			for _, e := range g.edges {
				if e.From != u || e.Kind != q.EdgeKinds[0] || e.Deleted() || seen[e.To] {
					continue
				}
				seen[e.To] = true
				t.Nodes = append(t.Nodes, catalog.Reached{URN: e.To, Kind: e.To.Kind(), Depth: depth, Via: e.EdgeKey})
				next = append(next, e.To)
			}
		}
		frontier = next
	}
	return t, nil
}

func (g *graphReader) contains(from, to string) {
	g.edges = append(g.edges, catalog.Edge{EdgeKey: catalog.EdgeKey{From: catalog.URN(from), Kind: catalog.EdgeContains, To: catalog.URN(to)}})
}

// field adds a FIELD entity with the properties the schema registry crawler
// writes, contained by parent.
func (g *graphReader) field(parent, urn, part, path string) {
	g.contains(parent, urn)
	g.entities[catalog.URN(urn)] = catalog.Entity{URN: catalog.URN(urn), Kind: catalog.KindField,
		Properties: catalog.Properties{"path": path, "part": part, "type": "string"}}
}

// registryGraph is what the kafka and schema registry crawlers leave in the
// catalog for topic cdc.customers: the topic with its value record name, a
// nested field tree and a key field.
func registryGraph() *graphReader {
	g := &graphReader{entities: map[catalog.URN]catalog.Entity{
		"urn:topic:prod/cdc.customers": {URN: "urn:topic:prod/cdc.customers", Kind: catalog.KindTopic,
			Properties: catalog.Properties{"valueSchemaName": "dbserver1.inventory.customers.Envelope", "partitions": json.Number("3")}},
		"urn:topic:prod/gone": {URN: "urn:topic:prod/gone", Kind: catalog.KindTopic, DeletedAt: time.Unix(1, 0)},
	}}
	topic, f := "urn:topic:prod/cdc.customers", "urn:field:prod/cdc.customers/"
	g.contains("urn:kafka:prod", topic)
	g.contains("urn:kafka:prod", "urn:topic:prod/cdc.orders")
	g.contains("urn:kafka:other", "urn:topic:other/elsewhere")
	g.field(topic, f+"value/after", "value", "after")
	g.field(f+"value/after", f+"value/after.id", "value", "after.id")
	g.field(f+"value/after", f+"value/after.email", "value", "after.email")
	g.field(topic, f+"value/before", "value", "before")
	g.field(f+"value/before", f+"value/before.email", "value", "before.email")
	g.field(topic, f+"value/op", "value", "op")
	g.field(topic, f+"key/id", "key", "id")
	// The path comes from the property, never from the URN: a field whose
	// URN spells its path escaped still has its real path.
	g.field(f+"value/after", f+"value/after.first%20name", "value", "after.first name")
	// A field another source asserted without a part is a value field; a
	// tombstoned one is gone.
	g.field(topic, f+"value/source", "", "source")
	delete(g.entities[catalog.URN(f+"value/source")].Properties, "part")
	g.field(topic, f+"value/dropped", "value", "dropped")
	dropped := g.entities[catalog.URN(f+"value/dropped")]
	dropped.DeletedAt = time.Unix(2, 0)
	g.entities[dropped.URN] = dropped
	return g
}

func TestCatalogLookup(t *testing.T) {
	ctx := context.Background()
	l := NewCatalogLookup(registryGraph())
	ts, ok, err := l.ValueSchema(ctx, "urn:topic:prod/cdc.customers")
	if err != nil || !ok {
		t.Fatalf("ValueSchema: %v %v", ok, err)
	}
	want := TopicSchema{
		RecordName: "dbserver1.inventory.customers.Envelope",
		Paths:      []string{"after", "after.email", "after.first name", "after.id", "before", "before.email", "op", "source"},
	}
	if ts.RecordName != want.RecordName || strings.Join(ts.Paths, ",") != strings.Join(want.Paths, ",") {
		t.Errorf("ValueSchema = %+v, want %+v", ts, want)
	}
	for _, u := range []catalog.URN{"urn:topic:prod/unknown", "urn:topic:prod/gone", "urn:topic:prod/cdc.orders"} {
		if _, ok, err := l.ValueSchema(ctx, u); ok || err != nil {
			t.Errorf("%s: ok=%v err=%v", u, ok, err)
		}
	}
	topics, err := l.Topics(ctx, "prod")
	if err != nil || strings.Join(topics, ",") != "cdc.customers,cdc.orders" {
		t.Errorf("Topics = %v %v", topics, err)
	}
	broken := &graphReader{fail: errors.New("pebble: closed")}
	if _, _, err := NewCatalogLookup(broken).ValueSchema(ctx, "urn:topic:prod/x"); err == nil || !strings.Contains(err.Error(), "read topic urn:topic:prod/x: pebble: closed") {
		t.Errorf("error = %v", err)
	}
}

// TestCrawlWithCatalog wires the crawler as the registry does, with the
// catalog as Env.Catalog, and derives field lineage from it.
func TestCrawlWithCatalog(t *testing.T) {
	s := loadScenario(t, "postgres_regexrouter.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	raw, err := json.Marshal(map[string]any{"url": srv.URL, "cluster": "prod", "timeout": "5s"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Kind().DecodeConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	cr, err := cfg.New(crawlers.Env{Source: testSource, Catalog: registryGraph(), Sources: func(name string) (crawlers.SourceSpec, bool) {
		return crawlers.SourceSpec{Name: name, Kind: "kafka"}, name == "prod"
	}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := cr.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	col := "urn:column:" + pgInv + ".customers/"
	f := "urn:field:prod/cdc.customers/value/"
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		col + "email -DERIVES-> " + f + "after.email [connect-config 1.0]",
		col + "email -DERIVES-> " + f + "before.email [connect-config 1.0]",
		// a name that needs escaping is escaped alike on both ends
		col + "first%20name -DERIVES-> " + f + "after.first%20name [connect-config 1.0]",
		col + "id -DERIVES-> " + f + "after.id [connect-config 1.0]",
	})
	// A catalog failure keeps the field lineage the store had.
	cr2, err := cfg.New(crawlers.Env{Source: testSource, Catalog: &graphReader{fail: errors.New("pebble: closed")}})
	if err != nil {
		t.Fatal(err)
	}
	snap, err = cr2.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := snap.Incomplete["connector/inventory-cdc"]; !strings.Contains(r, "read schema of topic cdc.customers") {
		t.Errorf("incomplete = %v", snap.Incomplete)
	}
}

func TestConfig(t *testing.T) {
	k := Kind()
	if k.Name != "connect" || len(k.Emits) != 6 {
		t.Errorf("kind = %+v", k)
	}
	tests := []struct{ raw, err string }{
		{`{"url":"http://connect:8083","cluster":"prod"}`, ""},
		{`{"url":"https://connect:8443","cluster":"prod","username":"u","passwordFile":"/run/secrets/pw","tls":{"caFile":"/ca.pem"},"timeout":"30s","headers":{"X-Token":"t"}}`, ""},
		{`{"cluster":"prod"}`, "url: the Kafka Connect REST URL is required"},
		{`{"url":"ftp://x","cluster":"prod"}`, "scheme must be http or https"},
		{`{"url":"http://u:p@connect:8083","cluster":"prod"}`, "not in the URL"},
		{`{"url":"http://connect:8083"}`, "cluster: the name of the Kafka source"},
		{`{"url":"http://connect:8083","cluster":"prod","password":"p"}`, "username: required"},
		{`{"url":"http://connect:8083","cluster":"prod","username":"u","password":"p","passwordFile":"f"}`, "mutually exclusive"},
		{`{"url":"http://connect:8083","cluster":"prod","timeout":"soon"}`, "timeout:"},
		{`{"url":"http://connect:8083","cluster":"prod","timeout":"-1s"}`, "must be positive"},
		{`{"url":"http://connect:8083","cluster":"prod","headers":{"bad header":"x"}}`, "not a valid header name"},
		{`{"url":"http://connect:8083","cluster":"prod","extra":1}`, "unknown field"},
	}
	for _, tc := range tests {
		_, err := k.DecodeConfig(json.RawMessage(tc.raw))
		if tc.err == "" && err != nil {
			t.Errorf("%s: %v", tc.raw, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.raw, err, tc.err)
		}
	}
	cfg, err := k.DecodeConfig(json.RawMessage(`{"url":"http://connect:8083","cluster":"prod"}`))
	if err != nil {
		t.Fatal(err)
	}
	sources := func(name string) (crawlers.SourceSpec, bool) {
		if name == "prod" {
			return crawlers.SourceSpec{Name: "prod", Kind: "schemaregistry"}, true
		}
		return crawlers.SourceSpec{}, false
	}
	if _, err := cfg.New(crawlers.Env{Source: "c", Sources: sources}); err == nil || !strings.Contains(err.Error(), "not kafka") {
		t.Errorf("cluster of the wrong kind: %v", err)
	}
	if _, err := cfg.New(crawlers.Env{Source: "c", Sources: func(string) (crawlers.SourceSpec, bool) { return crawlers.SourceSpec{}, false }}); err == nil {
		t.Error("unknown cluster accepted")
	}
	if _, err := cfg.New(crawlers.Env{Source: "manual"}); err == nil {
		t.Error("reserved source name accepted")
	}
	if _, err := (&Config{URL: "https://connect:8443", Cluster: "prod", TLS: TLSConfig{CAFile: "/nonexistent/ca.pem"}}).New(crawlers.Env{Source: "c"}); err != nil {
		t.Errorf("New must do no I/O: %v", err)
	}
}

func TestCAFileIsReadAtCrawl(t *testing.T) {
	c := newTestCrawler(t, "https://127.0.0.1:1", nil, func(o *Options) { o.Config.TLS.CAFile = "/nonexistent/ca.pem" })
	if _, err := c.Crawl(context.Background()); err == nil || !strings.Contains(err.Error(), "read tls.caFile") {
		t.Errorf("err = %v", err)
	}
}
