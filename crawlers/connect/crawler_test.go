package connect

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/internal/fakeconnect"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	pgInv = "postgres://postgres:5432/postgres.inventory"
	conn  = "urn:connector:prod-connect/"
)

func TestPostgresCDCWithRegexRouter(t *testing.T) {
	snap := crawlScenario(t, "postgres_regexrouter.json")
	cdc := conn + "inventory-cdc"

	equalLists(t, "tables", assetURNs(snap, catalog.KindTable), []string{
		"urn:table:" + pgInv + ".customers",
		"urn:table:" + pgInv + ".orders",
		"urn:table:" + pgInv + ".products_on_hand",
	})
	equalLists(t, "databases", assetURNs(snap, catalog.KindDatabase), []string{"urn:database:postgres://postgres:5432/postgres"})
	equalLists(t, "CAPTURES", linksOfKind(snap, catalog.EdgeCaptures), []string{
		"urn:table:" + pgInv + ".customers -CAPTURES-> " + cdc + " [connect-config 1.0]",
		"urn:table:" + pgInv + ".orders -CAPTURES-> " + cdc + " [connect-config 1.0]",
		// inventory\.products_on.* is a regex: the table is known from the
		// reported topic's record name only.
		"urn:table:" + pgInv + ".products_on_hand -CAPTURES-> " + cdc + " [connect-topics 0.7]",
	})
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		cdc + " -PRODUCES-> urn:topic:prod/cdc.customers [connect-config 1.0 t=route]",
		cdc + " -PRODUCES-> urn:topic:prod/cdc.orders [connect-config 1.0 t=route]",
		cdc + " -PRODUCES-> urn:topic:prod/cdc.products_on_hand [connect-topics 0.7 t=route]",
	})
	col := "urn:column:" + pgInv + ".customers/"
	f := "urn:field:prod/cdc.customers/value/"
	derives := links(snap, func(l catalog.Link) bool {
		return l.Kind == catalog.EdgeDerives && strings.Contains(string(l.From), ".customers/")
	})
	equalLists(t, "customers DERIVES", derives, []string{
		col + "email -DERIVES-> " + f + "after.email [connect-config 1.0]",
		col + "email -DERIVES-> " + f + "before.email [connect-config 1.0]",
		col + "first_name -DERIVES-> " + f + "after.first_name [connect-config 1.0]",
		col + "first_name -DERIVES-> " + f + "before.first_name [connect-config 1.0]",
		col + "id -DERIVES-> " + f + "after.id [connect-config 1.0]",
		col + "id -DERIVES-> " + f + "before.id [connect-config 1.0]",
		col + "last_name -DERIVES-> " + f + "after.last_name [connect-config 1.0]",
		col + "last_name -DERIVES-> " + f + "before.last_name [connect-config 1.0]",
	})
	if got := links(snap, func(l catalog.Link) bool {
		return l.Kind == catalog.EdgeDerives && strings.Contains(string(l.From), ".products_on_hand/quantity")
	}); len(got) != 2 ||
		got[0] != "urn:column:"+pgInv+".products_on_hand/quantity -DERIVES-> urn:field:prod/cdc.products_on_hand/value/after.quantity [connect-topics 0.7]" {
		t.Errorf("products_on_hand quantity edges: %v", got)
	}
	// orders has no known schema: table-level lineage only, no columns.
	for _, a := range snap.Assets {
		if strings.Contains(string(a.URN), ".orders/") {
			t.Errorf("unexpected column of orders: %s", a.URN)
		}
	}
	for _, a := range snap.Assets {
		if a.URN.Kind() != catalog.KindConnectCluster && a.Scope != "connector/inventory-cdc" {
			t.Errorf("asset %s has scope %q", a.URN, a.Scope)
		}
	}
	for _, l := range snap.Links {
		if l.Scope != "connector/inventory-cdc" {
			t.Errorf("link %s has scope %q", l.Key(), l.Scope)
		}
	}
	if len(snap.Incomplete) != 0 {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}

	cluster := asset(t, snap, "urn:connect:prod-connect")
	want := catalog.Properties{"version": "3.7.0", "commit": "2ae524ed625438c5", "kafkaClusterId": "MkU3OEVBNTcwNTJENDM2Qk", "kafkaSource": "prod", "url": cluster.Properties["url"]}
	if !reflect.DeepEqual(cluster.Properties, want) {
		t.Errorf("cluster properties %v", cluster.Properties)
	}
	c := asset(t, snap, cdc)
	if c.Properties["class"] != classDebeziumPostgres || c.Properties["type"] != "source" {
		t.Errorf("connector properties %v", c.Properties)
	}
	if c.Live["state"] != "RUNNING" || c.Live["workerId"] != "connect-1:8083" || c.Live["tasksTotal"] != 1 || c.Live["tasksFailed"] != 0 {
		t.Errorf("connector live %v", c.Live)
	}
	if cfg := c.Properties["config"].(map[string]any); cfg["database.password"] != Redacted || cfg["database.user"] != "postgres" {
		t.Errorf("config not redacted: %v", cfg)
	}
}

func TestMySQLByLogicalTableRouter(t *testing.T) {
	snap := crawlScenario(t, "mysql_bylogicaltable.json")
	shards := conn + "shards-cdc"
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		// the schema change topic is named by the prefix
		shards + " -PRODUCES-> urn:topic:prod/dbserver1 [connect-config 1.0]",
		shards + " -PRODUCES-> urn:topic:prod/dbserver1.inventory.customers_all_shards [connect-config 1.0 t=Reroute]",
	})
	equalLists(t, "CAPTURES", linksOfKind(snap, catalog.EdgeCaptures), []string{
		// MySQL names tables database.table; the host is lower-cased
		"urn:table:mysql://mysql:3306/inventory.customers_shard1 -CAPTURES-> " + shards + " [connect-config 1.0]",
		"urn:table:mysql://mysql:3306/inventory.customers_shard2 -CAPTURES-> " + shards + " [connect-config 1.0]",
	})
	f := "urn:field:prod/dbserver1.inventory.customers_all_shards/value/"
	equalLists(t, "email DERIVES", links(snap, func(l catalog.Link) bool {
		return l.Kind == catalog.EdgeDerives && strings.HasSuffix(string(l.From), "/email")
	}), []string{
		"urn:column:mysql://mysql:3306/inventory.customers_shard1/email -DERIVES-> " + f + "after.email [connect-config 1.0]",
		"urn:column:mysql://mysql:3306/inventory.customers_shard1/email -DERIVES-> " + f + "before.email [connect-config 1.0]",
		"urn:column:mysql://mysql:3306/inventory.customers_shard2/email -DERIVES-> " + f + "after.email [connect-config 1.0]",
		"urn:column:mysql://mysql:3306/inventory.customers_shard2/email -DERIVES-> " + f + "before.email [connect-config 1.0]",
	})
	// The logical topic's record name must not invent a table.
	equalLists(t, "tables", assetURNs(snap, catalog.KindTable), []string{
		"urn:table:mysql://mysql:3306/inventory.customers_shard1",
		"urn:table:mysql://mysql:3306/inventory.customers_shard2",
	})
}

