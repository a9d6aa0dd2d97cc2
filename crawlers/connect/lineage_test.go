package connect

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
)

// TestPairEdges: a connector's exact mapping is kept as per-pair DERIVES
// edges with the connector as Via and the transforms that applied, beside
// the topic → connector and connector → table edges.
func TestPairEdges(t *testing.T) {
	snap := crawlScenario(t, "pairs.json")
	pg := "urn:table:postgres://shop-db:5432/shop.public."
	equalLists(t, "shop-cdc pairs", pairLinks(snap, "shop-cdc"), []string{
		pg + "orders -> urn:topic:prod/orders [connect-config 1.0 t=unwrap,route]",
		pg + "payments -> urn:topic:prod/payments [connect-config 1.0 t=unwrap,route]",
		pg + "products -> urn:topic:prod/products [connect-config 1.0 t=unwrap,route]",
		pg + "users -> urn:topic:prod/users [connect-config 1.0 t=unwrap,route]",
	})
	bq := "urn:table:bigquery/acme-analytics.raw."
	equalLists(t, "bigquery-sink pairs", pairLinks(snap, "bigquery-sink"), []string{
		"urn:topic:prod/orders -> " + bq + "orders_table [connect-config 1.0]",
		"urn:topic:prod/payments -> " + bq + "payments_table [connect-config 1.0]",
		"urn:topic:prod/products -> " + bq + "products_table [connect-config 1.0]",
		"urn:topic:prod/users -> " + bq + "users_table [connect-config 1.0]",
		// failed records of any topic may land in the dead letter queue
		"urn:topic:prod/orders -> urn:topic:prod/dlq.bigquery [connect-config 0.7]",
		"urn:topic:prod/payments -> urn:topic:prod/dlq.bigquery [connect-config 0.7]",
		"urn:topic:prod/products -> urn:topic:prod/dlq.bigquery [connect-config 0.7]",
		"urn:topic:prod/users -> urn:topic:prod/dlq.bigquery [connect-config 0.7]",
	})
	// The connector-level edges stay.
	if got := linksOfKind(snap, catalog.EdgeSinks); len(got) != 4 {
		t.Errorf("SINKS = %v", got)
	}
	if got := linksOfKind(snap, catalog.EdgeCaptures); len(got) != 4 {
		t.Errorf("CAPTURES = %v", got)
	}
}

