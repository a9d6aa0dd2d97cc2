// Command lineage benchmarks Watershed's impact analysis on a generated
// power-law lineage graph (see README.md): it loads the graph into the
// embedded store, measures the downstream closure of its hubs (unbounded
// depth) through lineage.Traverse, runs the same closure as a PostgreSQL
// WITH RECURSIVE query (and, given a server, as Cypher on Neo4j) on the
// same graph in the same run, and prints a table; -json FILE writes the
// figures the quality bars name.
//
//	go run ./bench/lineage                       # 1M assets, 5M edges
//	go run ./bench/lineage -assets 100000 -json /tmp/lineage.json
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	Assets, Edges int
	Seed          int64
	// Hubs is how many of the highest-degree assets are measured, Runs how
	// often each closure is timed on the embedded store, PGRuns in
	// PostgreSQL and Neo4j.
	Hubs, Runs, PGRuns int
	// Postgres is "auto" (run it when installed, say why not otherwise),
	// "on" (fail when it cannot run) or "off".
	Postgres string
	// Neo4j is the HTTP URL of a Neo4j 5 server (user:password@ in it), or
	// empty to skip it.
	Neo4j       string
	Dir         string
	JSON        string
	Profile     string
	LoadProfile string
	// ReopenProfile profiles reopening the store.
	ReopenProfile string
	// MemProfile is where a heap profile of the loaded store goes.
	MemProfile string
	// PropagateTopics is how many topics the propagation estate fans out to
	// (99 fields behind each, so 1,000 is the 100,000-field bar); 0 skips
	// the propagation figure.
	PropagateTopics int
	Logger          *slog.Logger
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lineage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.IntVar(&o.Assets, "assets", 1_000_000, "assets in the generated graph")
	fs.IntVar(&o.Edges, "edges", 0, "edges in the generated graph (default: 5 per asset)")
	fs.Int64Var(&o.Seed, "seed", 1, "generator seed")
	fs.IntVar(&o.Hubs, "hubs", 5, "highest-degree assets whose closure is measured")
	fs.IntVar(&o.Runs, "runs", 40, "timed closures per hub on the embedded store")
	fs.IntVar(&o.PGRuns, "pg-runs", 3, "timed closures per hub in PostgreSQL and Neo4j")
	fs.StringVar(&o.Postgres, "postgres", "auto", "auto, on or off: the WITH RECURSIVE baseline (Debian's PostgreSQL)")
	fs.StringVar(&o.Neo4j, "neo4j", os.Getenv("WATERSHED_BENCH_NEO4J"), "Neo4j 5 HTTP URL, e.g. http://neo4j:secret@127.0.0.1:7474 (default $WATERSHED_BENCH_NEO4J; empty skips it)")
	fs.StringVar(&o.Dir, "dir", "", "data directory (default: a temporary one, removed after)")
	fs.StringVar(&o.JSON, "json", "", "write the figures as JSON to this file")
	fs.StringVar(&o.Profile, "cpuprofile", "", "write a CPU profile of the embedded closures to this file")
	fs.StringVar(&o.LoadProfile, "loadprofile", "", "write a CPU profile of loading the embedded store to this file")
	fs.StringVar(&o.ReopenProfile, "reopenprofile", "", "write a CPU profile of reopening the embedded store to this file")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the loaded store (after the closures) to this file")
	fs.IntVar(&o.PropagateTopics, "propagate-topics", 1000, "topics of the propagation estate, 100 fields each (1000: the 100,000-field bar; 0 skips it)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.Edges == 0 {
		o.Edges = 5 * o.Assets
	}
	if o.Assets < 1000 || o.Edges < o.Assets || o.Hubs < 1 || o.Runs < 1 || o.PGRuns < 1 {
		fmt.Fprintln(stderr, "lineage: want -assets ≥ 1000, -edges ≥ -assets, and positive -hubs, -runs, -pg-runs")
		return 2
	}
	if o.Postgres != "auto" && o.Postgres != "on" && o.Postgres != "off" {
		fmt.Fprintln(stderr, "lineage: -postgres must be auto, on or off")
		return 2
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "lineage: %v\n", err)
		return 1
	}
	if err := res.print(stdout); err != nil {
		fmt.Fprintf(stderr, "lineage: %v\n", err)
		return 1
	}
	if o.JSON != "" {
		b, err := json.MarshalIndent(res, "", "  ")
		if err == nil {
			err = os.WriteFile(o.JSON, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintf(stderr, "lineage: write %s: %v\n", o.JSON, err)
			return 1
		}
	}
	return 0
}

