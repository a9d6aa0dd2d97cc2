// Package embedded is Watershed's default catalog store: Pebble on disk plus
// in-memory indexes (adjacency lists for traversal with a compact CSR copy
// for walks of the present, a token index for search, per-source
// fingerprints for fast reconciles). Propagated attachments are stored
// apart from their entity records (attachments.go).
//
// Durability: every write — a Reconcile, an Apply, a crawl run — is one
// Pebble batch committed with fsync, holding the changed records and their
// change events (the outbox). When a write method returns nil, the write and
// its events survive kill -9 and power loss; when it returns an error or the
// process dies first, none of it is visible after reopening. Open rebuilds
// the in-memory indexes from disk.
package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// Options configure a Store.
type Options struct {
	// Dir is the data directory; it is created if missing.
	Dir    string
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CacheBytes sizes Pebble's block cache; zero means 64 MiB.
	CacheBytes int64
	// NoSync skips fsync on commit. Only for benchmarks of the in-memory
	// paths: a crash may then lose acknowledged writes.
	NoSync bool
	// RunsPerSource bounds the crawl runs kept per source; zero means 500.
	RunsPerSource int
	// CheckpointAfter is how many journaled record writes make a commit
	// write a new index snapshot, which bounds what Open replays after a
	// crash; zero means the larger of 100,000 and an eighth of the index,
	// negative means only Close and Checkpoint write one.
	CheckpointAfter int
}

// Store is the embedded catalog store. It is safe for concurrent use.
type Store struct {
	db    *pebble.DB
	log   *slog.Logger
	now   func() time.Time
	sync  *pebble.WriteOptions
	cache *pebble.Cache
	runs  int

	wmu sync.Mutex // serialises writers: one batch at a time
	lmu sync.Mutex // serialises lease grants and fenced commits (taken after wmu)
	// lastAt is the time of the last commit (guarded by wmu; on open, the
	// newest change's time).
	lastAt time.Time
	// life is held for reading by every operation that touches Pebble and
	// for writing by Close, so nothing uses the database after it closed.
	life sync.RWMutex

	mu     sync.RWMutex // guards everything below
	idx    *index
	defs   map[string]catalog.ClassificationDef
	head   uint64
	notify chan struct{} // closed and replaced on every commit
	closed bool

	visits  visitPool   // scratch space for walks through the index
	scratch scratchPool // scratch space for walks over the adjacency

	// recordReads counts entity and edge records writers read from disk
	// (tests use it to see what a write touches).
	recordReads atomic.Uint64
	// searchReads counts the index entries searches without text read.
	searchReads atomic.Uint64

	dir        string
	openedFrom string // how Open built the index: "snapshot" or "records"
	journaled  int    // records replayed from the journal, when from a snapshot
	// journal counts the journal keys staged since the last snapshot
	// (guarded by wmu); checkpointAfter is Options.CheckpointAfter.
	journal, checkpointAfter int
}

var _ catalog.Store = (*Store)(nil)

