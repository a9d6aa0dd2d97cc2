package connect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// TopicSchema is what the crawler needs to know about a topic's value schema.
type TopicSchema struct {
	// RecordName is the full name of the value record, e.g.
	// "dbserver1.inventory.customers.Envelope" (Debezium envelope) or
	// "dbserver1.inventory.customers.Value" (after unwrap). It identifies
	// the captured table even when a router renamed the topic.
	RecordName string
	// Paths are the dotted value field paths, parents included:
	// "after", "after.email", "source.ts_ms".
	Paths []string
}

// TopicSchemas looks up the value schema of a topic. The crawler declares it;
// the catalog (fed by the schema registry crawler) implements it.
type TopicSchemas interface {
	// ValueSchema returns the value schema of topic; false when unknown.
	ValueSchema(ctx context.Context, topic catalog.URN) (TopicSchema, bool, error)
}

// TopicLister lists the topics of a Kafka cluster, to resolve sinks'
// topics.regex against topics Connect did not report.
type TopicLister interface {
	// Topics returns the names of the live topics of cluster (a Kafka
	// source name), in any order.
	Topics(ctx context.Context, cluster string) ([]string, error)
}

// ValueSchemaNameProperty is the topic property that holds the full record
// name of the topic's value schema, as the schema registry crawler records it.
const ValueSchemaNameProperty = "valueSchemaName"

// CatalogLookup implements TopicSchemas and TopicLister over a catalog:
// a topic's value fields are the FIELD entities reachable from the topic by
// CONTAINS edges whose URN lies under urn:field:<cluster>/<topic>/value/, and
// its record name is the topic property "valueSchemaName".
type CatalogLookup struct {
	r catalog.Reader
}

// NewCatalogLookup returns a lookup reading r.
func NewCatalogLookup(r catalog.Reader) *CatalogLookup { return &CatalogLookup{r: r} }

// ValueSchema implements TopicSchemas. A topic the catalog does not know, or
// knows only as a tombstone, is reported as unknown (false, nil).
func (l *CatalogLookup) ValueSchema(ctx context.Context, topic catalog.URN) (TopicSchema, bool, error) {
	e, err := l.r.Entity(ctx, topic)
	if catalog.IsNotFound(err) {
		return TopicSchema{}, false, nil
	}
	if err != nil {
		return TopicSchema{}, false, fmt.Errorf("read topic %s: %w", topic, err)
	}
	if e.Deleted() {
		return TopicSchema{}, false, nil
	}
	var ts TopicSchema
	if name, ok := e.Properties[ValueSchemaNameProperty].(string); ok {
		ts.RecordName = name
	}
	walk, err := l.r.Traverse(ctx, catalog.TraverseQuery{
		Start:     topic,
		Direction: catalog.Downstream,
		EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains},
	})
	if err != nil {
		return TopicSchema{}, false, fmt.Errorf("read fields of topic %s: %w", topic, err)
	}
	prefix := string(fieldURNPrefix(topic))
	for _, n := range walk.Nodes {
		if n.Kind != catalog.KindField {
			continue
		}
		if path, ok := strings.CutPrefix(string(n.URN), prefix); ok && path != "" {
			ts.Paths = append(ts.Paths, path)
		}
	}
	sort.Strings(ts.Paths)
	if ts.RecordName == "" && len(ts.Paths) == 0 {
		return TopicSchema{}, false, nil
	}
	return ts, true, nil
}

// Topics implements TopicLister: the TOPIC entities the cluster CONTAINS.
func (l *CatalogLookup) Topics(ctx context.Context, cluster string) ([]string, error) {
	edges, err := l.r.Edges(ctx, catalog.EdgeQuery{
		URN:       catalog.MakeURN(catalog.KindKafkaCluster, cluster),
		Direction: catalog.Downstream,
		Kinds:     []catalog.EdgeKind{catalog.EdgeContains},
	})
	if err != nil {
		return nil, fmt.Errorf("read topics of cluster %s: %w", cluster, err)
	}
	prefix := string(catalog.MakeURN(catalog.KindTopic, cluster+"/"))
	var out []string
	for _, e := range edges {
		if e.Deleted() {
			continue
		}
		if name, ok := strings.CutPrefix(string(e.To), prefix); ok && name != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// fieldURNPrefix returns "urn:field:<cluster>/<topic>/value/" for a topic URN.
func fieldURNPrefix(topic catalog.URN) catalog.URN {
	return catalog.MakeURN(catalog.KindField, topic.Identity()+"/value/")
}

// fieldURN returns the URN of a value field of topic.
func fieldURN(topic catalog.URN, path string) catalog.URN {
	return fieldURNPrefix(topic) + catalog.URN(path)
}

// MapSchemas is a TopicSchemas and TopicLister held in memory, keyed by topic
// URN. Its Topics lists the keys under the cluster. For tests and the demo.
type MapSchemas map[catalog.URN]TopicSchema

// ValueSchema implements TopicSchemas.
func (m MapSchemas) ValueSchema(_ context.Context, topic catalog.URN) (TopicSchema, bool, error) {
	ts, ok := m[topic]
	return ts, ok, nil
}

// Topics implements TopicLister.
func (m MapSchemas) Topics(_ context.Context, cluster string) ([]string, error) {
	prefix := string(catalog.MakeURN(catalog.KindTopic, cluster+"/"))
	var out []string
	for u := range m {
		if name, ok := strings.CutPrefix(string(u), prefix); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}
