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
package changelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
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

	mu   sync.Mutex
	subs map[string]*SubscriptionStatus
}

// SubscriptionStatus describes a running subscription.
type SubscriptionStatus struct {
	Name     string
	Position uint64 // last entry handled
	Retries  uint64 // failed attempts so far
	Skipped  uint64 // entries skipped after a permanent error
	LastErr  string
}

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
	return &Changelog{log: o.Log, cursors: o.Cursors, logger: logger.With("component", "changelog"), batch: o.BatchSize, maxWait: o.MaxBackoff, subs: map[string]*SubscriptionStatus{}}
}

// Subscribe runs handler over the log under the durable cursor name until
// ctx ends, then returns ctx's error. A new subscription starts after the
// entry that is newest when it is first created, unless fromStart is set, in
// which case it starts at the beginning of the log. Entries are handed to
// handler one at a time, in order; the cursor is saved after each batch, so
// at most one batch is redelivered after a crash. Two concurrent
// subscriptions with the same name are a programming error.
func (c *Changelog) Subscribe(ctx context.Context, name string, fromStart bool, handler Handler) error {
	if c.cursors == nil {
		return catalog.Errorf(catalog.Invalid, "subscribe %s: no cursor store", name)
	}
	pos, found, err := c.cursors.LoadCursor(ctx, name)
	if err != nil {
		return fmt.Errorf("load cursor %s: %w", name, err)
	}
	if !found && !fromStart {
		if pos, err = c.log.LastSeq(ctx); err != nil {
			return fmt.Errorf("read log head: %w", err)
		}
		if err := c.cursors.SaveCursor(ctx, name, pos); err != nil {
			return fmt.Errorf("save cursor %s: %w", name, err)
		}
	}
	st := &SubscriptionStatus{Name: name, Position: pos}
	c.mu.Lock()
	if _, dup := c.subs[name]; dup {
		c.mu.Unlock()
		return catalog.Errorf(catalog.Conflict, "subscribe %s: already running", name)
	}
	c.subs[name] = st
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.subs, name)
		c.mu.Unlock()
	}()
	logger := c.logger.With("subscription", name)
	logger.Info("subscription started", "position", pos)
	return c.follow(ctx, pos, st, logger, handler, func(ctx context.Context, seq uint64) error {
		if err := c.cursors.SaveCursor(ctx, name, seq); err != nil {
			return fmt.Errorf("save cursor %s: %w", name, err)
		}
		return nil
	})
}

// Follow calls handler for every entry after position after, in order, until
// ctx ends. It keeps no durable state: GraphQL subscriptions use it to tail
// the log from where a client asked.
func (c *Changelog) Follow(ctx context.Context, after uint64, handler Handler) error {
	st := &SubscriptionStatus{Position: after}
	return c.follow(ctx, after, st, c.logger, handler, nil)
}

func (c *Changelog) follow(ctx context.Context, pos uint64, st *SubscriptionStatus, logger *slog.Logger, handler Handler, save func(context.Context, uint64) error) error {
	saved := pos
	for {
		batch, err := c.log.Changes(ctx, pos, c.batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, catalog.ErrClosed) {
				return err // the store is gone for good: do not retry
			}
			logger.Warn("read change log", "err", err)
			if err := sleep(ctx, time.Second); err != nil {
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
			if err := c.deliver(ctx, e, st, logger, handler); err != nil {
				if save != nil && pos > saved {
					// Keep the progress made in this batch; ctx is done, so
					// save under a context that is not.
					if serr := save(context.WithoutCancel(ctx), pos); serr != nil {
						logger.Warn("save cursor on shutdown", "err", serr)
					}
				}
				return err
			}
			pos = e.Seq
			c.mu.Lock()
			st.Position = pos
			c.mu.Unlock()
		}
		if save != nil {
			if err := save(ctx, pos); err != nil {
				return err
			}
			saved = pos
		}
	}
}

// deliver hands e to handler, retrying with exponential backoff until it
// succeeds, fails permanently, or ctx ends.
func (c *Changelog) deliver(ctx context.Context, e Entry, st *SubscriptionStatus, logger *slog.Logger, handler Handler) error {
	wait := 100 * time.Millisecond
	for {
		err := handler(ctx, e)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.mu.Lock()
		st.LastErr = err.Error()
		if IsPermanent(err) {
			st.Skipped++
			c.mu.Unlock()
			logger.Error("skip change after permanent error", "seq", e.Seq, "type", e.Type, "subject", e.Subject, "err", err)
			return nil
		}
		st.Retries++
		c.mu.Unlock()
		logger.Warn("handler failed; retrying", "seq", e.Seq, "type", e.Type, "err", err, "in", wait)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		wait *= 2
		if wait > c.maxWait {
			wait = c.maxWait
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
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
func (c *Changelog) Subscriptions() []SubscriptionStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]SubscriptionStatus, 0, len(c.subs))
	for _, s := range c.subs {
		out = append(out, *s)
	}
	return out
}

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
