// Package changelog turns the catalog's change outbox into a stream that
// handlers consume: in order, at least once, resumable after a restart.
//
// Every change the catalog commits gets a strictly increasing sequence
// number in the same transaction as the change itself (the outbox), so the
// log never holds an event for an uncommitted change and never lacks one for
// a committed change. A Subscription reads entries after its durable cursor,
// calls its handler for each one in order, and advances the cursor only after
// the handler succeeded. A crash between the two redelivers the entry, so
// handlers must be idempotent.
//
// Back-pressure is by construction: a subscription pulls bounded batches from
// the log at its own pace. A slow handler only makes its own cursor lag; it
// never blocks writers or other subscriptions, and nothing is buffered in
// memory on its behalf.
//
// Ordering: the embedded log delivers in Seq order. A log partitioned by
// subject (the Kafka change log of the distributed mode) delivers in order
// per Subject only. Handlers should therefore treat entries as
// invalidations — "recheck this subject" — and re-read current state from
// the catalog, which makes redelivery, reordering across subjects and
// skipped entries harmless.
//
// A Subscription (see Run) starts from its saved cursor; the first time, its
// Start function decides where: at the head (the default), at the beginning
// (StartAtBeginning), or after a bootstrap that computes the handler's state
// from the catalog as it is and returns the log position that state covers.
// Handlers receive batches of consecutive entries, so they can coalesce the
// work of a large crawl into one pass.
package changelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Entry is one entry of the change log.
type Entry = catalog.Change

// Log is a readable, waitable sequence of entries.
type Log interface {
	// Changes returns up to limit entries with Seq > after, in order.
	Changes(ctx context.Context, after uint64, limit int) ([]catalog.Change, error)
	// WaitChanges returns once an entry with Seq > after exists.
	WaitChanges(ctx context.Context, after uint64) error
	// LastSeq returns the newest entry's sequence number.
	LastSeq(ctx context.Context) (uint64, error)
}

// Cursors stores subscription positions durably.
type Cursors interface {
	// LoadCursor returns the saved position and whether one was saved.
	LoadCursor(ctx context.Context, name string) (seq uint64, found bool, err error)
	SaveCursor(ctx context.Context, name string, seq uint64) error
}

// Handler processes one entry. Returning an error retries the same entry
// with backoff until it succeeds, unless the error is Permanent, in which
// case the entry is logged and skipped.
type Handler func(ctx context.Context, e Entry) error

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent wraps err so that the subscription skips the entry instead of
// retrying it forever.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// Options configure a Changelog.
type Options struct {
	Log     Log
	Cursors Cursors
	Logger  *slog.Logger
	// BatchSize bounds each read; zero means 256.
	BatchSize int
	// MaxBackoff caps the delay between retries of a failing entry; zero
	// means 30s.
	MaxBackoff time.Duration
}

// Changelog runs named subscriptions over a Log.
type Changelog struct {
	log     Log
	cursors Cursors
	logger  *slog.Logger
	batch   int
	maxWait time.Duration
	tracker *Tracker
}

// SubscriptionStatus describes a running subscription.
type SubscriptionStatus struct {
	Name     string
	Position uint64 // last entry handled (or skipped)
	Retries  uint64 // failed attempts so far
	Skipped  uint64 // entries skipped after a permanent error or MaxAttempts
	LastErr  string
	// Bootstrapping is set until the subscription knows where it starts:
	// while it loads its cursor and, the first time, while Start runs.
	Bootstrapping bool
}

// Subscription is a named, durable reader of the log.
type Subscription struct {
	// Name names the cursor. Version it ("propagation/v1") so that a change
	// in what the handler computes re-runs Start under a new name.
	Name string
	// Start runs when no cursor is saved yet and returns the position to
	// follow from. nil starts at the head: only entries written after the
	// subscription was first created are handled. StartAtBeginning replays
	// the whole log. A bootstrap function computes the handler's state from
	// the catalog as it is and returns the log position that state covers
	// (for the embedded store, Traversal.Seq or LastSeq read before it
	// started). head is the log's newest entry when Start is called.
	Start func(ctx context.Context, head uint64) (uint64, error)
	// Types, when set, keeps only entries whose type equals one of these
	// or lies in one of these families ("policy" keeps policy.violation.*);
	// the cursor still advances past the others.
	Types []catalog.ChangeType
	// Handle gets up to BatchSize consecutive entries, in order. The cursor
	// is saved after it returns nil, so a crash redelivers at most one
	// batch. Per-entry handlers use Each.
	Handle func(ctx context.Context, batch []Entry) error
	// BatchSize bounds a batch; zero takes the Changelog's.
	BatchSize int
	// Cursors, when set, stores this subscription's position instead of
	// Options.Cursors, so a stage can keep it beside its own state and
	// commit both together.
	Cursors Cursors
	// MaxAttempts bounds the attempts at one batch; zero retries forever.
	// Past it, or on a Permanent error, the batch is skipped, counted and
	// logged. A handler that would rather not lose a whole batch returns
	// Permanent only for the entry it cannot handle, after handling the
	// others (see Each).
	MaxAttempts int
}

