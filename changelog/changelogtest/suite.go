// Package changelogtest is the conformance suite every change-log runner
// must pass: the embedded log over the store's outbox, and the Kafka log of
// the distributed mode. It checks what handlers rely on — resume after a
// restart, at-least-once redelivery, bootstrap starts, type filters that
// still advance the cursor, bounded retries, partial progress, WaitHandled —
// and per-subject order (the weakest order any backend promises).
//
// A backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		changelogtest.Run(t, changelogtest.Harness{New: func(t *testing.T) *changelogtest.Env { ... }})
//	}
package changelogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// Runner runs subscriptions over a log (changelog.Changelog).
type Runner interface {
	Run(ctx context.Context, s changelog.Subscription) error
	WaitHandled(ctx context.Context, name string, seq uint64) error
}

// Env is one log under test.
type Env struct {
	// Append writes one entry per subject, in order, and returns their
	// sequence numbers. Entries have type "test.entry" unless typ is set.
	Append func(t *testing.T, typ catalog.ChangeType, subjects ...catalog.URN) []uint64
	// Runner runs subscriptions; Restart returns a new runner over the same
	// durable state (cursors and log), as after a process restart.
	Runner  Runner
	Restart func(t *testing.T) Runner
}

// Harness makes fresh logs.
type Harness struct {
	New func(t *testing.T) *Env
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Run("ResumeAfterRestart", func(t *testing.T) { testResume(t, h) })
	t.Run("StartPositions", func(t *testing.T) { testStart(t, h) })
	t.Run("TypesAdvanceCursor", func(t *testing.T) { testTypes(t, h) })
	t.Run("RetryThenSkip", func(t *testing.T) { testRetry(t, h) })
	t.Run("PartialProgress", func(t *testing.T) { testPartial(t, h) })
	t.Run("DuplicateName", func(t *testing.T) { testDuplicate(t, h) })
}

// recorder collects what a handler saw.
type recorder struct {
	mu   sync.Mutex
	seen []changelog.Entry
}

func (r *recorder) handle(_ context.Context, batch []changelog.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range batch {
		if e.Type.Family("test") { // a fresh store may hold entries of its own
			r.seen = append(r.seen, e)
		}
	}
	return nil
}

func (r *recorder) subjects() []catalog.URN {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]catalog.URN, len(r.seen))
	for i, e := range r.seen {
		out[i] = e.Subject
	}
	return out
}

// running starts s on rn and returns a stop function that waits for Run to
// end and fails the test on an unexpected error.
func running(t *testing.T, rn Runner, s changelog.Subscription) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rn.Run(ctx, s) }()
	return func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run %s: %v", s.Name, err)
		}
	}
}

func waitHandled(t *testing.T, rn Runner, name string, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rn.WaitHandled(ctx, name, seq); err != nil {
		t.Fatalf("wait for %s to handle %d: %v", name, seq, err)
	}
}

func urns(prefix string, n int) []catalog.URN {
	out := make([]catalog.URN, n)
	for i := range out {
		out[i] = catalog.URN(fmt.Sprintf("urn:dataset:test://%s/%03d", prefix, i))
	}
	return out
}

// covers reports whether got holds every subject of want and nothing else,
// allowing repeats (at-least-once). Order across subjects is not checked: a
// log partitioned by subject promises order per subject only.
func covers(got, want []catalog.URN) error {
	idx := map[catalog.URN]int{}
	for i, u := range want {
		idx[u] = i
	}
	seen := map[catalog.URN]bool{}
	for _, u := range got {
		if _, ok := idx[u]; !ok {
			return fmt.Errorf("unexpected entry %s", u)
		}
		seen[u] = true
	}
	for _, u := range want {
		if !seen[u] {
			return fmt.Errorf("entry %s never delivered (got %v)", u, got)
		}
	}
	return nil
}

func testResume(t *testing.T, h Harness) {
	e := h.New(t)
	first := urns("a", 5)
	seqs := e.Append(t, "", first...)
	rec := &recorder{}
	sub := changelog.Subscription{Name: "resume", Start: changelog.StartAtBeginning, Handle: rec.handle, BatchSize: 2}
	stop := running(t, e.Runner, sub)
	waitHandled(t, e.Runner, "resume", seqs[len(seqs)-1])
	stop()
	if err := covers(rec.subjects(), first); err != nil {
		t.Fatal(err)
	}
	// Written while no runner runs: handled after the restart, and what was
	// handled before is not (beyond at most one batch) handled again.
	more := urns("b", 5)
	seqs = e.Append(t, "", more...)
	rn := e.Restart(t)
	rec2 := &recorder{}
	sub.Handle = rec2.handle
	stop = running(t, rn, sub)
	waitHandled(t, rn, "resume", seqs[len(seqs)-1])
	stop()
	got := rec2.subjects()
	var fresh []catalog.URN
	old := 0
	for _, u := range got {
		isOld := false
		for _, f := range first {
			if u == f {
				isOld = true
			}
		}
		if isOld {
			old++
		} else {
			fresh = append(fresh, u)
		}
	}
	if err := covers(fresh, more); err != nil {
		t.Fatal(err)
	}
	if old > sub.BatchSize {
		t.Errorf("after restart %d already handled entries came again; at most one batch (%d) may", old, sub.BatchSize)
	}
}

