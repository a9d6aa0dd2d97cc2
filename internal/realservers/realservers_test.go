package realservers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/internal/realservers"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestRealKafka: the KRaft cluster has every broker, replicates a topic
// over all of them and round-trips records.
func TestRealKafka(t *testing.T) {
	st := realservers.Require(t, realservers.Kafka)
	ctx := ctxFor(t, time.Minute)
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.Kafka.Bootstrap...), kgo.ConsumeTopics("smoke-"+t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	m, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Brokers) != st.Kafka.Brokers || m.Cluster != st.Kafka.ClusterID {
		t.Fatalf("metadata: %d brokers, cluster %q; want %d, %q", len(m.Brokers), m.Cluster, st.Kafka.Brokers, st.Kafka.ClusterID)
	}
	topic := "smoke-" + t.Name()
	resp, err := adm.CreateTopic(ctx, 3, int16(st.Kafka.Brokers), nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	defer adm.DeleteTopics(context.Background(), topic)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	fs := cl.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if recs := fs.Records(); len(recs) != 1 || string(recs[0].Value) != "hello" {
		t.Fatalf("records %v", recs)
	}
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range td[topic].Partitions {
		if len(p.Replicas) != st.Kafka.Brokers {
			t.Errorf("partition %d replicas %v", p.Partition, p.Replicas)
		}
	}
}

// TestRealRegistry: Apicurio's Confluent-compatible API registers an Avro
// schema, serves it by id and refuses an incompatible change once the
// subject asks for BACKWARD compatibility.
func TestRealRegistry(t *testing.T) {
	st := realservers.Require(t, realservers.Registry)
	ctx := ctxFor(t, time.Minute)
	cl, err := sr.NewClient(sr.URLs(st.Registry.URL))
	if err != nil {
		t.Fatal(err)
	}
	subject := fmt.Sprintf("smoke-%d-value", time.Now().UnixNano())
	v1 := `{"type":"record","name":"Smoke","namespace":"watershed.test","fields":[{"name":"id","type":"long"}]}`
	ss, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: v1})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	got, err := cl.SchemaByID(ctx, ss.ID)
	if err != nil || !strings.Contains(got.Schema, `"Smoke"`) {
		t.Fatalf("schema %d: %v %q", ss.ID, err, got.Schema)
	}
	if res := cl.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}, subject); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("set compatibility: %+v", res)
	}
	bad := `{"type":"record","name":"Smoke","namespace":"watershed.test","fields":[{"name":"id","type":"long"},{"name":"required","type":"string"}]}`
	if _, err := cl.CreateSchema(ctx, subject, sr.Schema{Schema: bad}); err == nil {
		t.Error("a field without default was accepted under BACKWARD compatibility")
	}
	subjects, err := cl.Subjects(ctx)
	if err != nil || !slices.Contains(subjects, subject) {
		t.Errorf("subjects %v (%v) lack %s", subjects, err, subject)
	}
}

// TestRealConnect: the worker runs the Kafka version of the POM and has
// the Debezium plugins and the Apicurio converter loaded.
func TestRealConnect(t *testing.T) {
	st := realservers.Require(t, realservers.Connect)
	var root struct {
		Version        string `json:"version"`
		KafkaClusterID string `json:"kafka_cluster_id"`
	}
	getJSON(t, st.Connect.URL+"/", &root)
	if st.Kafka != nil && (root.Version != st.Kafka.Version || root.KafkaClusterID != st.Kafka.ClusterID) {
		t.Errorf("worker %+v; want Kafka %s, cluster %s", root, st.Kafka.Version, st.Kafka.ClusterID)
	}
	var plugins []struct {
		Class   string `json:"class"`
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	getJSON(t, st.Connect.URL+"/connector-plugins", &plugins)
	want := map[string]string{
		"io.debezium.connector.postgresql.PostgresConnector": realservers.DebeziumPostgresVersion,
		"io.debezium.connector.jdbc.JdbcSinkConnector":       realservers.DebeziumJDBCVersion,
	}
	for _, p := range plugins {
		if v, ok := want[p.Class]; ok && v == p.Version {
			delete(want, p.Class)
		}
	}
	if len(want) > 0 {
		t.Errorf("connector plugins %+v lack %v", plugins, want)
	}
}

// TestRealPostgres: the server runs with logical decoding, as Debezium
// needs, and takes the superuser's password over TCP.
func TestRealPostgres(t *testing.T) {
	st := realservers.Require(t, realservers.Postgres)
	out := Psql(t, st.Postgres, "postgres", "SHOW wal_level")
	if out != "logical" {
		t.Errorf("wal_level = %q", out)
	}
	bad := *st.Postgres
	bad.Password = "wrong"
	cmd := exec.Command("psql", "-XAtq", bad.DSN("postgres"), "-c", "SELECT 1")
	if err := cmd.Run(); err == nil {
		t.Error("a wrong password was accepted over TCP")
	}
}

// TestRealNeo4jBolt: Bolt answers, with authentication, a write and a
// read of the embedded Neo4j.
func TestRealNeo4jBolt(t *testing.T) {
	st := realservers.Require(t, realservers.Neo4j)
	ctx := ctxFor(t, time.Minute)
	drv, err := neo4j.NewDriverWithContext(st.Neo4j.BoltURL, neo4j.BasicAuth(st.Neo4j.User, st.Neo4j.Password, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer drv.Close(ctx)
	if err := drv.VerifyConnectivity(ctx); err != nil {
		t.Fatalf("verify connectivity: %v", err)
	}
	name := fmt.Sprintf("smoke-%d", time.Now().UnixNano())
	if _, err := neo4j.ExecuteQuery(ctx, drv, "MERGE (a:Asset {urn: $urn}) RETURN a", map[string]any{"urn": name}, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("write: %v", err)
	}
	res, err := neo4j.ExecuteQuery(ctx, drv, "MATCH (a:Asset {urn: $urn}) RETURN count(a) AS n", map[string]any{"urn": name}, neo4j.EagerResultTransformer)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if n, _ := res.Records[0].Get("n"); n != int64(1) {
		t.Errorf("count = %v", n)
	}
	bad, err := neo4j.NewDriverWithContext(st.Neo4j.BoltURL, neo4j.BasicAuth(st.Neo4j.User, "wrong-password", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close(ctx)
	if err := bad.VerifyConnectivity(ctx); err == nil {
		t.Error("a wrong password was accepted over Bolt")
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", url, err)
	}
}

// Psql runs sql in db with psql and returns its unaligned output.
func Psql(t *testing.T, pg *realservers.PostgresInfo, db, sql string) string {
	t.Helper()
	cmd := exec.Command("psql", "-XAtq", "-v", "ON_ERROR_STOP=1", pg.DSN(db), "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql %q: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}