func TestOutboxEventRouter(t *testing.T) {
	snap := crawlScenario(t, "outbox.json")
	ob := conn + "order-outbox"
	table := "postgres://order-db:5432/orderdb.inventory.outboxevent"
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		// outbox topics are named by row content: resolved from the
		// reported topics against outbox.event.${routedByValue}
		ob + " -PRODUCES-> urn:topic:prod/outbox.event.customer [connect-topics 0.7 t=outbox]",
		ob + " -PRODUCES-> urn:topic:prod/outbox.event.order [connect-topics 0.7 t=outbox]",
	})
	equalLists(t, "CAPTURES", linksOfKind(snap, catalog.EdgeCaptures), []string{
		"urn:table:" + table + " -CAPTURES-> " + ob + " [connect-config 1.0]",
	})
	equalLists(t, "columns", assetURNs(snap, catalog.KindColumn), []string{
		"urn:column:" + table + "/aggregateid",
		"urn:column:" + table + "/aggregatetype",
		"urn:column:" + table + "/id",
		"urn:column:" + table + "/payload",
		"urn:column:" + table + "/type",
	})
	f := "urn:field:prod/outbox.event.order/value/"
	p := "urn:column:" + table + "/payload -DERIVES-> " + f
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		p + "payload [connect-topics 0.7 t=outbox]",
		p + "payload.customerId [connect-topics 0.7 t=outbox]",
		p + "payload.id [connect-topics 0.7 t=outbox]",
		p + "payload.lineItems[] [connect-topics 0.7 t=outbox]",
		p + "payload.lineItems[].item [connect-topics 0.7 t=outbox]",
		p + "payload.lineItems[].quantity [connect-topics 0.7 t=outbox]",
		p + "payload.lineItems[].totalPrice [connect-topics 0.7 t=outbox]",
		p + "payload.orderDate [connect-topics 0.7 t=outbox]",
		// type is placed in the envelope under the alias eventType;
		// aggregateid goes to a header, which is not a field
		"urn:column:" + table + "/type -DERIVES-> " + f + "eventType [connect-topics 0.7 t=outbox]",
	})
}

func TestUnwrapRenameMask(t *testing.T) {
	snap := crawlScenario(t, "unwrap_rename_mask.json")
	col := "urn:column:" + pgInv + ".customers/"
	f := "urn:field:prod/dbserver1.inventory.customers/value/"
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		col + "email -DERIVES-> " + f + "email [connect-config 1.0 t=unwrap,mask masking]",
		col + "first_name -DERIVES-> " + f + "firstName [connect-config 1.0 t=unwrap,rename]",
		col + "id -DERIVES-> " + f + "id [connect-config 1.0 t=unwrap]",
		col + "last_name -DERIVES-> " + f + "last_name [connect-config 1.0 t=unwrap]",
		col + "phone -DERIVES-> " + f + "phone [connect-config 1.0 t=column.mask.hash.SHA-256,unwrap masking]",
	})
	// __op, __source_ts_ms and __deleted are added by unwrap: no column.
	equalLists(t, "columns", assetURNs(snap, catalog.KindColumn), []string{
		col + "email", col + "first_name", col + "id", col + "last_name", col + "phone",
	})
	cfg := asset(t, snap, conn+"customers-flat").Properties["config"].(map[string]any)
	if cfg["database.password"] != "${file:/secrets.properties:password}" {
		t.Errorf("config provider placeholder not kept: %v", cfg["database.password"])
	}
	if _, leaked := cfg["column.mask.hash.SHA-256.with.salt.CzQMA0cB5K"]; leaked {
		t.Error("hash salt leaked in a config key")
	}
	if cfg["column.mask.hash.SHA-256.with.salt.[redacted]"] != "inventory.customers.phone" {
		t.Errorf("salted key not rewritten: %v", cfg)
	}
}

func TestJDBCSinks(t *testing.T) {
	snap := crawlScenario(t, "jdbc_sinks.json")
	js, dbz := conn+"jdbc-sink", conn+"dbz-jdbc-sink"
	pg := "postgres://postgres:5432/inventory.public.customers"
	my := "mysql://mysql:3306/analytics.dbserver1_inventory_orders"
	equalLists(t, "CONSUMES", linksOfKind(snap, catalog.EdgeConsumes), []string{
		"urn:topic:prod/dbserver1.inventory.customers -CONSUMES-> " + js + " [connect-config 1.0]",
		// the sink's consumer group: the same edge the kafka crawler sees
		"urn:topic:prod/dbserver1.inventory.customers -CONSUMES-> urn:group:prod/connect-jdbc-sink [connect-config 1.0]",
		// topics.regex resolved against the cluster's known topics
		"urn:topic:prod/dbserver1.inventory.orders -CONSUMES-> " + dbz + " [connect-config 0.7]",
		"urn:topic:prod/dbserver1.inventory.orders -CONSUMES-> urn:group:prod/connect-dbz-jdbc-sink [connect-config 0.7]",
	})
	equalLists(t, "SINKS", linksOfKind(snap, catalog.EdgeSinks), []string{
		// ${topic} after the RegexRouter kept the last name part
		js + " -SINKS-> urn:table:" + pg + " [connect-config 1.0 t=route]",
		// the Debezium sink replaces dots in the topic with underscores
		dbz + " -SINKS-> urn:table:" + my + " [connect-config 0.7]",
	})
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		// the dead letter queue has not been created yet: unconfirmed
		js + " -PRODUCES-> urn:topic:prod/dlq.jdbc-sink [connect-config 0.6]",
	})
	f := "urn:field:prod/dbserver1.inventory.customers/value/"
	o := "urn:field:prod/dbserver1.inventory.orders/value/"
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		f + "after.email -DERIVES-> urn:column:" + pg + "/email [connect-config 1.0 t=unwrap]",
		f + "after.first_name -DERIVES-> urn:column:" + pg + "/first_name [connect-config 1.0 t=unwrap]",
		f + "after.id -DERIVES-> urn:column:" + pg + "/id [connect-config 1.0 t=unwrap]",
		// the Debezium JDBC sink reads envelopes itself: no SMT involved
		o + "after.id -DERIVES-> urn:column:" + my + "/id [connect-config 0.7]",
		o + "after.quantity -DERIVES-> urn:column:" + my + "/quantity [connect-config 0.7]",
	})
	cfg := asset(t, snap, js).Properties["config"].(map[string]any)
	if cfg["connection.url"] != "jdbc:postgresql://postgres:5432/inventory?user=postgresuser&password=[redacted]" {
		t.Errorf("password in JDBC URL not redacted: %v", cfg["connection.url"])
	}
}

func TestObjectAndWarehouseSinks(t *testing.T) {
	snap := crawlScenario(t, "object_sinks.json")
	sf := "snowflake://myorganization-myaccount/MYDB.MYSCHEMA."
	equalLists(t, "SINKS", linksOfKind(snap, catalog.EdgeSinks), []string{
		conn + "bigquery-sink -SINKS-> urn:table:bigquery/my-gcp-project.kcbq_dataset.kcbq_quickstart1 [connect-config 1.0]",
		conn + "elasticsearch-sink -SINKS-> urn:dataset:elasticsearch://elasticsearch:9200/test-elasticsearch-sink [connect-config 1.0]",
		conn + "s3-sink -SINKS-> urn:dataset:s3://confluent-kafka-connect-s3-testing/topics/s3_topic [connect-config 1.0]",
		conn + "snowflake-sink -SINKS-> urn:table:" + sf + "MYTOPIC2 [connect-config 1.0]",
		// orders.v1 is no valid identifier: '.' → '_' plus Java's hashCode
		conn + "snowflake-sink -SINKS-> urn:table:" + sf + "ORDERS_V1_390712796 [connect-config 1.0]",
		conn + "snowflake-sink -SINKS-> urn:table:" + sf + "TABLE1 [connect-config 1.0]",
	})
	equalLists(t, "datasets", assetURNs(snap, catalog.KindDataset), []string{
		"urn:dataset:elasticsearch://elasticsearch:9200/test-elasticsearch-sink",
		"urn:dataset:s3://confluent-kafka-connect-s3-testing/topics/s3_topic",
	})
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		"urn:field:prod/kcbq-quickstart1/value/f1 -DERIVES-> urn:column:bigquery/my-gcp-project.kcbq_dataset.kcbq_quickstart1/f1 [connect-config 1.0]",
		"urn:field:prod/kcbq-quickstart1/value/nested.f2 -DERIVES-> urn:column:bigquery/my-gcp-project.kcbq_dataset.kcbq_quickstart1/nested.f2 [connect-config 1.0]",
		// without schematization every field lands in RECORD_CONTENT
		"urn:field:prod/mytopic1/value/address.city -DERIVES-> urn:column:" + sf + "TABLE1/RECORD_CONTENT [connect-config 1.0]",
		"urn:field:prod/mytopic1/value/email -DERIVES-> urn:column:" + sf + "TABLE1/RECORD_CONTENT [connect-config 1.0]",
		"urn:field:prod/mytopic1/value/id -DERIVES-> urn:column:" + sf + "TABLE1/RECORD_CONTENT [connect-config 1.0]",
	})
	s3 := asset(t, snap, conn+"s3-sink").Properties["config"].(map[string]any)
	if s3["aws.secret.access.key"] != Redacted || s3["aws.access.key.id"] != "AKIAIOSFODNN7EXAMPLE" {
		t.Errorf("s3 secrets: %v / %v", s3["aws.secret.access.key"], s3["aws.access.key.id"])
	}
	sfc := asset(t, snap, conn+"snowflake-sink").Properties["config"].(map[string]any)
	for _, k := range []string{"snowflake.private.key", "snowflake.private.key.passphrase", "value.converter.basic.auth.user.info"} {
		if sfc[k] != Redacted {
			t.Errorf("%s = %v", k, sfc[k])
		}
	}
	if bq := asset(t, snap, conn+"bigquery-sink").Properties["config"].(map[string]any); bq["keyfile"] != Redacted {
		t.Errorf("keyfile = %v", bq["keyfile"])
	}
}

