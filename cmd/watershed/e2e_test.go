package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// binary is the watershed binary built once for this package's tests.
var binary struct {
	once sync.Once
	path string
	err  error
}

// buildBinary compiles the watershed binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "watershed-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "watershed")
		cmd := exec.Command("go", "build", "-o", binary.path, ".")
		cmd.Stderr = os.Stderr
		binary.err = cmd.Run()
	})
	if binary.err != nil {
		t.Fatalf("build: %v", binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

func startServer(t *testing.T, bin, dataDir, addr string, extra ...string) *process {
	t.Helper()
	args := append([]string{"serve", "--data-dir", dataDir, "--listen", addr}, extra...)
	cmd := exec.Command(bin, args...)
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server not ready; logs:\n%s", logs)
	return nil
}

func (p *process) gql(query string, vars map[string]any) map[string]any {
	p.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		p.t.Fatal(err)
	}
	resp, err := http.Post("http://"+p.addr+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		p.t.Fatalf("decode %s: %v", b, err)
	}
	if len(out.Errors) > 0 {
		p.t.Fatalf("graphql errors: %v\nquery: %s", out.Errors, query)
	}
	return out.Data
}

// settled waits until every change-log subscription (propagation, policy,
// webhooks) has handled the log up to its head, read from /metrics, so the
// state a test snapshots is not still moving under asynchronous handlers.
func (p *process) settled() {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + p.addr + "/metrics")
		if err != nil {
			p.t.Fatalf("read /metrics: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			p.t.Fatalf("read /metrics: %v", err)
		}
		seen, behind := 0, 0
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, "watershed_changelog_subscription_backlog{") {
				continue
			}
			seen++
			if f := strings.Fields(line); len(f) != 2 || f[1] != "0" {
				behind++
			}
		}
		if seen > 0 && behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("change-log subscriptions still behind after 30s (%d of %d):\n%s", behind, seen, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatal(err)
	}
	p.cmd.Wait()
}

const stateQuery = `{
  a: asset(urn: "urn:dataset:s3://lake/orders") { urn kind name description owners properties classifications { name direct source propagate } downstream { edge { kind claims { source transform } } asset { urn } } createdAt updatedAt }
  b: asset(urn: "urn:job:flink://prod/enrich") { urn kind name classifications { name } upstream { asset { urn } } }
  l: lineage(urn: "urn:dataset:s3://lake/orders", direction: DOWNSTREAM, depth: 5) { nodes { depth path asset { urn } } edges { from to kind } }
  c: changes(first: 1000) { edges { node { id type subject time source actor data } } }
}`

// TestBinaryEndToEnd is the newcomer's script: register two assets, link
// and classify them, read them back, watch the subscription, kill -9 the
// server, restart it on the same data dir and read exactly the same state
// and change history.
func TestBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freePort(t)
	p := startServer(t, bin, dataDir, addr)

	// A subscriber connected before the writes.
	ws, _, err := (&websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}).Dial("ws://"+addr+"/graphql", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	mustWS := func(v any) {
		if err := ws.WriteJSON(v); err != nil {
			t.Fatal(err)
		}
	}
	mustWS(map[string]any{"type": "connection_init"})
	mustWS(map[string]any{"id": "s", "type": "subscribe", "payload": map[string]any{"query": `subscription { changes(types: ["classification.*"]) { type subject } }`}})
	time.Sleep(200 * time.Millisecond)

	p.gql(`mutation {
	  a: registerAsset(input: {urn: "urn:dataset:s3://lake/orders", name: "orders (lake)", properties: {format: "parquet", partitions: 12}}) { urn }
	  b: registerAsset(input: {urn: "urn:job:flink://prod/enrich", description: "enrichment job"}) { urn }
	}`, nil)
	p.gql(`mutation { addLineage(input: {from: "urn:dataset:s3://lake/orders", to: "urn:job:flink://prod/enrich", kind: CONSUMES, transform: "flink sql"}) { kind } }`, nil)
	p.gql(`mutation { classify(urn: "urn:dataset:s3://lake/orders", classification: "PII.Email") { urn } }`, nil)
	p.gql(`mutation { setOwners(urn: "urn:dataset:s3://lake/orders", owners: ["team:data"]) { urn } }`, nil)

	// The classification arrives on the subscription.
	if err := ws.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for {
		var m map[string]any
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("subscription: %v", err)
		}
		if m["type"] != "next" {
			continue
		}
		ch := m["payload"].(map[string]any)["data"].(map[string]any)["changes"].(map[string]any)
		if ch["type"] != "classification.attached" || ch["subject"] != "urn:dataset:s3://lake/orders" {
			t.Fatalf("subscription delivered %v", ch)
		}
		break
	}

	// A DNS-rebinding page's Host is refused while anonymous access is on.
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/graphql", strings.NewReader(`{"query":"{ classifications { name } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host answered %d, want 421", resp.StatusCode)
	}

	p.settled() // propagation has reacted to the classification
	before := p.gql(stateQuery, nil)
	if got := before["l"].(map[string]any)["nodes"].([]any); len(got) != 1 {
		t.Fatalf("lineage nodes = %v", got)
	}
	if got := before["a"].(map[string]any)["classifications"].([]any); len(got) != 1 {
		t.Fatalf("classifications = %v", got)
	}
	p.kill9()

	p2 := startServer(t, bin, dataDir, addr)
	after := p2.gql(stateQuery, nil)
	if !reflect.DeepEqual(before, after) {
		bj, _ := json.MarshalIndent(before, "", " ")
		aj, _ := json.MarshalIndent(after, "", " ")
		t.Fatalf("state changed across kill -9:\nbefore %s\nafter %s", bj, aj)
	}
	// Graceful shutdown on SIGTERM exits 0.
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM exit: %v\n%s", err, p2.logs)
	}
	if !strings.Contains(p2.logs.String(), "stopped") {
		t.Errorf("no clean stop in logs:\n%s", p2.logs)
	}
}

func TestBinaryRejectsBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary; skipped in -short mode")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":          "listen: 127.0.0.1:0\nlisen: typo\n",
		"bad listen":           "listen: nowhere\n",
		"exposed without auth": "listen: 0.0.0.0:0\n",
		"invalid CEL":          "policies:\n  - name: broken\n    condition: 'asset.kind == \"TOPIC\" && nope'\n",
	}
	for name, body := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "serve", "--config", path, "--data-dir", filepath.Join(dir, "data")).CombinedOutput()
		if err == nil {
			t.Errorf("%s: exit 0", name)
			continue
		}
		line, rerr := bufio.NewReader(bytes.NewReader(out)).ReadString('\n')
		if rerr != nil && line == "" {
			t.Errorf("%s: no output", name)
			continue
		}
		if !strings.HasPrefix(line, "watershed serve:") {
			t.Errorf("%s: unclear message %q", name, out)
		}
		if name == "invalid CEL" && !strings.Contains(line, "policies[0] (broken): condition: 1:26: undeclared reference to 'nope'") {
			t.Errorf("%s: the message lacks the key path and the position: %q", name, line)
		}
		t.Logf("%s: %s", name, strings.TrimSpace(line))
	}
}
