// Command hostile attacks a running Watershed server the way issue 13 did
// and prints one figure per attack, so that hardening can be measured before
// and after a change on the same machine:
//
//	go run ./bench/hostile -url http://127.0.0.1:8080 -pid $(pgrep -n watershed) -log server.log
//
// It is a client only: it never starts or stops the server. With -pid it
// reads the server's RSS, CPU time and open descriptors from /proc; with
// -log it reports how many bytes the server logged during each attack.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

type attack struct {
	name string
	run  func(*target)
}

type target struct {
	url  string
	pid  int
	log  string
	subs int
	slow int
}

func main() {
	var t target
	flag.StringVar(&t.url, "url", "http://127.0.0.1:8080", "server base URL")
	flag.IntVar(&t.pid, "pid", 0, "server process id (enables RSS, CPU and fd figures)")
	flag.StringVar(&t.log, "log", "", "server log file (enables log-volume figures)")
	flag.IntVar(&t.subs, "subs", 50000, "subscriptions to open on one websocket connection")
	flag.IntVar(&t.slow, "slow", 1000, "connections that trickle a request body")
	only := flag.String("only", "", "comma-separated attacks to run (default all)")
	flag.Parse()
	attacks := []attack{
		{"typename", (*target).typename},
		{"abandon", (*target).abandon},
		{"aliases", (*target).aliases},
		{"malformed", (*target).malformed},
		{"deepprops", (*target).deepProps},
		{"subscribe-first", (*target).subscribeFirst},
		{"subs", (*target).subscriptions},
		{"slowbody", (*target).slowBody},
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	for _, a := range attacks {
		if len(want) > 0 && !want[a.name] {
			continue
		}
		fmt.Printf("== %s\n", a.name)
		a.run(&t)
	}
}

// post sends a GraphQL body and returns status, the first error code, the
// error count and the answer size.
func (t *target) post(ctx context.Context, body []byte) (status int, code string, nerr int, size int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url+"/graphql", bytes.NewReader(body))
	if err != nil {
		return 0, "", 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", 0, len(b), err
	}
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(b, &out)
	if len(out.Errors) > 0 {
		code, _ = out.Errors[0].Extensions["code"].(string)
		if code == "" {
			code = "(none)"
		}
	}
	return resp.StatusCode, code, len(out.Errors), len(b), nil
}

func query(q string) []byte {
	b, _ := json.Marshal(map[string]any{"query": q})
	return b
}

func typenames(n int) string { return "{" + strings.Repeat(" __typename", n) + " }" }

func (t *target) typename() {
	body := query(typenames(14000))
	start := time.Now()
	st, code, nerr, size, err := t.post(context.Background(), body)
	fmt.Printf("{__typename x 14000} (%d bytes): %v, status %d, code %s, %d errors, %d-byte answer, err %v\n",
		len(body), time.Since(start).Round(time.Millisecond), st, code, nerr, size, err)
}

// abandon sends four {__typename x 14000} requests, gives up on them after
// 2 s, then measures how long the server keeps burning CPU.
func (t *target) abandon() {
	body := query(typenames(14000))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, _, _, _, _ = t.post(ctx, body)
		}()
	}
	wg.Wait()
	if t.pid == 0 {
		fmt.Println("(needs -pid)")
		return
	}
	left := time.Now()
	last := t.cpu()
	for {
		time.Sleep(250 * time.Millisecond)
		now := t.cpu()
		if now-last < 25*time.Millisecond { // under 10% of a core
			break
		}
		last = now
		if time.Since(left) > 5*time.Minute {
			break
		}
	}
	fmt.Printf("4 requests abandoned after 2 s: server busy %v after the clients left\n", time.Since(left).Round(100*time.Millisecond))
}

func (t *target) aliases() {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 1360; i++ {
		fmt.Fprintf(&b, ` a:asset(urn:"urn:topic:p/t%d"){urn}`, i)
	}
	b.WriteString("}")
	body := query(b.String())
	rss0 := t.status("VmHWM")
	start := time.Now()
	st, code, nerr, size, err := t.post(context.Background(), body)
	fmt.Printf("1,360 conflicting aliases (%d bytes): %v, status %d, code %s, %d errors, %d-byte answer, err %v; peak RSS %s -> %s\n",
		len(body), time.Since(start).Round(time.Millisecond), st, code, nerr, size, err, rss0, t.status("VmHWM"))
}

func (t *target) malformed() {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	big := `{"query":"{__typename}","x":"` + strings.Repeat("a", 1<<20-64) + `"` // truncated
	bodies := []struct{ name, body string }{
		{"not JSON", "not json"},
		{"truncated", `{"query":`},
		{`"query":123`, `{"query":123}`},
		{"10,001-deep", deep},
		{"batched array", `[{"query":"{__typename}"}]`},
		{"1 MB truncated", big},
	}
	for _, c := range bodies {
		before := t.logSize()
		st, code, _, _, err := t.post(context.Background(), []byte(c.body))
		fmt.Printf("%-26s status %d, code %s, logged %s, err %v\n", c.name+":", st, code, t.logDelta(before), err)
	}
	// Ten 1 MB requests, the log-volume figure.
	before := t.logSize()
	for i := 0; i < 10; i++ {
		_, _, _, _, _ = t.post(context.Background(), []byte(big))
	}
	fmt.Printf("10 x 1 MB malformed requests: logged %s\n", t.logDelta(before))
}