func TestUnknownClass(t *testing.T) {
	snap := crawlScenario(t, "unknown_class.json")
	equalLists(t, "flow links", links(snap, func(l catalog.Link) bool { return l.Kind.Flow() }), []string{
		conn + "legacy-feed -PRODUCES-> urn:topic:prod/acme.feed.prices [connect-topics 0.5]",
		conn + "legacy-feed -PRODUCES-> urn:topic:prod/acme.feed.trades [connect-topics 0.5]",
		// topics is a framework setting: certain whatever the class
		"urn:topic:prod/orders -CONSUMES-> " + conn + "acme-archiver [connect-config 1.0]",
		"urn:topic:prod/orders -CONSUMES-> urn:group:prod/connect-acme-archiver [connect-config 1.0]",
		// reported, but outside the subscription (topics: orders): a
		// historic claim, not a current consumption
		"urn:topic:prod/payments -CONSUMES-> " + conn + "acme-archiver [connect-topics 0.3]",
	})
	feed := asset(t, snap, conn+"legacy-feed")
	if feed.Properties["type"] != "source" || feed.Properties["config"].(map[string]any)["acme.api.token"] != Redacted {
		t.Errorf("unknown source: %v", feed.Properties)
	}
}

func TestSecretRedaction(t *testing.T) {
	snap := crawlScenario(t, "secrets.json")
	cfg := asset(t, snap, conn+"fulfillment-cdc").Properties["config"].(map[string]any)
	want := map[string]string{
		"database.password":                                 Redacted,
		"database.ssl.truststore.password":                  Redacted,
		"schema.history.internal.producer.sasl.jaas.config": Redacted,
		"key.converter.basic.auth.user.info":                Redacted,
		"snowflake.private.key":                             Redacted,
		"aws.secret.access.key":                             Redacted,
		"kafka.api.key":                                     Redacted,
		"http.auth.token":                                   "",
		// config-provider placeholders name where a secret lives
		"schema.history.internal.producer.ssl.key.password":      "${file:/secrets.properties:password}",
		"schema.history.internal.consumer.ssl.keystore.password": "${env:KEYSTORE_PASSWORD}",
		"value.converter.basic.auth.user.info":                   "${vault:secret/registry:userinfo}",
		// not secrets
		"database.user":         "sa",
		"key.converter":         "io.confluent.connect.avro.AvroConverter",
		"table.field.event.key": "aggregateid",
		"connection.url":        "jdbc:sqlserver://sqlserver:1433;databaseName=testDB;user=sa;password=[redacted]",
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}
	for k, v := range cfg {
		if s, _ := v.(string); strings.Contains(s, "Password!") || strings.Contains(s, "alice-secret") || strings.Contains(s, "registry-secret") {
			t.Errorf("secret leaked in %s: %s", k, s)
		}
	}
	// SQL Server 2.x names topics <prefix>.<database>.<schema>.<table>.
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		// neither reported nor in the cluster: unconfirmed
		conn + "fulfillment-cdc -PRODUCES-> urn:topic:prod/server1 [connect-config 0.6]",
		conn + "fulfillment-cdc -PRODUCES-> urn:topic:prod/server1.testDB.dbo.customers [connect-config 1.0]",
	})
	equalLists(t, "tables", assetURNs(snap, catalog.KindTable), []string{"urn:table:sqlserver://sqlserver:1433/testDB.dbo.customers"})
}

// TestConnectorFailure: a 500 on one connector's status marks its scope
// incomplete and the crawl goes on with the others.
func TestConnectorFailure(t *testing.T) {
	s := loadScenario(t, "jdbc_sinks.json")
	for _, ep := range []fakeconnect.Endpoint{fakeconnect.EndpointStatus, fakeconnect.EndpointConfig} {
		t.Run(string(ep), func(t *testing.T) {
			srv := startWorker(t, s, fakeconnect.Options{})
			srv.Fail(fakeconnect.Failure{Connector: "dbz-jdbc-sink", Endpoint: ep, Message: "Request timed out"})
			snap, err := newTestCrawler(t, srv.URL, s.schemas(), nil).Crawl(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			reason, ok := snap.Incomplete["connector/dbz-jdbc-sink"]
			if !ok || !strings.Contains(reason, "HTTP 500: Request timed out") || !strings.Contains(reason, "/connectors/dbz-jdbc-sink/"+string(ep)) {
				t.Fatalf("incomplete = %v", snap.Incomplete)
			}
			if len(snap.Incomplete) != 1 {
				t.Errorf("other scopes incomplete: %v", snap.Incomplete)
			}
			for _, a := range snap.Assets {
				if a.Scope == "connector/dbz-jdbc-sink" {
					t.Errorf("asset asserted for the failed connector: %s", a.URN)
				}
			}
			if len(linksOfKind(snap, catalog.EdgeSinks)) != 1 {
				t.Errorf("the healthy connector's lineage is missing: %v", linksOfKind(snap, catalog.EdgeSinks))
			}
			// The expand API failed as a whole; the crawler fell back.
			reqs := strings.Join(srv.Requests(), "\n")
			for _, want := range []string{"GET /connectors?expand=status&expand=info", "GET /connectors\n", "GET /connectors/jdbc-sink/config", "GET /connectors/jdbc-sink/status"} {
				if !strings.Contains(reqs+"\n", want) {
					t.Errorf("request %q not made; requests:\n%s", want, reqs)
				}
			}
		})
	}
}

func TestMalformedConfig(t *testing.T) {
	s := scenario{}
	s.Connectors = append(s.Connectors, loadScenario(t, "postgres_regexrouter.json").Connectors[0])
	cfg := s.Connectors[0].Config
	cfg["table.include.list"] = "inventory.customers,inventory.(orders"
	cfg["transforms"] = "route,broken"
	cfg["transforms.broken.type"] = "org.apache.kafka.connect.transforms.RegexRouter"
	cfg["transforms.broken.regex"] = "(?<=x)y"
	cfg["transforms.broken.replacement"] = "z"
	delete(cfg, "database.hostname")
	srv := startWorker(t, s, fakeconnect.Options{})
	snap, err := newTestCrawler(t, srv.URL, loadScenario(t, "postgres_regexrouter.json").schemas(), nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reason := snap.Incomplete["connector/inventory-cdc"]
	for _, want := range []string{"table.include.list: regex", "missing closing )", "lookaround is not supported", "database.hostname is not set"} {
		if !strings.Contains(reason, want) {
			t.Errorf("reason %q lacks %q", reason, want)
		}
	}
	// What could be derived still is: the literal table's topic and the
	// connector itself; tables cannot be named without a host.
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.customers [connect-config 1.0 t=route]",
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.orders [connect-topics 0.7]",
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.products_on_hand [connect-topics 0.7]",
	})
	if len(assetURNs(snap, catalog.KindTable)) != 0 {
		t.Errorf("tables named without a host: %v", assetURNs(snap, catalog.KindTable))
	}
	asset(t, snap, conn+"inventory-cdc")
}

