package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/graph"
)

// lockedBuffer is a log sink safe for the handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// countingCatalog counts the writes that reach the store.
type countingCatalog struct {
	graph.Catalog
	applies atomic.Int64
}

func (c *countingCatalog) Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error) {
	c.applies.Add(1)
	return c.Catalog.Apply(ctx, b)
}

type hardServer struct {
	*server
	handler http.Handler
	logs    *lockedBuffer
	catalog *countingCatalog
}

// newHardServer serves the real handler with the given options, a counting
// catalog and a log captured at debug level.
func newHardServer(t *testing.T, o graph.Options) *hardServer {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cat := &countingCatalog{Catalog: s}
	logs := &lockedBuffer{}
	o.Resolver = &graph.Resolver{Catalog: cat, Changes: changelog.New(changelog.Options{Log: s, Cursors: s})}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := graph.NewHandler(o)
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		if err := s.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &hardServer{server: &server{t: t, url: ts.URL, store: s}, handler: h, logs: logs, catalog: cat}
}

func typenames(n int) string { return "{" + strings.Repeat(" __typename", n) + " }" }

// TestRepeatedFieldsRefusedBeforeValidation: the validator compares every
// pair of fields that share a response name, so these documents cost
// minutes of CPU (or gigabytes of errors) there; they must be refused
// before it runs, with one clear error.
func TestRepeatedFieldsRefusedBeforeValidation(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := 0; i < 1360; i++ {
		fmt.Fprintf(&aliases, ` a: asset(urn: "urn:topic:p/t%d") { urn }`, i)
	}
	aliases.WriteString("}")
	var fragments strings.Builder
	fragments.WriteString("{ ...F0 }")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&fragments, " fragment F%d on Query { __typename __typename ...F%d }", i, i+1)
	}
	fragments.WriteString(" fragment F400 on Query { __typename }")
	cases := []struct{ name, query, where string }{
		{"__typename x 14,000", typenames(14000), "at the top level"},
		{"1,360 conflicting aliases", aliases.String(), `"a" is selected 1360 times`},
		{"nested repeats", "{ classifications {" + strings.Repeat(" name", 2000) + " } }", "under classifications"},
		{"repeats spread over fragments", fragments.String(), `"__typename"`},
		{"repeats in an unused fragment", "{ __typename } fragment Big on Query {" + strings.Repeat(" __typename", 1000) + " }", "at the top level"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("", c.query, nil)
			if r.Status != http.StatusUnprocessableEntity || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "OVERLAPPING_FIELDS_LIMIT_EXCEEDED" {
				t.Fatalf("status %d, %d errors, first %+v; want one OVERLAPPING_FIELDS_LIMIT_EXCEEDED (422)", r.Status, len(r.Errors), first(r.Errors))
			}
			if msg := r.Errors[0].Message; !strings.Contains(msg, c.where) {
				t.Errorf("message %q does not say %q", msg, c.where)
			}
		})
	}
	// Repeats a real client sends (fragments that overlap) still work.
	q := `{ ...A ...B a1: classifications { name } a1: classifications { name description } } fragment A on Query { classifications { name } } fragment B on Query { classifications { name description } }`
	if d := s.ok(q, nil); d["classifications"] == nil || d["a1"] == nil {
		t.Fatalf("overlapping fragments answered %v", d)
	}
	if d := s.ok("{"+strings.Repeat(" __typename", 300)+" }", nil); d["__typename"] != "Query" {
		t.Fatalf("300 repeats answered %v", d)
	}
}

func first(errs []gqlError) any {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}

// TestErrorListCapped: a document with thousands of errors gets at most 100
// of them and a last TOO_MANY_ERRORS entry.
func TestErrorListCapped(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, " a%d: nope", i)
	}
	b.WriteString(" }")
	r := s.do("", b.String(), nil)
	if len(r.Errors) != 101 {
		t.Fatalf("%d errors, want 100 and a TOO_MANY_ERRORS entry", len(r.Errors))
	}
	if r.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" || r.Errors[100].Extensions["code"] != "TOO_MANY_ERRORS" {
		t.Fatalf("codes %v ... %v", r.Errors[0].Extensions["code"], r.Errors[100].Extensions["code"])
	}
}

