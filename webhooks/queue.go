package webhooks

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// Delivery is one change to deliver to one endpoint. Its webhook-id is
// derived from (endpoint, change), so it is the same on every attempt and
// replay, and receivers can deduplicate by it.
type Delivery struct {
	Endpoint string             `json:"endpoint"`
	Seq      uint64             `json:"seq"`
	Type     catalog.ChangeType `json:"type"`
	Subject  catalog.URN        `json:"subject,omitempty"`
	// Body is the exact payload, rendered when the change was enqueued.
	Body        json.RawMessage `json:"body"`
	ContentType string          `json:"contentType"`
	Attempts    int             `json:"attempts"`
	NextAt      time.Time       `json:"nextAt"`
	CreatedAt   time.Time       `json:"createdAt"`
	LastError   string          `json:"lastError,omitempty"`
	LastStatus  int             `json:"lastStatus,omitempty"`
	DeadAt      time.Time       `json:"deadAt,omitzero"`
}

// WebhookID returns the Standard Webhooks message id of d.
func (d Delivery) WebhookID() string { return fmt.Sprintf("msg_%s_%d", d.Endpoint, d.Seq) }

// Attempt is one entry of an endpoint's delivery log.
type Attempt struct {
	Endpoint  string             `json:"endpoint"`
	Seq       uint64             `json:"seq"`
	WebhookID string             `json:"webhookId"`
	Type      catalog.ChangeType `json:"type"`
	Number    int                `json:"number"`
	At        time.Time          `json:"at"`
	// Status is the HTTP status, 0 when no response came.
	Status  int           `json:"status"`
	Latency time.Duration `json:"latency"`
	Error   string        `json:"error,omitempty"`
	// Response is the start of the response body (at most 512 bytes).
	Response string `json:"response,omitempty"`
	// Outcome: delivered, retry, dead, unsubscribed, refused.
	Outcome string `json:"outcome"`
}

// outboxEvent is a catalog event the webhooks stage owes the change log
// (webhook.endpoint.disabled), kept in the queue DB until it is committed
// there, so a crash redelivers it rather than losing it.
type outboxEvent struct {
	N       uint64             `json:"n"`
	Type    catalog.ChangeType `json:"type"`
	Subject catalog.URN        `json:"subject,omitempty"`
	Data    json.RawMessage    `json:"data"`
}

// Key spaces of the queue DB.
var (
	keyEndpoint = []byte("e/")
	keyPending  = []byte("p/")
	keyDead     = []byte("d/")
	keyLog      = []byte("l/")
	keyCursor   = []byte("c/")
	keyOutbox   = []byte("o/")
	keyCounter  = []byte("m/outbox")
)

// Queue is the webhooks stage's own durable state — endpoints, pending
// deliveries, the delivery log, dead letters, its change-log cursor and an
// outbox — in a Pebble DB of its own, so an enqueue never waits behind the
// catalog's writer. Every write is synced before it returns.
type Queue struct {
	db *pebble.DB
	mu sync.Mutex // serialises read-modify-write sequences (outbox counter)
}

// OpenQueue opens (or creates) the queue DB in dir.
func OpenQueue(dir string) (*Queue, error) {
	if dir == "" {
		return nil, catalog.Errorf(catalog.Invalid, "open webhook queue: directory is empty")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create webhook queue directory: %w", err)
	}
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "open webhook queue %s: %w", dir, err)
	}
	return &Queue{db: db}, nil
}

// Close closes the DB.
func (q *Queue) Close() error { return q.db.Close() }

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func key(prefix []byte, parts ...any) []byte {
	b := append([]byte(nil), prefix...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '/')
		}
		switch v := p.(type) {
		case string:
			b = append(b, v...)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case int:
			b = binary.BigEndian.AppendUint16(b, uint16(v))
		}
	}
	return b
}

func endOf(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

func (q *Queue) get(k []byte, v any) (bool, error) {
	b, closer, err := q.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, catalog.Errorf(catalog.Unavailable, "read webhook queue: %w", err)
	}
	defer closer.Close()
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode webhook queue record %q: %w", k, err)
	}
	return true, nil
}