func TestUnreachableWorker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestCrawler(t, "http://"+addr, nil, func(o *Options) { o.Config.Timeout = "2s" })
	_, err = c.Crawl(context.Background())
	if err == nil || catalog.KindOf(err) != catalog.Unavailable || !strings.Contains(err.Error(), "read connect worker") {
		t.Fatalf("err = %v (kind %v)", err, catalog.KindOf(err))
	}

	srv := fakeconnect.NewServer(fakeconnect.Options{})
	defer srv.Close()
	srv.Fail(fakeconnect.Failure{Endpoint: fakeconnect.EndpointList, Status: 503})
	if _, err := newTestCrawler(t, srv.URL, nil, nil).Crawl(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 503") {
		t.Fatalf("list failure: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	srv := fakeconnect.NewServer(fakeconnect.Options{})
	defer srv.Close()
	srv.SetLatency(5 * time.Second)
	start := time.Now()
	_, err := newTestCrawler(t, srv.URL, nil, func(o *Options) { o.Config.Timeout = "100ms" }).Crawl(context.Background())
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("timeout not honoured: %v after %s", err, time.Since(start))
	}
}

// TestOldWorker: no expand API, no /topics resource.
func TestOldWorker(t *testing.T) {
	s := loadScenario(t, "unwrap_rename_mask.json")
	srv := startWorker(t, s, fakeconnect.Options{NoExpand: true, NoTopicsEndpoint: true})
	snap, err := newTestCrawler(t, srv.URL, s.schemas(), nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Incomplete) != 0 {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}
	if got := linksOfKind(snap, catalog.EdgeDerives); len(got) != 5 {
		t.Errorf("field lineage without /topics: %v", got)
	}
	reqs := strings.Join(srv.Requests(), "\n")
	if !strings.Contains(reqs, "GET /connectors/customers-flat/status") {
		t.Errorf("no per-connector fallback:\n%s", reqs)
	}
}

func TestTopicsFailureIsIncomplete(t *testing.T) {
	s := loadScenario(t, "outbox.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	srv.Fail(fakeconnect.Failure{Connector: "order-outbox", Endpoint: fakeconnect.EndpointTopics, Status: 500})
	snap, err := newTestCrawler(t, srv.URL, s.schemas(), nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r := snap.Incomplete["connector/order-outbox"]; !strings.Contains(r, "read active topics") {
		t.Errorf("incomplete = %v", snap.Incomplete)
	}
	// the table is still known from config
	if len(linksOfKind(snap, catalog.EdgeCaptures)) != 1 {
		t.Errorf("captures: %v", linksOfKind(snap, catalog.EdgeCaptures))
	}
}

func TestAuthHeadersAndPasswordFile(t *testing.T) {
	s := loadScenario(t, "unknown_class.json")
	srv := fakeconnect.NewServer(fakeconnect.Options{BasicAuth: &fakeconnect.Credentials{Username: "watershed", Password: "rotated-secret"}})
	defer srv.Close()
	for _, c := range s.Connectors {
		srv.AddConnector(fakeconnect.Connector{Name: c.Name, Config: c.Config, Type: c.Type, Topics: c.Topics})
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("rotated-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var missing int // requests without the configured header
	proxy := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Gateway-Token") != "abc" {
			mu.Lock()
			missing++
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := proxy.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("proxy: %v", err)
		}
	}()
	defer func() { proxy.Close(); <-done }()

	c := newTestCrawler(t, "http://"+ln.Addr().String(), nil, func(o *Options) {
		o.Config.Username, o.Config.PasswordFile = "watershed", pwFile
		o.Config.Headers = map[string]string{"X-Gateway-Token": "abc"}
	})
	snap, err := c.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(assetURNs(snap, catalog.KindConnector)) != 2 || missing != 0 {
		t.Errorf("connectors %v, %d requests without the header", assetURNs(snap, catalog.KindConnector), missing)
	}
	bad := newTestCrawler(t, srv.URL, nil, func(o *Options) { o.Config.Username, o.Config.Password = "watershed", "wrong" })
	if _, err := bad.Crawl(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestFailedConnectorLiveState(t *testing.T) {
	s := loadScenario(t, "unknown_class.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	srv.SetState("legacy-feed", fakeconnect.StateFailed, "org.apache.kafka.connect.errors.ConnectException: feed unreachable\n\tat com.acme.Feed.poll(Feed.java:42)")
	srv.SetTaskState("legacy-feed", 1, fakeconnect.StateFailed, "java.net.SocketTimeoutException: Read timed out\n\tat x")
	snap, err := newTestCrawler(t, srv.URL, nil, nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	live := asset(t, snap, conn+"legacy-feed").Live
	if live["state"] != "FAILED" || live["trace"] != "org.apache.kafka.connect.errors.ConnectException: feed unreachable" || live["tasksFailed"] != 1 || live["tasksTotal"] != 2 {
		t.Errorf("live = %v", live)
	}
	tasks := live["tasks"].([]any)
	if task := tasks[1].(map[string]any); task["state"] != "FAILED" || task["trace"] != "java.net.SocketTimeoutException: Read timed out" {
		t.Errorf("task = %v", task)
	}
	if _, err := catalog.CanonicalProperties(live); err != nil {
		t.Error(err)
	}
}

// TestRecrawlIsStable: the same worker state gives the same snapshot, so a
// re-crawl writes no change events.
func TestRecrawlIsStable(t *testing.T) {
	s := loadScenario(t, "postgres_regexrouter.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	c := newTestCrawler(t, srv.URL, s.schemas(), func(o *Options) {
		o.Now = func() time.Time { return time.Date(2026, 11, 21, 22, 0, 0, 0, time.UTC) }
	})
	a, err := c.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("two crawls of an unchanged worker differ")
	}
}

func TestJDBCSource(t *testing.T) {
	snap := crawlScenario(t, "jdbc_source.json")
	tables, query := conn+"jdbc-source-tables", conn+"jdbc-source-query"
	acc := "postgres://billing-db:5432/billing.sales.accounts"
	equalLists(t, "flow links", links(snap, func(l catalog.Link) bool {
		return l.Kind.Flow() && l.Kind != catalog.EdgeDerives
	}), []string{
		// table mode: <topic.prefix><table>, schema from currentSchema
		tables + " -PRODUCES-> urn:topic:prod/billing-accounts [connect-config 1.0]",
		tables + " -PRODUCES-> urn:topic:prod/billing-invoices [connect-config 1.0]",
		"urn:table:" + acc + " -CAPTURES-> " + tables + " [connect-config 1.0]",
		"urn:table:postgres://billing-db:5432/billing.sales.invoices -CAPTURES-> " + tables + " [connect-config 1.0]",
		// query mode: tables parsed out of the SQL, lower confidence
		query + " -PRODUCES-> urn:topic:prod/shop-order-emails [connect-config 1.0]",
		"urn:table:mysql://mysql:3306/shop.customers -CAPTURES-> " + query + " [connect-config 0.7]",
		"urn:table:mysql://mysql:3306/shop.orders -CAPTURES-> " + query + " [connect-config 0.7]",
	})
	f := "urn:field:prod/billing-accounts/value/"
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		"urn:column:" + acc + "/iban -DERIVES-> " + f + "iban [connect-config 1.0]",
		"urn:column:" + acc + "/id -DERIVES-> " + f + "id [connect-config 1.0]",
		"urn:column:" + acc + "/name -DERIVES-> " + f + "name [connect-config 1.0]",
		"urn:column:" + acc + "/updated_at -DERIVES-> " + f + "updated_at [connect-config 1.0]",
	})
}

func TestOtherDebeziumSources(t *testing.T) {
	snap := crawlScenario(t, "other_debezium_sources.json")
	equalLists(t, "tables", assetURNs(snap, catalog.KindTable), []string{
		"urn:table:db2://db2server:50000/mydatabase.MYSCHEMA.MYTABLE",
		// the first host of the replica set names the namespace
		"urn:table:mongodb://mongodb-0.mongo:27017/inventory.customers",
		// Oracle tables live in the PDB: service.schema.table
		"urn:table:oracle://oracle:1521/ORCLPDB1.DEBEZIUM.CUSTOMERS",
		"urn:table:sqlserver://192.168.99.100:1433/testDB.dbo.customers",
	})
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		// reported by no one and not among the cluster's topics (the
		// fixture's cluster has the other connectors' topics only)
		conn + "db2-cdc -PRODUCES-> urn:topic:prod/__debezium-heartbeat.mydb [connect-config 0.6]",
		conn + "db2-cdc -PRODUCES-> urn:topic:prod/mydb.MYSCHEMA.MYTABLE [connect-config 0.6]",
		// Debezium 1.x SQL Server topics: <server>.<schema>.<table>
		conn + "legacy-sqlserver -PRODUCES-> urn:topic:prod/fullfillment [connect-config 1.0]",
		conn + "legacy-sqlserver -PRODUCES-> urn:topic:prod/fullfillment.dbo.customers [connect-config 1.0]",
		conn + "mongo-cdc -PRODUCES-> urn:topic:prod/fulfillment.inventory.customers [connect-config 1.0]",
		conn + "oracle-cdc -PRODUCES-> urn:topic:prod/server1 [connect-config 1.0]",
		conn + "oracle-cdc -PRODUCES-> urn:topic:prod/server1.DEBEZIUM.CUSTOMERS [connect-config 1.0]",
	})
	m := "urn:column:mongodb://mongodb-0.mongo:27017/inventory.customers/"
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		m + "_id -DERIVES-> urn:field:prod/fulfillment.inventory.customers/value/_id [connect-config 1.0 t=unwrap]",
		m + "email -DERIVES-> urn:field:prod/fulfillment.inventory.customers/value/email [connect-config 1.0 t=unwrap]",
		m + "first_name -DERIVES-> urn:field:prod/fulfillment.inventory.customers/value/first_name [connect-config 1.0 t=unwrap]",
	})
	cfg := asset(t, snap, conn+"mongo-cdc").Properties["config"].(map[string]any)
	if cfg["mongodb.connection.string"] != "mongodb://debezium:[redacted]@mongodb-0.mongo:27017,mongodb-1.mongo:27017/?replicaSet=rs0" {
		t.Errorf("connection string: %v", cfg["mongodb.connection.string"])
	}
}

