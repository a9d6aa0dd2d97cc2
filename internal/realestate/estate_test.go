package realestate_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/internal/realservers"
)

// The estate's names: those of the demo estate (internal/demo) wherever
// the shape is the same, so that the two crawls can be compared.
const (
	kafkaSource    = "prod"
	registrySource = "prod-sr"
	connectSource  = "prod-connect"

	sourceConnector = "shop-postgres-cdc"
	sinkConnector   = "dwh-jdbc-sink"
	slotName        = "watershed_shop"

	eventsTopic   = "shop.order-events"
	eventsSubject = eventsTopic + "-com.acme.shop.events.OrderPlaced" // TopicRecordNameStrategy
)

// estate is the real estate: PostgreSQL databases shop (the source) and
// dwh (the sink), a Debezium source and a Debezium JDBC sink on the real
// Connect worker, Avro through Apicurio, a Go producer, a consumer group.
type estate struct {
	t  *testing.T
	st *realservers.State
	pg *realservers.PostgresInfo
}

func (e *estate) psql(db, sql string) string {
	e.t.Helper()
	cmd := exec.Command("psql", "-XAtq", "-v", "ON_ERROR_STOP=1", e.pg.DSN(db), "-c", sql)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("psql %s %q: %v\n%s", db, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// connect calls the Connect REST API and decodes a JSON answer into out
// (when non-nil). It returns the status code.
func (e *estate) connect(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.st.Connect.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 && resp.StatusCode != 404 {
		e.t.Logf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return resp.StatusCode
}

// converter is the Avro converter config of both connectors: Apicurio's
// converter writing the Confluent wire format (magic byte, 4-byte id) with
// the content id, which is what the ccompat API calls a schema id.
func (e *estate) converter(prefix string) map[string]string {
	return map[string]string{
		prefix:                            "io.apicurio.registry.utils.converter.AvroConverter",
		prefix + ".apicurio.registry.url": e.st.Registry.NativeURL,
		prefix + ".apicurio.registry.auto-register":   "true",
		prefix + ".apicurio.registry.find-latest":     "true",
		prefix + ".apicurio.registry.as-confluent":    "true",
		prefix + ".apicurio.registry.use-id":          "contentId",
		prefix + ".apicurio.registry.headers.enabled": "false",
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// sourceConfig mirrors the demo's shop-postgres-cdc: Debezium PostgreSQL
// with a RegexRouter renaming shop.public.<table> to cdc.shop.<table>.
func (e *estate) sourceConfig() map[string]string {
	return merge(e.converter("key.converter"), e.converter("value.converter"), map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                   "1",
		"database.hostname":           e.pg.Host,
		"database.port":               fmt.Sprint(e.pg.Port),
		"database.user":               e.pg.User,
		"database.password":           e.pg.Password,
		"database.dbname":             "shop",
		"topic.prefix":                "shop",
		"plugin.name":                 "pgoutput", // Debezium's default (decoderbufs) is not in Debian's PostgreSQL
		"slot.name":                   slotName,
		"publication.name":            slotName,
		"publication.autocreate.mode": "filtered",
		"table.include.list":          "public.customers,public.orders,public.order_items",
		"snapshot.mode":               "initial",
		"topic.creation.default.replication.factor": "3",
		"topic.creation.default.partitions":         "1",
		"topic.creation.default.cleanup.policy":     "compact",
		"transforms":                                "route",
		"transforms.route.type":                     "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                    `shop\.public\.(.*)`,
		"transforms.route.replacement":              "cdc.shop.$1",
	})
}

// sinkConfig mirrors the demo's dwh-jdbc-sink (unwrap, then RegexRouter
// cdc.shop.<table> → <table>, into staging.<table>), on Debezium's JDBC
// sink instead of Confluent's, which is not on Maven Central.
func (e *estate) sinkConfig() map[string]string {
	return merge(e.converter("key.converter"), e.converter("value.converter"), map[string]string{
		"connector.class":                       "io.debezium.connector.jdbc.JdbcSinkConnector",
		"tasks.max":                             "1",
		"topics.regex":                          `cdc\.shop\..*`,
		"connection.url":                        fmt.Sprintf("jdbc:postgresql://%s:%d/dwh", e.pg.Host, e.pg.Port),
		"connection.username":                   e.pg.User,
		"connection.password":                   e.pg.Password,
		"insert.mode":                           "upsert",
		"primary.key.mode":                      "record_key",
		"delete.enabled":                        "true",
		"schema.evolution":                      "basic",
		"collection.name.format":                "staging.${topic}",
		"transforms":                            "unwrap,route",
		"transforms.unwrap.type":                "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.drop.tombstones":     "false",
		"transforms.route.type":                 "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                `cdc\.shop\.(.*)`,
		"transforms.route.replacement":          "$1",
		"consumer.override.metadata.max.age.ms": "5000",
	})
}

// teardown removes what a previous run left on the same servers:
// connectors with their offsets, the replication slot, the databases, the
// topics and the subjects. Missing pieces are fine.
func (e *estate) teardown() {
	e.t.Helper()
	for _, c := range []string{sinkConnector, sourceConnector} {
		if e.connect(http.MethodPut, "/connectors/"+c+"/stop", nil, nil) == 404 {
			continue
		}
		waitFor(e.t, 30*time.Second, "connector "+c+" stopped", func() error {
			var s connectorStatus
			e.connect(http.MethodGet, "/connectors/"+c+"/status", nil, &s)
			if s.Connector.State != "STOPPED" {
				return fmt.Errorf("state %s", s.Connector.State)
			}
			return nil
		})
		e.connect(http.MethodDelete, "/connectors/"+c+"/offsets", nil, nil)
		e.connect(http.MethodDelete, "/connectors/"+c, nil, nil)
	}
	e.psql("postgres", "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots WHERE slot_name = '"+slotName+"'")
	e.psql("postgres", "DROP DATABASE IF EXISTS shop WITH (FORCE)")
	e.psql("postgres", "DROP DATABASE IF EXISTS dwh WITH (FORCE)")
	adm := e.admin()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if topics, err := adm.ListTopics(ctx); err == nil {
		var drop []string
		for _, n := range topics.Names() {
			if strings.HasPrefix(n, "cdc.shop.") || n == eventsTopic || n == "shop" {
				drop = append(drop, n)
			}
		}
		if len(drop) > 0 {
			if _, err := adm.DeleteTopics(ctx, drop...); err != nil {
				e.t.Logf("delete topics %v: %v", drop, err)
			}
		}
	}
	adm.DeleteGroups(ctx, "analytics", "connect-"+sinkConnector)
	if cl, err := sr.NewClient(sr.URLs(e.st.Registry.URL)); err == nil {
		if subjects, err := cl.Subjects(ctx); err == nil {
			for _, s := range subjects {
				if strings.HasPrefix(s, "cdc.shop.") || strings.HasPrefix(s, eventsTopic) {
					cl.DeleteSubject(ctx, s, sr.SoftDelete)
					cl.DeleteSubject(ctx, s, sr.HardDelete)
				}
			}
		}
	}
}

func (e *estate) admin() *kadm.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.st.Kafka.Bootstrap...), kgo.ClientID("realestate-admin"))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

type connectorStatus struct {
	Connector struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		State string `json:"state"`
		Trace string `json:"trace"`
	} `json:"tasks"`
}

// createConnector creates connector name and waits until it and its
// tasks run.
func (e *estate) createConnector(name string, cfg map[string]string) {
	t := e.t
	t.Helper()
	if code := e.connect(http.MethodPut, "/connectors/"+name+"/config", cfg, nil); code != 201 && code != 200 {
		t.Fatalf("create connector %s: status %d", name, code)
	}
	waitFor(t, 2*time.Minute, name+" running", func() error {
		var s connectorStatus
		e.connect(http.MethodGet, "/connectors/"+name+"/status", nil, &s)
		if s.Connector.State != "RUNNING" || len(s.Tasks) == 0 {
			return fmt.Errorf("connector %s, tasks %+v", s.Connector.State, s.Tasks)
		}
		for _, tk := range s.Tasks {
			if tk.State == "FAILED" {
				t.Fatalf("%s task failed: %s", name, tk.Trace)
			}
			if tk.State != "RUNNING" {
				return fmt.Errorf("task %s", tk.State)
			}
		}
		return nil
	})
}

// seed builds the estate and waits until data has flowed end to end.
func (e *estate) seed(ctx context.Context) {
	t := e.t
	e.psql("postgres", "CREATE DATABASE shop")
	e.psql("postgres", "CREATE DATABASE dwh")
	e.psql("shop", `
		CREATE TABLE customers (
			id bigserial PRIMARY KEY,
			email text NOT NULL,
			first_name text NOT NULL,
			last_name text NOT NULL,
			phone text,
			loyalty_tier text NOT NULL DEFAULT 'BRONZE',
			created_at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE orders (
			id bigserial PRIMARY KEY,
			customer_id bigint NOT NULL REFERENCES customers(id),
			status text NOT NULL,
			total numeric(12,2) NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now());
		CREATE TABLE order_items (
			id bigserial PRIMARY KEY,
			order_id bigint NOT NULL REFERENCES orders(id),
			sku text NOT NULL,
			quantity int NOT NULL);
		INSERT INTO customers (email, first_name, last_name, phone) VALUES
			('ada@example.com', 'Ada', 'Lovelace', NULL),
			('alan@example.com', 'Alan', 'Turing', '+44 20 7946 0000'),
			('grace@example.com', 'Grace', 'Hopper', NULL);
		INSERT INTO orders (customer_id, status, total) VALUES (1, 'NEW', 12.50), (2, 'PAID', 99.99);
		INSERT INTO order_items (order_id, sku, quantity) VALUES (1, 'SKU-1', 2), (2, 'SKU-2', 1);`)
	e.psql("dwh", "CREATE SCHEMA staging")
	// Confluent's default global level, which Apicurio does not share
	// (its default is NONE); the demo's registry has it too.
	reg, err := sr.NewClient(sr.URLs(e.st.Registry.URL))
	if err != nil {
		t.Fatal(err)
	}
	if res := reg.SetCompatibility(ctx, sr.SetCompatibility{Level: sr.CompatBackward}); len(res) != 1 || res[0].Err != nil {
		t.Fatalf("set global compatibility: %+v", res)
	}

	// The source first, and the sink once the source's topics exist: a
	// topics.regex subscription sees a new topic only at its next metadata
	// refresh (the sink also lowers metadata.max.age.ms for that).
	e.createConnector(sourceConnector, e.sourceConfig())
	waitFor(t, 2*time.Minute, "the source's topics", func() error {
		var topics map[string]struct {
			Topics []string `json:"topics"`
		}
		e.connect(http.MethodGet, "/connectors/"+sourceConnector+"/topics", nil, &topics)
		if got := topics[sourceConnector].Topics; len(got) < 3 {
			return fmt.Errorf("active topics %v", got)
		}
		return nil
	})
	e.createConnector(sinkConnector, e.sinkConfig())
	// The snapshot, through the real topics, lands in the sink database.
	waitFor(t, 2*time.Minute, "snapshot in dwh.staging.customers", func() error {
		out := psqlQuiet(e.pg, "dwh", "SELECT string_agg(email, ',' ORDER BY id) FROM staging.customers")
		if out != "ada@example.com,alan@example.com,grace@example.com" {
			return fmt.Errorf("rows %q", out)
		}
		return nil
	})

	e.consumeWithLag(ctx)
	// Streaming changes after the snapshot (the consumer group falls behind).
	e.psql("shop", "INSERT INTO customers (email, first_name, last_name) VALUES ('edsger@example.com', 'Edsger', 'Dijkstra'), ('barbara@example.com', 'Barbara', 'Liskov')")
	e.psql("shop", "UPDATE customers SET email = 'ada.lovelace@example.com' WHERE id = 1")
	waitFor(t, 2*time.Minute, "streamed changes in dwh.staging.customers", func() error {
		out := psqlQuiet(e.pg, "dwh", "SELECT string_agg(email, ',' ORDER BY id) FROM staging.customers")
		if out != "ada.lovelace@example.com,alan@example.com,grace@example.com,edsger@example.com,barbara@example.com" {
			return fmt.Errorf("rows %q", out)
		}
		return nil
	})
	e.produceEvents(ctx)
	e.createACLs(ctx)
}

// consumeWithLag joins group analytics on cdc.shop.customers, like the
// demo's notebook reader: it takes one record, commits it and stays a
// member (heartbeating) until the test ends.
func (e *estate) consumeWithLag(ctx context.Context) {
	t := e.t
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.st.Kafka.Bootstrap...), kgo.ClientID("analytics-notebook"),
		kgo.ConsumerGroup("analytics"), kgo.ConsumeTopics("cdc.shop.customers"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	fs := cl.PollRecords(pctx, 1)
	if err := fs.Err(); err != nil {
		t.Fatalf("analytics poll: %v", err)
	}
	if n := len(fs.Records()); n != 1 {
		t.Fatalf("analytics polled %d records, want 1", n)
	}
	if err := cl.CommitUncommittedOffsets(pctx); err != nil {
		t.Fatalf("analytics commit: %v", err)
	}
	cl.PauseFetchTopics("cdc.shop.customers") // stay in the group, take no more
}

// produceEvents is a Go service writing Avro records in the Confluent
// wire format, its schema registered through the real registry under a
// TopicRecordNameStrategy subject: only a sampled record tells the
// crawler which topic the subject belongs to.
func (e *estate) produceEvents(ctx context.Context) {
	t := e.t
	text, err := os.ReadFile(filepath.Join("..", "demo", "schemas", "order-placed.avsc"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sr.NewClient(sr.URLs(e.st.Registry.URL))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := reg.CreateSchema(ctx, eventsSubject, sr.Schema{Schema: string(text), Type: sr.TypeAvro})
	if err != nil {
		t.Fatalf("register %s: %v", eventsSubject, err)
	}
	schema, err := avro.Parse(string(text))
	if err != nil {
		t.Fatal(err)
	}
	adm := e.admin()
	if resp, err := adm.CreateTopic(ctx, 3, 3, map[string]*string{"retention.ms": ptr("604800000")}, eventsTopic); err != nil || resp.Err != nil {
		t.Fatalf("create %s: %v %v", eventsTopic, err, resp.Err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.st.Kafka.Bootstrap...), kgo.ClientID("order-service"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := int64(1); i <= 6; i++ {
		payload, err := avro.Marshal(schema, map[string]any{
			"order_id": i, "customer_id": i%3 + 1, "customer_email": fmt.Sprintf("c%d@example.com", i),
			"items": []any{map[string]any{"sku": "SKU-1", "quantity": 1}}, "total": 10.5 * float64(i),
		})
		if err != nil {
			t.Fatal(err)
		}
		v := binary.BigEndian.AppendUint32([]byte{0}, uint32(ss.ID))
		recs = append(recs, &kgo.Record{Topic: eventsTopic, Key: fmt.Appendf(nil, "order-%d", i), Value: append(v, payload...)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce events: %v", err)
	}
}

// createACLs grants what the demo grants its analytics reader, so that
// the crawl sees principals from the real authorizer.
func (e *estate) createACLs(ctx context.Context) {
	b := kadm.NewACLs().Allow("User:analytics").ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("cdc.").Groups("analytics").Operations(kadm.OpRead)
	res, err := e.admin().CreateACLs(ctx, b)
	if err != nil {
		e.t.Fatalf("create ACLs: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			e.t.Fatalf("create ACL on %s: %v", r.Name, r.Err)
		}
	}
}

// sources are the crawl config's sources for the real estate.
func (e *estate) sources() []map[string]any {
	return []map[string]any{
		{"name": kafkaSource, "kind": "kafka", "bootstrap": e.st.Kafka.Bootstrap},
		{"name": registrySource, "kind": "schemaregistry", "url": e.st.Registry.URL, "cluster": kafkaSource},
		{"name": connectSource, "kind": "connect", "url": e.st.Connect.URL, "cluster": kafkaSource},
	}
}

func ptr(s string) *string { return &s }

func psqlQuiet(pg *realservers.PostgresInfo, db, sql string) string {
	out, err := exec.Command("psql", "-XAtq", pg.DSN(db), "-c", sql).CombinedOutput()
	if err != nil {
		return "error: " + strings.TrimSpace(string(out))
	}
	return strings.TrimSpace(string(out))
}

// waitFor polls check every 500ms until it returns nil, failing t with
// the last error after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
