// Package openlineage receives lineage that running jobs push, where no
// crawler can see it: OpenLineage RunEvents and JobEvents (Flink, Spark,
// dbt, Airflow…) on POST /api/v1/lineage, and Kafka Streams topologies
// (the text of Topology#describe()) on POST /api/v1/topologies.
//
// Both endpoints validate the request completely before writing anything,
// map what it names onto the URNs the crawlers use (a Kafka dataset lands on
// the crawled topic, a database table on the connect crawler's table), and
// reconcile one scope of a push source — one job, one Streams application —
// through the catalog's Reconcile, so the store diffs, tombstones and logs
// exactly as for a crawl. Push sources cannot see deletions, so OpenLineage
// jobs that stop reporting age out (Sweep). See README.md.
package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Source names and link origins of what the service writes.
const (
	// SourceOpenLineage is the catalog source of everything OpenLineage
	// events assert.
	SourceOpenLineage = "openlineage"
	// SourceTopology is the catalog source of posted Kafka Streams
	// topologies.
	SourceTopology = "topology"
	// OriginOpenLineage is the origin of the links events assert.
	OriginOpenLineage = "openlineage"
	// OriginTopology is the origin of the links topologies assert.
	OriginTopology = "topology"
)

// Paths served by Handler.
const (
	LineagePath    = "/api/v1/lineage"
	TopologiesPath = "/api/v1/topologies"
)

// Defaults of Options.
const (
	DefaultTTL          = 30 * 24 * time.Hour
	DefaultMaxBodyBytes = 4 << 20
	DefaultMaxRuns      = 1000
)

// Writer is where the service writes: one Reconcile per request (and per
// expired job in Sweep). catalog.Store implements it.
type Writer interface {
	Reconcile(ctx context.Context, s catalog.Snapshot, run *catalog.CrawlRun) (catalog.ReconcileResult, error)
}

// Catalog is what the service reads: the state of a job and of the datasets
// it touches, the topics of a cluster (topology patterns), and the jobs to
// age out. catalog.Reader implements it.
type Catalog interface {
	Entity(ctx context.Context, urn catalog.URN) (catalog.Entity, error)
	Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error)
	Edges(ctx context.Context, q catalog.EdgeQuery) ([]catalog.Edge, error)
	Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error)
}

// Options configure a Service.
type Options struct {
	// Store receives the snapshots. Required.
	Store Writer
	// Catalog answers the reads. Required.
	Catalog Catalog
	// KafkaClusters resolves the lower-cased host:port of an OpenLineage
	// Kafka namespace (kafka://host:port) to the name of the Kafka source
	// whose bootstrap servers or aliases list it. Nil resolves nothing:
	// Kafka datasets then become DATASET assets.
	KafkaClusters func(hostport string) (clusterSource string, ok bool)
	// KnownCluster reports whether a Kafka source of that name is
	// configured. A topology naming an unknown cluster is refused; nil
	// refuses every topology.
	KnownCluster func(name string) bool
	// TTL is how long an OpenLineage job may stay silent before Sweep
	// removes its lineage; zero means DefaultTTL.
	TTL time.Duration
	// MaxBodyBytes bounds a request body (413 beyond); zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxRuns bounds the runs whose accumulated datasets are kept in
	// memory; zero means DefaultMaxRuns.
	MaxRuns int
	// Logger receives the service's logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service serves the push endpoints and ages out stale OpenLineage jobs.
// It is safe for concurrent use. It holds no goroutines: nothing to close.
type Service struct {
	store    Writer
	cat      Catalog
	clusters func(string) (string, bool)
	known    func(string) bool
	ttl      time.Duration
	maxBody  int64
	log      *slog.Logger
	now      func() time.Time
	schemas  *validator

	// olMu serialises everything that writes the openlineage source: run
	// accumulation, the dataset ownership checks and the Reconcile (the
	// store has a single writer anyway). Events of one job therefore apply
	// in arrival order.
	olMu sync.Mutex
	runs *runCache // guarded by olMu

	// apps serialises topology posts per application.
	apps keyedMutex
}

// New builds a Service. It does no I/O. It panics only if the embedded
// OpenLineage schemas do not compile, which the package's tests rule out.
func New(opts Options) *Service {
	v, err := newValidator()
	if err != nil {
		panic("openlineage: embedded schemas: " + err.Error())
	}
	s := &Service{
		store:    opts.Store,
		cat:      opts.Catalog,
		clusters: opts.KafkaClusters,
		known:    opts.KnownCluster,
		ttl:      opts.TTL,
		maxBody:  opts.MaxBodyBytes,
		log:      opts.Logger,
		now:      opts.Now,
		schemas:  v,
	}
	if s.ttl <= 0 {
		s.ttl = DefaultTTL
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "openlineage")
	if s.now == nil {
		s.now = time.Now
	}
	maxRuns := opts.MaxRuns
	if maxRuns <= 0 {
		maxRuns = DefaultMaxRuns
	}
	s.runs = newRunCache(maxRuns)
	return s
}

// Handler serves POST /api/v1/lineage and POST /api/v1/topologies (405 with
// an Allow header for other methods, 404 for other paths). Every answer is
// JSON; errors are {"error": "…"}. It does no authentication: wrap it.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var serve func(http.ResponseWriter, *http.Request)
		switch r.URL.Path {
		case LineagePath:
			serve = s.serveLineage
		case TopologiesPath:
			serve = s.serveTopology
		default:
			s.writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			s.writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+"; use POST")
			return
		}
		serve(w, r)
	})
}

// readBody reads at most the configured body size. It answers 413 (and
// returns false) for a larger body, 400 for a broken one.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+formatBytes(s.maxBody))
			return nil, false
		}
		s.writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.writeError(w, http.StatusBadRequest, "request body is empty")
		return nil, false
	}
	return body, true
}

// writeStoreError answers a failed read or write of the catalog with the
// status its kind calls for; internal details are logged, not shown.
func (s *Service) writeStoreError(w http.ResponseWriter, what string, err error) {
	switch catalog.KindOf(err) {
	case catalog.Invalid:
		s.writeError(w, http.StatusBadRequest, err.Error())
	case catalog.Unavailable:
		s.writeError(w, http.StatusServiceUnavailable, what+": the catalog is unavailable")
	default:
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			s.writeError(w, http.StatusServiceUnavailable, what+": "+err.Error())
			return
		}
		s.log.Error(what, "err", err)
		s.writeError(w, http.StatusInternalServerError, what+": internal error")
	}
}

type errorBody struct {
	Error string `json:"error"`
	// Line is the 1-based line of a malformed topology.
	Line int `json:"line,omitempty"`
}

func (s *Service) writeError(w http.ResponseWriter, status int, msg string) {
	s.writeJSON(w, status, errorBody{Error: msg})
}

func (s *Service) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode response", "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(append(b, '\n')); err != nil {
		s.log.Debug("write response", "err", err) // the client went away
	}
}

func formatBytes(n int64) string {
	switch {
	case n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// keyedMutex serialises work per key and forgets keys nobody holds.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks key and returns its unlock function.
func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
