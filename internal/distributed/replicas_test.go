package distributed

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/internal/realservers"
)

// cluster is two replicas on the real Neo4j and Kafka, with a webhook
// receiver counting deliveries by webhook-id.
type cluster struct {
	t        *testing.T
	bin      string
	st       *realservers.State
	run      string // unique per test: URNs, topic
	dir      string
	replicas map[string]*replica

	mu         sync.Mutex
	deliveries map[string]int // webhook-id → count
	delay      time.Duration  // how long the receiver takes to answer
	receiver   *httptest.Server
}

type replica struct {
	name, addr, config, data string
	cmd                      *exec.Cmd
	exited                   chan struct{} // closed once cmd has been waited for
	logs                     *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func newCluster(t *testing.T) *cluster {
	t.Helper()
	st := realservers.Require(t, realservers.Kafka, realservers.Neo4j)
	c := &cluster{t: t, st: st, run: fmt.Sprintf("d%d", time.Now().UnixNano()), dir: t.TempDir(), replicas: map[string]*replica{}, deliveries: map[string]int{}}
	c.bin = filepath.Join(c.dir, "watershed")
	build := exec.Command("go", "build", "-o", c.bin, "../../cmd/watershed")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build watershed: %v\n%s", err, out)
	}
	c.receiver = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c.mu.Lock()
		c.deliveries[r.Header.Get("webhook-id")]++
		delay := c.delay
		c.mu.Unlock()
		time.Sleep(delay)
	}))
	t.Cleanup(c.receiver.Close)
	pw := filepath.Join(c.dir, "neo4j-password")
	if err := os.WriteFile(pw, []byte(st.Neo4j.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"r1", "r2"} {
		r := &replica{name: name, addr: freeAddr(t), data: filepath.Join(c.dir, name), config: filepath.Join(c.dir, name+".yaml")}
		store := fmt.Sprintf("{kind: neo4j, uri: %q}", st.Neo4j.BoltURL)
		if st.Neo4j.User != "" {
			store = fmt.Sprintf("{kind: neo4j, uri: %q, user: %q, passwordFile: %q}", st.Neo4j.BoltURL, st.Neo4j.User, pw)
		}
		bootstrap, _ := json.Marshal(st.Kafka.Bootstrap)
		cfg := fmt.Sprintf(`replica: %s
store: %s
changelog: {kind: kafka, bootstrap: %s, topic: watershed.changes.%s, partitions: 6, replicationFactor: 1}
webhooks: {allow: [127.0.0.0/8], retry: [200ms, 500ms, 1s, 2s, 5s], concurrency: 2}
sources:
  - {name: real-%s, kind: kafka, bootstrap: %s, schedule: "@every 1h"}
`, name, store, bootstrap, c.run, c.run, bootstrap)
		if err := os.WriteFile(r.config, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		c.replicas[name] = r
		c.start(name)
	}
	return c
}

// deleteWebhooks deletes every webhook through a live replica.
func (c *cluster) deleteWebhooks() {
	for _, r := range c.replicas {
		select {
		case <-r.exited:
			continue
		default:
		}
		post := func(query string, vars map[string]any) map[string]any {
			body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
			resp, err := http.Post("http://"+r.addr+"/graphql", "application/json", bytes.NewReader(body))
			if err != nil {
				return nil
			}
			defer resp.Body.Close()
			var out struct {
				Data map[string]any `json:"data"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			return out.Data
		}
		hooks, _ := post(`{ webhooks { id } }`, nil)["webhooks"].([]any)
		for _, h := range hooks {
			post(`mutation($id: ID!) { deleteWebhook(id: $id) }`, map[string]any{"id": h.(map[string]any)["id"]})
		}
		return
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// start runs replica name and waits until it is ready; a replica that
// cannot start fails the test with its log.
func (c *cluster) start(name string) {
	c.t.Helper()
	r := c.replicas[name]
	r.logs = &syncBuffer{}
	r.cmd = exec.Command(c.bin, "serve", "--config", r.config, "--data-dir", r.data, "--listen", r.addr)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	cmd, logs := r.cmd, r.logs
	exited := make(chan struct{})
	r.exited = exited
	go func() { cmd.Wait(); close(exited) }()
	c.t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		if c.t.Failed() {
			c.t.Logf("log of %s (pid %d):\n%s", name, cmd.Process.Pid, logs)
		}
	})
	deadline := time.After(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + r.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				// Runs before the replica's stop: webhooks live in the
				// shared store, which the next test shares.
				c.t.Cleanup(c.deleteWebhooks)
				return
			}
		}
		select {
		case <-exited:
			c.t.Fatalf("replica %s exited: %v\n%s", name, cmd.ProcessState, r.logs)
		case <-deadline:
			c.t.Fatalf("replica %s not ready after 2m:\n%s", name, r.logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill9 kills replica name with SIGKILL.
func (c *cluster) kill9(name string) {
	c.t.Helper()
	r := c.replicas[name]
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-r.exited
}

// gql runs a query on replica name and returns its data.
func (c *cluster) gql(name, query string, vars map[string]any) map[string]any {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post("http://"+c.replicas[name].addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		c.t.Fatalf("decode %s: %v", b, err)
	}
	if len(out.Errors) > 0 {
		c.t.Fatalf("%s: graphql errors %v\nquery: %s", name, out.Errors, query)
	}
	return out.Data
}

// eventually polls cond until it holds (the replicas converge
// asynchronously); it fails the test after two minutes.
func (c *cluster) eventually(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *cluster) urn(name string) string { return fmt.Sprintf("urn:dataset:s3://%s/%s", c.run, name) }

// carries reports whether u carries classification class on replica name,
// propagated (direct false) or not.
func (c *cluster) carries(name, u, class string, direct bool) bool {
	c.t.Helper()
	d := c.gql(name, `query($u: URN!) { asset(urn: $u) { classifications { name direct } } }`, map[string]any{"u": u})
	for _, a := range d["asset"].(map[string]any)["classifications"].([]any) {
		if a := a.(map[string]any); a["name"] == class && a["direct"] == direct {
			return true
		}
	}
	return false
}

// changesOf counts the change-log entries of type typ on subject u.
func (c *cluster) changesOf(name, u, typ string) int {
	c.t.Helper()
	d := c.gql(name, `{ changes(first: 1000) { edges { node { type subject } } } }`, nil)
	n := 0
	for _, e := range d["changes"].(map[string]any)["edges"].([]any) {
		node := e.(map[string]any)["node"].(map[string]any)
		if node["type"] == typ && node["subject"] == u {
			n++
		}
	}
	return n
}

func (c *cluster) deliveryCounts() (ids, total int, dup []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.deliveries {
		total += n
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	return len(c.deliveries), total, dup
}

// TestDistributedTwoReplicas is the distributed mode's "done means": two
// replicas serve one catalog — a crawl through one is read through the
// other, the crawl lease shows its holder; a classification made through
// one propagates once (one classification.propagated entry, not one per
// replica); a webhook created through the replica that does not deliver is
// listed through the other and delivered once, its attempt read through
// both.
func TestDistributedTwoReplicas(t *testing.T) {
	c := newCluster(t)
	src := "real-" + c.run

	// Crawl by one, read by the other.
	adm, err := kgo.NewClient(kgo.SeedBrokers(c.st.Kafka.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	topic := "orders-" + c.run
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	c.gql("r1", `mutation($s: String!) { crawl(source: $s) { status } }`, map[string]any{"s": src})
	topicURN := "urn:topic:" + src + "/" + topic
	d := c.gql("r2", `query($u: URN!) { asset(urn: $u) { urn kind } }`, map[string]any{"u": topicURN})
	if d["asset"].(map[string]any)["kind"] != "TOPIC" {
		t.Fatalf("replica r2 reads %v for the topic replica r1 crawled", d)
	}
	d = c.gql("r2", `{ sources { name lease { holder } lastRun { status } } }`, nil)
	t.Logf("sources seen from r2 after r1's crawl: %v", d["sources"])

	// A webhook created through the replica that does not deliver is listed
	// through the other; a classification through r2 propagates once and
	// is delivered once.
	c.eventually("a replica delivering webhooks", func() bool { return c.deliverer() != "" })
	deliverer := c.deliverer()
	other := map[string]string{"r1": "r2", "r2": "r1"}[deliverer]
	d = c.gql(other, `mutation($url: String!) { createWebhook(input: {url: $url, types: ["classification.attached"], name: "dist"}) { webhook { id } } }`, map[string]any{"url": c.receiver.URL})
	hook := d["createWebhook"].(map[string]any)["webhook"].(map[string]any)["id"].(string)
	if got := fmt.Sprint(c.gql(deliverer, `{ webhooks { id name } }`, nil)["webhooks"]); !strings.Contains(got, hook) {
		t.Fatalf("webhooks listed through %s: %s; want %s, created through %s", deliverer, got, hook, other)
	}
	a, b := c.urn("a"), c.urn("b")
	c.gql("r1", `mutation($a: URN!, $b: URN!) { x: registerAsset(input: {urn: $a}) { urn } y: registerAsset(input: {urn: $b}) { urn } }`, map[string]any{"a": a, "b": b})
	c.gql("r1", `mutation($a: URN!, $b: URN!) { addLineage(input: {from: $a, to: $b, kind: DERIVES}) { kind } }`, map[string]any{"a": a, "b": b})
	c.gql("r2", `mutation($a: URN!) { classify(urn: $a, classification: "PII.Email") { urn } }`, map[string]any{"a": a})
	c.eventually("b carries PII.Email, read through r1", func() bool { return c.carries("r1", b, "PII.Email", false) })
	c.eventually("the webhook delivery", func() bool { ids, _, _ := c.deliveryCounts(); return ids >= 1 })
	time.Sleep(3 * time.Second) // room for a second, wrong, handling to show
	if n := c.changesOf("r2", b, "classification.propagated"); n != 1 {
		t.Errorf("classification.propagated on %s: %d entries, want 1 (handled once per group, not per replica)", b, n)
	}
	if ids, total, dup := c.deliveryCounts(); ids != 1 || total != 1 {
		t.Errorf("webhook deliveries: %d ids, %d requests (%v); want one delivery", ids, total, dup)
	}
	for _, name := range []string{"r1", "r2"} {
		d := c.gql(name, `query($id: ID!) { webhook(id: $id) { attempts { outcome } } }`, map[string]any{"id": hook})
		if got := fmt.Sprint(d["webhook"].(map[string]any)["attempts"]); got != "[map[outcome:delivered]]" {
			t.Errorf("attempts of the webhook read through %s: %s; want one delivered", name, got)
		}
	}
	t.Logf("webhook created through %s, delivered by %s", other, deliverer)
}

// deliverer returns the replica that says it delivers webhooks (the
// holder of the delivery lease), "" when none does yet.
func (c *cluster) deliverer() string {
	for _, name := range []string{"r1", "r2"} {
		r := c.replicas[name]
		select {
		case <-r.exited:
			continue // killed: its log still says it delivered
		default:
		}
		if r.logs != nil && strings.Count(r.logs.String(), "delivering webhooks") > strings.Count(r.logs.String(), "webhook delivery stopped") {
			return name
		}
	}
	return ""
}

// TestDistributedKillDeliverer: a webhook created through one replica,
// forty changes to deliver to a slow receiver, and the replica delivering
// them killed with SIGKILL mid-backlog: the other takes over once the
// delivery lease lapses and delivers the rest; every change arrives,
// repeats only with the same webhook-id.
func TestDistributedKillDeliverer(t *testing.T) {
	c := newCluster(t)
	c.mu.Lock()
	c.delay = 250 * time.Millisecond
	c.mu.Unlock()
	// The filter keeps the assets crawls create out.
	c.gql("r1", `mutation($url: String!, $urn: String!) { createWebhook(input: {url: $url, types: ["asset.created"], name: "backlog", filter: {urn: $urn}}) { secret } }`,
		map[string]any{"url": c.receiver.URL, "urn": c.urn("backlog-*")})
	c.eventually("a replica delivering webhooks", func() bool { return c.deliverer() != "" })
	holder := c.deliverer()
	other := map[string]string{"r1": "r2", "r2": "r1"}[holder]
	const n = 40
	for i := 0; i < n; i++ {
		c.gql(other, `mutation($u: URN!) { registerAsset(input: {urn: $u}) { urn } }`, map[string]any{"u": c.urn(fmt.Sprintf("backlog-%02d", i))})
	}
	c.eventually("a few deliveries", func() bool { ids, _, _ := c.deliveryCounts(); return ids >= 4 })
	ids, _, _ := c.deliveryCounts()
	if ids >= n {
		t.Fatalf("all %d delivered before the kill; the backlog is too small to test a takeover", ids)
	}
	c.kill9(holder)
	t.Logf("killed %s, the deliverer, after %d of %d deliveries", holder, ids, n)
	c.eventually("every delivery, by "+other, func() bool { ids, _, _ := c.deliveryCounts(); return ids >= n })
	time.Sleep(2 * time.Second) // room for a wrong, extra delivery to show
	ids, total, dup := c.deliveryCounts()
	t.Logf("deliveries: %d changes, %d requests, repeated (same webhook-id): %v", ids, total, dup)
	if ids != n {
		t.Errorf("%d distinct deliveries, want %d", ids, n)
	}
	if c.deliverer() != other {
		t.Errorf("deliverer after the kill = %q, want %s", c.deliverer(), other)
	}
	d := c.gql(other, `{ webhooks { name pending } }`, nil)
	if got := fmt.Sprint(d["webhooks"]); got != "[map[name:backlog pending:0]]" {
		t.Errorf("webhooks after the takeover: %s; want backlog with nothing pending", got)
	}
}

// TestDistributedKillReplicas kills each replica with SIGKILL in the
// middle of work — a lineage chain being classified, webhooks being
// delivered — restarts it, and checks that the replicas converge with
// nothing lost: every asset of the chain carries the classification on
// both replicas, and every webhook delivery arrived (repeats only with
// the same webhook-id).
func TestDistributedKillReplicas(t *testing.T) {
	c := newCluster(t)
	c.gql("r1", `mutation($url: String!) { createWebhook(input: {url: $url, types: ["classification.attached"], name: "dist"}) { secret } }`, map[string]any{"url": c.receiver.URL})
	const n = 30
	var urns []string
	for i := 0; i < n; i++ {
		urns = append(urns, c.urn(fmt.Sprintf("chain-%02d", i)))
	}
	for i, u := range urns {
		on := []string{"r1", "r2"}[i%2]
		c.gql(on, `mutation($u: URN!) { registerAsset(input: {urn: $u}) { urn } }`, map[string]any{"u": u})
		if i > 0 {
			c.gql(on, `mutation($a: URN!, $b: URN!) { addLineage(input: {from: $a, to: $b, kind: DERIVES}) { kind } }`, map[string]any{"a": urns[i-1], "b": u})
		}
	}
	// Classify every tenth asset (a webhook each) and kill r1 at once,
	// mid-propagation; then r2 while r1 restarts.
	var classified []string
	for i := 0; i < n; i += 10 {
		classified = append(classified, urns[i])
		c.gql("r2", `mutation($u: URN!) { classify(urn: $u, classification: "Confidential") { urn } }`, map[string]any{"u": urns[i]})
	}
	c.kill9("r1")
	c.gql("r2", `mutation($u: URN!) { classify(urn: $u, classification: "PII.Email") { urn } }`, map[string]any{"u": urns[0]})
	classified = append(classified, urns[0])
	c.start("r1")
	c.kill9("r2")
	c.start("r2")
	for _, name := range []string{"r1", "r2"} {
		c.eventually("the chain carries PII.Email, read through "+name, func() bool { return c.carries(name, urns[n-1], "PII.Email", false) })
		c.eventually("the chain carries Confidential, read through "+name, func() bool { return c.carries(name, urns[n-1], "Confidential", false) })
	}
	for _, u := range urns[1:] {
		if !c.carries("r2", u, "PII.Email", false) {
			t.Errorf("%s lacks the propagated PII.Email after the kills", u)
		}
	}
	c.eventually("every webhook delivery", func() bool { ids, _, _ := c.deliveryCounts(); return ids >= len(classified) })
	ids, total, dup := c.deliveryCounts()
	t.Logf("webhook deliveries after the kills: %d changes, %d requests, repeated (same webhook-id): %v", ids, total, dup)
	if ids != len(classified) {
		t.Errorf("%d distinct deliveries, want %d (one per classification)", ids, len(classified))
	}
	if got := strings.Count(fmt.Sprint(c.gql("r1", `{ sources { name } }`, nil)), "real-"); got != 1 {
		t.Errorf("sources after restart: %d", got)
	}
}
