package openlineage

import (
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Sweep removes the lineage of jobs silent for longer than the TTL — their
// edges become tombstones and datasets no other job uses go with them — and
// keeps fresh jobs and the datasets they share with stale ones.
func TestSweepAgesOutStaleJobs(t *testing.T) {
	e := newEnv(t, nil)
	for _, f := range []string{
		"events/flink_start.json", "events/flink_running.json", "events/flink_complete.json", // last event 2024-05-14
		"events/spark_run1_complete.json",     // 2024-06-29
		"events/airflow_export_complete.json", // 2024-05-20, reads Spark's output
	} {
		e.postEvent(f)
	}
	airflowJob := catalog.URN("urn:job:airflow-prod/export_customers.upload_csv")
	export := catalog.URN("urn:dataset:gs://partner-exports/customers/2024-05-20.csv")
	sparkEdges := e.edges(sparkJob, SourceOpenLineage)
	flinkEdge := key("urn:topic:prod/orders", catalog.EdgeConsumes, flinkJob)

	// Nothing is older than 30 days at the time of the last event.
	res, err := e.svc.Sweep(e.ctx, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 3 || len(res.Expired) != 0 {
		t.Fatalf("early sweep = %+v", res)
	}

	res, err = e.svc.Sweep(e.ctx, testBase.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 3 || len(res.Expired) != 2 || res.EdgesRemoved == 0 {
		t.Fatalf("sweep = %+v, want the Airflow and Flink jobs expired", res)
	}
	for _, job := range []catalog.URN{flinkJob, airflowJob} {
		if got := e.edges(job, SourceOpenLineage); len(got) != 0 {
			t.Errorf("%s still has edges %v", job, got)
		}
		if ent, _ := e.entity(job); !ent.Deleted() {
			t.Errorf("%s is not a tombstone", job)
		}
	}
	// History keeps the edge and when it was alive.
	ed, ok := e.edge(flinkEdge)
	if !ok || !ed.Deleted() || len(ed.Alive) != 1 || !ed.AliveAt(ed.Alive[0].From) {
		t.Errorf("%s = %+v (alive %+v)", flinkEdge, ed, ed.Alive)
	}
	// The export only the Airflow job wrote is gone; the lake dataset the
	// fresh Spark job writes stays, with its fields.
	if ent, ok := e.entity(export); !ok || !ent.Deleted() {
		t.Errorf("%s = %+v, want a tombstone", export, ent)
	}
	if ent, ok := e.entity(lake360); !ok || ent.Deleted() {
		t.Errorf("%s = %+v, want alive", lake360, ent)
	}
	equalStrings(t, "spark edges", e.edges(sparkJob, SourceOpenLineage), sparkEdges)
	// Topics belong to the kafka crawler and stay.
	if ent, _ := e.entity("urn:topic:prod/orders"); ent.Deleted() {
		t.Error("a topic was deleted")
	}

	// A second sweep finds nothing more; a new event brings the job back.
	res, err = e.svc.Sweep(e.ctx, testBase.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if res.Checked != 1 || len(res.Expired) != 0 {
		t.Errorf("second sweep = %+v", res)
	}
	e.postEvent("events/flink_complete.json")
	if got := e.edges(flinkJob, SourceOpenLineage); len(got) != 3 {
		t.Errorf("flink edges after a new event = %v", got)
	}
}

// The TTL is configurable.
func TestSweepTTL(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.TTL = 24 * time.Hour })
	e.postEvent("events/spark_run1_complete.json") // 2024-06-29T02:14
	res, err := e.svc.Sweep(e.ctx, time.Date(2024, 6, 30, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Expired) != 1 || res.Expired[0] != sparkJob {
		t.Fatalf("sweep = %+v", res)
	}
	// The lake dataset and the table lost their only job.
	for _, u := range []catalog.URN{lake360, customers, "urn:field:s3://lake/curated/customer_360/email_hash"} {
		if ent, ok := e.entity(u); !ok || !ent.Deleted() {
			t.Errorf("%s = %+v, want a tombstone", u, ent)
		}
	}
}
