package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// KV is the ordered key-value storage a Queue keeps its state in: the
// stage's own Pebble DB in one process (OpenQueue), a namespace of the
// shared store when replicas share the queue (NewQueue). It uses catalog
// types only, so a store implements it without importing this package.
type KV interface {
	// Get returns the value at key and whether there is one.
	Get(ctx context.Context, key []byte) ([]byte, bool, error)
	// Scan calls fn for the keys in [start, end) in key order (descending
	// when reverse), at most limit of them when limit > 0. k and v are
	// valid during the call only.
	Scan(ctx context.Context, start, end []byte, limit int, reverse bool, fn func(k, v []byte) error) error
	// Commit applies b atomically (see catalog.KVBatch).
	Commit(ctx context.Context, b catalog.KVBatch) error
	Close() error
}

// pebbleKV is KV over a Pebble DB of the stage's own. A fence is not
// checked (one process holds the DB); expectations are checked under a
// lock taken by every commit.
type pebbleKV struct {
	db *pebble.DB
	mu sync.Mutex
}

func openPebbleKV(dir string) (*pebbleKV, error) {
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
	return &pebbleKV{db: db}, nil
}

func (p *pebbleKV) Close() error { return p.db.Close() }

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func (p *pebbleKV) Get(_ context.Context, k []byte) ([]byte, bool, error) {
	b, closer, err := p.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, catalog.Errorf(catalog.Unavailable, "read webhook queue: %w", err)
	}
	defer closer.Close()
	return bytes.Clone(b), true, nil
}

func (p *pebbleKV) Scan(_ context.Context, start, end []byte, limit int, reverse bool, fn func(k, v []byte) error) error {
	it, err := p.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
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

func (p *pebbleKV) Commit(ctx context.Context, b catalog.KVBatch) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range b.Expect {
		v, found, err := p.Get(ctx, e.Key)
		if err != nil {
			return err
		}
		if found != (e.Value != nil) || !bytes.Equal(v, e.Value) {
			return catalog.Errorf(catalog.Conflict, "commit webhook queue: %q: %w", e.Key, catalog.ErrKVChanged)
		}
	}
	pb := p.db.NewBatch()
	defer pb.Close()
	for _, w := range b.Writes {
		var err error
		switch {
		case w.End != nil:
			err = pb.DeleteRange(w.Key, w.End, nil)
		case w.Delete:
			err = pb.Delete(w.Key, nil)
		default:
			err = pb.Set(w.Key, w.Value, nil)
		}
		if err != nil {
			return fmt.Errorf("build webhook queue batch: %w", err)
		}
	}
	o := pebble.Sync
	if b.Lazy {
		o = pebble.NoSync
	}
	if err := pb.Commit(o); err != nil {
		return catalog.Errorf(catalog.Unavailable, "commit webhook queue: %w", err)
	}
	return nil
}
