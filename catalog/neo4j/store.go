// Package neo4j is Watershed's catalog store for distributed mode: the
// catalog lives in a Neo4j 5 database that any number of stateless replicas
// share (DESIGN §9).
//
// # Graph model
//
// Every entity, and every URN an edge or a pair edge's Via names, is an
// (:Entity {urn}) node; its merged record is the node's rec property (JSON,
// the same shape as the embedded store's), beside the properties queries
// need (kind, deleted, name, tokens, classes, the pass-through intervals and
// one live.<source> property per source's live readings). An edge is an
// [:EDGE {kind}] relationship between its ends, with its record and the
// properties a walk filters on (alive, intervals, masking, block list, Via).
// (:Facet) and (:Claim) nodes fingerprint what each source asserts, so a
// re-crawl reads only what changed. (:Change {seq}) nodes are the outbox;
// (:Counter {id: "head"}) holds the newest sequence number; (:Lease)
// nodes are the leases replicas divide work by (see AcquireLease).
//
// # Transactions
//
// Every write — a Reconcile, an Apply, a crawl run — is one Neo4j
// transaction that first takes the write lock of the counter node, so
// writers (of every replica) are serialised and each reads what the
// previous one committed. The transaction holds the changed records and
// their change events, so a committed change always has its event, and
// sequence numbers have no gaps. Writes are batched with UNWIND.
//
// # Retries
//
// A transaction that fails with a transient error (a deadlock, a leader
// switch, a lost connection) is run again by the driver's ExecuteWrite and,
// beyond it, by the store's own bounded retry. Every write carries an id
// recorded with it in a (:Txn) node: a transaction whose commit succeeded
// but whose answer was lost is not applied twice — the retry finds its id
// and returns what the first attempt committed.
//
// # Reads
//
// Neo4j isolates transactions at read-committed: a read sees whole
// committed writes, never part of one, but two queries of one read may see
// different commits. Traverse reads the log position before it walks, so
// Traversal.Seq is a lower bound of what the walk saw.
package neo4j

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// Options configure a Store.
type Options struct {
	// URI is the Bolt URI, e.g. bolt://127.0.0.1:7687 or neo4j://host.
	URI string
	// User and Password authenticate; an empty User means no auth.
	User, Password string
	// Database is the Neo4j database; empty means the server's default.
	Database string
	// LabelPrefix is put before every label the store uses, so several
	// catalogs (tests) can share one database. Letters, digits and '_'.
	LabelPrefix string
	Logger      *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// RunsPerSource bounds the crawl runs kept per source; zero means 500.
	RunsPerSource int
	// MaxHopRows bounds the edges one hop of a walk may read (the fan-out
	// of a frontier); a walk that meets the bound stops there, Truncated.
	// Zero means 200,000.
	MaxHopRows int
	// WriteAttempts bounds the store's own retries of a write whose
	// transaction failed transiently beyond the driver's; zero means 5.
	WriteAttempts int
	// PollInterval is how often WaitChanges looks for changes written by
	// other replicas; zero means 200ms. Writes of this store wake waiters
	// at once.
	PollInterval time.Duration
	// Driver, when set, is used instead of a driver made from URI, User
	// and Password; Close then leaves it open.
	Driver neo4j.DriverWithContext
}

// Store is the Neo4j catalog store. It is safe for concurrent use, also by
// several processes on one database.
type Store struct {
	drv     neo4j.DriverWithContext
	ownDrv  bool
	db      string
	log     *slog.Logger
	now     func() time.Time
	runs    int
	hopRows int
	tries   int
	poll    time.Duration
	q       *strings.Replacer // puts the label prefix into queries

	mu     sync.Mutex
	closed bool
	head   uint64        // the newest sequence number this store saw
	notify chan struct{} // closed and replaced when head grows
	done   chan struct{} // closed by Close

	// loseResult, when set (tests), is asked after each committed write
	// whether to pretend its answer was lost, so the write is retried.
	loseResult func() bool
}

var _ catalog.Store = (*Store)(nil)

var labelPrefix = regexp.MustCompile(`^[A-Za-z0-9_]*$`)

// labels are the labels and relationship types the store uses; queries
// spell them in backticks, and the store rewrites them with its prefix.
var labels = []string{"Entity", "EDGE", "Facet", "Claim", "Change", "Counter", "ClassDef", "Source", "Run", "Cursor", "Txn", "Lease", "KV", "KVLock"}

