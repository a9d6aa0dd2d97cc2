package main

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// defaultMaxConnections is the connection cap when none is configured.
const defaultMaxConnections = 1024

// maxConnections resolves the configured cap: 0 means 1,024, or half the
// process's file-descriptor limit when that is lower (the other half is
// for the store's files and the crawlers' outgoing connections).
func maxConnections(configured int) int {
	if configured > 0 {
		return configured
	}
	n := defaultMaxConnections
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Cur/2 < uint64(n) {
		n = max(int(lim.Cur/2), 16)
	}
	return n
}

// limitListener serves at most max connections at once. Past the cap it
// accepts a connection only to answer 503 and close it, so that the kernel
// backlog does not fill with clients that wait for nothing and the client
// learns why. Together with the server's read timeouts this bounds what a
// client that opens connections and trickles bytes can hold.
type limitListener struct {
	net.Listener
	sem     chan struct{}
	logger  *slog.Logger
	refused prometheus.Counter

	mu         sync.Mutex
	lastWarned time.Time
}

func newLimitListener(ln net.Listener, max int, logger *slog.Logger, reg *prometheus.Registry) *limitListener {
	l := &limitListener{
		Listener: ln,
		sem:      make(chan struct{}, max),
		logger:   logger,
		refused:  prometheus.NewCounter(prometheus.CounterOpts{Name: "watershed_http_connections_refused_total", Help: "Connections answered 503 because the server was at http.maxConnections."}),
	}
	reg.MustRegister(l.refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watershed_http_connections", Help: "Open HTTP connections (websockets included)."},
		func() float64 { return float64(len(l.sem)) }))
	return l
}

// Accept returns the next connection that fits under the cap.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.sem <- struct{}{}:
			return &limitedConn{Conn: c, release: func() { <-l.sem }}, nil
		default:
			l.refuse(c)
		}
	}
}

// busyResponse is the whole answer to a connection past the cap.
func busyResponse(max int) []byte {
	body := fmt.Sprintf("the server is serving its maximum of %d connections; retry shortly\n", max)
	return fmt.Appendf(nil, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func (l *limitListener) refuse(c net.Conn) {
	l.refused.Inc()
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write(busyResponse(cap(l.sem)))
	_ = c.Close()
	l.mu.Lock()
	warn := time.Since(l.lastWarned) > time.Minute
	if warn {
		l.lastWarned = time.Now()
	}
	l.mu.Unlock()
	if warn {
		l.logger.Warn("refusing connections: at http.maxConnections", "max", cap(l.sem), "remote", fmt.Sprint(c.RemoteAddr()))
	}
}

// limitedConn gives its slot back when closed (once).
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
