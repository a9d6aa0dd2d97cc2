package realservers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Options configure a Launcher.
type Options struct {
	// InfraDir is the repository's infra/ folder (POMs, Neo4jMain.java).
	InfraDir string
	// RunDir holds servers.json, the servers' logs and their data (except
	// PostgreSQL's, which lives in a folder of its own under the system
	// temp dir so that the postgres user can reach it).
	RunDir string
	// CacheDir holds Maven's local repository and the resolved classpaths
	// and unpacked archives; keep it between runs.
	CacheDir string
	// Brokers is the number of Kafka brokers (default 3, like the demo).
	Brokers int
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// Launcher starts and stops the real servers. New does no I/O.
type Launcher struct {
	o     Options
	fetch *fetcher
}

// New returns a Launcher for o.
func New(o Options) *Launcher {
	if o.Brokers <= 0 {
		o.Brokers = 3
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return &Launcher{o: o, fetch: &fetcher{cache: o.CacheDir, infra: o.InfraDir, log: o.Log}}
}

// ParseServers turns names into servers; "all" means every server.
func ParseServers(names []string) ([]Server, error) {
	want := map[Server]bool{}
	for _, n := range names {
		if n == "all" {
			for _, s := range All {
				want[s] = true
			}
			continue
		}
		if !slices.Contains(All, Server(n)) {
			return nil, fmt.Errorf("unknown server %q (known: all %v)", n, All)
		}
		want[Server(n)] = true
	}
	var out []Server
	for _, s := range All {
		if want[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// Up starts the named servers that are not running yet, one at a time in
// start order, and records each in RunDir/servers.json as soon as it is
// ready. It fails on the first server that cannot start, leaving the ones
// already started running (Down stops them).
func (l *Launcher) Up(ctx context.Context, servers []Server) (*State, error) {
	if err := os.MkdirAll(l.o.RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	if err := os.MkdirAll(l.o.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("create cache dir: %w", err)
	}
	st, err := readOrNew(l.o.RunDir)
	if err != nil {
		return nil, err
	}
	for _, s := range servers {
		if st.Has(s) {
			for _, p := range st.procsOf(s) {
				if !alive(p) {
					return st, fmt.Errorf("%s is recorded in %s but pid %d is gone: run infra/down first", s, filepath.Join(l.o.RunDir, StateFile), p.PID)
				}
			}
			fmt.Fprintf(l.o.Log, "%s: already running\n", s)
			continue
		}
		begin := time.Now()
		fmt.Fprintf(l.o.Log, "%s: fetching and starting\n", s)
		switch s {
		case Postgres:
			err = l.upPostgres(ctx, st)
		case Kafka:
			err = l.upKafka(ctx, st)
		case Registry:
			err = l.upRegistry(ctx, st)
		case Connect:
			err = l.upConnect(ctx, st)
		case Neo4j:
			err = l.upNeo4j(ctx, st)
		}
		if err != nil {
			st.forgetDead(s)
		}
		if werr := st.write(l.o.RunDir); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return st, fmt.Errorf("start %s: %w", s, err)
		}
		for _, p := range st.procsOf(s) {
			fmt.Fprintf(l.o.Log, "%s: %s ready in %.1fs (pid %d, log %s)\n", s, p.Name, p.StartSeconds, p.PID, p.Log)
		}
		fmt.Fprintf(l.o.Log, "%s: up after %.1fs including fetch\n", s, time.Since(begin).Seconds())
	}
	return st, nil
}

// Fetch resolves the artifacts of the named servers into the cache and
// starts nothing, so that downloads can overlap other work.
func (l *Launcher) Fetch(servers []Server) error {
	if err := os.MkdirAll(l.o.CacheDir, 0o755); err != nil {
		return fmt.Errorf("create cache dir: %w", err)
	}
	for _, s := range servers {
		begin := time.Now()
		var err error
		switch s {
		case Kafka:
			_, err = l.fetch.classpath("kafka")
		case Connect:
			// Connect runs on Kafka's classpath (fetched for kafka): only
			// its plugins here, so that fetches can run side by side.
			_, _, _, err = l.fetchConnectPlugins()
		case Registry:
			_, err = l.fetch.archive("io.apicurio:apicurio-registry-app:" + ApicurioVersion + ":tar.gz:all")
		case Neo4j:
			_, err = l.fetch.classpath("neo4j")
		case Postgres:
			_, err = postgresBin() // Debian's package, not Maven's
		}
		if err != nil {
			return fmt.Errorf("fetch %s: %w", s, err)
		}
		fmt.Fprintf(l.o.Log, "%s: artifacts ready after %.1fs\n", s, time.Since(begin).Seconds())
	}
	return nil
}

// Down stops every process recorded in RunDir/servers.json by its PID, in
// reverse start order, removes PostgreSQL's data folder and the state
// file, and keeps the logs.
func (l *Launcher) Down() error {
	path := filepath.Join(l.o.RunDir, StateFile)
	st, err := ReadState(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(l.o.Log, "nothing to stop: %s does not exist\n", path)
		return nil
	}
	if err != nil {
		return err
	}
	// In stages, each stage's processes side by side: everything but Kafka,
	// then the brokers, then the controller (node 0) that they report to
	// while shutting down.
	var stages [3][]Proc
	for _, p := range st.Procs() {
		switch {
		case p.Name == "kafka-0":
			stages[2] = append(stages[2], p)
		case strings.HasPrefix(p.Name, "kafka-"):
			stages[1] = append(stages[1], p)
		default:
			stages[0] = append(stages[0], p)
		}
	}
	var errs []error
	for _, stage := range stages {
		res := make(chan error, len(stage))
		for _, p := range stage {
			go func() {
				err := kill(p, 30*time.Second)
				fmt.Fprintf(l.o.Log, "stopped %s (pid %d)\n", p.Name, p.PID)
				res <- err
			}()
		}
		for range stage {
			if err := <-res; err != nil {
				errs = append(errs, err)
			}
		}
	}
	if st.Postgres != nil && st.Postgres.DataDir != "" && strings.Contains(filepath.Base(filepath.Dir(st.Postgres.DataDir)), "watershed-pg-") {
		if err := os.RemoveAll(filepath.Dir(st.Postgres.DataDir)); err != nil {
			errs = append(errs, fmt.Errorf("remove PostgreSQL data: %w", err))
		}
	}
	if err := os.Remove(path); err != nil {
		errs = append(errs, fmt.Errorf("remove state: %w", err))
	}
	return errors.Join(errs...)
}

func (l *Launcher) marker() string { return "-Dwatershed.infra=" + l.o.RunDir }

func (l *Launcher) logPath(name string) string {
	return filepath.Join(l.o.RunDir, "logs", name+".log")
}

// jvmFlags keep each JVM small and quick to start on a shared 2-core
// machine: C1 only (no C2 compile storms), a small heap, G1.
func jvmFlags(heap string) []string {
	return []string{"-Xms128m", "-Xmx" + heap, "-XX:+UseG1GC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"}
}

// writeArgFile writes the classpath option into a java @argfile, so that
// process listings stay readable.
func (l *Launcher) writeArgFile(name, cp string) (string, error) {
	p := filepath.Join(l.o.RunDir, name+".args")
	if err := os.WriteFile(p, []byte("-cp \""+cp+"\"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write java argfile: %w", err)
	}
	return "@" + p, nil
}

func (l *Launcher) prepareLogs() error {
	return os.MkdirAll(filepath.Join(l.o.RunDir, "logs"), 0o755)
}

var pomVersion = regexp.MustCompile(`<([a-z0-9]+)\.version>([^<]+)</`)

// pomProperty reads a <name.version> property of infra/<dir>/pom.xml.
func (l *Launcher) pomProperty(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(l.o.InfraDir, dir, "pom.xml"))
	if err != nil {
		return ""
	}
	for _, m := range pomVersion.FindAllStringSubmatch(string(b), -1) {
		if m[1] == name {
			return m[2]
		}
	}
	return ""
}

// javaHome finds a JDK whose major version is at least min: $JAVA_HOME,
// then the java on PATH, then /usr/lib/jvm/*.
func javaHome(min int) (string, error) {
	var cands []string
	if h := os.Getenv("JAVA_HOME"); h != "" {
		cands = append(cands, h)
	}
	if p, err := exec.LookPath("java"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			cands = append(cands, filepath.Dir(filepath.Dir(r)))
		}
	}
	jvms, _ := filepath.Glob("/usr/lib/jvm/*")
	cands = append(cands, jvms...)
	var seen []string
	for _, h := range cands {
		v := javaMajor(h)
		seen = append(seen, fmt.Sprintf("%s (%d)", h, v))
		if v >= min {
			return h, nil
		}
	}
	return "", fmt.Errorf("no JDK %d or newer found (looked at %s); set JAVA_HOME", min, strings.Join(seen, ", "))
}

var releaseVersion = regexp.MustCompile(`(?m)^JAVA_VERSION="(\d+)`)

func javaMajor(home string) int {
	b, err := os.ReadFile(filepath.Join(home, "release"))
	if err != nil {
		return 0
	}
	m := releaseVersion.FindSubmatch(b)
	if m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// randomID returns n random bytes, hex encoded.
func randomID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// kafkaUUID returns a random Kafka cluster id: 16 bytes, URL-safe base64
// without padding, as kafka-storage random-uuid prints.
func kafkaUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
