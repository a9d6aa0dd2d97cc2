package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/graph"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type server struct {
	t     *testing.T
	url   string
	store *embedded.Store
}

func newServer(t *testing.T, auth *graph.Authenticator) *server {
	return newServerWith(t, auth, nil)
}

func newServerWith(t *testing.T, auth *graph.Authenticator, sources []crawlers.SourceSpec) *server {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cl := changelog.New(changelog.Options{Log: s, Cursors: s})
	res := &graph.Resolver{Catalog: s, Changes: cl}
	if sources != nil {
		m, err := crawlers.NewManager(crawlers.ManagerOptions{Sources: sources, Store: s, Catalog: s})
		if err != nil {
			t.Fatal(err)
		}
		res.Crawls = m
	}
	h := graph.NewHandler(graph.Options{Resolver: res, Auth: auth})
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &server{t: t, url: ts.URL, store: s}
}

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type response struct {
	Status int
	Data   map[string]any
	Errors []gqlError
}

func (s *server) do(token, query string, vars map[string]any) response {
	s.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		s.t.Fatal(err)
	}
	return s.post(token, body)
}

func (s *server) post(token string, body []byte) response {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []gqlError     `json:"errors"`
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode response %q: %v", b, err)
	}
	return response{Status: resp.StatusCode, Data: out.Data, Errors: out.Errors}
}

// ok runs a query that must succeed.
func (s *server) ok(query string, vars map[string]any) map[string]any {
	s.t.Helper()
	r := s.do("", query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("query failed: %+v\n%s", r.Errors, query)
	}
	return r.Data
}

// code runs a query that must fail with the given code and returns its message.
func (s *server) code(token, query string, vars map[string]any, want string) string {
	s.t.Helper()
	r := s.do(token, query, vars)
	if len(r.Errors) == 0 {
		s.t.Fatalf("query succeeded, want %s: %s", want, query[:min(len(query), 200)])
	}
	if got := r.Errors[0].Extensions["code"]; got != want {
		s.t.Fatalf("error code %v (%s), want %s", got, r.Errors[0].Message, want)
	}
	return r.Errors[0].Message
}

func (s *server) head() uint64 {
	s.t.Helper()
	h, err := s.store.LastSeq(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return h
}

func get(m any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m = m.(map[string]any)[k]
		case int:
			m = m.([]any)[k]
		}
	}
	return m
}

const registerTwo = `mutation {
  a: registerAsset(input: {urn: "urn:dataset:s3://lake/orders", name: "lake orders", properties: {format: "parquet"}}) { urn kind name }
  b: registerAsset(input: {urn: "urn:job:spark://etl/rollup", description: "nightly"}) { urn kind }
}`