// TestPairLineageWalks reconciles the crawl into the embedded store and
// walks it: from one topic of the four-topic BigQuery sink a downstream walk
// reaches its own table and the connector, no other table; through the
// multi-table CDC source a walk from one table reaches its own topic and
// table only, and an upstream walk from one BigQuery table reaches its
// own topic and source table only.
func TestPairLineageWalks(t *testing.T) {
	snap := crawlScenario(t, "pairs.json")
	store, err := embedded.Open(embedded.Options{Dir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()
	if _, err := store.Reconcile(ctx, snap, nil); err != nil {
		t.Fatal(err)
	}
	walk := func(start string, dir catalog.Direction, kinds ...catalog.Kind) []string {
		t.Helper()
		tr, err := store.Traverse(ctx, catalog.TraverseQuery{Start: catalog.URN(start), Direction: dir})
		if err != nil {
			t.Fatalf("walk from %s: %v", start, err)
		}
		var out []string
		for _, n := range tr.Nodes {
			for _, k := range kinds {
				if n.Kind == k {
					out = append(out, string(n.URN))
				}
			}
		}
		sort.Strings(out)
		return out
	}
	bq := "urn:table:bigquery/acme-analytics.raw."
	pg := "urn:table:postgres://shop-db:5432/shop.public."
	bqSink, cdc := conn+"bigquery-sink", conn+"shop-cdc"

	equalLists(t, "downstream of topic orders: tables", walk("urn:topic:prod/orders", catalog.Downstream, catalog.KindTable), []string{bq + "orders_table"})
	down := walk("urn:topic:prod/orders", catalog.Downstream, catalog.KindConnector, catalog.KindTopic)
	equalLists(t, "downstream of topic orders: connectors and topics", down, []string{bqSink, "urn:topic:prod/dlq.bigquery"})

	// Through both connectors: a source table reaches its topic and its
	// warehouse table, never a sibling's.
	equalLists(t, "downstream of pg orders: tables and topics", walk(pg+"orders", catalog.Downstream, catalog.KindTable, catalog.KindTopic), []string{
		bq + "orders_table", "urn:topic:prod/dlq.bigquery", "urn:topic:prod/orders",
	})
	equalLists(t, "downstream of pg orders: connectors", walk(pg+"orders", catalog.Downstream, catalog.KindConnector), []string{bqSink, cdc})
	equalLists(t, "upstream of the users table", walk(bq+"users_table", catalog.Upstream, catalog.KindTable, catalog.KindTopic), []string{
		pg + "users", "urn:topic:prod/users",
	})
	equalLists(t, "upstream of CDC topic users", walk("urn:topic:prod/users", catalog.Upstream, catalog.KindTable, catalog.KindTopic), []string{pg + "users"})
	equalLists(t, "upstream of the users table: connectors", walk(bq+"users_table", catalog.Upstream, catalog.KindConnector), []string{bqSink, cdc})

	// Column lineage is unchanged: the orders field reaches its own column.
	cols := walk("urn:field:prod/orders/value/total", catalog.Downstream, catalog.KindColumn)
	if len(cols) != 1 || !strings.HasSuffix(cols[0], "orders_table/total") {
		t.Errorf("field lineage = %v", cols)
	}
	// A walk started at the connector still follows every edge it has.
	equalLists(t, "downstream of the sink connector", walk(bqSink, catalog.Downstream, catalog.KindTable), []string{
		bq + "orders_table", bq + "payments_table", bq + "products_table", bq + "users_table",
	})
}

// TestPairInvariants checks every fixture: each sink target and each
// captured table's topic has its pair edge, and every pair edge joins an
// input of its connector (a consumed topic, a captured table) to an output
// (a sink target, a produced topic).
func TestPairInvariants(t *testing.T) {
	for _, file := range []string{"object_sinks.json", "jdbc_sinks.json", "connector_classes.json", "jdbc_source.json",
		"jdbc_source_tasks.json", "postgres_regexrouter.json", "mysql_bylogicaltable.json", "outbox.json", "other_debezium_sources.json", "pairs.json"} {
		t.Run(file, func(t *testing.T) {
			snap := crawlScenario(t, file)
			has := map[catalog.EdgeKey]bool{}
			pairs := map[[2]catalog.URN]bool{} // (via, to)
			for _, l := range snap.Links {
				if l.Via == "" {
					has[l.Key()] = true
				} else {
					pairs[[2]catalog.URN{l.Via, l.To}] = true
				}
			}
			for _, l := range snap.Links {
				switch {
				case l.Via != "":
					in := has[catalog.EdgeKey{From: l.From, Kind: catalog.EdgeConsumes, To: l.Via}] || has[catalog.EdgeKey{From: l.From, Kind: catalog.EdgeCaptures, To: l.Via}]
					out := has[catalog.EdgeKey{From: l.Via, Kind: catalog.EdgeSinks, To: l.To}] || has[catalog.EdgeKey{From: l.Via, Kind: catalog.EdgeProduces, To: l.To}]
					if !in || !out || l.Kind != catalog.EdgeDerives {
						t.Errorf("pair %s via %s joins no input to an output of its connector", l.Key(), l.Via)
					}
				case l.Kind == catalog.EdgeSinks && !pairs[[2]catalog.URN{l.From, l.To}]:
					t.Errorf("sink target %s of %s has no pair edge", l.To, l.From)
				}
			}
		})
	}
	snap := crawlScenario(t, "object_sinks.json")
	equalLists(t, "object and warehouse sink pairs", pairLinks(snap, ""), []string{
		"urn:topic:prod/kcbq-quickstart1 -> urn:table:bigquery/my-gcp-project.kcbq_dataset.kcbq_quickstart1 [connect-config 1.0]",
		// Elasticsearch: topic → index; S3: topic → prefix
		"urn:topic:prod/Test-Elasticsearch-Sink -> urn:dataset:elasticsearch://elasticsearch:9200/test-elasticsearch-sink [connect-config 1.0]",
		"urn:topic:prod/s3_topic -> urn:dataset:s3://confluent-kafka-connect-s3-testing/topics/s3_topic [connect-config 1.0]",
		"urn:topic:prod/mytopic1 -> urn:table:snowflake://myorganization-myaccount/MYDB.MYSCHEMA.TABLE1 [connect-config 1.0]",
		"urn:topic:prod/mytopic2 -> urn:table:snowflake://myorganization-myaccount/MYDB.MYSCHEMA.MYTOPIC2 [connect-config 1.0]",
		"urn:topic:prod/orders.v1 -> urn:table:snowflake://myorganization-myaccount/MYDB.MYSCHEMA.ORDERS_V1_390712796 [connect-config 1.0]",
	})
	// A JDBC source whose router merges no tables: each table its topic.
	snap = crawlScenario(t, "jdbc_source_tasks.json")
	equalLists(t, "mysql_source2 pairs", pairLinks(snap, "mysql_source2"), []string{
		"urn:table:mysql://test_mysql:3306/librarydb.book -> urn:topic:prod/my-new-topic-book [connect-tasks 1.0 t=TotalReplacement]",
		"urn:table:mysql://test_mysql:3306/librarydb.member -> urn:topic:prod/member [connect-tasks 1.0]",
	})
	// ByLogicalTableRouter merges two shards into one topic: both pair to it.
	snap = crawlScenario(t, "mysql_bylogicaltable.json")
	equalLists(t, "shards-cdc pairs", pairLinks(snap, "shards-cdc"), []string{
		"urn:table:mysql://mysql:3306/inventory.customers_shard1 -> urn:topic:prod/dbserver1 [connect-config 1.0]",
		"urn:table:mysql://mysql:3306/inventory.customers_shard1 -> urn:topic:prod/dbserver1.inventory.customers_all_shards [connect-config 1.0 t=Reroute]",
		"urn:table:mysql://mysql:3306/inventory.customers_shard2 -> urn:topic:prod/dbserver1 [connect-config 1.0]",
		"urn:table:mysql://mysql:3306/inventory.customers_shard2 -> urn:topic:prod/dbserver1.inventory.customers_all_shards [connect-config 1.0 t=Reroute]",
	})
}