// TestDocumentedResponses serves REST bodies copied from the Kafka Connect
// documentation (statuses without "type", as older workers answer) and
// checks the crawler reads them.
func TestDocumentedResponses(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "rest", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	routes := map[string][]byte{
		"/":                                      read("root.json"),
		"/connectors":                            read("connectors.json"),
		"/connectors/hdfs-sink-connector/config": read("config.json"),
		"/connectors/hdfs-sink-connector/status": read("status.json"),
		"/connectors/hdfs-sink-connector/topics": read("topics.json"),
	}
	srv := httptestServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, ok := routes[r.URL.Path] // an old worker: ?expand is ignored
		status := http.StatusOK
		if !ok {
			body, status = []byte(`{"error_code":404,"message":"HTTP 404 Not Found"}`), http.StatusNotFound
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if _, err := w.Write(body); err != nil {
			t.Errorf("write %s: %v", r.URL.Path, err)
		}
	})
	snap, err := newTestCrawler(t, srv, nil, nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := asset(t, snap, conn+"hdfs-sink-connector")
	if c.Properties["type"] != "sink" {
		t.Errorf("type = %v", c.Properties["type"])
	}
	equalLists(t, "SINKS", linksOfKind(snap, catalog.EdgeSinks), []string{
		conn + "hdfs-sink-connector -SINKS-> urn:dataset:hdfs://fakehost:9000/topics/test-topic [connect-config 1.0]",
	})
	if c.Live["tasksFailed"] != 1 || c.Live["tasksTotal"] != 2 {
		t.Errorf("live = %v", c.Live)
	}
	equalLists(t, "CONSUMES", linksOfKind(snap, catalog.EdgeConsumes), []string{
		"urn:topic:prod/test-topic -CONSUMES-> " + conn + "hdfs-sink-connector [connect-config 1.0]",
		"urn:topic:prod/test-topic -CONSUMES-> urn:group:prod/connect-hdfs-sink-connector [connect-config 1.0]",
	})
	if cl := asset(t, snap, "urn:connect:prod-connect"); cl.Properties["version"] != "3.7.0" || cl.Properties["kafkaClusterId"] != "I4ZmrWqfT2e-upky_4fdPA" {
		t.Errorf("cluster = %v", cl.Properties)
	}
}

func TestTLSWithCAFile(t *testing.T) {
	w := fakeconnect.New(fakeconnect.Options{})
	w.AddConnector(fakeconnect.Connector{Name: "x", Config: map[string]string{"connector.class": "com.acme.X"}, Type: "source", Topics: []string{"t"}})
	srv := httptest.NewTLSServer(w)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newTestCrawler(t, srv.URL, nil, nil).Crawl(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	snap, err := newTestCrawler(t, srv.URL, nil, func(o *Options) { o.Config.TLS.CAFile = ca }).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(linksOfKind(snap, catalog.EdgeProduces)) != 1 {
		t.Errorf("links: %v", links(snap, nil))
	}
}

func TestLineageNotes(t *testing.T) {
	s := loadScenario(t, "postgres_regexrouter.json")
	cfg := s.Connectors[0].Config
	cfg["transforms"] = "route,magic,keyed"
	cfg["transforms.magic.type"] = "com.acme.connect.MagicTransform$Value"
	cfg["transforms.keyed.type"] = "org.apache.kafka.connect.transforms.ExtractField$Key"
	cfg["transforms.keyed.field"] = "id"
	srv := startWorker(t, s, fakeconnect.Options{})
	snap, err := newTestCrawler(t, srv.URL, s.schemas(), nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c := asset(t, snap, conn+"inventory-cdc")
	notes := c.Properties["lineageNotes"].([]any)
	if len(notes) != 2 || !strings.Contains(notes[0].(string), `"magic" (com.acme.connect.MagicTransform$Value) is not understood`) ||
		!strings.Contains(notes[1].(string), `"keyed" (org.apache.kafka.connect.transforms.ExtractField$Key) acts on record keys`) {
		t.Errorf("notes = %v", notes)
	}
	ts := c.Properties["transforms"].([]any)
	if len(ts) != 3 || ts[1].(map[string]any)["type"] != "com.acme.connect.MagicTransform$Value" {
		t.Errorf("transforms = %v", ts)
	}
	// Lineage through a transform we do not understand is capped at 0.7.
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.customers [connect-config 0.7 t=route]",
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.orders [connect-config 0.7 t=route]",
		conn + "inventory-cdc -PRODUCES-> urn:topic:prod/cdc.products_on_hand [connect-topics 0.7 t=route]",
	})
}