func TestScriptedSession(t *testing.T) {
	s := newServer(t, nil)
	d := s.ok(registerTwo, nil)
	if get(d, "a", "kind") != "DATASET" || get(d, "a", "name") != "lake orders" || get(d, "b", "kind") != "JOB" {
		t.Fatalf("register = %v", d)
	}
	d = s.ok(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:job:spark://etl/rollup", kind: CONSUMES, transform: "spark sql"}) {
		from to kind confidence claims { source origin transform } } }`, nil)
	if get(d, "addLineage", "claims", 0, "source") != "manual" || get(d, "addLineage", "claims", 0, "transform") != "spark sql" {
		t.Fatalf("addLineage = %v", d)
	}
	d = s.ok(`mutation { classify(urn: "urn:dataset:s3://lake/orders", classification: "PII.Email") { classifications { name direct source propagate origin path } } }`, nil)
	if c := get(d, "classify", "classifications", 0); get(c, "name") != "PII.Email" || get(c, "direct") != true || get(c, "source") != "MANUAL" || get(c, "propagate") != true {
		t.Fatalf("classify = %v", d)
	}
	d = s.ok(`query($u: URN!) { asset(urn: $u) { urn name properties sources downstream { edge { kind } asset { urn kind name description } } } }`, map[string]any{"u": "urn:dataset:s3://lake/orders"})
	if get(d, "asset", "properties", "format") != "parquet" || get(d, "asset", "downstream", 0, "asset", "description") != "nightly" {
		t.Fatalf("asset = %v", d)
	}
	d = s.ok(`{ lineage(urn: "urn:job:spark://etl/rollup", direction: UPSTREAM) { root { urn } nodes { depth path asset { urn } } edges { from to kind } truncated } }`, nil)
	if get(d, "lineage", "nodes", 0, "asset", "urn") != "urn:dataset:s3://lake/orders" || get(d, "lineage", "nodes", 0, "depth") != float64(1) || get(d, "lineage", "edges", 0, "kind") != "CONSUMES" {
		t.Fatalf("lineage = %v", d)
	}
	d = s.ok(`{ changes(first: 100) { edges { cursor node { id type subject source actor data } } pageInfo { hasNextPage endCursor } } }`, nil)
	var types []string
	for _, e := range get(d, "changes", "edges").([]any) {
		if sub, _ := get(e, "node", "subject").(string); strings.HasPrefix(sub, "urn:") {
			types = append(types, get(e, "node", "type").(string))
		}
	}
	want := []string{"asset.created", "asset.created", "lineage.edge.added", "classification.attached"}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Fatalf("change types = %v, want %v", types, want)
	}
	if get(d, "changes", "edges", 0, "node", "source") == "" {
		t.Errorf("change without source: %v", get(d, "changes", "edges", 0))
	}
	d = s.ok(`{ search(query: "lake", kinds: [DATASET], classifications: ["PII"]) { totalCount edges { node { urn } } } }`, nil)
	if get(d, "search", "totalCount") != float64(1) {
		t.Fatalf("search = %v", d)
	}
}

func TestSearchPagination(t *testing.T) {
	s := newServer(t, nil)
	for i := 0; i < 5; i++ {
		s.ok(fmt.Sprintf(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/t%d"}) { urn } }`, i), nil)
	}
	var seen []string
	var after any
	for page := 0; page < 5; page++ {
		d := s.ok(`query($after: String) { search(query: "lake", first: 2, after: $after) { totalCount edges { cursor node { urn } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
		for _, e := range get(d, "search", "edges").([]any) {
			seen = append(seen, get(e, "node", "urn").(string))
		}
		if get(d, "search", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(d, "search", "pageInfo", "endCursor")
	}
	if len(seen) != 5 {
		t.Fatalf("paged through %v, want 5 distinct assets", seen)
	}
}

func TestBadInputGetsStableCodesAndWritesNothing(t *testing.T) {
	s := newServer(t, nil)
	s.ok(registerTwo, nil)
	h0 := s.head()
	s.code("", `{ asset(urn: "urn:topic:prod/none") { urn } }`, nil, "NOT_FOUND")
	s.code("", `{ asset(urn: "orders") { urn } }`, nil, "INVALID_ARGUMENT")
	s.code("", `query($u: URN!) { asset(urn: $u) { urn } }`, map[string]any{"u": "urn:nope:x"}, "INVALID_ARGUMENT")
	s.code("", `{ search(kinds: [SPACESHIP]) { totalCount } }`, nil, "GRAPHQL_VALIDATION_FAILED")
	s.code("", `{ asset(urn: "urn:topic:a/b") { urn `, nil, "GRAPHQL_PARSE_FAILED")
	s.code("", `{ nosuchfield }`, nil, "GRAPHQL_VALIDATION_FAILED")
	s.code("", `mutation { classify(urn: "urn:dataset:s3://lake/missing", classification: "PII") { urn } }`, nil, "NOT_FOUND")
	s.code("", `mutation { classify(urn: "urn:dataset:s3://lake/orders", classification: "Nope") { urn } }`, nil, "INVALID_ARGUMENT")
	s.code("", `mutation { addLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:dataset:s3://lake/ghost"}) { kind } }`, nil, "NOT_FOUND")
	s.code("", `mutation { removeLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:job:spark://etl/rollup"}) { kind } }`, nil, "NOT_FOUND")
	s.code("", `mutation { registerAsset(input: {urn: "urn:dataset:s3://x", properties: [1,2]}) { urn } }`, nil, "INVALID_ARGUMENT")
	s.code("", `{ search(first: 100000) { totalCount } }`, nil, "COMPLEXITY_LIMIT_EXCEEDED")
	s.code("", `{ lineage(urn: "urn:dataset:s3://lake/orders", direction: DOWNSTREAM, depth: 500) { truncated } }`, nil, "INVALID_ARGUMENT")
	s.code("", `{ changes(after: "yesterday") { pageInfo { hasNextPage } } }`, nil, "INVALID_ARGUMENT")
	if h := s.head(); h != h0 {
		t.Errorf("bad input wrote %d changes", h-h0)
	}
}

func TestHostileQueries(t *testing.T) {
	s := newServer(t, nil)
	// Deep nesting.
	q := `{ asset(urn: "urn:topic:a/b") { ` + strings.Repeat(`downstream { asset { `, 12) + `urn` + strings.Repeat(` } }`, 12) + ` } }`
	s.code("", q, nil, "DEPTH_LIMIT_EXCEEDED")
	// A fragment cycle is rejected by validation, not looped on.
	s.code("", `query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`, nil, "GRAPHQL_VALIDATION_FAILED")
	// 10,000 aliases.
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, " a%d: classifications { name }", i)
	}
	b.WriteString(" }")
	start := time.Now()
	s.code("", b.String(), nil, "TOKEN_LIMIT_EXCEEDED")
	t.Logf("10k aliases rejected in %v", time.Since(start))
	// Wide but cheap enough for tokens: complexity catches it.
	b.Reset()
	b.WriteString("{")
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, " a%d: search(first: 500) { edges { node { urn } } }", i)
	}
	b.WriteString(" }")
	s.code("", b.String(), nil, "COMPLEXITY_LIMIT_EXCEEDED")
	// Huge variables.
	big := map[string]any{"query": `query($x: [String!]) { classifications { name } }`, "variables": map[string]any{"x": strings.Split(strings.Repeat("x,", 600000), ",")}}
	body, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	r := s.post("", body)
	if r.Status != http.StatusRequestEntityTooLarge || r.Errors[0].Extensions["code"] != "REQUEST_TOO_LARGE" {
		t.Fatalf("huge variables: status %d errors %+v", r.Status, r.Errors)
	}
}