// StartAtBeginning is a Subscription.Start that replays the whole log.
func StartAtBeginning(context.Context, uint64) (uint64, error) { return 0, nil }

// Each adapts a per-entry handler to a batch handler. An entry that fails
// permanently is logged by the caller's subscription and skipped on its own;
// the others of its batch are still handled. Any other error stops the
// batch; the entries before it are handled again on retry, so h must be
// idempotent (as every handler must).
func Each(h Handler) func(ctx context.Context, batch []Entry) error {
	return func(ctx context.Context, batch []Entry) error {
		var skipped []error
		for i, e := range batch {
			err := h(ctx, e)
			if err == nil {
				continue
			}
			if IsPermanent(err) {
				skipped = append(skipped, fmt.Errorf("entry %d (%s %s): %w", e.Seq, e.Type, e.Subject, err))
				continue
			}
			if i > 0 && len(skipped) == 0 {
				return Partial(batch[i-1].Seq, err)
			}
			return err
		}
		if len(skipped) > 0 {
			return entrySkips{errors.Join(skipped...), len(skipped)}
		}
		return nil
	}
}

// PartialError reports that a batch handler handled the entries up to
// Handled before it failed with Err: the subscription saves its cursor
// there and retries only the rest.
type PartialError struct {
	Handled uint64
	Err     error
}

func (p *PartialError) Error() string { return p.Err.Error() }
func (p *PartialError) Unwrap() error { return p.Err }

// Partial wraps err to say the entries up to handled were handled.
func Partial(handled uint64, err error) error { return &PartialError{Handled: handled, Err: err} }

// entrySkips reports entries Each skipped after handling the rest.
type entrySkips struct {
	err error
	n   int
}

func (e entrySkips) Error() string { return e.err.Error() }
func (e entrySkips) Unwrap() error { return e.err }

// New returns a Changelog. It does no I/O.
func New(o Options) *Changelog {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	return &Changelog{log: o.Log, cursors: o.Cursors, logger: logger.With("component", "changelog"), batch: o.BatchSize, maxWait: o.MaxBackoff, tracker: NewTracker()}
}

// Subscribe runs handler over the log under the durable cursor name until
// ctx ends, then returns ctx's error. A new subscription starts after the
// entry that is newest when it is first created, unless fromStart is set, in
// which case it starts at the beginning of the log. It is Run with a
// per-entry handler (Each).
func (c *Changelog) Subscribe(ctx context.Context, name string, fromStart bool, handler Handler) error {
	s := Subscription{Name: name, Handle: Each(handler)}
	if fromStart {
		s.Start = StartAtBeginning
	}
	return c.Run(ctx, s)
}

// Run follows s until ctx ends, then returns ctx's error; it returns earlier
// only when the log is closed for good, the cursor store fails, or s.Start
// fails. Entries are handed to s.Handle in batches of consecutive entries,
// in order, at least once; the cursor is saved after each handled batch.
// Two concurrent runs with the same name are a programming error
// (Conflict).
func (c *Changelog) Run(ctx context.Context, s Subscription) error {
	cursors := s.Cursors
	if cursors == nil {
		cursors = c.cursors
	}
	if cursors == nil {
		return catalog.Errorf(catalog.Invalid, "run subscription %s: no cursor store", s.Name)
	}
	if s.Name == "" || s.Handle == nil {
		return catalog.Errorf(catalog.Invalid, "run subscription: a name and a handler are required")
	}
	st, err := c.tracker.Begin(s.Name)
	if err != nil {
		return err
	}
	defer st.End()
	logger := c.logger.With("subscription", s.Name)

	pos, found, err := cursors.LoadCursor(ctx, s.Name)
	if err != nil {
		return fmt.Errorf("load cursor %s: %w", s.Name, err)
	}
	if !found {
		head, err := c.log.LastSeq(ctx)
		if err != nil {
			return fmt.Errorf("read log head: %w", err)
		}
		pos = head
		if s.Start != nil {
			pos, err = s.Start(ctx, head)
			if err != nil {
				return fmt.Errorf("start subscription %s: %w", s.Name, err)
			}
		}
		if err := cursors.SaveCursor(ctx, s.Name, pos); err != nil {
			return fmt.Errorf("save cursor %s: %w", s.Name, err)
		}
	}
	st.Update(func(st *SubscriptionStatus) { st.Position, st.Bootstrapping = pos, false })
	logger.Info("subscription started", "position", pos, "bootstrapped", !found && s.Start != nil)
	size := s.BatchSize
	if size <= 0 {
		size = c.batch
	}
	for {
		batch, err := c.log.Changes(ctx, pos, size)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, catalog.ErrClosed) {
				return err // the store is gone for good: do not retry
			}
			logger.Warn("read change log", "err", err)
			if err := Sleep(ctx, time.Second); err != nil {
				return err
			}
			continue
		}
		if len(batch) == 0 {
			if err := c.log.WaitChanges(ctx, pos); err != nil {
				return fmt.Errorf("wait for changes: %w", err)
			}
			continue
		}
		last := batch[len(batch)-1].Seq
		if kept := FilterTypes(batch, s.Types); len(kept) > 0 {
			save := func(seq uint64) {
				// Keep the progress a failing or interrupted batch made,
				// under a context that survives the cancellation.
				if err := cursors.SaveCursor(context.WithoutCancel(ctx), s.Name, seq); err != nil {
					logger.Warn("save partial progress", "err", err)
					return
				}
				pos = seq
				st.Update(func(st *SubscriptionStatus) { st.Position = seq })
			}
			if err := st.HandleBatch(ctx, s, kept, logger, c.maxWait, save); err != nil {
				return err
			}
		}
		if err := cursors.SaveCursor(ctx, s.Name, last); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("save cursor %s: %w", s.Name, err)
		}
		pos = last
		st.Update(func(st *SubscriptionStatus) { st.Position = last })
	}
}

