package openlineage

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Tests of what the OpenLineage spec allows and upstream producers send.

const (
	testProducer = `"producer": "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark"`
	runEventURL  = `"schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"`
)

func facetMeta(schema string) string {
	return `"_producer": "https://github.com/OpenLineage/OpenLineage/tree/1.23.0/integration/spark", "_schemaURL": "https://openlineage.io/spec/facets/` + schema + `"`
}

// runEvent renders a RunEvent of job spark/<job> with the given inputs and
// outputs (JSON arrays).
func runEventJSON(eventType, runID, at, job, inputs, outputs string) string {
	return fmt.Sprintf(`{"eventType": %q, "eventTime": %q, "run": {"runId": %q}, "job": {"namespace": "spark", "name": %q}, "inputs": %s, "outputs": %s, %s, %s}`,
		eventType, at, runID, job, inputs, outputs, testProducer, runEventURL)
}

func (e *env) mustPost(body string) map[string]any {
	e.t.Helper()
	status, m := e.post(LineagePath, "application/json", []byte(body))
	if status != http.StatusCreated {
		e.t.Fatalf("status %d: %v\nbody: %s", status, m, body)
	}
	return m
}

// A columnLineage facet that does not match ColumnLineageDatasetFacet is
// ignored with a warning naming the problem; the event's datasets are
// recorded.
func TestBrokenColumnLineageIgnored(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"events/broken_column_lineage_missing_field.json", "at /outputs/0/facets/columnLineage/fields/a/inputFields/0: missing property 'field'"},
		{"events/broken_column_lineage_transformation_without_type.json", "at /outputs/0/facets/columnLineage/fields/a/inputFields/0/transformations/0: missing property 'type'"},
	} {
		t.Run(c.file, func(t *testing.T) {
			e := newEnv(t, nil)
			m := e.postEvent(c.file)
			ws, _ := m["warnings"].([]any)
			if len(ws) != 1 {
				t.Fatalf("warnings = %v", m["warnings"])
			}
			w := ws[0].(map[string]any)
			msg, _ := w["message"].(string)
			if w["at"] != "/outputs/0/facets/columnLineage" || !strings.Contains(msg, "ColumnLineageDatasetFacet 1-2-0") || !strings.Contains(msg, c.want) || !strings.HasSuffix(msg, "the facet is ignored") {
				t.Errorf("warning = %v", w)
			}
			job := catalog.URN("urn:job:my-namespace/my-job")
			equalStrings(t, "dataset edges", e.edges(job, SourceOpenLineage), keys(
				key("urn:dataset:my-namespace/my-input", catalog.EdgeConsumes, string(job)),
				key(string(job), catalog.EdgeProduces, "urn:dataset:my-namespace/my-output"),
			))
			if got := e.edges("urn:field:my-namespace/my-output/a", SourceOpenLineage, catalog.EdgeDerives); len(got) != 0 {
				t.Errorf("the ignored facet linked %v", got)
			}
		})
	}
}

// A standard facet is checked against the schema its _schemaURL names
// (else the newest published one); one that does not match is ignored —
// here a schema facet whose field lacks a name: the dataset is recorded
// without fields — and the answer says why.
func TestBrokenFacetsIgnored(t *testing.T) {
	e := newEnv(t, nil)
	out := `[{"namespace": "s3://lake", "name": "out", "facets": {
		"schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"type": "string"}]},
		"documentation": {` + facetMeta("1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet") + `, "description": "curated output"}}}]`
	ev := strings.Replace(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000001", "2024-06-01T00:00:00Z", "broken", "[]", out),
		`"job": {"namespace": "spark", "name": "broken"}`,
		`"job": {"namespace": "spark", "name": "broken", "facets": {"sql": {`+facetMeta("1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet")+`, "dialect": "spark"}}}`, 1)
	m := e.mustPost(ev)
	var got []string
	for _, w := range m["warnings"].([]any) {
		w := w.(map[string]any)
		got = append(got, w["at"].(string)+" "+w["message"].(string))
	}
	equalStrings(t, "warnings", got, []string{
		"/job/facets/sql sql facet does not match SQLJobFacet 1-1-0: at /job/facets/sql: missing property 'query'; the facet is ignored",
		"/outputs/0/facets/schema schema facet does not match SchemaDatasetFacet 1-1-1: at /outputs/0/facets/schema/fields/0: missing property 'name'; the facet is ignored",
	})
	ds, ok := e.entity("urn:dataset:s3://lake/out")
	if !ok || ds.Description != "curated output" {
		t.Fatalf("dataset = %+v", ds)
	}
	if f := e.edges("urn:dataset:s3://lake/out", SourceOpenLineage, catalog.EdgeContains); len(f) != 0 {
		t.Errorf("fields of the ignored schema: %v", f)
	}
	if job, _ := e.entity("urn:job:spark/broken"); job.Properties["sql"] != nil {
		t.Errorf("the ignored sql facet was applied: %v", job.Properties)
	}
	// A deletion carries no content and is not checked against the schema.
	del := strings.Replace(ev, `"dialect": "spark"`, `"_deleted": true`, 1)
	if m := e.mustPost(del); strings.Contains(fmt.Sprint(m["warnings"]), "/job/facets/sql") {
		t.Errorf("a _deleted facet was checked: %v", m["warnings"])
	}
}