func TestCancelledCrawl(t *testing.T) {
	s := loadScenario(t, "object_sinks.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	// Cancel while the per-connector /topics reads are under way.
	srv.SetLatency(20 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer time.AfterFunc(50*time.Millisecond, cancel).Stop()
	if _, err := newTestCrawler(t, srv.URL, nil, nil).Crawl(ctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("a cancelled crawl gave err = %v", err)
	}
}

// TestJDBCSourceTasksAndRouters: the tables of JDBC sources come from their
// list, from their tasks' "tables", or from reported topics only where the
// transforms run backwards to one table; a content-based router keeps the
// table; a hidden connection URL is an explicit unknown host, not an error.
func TestJDBCSourceTasksAndRouters(t *testing.T) {
	snap := crawlScenario(t, "jdbc_source_tasks.json")
	if len(snap.Incomplete) != 0 {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}
	lib := "urn:table:mysql://test_mysql:3306/librarydb."
	unk := "urn:table:jdbc://unknown/"
	equalLists(t, "CAPTURES", linksOfKind(snap, catalog.EdgeCaptures), []string{
		// ${env:MYSQL_CONNECTION_URL}: the tasks name the tables, the host is unknown
		unk + "librarydb.book -CAPTURES-> " + conn + "mysql_source1 [connect-tasks 1.0]",
		unk + "librarydb.member -CAPTURES-> " + conn + "mysql_source1 [connect-tasks 1.0]",
		// no table list, a lossy RegexRouter: the tasks say what is read
		lib + "book -CAPTURES-> " + conn + "mysql_source2 [connect-tasks 1.0]",
		lib + "member -CAPTURES-> " + conn + "mysql_source2 [connect-tasks 1.0]",
		// no tasks: only the invertible router names a table (lib_member ← member)
		lib + "member -CAPTURES-> " + conn + "mysql_source2_untasked [connect-topics 0.7]",
		// the configured "book" is the tasks' `librarydb`.`book`
		unk + "librarydb.book -CAPTURES-> " + conn + "mysql_source3 [connect-config 1.0]",
		// ExtractTopic: the configured table is read for certain
		lib + "book -CAPTURES-> " + conn + "mysql_source5 [connect-config 1.0]",
		"urn:table:postgres://test_postgres:5432/postgres.public.member -CAPTURES-> " + conn + "postgres_source [connect-config 1.0]",
		"urn:table:postgres://events-db:5432/app.public.events -CAPTURES-> " + conn + "events-by-type [connect-config 1.0]",
	})
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		conn + "mysql_source1 -PRODUCES-> urn:topic:prod/test-mysql-jdbc-book [connect-tasks 1.0]",
		conn + "mysql_source1 -PRODUCES-> urn:topic:prod/test-mysql-jdbc-member [connect-tasks 1.0]",
		conn + "mysql_source2 -PRODUCES-> urn:topic:prod/member [connect-tasks 1.0]",
		conn + "mysql_source2 -PRODUCES-> urn:topic:prod/my-new-topic-book [connect-tasks 1.0 t=TotalReplacement]",
		conn + "mysql_source2_untasked -PRODUCES-> urn:topic:prod/lib_member [connect-topics 0.7 t=prefixed]",
		// the lossy router's topic is kept at the connector, with no table
		conn + "mysql_source2_untasked -PRODUCES-> urn:topic:prod/lib_my-new-topic-book [connect-topics 0.7]",
		conn + "mysql_source3 -PRODUCES-> urn:topic:prod/my-new-topic [connect-config 1.0 t=TotalReplacement]",
		// with one table, every reported topic comes from it
		conn + "mysql_source5 -PRODUCES-> urn:topic:prod/Book1 [connect-topics 0.7 t=changetopic]",
		conn + "mysql_source5 -PRODUCES-> urn:topic:prod/Book2 [connect-topics 0.7 t=changetopic]",
		conn + "postgres_source -PRODUCES-> urn:topic:prod/test-postgres-jdbc-member [connect-config 1.0]",
		conn + "events-by-type -PRODUCES-> urn:topic:prod/purchase [connect-topics 0.7 t=route]",
		conn + "events-by-type -PRODUCES-> urn:topic:prod/signup [connect-topics 0.7 t=route]",
	})
	for _, a := range snap.Assets {
		if strings.Contains(string(a.URN), "my-new-topic") && a.URN.Kind() != catalog.KindConnector {
			t.Errorf("a table was made out of a router's output: %s", a.URN)
		}
	}
	ev := "urn:column:postgres://events-db:5432/app.public.events/"
	equalLists(t, "events DERIVES", links(snap, func(l catalog.Link) bool {
		return l.Kind == catalog.EdgeDerives && strings.HasPrefix(string(l.From), ev)
	}), []string{
		ev + "event_type -DERIVES-> urn:field:prod/signup/value/event_type [connect-topics 0.7]",
		ev + "id -DERIVES-> urn:field:prod/signup/value/id [connect-topics 0.7]",
		ev + "user_id -DERIVES-> urn:field:prod/signup/value/user_id [connect-topics 0.7]",
	})
	book := asset(t, snap, unk+"librarydb.book")
	if book.Properties["unresolvedConnection"] != "${env:MYSQL_CONNECTION_URL}" {
		t.Errorf("book properties = %v", book.Properties)
	}
	notes := fmt.Sprint(asset(t, snap, conn+"mysql_source2_untasked").Properties["lineageNotes"])
	if !strings.Contains(notes, "topic lib_my-new-topic-book: the transforms cannot be run backwards") {
		t.Errorf("notes = %s", notes)
	}
	if cfg := asset(t, snap, conn+"mysql_source2").Properties["config"].(map[string]any); cfg["connection.url"] != "jdbc:mysql://foo:[redacted]@test_mysql:3306/librarydb" {
		t.Errorf("connection.url = %v", cfg["connection.url"])
	}
}

