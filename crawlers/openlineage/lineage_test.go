package openlineage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

const (
	flinkJob  = "urn:job:flink-jobs/orders-payments-join"
	sparkJob  = "urn:job:spark-etl/customer_360.execute_insert_into_hadoop_fs_relation_command"
	customers = "urn:table:postgres://inventory-db:5432/inventory.public.customers"
	lake360   = "urn:dataset:s3://lake/curated/customer_360"
)

// A streaming Flink job reports its datasets over three events of one run;
// the Kafka namespaces (an alias, and a bootstrap list) land on the crawled
// topics of cluster prod, and the job sits between them.
func TestFlinkRunAccumulates(t *testing.T) {
	e := newEnv(t, nil)
	orders := key("urn:topic:prod/orders", catalog.EdgeConsumes, flinkJob)
	payments := key("urn:topic:prod/payments", catalog.EdgeConsumes, flinkJob)
	paid := key(flinkJob, catalog.EdgeProduces, "urn:topic:prod/orders-paid")

	m := e.postEvent("events/flink_start.json")
	if m["job"] != flinkJob || m["edgesAdded"] != float64(1) {
		t.Errorf("START answer = %v", m)
	}
	equalStrings(t, "after START", e.edges(flinkJob, SourceOpenLineage), keys(orders))

	e.postEvent("events/flink_running.json")
	equalStrings(t, "after RUNNING (accumulated)", e.edges(flinkJob, SourceOpenLineage), keys(orders, payments, paid))

	seq := e.lastSeq()
	m = e.postEvent("events/flink_complete.json")
	equalStrings(t, "after COMPLETE", e.edges(flinkJob, SourceOpenLineage), keys(orders, payments, paid))
	if m["edgesAdded"] != float64(0) || m["edgesRemoved"] != float64(0) {
		t.Errorf("COMPLETE changed edges: %v", m)
	}

	job, ok := e.entity(flinkJob)
	if !ok || job.Deleted() {
		t.Fatalf("job %s missing", flinkJob)
	}
	for k, want := range map[string]string{"namespace": "flink-jobs", "name": "orders-payments-join", "processingType": "STREAMING", "integration": "FLINK", "jobType": "JOB",
		"producer": "https://github.com/OpenLineage/OpenLineage/tree/1.14.0/integration/flink"} {
		if job.Properties[k] != want {
			t.Errorf("job property %s = %v, want %q", k, job.Properties[k], want)
		}
	}
	for k, want := range map[string]string{liveRunID: "0190a7d8-7b62-7c5e-9b1e-3f1f2c5d8e41", liveRunState: "COMPLETE", liveLastEventTime: "2024-05-14T11:40:51.02Z", liveRunStartedAt: "2024-05-14T09:12:03.412Z"} {
		if job.Live[k] != want {
			t.Errorf("job live %s = %v, want %q", k, job.Live[k], want)
		}
	}
	// Only the state moved: a live reading, no change event for the job.
	changes, err := e.store.Changes(e.ctx, seq, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 0 {
		t.Errorf("COMPLETE wrote %d change events, want 0: %+v", len(changes), changes)
	}
	// Crawled topics are linked to, not asserted; no stand-in DATASET.
	topic, _ := e.entity("urn:topic:prod/orders")
	if strings.Join(topic.Sources, ",") != "prod" {
		t.Errorf("topic sources = %v, want [prod]", topic.Sources)
	}
	if _, ok := e.entity("urn:dataset:kafka://kafka.prod.example.com:9093/orders"); ok {
		t.Error("a resolved Kafka namespace produced a DATASET")
	}
}

// An unresolvable Kafka namespace becomes a DATASET; its fields keep the
// value part.
func TestUnresolvedKafkaNamespace(t *testing.T) {
	e := newEnv(t, nil)
	body := strings.ReplaceAll(string(readTestdata(t, "events/flink_start.json")), "kafka.prod.example.com:9093", "Kafka.Staging.Example.com:9092")
	if status, m := e.post(LineagePath, "application/json", []byte(body)); status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	ds := catalog.URN("urn:dataset:kafka://kafka.staging.example.com:9092/orders")
	equalStrings(t, "edges", e.edges(flinkJob, SourceOpenLineage), keys(catalog.EdgeKey{From: ds, Kind: catalog.EdgeConsumes, To: flinkJob}))
	ent, ok := e.entity(ds)
	if !ok || ent.Kind != catalog.KindDataset || ent.Properties["namespace"] != "kafka://kafka.staging.example.com:9092" {
		t.Fatalf("dataset = %+v", ent)
	}
	// The schema facet made the DATASET's fields.
	f, ok := e.entity("urn:field:kafka://kafka.staging.example.com:9092/orders/value/customer_id")
	if !ok || f.Properties["type"] != "long" {
		t.Errorf("field = %+v", f)
	}
}

// A Spark job's columnLineage facet becomes field-level DERIVES edges
// between a crawled topic's fields, a PostgreSQL table's columns and an S3
// dataset's fields, with transforms and the masking flag.
func TestSparkColumnLineage(t *testing.T) {
	e := newEnv(t, nil)
	e.postEvent("events/spark_run1_complete.json")

	equalStrings(t, "dataset edges", e.edges(sparkJob, SourceOpenLineage), keys(
		key(customers, catalog.EdgeConsumes, sparkJob),
		key("urn:topic:prod/orders", catalog.EdgeConsumes, sparkJob),
		key(sparkJob, catalog.EdgeProduces, lake360),
	))
	type want struct {
		from, to, transform string
		masking             bool
	}
	col := func(c string) string { return "urn:column:" + catalog.URN(customers).Identity() + "/" + c }
	out := func(f string) string { return "urn:field:s3://lake/curated/customer_360/" + f }
	wants := []want{
		{col("id"), out("customer_id"), "DIRECT/IDENTITY", false},
		{col("first_name"), out("full_name"), "DIRECT/TRANSFORMATION (concat_ws(' ', first_name, last_name))", false},
		{col("last_name"), out("full_name"), "DIRECT/TRANSFORMATION (concat_ws(' ', first_name, last_name))", false},
		{col("email"), out("email_hash"), "DIRECT/TRANSFORMATION (sha2(email, 256))", true},
		{"urn:field:prod/orders/value/amount", out("total_spent"), "DIRECT/AGGREGATION (sum(amount))", false},
		{"urn:field:prod/orders/value/customer_id", out("total_spent"), "INDIRECT/JOIN; INDIRECT/GROUP_BY", false},
	}
	var all []string
	for _, w := range wants {
		k := key(w.from, catalog.EdgeDerives, w.to)
		all = append(all, k.String())
		ed, ok := e.edge(k)
		if !ok || ed.Deleted() {
			t.Errorf("missing %s", k)
			continue
		}
		c, _ := claimOf(ed, SourceOpenLineage)
		if c.Transform != w.transform || c.Masking != w.masking || c.Origin != OriginOpenLineage || c.Confidence != 1 {
			t.Errorf("%s claim = %+v, want transform %q masking %v", k, c, w.transform, w.masking)
		}
	}
	var got []string
	for _, f := range []string{"customer_id", "full_name", "email_hash", "total_spent"} {
		got = append(got, e.edges(catalog.URN(out(f)), SourceOpenLineage, catalog.EdgeDerives)...)
	}
	equalStrings(t, "all DERIVES edges", sortedCopy(got), sortedCopy(all))

	// The table and the dataset exist with their fields, contained.
	tbl, ok := e.entity(customers)
	if !ok || tbl.Kind != catalog.KindTable || tbl.Properties["namespace"] != "postgres://inventory-db:5432" {
		t.Fatalf("table = %+v", tbl)
	}
	equalStrings(t, "table columns", e.edges(customers, SourceOpenLineage, catalog.EdgeContains), keys(
		key(customers, catalog.EdgeContains, col("email")), key(customers, catalog.EdgeContains, col("first_name")),
		key(customers, catalog.EdgeContains, col("id")), key(customers, catalog.EdgeContains, col("last_name")),
	))
	if f, ok := e.entity(catalog.URN(out("email_hash"))); !ok || f.Kind != catalog.KindField || f.Properties["type"] != "string" {
		t.Errorf("dataset field = %+v", f)
	}
	// Topic fields belong to the schema registry crawler: linked, not asserted.
	if f, ok := e.entity("urn:field:prod/orders/value/amount"); ok && len(f.Sources) > 0 {
		t.Error("a topic field was asserted")
	}
	job, _ := e.entity(sparkJob)
	if job.Description != "Nightly customer 360 view for the CRM team" || job.Properties["jobType"] != "SQL_JOB" {
		t.Errorf("job = %+v", job)
	}
	// Re-posting the same event changes nothing.
	seq := e.lastSeq()
	e.postEvent("events/spark_run1_complete.json")
	if got := e.lastSeq(); got != seq {
		t.Errorf("a repeated event wrote changes: seq %d → %d", seq, got)
	}
}

// A second run that no longer reads the orders topic removes that edge and
// its field edges (tombstones, kept for history); the Flink job is untouched.
func TestSecondRunDropsInput(t *testing.T) {
	e := newEnv(t, nil)
	for _, f := range []string{"events/flink_start.json", "events/flink_running.json", "events/flink_complete.json", "events/spark_run1_complete.json"} {
		e.postEvent(f)
	}
	flinkBefore := e.edges(flinkJob, SourceOpenLineage)
	flinkEdge, _ := e.edge(key("urn:topic:prod/orders", catalog.EdgeConsumes, flinkJob))

	m := e.postEvent("events/spark_run2_complete.json")
	if m["edgesRemoved"] == float64(0) {
		t.Errorf("answer = %v, want removed edges", m)
	}
	dropped := key("urn:topic:prod/orders", catalog.EdgeConsumes, sparkJob)
	ed, ok := e.edge(dropped)
	if !ok || !ed.Deleted() || len(ed.Alive) != 1 || ed.Alive[0].To.IsZero() {
		t.Errorf("%s = %+v, want a tombstone with its alive interval", dropped, ed)
	}
	for _, from := range []string{"urn:field:prod/orders/value/amount", "urn:field:prod/orders/value/customer_id"} {
		k := key(from, catalog.EdgeDerives, "urn:field:s3://lake/curated/customer_360/total_spent")
		if ed, ok := e.edge(k); !ok || !ed.Deleted() {
			t.Errorf("%s not tombstoned", k)
		}
	}
	// total_spent left the output's schema and no lineage uses it.
	if f, ok := e.entity("urn:field:s3://lake/curated/customer_360/total_spent"); !ok || !f.Deleted() {
		t.Errorf("total_spent = %+v, want a tombstone", f)
	}
	equalStrings(t, "spark edges", e.edges(sparkJob, SourceOpenLineage, catalog.EdgeConsumes, catalog.EdgeProduces), keys(
		key(customers, catalog.EdgeConsumes, sparkJob), key(sparkJob, catalog.EdgeProduces, lake360),
	))
	equalStrings(t, "flink edges", e.edges(flinkJob, SourceOpenLineage), flinkBefore)
	after, _ := e.edge(key("urn:topic:prod/orders", catalog.EdgeConsumes, flinkJob))
	if len(after.Alive) != 1 || !after.Alive[0].From.Equal(flinkEdge.Alive[0].From) || after.Deleted() {
		t.Errorf("flink edge changed: before %+v after %+v", flinkEdge, after)
	}
	if job, _ := e.entity(sparkJob); job.Live[liveRunID] != "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d" {
		t.Errorf("latest run = %v", job.Live[liveRunID])
	}
}

// An event of an older run (it started before the latest one) is accepted
// and ignored; a FAIL keeps the lineage and records the state; a new run
// that has reported no dataset yet keeps the previous run's lineage.
func TestRunOrdering(t *testing.T) {
	e := newEnv(t, nil)
	e.postEvent("events/spark_run1_complete.json")
	e.postEvent("events/spark_run2_complete.json")
	seq := e.lastSeq()
	_, m := e.post(LineagePath, "application/json", readTestdata(t, "events/spark_run1_complete.json"))
	if ign, _ := m["ignored"].([]any); len(ign) != 1 {
		t.Errorf("old run not ignored: %v", m)
	}
	if e.lastSeq() != seq {
		t.Error("an ignored event wrote changes")
	}

	want := e.edges(sparkJob, SourceOpenLineage)
	fail := strings.NewReplacer(`"eventType": "COMPLETE"`, `"eventType": "FAIL"`, "2024-06-29T03:10:02.114Z", "2024-06-29T03:20:00Z").Replace(string(readTestdata(t, "events/spark_run2_complete.json")))
	fail = strings.Replace(fail, `"name": "inventory.public.customers"`, `"name": "inventory.public.other"`, 1)
	if status, m := e.post(LineagePath, "application/json", []byte(fail)); status != http.StatusCreated {
		t.Fatalf("FAIL: %d %v", status, m)
	}
	equalStrings(t, "edges after FAIL", e.edges(sparkJob, SourceOpenLineage), want)
	if job, _ := e.entity(sparkJob); job.Live[liveRunState] != "FAIL" {
		t.Errorf("state = %v, want FAIL", job.Live[liveRunState])
	}

	start := `{"eventType": "START", "eventTime": "2024-06-30T02:00:00Z", "run": {"runId": "3e1c2b4a-0f9d-4e8c-b7a6-5d4c3b2a1f0e"},
	 "job": {"namespace": "spark-etl", "name": "customer_360.execute_insert_into_hadoop_fs_relation_command"},
	 "producer": "https://github.com/OpenLineage/OpenLineage/tree/1.16.0/integration/spark",
	 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}`
	if status, m := e.post(LineagePath, "application/json", []byte(start)); status != http.StatusCreated {
		t.Fatalf("START: %d %v", status, m)
	}
	equalStrings(t, "edges after a START without datasets", e.edges(sparkJob, SourceOpenLineage), want)
}

// A JobEvent (static lineage, spec 2-0-x) replaces the job's lineage.
func TestJobEventStaticLineage(t *testing.T) {
	e := newEnv(t, nil)
	ev := `{"eventTime": "2024-06-01T00:00:00Z",
	 "producer": "https://github.com/acme/deploy-pipeline/tree/v3",
	 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
	 "job": {"namespace": "dbt", "name": "analytics.orders_daily"},
	 "inputs": [{"namespace": "snowflake://MyOrg-Analytics.snowflakecomputing.com", "name": "RAW.PUBLIC.ORDERS"}],
	 "outputs": [{"namespace": "snowflake://myorg-analytics", "name": "ANALYTICS.MARTS.ORDERS_DAILY"}]}`
	if status, m := e.post(LineagePath, "application/json", []byte(ev)); status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	job := "urn:job:dbt/analytics.orders_daily"
	equalStrings(t, "edges", e.edges(catalog.URN(job), SourceOpenLineage), keys(
		key("urn:table:snowflake://myorg-analytics/RAW.PUBLIC.ORDERS", catalog.EdgeConsumes, job),
		key(job, catalog.EdgeProduces, "urn:table:snowflake://myorg-analytics/ANALYTICS.MARTS.ORDERS_DAILY"),
	))
}

// Invalid requests get 400 with the reason and the JSON pointer of the
// offending value, and write nothing.
func TestInvalidEventsWriteNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.postEvent("events/docs_start.json")
	before := e.lastSeq()
	cases := []struct {
		file, want string
	}{
		{"invalid/not_json.txt", "request body is not JSON"},
		{"invalid/missing_runid.json", "at /run: missing property 'runId'"},
		{"invalid/missing_eventtime.json", "missing property 'eventTime'"},
		{"invalid/missing_producer.json", "missing property 'producer'"},
		{"invalid/missing_schemaurl.json", "missing property 'schemaURL'"},
		{"invalid/missing_job.json", "missing property 'job'"},
		{"invalid/runid_not_uuid.json", "at /run/runId: 'run-2020-12-28-001' is not valid uuid"},
		{"invalid/unknown_eventtype.json", "at /eventType: value must be one of"},
		{"invalid/bad_eventtime.json", "at /eventTime: 'yesterday' is not valid date-time"},
		{"invalid/facet_missing_producer.json", "at /job/facets/sql: missing property '_producer'"},
		{"invalid/array_second_bad.json", "at /1/run/runId: 'not-a-uuid' is not valid uuid"},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			status, m := e.post(LineagePath, "application/json", readTestdata(t, c.file))
			msg, _ := m["error"].(string)
			if status != http.StatusBadRequest || !strings.Contains(msg, c.want) {
				t.Errorf("status %d, error %q; want 400 containing %q", status, msg, c.want)
			}
			if got := e.lastSeq(); got != before {
				t.Errorf("LastSeq %d → %d: an invalid request wrote", before, got)
			}
		})
	}
	if _, ok := e.entity("urn:job:my-namespace/array-job"); ok {
		t.Error("the valid first event of a rejected array was recorded")
	}

	t.Run("too large", func(t *testing.T) {
		big := append(bytes.Repeat([]byte(" "), DefaultMaxBodyBytes), readTestdata(t, "events/docs_start.json")...)
		status, m := e.post(LineagePath, "application/json", big)
		if status != http.StatusRequestEntityTooLarge || !strings.Contains(m["error"].(string), "4 MiB") {
			t.Errorf("status %d, %v; want 413", status, m)
		}
	})
	t.Run("empty array", func(t *testing.T) {
		if status, _ := e.post(LineagePath, "application/json", []byte("[]")); status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", status)
		}
	})
	if got := e.lastSeq(); got != before {
		t.Errorf("LastSeq %d → %d", before, got)
	}
}

