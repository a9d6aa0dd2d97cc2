package realservers

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseServers(t *testing.T) {
	got, err := ParseServers([]string{"neo4j", "kafka", "connect"})
	if err != nil || !reflect.DeepEqual(got, []Server{Kafka, Connect, Neo4j}) {
		t.Errorf("ParseServers = %v, %v; want start order kafka connect neo4j", got, err)
	}
	if got, _ := ParseServers([]string{"all"}); !reflect.DeepEqual(got, All) {
		t.Errorf("all = %v", got)
	}
	if _, err := ParseServers([]string{"zookeeper"}); err == nil || !strings.Contains(err.Error(), "unknown server") {
		t.Errorf("unknown server: %v", err)
	}
}

// TestKafkaProperties: node 0 is the only controller, every node has the
// traps of a small cluster covered (replication factor 1 for the internal
// topics) and an authorizer.
func TestKafkaProperties(t *testing.T) {
	n0 := kafkaProperties(0, 9092, 9093, "/d0")
	n1 := kafkaProperties(1, 9094, 9093, "/d1")
	for _, want := range []string{"process.roles=broker,controller", "node.id=0", "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
		"controller.quorum.voters=0@127.0.0.1:9093", "offsets.topic.replication.factor=1", "transaction.state.log.replication.factor=1",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer", "log.dirs=/d0"} {
		if !strings.Contains(n0, want+"\n") {
			t.Errorf("node 0 lacks %q:\n%s", want, n0)
		}
	}
	for _, want := range []string{"process.roles=broker\n", "node.id=1\n", "listeners=PLAINTEXT://127.0.0.1:9094\n", "controller.quorum.voters=0@127.0.0.1:9093\n"} {
		if !strings.Contains(n1, want) {
			t.Errorf("node 1 lacks %q:\n%s", want, n1)
		}
	}
}

// TestUntarRefusesEscapes: an archive entry naming ../ is refused.
func TestUntarRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a.tar.gz")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"ok/a.txt", "../escape.txt"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 2, Typeflag: tar.TypeReg})
		tw.Write([]byte("hi"))
	}
	tw.Close()
	gz.Close()
	f.Close()
	err = untar(file, filepath.Join(dir, "out"))
	if err == nil || !strings.Contains(err.Error(), "leaves the target folder") {
		t.Errorf("untar = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "escape.txt")); err == nil {
		t.Error("an entry was written outside the target folder")
	}
}

func TestJavaMajor(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "release"), []byte("IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"21.0.2\"\n"), 0o644)
	if v := javaMajor(dir); v != 21 {
		t.Errorf("javaMajor = %d", v)
	}
	if v := javaMajor(t.TempDir()); v != 0 {
		t.Errorf("javaMajor of a folder without release = %d", v)
	}
}

// TestStateRoundTripAndForget: the state file keeps what runs; a server
// whose processes are all gone is forgotten, one with a live process kept.
func TestStateRoundTripAndForget(t *testing.T) {
	dir := t.TempDir()
	self, _ := os.Executable()
	st := &State{RunDir: dir,
		Kafka:    &KafkaInfo{Bootstrap: []string{"127.0.0.1:1"}, Brokers: 1, Procs: []Proc{{Name: "kafka-0", PID: os.Getpid(), Marker: filepath.Base(self)}}},
		Registry: &RegistryInfo{URL: "http://127.0.0.1:2/apis/ccompat/v7", Proc: Proc{Name: "registry", PID: os.Getpid(), Marker: "no such marker on the command line"}},
	}
	if err := st.write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := ReadState(filepath.Join(dir, StateFile))
	if err != nil || !reflect.DeepEqual(back, st) {
		t.Fatalf("read back %+v, %v", back, err)
	}
	back.forgetDead(Kafka)
	back.forgetDead(Registry)
	if !back.Has(Kafka) || back.Has(Registry) {
		t.Errorf("after forgetDead: kafka %v (alive, kept), registry %v (marker absent, forgotten)", back.Has(Kafka), back.Has(Registry))
	}
}

// TestRequireSkipsWithReason: without the state variable a test skips and
// says how to run it; with REALSERVERS_REQUIRED=1 it would fail instead.
func TestRequireSkipsWithReason(t *testing.T) {
	t.Setenv(EnvState, "")
	t.Setenv(EnvRequired, "")
	var inner *testing.T
	t.Run("inner", func(t *testing.T) {
		inner = t
		Require(t, Kafka)
		t.Error("Require returned without the servers")
	})
	if !inner.Skipped() {
		t.Error("Require did not skip")
	}
}
