package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemoPropagation is the lineage issue's "done means", through the
// binary and GraphQL only: on `watershed demo`, classify the PostgreSQL
// column customers.email as PII.Email; the CDC topic's field, the enrichment
// job's output field and the warehouse column carry it with origin and
// path, the masked CRM column does not, the CDC topic shows the roll-up;
// declassify retracts everything. It logs how long propagation took (the
// bar is measured by BenchmarkPropagate100k, not here).
func TestDemoPropagation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo binary; skipped in -short mode")
	}
	bin := buildBinary(t)
	addr := freePort(t)
	cmd := exec.Command(bin, "demo", "--listen", addr, "--data-dir", t.TempDir(), "--schedule", "@every 1h", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Watershed demo is ready") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready: // the startup crawls ran and the demo's lineage is posted
	case <-time.After(90 * time.Second):
		t.Fatalf("demo not ready; logs:\n%s", logs.String())
	}
	p := &process{t: t, addr: addr}

	const (
		column   = "urn:column:postgres://shop-db.acme.internal:5432/shop.public.customers/email"
		cdcTopic = "urn:topic:prod/cdc.shop.customers"
		cdcField = "urn:field:prod/cdc.shop.customers/value/after.email"
		enriched = "urn:field:prod/orders.enriched/value/customer.email"
		dwh      = "urn:column:postgres://dwh.acme.internal:5432/dwh.staging.customers/email"
		crm      = "urn:column:postgres://crm-db.acme.internal:5432/crm.public.customers/email"
	)
	// The attachments of PII.Email from the column on u, by mode.
	fromColumn := func(u string) (modes []string, paths [][]any) {
		d := p.gql(`query($u: URN!) { asset(urn: $u) { classifications { name origin mode path } } }`, map[string]any{"u": u})
		for _, a := range d["asset"].(map[string]any)["classifications"].([]any) {
			a := a.(map[string]any)
			if a["name"] == "PII.Email" && a["origin"] == column {
				modes = append(modes, a["mode"].(string))
				paths = append(paths, a["path"].([]any))
			}
		}
		return modes, paths
	}
	// The dry run names what the classification will reach.
	d := p.gql(`query($u: URN!) { previewClassification(urn: $u, classification: "PII.Email") { totalCount reached { mode asset { urn } } } }`, map[string]any{"u": column})
	preview := map[string]string{}
	for _, r := range d["previewClassification"].(map[string]any)["reached"].([]any) {
		r := r.(map[string]any)
		preview[r["asset"].(map[string]any)["urn"].(string)] = r["mode"].(string)
	}
	for u, m := range map[string]string{cdcField: "FIELD", enriched: "FIELD", dwh: "FIELD", cdcTopic: "ROLLUP"} {
		if preview[u] != m {
			t.Errorf("preview: %s mode %q, want %s", u, preview[u], m)
		}
	}
	if _, ok := preview[crm]; ok {
		t.Errorf("preview reaches the masked column")
	}

	start := time.Now()
	p.gql(`mutation($u: URN!) { classify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": column})
	want := map[string]string{cdcField: "FIELD", enriched: "FIELD", dwh: "FIELD", cdcTopic: "ROLLUP"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		all := true
		for u := range want {
			if m, _ := fromColumn(u); len(m) == 0 {
				all = false
			}
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("propagation did not reach every target; logs:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("classify → every target carries PII.Email: %v", time.Since(start).Round(time.Millisecond))
	for u, m := range want {
		modes, paths := fromColumn(u)
		if len(modes) != 1 || modes[0] != m {
			t.Errorf("%s: modes %v, want [%s]", u, modes, m)
			continue
		}
		path := paths[0]
		if path[0] != column || path[len(path)-1] != u {
			t.Errorf("%s: path %v does not run from the column to it", u, path)
		}
	}
	if _, paths := fromColumn(enriched); len(paths) == 1 && (len(paths[0]) != 3 || paths[0][1] != cdcField) {
		t.Errorf("enrichment path = %v, want column → CDC field → enriched field", paths[0])
	}
	if m, _ := fromColumn(crm); len(m) != 0 {
		t.Errorf("the masked CRM column carries PII.Email (%v)", m)
	}
	// Search and the hierarchy: the CDC topic is a PII topic now.
	d = p.gql(`{ search(classifications: ["PII"], kinds: [TOPIC], first: 100) { edges { node { urn } } } }`, nil)
	if !strings.Contains(mustJSON(t, d), `"`+cdcTopic+`"`) {
		t.Errorf("search for PII topics lacks the CDC topic: %s", mustJSON(t, d))
	}
	// Why does the warehouse column carry PII?
	d = p.gql(`query($u: URN!) { explainClassification(urn: $u, classification: "PII") { classification origin { urn } mode hops { from to containment edge { kind } } } }`, map[string]any{"u": dwh})
	js := mustJSON(t, d)
	if !strings.Contains(js, `"classification":"PII.Email"`) || !strings.Contains(js, `"origin":{"urn":"`+column+`"}`) || !strings.Contains(js, `"edge":{"kind":"DERIVES"}`) {
		t.Errorf("explanation = %s", js)
	}
	// The propagation backlog is exported.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"watershed_propagation_backlog_entries", "watershed_propagation_lag_seconds", `watershed_changelog_subscription_backlog{subscription="propagation/v1"}`} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}

	// Declassify: everything from the column is retracted.
	p.gql(`mutation($u: URN!) { declassify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": column})
	deadline = time.Now().Add(30 * time.Second)
	for {
		left := 0
		d = p.gql(`{ search(classifications: ["PII.Email"], first: 500) { edges { node { urn classifications { name origin } } } } }`, nil)
		for _, e := range d["search"].(map[string]any)["edges"].([]any) {
			for _, a := range e.(map[string]any)["node"].(map[string]any)["classifications"].([]any) {
				if a.(map[string]any)["origin"] == column {
					left++
				}
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attachments from the column left after declassify", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