func (t *target) deepProps() {
	v := any("leaf")
	for i := 0; i < 9000; i++ {
		v = map[string]any{"a": v}
	}
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($p: JSON) { registerAsset(input: {urn: "urn:dataset:s3://hostile/deep", properties: $p}) { urn } }`,
		"variables": map[string]any{"p": v},
	})
	st, code, _, _, err := t.post(context.Background(), body)
	fmt.Printf("registerAsset(properties: 9,000 levels): status %d, code %s (none = stored), err %v\n", st, code, err)
}

func (t *target) dial() (*websocket.Conn, error) {
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
	c, resp, err := d.Dial("ws"+strings.TrimPrefix(t.url, "http")+"/graphql", nil)
	if resp != nil {
		resp.Body.Close()
	}
	return c, err
}

func (t *target) subscribeFirst() {
	c, err := t.dial()
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	_ = c.WriteJSON(map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{"query": "subscription { changes { id } }"}})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			fmt.Printf("subscribe before connection_init: %v\n", err)
			return
		}
	}
}

func (t *target) subscriptions() {
	c, err := t.dial()
	if err != nil {
		fmt.Println("dial:", err)
		return
	}
	defer c.Close()
	_ = c.WriteJSON(map[string]any{"type": "connection_init"})
	rss0 := t.status("VmRSS")
	var mu sync.Mutex
	counts := map[string]int{}
	firstErr := ""
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			var m map[string]any
			if err := c.ReadJSON(&m); err != nil {
				return
			}
			mu.Lock()
			typ, _ := m["type"].(string)
			counts[typ]++
			if typ == "error" && firstErr == "" {
				b, _ := json.Marshal(m["payload"])
				firstErr = string(b)
			}
			mu.Unlock()
		}
	}()
	start := time.Now()
	for i := 0; i < t.subs; i++ {
		if err := c.WriteJSON(map[string]any{"id": strconv.Itoa(i), "type": "subscribe", "payload": map[string]any{"query": "subscription { changes { id } }"}}); err != nil {
			fmt.Println("write:", err)
			break
		}
	}
	time.Sleep(3 * time.Second)
	mu.Lock()
	fmt.Printf("%d subscribes on one connection in %v: messages %v; RSS %s -> %s\n", t.subs, time.Since(start).Round(time.Millisecond), counts, rss0, t.status("VmRSS"))
	if firstErr != "" {
		fmt.Printf("first error: %s\n", firstErr)
	}
	mu.Unlock()
	c.Close()
	<-done
}

// slowBody opens connections that announce a 1 KB body and send one byte
// every second, then checks whether a new client still gets through.
func (t *target) slowBody() {
	u, err := url.Parse(t.url)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	opened, cut := 0, 0
	for i := 0; i < t.slow; i++ {
		conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			continue
		}
		opened++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			fmt.Fprintf(conn, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", u.Host)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
					if _, err := conn.Write([]byte(" ")); err != nil {
						mu.Lock()
						cut++
						mu.Unlock()
						return
					}
				}
			}
		}()
	}
	fds0 := t.fds()
	for _, wait := range []time.Duration{5 * time.Second, 30 * time.Second} {
		time.Sleep(wait)
		start := time.Now()
		hc := http.Client{Timeout: 5 * time.Second}
		resp, err := hc.Get(t.url + "/healthz")
		got := "ok"
		if err != nil {
			got = err.Error()
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got = resp.Status
		}
		mu.Lock()
		fmt.Printf("after %v: %d trickling connections opened, %d cut by the server, server fds %s (at start %s); a new /healthz: %s in %v\n",
			wait, opened, cut, t.fds(), fds0, got, time.Since(start).Round(time.Millisecond))
		mu.Unlock()
	}
	cancel()
	wg.Wait()
}

func (t *target) status(field string) string {
	if t.pid == 0 {
		return "?"
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", t.pid))
	if err != nil {
		return "?"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func (t *target) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.pid))
	if err != nil {
		return 0
	}
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.Atoi(fields[11])
	st, _ := strconv.Atoi(fields[12])
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ = 100
}

func (t *target) fds() string {
	if t.pid == 0 {
		return "?"
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", t.pid))
	if err != nil {
		return "?"
	}
	return strconv.Itoa(len(ents))
}

func (t *target) logSize() int64 {
	if t.log == "" {
		return -1
	}
	fi, err := os.Stat(t.log)
	if err != nil {
		return -1
	}
	return fi.Size()
}

func (t *target) logDelta(before int64) string {
	if before < 0 {
		return "? bytes"
	}
	time.Sleep(50 * time.Millisecond)
	return fmt.Sprintf("%d bytes", t.logSize()-before)
}
