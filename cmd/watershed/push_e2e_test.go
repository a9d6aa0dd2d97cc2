package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/internal/demo"
)

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestPushedLineage serves the demo estate's sources, posts the Streams
// topology and a Flink OpenLineage event as their operators would, and
// checks that both link their input and output topics; an invalid event is
// rejected with the reason and writes nothing.
func TestPushedLineage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	estate, err := demo.Start(context.Background(), demo.Options{NoTraffic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer estate.Close()
	bin := buildBinary(t)
	addr := freePort(t)
	p := startServer(t, bin, t.TempDir(), addr, "--config", writeDemoConfig(t, estate, ""))
	base := "http://" + addr

	app, cluster, text := demo.StreamsTopology()
	topo, err := json.Marshal(map[string]string{"applicationId": app, "cluster": cluster, "topology": text})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := post(t, base+"/api/v1/topologies", string(topo)); code >= 300 {
		t.Fatalf("topology: %d %s", code, body)
	}
	if code, body := post(t, base+"/api/v1/lineage", string(demo.OpenLineageEvent())); code >= 300 {
		t.Fatalf("lineage: %d %s", code, body)
	}
	d := p.gql(`{ lineage(urn: "urn:topic:prod/cdc.shop.orders", direction: DOWNSTREAM, depth: 4) { nodes { asset { urn } } } }`, nil)
	js := mustJSON(t, d)
	for _, want := range []string{
		"urn:job:kafka-streams://prod/order-enricher", "urn:topic:prod/orders.enriched",
		"urn:job:flink://flink-prod/fraud-scoring", "urn:topic:prod/fraud.alerts",
	} {
		if !strings.Contains(js, want) {
			t.Errorf("lineage from cdc.shop.orders lacks %s: %s", want, js)
		}
	}
	d = p.gql(`{ lineage(urn: "urn:field:prod/payments.payments.card_payments/value/customer_email", direction: DOWNSTREAM, depth: 1) { nodes { asset { urn } } } }`, nil)
	if !strings.Contains(mustJSON(t, d), "urn:field:prod/fraud.alerts/value/customer_email") {
		t.Errorf("column lineage facet not applied: %s", mustJSON(t, d))
	}

	// Let the handlers that react to the new lineage (propagation of the
	// demo's schema tags) settle first.
	before := quietHead(t, p)
	bad := bytes.Replace(demo.OpenLineageEvent(), []byte(`"runId": "0193a7d8-7b62-7c5e-9b1e-3f1f2c5d8e41"`), []byte(`"runId": "not-a-uuid"`), 1)
	code, body := post(t, base+"/api/v1/lineage", string(bad))
	if code != http.StatusBadRequest || !strings.Contains(body, "runId") {
		t.Errorf("invalid event: %d %s", code, body)
	}
	time.Sleep(100 * time.Millisecond)
	if after := logHead(p); after != before {
		t.Errorf("an invalid event changed the log: head %s → %s", before, after)
	}
}

// logHead returns the id of the newest change-log entry.
func logHead(p *process) string {
	after := ""
	for {
		d := p.gql(`query($a: String) { changes(after: $a, first: 1000) { pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after})
		pi := d["changes"].(map[string]any)["pageInfo"].(map[string]any)
		if c, ok := pi["endCursor"].(string); ok && c != "" {
			after = c
		}
		if pi["hasNextPage"] != true {
			return after
		}
	}
}

// quietHead waits until the log head stays put for half a second.
func quietHead(t *testing.T, p *process) string {
	t.Helper()
	head := logHead(p)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		time.Sleep(500 * time.Millisecond)
		next := logHead(p)
		if next == head {
			return head
		}
		head = next
	}
	t.Fatal("the change log never went quiet")
	return ""
}
