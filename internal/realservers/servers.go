package realservers

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// registryJava is the JDK Apicurio Registry 3.3.3 needs: its classes are
// compiled for Java 21 (class file version 65); Java 17 refuses them.
const registryJava = 21

// upRegistry starts Apicurio Registry with its default in-memory H2
// storage, authentication off, on a free loopback port.
func (l *Launcher) upRegistry(ctx context.Context, st *State) error {
	if err := l.prepareLogs(); err != nil {
		return err
	}
	home, err := javaHome(registryJava)
	if err != nil {
		return fmt.Errorf("Apicurio Registry %s is compiled for Java 21: %w", ApicurioVersion, err)
	}
	dir, err := l.fetch.archive("io.apicurio:apicurio-registry-app:" + ApicurioVersion + ":tar.gz:all")
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	p, err := spawn("registry", l.marker(), l.logPath("registry"), nil, filepath.Join(home, "bin", "java"),
		append(jvmFlags("512m"), l.marker(),
			"-Dquarkus.http.host=127.0.0.1", "-Dquarkus.http.port="+strconv.Itoa(ports[0]),
			"-Dquarkus.log.console.color=false",
			"-jar", filepath.Join(dir, "quarkus-run.jar"))...)
	if err != nil {
		return err
	}
	info := &RegistryInfo{URL: base + "/apis/ccompat/v7", NativeURL: base + "/apis/registry/v2", Version: ApicurioVersion}
	err = p.waitReady(ctx, 3*time.Minute, func(ctx context.Context) error { return httpReady(ctx, info.URL+"/subjects") })
	info.Proc = p.proc
	st.Registry = info
	return err
}

// The Connect plugins: each in its own folder under plugin.path.
func (l *Launcher) connectPlugins() (string, map[string]string, error) {
	pg, jdbc, conv, err := l.fetchConnectPlugins()
	if err != nil {
		return "", nil, err
	}
	// plugin.path names a folder whose sub-folders are the plugins (one
	// isolated class loader each). A folder of jars named directly would
	// make every jar a plugin of its own: slow, and the jars cannot see
	// each other.
	root := filepath.Join(l.o.RunDir, "connect", "plugins")
	os.RemoveAll(root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", nil, fmt.Errorf("create plugin folder: %w", err)
	}
	for name, dir := range map[string]string{
		"debezium-connector-postgres": filepath.Join(pg, "debezium-connector-postgres"),
		"debezium-connector-jdbc":     filepath.Join(jdbc, "debezium-connector-jdbc"),
	} {
		if err := os.Symlink(dir, filepath.Join(root, name)); err != nil {
			return "", nil, fmt.Errorf("link plugin %s: %w", name, err)
		}
	}
	// The Apicurio 2.6 converter jars carry no ServiceLoader manifest, so
	// plugin.discovery=service_load (which spares the worker a reflective
	// scan of every jar: minutes on a loaded 2-core machine) would not see
	// it. Its folder gets the jars and one more jar holding the manifest.
	apicurio := filepath.Join(root, "apicurio-converter")
	if err := os.MkdirAll(apicurio, 0o755); err != nil {
		return "", nil, fmt.Errorf("create plugin folder: %w", err)
	}
	jars, _ := filepath.Glob(filepath.Join(conv, "*.jar"))
	for _, j := range jars {
		if err := os.Symlink(j, filepath.Join(apicurio, filepath.Base(j))); err != nil {
			return "", nil, fmt.Errorf("link plugin jar: %w", err)
		}
	}
	if err := writeManifestJar(filepath.Join(apicurio, "watershed-service-manifest.jar"), map[string][]string{
		"org.apache.kafka.connect.storage.Converter": {"io.apicurio.registry.utils.converter.AvroConverter",
			"io.apicurio.registry.utils.converter.ExtJsonConverter", "io.apicurio.registry.utils.converter.SerdeBasedConverter"},
	}); err != nil {
		return "", nil, err
	}
	path := root
	return path, map[string]string{
		"debezium-connector-postgres":       DebeziumPostgresVersion,
		"debezium-connector-jdbc":           DebeziumJDBCVersion,
		"apicurio-registry-utils-converter": l.pomProperty("connect", "apicurio"),
	}, nil
}

// fetchConnectPlugins resolves the plugin archives and folders.
func (l *Launcher) fetchConnectPlugins() (pg, jdbc, conv string, err error) {
	if pg, err = l.fetch.archive("io.debezium:debezium-connector-postgres:" + DebeziumPostgresVersion + ":tar.gz:plugin"); err != nil {
		return
	}
	if jdbc, err = l.fetch.archive("io.debezium:debezium-connector-jdbc:" + DebeziumJDBCVersion + ":tar.gz:plugin"); err != nil {
		return
	}
	conv, err = l.fetch.copyDeps("connect")
	return
}