func TestAuthentication(t *testing.T) {
	auth := graph.NewAuthenticator([]graph.Token{{Name: "ci", Secret: "s3cret-write", Write: true}, {Name: "dash", Secret: "s3cret-read"}}, graph.AccessNone)
	s := newServer(t, auth)
	r := s.do("", `{ classifications { name } }`, nil)
	if r.Status != http.StatusUnauthorized || r.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
		t.Fatalf("anonymous read: %d %+v", r.Status, r.Errors)
	}
	r = s.do("wrong", `{ classifications { name } }`, nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("bad token: %d %+v", r.Status, r.Errors)
	}
	s.code("s3cret-read", registerTwo, nil, "PERMISSION_DENIED")
	if r := s.do("s3cret-read", `{ classifications { name } }`, nil); len(r.Errors) > 0 {
		t.Fatalf("read token read: %+v", r.Errors)
	}
	r = s.do("s3cret-write", registerTwo, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("write token mutation: %+v", r.Errors)
	}
	cs, err := s.store.Changes(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if last := cs[len(cs)-1]; last.Actor != "token:ci" || last.Origin != "/watershed/graphql" {
		t.Errorf("change actor = %q origin = %q", last.Actor, last.Origin)
	}
}

// wsClient speaks graphql-transport-ws.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, url string, payload map[string]any) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	c := &wsClient{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	c.send(map[string]any{"type": "connection_init", "payload": payload})
	if m := c.read(); m["type"] != "connection_ack" {
		t.Fatalf("init answered %v", m)
	}
	return c
}

func (c *wsClient) send(m map[string]any) {
	c.t.Helper()
	if err := c.conn.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsClient) read() map[string]any {
	c.t.Helper()
	for {
		if err := c.conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			c.t.Fatal(err)
		}
		var m map[string]any
		if err := c.conn.ReadJSON(&m); err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if m["type"] == "ping" || m["type"] == "pong" {
			continue
		}
		return m
	}
}

