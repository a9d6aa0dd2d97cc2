package catalog_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// awkward are names a source may give: spaces, '/', '%', non-ASCII, control
// characters, a literal "%2F", and names that look like separators.
var awkward = []string{
	"orders",
	"my topic",
	"a/b",
	"/leading/and/trailing/",
	"100%",
	"%2F",
	"ünïcødé-名前",
	"tab\there",
	"line\nbreak",
	"User:CN=alice, OU=eng",
	"value",
	"x/value/y",
	"x/valuey/keys",
	"://",
	"a.b[].c{}",
	"\xff\xfe",
}

// TestURNConstructorsRoundTrip feeds awkward names through every
// constructor and its parser: each URN is valid, of its kind, and parses
// back to exactly what it was built from.
func TestURNConstructorsRoundTrip(t *testing.T) {
	const cluster = "prod-eu.1_a"
	for _, name := range awkward {
		check := func(what string, u catalog.URN, kind catalog.Kind, got, want []any, ok bool) {
			t.Helper()
			if err := u.Validate(); err != nil {
				t.Errorf("%s(%q) = %q: %v", what, name, u, err)
			}
			if u.Kind() != kind {
				t.Errorf("%s(%q) = %q has kind %q", what, name, u, u.Kind())
			}
			if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s(%q) = %q parses to %q (ok=%v), want %q", what, name, u, got, ok, want)
			}
		}
		if name != "" {
			c, tp, ok := catalog.TopicURN(cluster, name).Topic()
			check("TopicURN", catalog.TopicURN(cluster, name), catalog.KindTopic, []any{c, tp}, []any{cluster, name}, ok)
		}
		for _, part := range []string{catalog.PartKey, catalog.PartValue} {
			topics := []string{"orders"}
			if !strings.Contains(name+"/", "/value/") && !strings.Contains(name+"/", "/key/") {
				// A topic with a "/key/" or "/value/" segment is the one
				// ambiguous spelling (see URN.Field); Kafka refuses it.
				topics = append(topics, name)
			}
			for _, topic := range topics {
				u := catalog.FieldURN(cluster, topic, part, name)
				c, tp, p, path, ok := u.Field()
				check("FieldURN", u, catalog.KindField, []any{c, tp, p, path}, []any{cluster, topic, part, name}, ok)
				if got, ok := u.TopicOfField(); !ok || got != catalog.TopicURN(cluster, topic) {
					t.Errorf("FieldURN(%q).TopicOfField() = %q, %v", name, got, ok)
				}
			}
		}
		u := catalog.GroupURN(cluster, name)
		c, g, ok := u.Group()
		check("GroupURN", u, catalog.KindConsumerGroup, []any{c, g}, []any{cluster, name}, ok)
		u = catalog.PrincipalURN(cluster, name)
		c, p, ok := u.Principal()
		check("PrincipalURN", u, catalog.KindPrincipal, []any{c, p}, []any{cluster, name}, ok)
		u = catalog.StreamsJobURN(cluster, name)
		c, app, ok := u.StreamsJob()
		check("StreamsJobURN", u, catalog.KindJob, []any{c, app}, []any{cluster, name}, ok)
		u = catalog.SubjectURN(cluster, name)
		c, s, ok := u.Subject()
		check("SubjectURN", u, catalog.KindSchemaSubject, []any{c, s}, []any{cluster, name}, ok)
		u = catalog.SchemaVersionURN(cluster, name, 12)
		c, s, v, ok := u.SchemaVersion()
		check("SchemaVersionURN", u, catalog.KindSchemaVersion, []any{c, s, v}, []any{cluster, name, 12}, ok)
		u = catalog.ConnectorURN(cluster, name)
		c, n, ok := u.Connector()
		check("ConnectorURN", u, catalog.KindConnector, []any{c, n}, []any{cluster, name}, ok)
		for _, ns := range []string{"postgres://db.example:5432", "bigquery", "snowflake://myorg-acct", "s3://lake"} {
			u = catalog.TableURN(ns, name)
			gotNS, gotName, ok := u.Table()
			check("TableURN", u, catalog.KindTable, []any{gotNS, gotName}, []any{ns, name}, ok)
			col := catalog.ColumnURN(u, name)
			table, gotCol, ok := col.Column()
			check("ColumnURN", col, catalog.KindColumn, []any{table, gotCol}, []any{u, name}, ok)
			u = catalog.DatabaseURN(ns, name)
			gotNS, gotName, ok = u.Database()
			check("DatabaseURN", u, catalog.KindDatabase, []any{gotNS, gotName}, []any{ns, name}, ok)
			u = catalog.DatasetURN(ns, name)
			gotNS, gotName, ok = u.Dataset()
			check("DatasetURN", u, catalog.KindDataset, []any{gotNS, gotName}, []any{ns, name}, ok)
		}
	}
	for _, id := range []int32{0, 1, 2147483647} {
		u := catalog.BrokerURN(cluster, id)
		c, got, ok := u.Broker()
		if !ok || c != cluster || got != id || u.Validate() != nil {
			t.Errorf("BrokerURN(%d) = %q parses to %q %d %v", id, u, c, got, ok)
		}
	}
	for _, single := range []struct {
		u     catalog.URN
		parse func(catalog.URN) (string, bool)
	}{
		{catalog.KafkaClusterURN(cluster), catalog.URN.KafkaCluster},
		{catalog.RegistryURN(cluster), catalog.URN.Registry},
		{catalog.ConnectClusterURN(cluster), catalog.URN.ConnectCluster},
	} {
		if got, ok := single.parse(single.u); !ok || got != cluster || single.u.Validate() != nil {
			t.Errorf("%q parses to %q, %v", single.u, got, ok)
		}
	}
}

