package main

import (
	"context"
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

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/changelog/kafkalog"
)

// TestServeOnKafkaChangeLog runs the binary with the Kafka change log on an
// in-process cluster (kfake): propagation and webhooks work through
// consumer groups, the topic carries CloudEvents keyed by subject, and a
// kill -9 and restart resume where the groups left off, delivering each
// webhook once.
func TestServeOnKafkaChangeLog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bin := buildBinary(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "watershed.yaml")
	cfg := fmt.Sprintf("replica: r1\nchangelog: {kind: kafka, bootstrap: [%q], partitions: 4}\nwebhooks: {allow: [127.0.0.0/8]}\n", c.ListenAddrs()[0])
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	byID := map[string]int{}
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		byID[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}))
	defer rc.Close()

	addr := freePort(t)
	p := startServer(t, bin, filepath.Join(dir, "data"), addr, "--config", cfgPath)
	p.gql(`mutation($url: String!) { createWebhook(input: {url: $url, types: ["classification.attached"], name: "k"}) { secret } }`, map[string]any{"url": rc.URL})
	p.gql(`mutation {
	  a: registerAsset(input: {urn: "urn:dataset:s3://lake/a"}) { urn }
	  b: registerAsset(input: {urn: "urn:dataset:s3://lake/b"}) { urn }
	}`, nil)
	p.gql(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/a", to: "urn:dataset:s3://lake/b", kind: DERIVES}) { kind } }`, nil)
	p.gql(`mutation { classify(urn: "urn:dataset:s3://lake/a", classification: "PII.Email") { urn } }`, nil)
	carries := func(u string) bool {
		d := p.gql(`query($u: URN!) { asset(urn: $u) { classifications { name direct } } }`, map[string]any{"u": u})
		for _, a := range d["asset"].(map[string]any)["classifications"].([]any) {
			if a := a.(map[string]any); a["name"] == "PII.Email" && a["direct"] == false {
				return true
			}
		}
		return false
	}
	waitFor(t, p, "b carries PII.Email (propagation through its consumer group)", func() bool { return carries("urn:dataset:s3://lake/b") })
	waitFor(t, p, "the webhook delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(byID) == 1 })

	// kill -9, restart on the same data dir: the groups resume.
	p.kill9()
	p = startServer(t, bin, filepath.Join(dir, "data"), addr, "--config", cfgPath)
	p.gql(`mutation { registerAsset(input: {urn: "urn:dataset:s3://lake/c"}) { urn } }`, nil)
	p.gql(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/b", to: "urn:dataset:s3://lake/c", kind: DERIVES}) { kind } }`, nil)
	waitFor(t, p, "c carries PII.Email after the restart", func() bool { return carries("urn:dataset:s3://lake/c") })
	p.gql(`mutation { classify(urn: "urn:dataset:s3://lake/c", classification: "Confidential") { urn } }`, nil)
	waitFor(t, p, "the second delivery", func() bool { mu.Lock(); defer mu.Unlock(); return len(byID) == 2 })
	mu.Lock()
	for id, n := range byID {
		if n != 1 {
			t.Errorf("webhook %s delivered %d times", id, n)
		}
	}
	mu.Unlock()

	// The topic: CloudEvents JSON keyed by subject, readable by any client.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(kafkalog.DefaultTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for found := false; !found; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("no classification.attached record for urn:dataset:s3://lake/a in the topic")
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == "urn:dataset:s3://lake/a" && strings.Contains(string(r.Value), `"type":"classification.attached"`) &&
				len(r.Headers) == 1 && string(r.Headers[0].Value) == kafkalog.ContentType {
				found = true
			}
		})
	}
}

func waitFor(t *testing.T, p *process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; logs:\n%s", what, p.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
