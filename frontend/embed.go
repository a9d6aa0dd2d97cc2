// Package frontend serves Watershed's web UI: the Vite build in dist/,
// embedded in the binary so that `go build` never needs Node.
//
// The build is committed; `make frontend` rebuilds it and CI checks it is
// current. This package is standard library only.
package frontend

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed all:dist
var dist embed.FS

// Handler serves the UI from the embedded build. See [NewHandler].
func Handler() http.Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic("frontend: embedded dist missing: " + err.Error()) // impossible: the embed directive guarantees it
	}
	return NewHandler(sub)
}

// NewHandler serves a built single-page app from files:
//   - a path naming a file serves it; hashed files under /assets/ are
//     cacheable forever, everything else is revalidated;
//   - a missing file under /assets/ or at the root with an extension
//     (/assets/x.js, /favicon.ico) is a 404, never HTML;
//   - any other GET or HEAD serves index.html, so deep links such as
//     /asset/urn:topic:prod/cdc.shop.orders reach the app's router;
//   - other methods get 405.
//
// Text responses are gzip-compressed when the client accepts it (computed
// once per file). Every response carries a Content-Security-Policy that
// allows only same-origin scripts, styles, images, workers and connections
// (including the GraphQL websocket), so the UI needs no network but the
// server's.
func NewHandler(files fs.FS) http.Handler {
	h := &handler{files: files, gz: map[string][]byte{}}
	return h
}

type handler struct {
	files fs.FS
	mu    sync.Mutex
	gz    map[string][]byte
}

// csp forbids everything but this origin. 'unsafe-inline' styles are needed
// by React Flow, which positions nodes with inline style attributes.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self' ws: wss:; worker-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")

	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(h.files, name)
	switch {
	case err == nil:
	case strings.HasPrefix(name, "assets/") || (!strings.Contains(name, "/") && path.Ext(name) != ""):
		// A missing build file or root file (/favicon.ico, /robots.txt). Deep
		// links have dots too (/asset/urn:topic:prod/cdc.shop.orders): they
		// fall through to the app.
		http.NotFound(w, r)
		return
	default:
		// A deep link: let the app route it.
		name = "index.html"
		if data, err = fs.ReadFile(h.files, name); err != nil {
			http.Error(w, "the web UI is not built into this binary", http.StatusNotFound)
			return
		}
	}
	if strings.HasPrefix(name, "assets/") {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = http.DetectContentType(data)
	}
	hdr.Set("Content-Type", ctype)
	hdr.Add("Vary", "Accept-Encoding")
	if compressible(ctype) && len(data) > 1024 && acceptsGzip(r) {
		if z, err := h.gzipped(name, data); err == nil {
			data = z
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// gzipped returns the compressed file, compressing it on first use.
func (h *handler) gzipped(name string, data []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if z, ok := h.gz[name]; ok {
		return z, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip %s: %w", name, err)
	}
	h.gz[name] = buf.Bytes()
	return h.gz[name], nil
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") || strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		return q > 0
	}
	return false
}
