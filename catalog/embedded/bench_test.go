package embedded_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
)

var benchEntities = flag.Int("bench.entities", 1_000_000, "entities written by BenchmarkStore1M")

// BenchmarkStore1M writes bench.entities entities (each with its change
// event, in synced batches of 10,000), then measures point reads over the
// whole key space and the time to reopen the store. Run with -benchtime 1x:
//
//	go test -run '^$' -bench Store1M -benchtime 1x ./catalog/embedded/
func BenchmarkStore1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchStore(b, *benchEntities)
	}
}

func benchStore(b *testing.B, n int) {
	dir := b.TempDir()
	s, err := embedded.Open(embedded.Options{Dir: dir, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	const batch = 10_000
	start := time.Now()
	for off := 0; off < n; off += batch {
		muts := make([]catalog.Mutation, 0, batch)
		for i := off; i < off+batch && i < n; i++ {
			muts = append(muts, catalog.RegisterAsset{
				URN:        benchURN(i),
				Properties: catalog.Properties{"partitions": i % 12, "owner": "team-" + fmt.Sprint(i%50)},
			})
		}
		ch, err := s.Apply(ctx, catalog.Batch{Actor: "bench", Mutations: muts})
		if err != nil {
			b.Fatal(err)
		}
		if len(ch) != len(muts) {
			b.Fatalf("batch wrote %d events for %d entities", len(ch), len(muts))
		}
	}
	write := time.Since(start)

	rng := rand.New(rand.NewSource(1))
	const reads = 20_000
	lat := make([]time.Duration, reads)
	for i := range lat {
		u := benchURN(rng.Intn(n))
		t0 := time.Now()
		e, err := s.Entity(ctx, u)
		lat[i] = time.Since(t0)
		if err != nil || e.URN != u {
			b.Fatalf("read %s: %v", u, err)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap := ms.HeapAlloc
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	s, err = embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	reopen := time.Since(t0)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/write.Seconds(), "entities/s")
	b.ReportMetric(float64(lat[reads/2].Microseconds()), "read-p50-µs")
	b.ReportMetric(float64(lat[reads*99/100].Microseconds()), "read-p99-µs")
	b.ReportMetric(reopen.Seconds(), "reopen-s")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.Logf("%d entities written in %v (%.0f entities/s with events); point read p50 %v p99 %v; reopen %v; heap %d MiB",
		n, write.Round(time.Millisecond), float64(n)/write.Seconds(), lat[reads/2], lat[reads*99/100], reopen.Round(time.Millisecond), heap>>20)
}

func benchURN(i int) catalog.URN {
	return catalog.URN(fmt.Sprintf("urn:topic:bench/domain-%d.orders-%07d", i%100, i))
}

var benchScopedSizes = flag.String("bench.scoped", "22000", "comma-separated source sizes (entities) for BenchmarkScopedReconcile")

// BenchmarkScopedReconcile measures an OpenLineage-sized write: one job's
// five datasets and four links, reconciled with Scopes limited to that job,
// into a source that already asserts bench.scoped entities (five per job)
// and four links per job. Its cost should not grow with the source:
//
//	go test ./catalog/embedded/ -run '^$' -bench ScopedReconcile -args -bench.scoped=22000,100000
func BenchmarkScopedReconcile(b *testing.B) {
	for _, f := range strings.Split(*benchScopedSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			b.Fatalf("bench.scoped: %v", err)
		}
		b.Run(fmt.Sprintf("entities=%d", n), func(b *testing.B) { benchScopedReconcile(b, n) })
	}
}

func benchScopedReconcile(b *testing.B, n int) {
	ctx := context.Background()
	s, err := embedded.Open(embedded.Options{Dir: b.TempDir(), NoSync: true, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	jobs := n / 5
	ds := func(j, d int) catalog.URN { return catalog.URN(fmt.Sprintf("urn:dataset:ol/job%07d.ds%d", j, d)) }
	event := func(j, round int) catalog.Snapshot {
		scope := fmt.Sprintf("job/%d", j)
		snap := catalog.Snapshot{Source: "ol", Scopes: []string{scope}}
		for d := 0; d < 5; d++ {
			snap.Assets = append(snap.Assets, catalog.Asset{URN: ds(j, d), Scope: scope, Properties: catalog.Properties{"round": round}})
			if d > 0 {
				snap.Links = append(snap.Links, catalog.Link{From: ds(j, 0), Kind: catalog.EdgeProduces, To: ds(j, d), Confidence: 1, Scope: scope})
			}
		}
		return snap
	}
	// The source as a crawler would first assert it: whole.
	full := catalog.Snapshot{Source: "ol"}
	for j := 0; j < jobs; j++ {
		e := event(j, 0)
		full.Assets = append(full.Assets, e.Assets...)
		full.Links = append(full.Links, e.Links...)
	}
	if _, err := s.Reconcile(ctx, full, nil); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := s.Reconcile(ctx, event(rng.Intn(jobs), i+1), nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Updated != 5 {
			b.Fatalf("event updated %d datasets, want 5", res.Updated)
		}
	}
}

var benchOpenSize = flag.String("bench.open", "20000x5", "entities x edges-per-entity for BenchmarkOpen")

// BenchmarkOpen measures Open (restart to ready) of a store holding
// bench.open entities, each with the given number of out edges, written by
// one source with properties, scopes and a classification on every tenth:
//
//	go test ./catalog/embedded/ -run '^$' -bench Open -benchtime 3x -args -bench.open=1000000x5
func BenchmarkOpen(b *testing.B) {
	var n, per int
	if _, err := fmt.Sscanf(*benchOpenSize, "%dx%d", &n, &per); err != nil {
		b.Fatalf("bench.open: %v", err)
	}
	dir := b.TempDir()
	s, err := embedded.Open(embedded.Options{Dir: dir, NoSync: true, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	writeOpenBench(b, s, n, per)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		s, err := embedded.Open(embedded.Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		b.StopTimer()
		if st := s.Stats(); st.Entities != n || st.Edges != n*per {
			b.Fatalf("opened %d entities and %d edges, want %d and %d", st.Entities, st.Edges, n, n*per)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n+n*per), "ns/record")
	// On a shared machine wall time measures the neighbours; CPU time
	// (all cores, so it exceeds wall time when decoding is parallel) does not.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n+n*per), "cpu-ns/record")
}

// cpuTime returns the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writeOpenBench writes n entities with per out edges each, in snapshots
// of one scope per 10,000 entities so that no single batch is huge.
func writeOpenBench(b *testing.B, s *embedded.Store, n, per int) {
	ctx := context.Background()
	u := func(i int) catalog.URN {
		return catalog.URN(fmt.Sprintf("urn:topic:bench/domain-%d.orders-%07d", i%100, i%n))
	}
	const chunk = 10_000
	for off := 0; off < n; off += chunk {
		scope := fmt.Sprintf("part/%d", off/chunk)
		snap := catalog.Snapshot{Source: "bench", Scopes: []string{scope}}
		for i := off; i < off+chunk && i < n; i++ {
			a := catalog.Asset{URN: u(i), Scope: scope, Description: "orders of domain " + fmt.Sprint(i%100),
				Properties: catalog.Properties{"partitions": i % 12, "owner": "team-" + fmt.Sprint(i%50)}}
			if i%10 == 0 {
				a.Classifications = []catalog.SourceClassification{{Name: "PII"}}
			}
			snap.Assets = append(snap.Assets, a)
			for k := 1; k <= per; k++ {
				snap.Links = append(snap.Links, catalog.Link{From: u(i), Kind: catalog.EdgeProduces, To: u(i + k*7919), Confidence: 1, Scope: scope, Origin: "bench"})
			}
		}
		if _, err := s.Reconcile(ctx, snap, nil); err != nil {
			b.Fatal(err)
		}
	}
}

var benchSearchSize = flag.Int("bench.search", 100_000, "entities in BenchmarkSearchBrowse")

// BenchmarkSearchBrowse measures searches without text over bench.search
// entities: the first page of 20, and a total count (the page the GraphQL
// totalCount asks for is one):
//
//	go test ./catalog/embedded/ -run '^$' -bench SearchBrowse -args -bench.search=1000000
func BenchmarkSearchBrowse(b *testing.B) {
	ctx := context.Background()
	s, err := embedded.Open(embedded.Options{Dir: b.TempDir(), NoSync: true, CacheBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	n := *benchSearchSize
	const batch = 10_000
	for off := 0; off < n; off += batch {
		muts := make([]catalog.Mutation, 0, batch)
		for i := off; i < off+batch && i < n; i++ {
			muts = append(muts, catalog.RegisterAsset{URN: benchURN(i)})
		}
		if _, err := s.Apply(ctx, catalog.Batch{Actor: "bench", Mutations: muts}); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []struct {
		name string
		q    catalog.SearchQuery
	}{
		{"first20", catalog.SearchQuery{Limit: 20}},
		{"totalCount", catalog.SearchQuery{Limit: 1}},
		{"kind-first20", catalog.SearchQuery{Limit: 20, Kinds: []catalog.Kind{catalog.KindTopic}}},
	} {
		b.Run(q.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res, err := s.Search(ctx, q.q)
				if err != nil {
					b.Fatal(err)
				}
				if res.Total != n {
					b.Fatalf("total %d, want %d", res.Total, n)
				}
			}
		})
	}
}