func TestChangesSubscription(t *testing.T) {
	s := newServer(t, nil)
	c := dialWS(t, s.url, nil)
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { changes(after: "0", types: ["asset.*", "lineage.*"], subject: "urn:dataset:*") { id type subject data } }`,
	}})
	// after: "0" on a fresh store: every change the test writes is delivered,
	// whether the subscription registers before or after the writes.
	s.ok(registerTwo, nil)
	s.ok(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:job:spark://etl/rollup", kind: CONSUMES}) { kind } }`, nil)
	s.ok(`mutation { classify(urn: "urn:dataset:s3://lake/orders", classification: "PII") { urn } }`, nil)
	var got []string
	for len(got) < 2 {
		m := c.read()
		if m["type"] != "next" {
			t.Fatalf("unexpected message %v", m)
		}
		ch := get(m, "payload", "data", "changes")
		got = append(got, get(ch, "type").(string)+" "+get(ch, "subject").(string))
	}
	want := []string{"asset.created urn:dataset:s3://lake/orders", "lineage.edge.added urn:dataset:s3://lake/orders"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("subscription delivered %v, want %v (job and classification filtered out)", got, want)
	}
	// Resuming with `after` replays from that point.
	c2 := dialWS(t, s.url, nil)
	c2.send(map[string]any{"id": "2", "type": "subscribe", "payload": map[string]any{
		"query": `subscription { changes(after: "0", types: ["classification.attached"]) { type subject } }`,
	}})
	if m := c2.read(); get(m, "payload", "data", "changes", "type") != "classification.attached" {
		t.Fatalf("replay delivered %v", m)
	}
	c.send(map[string]any{"id": "1", "type": "complete"})
	c2.send(map[string]any{"id": "2", "type": "complete"})
}

func TestSubscriptionAuth(t *testing.T) {
	auth := graph.NewAuthenticator([]graph.Token{{Name: "dash", Secret: "tok"}}, graph.AccessNone)
	s := newServer(t, auth)
	c := dialWS(t, s.url, map[string]any{"Authorization": "Bearer tok"})
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { changes { id } }`}})
	c.send(map[string]any{"id": "1", "type": "complete"})

	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(s.url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "connection_init"}); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := conn.ReadJSON(&m); err == nil && m["type"] == "connection_ack" {
		t.Fatalf("anonymous websocket was acknowledged: %v", m)
	}
}

type scriptedConfig struct {
	fn func(context.Context) (catalog.Snapshot, error)
}

func (c *scriptedConfig) Validate() error { return nil }
func (c *scriptedConfig) New(crawlers.Env) (crawlers.Crawler, error) {
	return crawlers.CrawlerFunc(c.fn), nil
}

func TestCrawlMutationAndRuns(t *testing.T) {
	calls := 0
	src := crawlers.SourceSpec{Name: "prod", Kind: "scripted", Config: &scriptedConfig{fn: func(ctx context.Context) (catalog.Snapshot, error) {
		calls++
		if calls == 2 {
			return catalog.Snapshot{}, fmt.Errorf("dial tcp: connection refused")
		}
		return catalog.Snapshot{Assets: []catalog.Asset{{URN: "urn:topic:prod/orders"}}}, nil
	}}}
	s := newServerWith(t, nil, []crawlers.SourceSpec{src})
	d := s.ok(`mutation { crawl(source: "prod") { urn source kind trigger status durationMs created changes errors counts } }`, nil)
	if get(d, "crawl", "status") != "SUCCEEDED" || get(d, "crawl", "created") != float64(1) || get(d, "crawl", "trigger") != "manual" || get(d, "crawl", "counts", "TOPIC") != float64(1) {
		t.Fatalf("crawl = %v", d)
	}
	d = s.ok(`mutation { crawl(source: "prod") { status errors } }`, nil)
	if get(d, "crawl", "status") != "FAILED" || get(d, "crawl", "errors", 0) != "dial tcp: connection refused" {
		t.Fatalf("failed crawl = %v", d)
	}
	s.code("", `mutation { crawl(source: "nope") { status } }`, nil, "NOT_FOUND")
	d = s.ok(`{ crawlRuns(source: "prod") { status } sources { name kind running lastRun { status } lease { holder token } } }`, nil)
	if len(get(d, "crawlRuns").([]any)) != 2 || get(d, "crawlRuns", 0, "status") != "FAILED" || get(d, "sources", 0, "lastRun", "status") != "FAILED" || get(d, "sources", 0, "lease") != nil {
		t.Fatalf("runs = %v", d)
	}
	d = s.ok(`{ search(query: "orders") { totalCount } }`, nil)
	if get(d, "search", "totalCount") != float64(1) {
		t.Fatalf("crawled topic not searchable: %v", d)
	}
}

func TestFragmentBombRejected(t *testing.T) {
	s := newServer(t, nil)
	// Nine fragments, each spreading the next ten times: 10^9 fields when
	// expanded, under 1 KiB of text.
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	for i := 0; i < 9; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query {", i)
		for j := 0; j < 10; j++ {
			fmt.Fprintf(&b, " a%d: classifications { name } ...F%d", j, i+1)
		}
		b.WriteString(" }\n")
	}
	b.WriteString("fragment F9 on Query { classifications { name } }\n")
	start := time.Now()
	s.code("", b.String(), nil, "COMPLEXITY_LIMIT_EXCEEDED")
	t.Logf("fragment bomb of %d bytes rejected in %v", b.Len(), time.Since(start))
}

func TestSearchFirstZeroCountsOnly(t *testing.T) {
	s := newServer(t, nil)
	for i := 0; i < 3; i++ {
		s.ok(fmt.Sprintf(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/t%d"}) { urn } }`, i), nil)
	}
	d := s.ok(`{ search(query: "lake", first: 0) { totalCount edges { cursor } } }`, nil)
	if get(d, "search", "totalCount") != float64(3) || len(get(d, "search", "edges").([]any)) != 0 {
		t.Fatalf("first: 0 = %v", d)
	}
}

