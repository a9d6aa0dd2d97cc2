package connect

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Connector classes with a dedicated derivation.
const (
	classDebeziumPostgres  = "io.debezium.connector.postgresql.PostgresConnector"
	classDebeziumMySQL     = "io.debezium.connector.mysql.MySqlConnector"
	classDebeziumSQLServer = "io.debezium.connector.sqlserver.SqlServerConnector"
	classDebeziumMongoDB   = "io.debezium.connector.mongodb.MongoDbConnector"
	classDebeziumOracle    = "io.debezium.connector.oracle.OracleConnector"
	classDebeziumDB2       = "io.debezium.connector.db2.Db2Connector"
	classJDBCSource        = "io.confluent.connect.jdbc.JdbcSourceConnector"
	classJDBCSink          = "io.confluent.connect.jdbc.JdbcSinkConnector"
	classDebeziumJDBCSink  = "io.debezium.connector.jdbc.JdbcSinkConnector"
	classS3Sink            = "io.confluent.connect.s3.S3SinkConnector"
	classElasticsearchSink = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"
	classSnowflakeSink     = "com.snowflake.kafka.connector.SnowflakeSinkConnector"
	classBigQuerySink      = "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector"
	classHDFSSink          = "io.confluent.connect.hdfs.HdfsSinkConnector"
	classHDFS3Sink         = "io.confluent.connect.hdfs3.Hdfs3SinkConnector"
	classGCSSink           = "io.confluent.connect.gcs.GcsSinkConnector"
)

// debeziumFlavors maps Debezium source classes to database flavours.
var debeziumFlavors = map[string]string{
	classDebeziumPostgres:  flavorPostgres,
	classDebeziumMySQL:     flavorMySQL,
	classDebeziumSQLServer: flavorSQLServer,
	classDebeziumMongoDB:   flavorMongoDB,
	classDebeziumOracle:    flavorOracle,
	classDebeziumDB2:       flavorDB2,
}