// The spec allows empty names (no minLength anywhere); they map onto URNs
// like any other name.
func TestEmptyNames(t *testing.T) {
	e := newEnv(t, nil)
	ev := `{"eventType": "COMPLETE", "eventTime": "2024-06-01T00:00:00Z", "run": {"runId": "01912b5a-61a0-7000-8000-000000000002"},
	 "job": {"namespace": "airflow", "name": ""},
	 "inputs": [{"namespace": "my-namespace", "name": ""}],
	 "outputs": [{"namespace": "s3://lake", "name": "out", "facets": {
		"schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"name": ""}]},
		"columnLineage": {` + facetMeta("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet") + `,
		  "fields": {"": {"inputFields": [{"namespace": "my-namespace", "name": "", "field": ""}]}}}}}],
	 ` + testProducer + `, ` + runEventURL + `}`
	m := e.mustPost(ev)
	if m["job"] != "urn:job:airflow/" || m["warnings"] != nil {
		t.Fatalf("answer = %v", m)
	}
	equalStrings(t, "edges", e.edges("urn:job:airflow/", SourceOpenLineage), keys(
		key("urn:dataset:my-namespace/", catalog.EdgeConsumes, "urn:job:airflow/"),
		key("urn:job:airflow/", catalog.EdgeProduces, "urn:dataset:s3://lake/out"),
	))
	equalStrings(t, "field lineage", e.edges("urn:field:s3://lake/out/", SourceOpenLineage, catalog.EdgeDerives), keys(
		key("urn:field:my-namespace//", catalog.EdgeDerives, "urn:field:s3://lake/out/"),
	))
}

// eventTime may be a leap second (RFC 3339 allows second 60); it orders as
// the instant before the next minute's first second.
func TestLeapSecond(t *testing.T) {
	e := newEnv(t, nil)
	m := e.mustPost(runEventJSON("START", "01912b5a-61a0-7000-8000-000000000003", "2016-12-31T23:59:60Z", "leap", "[]", `[{"namespace": "s3://lake", "name": "out"}]`))
	if m["job"] != "urn:job:spark/leap" {
		t.Fatalf("answer = %v", m)
	}
	job, _ := e.entity("urn:job:spark/leap")
	if job.Live[liveLastEventTime] != "2017-01-01T00:00:00Z" {
		t.Errorf("lastEventTime = %v", job.Live[liveLastEventTime])
	}
	// With an offset: 23:59:60 at +01:00 is 22:59:60 UTC, not a leap second.
	status, ans := e.post(LineagePath, "application/json", []byte(runEventJSON("START", "01912b5a-61a0-7000-8000-000000000004", "2016-12-31T23:59:60+01:00", "leap", "[]", "[]")))
	if msg, _ := ans["error"].(string); status != http.StatusBadRequest || !strings.Contains(msg, "at /eventTime:") {
		t.Errorf("a leap second at the wrong time: %d %v", status, ans)
	}
	for _, s := range []string{"2016-12-31T23:59:60Z", "2016-12-31t23:59:60.5z", "2017-01-01T00:59:60+01:00"} {
		got, err := parseEventTime(s)
		if err != nil || got.Before(time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)) || got.After(time.Date(2017, 1, 1, 0, 0, 1, 0, time.UTC)) {
			t.Errorf("parseEventTime(%q) = %v, %v", s, got, err)
		}
	}
}

