package schemaregistry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/catalog"
)

const (
	placedSchema  = `{"type":"record","name":"OrderPlaced","namespace":"com.acme","fields":[{"name":"order_id","type":"string"},{"name":"total","type":"long"}]}`
	shippedSchema = `{"type":"record","name":"Shipped","namespace":"com.acme","fields":[{"name":"order_id","type":"string"},{"name":"carrier","type":"string"}]}`
	auditSchema   = `{"type":"record","name":"AuditEntry","namespace":"com.acme","fields":[{"name":"actor","type":"string","pii":true},{"name":"action","type":"string"}]}`
	alertSchema   = `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Alert","type":"object",
		"properties":{"alert_id":{"type":"string"},"score":{"type":"number"},
		"labels":{"type":"object","additionalProperties":{"type":"integer"}},
		"context":{"type":"object","properties":{"ip":{"type":"string"}}}}}`
)

// sampleEstate is a registry and a cluster whose topics use every binding
// strategy, with records that carry secrets in their keys and values.
type sampleEstate struct {
	reg  registryIDs
	c    *kfake.Cluster
	prod *kgo.Client
}

// registryIDs are the schema ids the estate registered, by subject.
type registryIDs map[string]int

func newSampleEstate(t *testing.T) (*sampleEstate, *Crawler) {
	t.Helper()
	reg := newRegistry(t)
	ids := registryIDs{}
	reg1 := func(subject, text string, typ sr.SchemaType, refs ...sr.SchemaReference) {
		id, _ := register(t, reg, subject, text, typ, refs...)
		ids[subject] = id
	}
	reg1("orders-value", orderV1, sr.TypeAvro)
	ids["orders-value/1"] = ids["orders-value"]
	reg1("orders-value", orderV2, sr.TypeAvro)
	reg1("payments-value", `{"type":"record","name":"Payment","namespace":"com.acme","fields":[{"name":"id","type":"string"}]}`, sr.TypeAvro)
	reg1("com.acme.OrderPlaced", placedSchema, sr.TypeAvro)     // RecordNameStrategy
	reg1("events-com.acme.Shipped", shippedSchema, sr.TypeAvro) // TopicRecordNameStrategy
	reg1("com.acme.AuditEntry", auditSchema, sr.TypeAvro)       // RecordNameStrategy, alone on its topic
	reg1("alerts-value", alertSchema, sr.TypeJSON)              // plain JSON payloads, no wire format
	reg1("acme-address", readTestdata(t, "protobuf/acme/common/address.proto"), sr.TypeProtobuf)
	reg1("orders.enriched-value", readTestdata(t, "protobuf/order.proto"), sr.TypeProtobuf,
		sr.SchemaReference{Name: "acme/common/address.proto", Subject: "acme-address", Version: 1})
	reg1("secret-value", orderV1, sr.TypeAvro)
	reg1("leaderless-value", orderV1, sr.TypeAvro)

	c := newCluster(t)
	createTopics(t, c, 3, "orders", "events", "audit", "mirror", "alerts", "orders.enriched", "unbound", "secret", "leaderless")
	prod := newKafkaClient(t, c, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	rec := func(topic string, key string, value []byte) *kgo.Record {
		var k []byte
		if key != "" {
			k = []byte(key)
		}
		return &kgo.Record{Topic: topic, Key: k, Value: value}
	}
	var recs []*kgo.Record
	for i := 0; i < 12; i++ {
		secret := fmt.Sprintf("VALUE-SECRET-%d alice@example.com", i)
		key := fmt.Sprintf("KEY-SECRET-%d", i)
		recs = append(recs,
			rec("orders", key, wire(ids["orders-value"], secret)),
			rec("orders", key, wire(ids["orders-value/1"], secret)),
			rec("events", key, wire(ids["com.acme.OrderPlaced"], secret)),
			rec("events", key, wire(ids["events-com.acme.Shipped"], secret)),
			rec("audit", key, wire(ids["com.acme.AuditEntry"], secret)),
			rec("mirror", key, wire(ids["orders-value"], secret)),
			rec("alerts", key, []byte(fmt.Sprintf(`{"alert_id":"%s","score":0.9,"severity_v2":"high","labels":{"alice@example.com":1},"context":{"ip":"10.0.0.%d","geo":"DE"},"alice@example.com":true}`, secret, i))),
			rec("orders.enriched", key, wireProtobuf(ids["orders.enriched-value"], []int{0}, secret)),
			rec("unbound", key, wire(424242, secret)),
			rec("secret", key, wire(ids["secret-value"], secret)),
			rec("leaderless", key, wire(ids["leaderless-value"], secret)),
		)
	}
	// Drift on orders: a schema of another subject, an unknown id, and a
	// record without the wire format.
	recs = append(recs,
		rec("orders", "KEY-SECRET-x", wire(ids["payments-value"], "VALUE-SECRET-drift")),
		rec("orders", "KEY-SECRET-y", wire(9999, "VALUE-SECRET-unknown")),
		rec("orders", "KEY-SECRET-z", []byte("VALUE-SECRET-plain")),
		rec("orders.enriched", "KEY-SECRET-p", wireProtobuf(ids["orders.enriched-value"], []int{1}, "VALUE-SECRET-customer")),
		rec("alerts", "KEY-SECRET-w", wire(ids["alerts-value"], `{"alert_id":"VALUE-SECRET-wired","extra_wire":1}`)),
	)
	produce(t, prod, recs...)
	e := &sampleEstate{reg: ids, c: c, prod: prod}
	cfg := withSample(reg)
	cfg.Sample.Timeout = "4s"
	cr := newTestCrawler(t, cfg, c)
	return e, cr
}

func TestSampling(t *testing.T) {
	e, cr := newSampleEstate(t)
	e.c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "secret", Err: kerr.TopicAuthorizationFailed, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "leaderless", Partitions: []int32{1}, Err: kerr.LeaderNotAvailable, Count: -1},
	)
	snap := crawlOnce(t, cr)
	ids := e.reg

	t.Run("incomplete", func(t *testing.T) {
		if len(snap.Incomplete) != 2 || !strings.Contains(snap.Incomplete["topic/secret"], "TOPIC_AUTHORIZATION_FAILED") ||
			!strings.Contains(snap.Incomplete["topic/leaderless"], "partition 1: LEADER_NOT_AVAILABLE") {
			t.Errorf("incomplete %v", snap.Incomplete)
		}
		// The topic that could not be sampled keeps its facet (not
		// re-asserted); its subject, binding and fields are asserted.
		if _, ok := findAsset(snap, topicURN("secret")); ok {
			t.Error("the facet of an unsampled topic was re-asserted")
		}
		mustAsset(t, snap, fieldURN("secret", PartValue, "id"))
		if _, ok := findLink(snap, topicURN("secret"), catalog.EdgeHasSchema, subjectURN("secret-value")); !ok {
			t.Error("TopicNameStrategy binding missing")
		}
	})

	t.Run("bindings", func(t *testing.T) {
		for _, tc := range []struct {
			topic, subject string
			origin         string
			confidence     float64
			scope          string
		}{
			{"orders", "orders-value", OriginTopicNameStrategy, confidenceTopicNameStrategy, "subject/orders-value"},
			{"events", "com.acme.OrderPlaced", OriginSampledRecords, confidenceSampledStrategy, "topic/events"},
			{"events", "events-com.acme.Shipped", OriginSampledRecords, confidenceSampledStrategy, "topic/events"},
			{"audit", "com.acme.AuditEntry", OriginSampledRecords, confidenceSampledStrategy, "topic/audit"},
			{"mirror", "orders-value", OriginSampledRecords, confidenceSampledOther, "topic/mirror"},
			{"alerts", "alerts-value", OriginTopicNameStrategy, confidenceTopicNameStrategy, "subject/alerts-value"},
		} {
			l, ok := findLink(snap, topicURN(tc.topic), catalog.EdgeHasSchema, subjectURN(tc.subject))
			if !ok {
				t.Errorf("no binding %s → %s", tc.topic, tc.subject)
				continue
			}
			if l.Origin != tc.origin || l.Confidence != tc.confidence || l.Scope != tc.scope {
				t.Errorf("%s → %s: origin %q confidence %v scope %q", tc.topic, tc.subject, l.Origin, l.Confidence, l.Scope)
			}
		}
		// Drift is not a binding.
		if _, ok := findLink(snap, topicURN("orders"), catalog.EdgeHasSchema, subjectURN("payments-value")); ok {
			t.Error("a drifting schema id bound a second subject")
		}
		if _, ok := findAsset(snap, topicURN("unbound")); ok {
			t.Error("a topic no subject binds got a facet")
		}
	})

	t.Run("topic facets", func(t *testing.T) {
		for _, tc := range []struct {
			topic, key, want string
		}{
			{"events", "valueSchemaSubjects", `["com.acme.OrderPlaced","events-com.acme.Shipped"]`},
			{"events", "valueSchemaSubject", `<absent>`},
			{"events", "sampledSchemaIds", fmt.Sprintf(`{"value":[%d,%d]}`, ids["com.acme.OrderPlaced"], ids["events-com.acme.Shipped"])},
			{"audit", "valueSchemaSubject", `"com.acme.AuditEntry"`},
			{"audit", "valueSchemaName", `"com.acme.AuditEntry"`},
			{"audit", "valueSchemaBinding", `"sampled-records"`},
			{"audit", "schemaDrift", `<absent>`},
			{"mirror", "valueSchemaName", `"com.acme.Order"`},
			{"orders", "sampledSchemaIds", fmt.Sprintf(`{"value":[%d,%d,%d,9999]}`, ids["orders-value/1"], ids["orders-value"], ids["payments-value"])},
			{"orders", "valueSchemaId", fmt.Sprint(ids["orders-value"])},
			{"orders.enriched", "sampledProtobufMessages", fmt.Sprintf(
				`[{"messageIndexes":[0],"messageName":"acme.orders.Order","part":"value","schemaId":%[1]d},{"messageIndexes":[1],"messageName":"acme.orders.Customer","part":"value","schemaId":%[1]d}]`,
				ids["orders.enriched-value"])},
			{"orders.enriched", "valueSchemaName", `"acme.orders.Order"`},
			{"alerts", "sampledSchemaIds", fmt.Sprintf(`{"value":[%d]}`, ids["alerts-value"])},
		} {
			a := mustAsset(t, snap, topicURN(tc.topic))
			if got := propJSON(t, normalized(t, a.Properties), tc.key); got != tc.want {
				t.Errorf("%s %s = %s\nwant %s", tc.topic, tc.key, got, tc.want)
			}
			if a.Scope != "topic/"+tc.topic {
				t.Errorf("%s scope %q", tc.topic, a.Scope)
			}
		}
		if got := mustAsset(t, snap, topicURN("orders")).Live["sampledRecords"]; got != 27 {
			t.Errorf("orders sampledRecords %v, want 27", got)
		}
	})

	t.Run("fields of sampled bindings", func(t *testing.T) {
		actor := mustAsset(t, snap, fieldURN("audit", PartValue, "actor"))
		if actor.Scope != "topic/audit" || !reflect.DeepEqual(actor.Classifications, []catalog.SourceClassification{{Name: "PII", Source: catalog.AttachSchemaTag}}) {
			t.Errorf("audit actor: scope %q classifications %v", actor.Scope, actor.Classifications)
		}
		if l, ok := findLink(snap, topicURN("audit"), catalog.EdgeContains, actor.URN); !ok || l.Scope != "topic/audit" {
			t.Errorf("topic CONTAINS field link %v %v", l, ok)
		}
		// Two record types on one topic: no single field tree.
		for _, a := range snap.Assets {
			if strings.HasPrefix(string(a.URN), "urn:field:prod/events/") {
				t.Errorf("field of a topic with two record types: %s", a.URN)
			}
		}
		mustAsset(t, snap, fieldURN("mirror", PartValue, "total"))
	})

	t.Run("drift", func(t *testing.T) {
		for _, tc := range []struct {
			topic, want string
		}{
			{"orders", fmt.Sprintf(`[{"kind":"unregistered-schema-id","part":"value","registeredUnder":["payments-value"],"schemaId":%d,"subject":"orders-value"},`+
				`{"kind":"unknown-schema-id","part":"value","schemaId":9999},`+
				`{"kind":"not-wire-format","part":"value","subject":"orders-value"}]`, ids["payments-value"])},
			{"alerts", `[{"kind":"unknown-field","part":"value","path":"context.geo","subject":"alerts-value"},` +
				`{"kind":"unknown-field","part":"value","path":"extra_wire","subject":"alerts-value"},` +
				`{"kind":"unknown-field","part":"value","path":"severity_v2","subject":"alerts-value"}]`},
			{"mirror", `<absent>`},
			{"orders.enriched", `<absent>`},
		} {
			if got := propJSON(t, normalized(t, mustAsset(t, snap, topicURN(tc.topic)).Properties), "schemaDrift"); got != tc.want {
				t.Errorf("%s drift\n%s\nwant\n%s", tc.topic, got, tc.want)
			}
		}
	})

	t.Run("values never stored", func(t *testing.T) {
		b, err := json.Marshal(snap)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"SECRET", "alice@example.com", "10.0.0.", "high", "DE\""} {
			if strings.Contains(string(b), secret) {
				i := strings.Index(string(b), secret)
				t.Errorf("the snapshot contains %q from a sampled record: …%s…", secret, string(b)[max(0, i-80):min(len(b), i+40)])
			}
		}
	})
}