// Result holds the figures. The first nine are the fields the quality bars
// name; the rest explain them.
type Result struct {
	Assets          int     `json:"assets"`
	Edges           int     `json:"edges"`
	ImpactP50ms     float64 `json:"impact_p50_ms"`
	ImpactP99ms     float64 `json:"impact_p99_ms"`
	PostgresP99ms   float64 `json:"postgres_p99_ms"`
	RatioVsPostgres float64 `json:"ratio_vs_postgres"`
	// Propagate100kms is the median time from classifying a column whose
	// lineage reaches 100,000 fields to the last propagated attachment
	// committed (propagate.go).
	Propagate100kms float64 `json:"propagate_100k_ms"`
	// PropagateFields is how many fields that run reached (100,000 unless
	// -propagate-topics says otherwise).
	PropagateFields int `json:"propagate_fields,omitempty"`
	// RSSMiB is the resident set of this process with the store open and
	// loaded: the store's memory, plus the generator's arrays.
	RSSMiB        float64 `json:"rss_mib"`
	RestartReadyS float64 `json:"restart_ready_s"`

	Hubs           []HubFigure `json:"hubs"`
	MaxHubDegree   int         `json:"max_hub_degree"`
	HubsOver10k    int         `json:"hubs_over_10k"`
	CycleEdges     int         `json:"cycle_edges"`
	GenerateS      float64     `json:"generate_s"`
	LoadS          float64     `json:"load_s"`
	HeapMiB        float64     `json:"heap_mib"`
	ImpactAPIP99ms float64     `json:"impact_api_p99_ms"`
	// ImpactCPUms is the CPU time (all threads, GC included) per embedded
	// closure: what a walk costs whatever else the machine runs.
	ImpactCPUms float64 `json:"impact_cpu_ms"`
	// FullP50ms, FullP99ms and FullCPUms are the same closures fully
	// materialised: lineage.Traverse returning every reached node (the
	// impact figures count the closure and report its nearest 100).
	FullP50ms float64 `json:"full_closure_p50_ms"`
	FullP99ms float64 `json:"full_closure_p99_ms"`
	FullCPUms float64 `json:"full_closure_cpu_ms"`
	// StoreWalkP50ms is the top hub's closure as the store's Traverse
	// alone answers it (lineage.Traverse adds its result building).
	StoreWalkP50ms float64 `json:"store_walk_p50_ms"`
	PostgresP50ms  float64 `json:"postgres_p50_ms,omitempty"`
	PostgresLoadS  float64 `json:"postgres_load_s,omitempty"`
	PostgresNote   string  `json:"postgres_note,omitempty"`
	Neo4jP50ms     float64 `json:"neo4j_p50_ms,omitempty"`
	Neo4jP99ms     float64 `json:"neo4j_p99_ms,omitempty"`
	RatioVsNeo4j   float64 `json:"ratio_vs_neo4j,omitempty"`
	Neo4jNote      string  `json:"neo4j_note,omitempty"`
	PropagateNote  string  `json:"propagate_note,omitempty"`
}

// HubFigure is one measured hub.
type HubFigure struct {
	URN     string  `json:"urn"`
	Degree  int     `json:"degree"`
	Closure int     `json:"closure"`
	P50ms   float64 `json:"p50_ms"`
	P99ms   float64 `json:"p99_ms"`
	// FullP50ms and FullP99ms: the closure fully materialised.
	FullP50ms float64 `json:"full_p50_ms"`
	FullP99ms float64 `json:"full_p99_ms"`
	PGms      float64 `json:"postgres_p50_ms,omitempty"`
}