func (q *Queue) each(prefix []byte, limit int, reverse bool, fn func(k, v []byte) error) error {
	it, err := q.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: endOf(prefix)})
	if err != nil {
		return fmt.Errorf("open iterator: %w", err)
	}
	defer it.Close()
	n := 0
	valid := it.First()
	if reverse {
		valid = it.Last()
	}
	for ; valid; n++ {
		if limit > 0 && n >= limit {
			break
		}
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
		if reverse {
			valid = it.Prev()
		} else {
			valid = it.Next()
		}
	}
	return it.Error()
}

// batch is a write batch that encodes values.
type batch struct {
	b   *pebble.Batch
	err error
}

func (q *Queue) newBatch() *batch { return &batch{b: q.db.NewBatch()} }

func (b *batch) set(k []byte, v any) {
	if b.err != nil {
		return
	}
	raw, err := json.Marshal(v)
	if err != nil {
		b.err = fmt.Errorf("encode %q: %w", k, err)
		return
	}
	b.err = b.b.Set(k, raw, nil)
}

func (b *batch) del(k []byte) {
	if b.err == nil {
		b.err = b.b.Delete(k, nil)
	}
}

func (b *batch) commit() error { return b.commitWith(pebble.Sync) }

// commitLazily commits without waiting for the disk: the write survives a
// crash of the process (it is in the OS's hands) but not of the machine.
// Attempt results use it — losing one only repeats an attempt, and
// receivers deduplicate by webhook-id — while enqueues always sync.
func (b *batch) commitLazily() error { return b.commitWith(pebble.NoSync) }

func (b *batch) commitWith(o *pebble.WriteOptions) error {
	defer b.b.Close()
	if b.err != nil {
		return b.err
	}
	if err := b.b.Commit(o); err != nil {
		return catalog.Errorf(catalog.Unavailable, "commit webhook queue: %w", err)
	}
	return nil
}

// LoadCursor implements changelog.Cursors.
func (q *Queue) LoadCursor(_ context.Context, name string) (uint64, bool, error) {
	var seq uint64
	found, err := q.get(key(keyCursor, name), &seq)
	return seq, found, err
}

// SaveCursor implements changelog.Cursors.
func (q *Queue) SaveCursor(_ context.Context, name string, seq uint64) error {
	b := q.newBatch()
	b.set(key(keyCursor, name), seq)
	return b.commit()
}

// enqueue stores deliveries and the cursor that covers them in one batch:
// a change is enqueued exactly once however often the dispatcher sees it.
func (q *Queue) enqueue(ds []Delivery, cursor string, seq uint64) error {
	b := q.newBatch()
	for _, d := range ds {
		b.set(key(keyPending, d.Endpoint, d.Seq), d)
	}
	b.set(key(keyCursor, cursor), seq)
	return b.commit()
}

func (q *Queue) endpoint(id string) (*endpointRecord, error) {
	var r endpointRecord
	found, err := q.get(key(keyEndpoint, id), &r)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, catalog.Errorf(catalog.NotFound, "no webhook %s", id)
	}
	return &r, nil
}

func (q *Queue) endpoints() ([]*endpointRecord, error) {
	var out []*endpointRecord
	err := q.each(keyEndpoint, 0, false, func(k, v []byte) error {
		var r endpointRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode webhook %q: %w", k, err)
		}
		out = append(out, &r)
		return nil
	})
	return out, err
}

// putEndpoint stores r, and ev in the outbox when set, in one batch.
func (q *Queue) putEndpoint(r *endpointRecord, ev *outboxEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.newBatch()
	b.set(key(keyEndpoint, r.ID), r)
	if ev != nil {
		var n uint64
		if _, err := q.get(keyCounter, &n); err != nil {
			return err
		}
		n++
		ev.N = n
		b.set(keyCounter, n)
		b.set(key(keyOutbox, n), ev)
	}
	return b.commit()
}

// deleteEndpoint removes an endpoint with its pending deliveries, dead
// letters and log.
func (q *Queue) deleteEndpoint(id string) error {
	b := q.newBatch()
	b.del(key(keyEndpoint, id))
	for _, p := range [][]byte{keyPending, keyDead, keyLog} {
		pre := key(p, id+"/")
		if b.err == nil {
			b.err = b.b.DeleteRange(pre, endOf(pre), nil)
		}
	}
	return b.commit()
}