// upConnect starts one Kafka Connect distributed worker against the
// running brokers, with the Debezium PostgreSQL source, the Debezium JDBC
// sink and Apicurio's Avro converter installed.
func (l *Launcher) upConnect(ctx context.Context, st *State) error {
	if st.Kafka == nil {
		return fmt.Errorf("Connect needs Kafka: start it first (infra/up kafka connect)")
	}
	if err := l.prepareLogs(); err != nil {
		return err
	}
	home, err := javaHome(kafkaJava)
	if err != nil {
		return err
	}
	cp, err := l.fetch.classpath("kafka")
	if err != nil {
		return err
	}
	argfile, err := l.writeArgFile("kafka", cp)
	if err != nil {
		return err
	}
	plugins, versions, err := l.connectPlugins()
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	dir := filepath.Join(l.o.RunDir, "connect")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	props := filepath.Join(dir, "worker.properties")
	body := strings.Join([]string{
		"bootstrap.servers=" + strings.Join(st.Kafka.Bootstrap, ","),
		"group.id=watershed-connect",
		fmt.Sprintf("listeners=http://127.0.0.1:%d", ports[0]),
		"rest.advertised.host.name=127.0.0.1",
		fmt.Sprintf("rest.advertised.port=%d", ports[0]),
		"key.converter=org.apache.kafka.connect.json.JsonConverter",
		"value.converter=org.apache.kafka.connect.json.JsonConverter",
		"config.storage.topic=_connect-configs",
		"offset.storage.topic=_connect-offsets",
		"status.storage.topic=_connect-status",
		"config.storage.replication.factor=1",
		"offset.storage.replication.factor=1",
		"status.storage.replication.factor=1",
		"offset.storage.partitions=1",
		"status.storage.partitions=1",
		"offset.flush.interval.ms=1000",
		"connector.client.config.override.policy=All",
		"plugin.discovery=service_load",
		"plugin.path=" + plugins,
		"",
	}, "\n")
	if err := os.WriteFile(props, []byte(body), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", props, err)
	}
	log4j := "-Dlog4j2.configurationFile=" + filepath.Join(l.o.InfraDir, "kafka", "log4j2.properties")
	p, err := spawn("connect", l.marker(), l.logPath("connect"), nil, filepath.Join(home, "bin", "java"),
		append(append(jvmFlags("1g"), l.marker(), log4j, argfile), "org.apache.kafka.connect.cli.ConnectDistributed", props)...)
	if err != nil {
		return err
	}
	info := &ConnectInfo{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), Plugins: versions}
	err = p.waitReady(ctx, 3*time.Minute, func(ctx context.Context) error { return connectReady(ctx, info.URL) })
	info.Proc = p.proc
	st.Connect = info
	return err
}

