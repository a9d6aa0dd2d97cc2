package openlineage

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// postRaw posts body with the given headers.
func (e *env) postRaw(path string, body io.Reader, headers map[string]string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.do(req)
}

// The OpenLineage HTTP clients configured with compression: gzip send
// Content-Encoding: gzip — the Python client a gzip.compress()ed body, the
// Java client a chunked GzipCompressingEntity with "application/json;
// charset=UTF-8". Both are recorded exactly as the plain event is.
func TestGzipBody(t *testing.T) {
	e := newEnv(t, nil)
	event := readTestdata(t, "events/spark_run1_complete.json")
	status, m := e.postRaw(LineagePath, bytes.NewReader(gzipBytes(t, event)), map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip"})
	if status != http.StatusCreated || m["job"] != string(sparkJob) {
		t.Fatalf("python-style gzip: %d %v", status, m)
	}
	want := e.edges(sparkJob, SourceOpenLineage)
	if len(want) == 0 {
		t.Fatal("the gzip event linked nothing")
	}

	// The Java client streams it chunked; the same event again changes nothing.
	pr, pw := io.Pipe()
	go func() {
		_, err := pw.Write(gzipBytes(t, event))
		pw.CloseWithError(err)
	}()
	seq := e.lastSeq()
	status, m = e.postRaw(LineagePath, pr, map[string]string{"Content-Type": "application/json; charset=UTF-8", "Content-Encoding": "gzip"})
	if status != http.StatusCreated || m["changes"] != float64(0) {
		t.Fatalf("java-style chunked gzip: %d %v", status, m)
	}
	if e.lastSeq() != seq {
		t.Error("the repeated event wrote changes")
	}
	equalStrings(t, "edges", e.edges(sparkJob, SourceOpenLineage), want)

	// A topology may be gzipped too.
	body, _ := json.Marshal(TopologyRequest{ApplicationID: "wordcount", Cluster: "prod", Topology: string(readTestdata(t, "topologies/wordcount.txt"))})
	if status, m := e.postRaw(TopologiesPath, bytes.NewReader(gzipBytes(t, body)), map[string]string{"Content-Type": "application/json", "Content-Encoding": "x-gzip"}); status != http.StatusCreated {
		t.Fatalf("gzip topology: %d %v", status, m)
	}
}

// A gzip body is bounded after decompression by MaxBodyBytes, like a plain
// one: a small body cannot inflate into a large one. Broken gzip and other
// encodings are refused, and nothing is written.
func TestGzipBodyRefused(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	before := e.lastSeq()
	event := readTestdata(t, "events/spark_run1_complete.json")
	// 64 KiB + 1 of JSON inflated from a few hundred bytes.
	bomb := gzipBytes(t, append([]byte(`{"pad":"`), bytes.Repeat([]byte("a"), 64<<10)...))
	if len(bomb) > 1<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	noise := make([]byte, 80<<10)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	incompressible := gzipBytes(t, noise)
	truncated := gzipBytes(t, event)
	truncated = truncated[:len(truncated)-12]
	cases := []struct {
		name     string
		body     []byte
		encoding string
		status   int
		want     string
	}{
		{"inflates beyond the limit", bomb, "gzip", 413, "request body exceeds 64 KiB after gzip decompression"},
		{"compressed beyond the limit", incompressible, "gzip", 413, "request body exceeds 64 KiB"},
		{"not gzip", event, "gzip", 400, "request body is not valid gzip: gzip: invalid header"},
		{"truncated", truncated, "gzip", 400, "not valid gzip: unexpected EOF"},
		{"brotli", event, "br", 415, `Content-Encoding "br" is not supported`},
		{"two encodings", gzipBytes(t, gzipBytes(t, event)), "gzip, gzip", 415, "is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, m := e.postRaw(LineagePath, bytes.NewReader(c.body), map[string]string{"Content-Type": "application/json", "Content-Encoding": c.encoding})
			if msg, _ := m["error"].(string); status != c.status || !strings.Contains(msg, c.want) {
				t.Errorf("status %d, error %q; want %d containing %q", status, msg, c.status, c.want)
			}
		})
	}
	if e.lastSeq() != before {
		t.Error("a refused body wrote changes")
	}
}

