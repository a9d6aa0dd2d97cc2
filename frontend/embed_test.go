package frontend

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testFS() fstest.MapFS {
	return fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><div id=root></div>")},
		"assets/index-1.js":  {Data: []byte(strings.Repeat("console.log('watershed');\n", 200))},
		"assets/index-1.css": {Data: []byte("body{}")},
	}
}

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerServesFilesAndDeepLinks(t *testing.T) {
	h := NewHandler(testFS())
	for _, tc := range []struct {
		path, wantType, wantBody, wantCache string
		wantStatus                          int
	}{
		{"/", "text/html", "<div id=root>", "no-cache", 200},
		{"/asset/urn:topic:prod/orders", "text/html", "<div id=root>", "no-cache", 200},
		{"/lineage/urn:column:postgres://db:5432/shop.public.customers/email?level=field", "text/html", "<div id=root>", "no-cache", 200},
		{"/asset/urn:topic:prod/cdc.shop.customers", "text/html", "<div id=root>", "no-cache", 200},
		{"/search", "text/html", "<div id=root>", "no-cache", 200},
		{"/assets/index-1.css", "text/css", "body{}", "immutable", 200},
		{"/assets/missing.js", "text/plain", "404", "", 404},
		{"/favicon.ico", "text/plain", "404", "", 404},
		{"/../../etc/passwd", "text/html", "<div id=root>", "no-cache", 200},
	} {
		rec := get(t, h, http.MethodGet, tc.path, nil)
		if rec.Code != tc.wantStatus {
			t.Errorf("%s: status %d, want %d", tc.path, rec.Code, tc.wantStatus)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
			t.Errorf("%s: Content-Type %q, want %s", tc.path, ct, tc.wantType)
		}
		if !strings.Contains(rec.Body.String(), tc.wantBody) {
			t.Errorf("%s: body %q lacks %q", tc.path, rec.Body.String(), tc.wantBody)
		}
		if !strings.Contains(rec.Header().Get("Cache-Control"), tc.wantCache) {
			t.Errorf("%s: Cache-Control %q, want %q", tc.path, rec.Header().Get("Cache-Control"), tc.wantCache)
		}
		if tc.wantStatus == 200 && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("%s: no CSP", tc.path)
		}
	}
}

func TestHandlerGzipsLargeText(t *testing.T) {
	h := NewHandler(testFS())
	rec := get(t, h, http.MethodGet, "/assets/index-1.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(testFS()["assets/index-1.js"].Data) {
		t.Fatal("gzip body differs from the file")
	}
	for _, ae := range []string{"", "identity", "gzip;q=0", "gzip; q=0.0"} {
		rec := get(t, h, http.MethodGet, "/assets/index-1.js", map[string]string{"Accept-Encoding": ae})
		if rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("Accept-Encoding %q: got %q, want identity", ae, rec.Header().Get("Content-Encoding"))
		}
	}
	rec = get(t, h, http.MethodGet, "/assets/index-1.js", map[string]string{"Accept-Encoding": "gzip;q=0.5"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Errorf("gzip;q=0.5 not honoured")
	}
}

func TestHandlerRejectsWrites(t *testing.T) {
	rec := get(t, NewHandler(testFS()), http.MethodPost, "/", nil)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("POST /: %d, want 405", rec.Code)
	}
}

func TestEmbeddedBuildHasTheApp(t *testing.T) {
	rec := get(t, Handler(), http.MethodGet, "/asset/urn:topic:prod/orders", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `id="root"`) {
		t.Fatalf("embedded index.html: %d %q", rec.Code, rec.Body.String())
	}
	if !strings.Contains(rec.Body.String(), "/assets/") {
		t.Fatal("embedded index.html references no built assets: run make frontend")
	}
}