func TestBearerSchemeCaseInsensitive(t *testing.T) {
	s := newServer(t, graph.NewAuthenticator([]graph.Token{{Name: "ci", Secret: "0123456789abcdef-w", Write: true}}, graph.AccessNone))
	if r := s.do("", `{ classifications { name } }`, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", r.Status)
	}
	body := []byte(`{"query":"{ classifications { name } }"}`)
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "bearer 0123456789abcdef-w")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lower-case bearer scheme: %d", resp.StatusCode)
	}
}

// TestWebsocketSeesFreshData checks that two operations on one websocket
// connection do not share a cache: the second sees the write made between.
func TestWebsocketSeesFreshData(t *testing.T) {
	s := newServer(t, nil)
	s.ok(registerTwo, nil)
	s.ok(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:job:spark://etl/rollup", kind: CONSUMES}) { kind } }`, nil)
	c := dialWS(t, s.url, nil)
	q := `query { asset(urn: "urn:dataset:s3://lake/orders") { downstream { asset { description } } } }`
	read := func(id string) string {
		c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": q}})
		m := c.read()
		desc := get(m, "payload", "data", "asset", "downstream", 0, "asset", "description")
		if done := c.read(); done["type"] != "complete" {
			t.Fatalf("expected complete, got %v", done)
		}
		return fmt.Sprint(desc)
	}
	if got := read("1"); got != "nightly" {
		t.Fatalf("first read = %q", got)
	}
	s.ok(`mutation { setDescription(urn: "urn:job:spark://etl/rollup", description: "hourly") { urn } }`, nil)
	if got := read("2"); got != "hourly" {
		t.Fatalf("second read on the same connection = %q, want hourly", got)
	}
}

func TestWebsocketMessageLimit(t *testing.T) {
	s := newServer(t, nil)
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(s.url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer conn.Close()
	// A normal session still works over the limited connection.
	c := &wsClient{t: t, conn: conn}
	c.send(map[string]any{"type": "connection_init"})
	if m := c.read(); m["type"] != "connection_ack" {
		t.Fatalf("init answered %v", m)
	}
	big := strings.Repeat("x", 2<<20) // twice the default 1 MiB limit
	if err := conn.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": big}}); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil {
			return // the server dropped the connection
		}
		if m["type"] == "next" || m["type"] == "error" {
			t.Fatalf("oversized message was processed: %v", m)
		}
	}
}
