// Package realestate_test crawls a real estate — Apache Kafka, Kafka
// Connect with Debezium, Apicurio Registry and PostgreSQL, started by
// infra/up — with the watershed binary, and compares what it catalogues
// with what the same binary catalogues of the in-process demo estate
// (kfake, srfake, fakeconnect) for the same shapes. `make test-real` runs
// it; without the servers it skips and says why.
package realestate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/internal/demo"
	"github.com/watershed-data/watershed/internal/realservers"
)

// TestRealEstateLineage: PostgreSQL shop.customers → Debezium (RegexRouter)
// → the real topic cdc.shop.customers (Avro through Apicurio) → Debezium
// JDBC sink (ExtractNewRecordState, RegexRouter) → dwh.staging.customers,
// plus a Go producer writing Confluent wire-format Avro and a consumer
// group with lag. `watershed crawl` of it must yield the same kinds of
// assets and the same column-level lineage, transforms on the edges, as
// the demo estate yields for the same shapes.
func TestRealEstateLineage(t *testing.T) {
	st := realservers.Require(t, realservers.Kafka, realservers.Registry, realservers.Connect, realservers.Postgres)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := &estate{t: t, st: st, pg: st.Postgres}
	e.teardown()
	e.seed(ctx)
	t.Cleanup(e.teardown)

	bin := buildBinary(t)
	real := crawlAndServe(t, bin, e.sources())
	d, err := demo.Start(ctx, demo.Options{NoTraffic: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fake := crawlAndServe(t, bin, d.SourceSettings("@every 1h"))

	pgNS := fmt.Sprintf("postgres://%s:%d", st.Postgres.Host, st.Postgres.Port)
	// The demo's two PostgreSQL servers are one real server here.
	toReal := strings.NewReplacer("postgres://shop-db.acme.internal:5432", pgNS, "postgres://dwh.acme.internal:5432", pgNS)
	email := "urn:column:" + pgNS + "/shop.public.customers/email"
	field := "urn:field:prod/cdc.shop.customers/value/after.email"
	sunk := "urn:column:" + pgNS + "/dwh.staging.customers/email"

	t.Run("column lineage to the sunk column", func(t *testing.T) {
		got := lineage(t, real, email)
		for _, want := range []string{field, sunk} {
			if _, ok := got[want]; !ok {
				t.Errorf("lineage of %s lacks %s: %v", email, want, keys(got))
			}
		}
		if p := got[sunk]; !slices.Equal(p, []string{email, field, sunk}) {
			t.Errorf("path to %s = %v; want through %s", sunk, p, field)
		}
		// The same walk on the demo, namespaces mapped, restricted to the
		// shapes the real estate has: the CDC topic's fields and dwh.
		want := map[string][]string{}
		for u, p := range lineage(t, fake, "urn:column:postgres://shop-db.acme.internal:5432/shop.public.customers/email") {
			u = toReal.Replace(u)
			if strings.HasPrefix(u, "urn:field:prod/cdc.shop.customers/") || strings.HasPrefix(u, "urn:column:"+pgNS+"/dwh.staging.") {
				mapped := make([]string, len(p))
				for i, x := range p {
					mapped[i] = toReal.Replace(x)
				}
				want[u] = mapped
			}
		}
		if len(want) == 0 {
			t.Fatal("the demo's lineage of customers.email has no CDC field or dwh column")
		}
		for u, p := range want {
			if gp, ok := got[u]; !ok || !slices.Equal(gp, p) {
				t.Errorf("demo lineage has %s via %v; real has it via %v", u, p, gp)
			}
		}
		for u := range got {
			if _, ok := want[u]; !ok && (strings.HasPrefix(u, "urn:field:") || strings.Contains(u, "/dwh.")) {
				t.Errorf("real lineage has %s, the demo's has not", u)
			}
		}
	})

	t.Run("transforms on the edges", func(t *testing.T) {
		type edge struct{ Kind, Transform, Origin string }
		check := func(p *server, from, to string) edge {
			t.Helper()
			d := p.gql(t, `query($u: URN!) { asset(urn: $u) { downstream { edge { to kind masking claims { origin transform } } } } }`, map[string]any{"u": from})
			for _, x := range d["asset"].(map[string]any)["downstream"].([]any) {
				ed := x.(map[string]any)["edge"].(map[string]any)
				if ed["to"] == to {
					c := ed["claims"].([]any)[0].(map[string]any)
					tr, _ := c["transform"].(string)
					or, _ := c["origin"].(string)
					if ed["masking"] != false {
						t.Errorf("%s → %s is masking", from, to)
					}
					return edge{ed["kind"].(string), tr, or}
				}
			}
			t.Errorf("no edge %s → %s", from, to)
			return edge{}
		}
		for _, c := range []struct{ from, to string }{
			{email, field},
			{field, sunk},
			{"urn:connector:prod-connect/" + sourceConnector, "urn:topic:prod/cdc.shop.customers"},
			{"urn:topic:prod/cdc.shop.customers", "urn:connector:prod-connect/" + sinkConnector},
			{"urn:connector:prod-connect/" + sinkConnector, "urn:table:" + pgNS + "/dwh.staging.customers"},
			{"urn:table:" + pgNS + "/shop.public.customers", "urn:connector:prod-connect/" + sourceConnector},
		} {
			r := check(real, c.from, c.to)
			f := check(fake, strings.NewReplacer(pgNS+"/shop.", "postgres://shop-db.acme.internal:5432/shop.", pgNS+"/dwh.", "postgres://dwh.acme.internal:5432/dwh.").Replace(c.from),
				strings.NewReplacer(pgNS+"/shop.", "postgres://shop-db.acme.internal:5432/shop.", pgNS+"/dwh.", "postgres://dwh.acme.internal:5432/dwh.").Replace(c.to))
			if r != f {
				t.Errorf("%s → %s: real %+v, demo %+v", c.from, c.to, r, f)
			}
		}
		if r := check(real, field, sunk); r.Transform != "unwrap" {
			t.Errorf("the sink's field edge names transform %q, want unwrap", r.Transform)
		}
		if r := check(real, "urn:connector:prod-connect/"+sourceConnector, "urn:topic:prod/cdc.shop.customers"); r.Transform != "route" {
			t.Errorf("the source's PRODUCES edge names transform %q, want route", r.Transform)
		}
	})

	t.Run("same kinds of assets", func(t *testing.T) {
		rk, fk := kinds(t, real), kinds(t, fake)
		for _, k := range []string{"KAFKA_CLUSTER", "BROKER", "TOPIC", "CONSUMER_GROUP", "PRINCIPAL", "SCHEMA_REGISTRY",
			"SCHEMA_SUBJECT", "SCHEMA_VERSION", "FIELD", "CONNECT_CLUSTER", "CONNECTOR", "DATABASE", "TABLE", "COLUMN"} {
			if rk[k] == 0 {
				t.Errorf("the real crawl has no %s (kinds %v)", k, rk)
			}
			if fk[k] == 0 {
				t.Errorf("the demo crawl has no %s (kinds %v)", k, fk)
			}
		}
		for k := range rk {
			if fk[k] == 0 {
				t.Errorf("the real crawl has kind %s, the demo's has not", k)
			}
		}
	})

	t.Run("topic, schema and group", func(t *testing.T) {
		d := real.gql(t, `{ asset(urn: "urn:topic:prod/cdc.shop.customers") {
			properties
			fields: downstream(kinds: [CONTAINS]) { asset { urn } }
			consumers: downstream(kinds: [CONSUMES]) { asset { urn live } edge { claims { source origin } } }
		} }`, nil)
		a := d["asset"].(map[string]any)
		props := a["properties"].(map[string]any)
		if props["partitions"] != float64(1) || props["replicationFactor"] != float64(3) || props["valueSchemaName"] != "shop.public.customers.Envelope" {
			t.Errorf("topic properties %v", props)
		}
		if cfg, _ := props["configs"].(map[string]any); cfg["cleanup.policy"] != "compact" {
			t.Errorf("topic configs %v; want cleanup.policy=compact from topic.creation", cfg)
		}
		if !strings.Contains(mustJSON(t, a["fields"]), `"urn:field:prod/cdc.shop.customers/value/after"`) {
			t.Errorf("topic fields %v lack value/after", a["fields"])
		}
		if d := real.gql(t, `query($u: URN!) { asset(urn: $u) { kind properties } }`, map[string]any{"u": field}); d["asset"].(map[string]any)["kind"] != "FIELD" {
			t.Errorf("%s: %v", field, d)
		}
		var lag float64 = -1
		var claims string
		for _, c := range a["consumers"].([]any) {
			n := c.(map[string]any)
			switch n["asset"].(map[string]any)["urn"] {
			case "urn:group:prod/analytics":
				live := n["asset"].(map[string]any)["live"].(map[string]any)
				lag, _ = live["totalLag"].(float64)
				if live["state"] != "Stable" || len(live["members"].([]any)) != 1 {
					t.Errorf("group analytics live %v; want Stable with one member", live)
				}
			case "urn:group:prod/connect-" + sinkConnector:
				claims = mustJSON(t, n["edge"])
			}
		}
		// 5 snapshot+insert events and an update, one taken.
		if lag < 5 {
			t.Errorf("group analytics total lag %v; want ≥ 5", lag)
		}
		if !strings.Contains(claims, `"origin":"consumer-offsets"`) || !strings.Contains(claims, `"origin":"connect-config"`) {
			t.Errorf("topic → connect-%s is not one edge with both claims: %s", sinkConnector, claims)
		}
		// The Debezium subject, registered by Apicurio's converter, reads
		// as the demo's: inherited BACKWARD compatibility, its record name.
		sub := `query($u: URN!) { asset(urn: $u) { properties } }`
		for _, k := range []string{"compatibility", "compatibilitySource", "schemaType", "recordName", "mode"} {
			r := real.gql(t, sub, map[string]any{"u": "urn:subject:prod-sr/cdc.shop.customers-value"})["asset"].(map[string]any)["properties"].(map[string]any)[k]
			f := fake.gql(t, sub, map[string]any{"u": "urn:subject:prod-sr/cdc.shop.customers-value"})["asset"].(map[string]any)["properties"].(map[string]any)[k]
			if r != f || r == nil {
				t.Errorf("subject cdc.shop.customers-value %s: real %v, demo %v", k, r, f)
			}
		}
		// The Go producer's subject is bound to its topic through the
		// schema id in sampled records.
		d = real.gql(t, `{ asset(urn: "urn:topic:prod/`+eventsTopic+`") { properties upstream { asset { urn kind } } downstream { asset { urn kind } } } }`, nil)
		js := mustJSON(t, d)
		if !strings.Contains(js, eventsSubject) || !strings.Contains(js, "customer_email") {
			t.Errorf("topic %s is not bound to subject %s and its fields: %s", eventsTopic, eventsSubject, js)
		}
	})
}

// server is a `watershed serve` process on a crawled data dir.
type server struct{ addr string }

func (p *server) gql(t *testing.T, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post("http://"+p.addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("graphql %s: %v %s", query, err, b)
	}
	return out.Data
}

// lineage walks downstream of urn and returns each node's path.
func lineage(t *testing.T, p *server, urn string) map[string][]string {
	t.Helper()
	d := p.gql(t, `query($u: URN!) { lineage(urn: $u, direction: DOWNSTREAM, depth: 6) { nodes { path asset { urn } } } }`, map[string]any{"u": urn})
	out := map[string][]string{}
	for _, n := range d["lineage"].(map[string]any)["nodes"].([]any) {
		m := n.(map[string]any)
		var path []string
		for _, x := range m["path"].([]any) {
			path = append(path, x.(string))
		}
		out[m["asset"].(map[string]any)["urn"].(string)] = path
	}
	return out
}

var allKinds = []string{"KAFKA_CLUSTER", "BROKER", "TOPIC", "CONSUMER_GROUP", "PRINCIPAL", "JOB", "SCHEMA_REGISTRY", "SCHEMA_SUBJECT",
	"SCHEMA_VERSION", "FIELD", "CONNECT_CLUSTER", "CONNECTOR", "DATABASE", "TABLE", "COLUMN", "DATASET"}

// kinds counts the catalogued assets of each kind.
func kinds(t *testing.T, p *server) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, k := range allKinds {
		d := p.gql(t, `query($k: AssetKind!) { search(kinds: [$k], first: 1) { totalCount } }`, map[string]any{"k": k})
		if n := int(d["search"].(map[string]any)["totalCount"].(float64)); n > 0 {
			out[k] = n
		}
	}
	return out
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildBinary builds cmd/watershed into a temp dir.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "watershed")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/watershed")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build watershed: %v\n%s", err, out)
	}
	return bin
}

