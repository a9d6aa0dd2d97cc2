package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/config"
)

// startInProcess runs a server on a free loopback port until the test ends.
func startInProcess(t *testing.T, cfg config.Config, open func(dir string) (*embedded.Store, error)) *server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	if err := cfg.Validate(builtinKinds()); err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if open != nil {
		srv.openStore = func() (serverStore, error) {
			st, err := open(cfg.DataDir)
			if err != nil {
				return nil, err
			}
			return st, nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return srv
}

func (s *server) url() string { return "http://" + s.listener.Addr().String() }

var testClient = &http.Client{Timeout: 10 * time.Second}

func getStatus(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := testClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestHealthzWhileStoreOpens: the listener answers /healthz at once and
// /readyz 503 while the store is still opening (issue 13 item 2: a liveness
// probe restart-looped a pod that needed 15 s to open its store).
func TestHealthzWhileStoreOpens(t *testing.T) {
	release := make(chan struct{})
	srv := startInProcess(t, config.Defaults(), func(dir string) (*embedded.Store, error) {
		<-release
		return embedded.Open(embedded.Options{Dir: dir})
	})
	if code, body := getStatus(t, srv.url()+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz while opening: %d %q", code, body)
	}
	if code, body := getStatus(t, srv.url()+"/readyz"); code != 503 || !strings.Contains(body, "store is opening") {
		t.Fatalf("/readyz while opening: %d %q", code, body)
	}
	resp, err := testClient.Post(srv.url()+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"UNAVAILABLE"`) {
		t.Fatalf("/graphql while opening: %d %s", resp.StatusCode, b)
	}
	if code, _ := getStatus(t, srv.url()+"/metrics"); code != 200 {
		t.Fatalf("/metrics while opening: %d", code)
	}
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := getStatus(t, srv.url()+"/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never ready after the store opened")
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err = testClient.Post(srv.url()+"/graphql", "application/json", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"Query"`) {
		t.Fatalf("/graphql once open: %d %s", resp.StatusCode, b)
	}
}

// TestListenerCutsSlowClients: a client that trickles its headers or its
// body, or idles on a keep-alive connection, is disconnected after the
// configured timeout (issue 13 item 7: 1,000 trickling clients held 1,016
// descriptors forever).
func TestListenerCutsSlowClients(t *testing.T) {
	cfg := config.Defaults()
	cfg.HTTP.ReadHeaderTimeout = config.Duration(300 * time.Millisecond)
	cfg.HTTP.ReadTimeout = config.Duration(500 * time.Millisecond)
	cfg.HTTP.IdleTimeout = config.Duration(500 * time.Millisecond)
	srv := startInProcess(t, cfg, nil)
	addr := srv.listener.Addr().String()
	cases := map[string]struct{ start, trickle string }{
		"slow body":    {"POST /graphql HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", " "},
		"slow headers": {"GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n", "X-Slow: 1\r\n"},
		"idle":         {"GET /healthz HTTP/1.1\r\nHost: " + addr + "\r\n\r\n", ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, c.start); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			if c.trickle != "" {
				go func() {
					tick := time.NewTicker(50 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							if _, err := io.WriteString(conn, c.trickle); err != nil {
								return
							}
						}
					}
				}()
			}
			// The server must end the connection; 10 s is far beyond any
			// timeout configured above, so only a server that never cuts
			// the client reaches it.
			if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, conn)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server kept the %s connection open", name)
			}
		})
	}
	if code, _ := getStatus(t, srv.url()+"/healthz"); code != 200 {
		t.Fatalf("/healthz after the slow clients: %d", code)
	}
}

// TestConnectionCap: past http.maxConnections a new connection is answered
// 503 and closed; a freed slot serves again.
func TestConnectionCap(t *testing.T) {
	cfg := config.Defaults()
	cfg.HTTP.MaxConnections = 4
	srv := startInProcess(t, cfg, nil)
	addr := srv.listener.Addr().String()
	var held []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	status := func() string {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", addr)
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return err.Error()
		}
		return strings.TrimSpace(line)
	}
	if got := status(); got != "HTTP/1.1 503 Service Unavailable" {
		t.Fatalf("fifth connection answered %q, want 503", got)
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for got := status(); got != "HTTP/1.1 200 OK"; got = status() {
		if time.Now().After(deadline) {
			t.Fatalf("a freed slot never served again: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestMaxConnectionsDefault(t *testing.T) {
	if got := maxConnections(7); got != 7 {
		t.Errorf("maxConnections(7) = %d", got)
	}
	if got := maxConnections(0); got < 16 || got > defaultMaxConnections {
		t.Errorf("maxConnections(0) = %d", got)
	}
}
