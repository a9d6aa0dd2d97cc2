package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmallRun runs the whole benchmark on a small graph: the embedded
// closures and, where Debian's PostgreSQL is installed, the recursive-CTE
// baseline, each checked against the generator's own BFS (a mismatch fails
// the run), and the JSON figures written. It asserts behaviour, not speed.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("loads a generated graph and starts PostgreSQL; skipped in -short mode")
	}
	pgMode := "on"
	if _, err := postgresBin(); err != nil {
		t.Logf("PostgreSQL baseline not run: %v", err)
		pgMode = "off"
	}
	out := filepath.Join(t.TempDir(), "lineage.json")
	var stdout, stderr bytes.Buffer
	code := runMain(t.Context(), []string{"-assets", "20000", "-hubs", "2", "-runs", "3", "-pg-runs", "1", "-postgres", pgMode, "-propagate-topics", "20", "-json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"assets", "edges", "impact_p50_ms", "impact_p99_ms", "postgres_p99_ms", "ratio_vs_postgres", "propagate_100k_ms", "rss_mib", "restart_ready_s"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("%s lacks %q", out, k)
		}
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Assets != 20000 || res.Edges < 20000 || len(res.Hubs) != 2 || res.Hubs[0].Closure == 0 || res.ImpactP99ms <= 0 || res.RSSMiB <= 0 || res.RestartReadyS <= 0 {
		t.Errorf("figures %+v", res)
	}
	if pgMode == "on" && (res.PostgresP99ms <= 0 || res.RatioVsPostgres <= 0) {
		t.Errorf("postgres figures missing: %+v", res)
	}
	if !strings.Contains(stdout.String(), "impact closure") {
		t.Errorf("table:\n%s", stdout.String())
	}
}

func TestGeneratorShape(t *testing.T) {
	g := generate(200_000, 1_000_000, 1)
	if n := len(g.from); n < 900_000 || n > 1_100_000 {
		t.Errorf("%d edges, want about 1,000,000", n)
	}
	if g.outDeg[g.hubs[0]] < 5000 {
		t.Errorf("top hub degree %d: the attachment is not preferential", g.outDeg[g.hubs[0]])
	}
	if g.backEdge == 0 {
		t.Error("no cycles")
	}
	kinds := map[string]int{}
	for i := range g.from {
		kinds[string(g.edgeKind(g.from[i], g.to[i]))]++
		if isProcess(g.kinds[g.from[i]]) && isProcess(g.kinds[g.to[i]]) {
			t.Fatalf("edge %d → %d joins two processes", g.from[i], g.to[i])
		}
		if g.kinds[g.from[i]] == "CONSUMER_GROUP" {
			t.Fatalf("consumer group %d writes data", g.from[i])
		}
	}
	for _, k := range []string{"CONSUMES", "PRODUCES", "DERIVES", "SINKS", "CAPTURES"} {
		if kinds[k] == 0 {
			t.Errorf("no %s edges: %v", k, kinds)
		}
	}
	// Deterministic: the same seed gives the same graph.
	h := generate(200_000, 1_000_000, 1)
	if len(h.from) != len(g.from) || h.from[12345] != g.from[12345] || h.to[54321] != g.to[54321] {
		t.Error("the generator is not deterministic")
	}
}