// TestSamplingIsBoundedAndNewest: at most recordsPerTopic records are read,
// the newest of each partition.
func TestSamplingIsBoundedAndNewest(t *testing.T) {
	reg := newRegistry(t)
	oldID, _ := register(t, reg, "busy-value", orderV1, sr.TypeAvro)
	newID, _ := register(t, reg, "busy-value", orderV2, sr.TypeAvro)
	c := newCluster(t)
	createTopics(t, c, 2, "busy")
	prod := newKafkaClient(t, c, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		for i := 0; i < 150; i++ {
			id := oldID
			if i >= 140 {
				id = newID
			}
			recs = append(recs, &kgo.Record{Topic: "busy", Partition: p, Value: wire(id, "x")})
		}
	}
	produce(t, prod, recs...)
	cfg := withSample(reg)
	cfg.Sample.RecordsPerTopic = 20
	snap := crawlOnce(t, newTestCrawler(t, cfg, c))
	a := mustAsset(t, snap, topicURN("busy"))
	if a.Live["sampledRecords"] != 20 {
		t.Errorf("sampled %v records, want 20", a.Live["sampledRecords"])
	}
	if got := propJSON(t, normalized(t, a.Properties), "sampledSchemaIds"); got != fmt.Sprintf(`{"value":[%d]}`, newID) {
		t.Errorf("sampled ids %s: older records were read", got)
	}
}