// SupportedClasses lists the connector classes with a dedicated derivation
// (the Confluent Cloud plugins of ManagedClasses map onto them); any other
// class gets the generic one (reported topics, confidence 0.5).
func SupportedClasses() []string {
	out := []string{classJDBCSource, classJDBCSink, classDebeziumJDBCSink, classS3Sink,
		classElasticsearchSink, classSnowflakeSink, classBigQuerySink, classHDFSSink, classHDFS3Sink, classGCSSink,
		classMongoSource, classMongoSink, classClickHouseSink, classIcebergSink, classTabularIceberg}
	for c := range debeziumFlavors {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// readsTaskConfigs reports whether the crawler reads the task configs of a
// connector of class: the JDBC sources, whose tasks name the tables they
// read.
func readsTaskConfigs(class string) bool {
	class = strings.TrimSpace(class)
	if m, ok := managedClasses[class]; ok {
		class = m.class
	}
	return class == classJDBCSource
}

// jdbcConnection reads the connector's JDBC connection: connection.url and
// connection.user.
func (d *deriver) jdbcConnection() (jdbcTarget, error) {
	return parseJDBCURL(d.cfg("connection.url"), firstNonEmpty(d.cfg("connection.user"), d.cfg("connection.username")))
}

// crawlCache memoises catalog lookups for one crawl.
type crawlCache struct {
	c           *Crawler
	schemas     map[catalog.URN]schemaResult
	known       []string
	knownSet    map[string]bool
	knownErr    error
	knownLoaded bool
}

type schemaResult struct {
	ts  TopicSchema
	ok  bool
	err error
}

func newCrawlCache(c *Crawler) *crawlCache {
	return &crawlCache{c: c, schemas: map[catalog.URN]schemaResult{}}
}

func (k *crawlCache) schema(ctx context.Context, topic catalog.URN) schemaResult {
	if k.c.schemas == nil {
		return schemaResult{}
	}
	if r, ok := k.schemas[topic]; ok {
		return r
	}
	ts, ok, err := k.c.schemas.ValueSchema(ctx, topic)
	r := schemaResult{ts: ts, ok: ok && err == nil, err: err}
	k.schemas[topic] = r
	return r
}

// inCluster reports whether the cluster's topic list (once loaded) has
// topic.
func (k *crawlCache) inCluster(topic string) bool {
	if k.knownSet == nil {
		k.knownSet = make(map[string]bool, len(k.known))
		for _, t := range k.known {
			k.knownSet[t] = true
		}
	}
	return k.knownSet[topic]
}

func (k *crawlCache) clusterTopics(ctx context.Context) ([]string, error) {
	if k.c.topics == nil {
		return nil, nil
	}
	if !k.knownLoaded {
		k.known, k.knownErr = k.c.topics.Topics(ctx, k.c.cfg.Cluster)
		k.knownLoaded = true
	}
	return k.known, k.knownErr
}

// deriver turns one connector into assets and links.
type deriver struct {
	c       *Crawler
	ctx     context.Context
	v       *connectorView
	out     *scopeOutput
	cache   *crawlCache
	connURN catalog.URN

	// conf is the config the derivation reads: the connector's own, with
	// the keys of a managed (Confluent Cloud) class translated to those of
	// its self-managed equivalent.
	conf  map[string]string
	class string // the class whose derivation applies
	typ   string
	chain chain
	notes []string
	// explained are the reported topics a derivation accounted for.
	explained map[string]bool

	// Pair edges: the data sets the connector reads (inputs) and writes
	// (produced topics, paired outputs), for the per-pair DERIVES edges
	// that make the connector pass-through for lineage walks.
	inputs   []catalog.URN
	produced []string
	paired   map[catalog.URN]bool
	// side are produced topics that carry no input data (heartbeats,
	// transaction metadata): they get no pair edges.
	side map[string]bool
}

// pair asserts the per-pair edge from → to (topic → table for a sink, table
// → topic for a source) with the connector as Via and the transforms that
// applied on the way.
func (d *deriver) pair(from, to catalog.URN, origin string, confidence float64, transform string) {
	d.paired[to] = true
	d.input(from)
	d.out.linkVia(from, catalog.EdgeDerives, to, d.connURN, origin, confidence, transform, false)
}

// input records a data set the connector reads.
func (d *deriver) input(u catalog.URN) {
	for _, x := range d.inputs {
		if x == u {
			return
		}
	}
	d.inputs = append(d.inputs, u)
}

// pairUnattributed gives every produced topic that no derivation paired (a
// topic the connector reports but whose table is unknown) a pair edge from
// every input, at confidenceResolved: once the connector is pass-through,
// an unpaired output would be unreachable, and which input feeds it is
// unknown. A connector without pair edges is left as it is.
func (d *deriver) pairUnattributed() {
	if len(d.paired) == 0 || d.typ != "source" {
		return
	}
	for _, topic := range d.produced {
		to := d.c.TopicURN(topic)
		if d.paired[to] || d.side[topic] {
			continue
		}
		for _, from := range append([]catalog.URN(nil), d.inputs...) {
			d.pair(from, to, OriginTopics, confidenceResolved, "")
		}
	}
}

// appliedAliases names the transforms that acted on a run, in order: the
// Transform of a pair edge. A router counts when it renamed the topic; a
// transform that changes nothing lineage tracks (headers, schema metadata)
// does not count.
func (ch chain) appliedAliases(run chainRun) string {
	var out []string
	for i, t := range ch.transforms {
		if i >= len(run.applied) || !run.applied[i] || t.keySide || t.kind == smtNoop {
			continue
		}
		switch t.kind {
		case smtRegexRouter, smtByLogicalTableRouter, smtTimestampRouter, smtContentRouter, smtEventRouter:
			if !slices.Contains(run.route.via, t.alias) {
				continue
			}
		}
		out = append(out, t.alias)
	}
	return strings.Join(out, ",")
}

func (d *deriver) cfg(key string) string { return strings.TrimSpace(d.conf[key]) }

// derive emits the connector, its place in the cluster and its lineage.
func (d *deriver) derive() {
	d.conf = d.v.config
	d.class = strings.TrimSpace(d.v.config["connector.class"])
	if m, ok := managedClasses[d.class]; ok {
		d.class, d.conf = m.class, m.translate(d.v.config)
	}
	d.typ = strings.ToLower(d.v.typ)
	d.explained = map[string]bool{}
	d.paired, d.side = map[catalog.URN]bool{}, map[string]bool{}
	d.chain = parseChain(d.conf)
	for _, p := range d.chain.problems {
		d.out.problem("transforms: " + p)
	}
	d.notes = append(d.notes, d.chain.notes...)

	switch {
	case debeziumFlavors[d.class] != "":
		d.setType("source")
		d.debezium(debeziumFlavors[d.class])
	case d.class == classJDBCSource:
		d.setType("source")
		d.jdbcSource()
	case d.class == classJDBCSink || d.class == classDebeziumJDBCSink:
		d.setType("sink")
		d.sink(one(d.jdbcSinkTarget))
	case d.class == classS3Sink:
		d.setType("sink")
		d.sink(one(d.s3Target))
	case d.class == classElasticsearchSink:
		d.setType("sink")
		d.sink(one(d.elasticsearchTarget))
	case d.class == classSnowflakeSink:
		d.setType("sink")
		d.sink(one(d.snowflakeTarget))
	case d.class == classBigQuerySink:
		d.setType("sink")
		d.sink(one(d.bigQueryTarget))
	case d.class == classHDFSSink || d.class == classHDFS3Sink:
		d.setType("sink")
		d.sink(one(d.hdfsTarget))
	case d.class == classGCSSink:
		d.setType("sink")
		d.sink(one(d.gcsTarget))
	case d.class == classMongoSource:
		d.setType("source")
		d.mongoSource()
	case d.class == classMongoSink:
		d.setType("sink")
		d.sink(one(d.mongoSinkTarget))
	case d.class == classClickHouseSink:
		d.setType("sink")
		d.sink(one(d.clickHouseTarget))
	case d.class == classIcebergSink || d.class == classTabularIceberg:
		d.setType("sink")
		d.sink(d.icebergTargets)
	default:
		d.generic()
	}
	d.pairUnattributed()
	d.out.asset(d.connectorAsset())
	d.out.link(d.c.ClusterURN(), catalog.EdgeContains, d.connURN, OriginConfig, confidenceConfig, "", false)
}

func (d *deriver) setType(t string) {
	if d.typ == "" || d.typ == "unknown" {
		d.typ = t
	}
}

func (d *deriver) connectorAsset() catalog.Asset {
	props := catalog.Properties{
		"class":  strings.TrimSpace(d.v.config["connector.class"]),
		"type":   valueOr(d.typ, "unknown"),
		"config": redactConfig(d.v.config),
	}
	if len(d.chain.transforms) > 0 {
		var ts []any
		for _, t := range d.chain.transforms {
			ts = append(ts, map[string]any{"name": t.alias, "type": t.class})
		}
		props["transforms"] = ts
	}
	if len(d.notes) > 0 {
		notes := make([]any, len(d.notes))
		for i, n := range d.notes {
			notes[i] = n
		}
		props["lineageNotes"] = notes
	}
	a := catalog.Asset{URN: d.connURN, Name: d.v.name, Properties: props}
	if st := d.v.status; st != nil {
		live := catalog.Properties{"state": st.Connector.State, "workerId": st.Connector.WorkerID}
		if st.Connector.Trace != "" {
			live["trace"] = traceSummary(st.Connector.Trace)
		}
		tasks := make([]any, 0, len(st.Tasks))
		failed := 0
		for _, t := range st.Tasks {
			task := map[string]any{"id": t.ID, "state": t.State, "workerId": t.WorkerID}
			if t.Trace != "" {
				task["trace"] = traceSummary(t.Trace)
			}
			if t.State == "FAILED" {
				failed++
			}
			tasks = append(tasks, task)
		}
		live["tasks"] = tasks
		live["tasksTotal"] = len(st.Tasks)
		live["tasksFailed"] = failed
		a.Live = live
	}
	return a
}

// traceSummary keeps the first line of a Java stack trace (the exception
// and its message), bounded, with the credentials it may hold (a JDBC URL
// with its password, a connection string) redacted.
func traceSummary(trace string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(redactText(trace)), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 300 {
		line = line[:297] + "..."
	}
	return line
}

// note records an approximation a steward should know about.
func (d *deriver) note(format string, args ...any) {
	d.notes = appendUnique(d.notes, fmt.Sprintf(format, args...))
}

// reported reports whether Connect listed topic as active.
func (d *deriver) reported(topic string) bool {
	for _, t := range d.v.topics {
		if t == topic {
			return true
		}
	}
	return false
}

// produces asserts connector → topic; transform names the routers that
// renamed the topic.
func (d *deriver) produces(topic, origin string, confidence float64, transform string) {
	d.explained[topic] = true
	d.produced = appendUnique(d.produced, topic)
	confidence = d.confirmed(topic, origin, confidence)
	d.out.link(d.connURN, catalog.EdgeProduces, d.c.TopicURN(topic), origin, confidence, transform, false)
}

// confirmed caps the confidence of a topic derived from config at
// confidenceUnconfirmed when there is evidence of which topics exist (the
// topics Connect reports, a non-empty list of the cluster's topics) and
// neither has it: the config names a topic nobody has seen.
func (d *deriver) confirmed(topic, origin string, confidence float64) float64 {
	if origin != OriginConfig || d.reported(topic) {
		return confidence
	}
	known, _ := d.cache.clusterTopics(d.ctx)
	if !d.v.topicsKnown && len(known) == 0 {
		return confidence // no evidence either way
	}
	if d.cache.inCluster(topic) {
		return confidence
	}
	return min(confidence, confidenceUnconfirmed)
}

// consumes asserts topic → connector, and topic → the sink's consumer
// group: the very edge the kafka crawler sees from committed offsets, so
// the two sources' views of it become one edge with two claims.
func (d *deriver) consumes(topic, origin string, confidence float64) {
	d.explained[topic] = true
	confidence = d.confirmed(topic, origin, confidence)
	d.out.link(d.c.TopicURN(topic), catalog.EdgeConsumes, d.connURN, origin, confidence, "", false)
	if d.typ == "sink" {
		d.out.link(d.c.TopicURN(topic), catalog.EdgeConsumes, d.c.GroupURN(d.sinkGroup()), origin, confidence, "", false)
	}
}

// sinkGroup is the consumer group a sink connector's tasks use: the
// worker's default "connect-<name>" unless the connector overrides it.
func (d *deriver) sinkGroup() string {
	if g := d.cfg("consumer.override.group.id"); g != "" {
		return g
	}
	return "connect-" + d.v.name
}

// unexplainedTopics asserts the reported topics no derivation accounted for.
func (d *deriver) unexplainedTopics(confidence float64) {
	for _, t := range d.v.topics {
		if d.explained[t] {
			continue
		}
		if d.typ == "sink" {
			d.consumes(t, OriginTopics, confidence)
		} else {
			d.produces(t, OriginTopics, confidence, "")
		}
	}
}

// generic handles connector classes we do not know: what Connect reports,
// plus the framework's own sink settings (topics, topics.regex). A worker
// that does not report the type (before Kafka 2.0) has it inferred: only
// sinks have topics settings.
func (d *deriver) generic() {
	if (d.typ == "" || d.typ == "unknown") && (d.cfg("topics") != "" || d.cfg("topics.regex") != "") {
		d.typ = "sink"
	}
	switch d.typ {
	case "sink":
		d.deadLetterQueue(d.sinkTopics(confidenceUnknown))
	case "source":
		d.unexplainedTopics(confidenceUnknown)
	}
	if d.class == "" {
		d.out.problem("config has no connector.class")
	}
}

// schemaOf returns the known value schema of a topic; a lookup error makes
// the scope incomplete (the field lineage it would give is kept).
func (d *deriver) schemaOf(topic string) (TopicSchema, bool) {
	r := d.cache.schema(d.ctx, d.c.TopicURN(topic))
	if r.err != nil {
		d.out.problem(fmt.Sprintf("read schema of topic %s: %v", topic, r.err))
		return TopicSchema{}, false
	}
	return r.ts, r.ok
}

// emitColumnFieldEdges asserts column → field for every flow of run that
// reaches a field of topic's known schema.
func (d *deriver) emitColumnFieldEdges(t tableRef, topic string, run chainRun, schema TopicSchema, origin string, confidence float64) {
	if run.capped {
		confidence = min(confidence, confidenceResolved)
	}
	for _, f := range run.flows {
		for _, target := range f.targets(schema.Paths) {
			d.out.link(t.columnURN(f.origin), catalog.EdgeDerives, d.c.FieldURN(topic, target.path),
				origin, confidence, strings.Join(target.touched, ","), target.masking)
		}
	}
}

// tableAssets asserts a table with its database and the given columns.
func (d *deriver) tableAssets(t tableRef, columns []string, origin string, confidence float64) {
	if t.database != "" {
		d.out.asset(catalog.Asset{URN: t.databaseURN(), Name: t.database, Properties: catalog.Properties{"namespace": t.ns}})
		d.out.link(t.databaseURN(), catalog.EdgeContains, t.urn(), origin, confidence, "", false)
	}
	props := catalog.Properties{"namespace": t.ns, "name": t.name(), "table": t.table}
	if t.database != "" {
		props["database"] = t.database
	}
	if t.schema != "" {
		props["schema"] = t.schema
	}
	if t.unresolved != "" {
		// The server is hidden: say what hides it (a placeholder names
		// where a secret lives, not the secret).
		props["unresolvedConnection"] = t.unresolved
		d.note("the database server is hidden by %s: its tables are recorded under host %q", t.unresolved, UnknownHost)
	}
	d.out.asset(catalog.Asset{URN: t.urn(), Name: t.table, Properties: props})
	for _, col := range columns {
		d.out.asset(catalog.Asset{URN: t.columnURN(col), Name: col, Properties: catalog.Properties{"table": t.name()}})
		d.out.link(t.urn(), catalog.EdgeContains, t.columnURN(col), origin, confidence, "", false)
	}
}

// sortedKeys returns the keys of a set, sorted.
func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
