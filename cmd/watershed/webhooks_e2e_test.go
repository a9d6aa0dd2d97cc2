package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestWebhooksThroughTheBinary creates a webhook over GraphQL, sees the
// secret once, receives signed deliveries that the Standard Webhooks library
// verifies, and after a kill -9 mid-backlog gets every pending delivery
// with the same webhook-id.
func TestWebhooksThroughTheBinary(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watershed.yaml")
	if err := os.WriteFile(cfgPath, []byte("webhooks:\n  allow: [127.0.0.0/8]\n  retry: [200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms, 200ms]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var secret string
	down := true // the receiver fails until told otherwise
	byID := map[string]int{}
	var verifyErrs []error
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if down {
			w.WriteHeader(503)
			return
		}
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, r.Header); err != nil {
			verifyErrs = append(verifyErrs, err)
		}
		byID[r.Header.Get("webhook-id")]++
	}))
	defer rc.Close()

	addr := freePort(t)
	p := startServer(t, bin, filepath.Join(dir, "data"), addr, "--config", cfgPath)
	d := p.gql(`mutation($url: String!) { createWebhook(input: {url: $url, types: ["asset.created"], name: "e2e"}) { secret webhook { id enabled activeSecrets } } }`, map[string]any{"url": rc.URL + "/hook"})
	cw := d["createWebhook"].(map[string]any)
	mu.Lock()
	secret = cw["secret"].(string)
	mu.Unlock()
	id := cw["webhook"].(map[string]any)["id"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q", secret)
	}
	// The secret is never shown again: the schema has no field for it.
	if out, _ := json.Marshal(p.gql(`{ webhooks { id name url types enabled activeSecrets } }`, nil)); strings.Contains(string(out), strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("webhooks query shows the secret: %s", out)
	}
	// A hostile URL is refused with a clear error.
	if msg := gqlError(t, addr, `mutation { createWebhook(input: {url: "http://169.254.169.254/latest", types: ["*"]}) { secret } }`); !strings.Contains(msg, "169.254") {
		t.Errorf("metadata URL error = %q", msg)
	}

	const n = 20
	for i := 0; i < n; i++ {
		p.gql(fmt.Sprintf(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/t%d"}) { urn } }`, i), nil)
	}
	// Deliveries fail (503) and wait for retries; kill the server now.
	time.Sleep(300 * time.Millisecond)
	p.kill9()
	mu.Lock()
	down = false
	mu.Unlock()
	p = startServer(t, bin, filepath.Join(dir, "data"), addr, "--config", cfgPath)
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		got := len(byID)
		mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart %d of %d deliveries arrived; logs:\n%s", got, n, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(verifyErrs) > 0 {
		t.Errorf("signatures that do not verify: %v", verifyErrs)
	}
	for wid := range byID {
		if !strings.HasPrefix(wid, "msg_"+id+"_") {
			t.Errorf("webhook-id %q does not name the endpoint and change", wid)
		}
	}
	d = p.gql(`query($id: ID!) { webhook(id: $id) { pending attempts(first: 200) { outcome status } } }`, map[string]any{"id": id})
	atts := d["webhook"].(map[string]any)["attempts"].([]any)
	retries := 0
	for _, a := range atts {
		if a.(map[string]any)["outcome"] == "retry" {
			retries++
		}
	}
	if retries == 0 {
		t.Errorf("the delivery log shows no failed attempt before the restart: %v", atts)
	}
}

// gqlError posts a query expected to fail and returns its first error
// message.
func gqlError(t *testing.T, addr, query string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	resp, err := http.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Errors []struct{ Message string } `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if len(out.Errors) == 0 {
		t.Fatalf("query succeeded: %s", query)
	}
	return out.Errors[0].Message
}
