package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Tracker keeps the status of a runner's subscriptions and the retry policy
// they share, so that every log backend (the embedded Changelog, the Kafka
// log) reports and retries the same way.
type Tracker struct {
	mu      sync.Mutex
	subs    map[string]*SubscriptionStatus
	changed chan struct{} // closed and replaced whenever a status changes
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker {
	return &Tracker{subs: map[string]*SubscriptionStatus{}, changed: make(chan struct{})}
}

// Tracked is the status of one running subscription.
type Tracked struct {
	t  *Tracker
	st *SubscriptionStatus
}

// Begin registers a running subscription, Bootstrapping until its start
// position is known. A second Begin of a running name is a Conflict.
func (t *Tracker) Begin(name string) (*Tracked, error) {
	st := &SubscriptionStatus{Name: name, Bootstrapping: true}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.subs[name]; dup {
		return nil, catalog.Errorf(catalog.Conflict, "run subscription %s: already running", name)
	}
	t.subs[name] = st
	t.signalLocked()
	return &Tracked{t: t, st: st}, nil
}

// End unregisters the subscription.
func (h *Tracked) End() {
	h.t.mu.Lock()
	delete(h.t.subs, h.st.Name)
	h.t.signalLocked()
	h.t.mu.Unlock()
}

// Update changes the status under the tracker's lock and wakes waiters.
func (h *Tracked) Update(fn func(*SubscriptionStatus)) {
	h.t.mu.Lock()
	fn(h.st)
	h.t.signalLocked()
	h.t.mu.Unlock()
}

func (t *Tracker) signalLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Subscriptions returns the status of the running subscriptions.
func (t *Tracker) Subscriptions() []SubscriptionStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]SubscriptionStatus, 0, len(t.subs))
	for _, s := range t.subs {
		out = append(out, *s)
	}
	return out
}

// Wait returns once the running subscription name has handled (or skipped)
// every entry up to seq by its own position, or with ctx's error.
func (t *Tracker) Wait(ctx context.Context, name string, seq uint64) error {
	return t.WaitFor(ctx, name, func(st SubscriptionStatus) bool { return !st.Bootstrapping && st.Position >= seq })
}

// WaitFor returns once the running subscription name satisfies done, or
// with ctx's error.
func (t *Tracker) WaitFor(ctx context.Context, name string, done func(SubscriptionStatus) bool) error {
	for {
		t.mu.Lock()
		st, ok := t.subs[name]
		ready := ok && done(*st)
		ch := t.changed
		t.mu.Unlock()
		if ready {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for subscription %s: %w", name, ctx.Err())
		}
	}
}

// HandleBatch runs s.Handle on batch (consecutive entries in Seq order)
// with exponential backoff capped at maxWait until it succeeds, fails
// permanently, runs out of s.MaxAttempts, or ctx ends; only the last
// returns an error. A PartialError's progress is reported to save before
// the rest is retried. Retries and skips are counted in the status.
func (h *Tracked) HandleBatch(ctx context.Context, s Subscription, batch []Entry, logger *slog.Logger, maxWait time.Duration, save func(uint64)) error {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		first, last := batch[0].Seq, batch[len(batch)-1].Seq
		err := s.Handle(ctx, batch)
		if err == nil {
			return nil
		}
		var part *PartialError
		if errors.As(err, &part) && part.Handled >= first && part.Handled < last {
			save(part.Handled)
			i := 0
			for i < len(batch) && batch[i].Seq <= part.Handled {
				i++
			}
			batch = batch[i:]
			err = part.Err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var some entrySkips
		switch {
		case errors.As(err, &some):
			h.Update(func(st *SubscriptionStatus) { st.Skipped += uint64(some.n); st.LastErr = err.Error() })
			logger.Error("skip entries after permanent errors", "first", first, "last", last, "skipped", some.n, "err", err)
			return nil
		case IsPermanent(err), s.MaxAttempts > 0 && attempt >= s.MaxAttempts:
			h.Update(func(st *SubscriptionStatus) { st.Skipped += uint64(len(batch)); st.LastErr = err.Error() })
			logger.Error("skip batch", "first", first, "last", last, "entries", len(batch), "attempts", attempt, "err", err)
			return nil
		}
		h.Update(func(st *SubscriptionStatus) { st.Retries++; st.LastErr = err.Error() })
		logger.Warn("handler failed; retrying", "first", first, "last", last, "attempt", attempt, "err", err, "in", wait)
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
		if wait > maxWait {
			wait = maxWait
		}
	}
}
