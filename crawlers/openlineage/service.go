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
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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
	// MaxBodyBytes bounds a request body (413 beyond), and a gzip body
	// after decompression too; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// AllowedOrigins lists browser origins (scheme://host[:port]) besides
	// the server's own that may post. Requests from any other origin are
	// refused (403), so that a web page cannot make a visitor's browser
	// write lineage; clients that send no Origin (CLIs, the OpenLineage
	// clients) are not affected.
	AllowedOrigins []string
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
	origins  map[string]bool
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
	v, err := sharedValidator()
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
		origins:  map[string]bool{},
	}
	for _, o := range opts.AllowedOrigins {
		s.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
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
// JSON; errors are {"error": "…"}. It refuses cross-site requests (403, see
// Options.AllowedOrigins) and bodies that are not declared JSON (415), and
// accepts Content-Encoding gzip. It does no authentication: wrap it.
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
		if msg := s.crossSite(r); msg != "" {
			s.writeError(w, http.StatusForbidden, msg)
			return
		}
		if msg := requireJSON(r); msg != "" {
			s.writeError(w, http.StatusUnsupportedMediaType, msg)
			return
		}
		serve(w, r)
	})
}

// crossSite returns why r must be refused as a cross-site request, or "".
// A browser marks every request with Sec-Fetch-Site (which a page cannot
// forge) and a POST with Origin: a page of another site posting here (a
// CORS "simple" request needs no preflight) is refused by either.
// Sec-Fetch-Site: same-origin passes whatever Host a proxy forwards; a
// browser too old for Sec-Fetch-Site is judged by Origin. Requests without
// both headers come from programs, not from a page, and pass.
func (s *Service) crossSite(r *http.Request) string {
	origin := r.Header.Get("Origin")
	switch site := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); site {
	case "same-origin", "none":
		return ""
	case "":
	default:
		if origin == "" || !s.originAllowed(origin, r.Host) {
			return "cross-site requests are refused (Sec-Fetch-Site: " + site + "): post from a script or the OpenLineage client, not from a web page"
		}
		return ""
	}
	if origin != "" && !s.originAllowed(origin, r.Host) {
		return "cross-site requests are refused (Origin: " + clipHeader(origin) + " is not this server): post from a script or the OpenLineage client, not from a web page"
	}
	return ""
}

// originAllowed reports whether a browser origin is the server's own (its
// host[:port] is the request's Host) or one of Options.AllowedOrigins. The
// opaque origin "null" (sandboxed frames, file: pages) is never allowed.
func (s *Service) originAllowed(origin, host string) bool {
	o := strings.ToLower(strings.TrimSuffix(origin, "/"))
	if s.origins[o] {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

func clipHeader(v string) string {
	if len(v) > 100 {
		return strconv.Quote(v[:100] + "…")
	}
	return strconv.Quote(v)
}

// requireJSON returns why r's Content-Type is refused, or "": the push
// endpoints take application/json (or a +json type), in UTF-8. Requiring it
// also makes every browser request preflighted: text/plain, form and
// multipart bodies are what a page may post cross-site without asking.
func requireJSON(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "Content-Type is missing: send application/json"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "Content-Type " + clipHeader(ct) + " does not parse: send application/json"
	}
	if mt != "application/json" && !(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return "Content-Type " + clipHeader(mt) + " is not supported: send application/json"
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return "charset " + clipHeader(cs) + " is not supported: JSON is UTF-8"
	}
	return ""
}

// readBody reads at most the configured body size, decompressing a gzip
// body (Content-Encoding: gzip, as the OpenLineage clients send with
// compression: gzip) within the same bound. It answers 413 (and returns
// false) for a larger body, 415 for another encoding, 400 for a broken one.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	var encodings []string
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.ToLower(strings.TrimSpace(e)); e != "" && e != "identity" {
				encodings = append(encodings, e)
			}
		}
	}
	gzipped := false
	switch {
	case len(encodings) == 0:
	case len(encodings) == 1 && (encodings[0] == "gzip" || encodings[0] == "x-gzip"):
		gzipped = true
	default:
		s.writeError(w, http.StatusUnsupportedMediaType, "Content-Encoding "+clipHeader(strings.Join(encodings, ", "))+" is not supported: send the body as is, or gzip")
		return nil, false
	}
	raw := http.MaxBytesReader(w, r.Body, s.maxBody)
	var body []byte
	var err error
	if gzipped {
		body, err = s.gunzip(raw)
	} else {
		body, err = io.ReadAll(raw)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			s.writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+formatBytes(s.maxBody))
		case errors.Is(err, errInflatedTooBig):
			s.writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds "+formatBytes(s.maxBody)+" after gzip decompression")
		case gzipped:
			s.writeError(w, http.StatusBadRequest, "request body is not valid gzip: "+err.Error())
		default:
			s.writeError(w, http.StatusBadRequest, "read request body: "+err.Error())
		}
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.writeError(w, http.StatusBadRequest, "request body is empty")
		return nil, false
	}
	return body, true
}

var errInflatedTooBig = errors.New("decompressed body too large")

// gunzip decompresses a gzip stream (every member of it), reading at most
// maxBody decompressed bytes: a small body cannot inflate into a large one.
func (s *Service) gunzip(r io.Reader) ([]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(io.LimitReader(zr, s.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > s.maxBody {
		return nil, errInflatedTooBig
	}
	if err := zr.Close(); err != nil {
		return nil, err
	}
	return body, nil
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