// TestURNSpelling pins the spelling of ordinary names: it is the public
// contract (docs/urns.md), and every crawler spelled it this way before the
// constructors moved here.
func TestURNSpelling(t *testing.T) {
	table := catalog.TableURN("postgres://inventory-db:5432", "inventory.public.customers")
	for got, want := range map[catalog.URN]string{
		catalog.KafkaClusterURN("prod"):                                  "urn:kafka:prod",
		catalog.BrokerURN("prod", 1):                                     "urn:broker:prod/1",
		catalog.TopicURN("prod", "orders"):                               "urn:topic:prod/orders",
		catalog.TopicURN("prod", "cdc.shop_v1-x"):                        "urn:topic:prod/cdc.shop_v1-x",
		catalog.FieldURN("prod", "orders", "value", "a.b[].c"):           "urn:field:prod/orders/value/a.b[].c",
		catalog.FieldURN("prod", "orders", "key", "id"):                  "urn:field:prod/orders/key/id",
		catalog.FieldURN("prod", "o", "value", "a/b c"):                  "urn:field:prod/o/value/a/b%20c",
		catalog.GroupURN("prod", "fraud detector"):                       "urn:group:prod/fraud%20detector",
		catalog.GroupURN("prod", "team/app"):                             "urn:group:prod/team/app",
		catalog.PrincipalURN("prod", "User:CN=alice, OU=eng"):            "urn:principal:prod/User:CN=alice,%20OU=eng",
		catalog.StreamsJobURN("prod", "order-enricher"):                  "urn:job:kafka-streams://prod/order-enricher",
		catalog.RegistryURN("prod-sr"):                                   "urn:registry:prod-sr",
		catalog.SubjectURN("prod-sr", "orders-value"):                    "urn:subject:prod-sr/orders-value",
		catalog.SchemaVersionURN("prod-sr", "orders-value", 3):           "urn:schema:prod-sr/orders-value/3",
		catalog.ConnectClusterURN("prod-connect"):                        "urn:connect:prod-connect",
		catalog.ConnectorURN("prod-connect", "inventory-cdc"):            "urn:connector:prod-connect/inventory-cdc",
		catalog.DatabaseURN("postgres://inventory-db:5432", "inventory"): "urn:database:postgres://inventory-db:5432/inventory",
		table:                             "urn:table:postgres://inventory-db:5432/inventory.public.customers",
		catalog.ColumnURN(table, "email"): "urn:column:postgres://inventory-db:5432/inventory.public.customers/email",
		catalog.ColumnURN(table, "a/b"):   "urn:column:postgres://inventory-db:5432/inventory.public.customers/a%2Fb",
		catalog.TableURN("bigquery", "my-project.kcbq.orders"):      "urn:table:bigquery/my-project.kcbq.orders",
		catalog.DatasetURN("s3://lake", "topics/orders"):            "urn:dataset:s3://lake/topics/orders",
		catalog.DatasetURN("elasticsearch://es:9200", "orders idx"): "urn:dataset:elasticsearch://es:9200/orders%20idx",
	} {
		if string(got) != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestURNParsersRefuse: a parser answers false for URNs its constructor
// cannot have built, never a wrong split.
func TestURNParsersRefuse(t *testing.T) {
	for _, u := range []catalog.URN{"urn:topic:prod", "urn:topic:prod/", "urn:topic:pr od/x", "urn:topic:prod/100%", "urn:group:prod/x"} {
		if c, tp, ok := u.Topic(); ok {
			t.Errorf("%q.Topic() = %q %q", u, c, tp)
		}
	}
	for _, u := range []catalog.URN{
		"urn:field:s3://lake/curated%2Fcustomer_360/email_hash", // a dataset field
		"urn:field:prod/orders/body/x", "urn:field:prod/orders/value/", "urn:field:prod/orders", "urn:topic:prod/orders",
	} {
		if _, _, _, _, ok := u.Field(); ok {
			t.Errorf("%q.Field() accepted", u)
		}
	}
	for _, u := range []catalog.URN{"urn:job:flink://prod/x", "urn:job:kafka-streams://prod", "urn:topic:prod/x"} {
		if _, _, ok := u.StreamsJob(); ok {
			t.Errorf("%q.StreamsJob() accepted", u)
		}
	}
	for _, u := range []catalog.URN{"urn:schema:sr/s/x", "urn:schema:sr/3", "urn:schema:sr/s/03", "urn:broker:prod/x"} {
		if _, _, _, ok := u.SchemaVersion(); ok {
			t.Errorf("%q.SchemaVersion() accepted", u)
		}
	}
	for _, u := range []catalog.URN{"urn:table:postgres://", "urn:table:bigquery", "urn:column:bigquery", "urn:column:x/", "urn:table:pg://h/%zz"} {
		if _, _, ok := u.Table(); ok {
			t.Errorf("%q.Table() accepted", u)
		}
		if _, _, ok := u.Column(); ok {
			t.Errorf("%q.Column() accepted", u)
		}
	}
	if _, ok := catalog.UnescapeIdentity("%4"); ok {
		t.Error("truncated escape accepted")
	}
	if s, ok := catalog.UnescapeIdentity("a%20b%2Fc%25"); !ok || s != "a b/c%" {
		t.Errorf("UnescapeIdentity = %q %v", s, ok)
	}
}

// TestPolicyURNs checks the policy and violation spellings and that names
// which are not words are refused.
func TestPolicyURNs(t *testing.T) {
	subject := catalog.GroupURN("prod", "User:CN=alice, OU=eng")
	v := catalog.ViolationURN("pii-consumer-allowlist", subject)
	if err := v.Validate(); err != nil || v.Kind() != catalog.KindViolation {
		t.Fatalf("ViolationURN = %q: %v", v, err)
	}
	if p, s, ok := v.Violation(); !ok || p != "pii-consumer-allowlist" || s != subject {
		t.Errorf("Violation() = %q %q %v", p, s, ok)
	}
	if string(v) != "urn:violation:pii-consumer-allowlist/"+string(subject) {
		t.Errorf("ViolationURN spelling = %q", v)
	}
	if n, ok := catalog.PolicyURN("no-pii-in-s3").Policy(); !ok || n != "no-pii-in-s3" {
		t.Errorf("Policy() = %q %v", n, ok)
	}
	for _, bad := range []string{"", "-x", "a b", "a/b", "é", strings.Repeat("a", 101)} {
		if catalog.ValidatePolicyName(bad) == nil {
			t.Errorf("ValidatePolicyName(%q) accepted", bad)
		}
	}
	for _, bad := range []catalog.URN{"urn:violation:p", "urn:violation:a b/urn:topic:prod/x", "urn:violation:p/not-a-urn", "urn:topic:prod/x"} {
		if _, _, ok := bad.Violation(); ok {
			t.Errorf("%q parses as a violation", bad)
		}
	}
}