// Open connects to Neo4j, creates the store's constraints and indexes when
// missing and defines the default classifications in a new catalog.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if !labelPrefix.MatchString(opts.LabelPrefix) {
		return nil, catalog.Errorf(catalog.Invalid, "open neo4j store: label prefix %q may contain only letters, digits and '_'", opts.LabelPrefix)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Store{
		db: opts.Database, log: logger.With("component", "store"), now: opts.Now, runs: opts.RunsPerSource,
		hopRows: opts.MaxHopRows, tries: opts.WriteAttempts, poll: opts.PollInterval,
		notify: make(chan struct{}), done: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.runs == 0 {
		s.runs = 500
	}
	if s.hopRows == 0 {
		s.hopRows = 200_000
	}
	if s.tries == 0 {
		s.tries = 5
	}
	if s.poll == 0 {
		s.poll = 200 * time.Millisecond
	}
	var pairs []string
	for _, l := range labels {
		pairs = append(pairs, "`"+l+"`", "`"+opts.LabelPrefix+l+"`")
	}
	s.q = strings.NewReplacer(pairs...)
	if opts.Driver != nil {
		s.drv = opts.Driver
	} else {
		auth := neo4j.NoAuth()
		if opts.User != "" {
			auth = neo4j.BasicAuth(opts.User, opts.Password, "")
		}
		drv, err := neo4j.NewDriverWithContext(opts.URI, auth)
		if err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "open neo4j driver for %s: %w", opts.URI, err)
		}
		s.drv, s.ownDrv = drv, true
	}
	if err := s.init(ctx); err != nil {
		if s.ownDrv {
			err = errors.Join(err, s.drv.Close(ctx))
		}
		return nil, err
	}
	return s, nil
}

// schema is what Open creates: uniqueness constraints (each backed by an
// index) and the indexes reads use.
var schema = []string{
	"CREATE CONSTRAINT `Entity_urn` IF NOT EXISTS FOR (n:`Entity`) REQUIRE n.urn IS UNIQUE",
	"CREATE CONSTRAINT `Facet_id` IF NOT EXISTS FOR (n:`Facet`) REQUIRE n.id IS UNIQUE",
	"CREATE CONSTRAINT `Claim_id` IF NOT EXISTS FOR (n:`Claim`) REQUIRE n.id IS UNIQUE",
	"CREATE CONSTRAINT `Change_seq` IF NOT EXISTS FOR (n:`Change`) REQUIRE n.seq IS UNIQUE",
	"CREATE CONSTRAINT `Counter_id` IF NOT EXISTS FOR (n:`Counter`) REQUIRE n.id IS UNIQUE",
	"CREATE CONSTRAINT `ClassDef_name` IF NOT EXISTS FOR (n:`ClassDef`) REQUIRE n.name IS UNIQUE",
	"CREATE CONSTRAINT `Source_name` IF NOT EXISTS FOR (n:`Source`) REQUIRE n.name IS UNIQUE",
	"CREATE CONSTRAINT `Cursor_name` IF NOT EXISTS FOR (n:`Cursor`) REQUIRE n.name IS UNIQUE",
	"CREATE CONSTRAINT `Lease_name` IF NOT EXISTS FOR (n:`Lease`) REQUIRE n.name IS UNIQUE",
	"CREATE CONSTRAINT `Txn_id` IF NOT EXISTS FOR (n:`Txn`) REQUIRE n.id IS UNIQUE",
	"CREATE CONSTRAINT `KV_id` IF NOT EXISTS FOR (n:`KV`) REQUIRE n.id IS UNIQUE",
	"CREATE CONSTRAINT `KVLock_ns` IF NOT EXISTS FOR (n:`KVLock`) REQUIRE n.ns IS UNIQUE",
	"CREATE INDEX `Facet_src` IF NOT EXISTS FOR (n:`Facet`) ON (n.src)",
	"CREATE INDEX `Claim_src` IF NOT EXISTS FOR (n:`Claim`) ON (n.src)",
	"CREATE INDEX `Run_source` IF NOT EXISTS FOR (n:`Run`) ON (n.source, n.start)",
	"CREATE INDEX `Entity_kind` IF NOT EXISTS FOR (n:`Entity`) ON (n.kind)",
	"CREATE INDEX `Txn_at` IF NOT EXISTS FOR (n:`Txn`) ON (n.at)",
}

func (s *Store) init(ctx context.Context) error {
	if err := s.drv.VerifyConnectivity(ctx); err != nil {
		return catalog.Errorf(catalog.Unavailable, "connect to neo4j: %w", err)
	}
	for _, stmt := range schema {
		// Constraint and index names carry the prefix too.
		stmt = strings.Replace(s.q.Replace(stmt), "CONSTRAINT `", "CONSTRAINT `"+s.prefix(), 1)
		stmt = strings.Replace(stmt, "INDEX `", "INDEX `"+s.prefix(), 1)
		if _, err := neo4j.ExecuteQuery(ctx, s.drv, stmt, nil, neo4j.EagerResultTransformer, s.queryConfig()); err != nil {
			return catalog.Errorf(catalog.Unavailable, "create neo4j schema (%s): %w", stmt, err)
		}
	}
	if err := s.awaitIndexes(ctx); err != nil {
		return err
	}
	_, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		_, err := tx.Run(ctx, s.q.Replace("MERGE (c:`Counter` {id: 'head'}) ON CREATE SET c.seq = 0, c.edges = 0, c.lastAt = 0, c.lock = 0"), nil)
		return nil, err
	})
	if err != nil {
		return fmt.Errorf("create the change counter: %w", err)
	}
	head, err := s.LastSeq(ctx)
	if err != nil {
		return err
	}
	s.head = head
	defs, err := s.Classifications(ctx)
	if err != nil {
		return err
	}
	if len(defs) == 0 && head == 0 {
		var muts []catalog.Mutation
		for _, d := range catalog.DefaultClassifications() {
			muts = append(muts, catalog.DefineClassification{Def: d})
		}
		if _, err := s.Apply(ctx, catalog.Batch{Actor: "system:init", Mutations: muts}); err != nil {
			return fmt.Errorf("define default classifications: %w", err)
		}
	}
	return nil
}