// With anonymous write access (the loopback default) any web page could
// make a visitor's browser post to the push endpoints: a text/plain POST is
// a CORS simple request, sent without a preflight. The endpoints require a
// JSON content type and refuse requests a browser marks as cross-site by
// Origin or Sec-Fetch-Site; programs (no Origin) and the server's own pages
// pass.
func TestCrossSiteWritesRefused(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.AllowedOrigins = []string{"https://ui.example.com/"} })
	event := string(readTestdata(t, "events/docs_start.json"))
	topology, _ := json.Marshal(TopologyRequest{ApplicationID: "wordcount", Cluster: "prod", Topology: string(readTestdata(t, "topologies/wordcount.txt"))})
	self := "http://" + strings.TrimPrefix(e.srv.URL, "http://")
	refused := []struct {
		name    string
		headers map[string]string
		status  int
		want    string
	}{
		{"a page posting text/plain", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403, "cross-site requests are refused"},
		{"a page posting a form", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"}, 403, `Origin: "https://evil.example" is not this server`},
		{"JSON from another origin", map[string]string{"Content-Type": "application/json", "Origin": "http://localhost:1"}, 403, "is not this server"},
		{"sandboxed frame", map[string]string{"Content-Type": "application/json", "Origin": "null"}, 403, `Origin: "null"`},
		{"same-site is not same-origin", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site"}, 403, "Sec-Fetch-Site: same-site"},
		{"cross-site without Origin", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403, "Sec-Fetch-Site: cross-site"},
		{"text/plain from a script", map[string]string{"Content-Type": "text/plain"}, 415, `Content-Type "text/plain" is not supported: send application/json`},
		{"multipart from a script", map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, 415, "send application/json"},
		{"no content type", map[string]string{}, 415, "Content-Type is missing"},
		{"latin-1 JSON", map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}, 415, `charset "iso-8859-1" is not supported`},
	}
	for _, path := range []string{LineagePath, TopologiesPath} {
		body := event
		if path == TopologiesPath {
			body = string(topology)
		}
		before := e.lastSeq()
		for _, c := range refused {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				status, m := e.postRaw(path, strings.NewReader(body), c.headers)
				if msg, _ := m["error"].(string); status != c.status || !strings.Contains(msg, c.want) {
					t.Errorf("status %d, error %q; want %d containing %q", status, msg, c.status, c.want)
				}
			})
		}
		if e.lastSeq() != before {
			t.Fatalf("%s: a refused request wrote changes", path)
		}
		accepted := []map[string]string{
			{"Content-Type": "application/json"},                                                                             // curl, the OpenLineage clients
			{"Content-Type": "application/json", "Origin": self, "Sec-Fetch-Site": "same-origin"},                            // the server's own page
			{"Content-Type": "application/json", "Origin": "https://UI.example.com", "Sec-Fetch-Site": "cross-site"},         // an allowed origin
			{"Content-Type": "application/vnd.openlineage+json; charset=utf-8", "Sec-Fetch-Site": "none"},                    // typed by the user
			{"Content-Type": "application/json", "Origin": "https://watershed.example.com", "Sec-Fetch-Site": "same-origin"}, // the server's page behind a proxy
			{"Content-Type": "application/json", "Origin": self},                                                             // a browser without Sec-Fetch-Site, same origin
		}
		for i, h := range accepted {
			if status, m := e.postRaw(path, strings.NewReader(body), h); status != http.StatusCreated {
				t.Errorf("%s: accepted[%d] %v: %d %v", path, i, h, status, m)
			}
		}
	}
	if got := e.edges(catalog.URN("urn:job:my-namespace/my-job"), SourceOpenLineage); len(got) == 0 {
		t.Error("the accepted event linked nothing")
	}
}