// TestCanceledRequestDoesNoWork: a request whose client has gone is
// neither validated nor executed.
func TestCanceledRequestDoesNoWork(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body, err := json.Marshal(map[string]any{"query": `mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/gone"}) { urn } }`})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if n := s.catalog.applies.Load(); n != 0 {
		t.Fatalf("the canceled request reached the store %d times", n)
	}
	if !strings.Contains(rec.Body.String(), `"CANCELED"`) {
		t.Fatalf("answer %s, want code CANCELED", rec.Body.String())
	}
}

// TestMalformedRequests: what is not a GraphQL request gets a 4xx with a
// client error code, and nothing of it reaches the log at ERROR (nor its
// body at any level).
func TestMalformedRequests(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	marker := "MARKER-" + strings.Repeat("m", 1000)
	cases := []struct {
		name, method, ctype, body string
		status                    int
	}{
		{"not JSON", "POST", "application/json", "not json " + marker, 400},
		{"truncated", "POST", "application/json", `{"query": "` + marker, 400},
		{"query not a string", "POST", "application/json", `{"query": 123, "x": "` + marker + `"}`, 400},
		{"10,001 levels deep", "POST", "application/json", strings.Repeat("[", 10001) + `"` + marker + `"` + strings.Repeat("]", 10001), 400},
		{"65 levels deep variables", "POST", "application/json", `{"query": "{__typename}", "variables": {"v": ` + strings.Repeat("[", 64) + `"` + marker + `"` + strings.Repeat("]", 64) + `}}`, 400},
		{"batched array", "POST", "application/json", `[{"query": "{ __typename }"}, {"query": "` + marker + `"}]`, 400},
		{"variables not an object", "POST", "application/json", `{"query": "{ __typename }", "variables": "` + marker + `"}`, 400},
		{"operationName a number", "POST", "application/json", `{"query": "{ __typename }", "operationName": 5}`, 400},
		{"no query", "POST", "application/json", `{"variables": {}}`, 400},
		{"1 MB truncated", "POST", "application/json", `{"query": "{ __typename }", "x": "` + marker + strings.Repeat("a", 1<<20-2000), 400},
		{"text/plain", "POST", "text/plain", `{"query": "{ __typename }"}`, 415},
		{"PUT", "PUT", "application/json", `{"query": "{ __typename }"}`, 405},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, s.url, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", c.ctype)
			r := s.send(req)
			if r.Status != c.status || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" {
				t.Fatalf("status %d errors %+v; want %d BAD_REQUEST", r.Status, r.Errors, c.status)
			}
			if strings.Contains(r.Errors[0].Message, "MARKER") {
				t.Errorf("the answer echoes the body: %.200s", r.Errors[0].Message)
			}
		})
	}
	for _, c := range []struct{ name, query string }{
		{"GET variables not JSON", "?query=%7B__typename%7D&variables=%7Bx"},
		{"GET without query", "?variables=%7B%7D"},
	} {
		req, err := http.NewRequest(http.MethodGet, s.url+c.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.send(req); r.Status != 400 || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" {
			t.Errorf("%s: status %d errors %+v; want 400 BAD_REQUEST", c.name, r.Status, r.Errors)
		}
	}
	req, err := http.NewRequest(http.MethodGet, s.url+`?query=mutation%7BdefineClassification(name:%22x%22)%7Bname%7D%7D`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := s.send(req); r.Status != 422 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" || s.catalog.applies.Load() != 0 {
		t.Errorf("GET mutation: status %d errors %+v, %d writes", r.Status, r.Errors, s.catalog.applies.Load())
	}
	logs := s.logs.String()
	if strings.Contains(logs, "level=ERROR") || strings.Contains(logs, "MARKER") {
		t.Fatalf("malformed requests were logged at ERROR or with their body:\n%.2000s", logs)
	}
}

