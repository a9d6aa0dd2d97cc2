// Package demo runs a realistic, living Kafka estate in process: an
// e-commerce platform ("acme shop") on an in-process Kafka cluster (kfake),
// a schema registry (srfake) and a Kafka Connect worker (fakeconnect), with
// producers and consumers running so that offsets and lag move. The demo
// command and end-to-end tests crawl it.
//
// The estate:
//
//	PostgreSQL shop-db ── shop-postgres-cdc (Debezium, RegexRouter) ──► cdc.shop.customers / orders / order_items
//	PostgreSQL shop-db ── shop-outbox (Debezium outbox EventRouter) ──► outbox.event.Order / outbox.event.Customer
//	MySQL payments-db ── payments-mysql-cdc (unwrap, MaskField card_number) ──► payments.payments.card_payments
//	cdc.shop.orders + cdc.shop.customers ──► order-enricher (Kafka Streams) ──► orders.enriched (protobuf)
//	payments + orders.enriched ──► fraud-detector ──► fraud.alerts (JSON Schema)
//	payments + orders.enriched ──► fraud-scoring (Flink, reported through OpenLineage) ──► fraud.alerts
//	outbox.event.Order ──► email-notifier (KIP-848 consumer group)
//	cdc.shop.customers ──► analytics (a PII reader that no policy allows yet)
//	cdc.shop.orders, orders.enriched ──► warehouse-snowflake-sink ──► Snowflake ANALYTICS.SHOP.*
//	orders.enriched ──► orders-jdbc-sink ──► PostgreSQL reporting-db
//	cdc.shop.* ──► dwh-jdbc-sink (unwrap, RegexRouter) ──► PostgreSQL dwh staging.customers / orders / order_items
//	cdc.shop.customers, payments ──► lake-s3-sink ──► s3://acme-lake/topics/…
//	cdc.shop.customers ──► crm-jdbc-sink (unwrap, MaskField email) ──► PostgreSQL crm-db public.customers
//	orders.enriched ──► search-es-sink ──► Elasticsearch index orders.enriched
package demo

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/watershed-data/watershed/internal/fakeconnect"
)

//go:embed schemas
var schemaFiles embed.FS

//go:embed pushed
var pushedFiles embed.FS

// StreamsTopology returns the Topology#describe() text of the estate's
// Kafka Streams app, order-enricher, as its operators would post it to
// /api/v1/topologies: the only way to see that it writes orders.enriched.
func StreamsTopology() (applicationID, cluster, text string) {
	b, err := pushedFiles.ReadFile("pushed/order-enricher.topology.txt")
	if err != nil {
		panic(err) // embedded at build time
	}
	return "order-enricher", KafkaSource, string(b)
}

// FieldLineage is the column-level lineage of order-enricher that its
// operators register by hand (GraphQL addLineage): the Streams topology
// shows which topics the app reads and writes, never which field becomes
// which. Each entry is from, to (field URNs) and the transform.
func FieldLineage() [][3]string {
	const (
		customers = "urn:field:" + KafkaSource + "/cdc.shop.customers/value/after."
		orders    = "urn:field:" + KafkaSource + "/cdc.shop.orders/value/after."
		enriched  = "urn:field:" + KafkaSource + "/orders.enriched/value/"
		join      = "order-enricher: join orders with customers-store"
	)
	return [][3]string{
		{customers + "id", enriched + "customer.id", join},
		{customers + "email", enriched + "customer.email", join},
		{customers + "first_name", enriched + "customer.first_name", join},
		{customers + "loyalty_tier", enriched + "customer.loyalty_tier", join},
		{orders + "id", enriched + "order_id", join},
		{orders + "status", enriched + "status", join},
		{orders + "total", enriched + "total", join},
		{orders + "currency", enriched + "currency", join},
		{orders + "placed_at", enriched + "placed_at", join},
	}
}

// OpenLineageEvent returns a RunEvent of the estate's Flink fraud-scoring
// job, as the OpenLineage Flink integration would post it to
// /api/v1/lineage, with its Kafka namespace given by a bootstrap alias.
func OpenLineageEvent() []byte {
	b, err := pushedFiles.ReadFile("pushed/fraud-scoring.complete.json")
	if err != nil {
		panic(err) // embedded at build time
	}
	return b
}