// connectReady wants GET /health to say the worker finished starting and
// the plugins the suite relies on to be loaded.
func connectReady(ctx context.Context, base string) error {
	if err := httpReady(ctx, base+"/health"); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/connector-plugins?connectorsOnly=false", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var plugins []struct {
		Class string `json:"class"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&plugins); err != nil {
		return fmt.Errorf("decode connector plugins: %w", err)
	}
	have := map[string]bool{}
	for _, p := range plugins {
		have[p.Class] = true
	}
	for _, c := range []string{"io.debezium.connector.postgresql.PostgresConnector", "io.debezium.connector.jdbc.JdbcSinkConnector",
		"io.apicurio.registry.utils.converter.AvroConverter", "io.debezium.transforms.ExtractNewRecordState"} {
		if !have[c] {
			return fmt.Errorf("plugin %s is not loaded", c)
		}
	}
	return nil
}

// upNeo4j starts an embedded Neo4j Community DBMS with Bolt only, from
// infra/neo4j/Neo4jMain.java run as a single-file source program.
func (l *Launcher) upNeo4j(ctx context.Context, st *State) error {
	if err := l.prepareLogs(); err != nil {
		return err
	}
	home, err := javaHome(kafkaJava)
	if err != nil {
		return err
	}
	cp, err := l.fetch.classpath("neo4j")
	if err != nil {
		return err
	}
	argfile, err := l.writeArgFile("neo4j", cp)
	if err != nil {
		return err
	}
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	data := filepath.Join(l.o.RunDir, "neo4j")
	os.RemoveAll(data)
	password := "watershed-" + randomID(6)
	args := append(jvmFlags("1g"), l.marker(),
		// The flags Neo4j's own neo4j.conf sets on JDK 17+.
		"--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
		"--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
		"-Dio.netty.tryReflectionSetAccessible=true",
		argfile, filepath.Join(l.o.InfraDir, "neo4j", "Neo4jMain.java"), data, strconv.Itoa(ports[0]), password)
	log := l.logPath("neo4j")
	p, err := spawn("neo4j", l.marker(), log, nil, filepath.Join(home, "bin", "java"), args...)
	if err != nil {
		return err
	}
	info := &Neo4jInfo{BoltURL: fmt.Sprintf("bolt://127.0.0.1:%d", ports[0]), User: "neo4j", Password: password, Version: l.pomProperty("neo4j", "neo4j")}
	err = p.waitReady(ctx, 3*time.Minute, func(ctx context.Context) error {
		b, err := os.ReadFile(log)
		if err != nil || !strings.Contains(string(b), "NEO4J_READY") {
			return fmt.Errorf("no NEO4J_READY line in the log yet")
		}
		// Ready means a Bolt login with the password works: once (of
		// about ten cold starts) a login right after NEO4J_READY was
		// refused although ALTER USER had committed.
		return boltReady(ctx, info.BoltURL, info.User, password)
	})
	info.Proc = p.proc
	st.Neo4j = info
	return err
}

// upPostgres initialises a private cluster and starts Debian's PostgreSQL
// on it with wal_level=logical (what Debezium needs). PostgreSQL refuses
// to run as root, so as root every step runs as the postgres user, on a
// data folder under the system temp dir that user owns.
func (l *Launcher) upPostgres(ctx context.Context, st *State) error {
	bin, err := postgresBin()
	if err != nil {
		return err
	}
	var as []string // command prefix that drops root
	var owner *user.User
	if os.Geteuid() == 0 {
		owner, err = user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root, PostgreSQL must run as the postgres user: %w (apt-get install -y postgresql creates it)", err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	base, err := os.MkdirTemp("", "watershed-pg-")
	if err != nil {
		return fmt.Errorf("create PostgreSQL folder: %w", err)
	}
	if owner != nil {
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			return fmt.Errorf("hand %s to postgres: %w", base, err)
		}
	}
	data := filepath.Join(base, "data")
	log := filepath.Join(base, "postgres.log")
	password := "watershed-" + randomID(6)
	pwfile := filepath.Join(base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write password file: %w", err)
	}
	if owner != nil {
		uid, _ := strconv.Atoi(owner.Uid)
		gid, _ := strconv.Atoi(owner.Gid)
		if err := os.Chown(pwfile, uid, gid); err != nil {
			return fmt.Errorf("hand password file to postgres: %w", err)
		}
	}
	run := func(name string, args ...string) error {
		argv := append(append(append([]string{}, as...), filepath.Join(bin, name)), args...)
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, lastLines(string(out), 30))
		}
		return nil
	}
	if err := run("initdb", "-D", data, "-U", "postgres", "--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-instructions"); err != nil {
		return err
	}
	os.Remove(pwfile)
	ports, err := freePorts(1)
	if err != nil {
		return err
	}
	opts := strings.Join([]string{
		"-c wal_level=logical", "-c listen_addresses=127.0.0.1", "-c port=" + strconv.Itoa(ports[0]),
		"-c unix_socket_directories=" + base, "-c max_wal_senders=10", "-c max_replication_slots=10",
		// Test data: durability off, speed on.
		"-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
	}, " ")
	begin := time.Now()
	if err := run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return fmt.Errorf("start PostgreSQL: %w\n%s", err, Tail(log, 40))
	}
	pid, err := postmasterPID(data)
	if err != nil {
		return err
	}
	version, _ := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	st.Postgres = &PostgresInfo{Host: "127.0.0.1", Port: ports[0], User: "postgres", Password: password, DataDir: data,
		Version: strings.TrimSpace(string(version)),
		Proc:    Proc{Name: "postgres", PID: pid, Marker: data, Log: log, StartSeconds: time.Since(begin).Seconds()}}
	return dial(ctx, fmt.Sprintf("127.0.0.1:%d", ports[0]))
}

// postgresBin finds the newest /usr/lib/postgresql/<v>/bin, else the
// folder of initdb on PATH.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(r), nil
		}
	}
	return "", fmt.Errorf("find PostgreSQL's initdb: not in /usr/lib/postgresql/*/bin nor on PATH (apt-get install -y postgresql)")
}

func postmasterPID(data string) (int, error) {
	b, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("read postmaster.pid: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		return 0, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return 0, fmt.Errorf("postmaster %d: %w", pid, err)
	}
	return pid, nil
}

// writeManifestJar writes a jar holding META-INF/services files only.
func writeManifestJar(path string, services map[string][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	zw := zip.NewWriter(f)
	for iface, impls := range services {
		w, err := zw.Create("META-INF/services/" + iface)
		if err == nil {
			_, err = w.Write([]byte(strings.Join(impls, "\n") + "\n"))
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// boltReady logs in over Bolt and runs nothing else.
func boltReady(ctx context.Context, url, user, password string) error {
	drv, err := neo4j.NewDriverWithContext(url, neo4j.BasicAuth(user, password, ""))
	if err != nil {
		return err
	}
	defer drv.Close(ctx)
	return drv.VerifyConnectivity(ctx)
}