// TestSinkSubscriptionFilter: /topics lists every topic a sink used since it
// was created; only those its subscription covers are sink targets.
func TestSinkSubscriptionFilter(t *testing.T) {
	s := scenario{}
	s.Connectors = append(s.Connectors, loadScenario(t, "object_sinks.json").Connectors...)
	var keep []int
	for i, c := range s.Connectors {
		switch c.Name {
		case "s3-sink":
			s.Connectors[i].Topics = []string{"s3_topic", "s3_topic_v0"} // renamed since
			keep = append(keep, i)
		case "elasticsearch-sink":
			delete(s.Connectors[i].Config, "topics")
			s.Connectors[i].Config["topics.regex"] = "test-elasticsearch-.*"
			s.Connectors[i].Topics = []string{"test-elasticsearch-sink", "logs-2023"}
			keep = append(keep, i)
		}
	}
	var cs = s.Connectors[:0]
	for _, i := range keep {
		cs = append(cs, s.Connectors[i])
	}
	s.Connectors = cs
	srv := startWorker(t, s, fakeconnect.Options{})
	snap, err := newTestCrawler(t, srv.URL, MapSchemas{}, nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	equalLists(t, "SINKS", linksOfKind(snap, catalog.EdgeSinks), []string{
		conn + "elasticsearch-sink -SINKS-> urn:dataset:elasticsearch://elasticsearch:9200/test-elasticsearch-sink [connect-config 0.7]",
		conn + "s3-sink -SINKS-> urn:dataset:s3://confluent-kafka-connect-s3-testing/topics/s3_topic [connect-config 1.0]",
	})
	equalLists(t, "CONSUMES of the connectors", links(snap, func(l catalog.Link) bool {
		return l.Kind == catalog.EdgeConsumes && l.To.Kind() == catalog.KindConnector
	}), []string{
		"urn:topic:prod/logs-2023 -CONSUMES-> " + conn + "elasticsearch-sink [connect-topics 0.3]",
		"urn:topic:prod/test-elasticsearch-sink -CONSUMES-> " + conn + "elasticsearch-sink [connect-config 0.7]",
		"urn:topic:prod/s3_topic -CONSUMES-> " + conn + "s3-sink [connect-config 1.0]",
		"urn:topic:prod/s3_topic_v0 -CONSUMES-> " + conn + "s3-sink [connect-topics 0.3]",
	})
	if datasets := assetURNs(snap, catalog.KindDataset); len(datasets) != 2 {
		t.Errorf("a historic topic got a sink target: %v", datasets)
	}
}

// TestUnconfirmedTopics: a topic derived from config that neither Connect
// nor the cluster has gets a lower confidence than one that exists; without
// any evidence nothing is lowered.
func TestUnconfirmedTopics(t *testing.T) {
	s := scenario{}
	s.Connectors = append(s.Connectors, loadScenario(t, "postgres_regexrouter.json").Connectors[0])
	s.Connectors[0].Config["table.include.list"] = "inventory.customers,inventory.orders"
	delete(s.Connectors[0].Config, "transforms")
	s.Connectors[0].Topics = nil
	produces := func(lister TopicLister, opts fakeconnect.Options) []string {
		srv := startWorker(t, s, opts)
		snap, err := newTestCrawler(t, srv.URL, nil, func(o *Options) { o.Topics = lister }).Crawl(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return linksOfKind(snap, catalog.EdgeProduces)
	}
	cdc := conn + "inventory-cdc -PRODUCES-> urn:topic:prod/dbserver1.inventory."
	equalLists(t, "cluster has customers", produces(topicList{"dbserver1.inventory.customers"}, fakeconnect.Options{NoTopicsEndpoint: true}), []string{
		cdc + "customers [connect-config 1.0]",
		cdc + "orders [connect-config 0.6]",
	})
	equalLists(t, "no evidence", produces(nil, fakeconnect.Options{NoTopicsEndpoint: true}), []string{
		cdc + "customers [connect-config 1.0]",
		cdc + "orders [connect-config 1.0]",
	})
	equalLists(t, "an empty cluster list is no evidence", produces(topicList{}, fakeconnect.Options{NoTopicsEndpoint: true}), []string{
		cdc + "customers [connect-config 1.0]",
		cdc + "orders [connect-config 1.0]",
	})
	// Connect reports what the connector wrote: nothing yet.
	equalLists(t, "reported nothing", produces(nil, fakeconnect.Options{}), []string{
		cdc + "customers [connect-config 0.6]",
		cdc + "orders [connect-config 0.6]",
	})
}

// TestConnectorClasses derives the classes beyond Confluent's and
// Debezium's from real configs: each names its sources and targets.
func TestConnectorClasses(t *testing.T) {
	snap := crawlScenario(t, "connector_classes.json")
	equalLists(t, "CAPTURES", linksOfKind(snap, catalog.EdgeCaptures), []string{
		"urn:table:mongodb://test_mongo:27017/test_db.purchases -CAPTURES-> " + conn + "source_mongodb_connector [connect-config 1.0]",
		"urn:table:mongodb://mongo1:27017/testdb.testcoll -CAPTURES-> " + conn + "mongodb-source-connector [connect-config 1.0]",
		// a watched database: its collections from the reported topics
		"urn:table:mongodb://cluster0.abcde.mongodb.net:27017/shop.orders -CAPTURES-> " + conn + "shop-watcher [connect-topics 0.7]",
		"urn:table:mongodb://cluster0.abcde.mongodb.net:27017/shop.users -CAPTURES-> " + conn + "shop-watcher [connect-topics 0.7]",
		// Confluent Cloud: connection.host and db.name
		"urn:table:postgres://test-postgres.us-east-1.rds.amazonaws.com:5432/test_database.public.orders -CAPTURES-> " + conn + "postgres-cdc-cloud-connector [connect-config 1.0]",
		"urn:table:postgres://test-postgres.us-east-1.rds.amazonaws.com:5432/test_database.public.users -CAPTURES-> " + conn + "postgres-cdc-cloud-connector [connect-config 1.0]",
		"urn:table:mysql://sales-db.cluster-abc.eu-west-1.rds.amazonaws.com:3306/sales.orders -CAPTURES-> " + conn + "mysql-cloud-source [connect-config 1.0]",
		"urn:table:mongodb://mongodb:27017/inventory.customers -CAPTURES-> " + conn + "inventory-mongodb [connect-topics 0.7]",
		"urn:table:mongodb://mongodb:27017/inventory.orders -CAPTURES-> " + conn + "inventory-mongodb [connect-topics 0.7]",
	})
	equalLists(t, "PRODUCES", linksOfKind(snap, catalog.EdgeProduces), []string{
		conn + "source_mongodb_connector -PRODUCES-> urn:topic:prod/mongodb.test_db.purchases [connect-config 1.0]",
		conn + "mongodb-source-connector -PRODUCES-> urn:topic:prod/mongo.testdb.testcoll [connect-config 1.0]",
		conn + "shop-watcher -PRODUCES-> urn:topic:prod/cdc.shop.orders [connect-topics 0.7]",
		conn + "shop-watcher -PRODUCES-> urn:topic:prod/cdc.shop.users [connect-topics 0.7]",
		conn + "postgres-cdc-cloud-connector -PRODUCES-> urn:topic:prod/test-server.public.orders [connect-config 1.0]",
		conn + "postgres-cdc-cloud-connector -PRODUCES-> urn:topic:prod/test-server.public.users [connect-config 1.0]",
		conn + "mysql-cloud-source -PRODUCES-> urn:topic:prod/mysql_orders [connect-config 1.0]",
		conn + "inventory-mongodb -PRODUCES-> urn:topic:prod/dbserver1.inventory.customers [connect-topics 0.7]",
		conn + "inventory-mongodb -PRODUCES-> urn:topic:prod/dbserver1.inventory.orders [connect-topics 0.7]",
	})
	ice := "urn:table:iceberg://iceberg-catalog.example.com/default."
	iceCol := "urn:column:iceberg://iceberg-catalog.example.com/default."
	equalLists(t, "SINKS", linksOfKind(snap, catalog.EdgeSinks), []string{
		conn + "mongo-test-users-sink -SINKS-> urn:table:mongodb://iot-db-target:27017/test.users [connect-config 1.0]",
		// the collection defaults to the topic, overridable per topic; the
		// password holds '@'
		conn + "orders-archive-sink -SINKS-> urn:table:mongodb://mongo-0.example:27017/archive.orders_2024 [connect-config 1.0]",
		conn + "orders-archive-sink -SINKS-> urn:table:mongodb://mongo-0.example:27017/archive.payments [connect-config 1.0]",
		conn + "mysql-sink-cloud-connector -SINKS-> urn:table:mysql://mysql-test.database.azure.com:3306/testdb.sample_data_orders [connect-config 1.0]",
		conn + "mysql-sink-cloud-connector -SINKS-> urn:table:mysql://mysql-test.database.azure.com:3306/testdb.sample_data_stock_trades [connect-config 1.0]",
		conn + "mysql-sink-cloud-connector -SINKS-> urn:table:mysql://mysql-test.database.azure.com:3306/testdb.sample_data_users [connect-config 1.0]",
		// no snowflake.url.name in the config Confluent Cloud shows
		conn + "snowflake-sink-cloud-connector -SINKS-> urn:table:snowflake://unknown/TEST_DB.TEST_SCHEMA.ORDER_EVENTS_782987144 [connect-config 1.0]",
		conn + "snowflake-sink-cloud-connector -SINKS-> urn:table:snowflake://unknown/TEST_DB.TEST_SCHEMA.USER_EVENTS_1974889125 [connect-config 1.0]",
		conn + "s3-cloud-sink -SINKS-> urn:dataset:s3://datalake-raw/kafka/pageviews [connect-config 1.0]",
		conn + "clickhouse-sink -SINKS-> urn:table:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.clicks_v2 [connect-config 1.0]",
		conn + "clickhouse-sink -SINKS-> urn:table:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.orders_local [connect-config 1.0]",
		conn + "clickhouse-sink -SINKS-> urn:table:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.users [connect-config 1.0]",
		conn + "events-sink -SINKS-> " + ice + "events [connect-config 1.0]",
		// routed by record content: both tables, at resolved confidence
		conn + "events-fanout -SINKS-> urn:table:hive://hive-metastore:9083/default.events_create [connect-config 0.7]",
		conn + "events-fanout -SINKS-> urn:table:hive://hive-metastore:9083/default.events_list [connect-config 0.7]",
	})
	equalLists(t, "DERIVES", linksOfKind(snap, catalog.EdgeDerives), []string{
		// publish.full.document.only: the value is the document
		"urn:column:mongodb://mongo1:27017/testdb.testcoll/_id -DERIVES-> urn:field:prod/mongo.testdb.testcoll/value/_id [connect-config 1.0]",
		"urn:column:mongodb://mongo1:27017/testdb.testcoll/name -DERIVES-> urn:field:prod/mongo.testdb.testcoll/value/name [connect-config 1.0]",
		"urn:column:mongodb://mongo1:27017/testdb.testcoll/qty -DERIVES-> urn:field:prod/mongo.testdb.testcoll/value/qty [connect-config 1.0]",
		"urn:column:mongodb://mongo1:27017/testdb.testcoll/tags -DERIVES-> urn:field:prod/mongo.testdb.testcoll/value/tags [connect-config 1.0]",
		// the RdbmsHandler reads Debezium envelopes
		"urn:field:prod/orders/value/after.id -DERIVES-> urn:column:mongodb://mongo-0.example:27017/archive.orders_2024/id [connect-config 1.0]",
		"urn:field:prod/orders/value/after.total -DERIVES-> urn:column:mongodb://mongo-0.example:27017/archive.orders_2024/total [connect-config 1.0]",
		// a ChangeStreamHandler applies change events: fullDocument.x → x
		"urn:field:prod/test.users/value/fullDocument.email -DERIVES-> urn:column:mongodb://iot-db-target:27017/test.users/email [connect-config 1.0]",
		"urn:field:prod/test.users/value/fullDocument.name -DERIVES-> urn:column:mongodb://iot-db-target:27017/test.users/name [connect-config 1.0]",
		// no unwrap: an envelope's top-level fields are columns
		"urn:field:prod/orders/value/op -DERIVES-> urn:column:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.orders_local/op [connect-config 1.0]",
		"urn:field:prod/clicks/value/ts -DERIVES-> urn:column:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.clicks_v2/ts [connect-config 1.0]",
		"urn:field:prod/clicks/value/url -DERIVES-> urn:column:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.clicks_v2/url [connect-config 1.0]",
		"urn:field:prod/clicks/value/user_id -DERIVES-> urn:column:clickhouse://abc123.eu-central-1.aws.clickhouse.cloud:8443/analytics.clicks_v2/user_id [connect-config 1.0]",
		"urn:field:prod/events/value/id -DERIVES-> " + iceCol + "events/id [connect-config 1.0]",
		"urn:field:prod/events/value/payload -DERIVES-> " + iceCol + "events/payload [connect-config 1.0]",
		"urn:field:prod/events/value/type -DERIVES-> " + iceCol + "events/type [connect-config 1.0]",
		"urn:field:prod/events/value/id -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_create/id [connect-config 0.7]",
		"urn:field:prod/events/value/payload -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_create/payload [connect-config 0.7]",
		"urn:field:prod/events/value/type -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_create/type [connect-config 0.7]",
		"urn:field:prod/events/value/id -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_list/id [connect-config 0.7]",
		"urn:field:prod/events/value/payload -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_list/payload [connect-config 0.7]",
		"urn:field:prod/events/value/type -DERIVES-> urn:column:hive://hive-metastore:9083/default.events_list/type [connect-config 0.7]",
	})
	for name, class := range map[string]string{"postgres-cdc-cloud-connector": "PostgresCdcSource", "clickhouse-sink": classClickHouseSink} {
		c := asset(t, snap, conn+name)
		if c.Properties["class"] != class {
			t.Errorf("%s class = %v", name, c.Properties["class"])
		}
	}
	if notes := fmt.Sprint(asset(t, snap, conn+"events-dynamic").Properties["lineageNotes"]); !strings.Contains(notes, "dynamic-enabled") {
		t.Errorf("dynamic routing not explained: %s", notes)
	}
	for _, c := range []struct{ connector, key string }{
		{"clickhouse-sink", "password"}, {"events-sink", "iceberg.catalog.credential"}, {"mysql-cloud-source", "connection.password"}, {"inventory-mongodb", "mongodb.password"},
	} {
		if v := asset(t, snap, conn+c.connector).Properties["config"].(map[string]any)[c.key]; v != Redacted {
			t.Errorf("%s %s = %v", c.connector, c.key, v)
		}
	}
	if len(snap.Incomplete) != 0 {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}
}

// TestNoSecretLeaks crawls one connector of every class we know, with
// secrets planted where real configs hold them, plus task and connector
// traces quoting credentials: no planted secret reaches the snapshot
// (configs, live state, problems).
func TestNoSecretLeaks(t *testing.T) {
	s := loadScenario(t, "secrets_by_class.json")
	srv := startWorker(t, s, fakeconnect.Options{})
	srv.SetState("jdbc-sink", fakeconnect.StateFailed, "org.apache.kafka.connect.errors.ConnectException: java.sql.SQLException: Cannot create PoolableConnectionFactory (jdbc:postgresql://pg:5432/dwh?user=dwh&password=LEAK-trace)\n\tat io.confluent.connect.jdbc.sink.JdbcSinkTask.put(JdbcSinkTask.java:120)")
	srv.SetTaskState("http-sink", 0, fakeconnect.StateFailed, "org.apache.kafka.connect.errors.ConnectException: request failed with headers Authorization: Bearer LEAKtracetoken123, url mongodb://x:p@LEAK-tracemongo@h/")
	snap, err := newTestCrawler(t, srv.URL, MapSchemas{}, nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		Assets     []catalog.Asset
		Incomplete map[string]string
	}{snap.Assets, snap.Incomplete})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "LEAK"); n > 0 {
		for _, a := range snap.Assets {
			ab, _ := json.Marshal(a)
			if strings.Contains(string(ab), "LEAK") {
				t.Errorf("secret leaked in %s: %s", a.URN, ab)
			}
		}
		for scope, r := range snap.Incomplete {
			if strings.Contains(r, "LEAK") {
				t.Errorf("secret leaked in the problem of %s: %s", scope, r)
			}
		}
	}
	if _, ok := snap.Incomplete["connector/es-bad-url"]; !ok {
		t.Errorf("the malformed URL is not reported: %v", snap.Incomplete)
	}
	// Redaction keeps what is not secret.
	cfg := asset(t, snap, conn+"http-sink").Properties["config"].(map[string]any)
	if cfg["headers"] != "Authorization:Bearer [redacted]|X-Api-Version:2" || cfg["producer.override.ssl.keystore.type"] != "PEM" {
		t.Errorf("http-sink config = %v", cfg)
	}
	if got := asset(t, snap, conn+"mongo-cdc").Properties["config"].(map[string]any)["mongodb.connection.string"]; got != "mongodb://debezium:[redacted]@mongodb:27017/?replicaSet=rs0" {
		t.Errorf("mongodb.connection.string = %v", got)
	}
	if got := asset(t, snap, conn+"oracle-cdc").Properties["config"].(map[string]any)["database.url"]; got != "jdbc:oracle:thin:c##dbzuser/[redacted]@oracle:1521/ORCLCDB" {
		t.Errorf("database.url = %v", got)
	}
}