// awaitIndexes waits until the store's own indexes are online (not
// db.awaitIndexes, which also waits for other catalogs' indexes).
func (s *Store) awaitIndexes(ctx context.Context) error {
	var names []string
	for _, stmt := range schema {
		f := strings.Fields(stmt)
		names = append(names, s.prefix()+strings.Trim(f[2], "`"))
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		res, err := neo4j.ExecuteQuery(ctx, s.drv, "SHOW INDEXES YIELD name, state WHERE name IN $names AND state <> 'ONLINE' RETURN name, state",
			map[string]any{"names": names}, neo4j.EagerResultTransformer, s.queryConfig())
		if err != nil {
			return catalog.Errorf(catalog.Unavailable, "list neo4j indexes: %w", err)
		}
		if len(res.Records) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return catalog.Errorf(catalog.Unavailable, "neo4j indexes not online after 5 minutes: %v", res.Records[0].Values)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// prefix returns the label prefix (the replacement of the first label).
func (s *Store) prefix() string {
	return strings.TrimSuffix(strings.Trim(s.q.Replace("`Entity`"), "`"), "Entity")
}

func (s *Store) queryConfig() neo4j.ExecuteQueryConfigurationOption {
	return neo4j.ExecuteQueryWithDatabase(s.db)
}

// Close releases the store (and the driver it opened). Later calls fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return catalog.ErrClosed
	}
	s.closed = true
	close(s.done)
	close(s.notify)
	s.mu.Unlock()
	if s.ownDrv {
		if err := s.drv.Close(context.Background()); err != nil {
			return fmt.Errorf("close neo4j driver: %w", err)
		}
	}
	return nil
}

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return catalog.ErrClosed
	}
	return nil
}

// published records that the log reached head and wakes waiters.
func (s *Store) published(head uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || head <= s.head {
		return
	}
	s.head = head
	close(s.notify)
	s.notify = make(chan struct{})
}

// session opens a session on the store's database.
func (s *Store) session(ctx context.Context, mode neo4j.AccessMode) neo4j.SessionWithContext {
	return s.drv.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.db, AccessMode: mode})
}

// read runs fn in one read transaction.
func (s *Store) read(ctx context.Context, fn func(tx neo4j.ManagedTransaction) (any, error)) (any, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	sess := s.session(ctx, neo4j.AccessModeRead)
	defer sess.Close(ctx)
	v, err := sess.ExecuteRead(ctx, fn)
	if err != nil {
		return nil, classify(err)
	}
	return v, nil
}

// write runs fn in one write transaction, retried by the driver on
// transient errors. fn must be safe to run again (see writeOnce).
func (s *Store) write(ctx context.Context, fn func(tx neo4j.ManagedTransaction) (any, error)) (any, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	sess := s.session(ctx, neo4j.AccessModeWrite)
	defer sess.Close(ctx)
	return sess.ExecuteWrite(ctx, fn)
}

// writeOnce runs a write with the idempotence guard: fn runs in a
// transaction that holds the counter lock and that is recorded as txn id;
// when a retry finds id already recorded, replay returns the first
// attempt's answer instead. The store's own retry covers errors the
// driver gave up on, and answers lost after a commit.
func (s *Store) writeOnce(ctx context.Context, fn func(t *txCtx) (any, error), replay func(t *txCtx, rec txnRecord) (any, error)) (any, error) {
	id := newTxnID()
	var last error
	for attempt := 0; attempt < s.tries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			}
		}
		v, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			t, rec, err := s.begin(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			if rec != nil {
				return replay(t, *rec)
			}
			return fn(t)
		})
		if err == nil && s.loseResult != nil && s.loseResult() {
			err = &neo4j.ConnectivityError{Inner: errors.New("test: the answer to a committed transaction was lost")}
		}
		if err == nil {
			return v, nil
		}
		last = err
		if !retryable(err) {
			return nil, classify(err)
		}
		s.log.Warn("write failed, retrying", "attempt", attempt+1, "err", err)
	}
	return nil, classify(last)
}

func newTxnID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("read random bytes: " + err.Error()) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// retryable reports whether a failed write may succeed when run again.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if neo4j.IsRetryable(err) {
		return true
	}
	var ce *neo4j.ConnectivityError
	return errors.As(err, &ce) || neo4j.IsConnectivityError(err)
}

// classify gives a driver error its catalog kind.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var ce *catalog.Error
	if errors.As(err, &ce) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if retryable(err) {
		return catalog.Errorf(catalog.Unavailable, "neo4j: %w", err)
	}
	return fmt.Errorf("neo4j: %w", err)
}