// Options configure the estate.
type Options struct {
	Logger *slog.Logger
	// Interval between traffic ticks; zero means 500ms. Each tick produces
	// a few records to every topic and lets the consumers catch up partly.
	Interval time.Duration
	// NoTraffic seeds the estate and some records but starts no producers
	// or consumers (deterministic tests).
	NoTraffic bool
}

// Estate is a running demo estate.
type Estate struct {
	Kafka    *kfake.Cluster
	Registry *srfake.Registry
	Connect  *fakeconnect.Server
	// Bootstrap are the broker addresses.
	Bootstrap []string

	logger *slog.Logger
	ids    map[string]int // subject → schema id of its latest version
	cancel context.CancelFunc
	wg     sync.WaitGroup
	admin  *kgo.Client
}

// Names of the estate's sources, as the demo configures them.
const (
	KafkaSource    = "prod"
	RegistrySource = "prod-sr"
	ConnectSource  = "prod-connect"
)

// topicSpec describes a topic of the estate.
type topicSpec struct {
	name       string
	partitions int32
	configs    map[string]*string
}

func str(s string) *string { return &s }

var topics = []topicSpec{
	{"cdc.shop.customers", 6, map[string]*string{"cleanup.policy": str("compact"), "min.insync.replicas": str("2")}},
	{"cdc.shop.orders", 12, map[string]*string{"retention.ms": str("1209600000"), "min.insync.replicas": str("2")}},
	{"cdc.shop.order_items", 12, map[string]*string{"retention.ms": str("1209600000")}},
	{"payments.payments.card_payments", 6, map[string]*string{"retention.ms": str("2592000000"), "min.insync.replicas": str("2")}},
	{"outbox.event.Order", 6, map[string]*string{"retention.ms": str("604800000")}},
	{"outbox.event.Customer", 3, map[string]*string{"retention.ms": str("604800000")}},
	{"orders.enriched", 12, map[string]*string{"retention.ms": str("604800000"), "compression.type": str("zstd")}},
	{"fraud.alerts", 3, map[string]*string{"retention.ms": str("7776000000")}},
	{"order-enricher-customers-store-changelog", 6, map[string]*string{"cleanup.policy": str("compact")}},
	{"order-enricher-KSTREAM-REPARTITION-0000000004-repartition", 12, map[string]*string{"retention.ms": str("-1")}},
	{"shop.heartbeat", 1, nil},
	{"payments", 1, map[string]*string{"retention.ms": str("-1")}}, // Debezium MySQL schema-change events
	{"schema-changes.payments", 1, map[string]*string{"retention.ms": str("-1"), "cleanup.policy": str("delete")}}, // Debezium schema history
}

// subjectSpec is a registered schema.
type subjectSpec struct {
	subject string
	file    string
	typ     sr.SchemaType
}

var subjects = []subjectSpec{
	{"cdc.shop.customers-value", "customers-envelope.avsc", sr.TypeAvro},
	{"cdc.shop.orders-value", "orders-envelope.avsc", sr.TypeAvro},
	{"cdc.shop.order_items-value", "order-items-envelope.avsc", sr.TypeAvro},
	{"payments.payments.card_payments-value", "card-payments.avsc", sr.TypeAvro},
	// The outbox topics use TopicRecordNameStrategy: only sampled records
	// tell which topic a subject belongs to.
	{"outbox.event.Order-com.acme.shop.events.OrderPlaced", "order-placed.avsc", sr.TypeAvro},
	{"outbox.event.Customer-com.acme.shop.events.CustomerRegistered", "customer-registered.avsc", sr.TypeAvro},
	{"orders.enriched-value", "enriched-order.proto", sr.TypeProtobuf},
	{"fraud.alerts-value", "fraud-alert.json", sr.TypeJSON},
}