// FilterTypes keeps the entries of batch whose type is one of types or in
// one of their families; empty types keep everything.
func FilterTypes(batch []Entry, types []catalog.ChangeType) []Entry {
	if len(types) == 0 {
		return batch
	}
	var out []Entry
	for _, e := range batch {
		for _, t := range types {
			if e.Type.Family(string(t)) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// WaitHandled returns once the running subscription name has handled (or
// skipped) every entry up to seq, or with ctx's error. It waits for a
// subscription that has not started yet.
func (c *Changelog) WaitHandled(ctx context.Context, name string, seq uint64) error {
	return c.tracker.Wait(ctx, name, seq)
}

// Follow calls handler for every entry after position after, in order, until
// ctx ends. It keeps no durable state: GraphQL subscriptions use it to tail
// the log from where a client asked. A failing entry is retried with backoff
// (a Permanent error skips it).
func (c *Changelog) Follow(ctx context.Context, after uint64, handler Handler) error {
	pos := after
	for {
		batch, err := c.log.Changes(ctx, pos, c.batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, catalog.ErrClosed) {
				return err
			}
			c.logger.Warn("read change log", "err", err)
			if err := Sleep(ctx, time.Second); err != nil {
				return err
			}
			continue
		}
		if len(batch) == 0 {
			if err := c.log.WaitChanges(ctx, pos); err != nil {
				return fmt.Errorf("wait for changes: %w", err)
			}
			continue
		}
		for _, e := range batch {
			if err := c.deliver(ctx, e, handler); err != nil {
				return err
			}
			pos = e.Seq
		}
	}
}

// deliver hands e to handler (see Deliver).
func (c *Changelog) deliver(ctx context.Context, e Entry, handler Handler) error {
	return Deliver(ctx, e, handler, c.logger, c.maxWait)
}

// Deliver hands e to handler, retrying with exponential backoff capped at
// maxWait until it succeeds, fails permanently (logged and skipped: nil),
// or ctx ends. Followers of every log backend use it.
func Deliver(ctx context.Context, e Entry, handler Handler, logger *slog.Logger, maxWait time.Duration) error {
	wait := 100 * time.Millisecond
	for {
		err := handler(ctx, e)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if IsPermanent(err) {
			logger.Error("skip change after permanent error", "seq", e.Seq, "type", e.Type, "subject", e.Subject, "err", err)
			return nil
		}
		logger.Warn("follower failed; retrying", "seq", e.Seq, "type", e.Type, "err", err, "in", wait)
		if err := Sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
		if wait > maxWait {
			wait = maxWait
		}
	}
}

// Sleep waits for d or until ctx ends, returning ctx's error then: the
// pause between retries of every log backend.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Subscriptions returns the status of the running subscriptions.
func (c *Changelog) Subscriptions() []SubscriptionStatus { return c.tracker.Subscriptions() }

// CloudEvent is the CloudEvents 1.0 JSON envelope of an entry.
type CloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data,omitempty"`
	// Sequence is the CloudEvents "sequence" extension: the entry's sequence
	// number, zero-padded to 20 digits so that it orders lexically.
	Sequence string `json:"sequence"`
	// Cause is the id of the entry that caused this one, if any.
	Cause string `json:"cause,omitempty"`
	// Actor is who made the change.
	Actor string `json:"actor,omitempty"`
}

// Envelope wraps e in its CloudEvents envelope.
func Envelope(e Entry) CloudEvent {
	src := e.Origin
	if src == "" {
		src = "/watershed"
	}
	return CloudEvent{
		SpecVersion: "1.0", ID: e.ID(), Source: src, Type: string(e.Type), Subject: string(e.Subject),
		Time: e.Time.UTC().Format(time.RFC3339Nano), DataContentType: "application/json", Data: e.Data,
		Sequence: fmt.Sprintf("%020d", e.Seq), Cause: e.Cause, Actor: e.Actor,
	}
}
