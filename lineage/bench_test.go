package lineage_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/lineage"
)

// The benchmark's estate is built once per test binary run and reopened by
// each run of the benchmark function.
var (
	fanOutOnce sync.Once
	fanOutDir  string
	fanOutErr  error
)

// BenchmarkPropagate100k classifies one column whose lineage reaches
// 100,000 fields (lineage.FanOutSnapshot) and reports the time until the
// last propagated attachment is committed (propagate_ms), on the embedded
// store with fsync, as DESIGN.md §11 measures it. Run with -benchtime 3x.
func BenchmarkPropagate100k(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fanOutOnce.Do(func() {
		fanOutDir, fanOutErr = os.MkdirTemp("", "watershed-bench-propagate-")
		if fanOutErr != nil {
			return
		}
		s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
		if err != nil {
			fanOutErr = err
			return
		}
		t0 := time.Now()
		_, fanOutErr = s.Reconcile(ctx, lineage.FanOutSnapshot("bench", 1000, 99), nil)
		b.Logf("estate of 100,000 downstream fields loaded in %v", time.Since(t0).Round(time.Millisecond))
		fanOutErr = errors.Join(fanOutErr, s.Close())
	})
	if fanOutErr != nil {
		b.Fatal(fanOutErr)
	}
	s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ch := changelog.New(changelog.Options{Log: s, Cursors: s})
	var logger *slog.Logger
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	p := lineage.New(lineage.Options{Graph: s, Writer: s, Subscriber: ch, Resync: -1, Logger: logger})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	// Wait until the Propagator has bootstrapped and follows the log.
	head, err := s.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := ch.WaitHandled(ctx, lineage.SubscriptionName, head); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var total, cpu time.Duration
	for i := 0; i < b.N; i++ {
		c0 := cpuTime()
		took, err := lineage.MeasurePropagation(ctx, s, ch, lineage.FanOutRoot, "PII.Email")
		if err != nil {
			b.Fatal(err)
		}
		total += took
		cpu += cpuTime() - c0 // includes the untimed declassify
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "propagate_ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu_ms/op")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkClosure100k times the closure alone on the same estate: the
// walks, without the writes.
func BenchmarkClosure100k(b *testing.B) {
	ctx := context.Background()
	fanOutOnce.Do(func() {
		fanOutDir, fanOutErr = os.MkdirTemp("", "watershed-bench-propagate-")
		if fanOutErr != nil {
			return
		}
		s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
		if err != nil {
			fanOutErr = err
			return
		}
		_, fanOutErr = s.Reconcile(ctx, lineage.FanOutSnapshot("bench", 1000, 99), nil)
		fanOutErr = errors.Join(fanOutErr, s.Close())
	})
	if fanOutErr != nil {
		b.Fatal(fanOutErr)
	}
	s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	c0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-c0).Milliseconds())/float64(b.N), "cpu_ms/op") }()
	for i := 0; i < b.N; i++ {
		r, err := lineage.Closure(ctx, s, lineage.FanOutRoot, "PII.Email")
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Reached) < 100000 {
			b.Fatalf("reached %d", len(r.Reached))
		}
	}
}

// cpuTime is the process's user and system CPU time: on a machine shared
// with other work, wall time alone overstates what the code costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWrite100k times the store's half alone: 100,000 catalog.Propagate
// mutations (and their events) in chunks of 5,000, then the Retracts.
func BenchmarkWrite100k(b *testing.B) {
	ctx := context.Background()
	fanOutOnce.Do(func() {
		fanOutDir, fanOutErr = os.MkdirTemp("", "watershed-bench-propagate-")
		if fanOutErr != nil {
			return
		}
		s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
		if err != nil {
			fanOutErr = err
			return
		}
		_, fanOutErr = s.Reconcile(ctx, lineage.FanOutSnapshot("bench", 1000, 99), nil)
		fanOutErr = errors.Join(fanOutErr, s.Close())
	})
	if fanOutErr != nil {
		b.Fatal(fanOutErr)
	}
	s, err := embedded.Open(embedded.Options{Dir: fanOutDir})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r, err := lineage.Closure(ctx, s, lineage.FanOutRoot, "PII.Email")
	if err != nil {
		b.Fatal(err)
	}
	props := make([]catalog.Mutation, len(r.Reached))
	retracts := make([]catalog.Mutation, len(r.Reached))
	for i, x := range r.Reached {
		props[i] = catalog.Propagate{URN: x.URN, Origin: lineage.FanOutRoot, Classification: "PII.Email", Path: x.Path}
		retracts[i] = catalog.Retract{URN: x.URN, Origin: lineage.FanOutRoot, Classification: "PII.Email"}
	}
	apply := func(muts []catalog.Mutation) {
		for len(muts) > 0 {
			n := min(len(muts), 5000)
			if _, err := s.Apply(ctx, catalog.Batch{Actor: catalog.ActorPropagation, Mutations: muts[:n]}); err != nil {
				b.Fatal(err)
			}
			muts = muts[n:]
		}
	}
	b.ResetTimer()
	var wall, cpu time.Duration
	for i := 0; i < b.N; i++ {
		t0, c0 := time.Now(), cpuTime()
		apply(props)
		wall += time.Since(t0)
		cpu += cpuTime() - c0
		b.StopTimer()
		apply(retracts)
		b.StartTimer()
	}
	b.ReportMetric(float64(wall.Milliseconds())/float64(b.N), "write_ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu_ms/op")
}