// Start seeds and starts the estate. Close it when done.
func Start(ctx context.Context, o Options) (*Estate, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Interval == 0 {
		o.Interval = 500 * time.Millisecond
	}
	e := &Estate{logger: logger.With("component", "demo"), ids: map[string]int{}}
	var err error
	e.Kafka, err = kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("acme-shop-prod"), kfake.Ports(0, 0, 0),
		kfake.BrokerConfigs(map[string]string{"group.consumer.heartbeat.interval.ms": "500"}))
	if err != nil {
		return nil, fmt.Errorf("start kafka: %w", err)
	}
	e.Bootstrap = e.Kafka.ListenAddrs()
	e.Registry = srfake.New()
	e.Connect = fakeconnect.NewServer(fakeconnect.Options{KafkaClusterID: "acme-shop-prod", WorkerID: "connect-1:8083"})
	if err := e.seed(ctx); err != nil {
		e.Close()
		return nil, err
	}
	tctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	if !o.NoTraffic {
		e.startTraffic(tctx, o.Interval)
	}
	return e, nil
}

// RegistryURL is the schema registry's base URL.
func (e *Estate) RegistryURL() string { return e.Registry.URL() }

// ConnectURL is the Connect worker's base URL.
func (e *Estate) ConnectURL() string { return e.Connect.URL }

// Close stops traffic and every fake.
func (e *Estate) Close() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.admin != nil {
		e.admin.Close()
	}
	if e.Connect != nil {
		e.Connect.Close()
	}
	if e.Registry != nil {
		e.Registry.Close()
	}
	if e.Kafka != nil {
		e.Kafka.Close()
	}
}

// SourceSettings returns the three sources of the estate as config
// entries (name, kind and the kind's keys), crawled on schedule.
func (e *Estate) SourceSettings(schedule string) []map[string]any {
	hosts := make([]any, len(e.Bootstrap))
	for i, b := range e.Bootstrap {
		hosts[i] = b
	}
	return []map[string]any{
		{"name": KafkaSource, "kind": "kafka", "schedule": schedule, "bootstrap": hosts, "aliases": []any{"kafka-1.acme.internal:9092", "kafka-2.acme.internal:9092"}},
		{"name": RegistrySource, "kind": "schemaregistry", "schedule": schedule, "url": e.RegistryURL(), "cluster": KafkaSource},
		{"name": ConnectSource, "kind": "connect", "schedule": schedule, "url": e.ConnectURL(), "cluster": KafkaSource},
	}
}

func (e *Estate) seed(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap...), kgo.ClientID("demo-admin"))
	if err != nil {
		return fmt.Errorf("connect admin client: %w", err)
	}
	e.admin = cl
	adm := kadm.NewClient(cl)
	for _, t := range topics {
		if _, err := adm.CreateTopic(ctx, t.partitions, 3, t.configs, t.name); err != nil {
			return fmt.Errorf("create topic %s: %w", t.name, err)
		}
	}
	if err := e.seedACLs(ctx, adm); err != nil {
		return err
	}
	for _, s := range subjects {
		text, err := schemaFiles.ReadFile("schemas/" + s.file)
		if err != nil {
			return fmt.Errorf("read schema %s: %w", s.file, err)
		}
		sch := sr.Schema{Schema: string(text), Type: s.typ}
		if s.typ == sr.TypeProtobuf {
			sch.References = nil // google/protobuf/timestamp.proto is well known
		}
		id, _, err := e.Registry.RegisterSchema(s.subject, sch)
		if err != nil {
			return fmt.Errorf("register %s: %w", s.subject, err)
		}
		e.ids[s.subject] = id
	}
	if err := e.Registry.SetCompat("payments.payments.card_payments-value", sr.CompatFull); err != nil {
		return fmt.Errorf("set compatibility: %w", err)
	}
	if err := e.Registry.SetCompat("fraud.alerts-value", sr.CompatNone); err != nil {
		return fmt.Errorf("set compatibility: %w", err)
	}
	for _, c := range connectors() {
		e.Connect.AddConnector(c)
	}
	// Some history before the first crawl, so that every topic has offsets.
	p, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap...), kgo.ClientID("demo-seed"), kgo.DefaultProduceTopic("shop.heartbeat"))
	if err != nil {
		return fmt.Errorf("connect producer: %w", err)
	}
	defer p.Close()
	for i := 0; i < 20; i++ {
		if err := e.produceTick(ctx, p, i); err != nil {
			return err
		}
	}
	return e.seedGroups(ctx, adm)
}

