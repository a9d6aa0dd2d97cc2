package schemaregistry

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"
)

// apicurioFront serves reg the way Apicurio Registry 3's
// Confluent-compatible API answers subject-level compatibility: a subject
// without a level of its own gets 200 and Apicurio's default NONE (where
// Confluent answers 404) unless defaultToGlobal=true asks for the global
// level. Seen against Apicurio 3.3.3 by internal/realestate.
func apicurioFront(t *testing.T, reg interface{ URL() string }) string {
	t.Helper()
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/config/") && r.URL.Query().Get("defaultToGlobal") != "true" {
			rec := httptest.NewRecorder()
			proxy.ServeHTTP(rec, r)
			if rec.Code == http.StatusNotFound {
				w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
				w.Write([]byte(`{"compatibilityLevel":"NONE"}`))
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCrawlApicurioInheritedCompatibility: behind Apicurio's answers, a
// subject without a level of its own still inherits the global level (the
// one the registry enforces), while a subject's own level, even NONE, stays
// the subject's.
func TestCrawlApicurioInheritedCompatibility(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "orders-value", `{"type":"string"}`, sr.TypeAvro)
	register(t, reg, "audit-value", `{"type":"string"}`, sr.TypeAvro)
	register(t, reg, "payments-value", `{"type":"string"}`, sr.TypeAvro)
	cl := srClient(t, reg)
	for subject, level := range map[string]sr.CompatibilityLevel{"audit-value": sr.CompatNone, "payments-value": sr.CompatFull} {
		if res := cl.SetCompatibility(testCtx(t), sr.SetCompatibility{Level: level}, subject); len(res) != 1 || res[0].Err != nil {
			t.Fatalf("set compatibility of %s: %+v", subject, res)
		}
	}
	cfg := noSample(reg)
	cfg.URL = apicurioFront(t, reg)
	snap := crawlOnce(t, newTestCrawler(t, cfg, nil))
	for _, tc := range []struct{ subject, level, source string }{
		{"orders-value", `"BACKWARD"`, `"global"`},
		{"audit-value", `"NONE"`, `"subject"`},
		{"payments-value", `"FULL"`, `"subject"`},
	} {
		a := mustAsset(t, snap, subjectURN(tc.subject))
		if got := propJSON(t, a.Properties, "compatibility"); got != tc.level {
			t.Errorf("%s compatibility %s, want %s", tc.subject, got, tc.level)
		}
		if got := propJSON(t, a.Properties, "compatibilitySource"); got != tc.source {
			t.Errorf("%s compatibilitySource %s, want %s", tc.subject, got, tc.source)
		}
	}
}