func (r *Result) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "graph\t%d assets, %d edges (%d closing cycles); max hub degree %d, %d hubs ≥ 10k\t\n", r.Assets, r.Edges, r.CycleEdges, r.MaxHubDegree, r.HubsOver10k)
	fmt.Fprintf(tw, "load\tgenerate %.1fs, embedded store %.1fs; rss %.0f MiB (heap %.0f MiB); reopen to first walk %.2fs\t\n", r.GenerateS, r.LoadS, r.RSSMiB, r.HeapMiB, r.RestartReadyS)
	fmt.Fprintln(tw, "\t\t")
	fmt.Fprintln(tw, "hub\tdegree\tclosure\tembedded p50 ms\tembedded p99 ms\tmaterialised p99 ms\tpostgres p50 ms\t")
	for _, h := range r.Hubs {
		pg := "-"
		if h.PGms > 0 {
			pg = fmt.Sprintf("%.0f", h.PGms)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%s\t\n", h.URN, h.Degree, h.Closure, h.P50ms, h.P99ms, h.FullP99ms, pg)
	}
	fmt.Fprintln(tw, "\t\t")
	bar := func(ok bool) string {
		if ok {
			return "meets the bar"
		}
		return "MISSES the bar"
	}
	fmt.Fprintf(tw, "impact closure\tcounted + nearest 100: p50 %.1f ms, p99 %.1f ms (bar: p99 ≤ 50 ms: %s)\t\n", r.ImpactP50ms, r.ImpactP99ms, bar(r.ImpactP99ms <= 50))
	fmt.Fprintf(tw, "closure cpu\t%.1f ms of CPU per closure (all threads, GC included)\t\n", r.ImpactCPUms)
	fmt.Fprintf(tw, "full closure\tevery node materialised (lineage.Traverse): p50 %.1f ms, p99 %.1f ms, %.1f ms of CPU\t\n", r.FullP50ms, r.FullP99ms, r.FullCPUms)
	fmt.Fprintf(tw, "store walk\tcatalog Traverse alone, top hub: p50 %.1f ms\t\n", r.StoreWalkP50ms)
	fmt.Fprintf(tw, "impact API\tlineage.Impact of the top hub, 1000 assets with entities: p99 %.1f ms\t\n", r.ImpactAPIP99ms)
	if r.PostgresP99ms > 0 {
		fmt.Fprintf(tw, "postgres\tWITH RECURSIVE p50 %.0f ms, p99 %.0f ms; ratio %.0f× (bar: ≥ 100×: %s)\t\n", r.PostgresP50ms, r.PostgresP99ms, r.RatioVsPostgres, bar(r.RatioVsPostgres >= 100))
	} else {
		fmt.Fprintf(tw, "postgres\tnot measured: %s\t\n", r.PostgresNote)
	}
	if r.Neo4jP99ms > 0 {
		fmt.Fprintf(tw, "neo4j\tCypher p50 %.0f ms, p99 %.0f ms; ratio %.0f×\t\n", r.Neo4jP50ms, r.Neo4jP99ms, r.RatioVsNeo4j)
	} else if r.Neo4jNote != "" {
		fmt.Fprintf(tw, "neo4j\tnot measured: %s\t\n", r.Neo4jNote)
	}
	if r.Propagate100kms > 0 {
		fmt.Fprintf(tw, "propagation\t%d fields in %.0f ms (bar: 100,000 in ≤ 2000 ms: %s)\t\n", r.PropagateFields, r.Propagate100kms, bar(r.PropagateFields >= 100_000 && r.Propagate100kms <= 2000))
	} else {
		fmt.Fprintf(tw, "propagation\tnot measured: %s\t\n", r.PropagateNote)
	}
	return tw.Flush()
}

// percentile returns the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// note shortens an error for the table.
func note(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