// seedGroups commits offsets half-way through every partition for each
// consumer group, so that the groups, their lag and their CONSUMES edges
// exist from the first crawl on, before the live consumers join.
func (e *Estate) seedGroups(ctx context.Context, adm *kadm.Client) error {
	ends, err := adm.ListEndOffsets(ctx)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	for _, c := range consumers {
		offsets := kadm.Offsets{}
		for _, t := range c.topics {
			for p, o := range ends[t] {
				offsets.Add(kadm.Offset{Topic: t, Partition: p, At: o.Offset / 2, LeaderEpoch: -1})
			}
		}
		resp, err := adm.CommitOffsets(ctx, c.group, offsets)
		if err != nil {
			return fmt.Errorf("seed offsets of %s: %w", c.group, err)
		}
		if err := resp.Error(); err != nil {
			return fmt.Errorf("seed offsets of %s: %w", c.group, err)
		}
	}
	return nil
}

func (e *Estate) seedACLs(ctx context.Context, adm *kadm.Client) error {
	b := kadm.NewACLs().
		Allow("User:fraud-detector").ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("payments.payments.card_payments", "orders.enriched").Operations(kadm.OpRead, kadm.OpDescribe)
	b2 := kadm.NewACLs().Allow("User:fraud-detector").ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("fraud.alerts").Operations(kadm.OpWrite)
	b3 := kadm.NewACLs().Allow("User:analytics").ResourcePatternType(kadm.ACLPatternPrefixed).
		Topics("cdc.").Operations(kadm.OpRead)
	b4 := kadm.NewACLs().Allow("User:order-enricher").ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("orders.enriched").Operations(kadm.OpWrite)
	b5 := kadm.NewACLs().Allow("User:connect").ResourcePatternType(kadm.ACLPatternLiteral).
		Topics("*").Operations(kadm.OpRead, kadm.OpWrite)
	for _, acl := range []*kadm.ACLBuilder{b, b2, b3, b4, b5} {
		res, err := adm.CreateACLs(ctx, acl)
		if err != nil {
			return fmt.Errorf("create ACLs: %w", err)
		}
		for _, r := range res {
			if r.Err != nil {
				return fmt.Errorf("create ACL for %s on %s: %w", r.Principal, r.Name, r.Err)
			}
		}
	}
	return nil
}