// TestSamplingFailures: a topic that cannot be sampled keeps its last sample
// while it fails; an unreachable cluster fails sampling but not the crawl.
func TestSamplingFailures(t *testing.T) {
	e, cr := newSampleEstate(t)
	first := crawlOnce(t, cr)
	if first.Incomplete != nil {
		t.Fatalf("incomplete %v", first.Incomplete)
	}
	h := e.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "events", Err: kerr.TopicAuthorizationFailed, Count: -1})
	second := crawlOnce(t, cr)
	if len(second.Incomplete) != 1 || !strings.Contains(second.Incomplete["topic/events"], "fetch partition") {
		t.Errorf("incomplete %v", second.Incomplete)
	}
	for _, key := range []string{"sampledSchemaIds", "valueSchemaSubjects"} {
		if a, b := propJSON(t, mustAsset(t, first, topicURN("events")).Properties, key), propJSON(t, mustAsset(t, second, topicURN("events")).Properties, key); a != b {
			t.Errorf("%s changed while the topic could not be sampled: %s → %s", key, a, b)
		}
	}
	if _, ok := findLink(second, topicURN("events"), catalog.EdgeHasSchema, subjectURN("com.acme.OrderPlaced")); !ok {
		t.Error("the remembered sample's binding is gone")
	}
	h.Remove()

	e.c.Close()
	third := crawlOnce(t, cr)
	if !strings.Contains(third.Incomplete[ScopeSampling], "list topics") {
		t.Errorf("incomplete %v", third.Incomplete)
	}
	for _, topic := range []string{"orders", "events", "audit", "alerts", "secret", "leaderless"} {
		if _, ok := third.Incomplete["topic/"+topic]; !ok {
			t.Errorf("topic/%s is not incomplete: %v", topic, third.Incomplete)
		}
	}
	if got := propJSON(t, mustAsset(t, third, topicURN("audit")).Properties, "valueSchemaSubject"); got != `"com.acme.AuditEntry"` {
		t.Errorf("remembered binding lost: %s", got)
	}
	mustAsset(t, third, subjectURN("orders-value"))
}

// TestSamplingKafkaOptionsFail: options that cannot be built fail sampling,
// not the crawl.
func TestSamplingKafkaOptionsFail(t *testing.T) {
	reg := newRegistry(t)
	register(t, reg, "orders-value", orderV1, sr.TypeAvro)
	cfg := withSample(reg)
	cr, err := cfg.New(envFor(&kafkaSource{err: fmt.Errorf("sasl.passwordFile: no such file")}))
	if err != nil {
		t.Fatal(err)
	}
	snap := crawlOnce(t, cr.(*Crawler))
	if !strings.Contains(snap.Incomplete[ScopeSampling], "sasl.passwordFile") || snap.Incomplete["topic/orders"] == "" {
		t.Errorf("incomplete %v", snap.Incomplete)
	}
	mustAsset(t, snap, fieldURN("orders", PartValue, "id"))
}
