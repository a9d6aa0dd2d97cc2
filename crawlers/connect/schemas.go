package connect

import (
	"context"
	"fmt"
	"slices"
	"sort"

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
// CONTAINS edges whose "part" property is "value" (or absent), each at the
// path its "path" property holds — as the schema registry crawler writes
// them; no URN is cut apart. Its record name is the topic property
// "valueSchemaName".
type CatalogLookup struct {
	r catalog.Reader
}

// NewCatalogLookup returns a lookup reading r.
func NewCatalogLookup(r catalog.Reader) *CatalogLookup { return &CatalogLookup{r: r} }

// Properties of FIELD entities this lookup reads.
const (
	fieldPathProperty = "path"
	fieldPartProperty = "part"
)

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
	var fields []catalog.URN
	for _, n := range walk.Nodes {
		if n.Kind == catalog.KindField {
			fields = append(fields, n.URN)
		}
	}
	if len(fields) > 0 {
		es, err := l.r.Entities(ctx, fields)
		if err != nil {
			return TopicSchema{}, false, fmt.Errorf("read fields of topic %s: %w", topic, err)
		}
		for _, f := range es {
			if f.URN == "" || f.Deleted() {
				continue
			}
			if part, ok := f.Properties[fieldPartProperty].(string); ok && part != catalog.PartValue {
				continue
			}
			if path, ok := f.Properties[fieldPathProperty].(string); ok && path != "" {
				ts.Paths = append(ts.Paths, path)
			}
		}
	}
	sort.Strings(ts.Paths)
	ts.Paths = slices.Compact(ts.Paths)
	if ts.RecordName == "" && len(ts.Paths) == 0 {
		return TopicSchema{}, false, nil
	}
	return ts, true, nil
}

// Topics implements TopicLister: the TOPIC entities the cluster CONTAINS.
func (l *CatalogLookup) Topics(ctx context.Context, cluster string) ([]string, error) {
	edges, err := l.r.Edges(ctx, catalog.EdgeQuery{
		URN:       catalog.KafkaClusterURN(cluster),
		Direction: catalog.Downstream,
		Kinds:     []catalog.EdgeKind{catalog.EdgeContains},
	})
	if err != nil {
		return nil, fmt.Errorf("read topics of cluster %s: %w", cluster, err)
	}
	var out []string
	for _, e := range edges {
		if e.Deleted() {
			continue
		}
		if c, name, ok := e.To.Topic(); ok && c == cluster {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
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
	var out []string
	for u := range m {
		if c, name, ok := u.Topic(); ok && c == cluster {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}
