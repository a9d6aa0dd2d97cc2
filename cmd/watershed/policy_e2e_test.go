package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a bytes.Buffer safe for a child's output and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// delivery is one webhook the receiver accepted.
type delivery struct {
	id, typ, subject string
	data             map[string]any
	at               time.Time
	verifyErr        error
}

// TestPolicyViolationsThroughTheDemo is the policy stage's "done means",
// through the binary: on `watershed demo`, with a webhook subscribed to
// policy.violation.*, a new consumer group that starts reading a PII topic
// without being allowlisted gets a signed policy.violation.opened as soon
// as a crawl sees it; when the group goes away, policy.violation.resolved.
//
// The crawler sees groups when it crawls (on its schedule; here the
// crawl(source:) mutation), so "within a second" is measured from the
// crawl that saw the change to the delivery: crawl commit → policy engine
// → violation commit → webhook dispatcher → signed POST. The test logs
// that latency and asserts only a generous bound (a loaded CI machine).
func TestPolicyViolationsThroughTheDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary with the demo estate; skipped in -short mode")
	}
	bin := buildBinary(t)

	var mu sync.Mutex
	var secret string
	var got []delivery
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			Type, Subject string
			Data          map[string]any
		}
		json.Unmarshal(body, &env)
		mu.Lock()
		defer mu.Unlock()
		d := delivery{id: r.Header.Get("webhook-id"), typ: env.Type, subject: env.Subject, data: env.Data, at: time.Now()}
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		d.verifyErr = err
		got = append(got, d)
	}))
	defer rc.Close()

	addr := freePort(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin, "demo", "--listen", addr, "--schedule", "@every 1h", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "Watershed demo is ready") {
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			t.Fatalf("the demo did not become ready; output:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := regexp.MustCompile(`Kafka\s+\[([^\]]+)\]`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no Kafka address in the banner:\n%s", out)
	}
	bootstrap := strings.Fields(m[1])
	p := &process{t: t, addr: addr, logs: &bytes.Buffer{}}

	// The demo ships policies; its analytics notebook already violates one.
	d := p.gql(`{ policies { name origin enabled } violations(policy: "pii-consumer-allowlist") { totalCount edges { node { subjectUrn status } } } }`, nil)
	if !strings.Contains(mustJSON(t, d), `"subjectUrn":"urn:group:prod/analytics"`) {
		t.Fatalf("the demo shows no violation of the analytics group: %s", mustJSON(t, d))
	}

	d = p.gql(`mutation($url: String!) { createWebhook(input: {url: $url, types: ["policy.violation.*"], name: "policy e2e"}) { secret webhook { id } } }`,
		map[string]any{"url": rc.URL + "/hook"})
	cw := d["createWebhook"].(map[string]any)
	mu.Lock()
	secret = cw["secret"].(string)
	mu.Unlock()
	hookID := cw["webhook"].(map[string]any)["id"].(string)

	// A new group starts reading customer data: it commits offsets on
	// cdc.shop.customers.
	const group = "rogue-notebook"
	violation := "urn:violation:pii-consumer-allowlist/urn:group:prod/" + group
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, "cdc.shop.customers")
	if err != nil {
		t.Fatal(err)
	}
	offsets := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		offsets.Add(kadm.Offset{Topic: o.Topic, Partition: o.Partition, At: o.Offset, LeaderEpoch: -1})
	})
	if resp, err := adm.CommitOffsets(ctx, group, offsets); err != nil || resp.Error() != nil {
		t.Fatalf("commit offsets: %v %v", err, resp.Error())
	}

	wait := func(typ string) delivery {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			for _, dv := range got {
				if dv.typ == typ && dv.subject == violation {
					mu.Unlock()
					return dv
				}
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no %s for %s; received %d deliveries; demo output:\n%s", typ, violation, len(got), out)
		return delivery{}
	}

	d = p.gql(`mutation { crawl(source: "prod") { status changes } }`, nil)
	crawled := time.Now()
	if run := d["crawl"].(map[string]any); run["status"] != "SUCCEEDED" || run["changes"].(float64) == 0 {
		t.Fatalf("crawl = %v", run)
	}
	opened := wait("policy.violation.opened")
	t.Logf("policy.violation.opened arrived %v after the crawl committed", opened.at.Sub(crawled).Round(time.Millisecond))
	if opened.verifyErr != nil {
		t.Errorf("signature: %v", opened.verifyErr)
	}
	if !strings.HasPrefix(opened.id, "msg_"+hookID+"_") {
		t.Errorf("webhook-id %q", opened.id)
	}
	props, _ := opened.data["properties"].(map[string]any)
	ev := mustJSON(t, props["evidence"])
	for _, want := range []string{`"reader":"urn:group:prod/rogue-notebook"`, `"urn":"urn:topic:prod/cdc.shop.customers"`, `"path":"after.email"`} {
		if !strings.Contains(ev, want) {
			t.Errorf("the event's evidence %s lacks %s", ev, want)
		}
	}
	if props["severity"] != "HIGH" || !strings.Contains(fmt.Sprint(opened.data["description"]), "consumer group rogue-notebook reads PII topic cdc.shop.customers") {
		t.Errorf("opened data = %v", opened.data)
	}

	// The steward's view: the violation is listed, and can be acknowledged.
	d = p.gql(`mutation($u: URN!) { acknowledgeViolation(urn: $u, note: "asking the owner") { status acknowledgedBy subject { urn kind } } }`, map[string]any{"u": violation})
	if a := d["acknowledgeViolation"].(map[string]any); a["status"] != "ACKNOWLEDGED" {
		t.Errorf("acknowledge = %v", a)
	}

	// The group goes away.
	if _, err := adm.DeleteGroup(ctx, group); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	p.gql(`mutation { crawl(source: "prod") { status } }`, nil)
	crawled = time.Now()
	resolved := wait("policy.violation.resolved")
	t.Logf("policy.violation.resolved arrived %v after the crawl committed", resolved.at.Sub(crawled).Round(time.Millisecond))
	if resolved.verifyErr != nil {
		t.Errorf("signature: %v", resolved.verifyErr)
	}
	if resolved.id == opened.id {
		t.Errorf("opened and resolved share webhook-id %s", opened.id)
	}
	d = p.gql(`query($u: URN!) { violation(urn: $u) { status resolvedAt } }`, map[string]any{"u": violation})
	if v := d["violation"].(map[string]any); v["status"] != "RESOLVED" || v["resolvedAt"] == nil {
		t.Errorf("after the group left: %v", v)
	}
}