// A JobEvent is recognised by its shape (a job, no run, no eventType) even
// when its schemaURL names RunEvent or has no fragment.
func TestJobEventByShape(t *testing.T) {
	for name, url := range map[string]string{
		"RunEvent fragment": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
		"no fragment":       "https://openlineage.io/spec/2-0-2/OpenLineage.json",
		"1-0-x definitions": "https://openlineage.io/spec/1-0-5/OpenLineage.json#/definitions/RunEvent",
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			ev := `{"eventTime": "2024-06-01T00:00:00Z", "producer": "https://github.com/acme/deploy/v1", "schemaURL": "` + url + `",
			 "job": {"namespace": "deploy", "name": "orders_daily"},
			 "inputs": [{"namespace": "postgres://db:5432", "name": "shop.public.orders"}], "outputs": [{"namespace": "s3://lake", "name": "orders_daily"}]}`
			e.mustPost(ev)
			job := "urn:job:deploy/orders_daily"
			equalStrings(t, "static lineage", e.edges(catalog.URN(job), SourceOpenLineage), keys(
				key("urn:table:postgres://db:5432/shop.public.orders", catalog.EdgeConsumes, job),
				key(job, catalog.EdgeProduces, "urn:dataset:s3://lake/orders_daily"),
			))
			if ent, _ := e.entity(catalog.URN(job)); ent.Live[liveEventType] != jobEventTypeMarker {
				t.Errorf("latestEventType = %v", ent.Live[liveEventType])
			}
		})
	}
	// A job and a dataset without a run match both JobEvent and
	// DatasetEvent: the spec's oneOf refuses it, and so does the endpoint.
	e := newEnv(t, nil)
	both := `{"eventTime": "2024-06-01T00:00:00Z", "producer": "https://github.com/acme/deploy/v1", "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
	 "job": {"namespace": "deploy", "name": "x"}, "dataset": {"namespace": "s3://lake", "name": "x"}}`
	status, m := e.post(LineagePath, "application/json", []byte(both))
	if msg, _ := m["error"].(string); status != http.StatusBadRequest || !strings.Contains(msg, "matches JobEvent and DatasetEvent") {
		t.Errorf("job and dataset: %d %v", status, m)
	}
}