func (q *Queue) pending(id string) ([]Delivery, error) {
	var out []Delivery
	err := q.each(key(keyPending, id+"/"), 0, false, func(k, v []byte) error {
		var d Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode delivery %q: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

func (q *Queue) countPending(id string) (int, error) {
	n := 0
	err := q.each(key(keyPending, id+"/"), 0, false, func(k, v []byte) error { n++; return nil })
	return n, err
}

// record writes an attempt's result: the delivery is kept pending (retry),
// removed (delivered), or moved to the dead letters, and the attempt is
// logged, in one batch. ep, when set, is stored too (failure tracking,
// auto-disable) with its outbox event; such a batch is synced, the others
// are committed lazily (see commitLazily).
func (q *Queue) record(d Delivery, a Attempt, done, dead bool, ep *endpointRecord, ev *outboxEvent) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := q.newBatch()
	switch {
	case dead:
		b.del(key(keyPending, d.Endpoint, d.Seq))
		b.set(key(keyDead, d.Endpoint, d.Seq), d)
	case done:
		b.del(key(keyPending, d.Endpoint, d.Seq))
	default:
		b.set(key(keyPending, d.Endpoint, d.Seq), d)
	}
	b.set(key(keyLog, d.Endpoint, d.Seq, a.Number), a)
	if ep != nil {
		b.set(key(keyEndpoint, ep.ID), ep)
		if ev != nil {
			var n uint64
			if _, err := q.get(keyCounter, &n); err != nil {
				return err
			}
			n++
			ev.N = n
			b.set(keyCounter, n)
			b.set(key(keyOutbox, n), ev)
		}
		return b.commit()
	}
	return b.commitLazily()
}

func (q *Queue) deadLetters(id string, limit int) ([]Delivery, error) {
	var out []Delivery
	err := q.each(key(keyDead, id+"/"), limit, false, func(k, v []byte) error {
		var d Delivery
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("decode dead letter %q: %w", k, err)
		}
		out = append(out, d)
		return nil
	})
	return out, err
}

// replay moves every dead letter of id back to pending, due at now, with a
// fresh attempt count; it returns them.
func (q *Queue) replay(id string, now time.Time) ([]Delivery, error) {
	dead, err := q.deadLetters(id, 0)
	if err != nil || len(dead) == 0 {
		return nil, err
	}
	b := q.newBatch()
	for i := range dead {
		d := &dead[i]
		b.del(key(keyDead, d.Endpoint, d.Seq))
		d.Attempts, d.NextAt, d.DeadAt = 0, now, time.Time{}
		b.set(key(keyPending, d.Endpoint, d.Seq), d)
	}
	return dead, b.commit()
}

// attempts returns the newest attempts of id first, those before the log
// key before (exclusive) when set.
func (q *Queue) attempts(id string, limit int) ([]Attempt, error) {
	var out []Attempt
	err := q.each(key(keyLog, id+"/"), limit, true, func(k, v []byte) error {
		var a Attempt
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("decode attempt %q: %w", k, err)
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// pruneLog keeps the newest keep attempts of id.
func (q *Queue) pruneLog(id string, keep int) error {
	pre := key(keyLog, id+"/")
	var cut []byte
	n := 0
	err := q.each(pre, 0, true, func(k, _ []byte) error {
		n++
		if n == keep+1 {
			cut = append([]byte(nil), k...)
		}
		return nil
	})
	if err != nil || cut == nil {
		return err
	}
	b := q.newBatch()
	if b.err == nil {
		b.err = b.b.DeleteRange(pre, append(cut, 0), nil)
	}
	return b.commit()
}

func (q *Queue) outbox() ([]outboxEvent, error) {
	var out []outboxEvent
	err := q.each(keyOutbox, 0, false, func(k, v []byte) error {
		var e outboxEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode outbox %q: %w", k, err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func (q *Queue) dropOutbox(n uint64) error {
	b := q.newBatch()
	b.del(key(keyOutbox, n))
	return b.commit()
}
