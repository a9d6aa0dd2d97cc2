package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/internal/demo"
)

// writeDemoConfig writes a config file whose sources are the estate's.
func writeDemoConfig(t *testing.T, e *demo.Estate, extra string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("sources:\n")
	for _, s := range e.SourceSettings("@every 1h") {
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("  - " + string(js) + "\n") // JSON is YAML
	}
	b.WriteString(extra)
	path := filepath.Join(t.TempDir(), "watershed.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCrawlCommandFillsCatalog runs `watershed crawl` against the demo
// estate (kfake, srfake and the Connect fake over real sockets), then serves
// the data directory and checks what a steward would look for.
func TestCrawlCommandFillsCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	estate, err := demo.Start(context.Background(), demo.Options{Interval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer estate.Close()
	time.Sleep(time.Second) // let the consumer groups join and commit
	bin := buildBinary(t)
	cfg := writeDemoConfig(t, estate, "")
	dataDir := t.TempDir()
	out, err := exec.Command(bin, "crawl", "--config", cfg, "--data-dir", dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("crawl: %v\n%s", err, out)
	}
	for _, src := range []string{demo.KafkaSource, demo.RegistrySource, demo.ConnectSource} {
		if !strings.Contains(string(out), src+" ") {
			t.Errorf("crawl output lacks %s:\n%s", src, out)
		}
	}
	if strings.Contains(string(out), "FAILED") {
		t.Errorf("a crawl failed:\n%s", out)
	}
	t.Logf("crawl output:\n%s", out)

	p := startServer(t, bin, dataDir, freePort(t))
	d := p.gql(`{ search(query: "customers") { totalCount edges { node { urn kind } } } }`, nil)
	kinds := map[string]bool{}
	for _, e := range d["search"].(map[string]any)["edges"].([]any) {
		kinds[e.(map[string]any)["node"].(map[string]any)["kind"].(string)] = true
	}
	for _, k := range []string{"TOPIC", "SCHEMA_SUBJECT", "FIELD", "TABLE"} {
		if !kinds[k] {
			t.Errorf("search for customers found no %s: %v", k, kinds)
		}
	}
	d = p.gql(`{ asset(urn: "urn:topic:prod/cdc.shop.customers") {
		properties
		fields: downstream(kinds: [CONTAINS]) { asset { urn kind } }
		consumers: downstream(kinds: [CONSUMES]) { asset { urn kind live } }
	} }`, nil)
	a := d["asset"].(map[string]any)
	props := a["properties"].(map[string]any)
	if props["partitions"] != float64(6) || props["configs"].(map[string]any)["cleanup.policy"] != "compact" || props["valueSchemaName"] != "shop.public.customers.Envelope" {
		t.Errorf("topic properties = %v", props)
	}
	if len(a["fields"].([]any)) == 0 {
		t.Error("topic has no schema fields")
	}
	lagged := false
	for _, c := range a["consumers"].([]any) {
		n := c.(map[string]any)["asset"].(map[string]any)
		if n["urn"] == "urn:group:prod/analytics" {
			if live, ok := n["live"].(map[string]any); ok && live["totalLag"] != nil {
				lagged = true
			}
		}
	}
	if !lagged {
		t.Errorf("consumer group analytics with lag not found among %v", a["consumers"])
	}
	d = p.gql(`{ lineage(urn: "urn:topic:prod/cdc.shop.customers", direction: DOWNSTREAM, depth: 1) { nodes { asset { urn } } } }`, nil)
	if !strings.Contains(mustJSON(t, d), "urn:group:prod/analytics") {
		t.Errorf("lineage lacks topic → group edge: %s", mustJSON(t, d))
	}
	// Column-level lineage: a PostgreSQL column through its CDC topic's field
	// to the warehouse table's column.
	d = p.gql(`{ lineage(urn: "urn:column:postgres://shop-db.acme.internal:5432/shop.public.customers/email", direction: DOWNSTREAM, depth: 6) { nodes { depth path asset { urn kind } } } }`, nil)
	js := mustJSON(t, d)
	for _, want := range []string{"urn:field:prod/cdc.shop.customers/value/after.email", "urn:column:postgres://dwh.acme.internal:5432/dwh.staging.customers/email"} {
		if !strings.Contains(js, want) {
			t.Errorf("column lineage lacks %s: %s", want, js)
		}
	}
	checkConnectLineage(t, p)
}

// checkConnectLineage checks the Connect-derived lineage of the demo estate:
// a RegexRouter-renamed topic, an outbox-routed topic and an unwrapped,
// masked topic each resolve to the right topic and fields.
func checkConnectLineage(t *testing.T, p *process) {
	t.Helper()
	d := p.gql(`{
	  renamed: lineage(urn: "urn:table:postgres://shop-db.acme.internal:5432/shop.public.orders", direction: DOWNSTREAM, depth: 2) { nodes { asset { urn } } }
	  outbox: lineage(urn: "urn:table:postgres://shop-db.acme.internal:5432/shop.public.outbox", direction: DOWNSTREAM, depth: 2) { nodes { asset { urn } } }
	  masked: asset(urn: "urn:column:mysql://payments-db.acme.internal:3306/payments.card_payments/card_number") { downstream(kinds: [DERIVES]) { edge { to masking } } }
	  unwrapped: asset(urn: "urn:column:mysql://payments-db.acme.internal:3306/payments.card_payments/amount") { downstream(kinds: [DERIVES]) { edge { to masking } } }
	}`, nil)
	js := mustJSON(t, d)
	for _, want := range []string{
		`"urn:topic:prod/cdc.shop.orders"`, `"urn:topic:prod/outbox.event.Order"`, `"urn:topic:prod/outbox.event.Customer"`,
		`{"edge":{"masking":true,"to":"urn:field:prod/payments.payments.card_payments/value/card_number"}}`,
		`{"edge":{"masking":false,"to":"urn:field:prod/payments.payments.card_payments/value/amount"}}`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("connect lineage lacks %s: %s", want, js)
		}
	}
	if strings.Contains(js, "urn:topic:prod/shop.public.orders") {
		t.Errorf("RegexRouter not applied: %s", js)
	}
	// The sink's consumption seen by Connect's config and by committed
	// offsets is one edge with both claims.
	d = p.gql(`{ asset(urn: "urn:topic:prod/cdc.shop.customers") { downstream(kinds: [CONSUMES]) { edge { to claims { source origin } } } } }`, nil)
	js = mustJSON(t, d)
	want := `{"edge":{"claims":[{"origin":"consumer-offsets","source":"prod"},{"origin":"connect-config","source":"prod-connect"}],"to":"urn:group:prod/connect-dwh-jdbc-sink"}}`
	if !strings.Contains(js, want) {
		t.Errorf("topic → connect group edge is not one edge with two claims: %s", js)
	}
}

func TestCrawlCommandFailsClearly(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	bin := buildBinary(t)
	path := filepath.Join(t.TempDir(), "bad.yaml")
	body := "sources:\n  - {name: prod, kind: kafka, bootstrap: [\"127.0.0.1:1\"], timeout: 2s}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "crawl", "--config", path, "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil {
		t.Fatalf("crawl of an unreachable cluster exited 0:\n%s", out)
	}
	if !strings.Contains(string(out), "1 of 1 crawls failed") || !strings.Contains(string(out), "prod:") {
		t.Errorf("unclear failure message:\n%s", out)
	}
	out, err = exec.Command(bin, "crawl", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--config is required") {
		t.Errorf("crawl without config: %v\n%s", err, out)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