// Open opens (or creates) the store in opts.Dir and rebuilds its indexes.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, catalog.Errorf(catalog.Invalid, "open store: data directory is empty")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cacheBytes := opts.CacheBytes
	if cacheBytes == 0 {
		cacheBytes = 64 << 20
	}
	cache := pebble.NewCache(cacheBytes)
	db, err := pebble.Open(opts.Dir, &pebble.Options{Cache: cache, Logger: pebbleLogger{logger}})
	if err != nil {
		cache.Unref()
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) || strings.Contains(err.Error(), "lock held") {
			return nil, catalog.Errorf(catalog.Conflict, "data directory %s is in use by another Watershed process (a running serve?): %w", opts.Dir, err)
		}
		return nil, catalog.Errorf(catalog.Unavailable, "open pebble at %s: %w", opts.Dir, err)
	}
	s := &Store{
		db: db, log: logger.With("component", "store"), now: now, cache: cache,
		sync: pebble.Sync, runs: opts.RunsPerSource, notify: make(chan struct{}), dir: opts.Dir,
		checkpointAfter: opts.CheckpointAfter,
	}
	if opts.NoSync {
		s.sync = pebble.NoSync
	}
	if s.runs == 0 {
		s.runs = 500
	}
	start := time.Now()
	if err := s.load(); err != nil {
		err = errors.Join(err, db.Close())
		cache.Unref()
		return nil, err
	}
	if err := s.initDefaults(); err != nil {
		err = errors.Join(err, db.Close())
		cache.Unref()
		return nil, err
	}
	s.log.Info("store opened", "dir", opts.Dir, "entities", len(s.idx.nodes), "edges", len(s.idx.edges),
		"head", s.head, "from", s.openedFrom, "journaled", s.journaled, "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// Close flushes and closes the store. Later calls return an error.
func (s *Store) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.life.Lock()
	defer s.life.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return catalog.ErrClosed
	}
	s.closed = true
	close(s.notify)
	s.mu.Unlock()
	// Writers are stopped (we hold wmu): the index is final. Without a
	// snapshot the next Open rebuilds from the records, so a failure here
	// costs time, not data.
	if err := s.writeSnapshot(s.dir, s.idx); err != nil {
		s.log.Warn("write index snapshot; the next open rebuilds the index from the records", "err", err)
	}
	err := s.db.Close()
	s.cache.Unref()
	if err != nil {
		return fmt.Errorf("close pebble: %w", err)
	}
	return nil
}

// load rebuilds the in-memory state from disk. A data directory written in
// an older format gets the keyspaces added since (see formatVersion) built
// from its records, and its format raised.
func (s *Store) load() error {
	var version uint64 // no format key: a new store, or one older than format 1
	if b, closer, err := s.db.Get(metaKey("format")); err == nil {
		version = binary.BigEndian.Uint64(b)
		if err := closer.Close(); err != nil {
			return fmt.Errorf("read store format: %w", err)
		}
		if version > formatVersion {
			return catalog.Errorf(catalog.Invalid, "data directory was written by a newer Watershed (format %d > %d)", version, formatVersion)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("read store format: %w", err)
	}
	var mig *migration
	if version < formatVersion {
		mig = s.newMigration(version)
	}
	x, err := s.loadIndex(mig)
	if err != nil {
		return err
	}
	err = s.scan([]byte{prefixSource}, func(k, v []byte) error {
		var r sourceRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode source %q: %w", k[1:], err)
		}
		x.source(string(k[1:])).lastReconciled = r.LastReconciled
		return nil
	})
	if err != nil {
		return err
	}
	defs := map[string]catalog.ClassificationDef{}
	err = s.scan([]byte{prefixClassDef}, func(k, v []byte) error {
		var r classDefRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decode classification %q: %w", k[1:], err)
		}
		defs[r.Name] = r.public()
		return nil
	})
	if err != nil {
		return err
	}
	if err := mig.finish(); err != nil {
		return err
	}
	if err := s.loadAttachmentState(x); err != nil {
		return err
	}
	head, err := s.lastChangeSeq()
	if err != nil {
		return err
	}
	if head > 0 {
		var last changeRecord
		if _, err := s.get(changeKey(head), &last); err != nil {
			return fmt.Errorf("read newest change: %w", err)
		}
		s.lastAt = last.Time
	}
	s.idx, s.defs, s.head = x, defs, head
	return nil
}

func lastZero(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == 0 {
			return i
		}
	}
	return -1
}

// initDefaults defines the default classifications in a new store.
func (s *Store) initDefaults() error {
	s.mu.RLock()
	empty := len(s.defs) == 0 && s.head == 0
	s.mu.RUnlock()
	if !empty {
		return nil
	}
	var muts []catalog.Mutation
	for _, d := range catalog.DefaultClassifications() {
		muts = append(muts, catalog.DefineClassification{Def: d})
	}
	_, err := s.Apply(context.Background(), catalog.Batch{Actor: "system:init", Mutations: muts})
	if err != nil {
		return fmt.Errorf("define default classifications: %w", err)
	}
	return nil
}

