package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testBase is the test clock's start: after every event in testdata.
var testBase = time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)

// env is a real embedded store, the service over it and an HTTP server
// serving its handler.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *embedded.Store
	svc   *Service
	srv   *httptest.Server

	// close stops the server and closes the store (once; also at cleanup).
	close func()

	mu    sync.Mutex
	base  time.Time
	ticks int
}

// clusterAliases is what main would build from the Kafka sources'
// bootstrap servers and aliases: source "prod".
func clusterAliases(hp string) (string, bool) {
	switch hp {
	case "kafka-1.prod.internal:9093", "kafka-2.prod.internal:9093", "kafka.prod.example.com:9093":
		return "prod", true
	}
	return "", false
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	return newEnvWith(t, envOptions{}, mod)
}

// envOptions vary the test environment.
type envOptions struct {
	// base is the service clock's start; zero means testBase.
	base time.Time
	// noSync skips fsync: for tests that post many requests.
	noSync bool
}

func newEnvWith(t *testing.T, eo envOptions, mod func(*Options)) *env {
	t.Helper()
	// The store's clock stands before every test event, so that snapshots
	// stamped with event times are not clamped to a later commit.
	storeClock := func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) }
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir(), Now: storeClock, NoSync: eo.noSync})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e := &env{t: t, store: st, base: eo.base}
	if e.base.IsZero() {
		e.base = testBase
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.ctx = ctx
	opts := Options{
		Store:         st,
		Catalog:       st,
		KafkaClusters: clusterAliases,
		KnownCluster:  func(name string) bool { return name == "prod" },
		Now:           e.now,
	}
	if mod != nil {
		mod(&opts)
	}
	e.svc = New(opts)
	e.srv = httptest.NewServer(e.svc.Handler())
	var once sync.Once
	e.close = func() {
		once.Do(func() {
			e.srv.Close()
			cancel()
			if err := st.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
	}
	t.Cleanup(e.close)
	e.seedKafka()
	return e
}

// now advances one second per call, so that every write has its own time.
func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ticks++
	return e.base.Add(time.Duration(e.ticks) * time.Second)
}

// seedKafka reconciles what the kafka crawler of source "prod" would
// have found: the cluster, its topics, and the Streams application it infers
// from order-enricher's changelog topic.
func (e *env) seedKafka() {
	e.t.Helper()
	topics := []string{"orders", "payments", "orders-paid", "orders-eu", "orders-us", "customers", "order-totals",
		"order-enricher-order-totals-store-changelog", "streams-plaintext-input", "streams-wordcount-output"}
	cluster := catalog.KafkaClusterURN("prod")
	snap := catalog.Snapshot{Source: "prod", At: testBase, Assets: []catalog.Asset{{URN: cluster, Name: "prod"}}}
	for _, tp := range topics {
		u := catalog.TopicURN("prod", tp)
		snap.Assets = append(snap.Assets, catalog.Asset{URN: u, Name: tp, Scope: "topic/" + tp})
		snap.Links = append(snap.Links, catalog.Link{From: cluster, Kind: catalog.EdgeContains, To: u, Origin: "metadata", Confidence: 1, Scope: "topic/" + tp})
	}
	job := catalog.StreamsJobURN("prod", "order-enricher")
	snap.Assets = append(snap.Assets, catalog.Asset{URN: job, Name: "order-enricher", Properties: catalog.Properties{"framework": "kafka-streams", "applicationId": "order-enricher"}, Scope: "streams/order-enricher"})
	snap.Links = append(snap.Links, catalog.Link{From: job, Kind: catalog.EdgeProduces, To: catalog.TopicURN("prod", "order-enricher-order-totals-store-changelog"), Origin: "streams-naming", Confidence: 0.8, Scope: "streams/order-enricher"})
	if _, err := e.store.Reconcile(e.ctx, snap, nil); err != nil {
		e.t.Fatalf("seed kafka: %v", err)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return b
}

// post sends body and returns the status and the decoded JSON answer.
func (e *env) post(path, contentType string, body []byte) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (int, map[string]any) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read answer: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Fatalf("answer content type %q, body %s", ct, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		e.t.Fatalf("answer is not a JSON object: %v: %s", err, b)
	}
	return resp.StatusCode, m
}

// postEvent posts a testdata event and requires 201.
func (e *env) postEvent(name string) map[string]any {
	e.t.Helper()
	status, m := e.post(LineagePath, "application/json", readTestdata(e.t, name))
	if status != http.StatusCreated {
		e.t.Fatalf("POST %s: status %d, answer %v", name, status, m)
	}
	return m
}

func (e *env) lastSeq() uint64 {
	e.t.Helper()
	seq, err := e.store.LastSeq(e.ctx)
	if err != nil {
		e.t.Fatalf("last seq: %v", err)
	}
	return seq
}

func (e *env) entity(u catalog.URN) (catalog.Entity, bool) {
	e.t.Helper()
	ent, err := e.store.Entity(e.ctx, u)
	if catalog.IsNotFound(err) {
		return catalog.Entity{}, false
	}
	if err != nil {
		e.t.Fatalf("entity %s: %v", u, err)
	}
	return ent, true
}

// edges returns the alive edges touching u that source asserts, rendered
// "from -KIND-> to", sorted.
func (e *env) edges(u catalog.URN, source string, kinds ...catalog.EdgeKind) []string {
	e.t.Helper()
	es, err := e.store.Edges(e.ctx, catalog.EdgeQuery{URN: u, Direction: catalog.Both, Kinds: kinds})
	if err != nil {
		e.t.Fatalf("edges of %s: %v", u, err)
	}
	var out []string
	for _, ed := range es {
		if _, ok := claimOf(ed, source); ok {
			out = append(out, ed.EdgeKey.String())
		}
	}
	sort.Strings(out)
	return out
}

// edge returns the edge k, tombstones included.
func (e *env) edge(k catalog.EdgeKey) (catalog.Edge, bool) {
	e.t.Helper()
	es, err := e.store.Edges(e.ctx, catalog.EdgeQuery{URN: k.From, Direction: catalog.Downstream, Kinds: []catalog.EdgeKind{k.Kind}, IncludeDeleted: true})
	if err != nil {
		e.t.Fatalf("edges of %s: %v", k.From, err)
	}
	for _, ed := range es {
		if ed.To == k.To {
			return ed, true
		}
	}
	return catalog.Edge{}, false
}

func key(from string, kind catalog.EdgeKind, to string) catalog.EdgeKey {
	return catalog.EdgeKey{From: catalog.URN(from), Kind: kind, To: catalog.URN(to)}
}

func keys(ks ...catalog.EdgeKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.String()
	}
	sort.Strings(out)
	return out
}

func equalStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