func testStart(t *testing.T, h Harness) {
	e := h.New(t)
	before := urns("before", 3)
	e.Append(t, "", before...)
	// Default: the head. Only entries written after the first start count.
	rec := &recorder{}
	stop := running(t, e.Runner, changelog.Subscription{Name: "head", Handle: rec.handle})
	// A bootstrap that "computed state" up to the second entry.
	var bootHead uint64
	boot := &recorder{}
	var covered uint64
	stop2 := running(t, e.Runner, changelog.Subscription{Name: "boot", Handle: boot.handle, Start: func(ctx context.Context, head uint64) (uint64, error) {
		bootHead = head
		covered = head - 1 // pretend the state covers all but the newest entry
		return covered, nil
	}})
	waitHandled(t, e.Runner, "head", 0)
	waitHandled(t, e.Runner, "boot", 0)
	after := urns("after", 2)
	seqs := e.Append(t, "", after...)
	waitHandled(t, e.Runner, "head", seqs[1])
	waitHandled(t, e.Runner, "boot", seqs[1])
	stop()
	stop2()
	if got := rec.subjects(); fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(after)) {
		t.Errorf("head start saw %v, want %v", got, after)
	}
	if bootHead == 0 {
		t.Fatal("bootstrap Start did not run")
	}
	want := append([]catalog.URN{before[2]}, after...)
	if got := boot.subjects(); fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Errorf("bootstrap start saw %v, want %v (everything after the position it covered)", got, want)
	}
}

func testTypes(t *testing.T, h Harness) {
	e := h.New(t)
	rec := &recorder{}
	stop := running(t, e.Runner, changelog.Subscription{Name: "types", Handle: rec.handle, Types: []catalog.ChangeType{"test.kept"}})
	waitHandled(t, e.Runner, "types", 0)
	e.Append(t, "test.kept", urns("k", 1)...)
	seqs := e.Append(t, "test.other", urns("o", 3)...)
	// The cursor passes entries it skips: WaitHandled returns.
	waitHandled(t, e.Runner, "types", seqs[2])
	stop()
	if got := rec.subjects(); len(got) != 1 || got[0] != urns("k", 1)[0] {
		t.Errorf("filtered subscription saw %v", got)
	}
}

func testRetry(t *testing.T, h Harness) {
	e := h.New(t)
	var mu sync.Mutex
	attempts := map[catalog.URN]int{}
	handled := map[catalog.URN]bool{}
	sub := changelog.Subscription{Name: "retry", MaxAttempts: 3, BatchSize: 1, Handle: func(_ context.Context, b []changelog.Entry) error {
		mu.Lock()
		defer mu.Unlock()
		u := b[0].Subject
		attempts[u]++
		switch {
		case u == "urn:dataset:test://flaky/000" && attempts[u] < 2:
			return errors.New("transient")
		case u == "urn:dataset:test://broken/000":
			return errors.New("always fails")
		}
		handled[u] = true
		return nil
	}}
	stop := running(t, e.Runner, sub)
	waitHandled(t, e.Runner, "retry", 0)
	e.Append(t, "", urns("flaky", 1)...)
	e.Append(t, "", urns("broken", 1)...)
	seqs := e.Append(t, "", urns("after", 1)...)
	waitHandled(t, e.Runner, "retry", seqs[0])
	stop()
	mu.Lock()
	defer mu.Unlock()
	if !handled["urn:dataset:test://flaky/000"] || attempts["urn:dataset:test://flaky/000"] != 2 {
		t.Errorf("flaky entry: attempts %d, handled %v", attempts["urn:dataset:test://flaky/000"], handled["urn:dataset:test://flaky/000"])
	}
	if attempts["urn:dataset:test://broken/000"] != 3 {
		t.Errorf("broken entry attempted %d times, want MaxAttempts = 3", attempts["urn:dataset:test://broken/000"])
	}
	if !handled["urn:dataset:test://after/000"] {
		t.Error("a skipped batch stalled the subscription")
	}
}

func testPartial(t *testing.T, h Harness) {
	e := h.New(t)
	subjects := urns("p", 6)
	seqs := e.Append(t, "", subjects...)
	var mu sync.Mutex
	calls := 0
	var seen []catalog.URN
	failed := false
	sub := changelog.Subscription{Name: "partial", Start: changelog.StartAtBeginning, BatchSize: 6, Handle: changelog.Each(func(_ context.Context, en changelog.Entry) error {
		if !en.Type.Family("test") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		calls++
		if en.Subject == subjects[3] && !failed {
			failed = true
			return errors.New("transient")
		}
		seen = append(seen, en.Subject)
		return nil
	})}
	stop := running(t, e.Runner, sub)
	waitHandled(t, e.Runner, "partial", seqs[5])
	stop()
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(sorted(seen)) != fmt.Sprint(sorted(subjects)) {
		t.Errorf("handled %v, want each of %v once: the entries before the failure are not redone", seen, subjects)
	}
}

func testDuplicate(t *testing.T, h Harness) {
	e := h.New(t)
	rec := &recorder{}
	stop := running(t, e.Runner, changelog.Subscription{Name: "dup", Handle: rec.handle})
	waitHandled(t, e.Runner, "dup", 0)
	err := e.Runner.Run(context.Background(), changelog.Subscription{Name: "dup", Handle: rec.handle})
	if catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("second run with the same name: %v, want Conflict", err)
	}
	stop()
}

// sorted returns a sorted copy: order across subjects is not promised.
func sorted(us []catalog.URN) []catalog.URN {
	out := slices.Clone(us)
	slices.Sort(out)
	return out
}