func (s *Store) lastChangeSeq() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixChange}, UpperBound: []byte{prefixChange + 1}})
	if err != nil {
		return 0, fmt.Errorf("open change iterator: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, fmt.Errorf("read change key %x: bad length", k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// scan calls fn for every key with prefix p, in order.
func (s *Store) scan(p []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return fmt.Errorf("open iterator: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("iterate: %w", err)
	}
	return nil
}

// get reads key into v; it reports false when the key is absent.
func (s *Store) get(key []byte, v any) (bool, error) {
	_, found, err := s.getRaw(key, v, false)
	return found, err
}

// getRaw is get that also returns a copy of the encoded record when keep is
// set.
func (s *Store) getRaw(key []byte, v any, keep bool) ([]byte, bool, error) {
	b, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, catalog.Errorf(catalog.Unavailable, "read %q: %w", key, err)
	}
	defer closer.Close() // releases a cache reference; it cannot fail
	if err := json.Unmarshal(b, v); err != nil {
		return nil, false, fmt.Errorf("decode %q: %w", key, err)
	}
	var raw []byte
	if keep {
		raw = append([]byte(nil), b...)
	}
	return raw, true, nil
}

// enter starts an operation that uses Pebble; it fails once the store is
// closed. Every successful enter must be paired with leave.
func (s *Store) enter() error {
	s.life.RLock()
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		s.life.RUnlock()
		return catalog.ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.life.RUnlock() }

func (s *Store) checkOpen() error {
	if s.closed {
		return catalog.ErrClosed
	}
	return nil
}

// WaitChanges blocks until a change with Seq > after exists or ctx ends.
func (s *Store) WaitChanges(ctx context.Context, after uint64) error {
	for {
		s.mu.RLock()
		head, ch, closed := s.head, s.notify, s.closed
		s.mu.RUnlock()
		if closed {
			return catalog.ErrClosed
		}
		if head > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// LoadCursor returns the saved position of the named changelog consumer and
// whether it ever saved one.
func (s *Store) LoadCursor(ctx context.Context, name string) (uint64, bool, error) {
	if err := s.enter(); err != nil {
		return 0, false, err
	}
	defer s.leave()
	b, closer, err := s.db.Get(cursorKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, catalog.Errorf(catalog.Unavailable, "read cursor %s: %w", name, err)
	}
	defer closer.Close() // releases a cache reference; it cannot fail
	if len(b) != 8 {
		return 0, false, fmt.Errorf("read cursor %s: bad length %d", name, len(b))
	}
	return binary.BigEndian.Uint64(b), true, nil
}

// SaveCursor durably records the position of the named changelog consumer.
func (s *Store) SaveCursor(ctx context.Context, name string, seq uint64) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	if err := s.db.Set(cursorKey(name), b[:], s.sync); err != nil {
		return catalog.Errorf(catalog.Unavailable, "write cursor %s: %w", name, err)
	}
	return nil
}

// Stats describes the store's size.
type Stats struct {
	Entities, Edges int
	Head            uint64
	DiskBytes       uint64
}

// Stats returns the store's size.
func (s *Store) Stats() Stats {
	if err := s.enter(); err != nil {
		return Stats{}
	}
	defer s.leave()
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.db.Metrics()
	return Stats{Entities: len(s.idx.nodes), Edges: len(s.idx.edges), Head: s.head, DiskBytes: m.DiskSpaceUsage()}
}

// pebbleLogger routes Pebble's log lines to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf reports an unrecoverable Pebble state. It panics rather than
// exiting, so that the caller's deferred cleanup and crash reporting run.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble")
	panic("pebble: " + msg)
}