// TestPlaceholderServers: servers hidden behind config-provider placeholders
// in every kind of connection key are recorded under the unknown host, not
// reported as crawl problems.
func TestPlaceholderServers(t *testing.T) {
	s := scenario{}
	add := func(name, typ string, cfg map[string]string) {
		s.Connectors = append(s.Connectors, scenarioConnector{Name: name, Type: typ, Config: cfg})
	}
	add("pg-cdc", "source", map[string]string{"connector.class": classDebeziumPostgres, "database.hostname": "${env:PG_HOST}", "database.port": "${env:PG_PORT}",
		"database.dbname": "shop", "topic.prefix": "shop", "table.include.list": "public.orders"})
	add("es", "sink", map[string]string{"connector.class": classElasticsearchSink, "connection.url": "${file:/opt/secrets/es.properties:url}", "topics": "orders"})
	add("s3", "sink", map[string]string{"connector.class": classS3Sink, "s3.bucket.name": "${env:LAKE_BUCKET}", "topics": "orders"})
	add("ch", "sink", map[string]string{"connector.class": classClickHouseSink, "hostname": "${env:CH_HOST}", "topics": "orders"})
	add("mongo", "sink", map[string]string{"connector.class": classMongoSink, "connection.uri": "${env:MONGO_URI}", "database": "archive", "topics": "orders"})
	srv := startWorker(t, s, fakeconnect.Options{})
	snap, err := newTestCrawler(t, srv.URL, MapSchemas{}, nil).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Incomplete) != 0 {
		t.Errorf("incomplete: %v", snap.Incomplete)
	}
	equalLists(t, "targets", append(linksOfKind(snap, catalog.EdgeSinks), linksOfKind(snap, catalog.EdgeCaptures)...), []string{
		conn + "ch -SINKS-> urn:table:clickhouse://unknown:8443/default.orders [connect-config 1.0]",
		conn + "es -SINKS-> urn:dataset:elasticsearch://unknown/orders [connect-config 1.0]",
		conn + "mongo -SINKS-> urn:table:mongodb://unknown:27017/archive.orders [connect-config 1.0]",
		conn + "s3 -SINKS-> urn:dataset:s3://unknown/topics/orders [connect-config 1.0]",
		"urn:table:postgres://unknown:5432/shop.public.orders -CAPTURES-> " + conn + "pg-cdc [connect-config 1.0]",
	})
	if p := asset(t, snap, "urn:table:postgres://unknown:5432/shop.public.orders").Properties["unresolvedConnection"]; p != "${env:PG_HOST}" {
		t.Errorf("unresolvedConnection = %v", p)
	}
}