// connectors are the estate's Kafka Connect connectors, configured as the
// Debezium and Confluent documentation shows.
func connectors() []fakeconnect.Connector {
	return []fakeconnect.Connector{
		{Name: "shop-postgres-cdc", Tasks: 1, Topics: []string{"cdc.shop.customers", "cdc.shop.orders", "cdc.shop.order_items", "shop.heartbeat"}, Config: map[string]string{
			"connector.class":                     "io.debezium.connector.postgresql.PostgresConnector",
			"tasks.max":                           "1",
			"database.hostname":                   "shop-db.acme.internal",
			"database.port":                       "5432",
			"database.user":                       "debezium",
			"database.password":                   "${file:/opt/kafka/secrets/shop-db.properties:password}",
			"database.dbname":                     "shop",
			"topic.prefix":                        "shop",
			"plugin.name":                         "pgoutput",
			"table.include.list":                  "public.customers,public.orders,public.order_items",
			"heartbeat.interval.ms":               "10000",
			"topic.heartbeat.prefix":              "shop.heartbeat",
			"key.converter":                       "io.confluent.connect.avro.AvroConverter",
			"value.converter":                     "io.confluent.connect.avro.AvroConverter",
			"value.converter.schema.registry.url": "http://schema-registry:8081",
			"transforms":                          "route",
			"transforms.route.type":               "org.apache.kafka.connect.transforms.RegexRouter",
			"transforms.route.regex":              "shop\\.public\\.(.*)",
			"transforms.route.replacement":        "cdc.shop.$1",
		}},
		{Name: "shop-outbox", Tasks: 1, Topics: []string{"outbox.event.Order", "outbox.event.Customer"}, Config: map[string]string{
			"connector.class":        "io.debezium.connector.postgresql.PostgresConnector",
			"database.hostname":      "shop-db.acme.internal",
			"database.port":          "5432",
			"database.user":          "debezium",
			"database.password":      "s3cr3t-outbox-password",
			"database.dbname":        "shop",
			"topic.prefix":           "shop-outbox",
			"table.include.list":     "public.outbox",
			"slot.name":              "outbox",
			"transforms":             "outbox",
			"transforms.outbox.type": "io.debezium.transforms.outbox.EventRouter",
			"transforms.outbox.route.topic.replacement":   "outbox.event.${routedByValue}",
			"transforms.outbox.table.field.event.payload": "payload",
			"value.converter": "io.confluent.connect.avro.AvroConverter",
			"value.converter.value.subject.name.strategy": "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
		}},
		{Name: "payments-mysql-cdc", Tasks: 1, Topics: []string{"payments.payments.card_payments"}, Config: map[string]string{
			"connector.class":                     "io.debezium.connector.mysql.MySqlConnector",
			"database.hostname":                   "payments-db.acme.internal",
			"database.port":                       "3306",
			"database.user":                       "debezium",
			"database.password":                   "${env:PAYMENTS_DB_PASSWORD}",
			"database.server.id":                  "184054",
			"topic.prefix":                        "payments",
			"database.include.list":               "payments",
			"table.include.list":                  "payments.card_payments",
			"schema.history.internal.kafka.topic": "schema-changes.payments",
			"schema.history.internal.kafka.bootstrap.servers": "kafka:9092",
			"transforms":                             "unwrap,mask",
			"transforms.unwrap.type":                 "io.debezium.transforms.ExtractNewRecordState",
			"transforms.unwrap.add.fields":           "op",
			"transforms.unwrap.delete.handling.mode": "rewrite",
			"transforms.mask.type":                   "org.apache.kafka.connect.transforms.MaskField$Value",
			"transforms.mask.fields":                 "card_number",
			"transforms.mask.replacement":            "****",
		}},
		{Name: "warehouse-snowflake-sink", Tasks: 2, Topics: []string{"cdc.shop.orders", "orders.enriched"}, Config: map[string]string{
			"connector.class":           "com.snowflake.kafka.connector.SnowflakeSinkConnector",
			"tasks.max":                 "2",
			"topics":                    "cdc.shop.orders,orders.enriched",
			"snowflake.url.name":        "acme-analytics.snowflakecomputing.com:443",
			"snowflake.user.name":       "KAFKA_LOADER",
			"snowflake.private.key":     "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC",
			"snowflake.database.name":   "ANALYTICS",
			"snowflake.schema.name":     "SHOP",
			"snowflake.topic2table.map": "cdc.shop.orders:ORDERS_RAW,orders.enriched:ORDERS_ENRICHED",
			"value.converter":           "com.snowflake.kafka.connector.records.SnowflakeAvroConverter",
		}},
		{Name: "orders-jdbc-sink", Tasks: 1, Topics: []string{"orders.enriched"}, Config: map[string]string{
			"connector.class":              "io.confluent.connect.jdbc.JdbcSinkConnector",
			"topics":                       "orders.enriched",
			"connection.url":               "jdbc:postgresql://reporting-db.acme.internal:5432/reporting",
			"connection.user":              "loader",
			"connection.password":          "loader-password",
			"table.name.format":            "public.${topic}",
			"insert.mode":                  "upsert",
			"pk.mode":                      "record_value",
			"pk.fields":                    "order_id",
			"transforms":                   "flatten",
			"transforms.flatten.type":      "org.apache.kafka.connect.transforms.Flatten$Value",
			"transforms.flatten.delimiter": "_",
		}},
		{Name: "dwh-jdbc-sink", Tasks: 2, Topics: []string{"cdc.shop.customers", "cdc.shop.orders", "cdc.shop.order_items"}, Config: map[string]string{
			"connector.class":                   "io.confluent.connect.jdbc.JdbcSinkConnector",
			"tasks.max":                         "2",
			"topics.regex":                      "cdc\\.shop\\..*",
			"connection.url":                    "jdbc:postgresql://dwh.acme.internal:5432/dwh",
			"connection.user":                   "dwh_loader",
			"connection.password":               "${file:/opt/kafka/secrets/dwh.properties:password}",
			"table.name.format":                 "staging.${topic}",
			"insert.mode":                       "upsert",
			"pk.mode":                           "record_key",
			"delete.enabled":                    "true",
			"transforms":                        "unwrap,route",
			"transforms.unwrap.type":            "io.debezium.transforms.ExtractNewRecordState",
			"transforms.unwrap.drop.tombstones": "false",
			"transforms.route.type":             "org.apache.kafka.connect.transforms.RegexRouter",
			"transforms.route.regex":            "cdc\\.shop\\.(.*)",
			"transforms.route.replacement":      "$1",
		}},
		{Name: "lake-s3-sink", Tasks: 1, Topics: []string{"cdc.shop.customers", "payments.payments.card_payments"}, Config: map[string]string{
			"connector.class":       "io.confluent.connect.s3.S3SinkConnector",
			"topics":                "cdc.shop.customers,payments.payments.card_payments",
			"s3.bucket.name":        "acme-lake",
			"s3.region":             "eu-west-1",
			"topics.dir":            "topics",
			"flush.size":            "1000",
			"storage.class":         "io.confluent.connect.s3.storage.S3Storage",
			"format.class":          "io.confluent.connect.s3.format.parquet.ParquetFormat",
			"aws.secret.access.key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		}},
		{Name: "crm-jdbc-sink", Tasks: 1, Topics: []string{"cdc.shop.customers"}, Config: map[string]string{
			"connector.class":             "io.confluent.connect.jdbc.JdbcSinkConnector",
			"topics":                      "cdc.shop.customers",
			"connection.url":              "jdbc:postgresql://crm-db.acme.internal:5432/crm",
			"connection.user":             "crm_loader",
			"connection.password":         "${file:/opt/kafka/secrets/crm.properties:password}",
			"table.name.format":           "public.customers",
			"insert.mode":                 "upsert",
			"pk.mode":                     "record_key",
			"transforms":                  "unwrap,mask",
			"transforms.unwrap.type":      "io.debezium.transforms.ExtractNewRecordState",
			"transforms.mask.type":        "org.apache.kafka.connect.transforms.MaskField$Value",
			"transforms.mask.fields":      "email",
			"transforms.mask.replacement": "redacted@example.invalid",
		}},
		{Name: "search-es-sink", Tasks: 1, State: "FAILED", Trace: "org.apache.kafka.connect.errors.ConnectException: Could not connect to Elasticsearch: es.acme.internal:9200", Topics: []string{"orders.enriched"}, Config: map[string]string{
			"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
			"topics":          "orders.enriched",
			"connection.url":  "http://es.acme.internal:9200",
			"key.ignore":      "true",
			"schema.ignore":   "true",
		}},
	}
}

// produceTick writes one round of records to every topic. Record values are
// Confluent wire-format (magic byte, schema id) followed by a payload.
func (e *Estate) produceTick(ctx context.Context, p *kgo.Client, i int) error {
	var recs []*kgo.Record
	add := func(topic, subject string, key string, payload []byte) {
		v := []byte{0, 0, 0, 0, 0}
		if subject != "" {
			id := e.ids[subject]
			v[1], v[2], v[3], v[4] = byte(id>>24), byte(id>>16), byte(id>>8), byte(id)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: append(v, payload...)})
	}
	n := strconv.Itoa(i)
	add("cdc.shop.customers", "cdc.shop.customers-value", "customer-"+n, []byte("c"))
	add("cdc.shop.orders", "cdc.shop.orders-value", "order-"+n, []byte("o"))
	add("cdc.shop.order_items", "cdc.shop.order_items-value", "item-"+n, []byte("i"))
	add("payments.payments.card_payments", "payments.payments.card_payments-value", "payment-"+n, []byte("p"))
	add("outbox.event.Order", "outbox.event.Order-com.acme.shop.events.OrderPlaced", "order-"+n, []byte("e"))
	if i%3 == 0 {
		add("outbox.event.Customer", "outbox.event.Customer-com.acme.shop.events.CustomerRegistered", "customer-"+n, []byte("r"))
	}
	recs = append(recs, &kgo.Record{Topic: "orders.enriched", Key: []byte("order-" + n),
		Value: append([]byte{0, byte(e.ids["orders.enriched-value"] >> 24), byte(e.ids["orders.enriched-value"] >> 16), byte(e.ids["orders.enriched-value"] >> 8), byte(e.ids["orders.enriched-value"]), 0}, 0x08, byte(i&0x7f))})
	if i%5 == 0 {
		add("fraud.alerts", "fraud.alerts-value", "alert-"+n, []byte(`{"alert_id":"a-`+n+`","order_id":`+n+`,"score":0.93}`))
	}
	recs = append(recs,
		&kgo.Record{Topic: "order-enricher-customers-store-changelog", Key: []byte("customer-" + n), Value: []byte("x")},
		&kgo.Record{Topic: "order-enricher-KSTREAM-REPARTITION-0000000004-repartition", Key: []byte("customer-" + n), Value: []byte("x")},
		&kgo.Record{Topic: "shop.heartbeat", Value: []byte("hb")},
	)
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// consumerSpec is a consumer group of the estate. Every tick it consumes
// up to take records, so a group taking fewer than produced falls behind.
type consumerSpec struct {
	group    string
	clientID string
	topics   []string
	take     int
	kip848   bool
}

var consumers = []consumerSpec{
	{group: "fraud-detector", clientID: "fraud-detector-1", topics: []string{"payments.payments.card_payments", "orders.enriched"}, take: 40},
	{group: "order-enricher", clientID: "order-enricher-StreamThread-1-consumer", topics: []string{"cdc.shop.orders", "cdc.shop.customers", "order-enricher-KSTREAM-REPARTITION-0000000004-repartition"}, take: 40},
	{group: "email-notifier", clientID: "email-notifier", topics: []string{"outbox.event.Order"}, take: 40, kip848: true},
	{group: "analytics", clientID: "analytics-notebook", topics: []string{"cdc.shop.customers"}, take: 1},
	{group: "connect-warehouse-snowflake-sink", clientID: "connector-consumer-warehouse-snowflake-sink-0", topics: []string{"cdc.shop.orders", "orders.enriched"}, take: 40},
	{group: "connect-orders-jdbc-sink", clientID: "connector-consumer-orders-jdbc-sink-0", topics: []string{"orders.enriched"}, take: 40},
	{group: "connect-dwh-jdbc-sink", clientID: "connector-consumer-dwh-jdbc-sink-0", topics: []string{"cdc.shop.customers", "cdc.shop.orders", "cdc.shop.order_items"}, take: 40},
	{group: "connect-lake-s3-sink", clientID: "connector-consumer-lake-s3-sink-0", topics: []string{"cdc.shop.customers", "payments.payments.card_payments"}, take: 3},
}

func (e *Estate) startTraffic(ctx context.Context, interval time.Duration) {
	p, err := kgo.NewClient(kgo.SeedBrokers(e.Bootstrap...), kgo.ClientID("demo-producer"))
	if err != nil {
		e.logger.Error("start producer", "err", err)
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer p.Close()
		t := time.NewTicker(interval)
		defer t.Stop()
		for i := 20; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := e.produceTick(ctx, p, i); err != nil && ctx.Err() == nil {
				e.logger.Warn("demo produce", "err", err)
			}
		}
	}()
	for _, c := range consumers {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.consume(ctx, c, interval)
		}()
	}
}

// consume runs one consumer group member until ctx ends, committing what
// it took each tick.
func (e *Estate) consume(ctx context.Context, c consumerSpec, interval time.Duration) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(e.Bootstrap...), kgo.ClientID(c.clientID), kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(200 * time.Millisecond),
	}
	if c.kip848 {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		e.logger.Error("start consumer", "group", c.group, "err", err)
		return
	}
	defer cl.Close()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, interval)
		fs := cl.PollRecords(pctx, c.take)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if errs := fs.Errors(); len(errs) > 0 && !errors.Is(errs[0].Err, context.DeadlineExceeded) {
			e.logger.Debug("demo consume", "group", c.group, "err", errs[0].Err)
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			e.logger.Debug("demo commit", "group", c.group, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