// A DatasetEvent describes a dataset without a run: its schema and
// documentation apply; a re-sent one changes nothing; one naming a crawled
// topic changes nothing (the kafka crawler describes topics); the dataset
// ages out TTL after its last DatasetEvent unless a job uses it.
func TestDatasetEvent(t *testing.T) {
	ttl := 24 * time.Hour
	e := newEnv(t, func(o *Options) { o.TTL = ttl })
	table := catalog.URN("urn:table:postgres://db:5432/shop.public.orders")
	ev := `{"eventTime": "2024-06-01T00:00:00Z", "producer": "https://github.com/acme/catalog-sync/v1",
	 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
	 "dataset": {"namespace": "postgresql://DB:5432", "name": "shop.public.orders", "facets": {
	   "schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"name": "id", "type": "bigint"}, {"name": "customer", "type": "struct", "fields": [{"name": "email", "type": "varchar"}]}]},
	   "documentation": {` + facetMeta("1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet") + `, "description": "Orders of the web shop"}}}}`
	m := e.mustPost(ev)
	if fmt.Sprint(m["datasets"]) != "["+string(table)+"]" || m["job"] != nil || len(m["jobs"].([]any)) != 0 {
		t.Errorf("answer = %v", m)
	}
	ds, ok := e.entity(table)
	if !ok || ds.Description != "Orders of the web shop" || ds.Live[liveLastEventTime] != "2024-06-01T00:00:00Z" {
		t.Fatalf("table = %+v", ds)
	}
	col := func(p string) string { return "urn:column:postgres://db:5432/shop.public.orders/" + p }
	equalStrings(t, "columns", e.edges(table, SourceOpenLineage, catalog.EdgeContains), keys(
		key(string(table), catalog.EdgeContains, col("customer")),
		key(string(table), catalog.EdgeContains, col("id")),
	))
	if c, _ := e.entity(catalog.URN(col("customer.email"))); c.Properties["type"] != "varchar" {
		t.Errorf("nested column = %+v", c)
	}
	seq := e.lastSeq()
	if m := e.mustPost(ev); m["changes"] != float64(0) || e.lastSeq() != seq {
		t.Errorf("the same DatasetEvent again: %v", m)
	}

	topic := strings.Replace(ev, `"namespace": "postgresql://DB:5432", "name": "shop.public.orders"`, `"namespace": "kafka://kafka-1.prod.internal:9093", "name": "orders"`, 1)
	m = e.mustPost(topic)
	if ign := fmt.Sprint(m["ignored"]); !strings.Contains(ign, "urn:topic:prod/orders is a topic of Kafka source prod") || e.lastSeq() != seq {
		t.Errorf("topic DatasetEvent: %v", m)
	}

	// Its symlinks apply too: a DatasetEvent naming the storage path of a
	// metastore table describes the table, and records the path as its alias.
	byPath := `{"eventTime": "2024-06-02T00:00:00Z", "producer": "https://github.com/acme/catalog-sync/v1",
	 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
	 "dataset": {"namespace": "s3://lake", "name": "warehouse/sales.db/orders", "facets": {
	   "symlinks": {` + facetMeta("1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet") + `, "identifiers": [{"namespace": "hive://metastore:9083", "name": "sales.orders", "type": "TABLE"}]},
	   "schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"name": "id", "type": "bigint"}]}}}}`
	m = e.mustPost(byPath)
	hive := "urn:table:hive://metastore:9083/sales.orders"
	if fmt.Sprint(m["datasets"]) != "["+hive+"]" {
		t.Errorf("answer = %v", m)
	}
	if a, _ := e.entity("urn:dataset:s3://lake/warehouse/sales.db/orders"); a.Properties[propAliasOf] != hive {
		t.Errorf("alias = %+v", a)
	}
	if _, ok := e.edge(key(hive, catalog.EdgeContains, "urn:column:hive://metastore:9083/sales.orders/id")); !ok {
		t.Error("the schema sent by path is not the table's")
	}

	// A second dataset a job uses; both age: only the unused one goes.
	used := strings.Replace(ev, "shop.public.orders", "shop.public.customers", 1)
	e.mustPost(used)
	e.mustPost(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000005", "2024-06-20T00:00:00Z", "reader", `[{"namespace": "postgres://db:5432", "name": "shop.public.customers"}]`, "[]"))
	res, err := e.svc.Sweep(e.ctx, time.Date(2024, 6, 20, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(res.ExpiredDatasets) != "["+hive+" "+string(table)+"]" {
		t.Errorf("expired datasets = %v", res.ExpiredDatasets)
	}
	if ds, _ := e.entity(table); !ds.Deleted() {
		t.Error("the aged DatasetEvent dataset is still there")
	}
	if c, _ := e.entity(catalog.URN(col("id"))); !c.Deleted() {
		t.Error("its column is still there")
	}
	if a, _ := e.entity("urn:dataset:s3://lake/warehouse/sales.db/orders"); !a.Deleted() {
		t.Error("the alias of an aged table is still there")
	}
	if ds, _ := e.entity("urn:table:postgres://db:5432/shop.public.customers"); ds.Deleted() {
		t.Error("the dataset a job uses aged out")
	}
}

// Spark names a metastore table by its storage path and says which table
// it is in the symlinks facet; Hive names the table and gives its location.
// Both, a job reading the path directly and column lineage naming the path,
// land on one asset: the table. The path is an alias of it (aliasOf), and
// as the table's storage location it DERIVES the table, so lineage another
// crawler records on the path flows on.
func TestSymlinksOneAsset(t *testing.T) {
	e := newEnv(t, nil)
	table := "urn:table:hive://dataproc-m:9083/default.t1"
	path := "urn:dataset:hdfs://dataproc-m/user/hive/warehouse/t1"
	// What a Connect HDFS sink crawl recorded on the path.
	sink := catalog.URN("urn:connector:prod-connect/hdfs-sink")
	if _, err := e.store.Reconcile(e.ctx, catalog.Snapshot{Source: "prod-connect", At: testBase,
		Assets: []catalog.Asset{{URN: sink, Name: "hdfs-sink", Scope: "c"}, {URN: catalog.URN(path), Name: "/user/hive/warehouse/t1", Scope: "c"}},
		Links:  []catalog.Link{{From: sink, Kind: catalog.EdgeSinks, To: catalog.URN(path), Origin: "connect", Confidence: 1, Scope: "c"}},
	}, nil); err != nil {
		t.Fatal(err)
	}

	sparkOut := `[{"namespace": "hdfs://dataproc-m", "name": "/user/hive/warehouse/t1", "facets": {
		"symlinks": {` + facetMeta("1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet") + `, "identifiers": [{"namespace": "hive://dataproc-m:9083", "name": "default.t1", "type": "TABLE"}]},
		"schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"name": "a", "type": "int"}, {"name": "b", "type": "string"}]}}}]`
	m := e.mustPost(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000006", "2024-06-01T00:00:00Z", "writer", "[]", sparkOut))
	if m["warnings"] != nil {
		t.Fatalf("warnings: %v", m["warnings"])
	}

	hiveIn := `[{"namespace": "hive://dataproc-m:9083", "name": "default.t1", "facets": {
		"symlinks": {` + facetMeta("1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet") + `, "identifiers": [{"namespace": "hdfs://dataproc-m", "name": "/user/hive/warehouse/t1", "type": "LOCATION"}]}}}]`
	e.mustPost(strings.Replace(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000007", "2024-06-01T01:00:00Z", "hive-report", hiveIn, `[{"namespace": "hive://dataproc-m:9083", "name": "default.t2"}]`), `"namespace": "spark"`, `"namespace": "hive"`, 1))

	// A job reading the files directly (no symlinks), with column lineage
	// that names the path too.
	direct := `[{"namespace": "s3://out", "name": "report", "facets": {"columnLineage": {` + facetMeta("1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet") + `,
		"fields": {"total": {"inputFields": [{"namespace": "hdfs://dataproc-m", "name": "/user/hive/warehouse/t1/", "field": "a"}]}}}}}]`
	e.mustPost(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000008", "2024-06-01T02:00:00Z", "direct", `[{"namespace": "hdfs://dataproc-m", "name": "/user/hive/warehouse/t1/"}]`, direct))

	equalStrings(t, "the table's lineage", e.edges(catalog.URN(table), SourceOpenLineage, catalog.EdgeConsumes, catalog.EdgeProduces), keys(
		key("urn:job:spark/writer", catalog.EdgeProduces, table),
		key(table, catalog.EdgeConsumes, "urn:job:hive/hive-report"),
		key(table, catalog.EdgeConsumes, "urn:job:spark/direct"),
	))
	equalStrings(t, "column lineage through the alias", e.edges("urn:field:s3://out/report/total", SourceOpenLineage, catalog.EdgeDerives), keys(
		key("urn:column:hive://dataproc-m:9083/default.t1/a", catalog.EdgeDerives, "urn:field:s3://out/report/total"),
	))
	if c, ok := e.entity("urn:column:hive://dataproc-m:9083/default.t1/b"); !ok || c.Properties["type"] != "string" {
		t.Errorf("the schema Spark sent by path is the table's: %+v", c)
	}
	alias, _ := e.entity(catalog.URN(path))
	if alias.Properties[propAliasOf] != table || alias.Properties[propSymlinkType] != "LOCATION" || !slices.Contains(alias.Sources, "prod-connect") {
		t.Errorf("alias = %+v", alias)
	}
	if tb, _ := e.entity(catalog.URN(table)); fmt.Sprint(tb.Properties[propAliases]) != "["+path+"]" {
		t.Errorf("table aliases = %v", tb.Properties[propAliases])
	}
	loc, ok := e.edge(key(path, catalog.EdgeDerives, table))
	if !ok || loc.Deleted() || loc.Claims[0].Transform != transformLocation {
		t.Errorf("location link = %+v", loc)
	}
	// Lineage from the sink connector reaches the Hive job through the table.
	tr, err := e.store.Traverse(e.ctx, catalog.TraverseQuery{Start: sink, Direction: catalog.Downstream, MaxDepth: 3})
	if err != nil {
		t.Fatal(err)
	}
	var reached []string
	for _, n := range tr.Nodes {
		reached = append(reached, string(n.URN))
	}
	if !slices.Contains(reached, "urn:job:hive/hive-report") {
		t.Errorf("downstream of the sink: %v", reached)
	}
	if _, ok := e.entity("urn:dataset:hdfs://dataproc-m/user/hive/warehouse/t1/a"); ok {
		t.Error("a field was recorded on the path")
	}

	// A later schema of the table (no symlinks) keeps its aliases.
	hiveSchema := `[{"namespace": "hive://dataproc-m:9083", "name": "default.t1", "facets": {
		"schema": {` + facetMeta("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet") + `, "fields": [{"name": "a", "type": "int"}]}}}]`
	e.mustPost(strings.Replace(runEventJSON("COMPLETE", "01912b5a-61a0-7000-8000-000000000009", "2024-06-01T03:00:00Z", "hive-report", hiveSchema, `[{"namespace": "hive://dataproc-m:9083", "name": "default.t2"}]`), `"namespace": "spark"`, `"namespace": "hive"`, 1))
	if a, _ := e.entity(catalog.URN(path)); a.Properties[propAliasOf] != table {
		t.Errorf("alias after a schema rewrite = %+v", a)
	}
	if loc, _ := e.edge(key(path, catalog.EdgeDerives, table)); loc.Deleted() {
		t.Error("the location link went with a schema rewrite")
	}
}
