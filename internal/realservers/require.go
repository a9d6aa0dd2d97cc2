package realservers

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Require returns the running servers for a test that needs the named
// ones. When $REALSERVERS_STATE is unset it skips t with the reason
// (or fails it when $REALSERVERS_REQUIRED=1); when the state file lacks
// a server, or a server's port does not answer, it fails t and prints the
// server's log. When t fails later, the last lines of every server's log
// are printed.
func Require(t testing.TB, need ...Server) *State {
	t.Helper()
	path := os.Getenv(EnvState)
	required := os.Getenv(EnvRequired) == "1"
	if path == "" {
		msg := fmt.Sprintf("real servers not up (%s unset): `make test-real` starts %v and runs this test; it needs Java 17+, Maven and PostgreSQL", EnvState, need)
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s, err := ReadState(path)
	if err != nil {
		t.Fatalf("%s=%s: %v", EnvState, path, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range need {
				for _, p := range s.procsOf(n) {
					t.Logf("last lines of %s's log %s:\n%s", p.Name, p.Log, Tail(p.Log, 25))
				}
			}
		}
	})
	for _, n := range need {
		if !s.Has(n) {
			t.Fatalf("%s is not among the running servers of %s: start it with `infra/up %s`", n, path, n)
		}
		for _, addr := range s.addrs(n) {
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				t.Fatalf("%s at %s does not answer: %v", n, addr, err)
			}
			c.Close()
		}
	}
	return s
}

// addrs lists the host:port addresses server n listens on.
func (s *State) addrs(n Server) []string {
	hostOf := func(raw string) []string {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return nil
		}
		return []string{u.Host}
	}
	switch n {
	case Kafka:
		return s.Kafka.Bootstrap
	case Registry:
		return hostOf(s.Registry.URL)
	case Connect:
		return hostOf(s.Connect.URL)
	case Postgres:
		return []string{net.JoinHostPort(s.Postgres.Host, fmt.Sprint(s.Postgres.Port))}
	case Neo4j:
		return hostOf(s.Neo4j.BoltURL)
	}
	return nil
}

// DSN returns a PostgreSQL connection URL for database db as the superuser.
func (p *PostgresInfo) DSN(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(p.User, p.Password),
		Host: net.JoinHostPort(p.Host, fmt.Sprint(p.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// Tail returns the last n lines of the file at path, or a note saying why
// it cannot.
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