func (s *hardServer) send(req *http.Request) response {
	s.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []gqlError     `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode response %q (status %d): %v", b, resp.StatusCode, err)
	}
	return response{Status: resp.StatusCode, Data: out.Data, Errors: out.Errors}
}

// TestJSONPropertiesDepthBounded: deeply nested properties are refused,
// not stored and served back.
func TestJSONPropertiesDepthBounded(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	nest := func(n int) any {
		v := any("leaf")
		for i := 0; i < n; i++ {
			v = map[string]any{"a": v}
		}
		return v
	}
	const mut = `mutation($p: JSON) { registerAsset(input: {urn: "urn:dataset:s3://lake/deep", properties: $p}) { urn properties } }`
	s.code("", mut, map[string]any{"p": nest(33)}, "INVALID_ARGUMENT")
	literal := `mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/deep", properties: ` + strings.Repeat("{a: ", 40) + "1" + strings.Repeat("}", 40) + `}) { urn } }`
	s.code("", literal, nil, "INVALID_ARGUMENT")
	body, err := json.Marshal(map[string]any{"query": mut, "variables": map[string]any{"p": nest(9000)}})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.post("", body); r.Status != 400 || r.Errors[0].Extensions["code"] != "BAD_REQUEST" {
		t.Fatalf("9,000 levels: status %d errors %+v", r.Status, r.Errors)
	}
	if n := s.catalog.applies.Load(); n != 0 {
		t.Fatalf("%d deep writes reached the store", n)
	}
	if d := s.ok(mut, map[string]any{"p": nest(32)}); get(d, "registerAsset", "urn") != "urn:dataset:s3://lake/deep" {
		t.Fatalf("32 levels answered %v", d)
	}
}