// An array of valid events is recorded in one reconcile.
func TestArrayOfEvents(t *testing.T) {
	e := newEnv(t, nil)
	body := "[" + string(readTestdata(t, "events/flink_start.json")) + "," + string(readTestdata(t, "events/flink_running.json")) + "," + string(readTestdata(t, "events/spark_run1_complete.json")) + "]"
	status, m := e.post(LineagePath, "application/json", []byte(body))
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	jobs, _ := m["jobs"].([]any)
	if len(jobs) != 2 || jobs[0] != flinkJob || jobs[1] != sparkJob || m["events"] != float64(3) {
		t.Errorf("answer = %v", m)
	}
	if got := e.edges(flinkJob, SourceOpenLineage); len(got) != 3 {
		t.Errorf("flink edges = %v", got)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{LineagePath, TopologiesPath} {
		req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("GET %s: %d, Allow %q", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	if status, _ := e.post("/api/v1/other", "application/json", []byte("{}")); status != http.StatusNotFound {
		t.Errorf("other path: %d", status)
	}
}

func sortedCopy(ss []string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

// Runs are kept in a bounded LRU. A run evicted from it (or lost in a
// restart) is recovered from the catalog: its datasets are the job's current
// links, so a later event with part of the datasets does not drop the rest.
func TestEvictedRunRecoveredFromCatalog(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxRuns = 1 })
	e.postEvent("events/flink_start.json")         // run A: orders
	e.postEvent("events/spark_run1_complete.json") // evicts run A
	if e.svc.runs.len() != 1 || e.svc.runs.get("0190a7d8-7b62-7c5e-9b1e-3f1f2c5d8e41") != nil {
		t.Fatalf("run A still cached")
	}
	e.postEvent("events/flink_running.json") // run A again: payments, orders-paid
	equalStrings(t, "flink edges", e.edges(flinkJob, SourceOpenLineage), keys(
		key("urn:topic:prod/orders", catalog.EdgeConsumes, flinkJob),
		key("urn:topic:prod/payments", catalog.EdgeConsumes, flinkJob),
		key(flinkJob, catalog.EdgeProduces, "urn:topic:prod/orders-paid"),
	))
	// The Spark job's column lineage is untouched by the eviction of its run
	// and by an event of that run without the facet.
	before := e.edges("urn:field:s3://lake/curated/customer_360/email_hash", SourceOpenLineage, catalog.EdgeDerives)
	noFacet := strings.Replace(string(readTestdata(t, "events/spark_run1_complete.json")), `"columnLineage"`, `"x_columnLineage"`, 1)
	noFacet = strings.Replace(noFacet, `"eventType": "COMPLETE"`, `"eventType": "RUNNING"`, 1)
	e.postEvent("events/flink_complete.json") // evicts the Spark run
	if status, m := e.post(LineagePath, "application/json", []byte(noFacet)); status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	equalStrings(t, "column edges", e.edges("urn:field:s3://lake/curated/customer_360/email_hash", SourceOpenLineage, catalog.EdgeDerives), before)
}

// Concurrent requests for different jobs are all recorded.
func TestConcurrentPosts(t *testing.T) {
	e := newEnv(t, nil)
	base := string(readTestdata(t, "events/docs_start.json"))
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Replace(base, `"name": "my-job"`, fmt.Sprintf(`"name": "job-%d"`, i), 1)
			req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+LineagePath, strings.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.srv.Client().Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				errs <- fmt.Sprintf("job-%d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range 8 {
		job := catalog.URN(fmt.Sprintf("urn:job:my-namespace/job-%d", i))
		if got := e.edges(job, SourceOpenLineage); len(got) != 2 {
			t.Errorf("%s edges = %v", job, got)
		}
	}
	// my-input and my-output are shared by all eight jobs.
	if ent, ok := e.entity("urn:dataset:my-namespace/my-input"); !ok || ent.Deleted() {
		t.Errorf("shared dataset = %+v", ent)
	}
}

// A field the schema facet no longer lists stays while another job's field
// lineage still uses it.
func TestFieldKeptWhileLineageUsesIt(t *testing.T) {
	e := newEnv(t, nil)
	e.postEvent("events/spark_run1_complete.json")
	report := `{"eventType": "COMPLETE", "eventTime": "2024-05-01T05:00:00Z", "run": {"runId": "5d1f0c2e-6b3a-4e9d-8f7c-2a1b0c9d8e7f"},
	 "job": {"namespace": "airflow-prod", "name": "crm_report.build"},
	 "inputs": [{"namespace": "s3://lake", "name": "curated/customer_360"}],
	 "outputs": [{"namespace": "s3://reports", "name": "crm/spend", "facets": {"columnLineage": {
	   "_producer": "https://github.com/apache/airflow/tree/providers-openlineage/1.8.0",
	   "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet",
	   "fields": {"spent": {"inputFields": [{"namespace": "s3://lake", "name": "curated/customer_360", "field": "total_spent",
	     "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}]}]}}}}}],
	 "producer": "https://github.com/apache/airflow/tree/providers-openlineage/1.8.0",
	 "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"}`
	if status, m := e.post(LineagePath, "application/json", []byte(report)); status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	e.postEvent("events/spark_run2_complete.json") // total_spent leaves the schema
	totalSpent := catalog.URN("urn:field:s3://lake/curated/customer_360/total_spent")
	if f, ok := e.entity(totalSpent); !ok || f.Deleted() || f.Properties["type"] != "double" {
		t.Errorf("total_spent = %+v, want kept with its type", f)
	}
	// Once that lineage is gone too, the next authoritative event drops it.
	expired, err := e.svc.Sweep(e.ctx, testBase.Add(time.Hour))
	if err != nil || len(expired.Expired) != 1 || expired.Expired[0] != "urn:job:airflow-prod/crm_report.build" {
		t.Fatalf("sweep = %+v, %v", expired, err)
	}
	later := strings.NewReplacer("2024-06-29T03:10:02.114Z", "2024-06-30T03:10:02Z", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b").Replace(string(readTestdata(t, "events/spark_run2_complete.json")))
	if status, m := e.post(LineagePath, "application/json", []byte(later)); status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, m)
	}
	if f, _ := e.entity(totalSpent); !f.Deleted() {
		t.Errorf("total_spent = %+v, want a tombstone", f)
	}
}

// A store that cannot write answers 503 (unavailable) or 500, and the run
// is not kept in memory.
func TestStoreFailure(t *testing.T) {
	e := newEnv(t, nil)
	failing := New(Options{Store: writerFunc(func(context.Context, catalog.Snapshot, *catalog.CrawlRun) (catalog.ReconcileResult, error) {
		return catalog.ReconcileResult{}, catalog.Errorf(catalog.Unavailable, "disk is gone")
	}), Catalog: e.store, KafkaClusters: clusterAliases, Now: e.now})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, LineagePath, bytes.NewReader(readTestdata(t, "events/flink_start.json")))
	req.Header.Set("Content-Type", "application/json")
	failing.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || failing.runs.len() != 0 {
		t.Errorf("status %d, runs %d; body %s", rec.Code, failing.runs.len(), rec.Body)
	}
}

type writerFunc func(context.Context, catalog.Snapshot, *catalog.CrawlRun) (catalog.ReconcileResult, error)

func (f writerFunc) Reconcile(ctx context.Context, s catalog.Snapshot, r *catalog.CrawlRun) (catalog.ReconcileResult, error) {
	return f(ctx, s, r)
}
