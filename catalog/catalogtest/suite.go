// Package catalogtest is the conformance suite every catalog.Store must
// pass, plus a randomized model-based test that compares a store with a
// simple in-memory reference under thousands of random operations.
//
// A store package runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		catalogtest.Run(t, catalogtest.Harness{Open: func(t *testing.T, dir string) catalog.Store { ... }})
//	}
package catalogtest

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Harness tells the suite how to make stores.
type Harness struct {
	// Open opens the store kept in dir (a fresh temp dir for a new store).
	// Stores without local state may ignore dir, but then must return the
	// same data when called again with the same dir (Reopen tests).
	Open func(t *testing.T, dir string, clock func() time.Time) catalog.Store
}

// Clock is a settable test clock.
type Clock struct{ T time.Time }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return c.T }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.T = c.T.Add(d) }

// NewClock returns a clock at a fixed, readable instant.
func NewClock() *Clock {
	return &Clock{T: time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)}
}

type env struct {
	t     *testing.T
	h     Harness
	dir   string
	clock *Clock
	s     catalog.Store
	ctx   context.Context
}

func newEnv(t *testing.T, h Harness) *env {
	t.Helper()
	e := &env{t: t, h: h, dir: t.TempDir(), clock: NewClock(), ctx: context.Background()}
	e.s = h.Open(t, e.dir, e.clock.Now)
	t.Cleanup(func() {
		if e.s != nil {
			if err := e.s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		}
	})
	return e
}

func (e *env) reopen() {
	e.t.Helper()
	if err := e.s.Close(); err != nil {
		e.t.Fatalf("close store: %v", err)
	}
	e.s = e.h.Open(e.t, e.dir, e.clock.Now)
}

func (e *env) reconcile(s catalog.Snapshot) catalog.ReconcileResult {
	e.t.Helper()
	res, err := e.s.Reconcile(e.ctx, s, nil)
	if err != nil {
		e.t.Fatalf("reconcile %s: %v", s.Source, err)
	}
	return res
}

func (e *env) apply(muts ...catalog.Mutation) []catalog.Change {
	e.t.Helper()
	ch, err := e.s.Apply(e.ctx, catalog.Batch{Actor: "user:test", Mutations: muts})
	if err != nil {
		e.t.Fatalf("apply %T: %v", muts[0], err)
	}
	return ch
}

func (e *env) entity(u catalog.URN) catalog.Entity {
	e.t.Helper()
	ent, err := e.s.Entity(e.ctx, u)
	if err != nil {
		e.t.Fatalf("entity %s: %v", u, err)
	}
	return ent
}

// changesSince returns the changes after seq, as "type subject" strings.
func (e *env) changesSince(seq uint64) []string {
	e.t.Helper()
	cs, err := e.s.Changes(e.ctx, seq, 0)
	if err != nil {
		e.t.Fatalf("changes: %v", err)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c.Type) + " " + string(c.Subject)
	}
	return out
}

func (e *env) head() uint64 {
	e.t.Helper()
	h, err := e.s.LastSeq(e.ctx)
	if err != nil {
		e.t.Fatalf("last seq: %v", err)
	}
	return h
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

func equalSets(a, b []string) bool {
	a, b = sorted(a), sorted(b)
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func num(s string) json.Number { return json.Number(s) }

// Run runs the conformance suite against the stores h opens.
func Run(t *testing.T, h Harness) {
	t.Run("ReconcileLifecycle", func(t *testing.T) { testReconcileLifecycle(t, h) })
	t.Run("ReconcileScopes", func(t *testing.T) { testReconcileScopes(t, h) })
	t.Run("TwoSources", func(t *testing.T) { testTwoSources(t, h) })
	t.Run("LiveReadings", func(t *testing.T) { testLiveReadings(t, h) })
	t.Run("InvalidSnapshot", func(t *testing.T) { testInvalidSnapshot(t, h) })
	t.Run("ApplyMutations", func(t *testing.T) { testApplyMutations(t, h) })
	t.Run("ApplyAtomic", func(t *testing.T) { testApplyAtomic(t, h) })
	t.Run("ApplyErrors", func(t *testing.T) { testApplyErrors(t, h) })
	t.Run("CuratedSurvivesRecreate", func(t *testing.T) { testCuratedSurvivesRecreate(t, h) })
	t.Run("ChangeLog", func(t *testing.T) { testChangeLog(t, h) })
	t.Run("Search", func(t *testing.T) { testSearch(t, h) })
	t.Run("Traverse", func(t *testing.T) { testTraverse(t, h) })
	t.Run("History", func(t *testing.T) { testHistory(t, h) })
	t.Run("Propagated", func(t *testing.T) { testPropagated(t, h) })
	t.Run("CrawlRuns", func(t *testing.T) { testCrawlRuns(t, h) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, h) })
	t.Run("PushScopes", func(t *testing.T) { testPushScopes(t, h) })
	t.Run("NoSilentWrites", func(t *testing.T) { testNoSilentWrites(t, h) })
	t.Run("CrawlRunCounts", func(t *testing.T) { testCrawlRunCounts(t, h) })
	t.Run("CrawlEvents", func(t *testing.T) { testCrawlEvents(t, h) })
	t.Run("PassThrough", func(t *testing.T) { testPassThrough(t, h) })
	t.Run("TraverseCarrying", func(t *testing.T) { testTraverseCarrying(t, h) })
	t.Run("TraverseStopAndLive", func(t *testing.T) { testTraverseStopAndLive(t, h) })
	t.Run("SuppressRule", func(t *testing.T) { testSuppressRule(t, h) })
	t.Run("EdgeUpdatedBefore", func(t *testing.T) { testEdgeUpdatedBefore(t, h) })
	t.Run("EdgesByKeyAndScan", func(t *testing.T) { testEdgesByKeyAndScan(t, h) })
	t.Run("PropagateRetract", func(t *testing.T) { testPropagateRetract(t, h) })
	t.Run("EmitAndViolations", func(t *testing.T) { testEmitAndViolations(t, h) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, h) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, h) })
	t.Run("Model", func(t *testing.T) { RunModel(t, h, ModelOptions{}) })
}