// TestInvisibleNamesRefused: URNs and owners with invisible, control or
// line-breaking characters are refused with INVALID_ARGUMENT.
func TestInvisibleNamesRefused(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	s.ok(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/orders"}) { urn } }`, nil)
	for _, u := range []string{"urn:dataset:s3://lake/ord\u200bers", "urn:dataset:s3://lake/\u202eorders", "urn:dataset:s3://lake/a\nb"} {
		s.code("", `mutation($u: URN!) { registerAsset(input: {urn: $u}) { urn } }`, map[string]any{"u": u}, "INVALID_ARGUMENT")
	}
	for _, o := range []string{"al\nice", "ali\u200bce", "team\tdata"} {
		s.code("", `mutation($o: String!) { setOwners(urn: "urn:dataset:s3://lake/orders", owners: ["bob", $o]) { owners } }`, map[string]any{"o": o}, "INVALID_ARGUMENT")
	}
	d := s.ok(`mutation { setOwners(urn: "urn:dataset:s3://lake/orders", owners: ["Data Platform", "alice"]) { owners } }`, nil)
	if got := fmt.Sprint(get(d, "setOwners", "owners")); got != "[Data Platform alice]" && got != "[alice Data Platform]" {
		t.Fatalf("owners = %s", got)
	}
}

// wsDial opens a graphql-transport-ws connection without initialising it.
func wsDial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestSubscribeBeforeInitCloses4401 follows graphql-transport-ws: a
// subscribe before connection_init closes the socket with 4401.
func TestSubscribeBeforeInitCloses4401(t *testing.T) {
	s := newHardServer(t, graph.Options{})
	for _, fragmented := range []bool{false, true} {
		conn := wsDial(t, s.url)
		msg := []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { changes { id } }"}}`)
		if fragmented { // the same message in three frames
			w, err := conn.NextWriter(websocket.TextMessage)
			if err != nil {
				t.Fatal(err)
			}
			for _, part := range [][]byte{msg[:10], msg[10:30], msg[30:]} {
				if _, err := w.Write(part); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		} else if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		for {
			_, m, err := conn.ReadMessage()
			if err == nil {
				t.Fatalf("fragmented=%v: got message %s before the close", fragmented, m)
			}
			if !websocket.IsCloseError(err, 4401) {
				t.Fatalf("fragmented=%v: %v, want close 4401", fragmented, err)
			}
			break
		}
	}
	// An initialised connection subscribes as before.
	c := dialWS(t, s.url, nil)
	// after: "0" replays from the log's start (the store is fresh), so the
	// answer does not depend on the subscription being registered before the write.
	c.send(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": `subscription { changes(after: "0") { id type } }`}})
	s.ok(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/orders"}) { urn } }`, nil)
	for { // the built-in classification definitions come first
		m := c.read()
		if m["type"] != "next" {
			t.Fatalf("subscription answered %v", m)
		}
		if get(m, "payload", "data", "changes", "type") == "asset.created" {
			break
		}
	}
}

// TestSubscriptionCaps: past the per-connection and server-wide caps a
// subscribe is answered with a protocol `error` message; completing one
// frees its slot.
func TestSubscriptionCaps(t *testing.T) {
	s := newHardServer(t, graph.Options{Limits: graph.Limits{MaxSubscriptionsPerConnection: 3, MaxSubscriptions: 5}})
	sub := func(c *wsClient, id string) {
		c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": "subscription { changes { id } }"}})
	}
	// refused reads until the answer for id and reports its error message.
	refused := func(c *wsClient, id string) string {
		t.Helper()
		for {
			m := c.read()
			if m["id"] != id {
				continue
			}
			if m["type"] != "error" {
				t.Fatalf("subscription %s answered %v, want an error message", id, m)
			}
			if code := get(m, "payload", 0, "extensions", "code"); code != "SUBSCRIPTION_LIMIT_EXCEEDED" {
				t.Fatalf("error code %v", code)
			}
			return fmt.Sprint(get(m, "payload", 0, "message"))
		}
	}
	a := dialWS(t, s.url, nil)
	for _, id := range []string{"1", "2", "3", "4"} {
		sub(a, id)
	}
	if msg := refused(a, "4"); !strings.Contains(msg, "this connection") {
		t.Fatalf("per-connection refusal says %q", msg)
	}
	b := dialWS(t, s.url, nil)
	for _, id := range []string{"1", "2", "3"} {
		sub(b, id)
	}
	if msg := refused(b, "3"); !strings.Contains(msg, "the server") {
		t.Fatalf("server-wide refusal says %q", msg)
	}
	// Completing one of a's subscriptions lets b subscribe: the slot comes
	// back once the subscription's goroutine has ended, so retry briefly.
	a.send(map[string]any{"id": "1", "type": "complete"})
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; ; n++ {
		id := fmt.Sprintf("retry-%d", n)
		// after: "0" replays history, so a live subscription always answers
		// `next` even if it registers after the write below.
		b.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": `subscription { changes(after: "0") { id } }`}})
		s.ok(fmt.Sprintf(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/t%d"}) { urn } }`, n), nil)
		got := ""
		for got == "" {
			m := b.read()
			switch {
			case m["id"] == id && m["type"] == "error":
				got = "refused"
			case m["id"] == id && m["type"] == "next":
				got = "live"
			}
		}
		if got == "live" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the completed subscription's slot never came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEveryErrorCodeIsListed provokes every kind of error the endpoint
// gives and checks that each carries a code schema.graphql lists.
func TestEveryErrorCodeIsListed(t *testing.T) {
	schema, err := os.ReadFile("../schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	header := string(schema)[:strings.Index(string(schema), "schema {")]
	listed := map[string]bool{}
	for _, c := range regexp.MustCompile(`\b[A-Z][A-Z_]{4,}\b`).FindAllString(header, -1) {
		listed[c] = true
	}
	auth := graph.NewAuthenticator([]graph.Token{{Name: "ci", Secret: "s3cret-write", Write: true}, {Name: "dash", Secret: "s3cret-read"}}, graph.AccessNone)
	s := newHardServer(t, graph.Options{Auth: auth, Limits: graph.Limits{MaxSubscriptionsPerConnection: 1}})
	seen := map[string]bool{}
	check := func(what string, errs []gqlError) {
		t.Helper()
		if len(errs) == 0 {
			t.Errorf("%s: no error", what)
		}
		for _, e := range errs {
			code, _ := e.Extensions["code"].(string)
			if !listed[code] {
				t.Errorf("%s: code %q (%s) is not listed in schema.graphql", what, code, e.Message)
			}
			seen[code] = true
		}
	}
	const w, rd = "s3cret-write", "s3cret-read"
	for _, c := range []struct{ what, token, query string }{
		{"not found", rd, `{ asset(urn: "urn:topic:p/none") { urn } }`},
		{"bad urn", rd, `{ asset(urn: "nope") { urn } }`},
		{"parse", rd, `{ asset(`},
		{"validation", rd, `{ nope }`},
		{"no token", "", `{ __typename }`},
		{"read token writes", rd, `mutation { defineClassification(name: "x") { name } }`},
		{"depth", rd, `{ asset(urn: "urn:topic:a/b") { ` + strings.Repeat(`downstream { asset { `, 12) + `urn` + strings.Repeat(` } }`, 12) + ` } }`},
		{"complexity", rd, "{" + func() string {
			var b strings.Builder
			for i := 0; i < 40; i++ {
				fmt.Fprintf(&b, " s%d: search(first: 500) { edges { node { urn } } }", i)
			}
			return b.String()
		}() + " }"},
		{"tokens", rd, typenames(16000)},
		{"overlap", rd, typenames(14000)},
		{"too many errors", rd, "{" + func() string {
			var b strings.Builder
			for i := 0; i < 200; i++ {
				fmt.Fprintf(&b, " a%d: nope", i)
			}
			return b.String()
		}() + " }"},
		{"self lineage", w, `mutation { addLineage(input: {from: "urn:topic:p/a", to: "urn:topic:p/a", kind: CONSUMES}) { kind } }`},
	} {
		check(c.what, s.do(c.token, c.query, nil).Errors)
	}
	for _, c := range []struct{ what, method, ctype, body string }{
		{"malformed", "POST", "application/json", "{"},
		{"content type", "POST", "text/plain", "{}"},
		{"method", "DELETE", "", ""},
		{"too large", "POST", "application/json", `{"query": "` + strings.Repeat("x", 2<<20) + `"}`},
	} {
		req, err := http.NewRequest(c.method, s.url, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", c.ctype)
		req.Header.Set("Authorization", "Bearer "+rd)
		check(c.what, s.send(req).Errors)
	}
	// A subscription past the per-connection cap.
	c := dialWS(t, s.url, map[string]any{"Authorization": "Bearer " + rd})
	for _, id := range []string{"1", "2"} {
		c.send(map[string]any{"id": id, "type": "subscribe", "payload": map[string]any{"query": "subscription { changes { id } }"}})
	}
	for {
		m := c.read()
		if m["id"] == "2" {
			b, err := json.Marshal(m["payload"])
			if err != nil {
				t.Fatal(err)
			}
			var errs []gqlError
			if err := json.Unmarshal(b, &errs); err != nil {
				t.Fatalf("subscription error payload %s: %v", b, err)
			}
			check("subscriptions", errs)
			break
		}
	}
	for _, want := range []string{"NOT_FOUND", "INVALID_ARGUMENT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "UNAUTHENTICATED",
		"DEPTH_LIMIT_EXCEEDED", "COMPLEXITY_LIMIT_EXCEEDED", "TOKEN_LIMIT_EXCEEDED", "OVERLAPPING_FIELDS_LIMIT_EXCEEDED", "TOO_MANY_ERRORS",
		"BAD_REQUEST", "REQUEST_TOO_LARGE", "SUBSCRIPTION_LIMIT_EXCEEDED"} {
		if !seen[want] {
			t.Errorf("no case produced %s", want)
		}
	}
}