// crawlAndServe writes a config of sources, runs `watershed crawl` (every
// source must succeed, none partially) and serves the data dir.
func crawlAndServe(t *testing.T, bin string, sources []map[string]any) *server {
	t.Helper()
	var b strings.Builder
	b.WriteString("sources:\n")
	for _, s := range sources {
		if _, ok := s["schedule"]; !ok {
			s["schedule"] = "@every 1h"
		}
		b.WriteString("  - " + mustJSON(t, s) + "\n") // JSON is YAML
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "watershed.yaml")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	out, err := exec.Command(bin, "crawl", "--config", cfg, "--data-dir", data).CombinedOutput()
	t.Logf("watershed crawl:\n%s", tableOnly(out))
	if err != nil {
		t.Fatalf("crawl: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "PARTIAL") || strings.Contains(string(out), "FAILED") {
		t.Errorf("a crawl was not complete:\n%s", out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	logs := &bytes.Buffer{}
	cmd := exec.Command(bin, "serve", "--data-dir", data, "--listen", addr)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("watershed serve log:\n%s", logs)
		}
	})
	waitFor(t, 30*time.Second, "watershed serve ready", func() error {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz: %s", resp.Status)
		}
		return nil
	})
	return &server{addr: addr}
}

// tableOnly keeps the crawl's summary table and warnings, not its logs.
func tableOnly(out []byte) string {
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, "time=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
