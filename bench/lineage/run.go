package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/lineage"
)

// run generates the graph, loads and measures it, and returns the figures.
func run(ctx context.Context, o options) (*Result, error) {
	log := o.Logger
	res := &Result{Assets: o.Assets}
	t0 := time.Now()
	g := generate(o.Assets, o.Edges, o.Seed)
	res.GenerateS = time.Since(t0).Seconds()
	res.Edges, res.CycleEdges = len(g.from), g.backEdge
	res.MaxHubDegree = int(g.outDeg[g.hubs[0]])
	for _, h := range g.hubs {
		if g.outDeg[h] >= 10_000 {
			res.HubsOver10k++
		}
	}
	log.Info("generated", "assets", o.Assets, "edges", res.Edges, "max_degree", res.MaxHubDegree, "hubs_over_10k", res.HubsOver10k, "took", time.Since(t0).Round(time.Millisecond))

	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "watershed-bench-lineage-")
		if err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	// Synced commits, as a server runs: the load is a few large batches.
	store, err := embedded.Open(embedded.Options{Dir: dir, CacheBytes: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	t0 = time.Now()
	stopProfile, err := startProfile(o.LoadProfile)
	if err != nil {
		return nil, err
	}
	err = load(ctx, store, g, log)
	stopProfile()
	if err != nil {
		return nil, err
	}
	res.LoadS = time.Since(t0).Seconds()
	log.Info("loaded the embedded store", "took", time.Since(t0).Round(time.Millisecond))

	hubs := g.hubs[:min(o.Hubs, len(g.hubs))]
	if err := measureEmbedded(ctx, store, g, hubs, o, res); err != nil {
		return nil, err
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.HeapMiB = float64(m.HeapAlloc) / (1 << 20)
	res.RSSMiB = rssMiB()
	if o.MemProfile != "" {
		if err := writeHeapProfile(o.MemProfile); err != nil {
			return nil, err
		}
	}

	// Restart: close, reopen, first walk answered.
	if err := store.Close(); err != nil {
		return nil, fmt.Errorf("close store: %w", err)
	}
	store = nil
	t0 = time.Now()
	stopProfile, err = startProfile(o.ReopenProfile)
	if err != nil {
		return nil, err
	}
	store, err = embedded.Open(embedded.Options{Dir: dir, CacheBytes: 256 << 20})
	stopProfile()
	if err != nil {
		return nil, fmt.Errorf("reopen store: %w", err)
	}
	if _, err := lineage.Traverse(ctx, store, lineage.Query{Starts: []catalog.URN{g.urn(hubs[0])}, Direction: catalog.Downstream, Depth: 1}); err != nil {
		return nil, fmt.Errorf("walk after reopening: %w", err)
	}
	res.RestartReadyS = time.Since(t0).Seconds()
	log.Info("reopened", "took", time.Since(t0).Round(time.Millisecond))

	if d, ok, err := measurePropagation(ctx, store, o.PropagateTopics, log); err != nil {
		res.PropagateNote = note(err)
	} else if ok {
		res.Propagate100kms, res.PropagateFields = ms(d), o.PropagateTopics*100
	} else {
		res.PropagateNote = "skipped (-propagate-topics 0)"
	}
	if err := store.Close(); err != nil {
		return nil, fmt.Errorf("close store: %w", err)
	}
	store = nil

	if o.Postgres != "off" {
		if err := measurePostgres(ctx, g, hubs, o, res); err != nil {
			if o.Postgres == "on" {
				return nil, err
			}
			res.PostgresNote = note(err)
			log.Warn("postgres baseline skipped", "err", err)
		}
	} else {
		res.PostgresNote = "-postgres off"
	}
	if res.PostgresP99ms > 0 && res.ImpactP99ms > 0 {
		res.RatioVsPostgres = res.PostgresP99ms / res.ImpactP99ms
	}
	if o.Neo4j != "" {
		if err := measureNeo4j(ctx, g, hubs, o, res); err != nil {
			res.Neo4jNote = note(err)
			log.Warn("neo4j baseline failed", "err", err)
		} else if res.ImpactP99ms > 0 {
			res.RatioVsNeo4j = res.Neo4jP99ms / res.ImpactP99ms
		}
	}
	return res, nil
}

// closurePage is how many of the nearest impacted assets the compact
// closure reports with entities and paths, besides its totals.
const closurePage = 100

// measureEmbedded times the closure of each hub on the embedded store,
// unbounded depth, downstream over the flow edges, checked against the
// generator's BFS, two ways: compact, as lineage.Impact with Totals
// answers it (the closure counted per group through the store's
// CountTraverse, and the nearest closurePage assets with entities and
// paths: the impact figures); and fully materialised, as lineage.Traverse
// answers it (every reached node with its depth, no entities, paths or
// edges: the full figures).
func measureEmbedded(ctx context.Context, store *embedded.Store, g *graph, hubs []uint32, o options, res *Result) error {
	stopProfile, err := startProfile(o.Profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	wants := make([]int, len(hubs))
	for i, h := range hubs {
		wants[i] = g.closure(h)
	}
	// timed runs f o.Runs times after two warm-up runs; it returns the
	// latencies and the CPU time per run.
	timed := func(f func() error) ([]time.Duration, time.Duration, error) {
		var lat []time.Duration
		cpu0 := cpuTime()
		for i := 0; i < o.Runs+2; i++ {
			t0 := time.Now()
			if err := f(); err != nil {
				return nil, 0, err
			}
			if i >= 2 {
				lat = append(lat, time.Since(t0))
			}
		}
		return lat, (cpuTime() - cpu0) / time.Duration(o.Runs+2), nil
	}
	var all, full []time.Duration
	var cpu, fullCPU time.Duration
	for i, h := range hubs {
		u, want := g.urn(h), wants[i]
		lat, c, err := timed(func() error {
			rep, err := lineage.Impact(ctx, store, lineage.ImpactQuery{URN: u, Limit: closurePage, Totals: true})
			if err != nil {
				return fmt.Errorf("closure of %s: %w", u, err)
			}
			if rep.Totals == nil || rep.Totals.All != want || len(rep.All()) != min(closurePage, want) {
				return fmt.Errorf("closure of %s counts %+v assets (%d reported), the generator's BFS %d", u, rep.Totals, len(rep.All()), want)
			}
			return nil
		})
		if err != nil {
			return err
		}
		all, cpu = append(all, lat...), cpu+c
		res.Hubs = append(res.Hubs, HubFigure{URN: string(u), Degree: int(g.outDeg[h]), Closure: want,
			P50ms: ms(percentile(lat, 50)), P99ms: ms(percentile(lat, 99))})
		o.Logger.Info("embedded closure", "hub", u, "degree", g.outDeg[h], "closure", want, "p50", percentile(lat, 50), "p99", percentile(lat, 99))
	}
	for i, h := range hubs {
		u, want := g.urn(h), wants[i]
		q := lineage.Query{Starts: []catalog.URN{u}, Direction: catalog.Downstream}
		lat, c, err := timed(func() error {
			r, err := lineage.Traverse(ctx, store, q)
			if err != nil {
				return fmt.Errorf("closure of %s: %w", u, err)
			}
			if len(r.Nodes) != want {
				return fmt.Errorf("closure of %s has %d assets, the generator's BFS %d", u, len(r.Nodes), want)
			}
			return nil
		})
		if err != nil {
			return err
		}
		full, fullCPU = append(full, lat...), fullCPU+c
		res.Hubs[i].FullP50ms, res.Hubs[i].FullP99ms = ms(percentile(lat, 50)), ms(percentile(lat, 99))
		o.Logger.Info("embedded closure, materialised", "hub", u, "p50", percentile(lat, 50), "p99", percentile(lat, 99))
	}
	res.ImpactP50ms, res.ImpactP99ms = ms(percentile(all, 50)), ms(percentile(all, 99))
	res.ImpactCPUms = ms(cpu / time.Duration(len(hubs)))
	res.FullP50ms, res.FullP99ms = ms(percentile(full, 50)), ms(percentile(full, 99))
	res.FullCPUms = ms(fullCPU / time.Duration(len(hubs)))

	// The store's walk alone, to tell its time from lineage's.
	var walk []time.Duration
	for i := 0; i < o.Runs; i++ {
		t0 := time.Now()
		tr, err := store.Traverse(ctx, catalog.TraverseQuery{Start: g.urn(hubs[0]), Direction: catalog.Downstream})
		if err != nil {
			return fmt.Errorf("store walk of %s: %w", g.urn(hubs[0]), err)
		}
		walk = append(walk, time.Since(t0))
		if len(tr.Nodes) != res.Hubs[0].Closure {
			return fmt.Errorf("store walk of %s reached %d assets, want %d", g.urn(hubs[0]), len(tr.Nodes), res.Hubs[0].Closure)
		}
	}
	res.StoreWalkP50ms = ms(percentile(walk, 50))

	// What a GraphQL impact(urn) of the top hub costs: the walk plus the
	// entities of the nearest 1000, grouped.
	var lat []time.Duration
	for i := 0; i < 10; i++ {
		t0 := time.Now()
		rep, err := lineage.Impact(ctx, store, lineage.ImpactQuery{URN: g.urn(hubs[0]), Limit: 1000})
		if err != nil {
			return fmt.Errorf("impact of %s: %w", g.urn(hubs[0]), err)
		}
		if !rep.Truncated && len(rep.All()) < min(1000, res.Hubs[0].Closure) {
			return fmt.Errorf("impact of %s reports %d assets", g.urn(hubs[0]), len(rep.All()))
		}
		lat = append(lat, time.Since(t0))
	}
	res.ImpactAPIP99ms = ms(percentile(lat, 99))
	return nil
}

// rssMiB reads this process's resident set size from /proc (0 elsewhere).
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	var kb float64
	for _, line := range strings.Split(string(b), "\n") {
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}

// startProfile writes a CPU profile to path until the returned function is
// called; an empty path profiles nothing.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes the live heap to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("write heap profile: %w", err)
	}
	return f.Close()
}

// cpuTime is the CPU time this process has used (user + system, all
// threads: the garbage collector's too).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
