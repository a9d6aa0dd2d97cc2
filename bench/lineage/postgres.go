package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// closureSQL is the impact closure as PostgreSQL answers it: a recursive
// CTE whose UNION (not UNION ALL) keeps each asset once, which also makes
// it cycle-safe, over an edge table indexed on (src, dst).
const closureSQL = `WITH RECURSIVE reached(id) AS (
  SELECT $1::int
  UNION
  SELECT e.dst FROM edges e JOIN reached r ON e.src = r.id
) SELECT count(*) - 1 FROM reached`

// measurePostgres starts a private PostgreSQL server, loads g's edges and
// times the closure of each hub, checking its size against the generator.
func measurePostgres(ctx context.Context, g *graph, hubs []uint32, o options, res *Result) error {
	pg, err := startPostgres(ctx, o)
	if err != nil {
		return err
	}
	defer pg.stop()
	conn, err := pgx.Connect(ctx, pg.dsn)
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.Background())
	t0 := time.Now()
	if _, err := conn.Exec(ctx, `CREATE UNLOGGED TABLE edges (src int NOT NULL, dst int NOT NULL)`); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	next, row := 0, make([]any, 2)
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"edges"}, []string{"src", "dst"}, pgx.CopyFromFunc(func() ([]any, error) {
		if next == len(g.from) {
			return nil, nil
		}
		row[0], row[1] = int32(g.from[next]), int32(g.to[next])
		next++
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("copy edges: %w", err)
	}
	if int(copied) != len(g.from) {
		return fmt.Errorf("copied %d edges of %d", copied, len(g.from))
	}
	for _, stmt := range []string{
		`CREATE INDEX edges_src ON edges (src, dst)`,
		`VACUUM ANALYZE edges`, // visibility map for index-only scans, statistics for the planner
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	res.PostgresLoadS = time.Since(t0).Seconds()
	o.Logger.Info("loaded postgres", "took", time.Since(t0).Round(time.Millisecond))
	var all []time.Duration
	for i, h := range hubs {
		var lat []time.Duration
		for r := 0; r < o.PGRuns+1; r++ {
			var n int64
			t0 := time.Now()
			if err := conn.QueryRow(ctx, closureSQL, int32(h)).Scan(&n); err != nil {
				return fmt.Errorf("closure of %d: %w", h, err)
			}
			d := time.Since(t0)
			if int(n) != res.Hubs[i].Closure {
				return fmt.Errorf("postgres closure of %d has %d assets, the generator's BFS %d", h, n, res.Hubs[i].Closure)
			}
			if r > 0 { // one warm-up run
				lat = append(lat, d)
			}
		}
		all = append(all, lat...)
		res.Hubs[i].PGms = ms(percentile(lat, 50))
		o.Logger.Info("postgres closure", "hub", h, "p50", percentile(lat, 50))
	}
	res.PostgresP50ms, res.PostgresP99ms = ms(percentile(all, 50)), ms(percentile(all, 99))
	return nil
}

// postgres is a private server started for the run.
type postgres struct {
	bin, dir string
	asUser   []string // the command prefix that runs as the postgres user
	dsn      string
	started  bool
	log      func(msg string, args ...any)
}

// postgresSettings tune the server for this read-heavy, in-memory workload:
// the whole edge table fits in shared buffers, the UNION's hash table in
// work_mem, and nothing is made durable.
var postgresSettings = []string{
	"listen_addresses=127.0.0.1", "shared_buffers=1GB", "work_mem=512MB", "maintenance_work_mem=512MB",
	"effective_cache_size=4GB", "fsync=off", "synchronous_commit=off", "full_page_writes=off",
	"max_parallel_workers_per_gather=2", "jit=off",
}

// startPostgres runs initdb and starts Debian's PostgreSQL on a private
// data directory and a free loopback port, as the postgres user when this
// process is root (PostgreSQL refuses to run as root).
func startPostgres(ctx context.Context, o options) (*postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: bin, log: o.Logger.Info}
	parent := os.TempDir()
	if pg.dir, err = os.MkdirTemp(parent, "watershed-bench-pg-"); err != nil {
		return nil, fmt.Errorf("create postgres directory: %w", err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(pg.dir)
			return nil, fmt.Errorf("running as root, and there is no postgres user to run PostgreSQL as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(pg.dir, uid, gid); err != nil {
			os.RemoveAll(pg.dir)
			return nil, fmt.Errorf("give the data directory to postgres: %w", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			os.RemoveAll(pg.dir)
			return nil, fmt.Errorf("running as root needs runuser to start PostgreSQL as postgres: %w", err)
		}
		pg.asUser = []string{runuser, "-u", "postgres", "--"}
	}
	data := filepath.Join(pg.dir, "data")
	if out, err := pg.cmd(ctx, "initdb", "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		pg.remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		pg.remove()
		return nil, err
	}
	opts := []string{"-p", strconv.Itoa(port), "-k", pg.dir}
	for _, s := range postgresSettings {
		opts = append(opts, "-c", s)
	}
	logFile := filepath.Join(pg.dir, "postgres.log")
	if out, err := pg.cmd(ctx, "pg_ctl", "-D", data, "-l", logFile, "-w", "-t", "60", "-o", strings.Join(opts, " "), "start").CombinedOutput(); err != nil {
		logs, _ := os.ReadFile(logFile)
		pg.remove()
		return nil, fmt.Errorf("start postgres: %w\n%s\n%s", err, out, logs)
	}
	pg.started = true
	pg.dsn = fmt.Sprintf("postgres://bench@127.0.0.1:%d/postgres?sslmode=disable", port)
	o.Logger.Info("started postgres", "bin", bin, "port", port, "dir", pg.dir)
	return pg, nil
}

func (pg *postgres) cmd(ctx context.Context, tool string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, pg.asUser...), filepath.Join(pg.bin, tool)), args...)
	c := exec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = pg.dir
	// A ^C to the bench must not reach the server before pg_ctl stops it.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return c
}

// stop shuts the server down and removes its directory.
func (pg *postgres) stop() {
	if pg.started {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := pg.cmd(ctx, "pg_ctl", "-D", filepath.Join(pg.dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
			pg.log("stop postgres", "err", err, "out", string(out))
		}
		pg.started = false
	}
	pg.remove()
}

func (pg *postgres) remove() {
	if err := os.RemoveAll(pg.dir); err != nil {
		pg.log("remove postgres directory", "err", err)
	}
}

// postgresBin finds the server binaries of the newest installed Debian
// PostgreSQL.
func postgresBin() (string, error) {
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (apt-get install -y postgresql)")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
