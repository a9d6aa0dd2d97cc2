package connect

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Connector classes beyond Confluent's and Debezium's: the MongoDB Kafka
// connector, ClickHouse and Apache Iceberg sinks.
const (
	classMongoSource      = "com.mongodb.kafka.connect.MongoSourceConnector"
	classMongoSink        = "com.mongodb.kafka.connect.MongoSinkConnector"
	classClickHouseSink   = "com.clickhouse.kafka.connect.ClickHouseSinkConnector"
	classIcebergSink      = "org.apache.iceberg.connect.IcebergSinkConnector"
	classTabularIceberg   = "io.tabular.iceberg.connect.IcebergSinkConnector"
	flavorClickHouse      = "clickhouse"
	defaultClickHousePort = "8443"
)

// managedClass is a fully managed Confluent Cloud connector: its plugin
// name, the self-managed class whose derivation applies, and how its config
// keys (connection.host, connection.port, db.name, …) translate.
type managedClass struct {
	class     string
	translate func(map[string]string) map[string]string
}

// managedClasses are the Confluent Cloud plugins the crawler knows, by the
// connector.class Confluent Cloud reports.
var managedClasses = map[string]managedClass{
	"MySqlSink":                {classJDBCSink, jdbcURLFromHost("mysql")},
	"PostgresSink":             {classJDBCSink, jdbcURLFromHost("postgresql")},
	"MicrosoftSqlServerSink":   {classJDBCSink, jdbcURLFromHost("sqlserver")},
	"OracleDatabaseSink":       {classJDBCSink, jdbcURLFromHost("oracle")},
	"MySqlSource":              {classJDBCSource, jdbcURLFromHost("mysql")},
	"PostgresSource":           {classJDBCSource, jdbcURLFromHost("postgresql")},
	"MicrosoftSqlServerSource": {classJDBCSource, jdbcURLFromHost("sqlserver")},
	"OracleDatabaseSource":     {classJDBCSource, jdbcURLFromHost("oracle")},
	"MySqlCdcSource":           {classDebeziumMySQL, debeziumFromHost},
	"MySqlCdcSourceV2":         {classDebeziumMySQL, debeziumFromHost},
	"PostgresCdcSource":        {classDebeziumPostgres, debeziumFromHost},
	"PostgresCdcSourceV2":      {classDebeziumPostgres, debeziumFromHost},
	"SqlServerCdcSource":       {classDebeziumSQLServer, debeziumFromHost},
	"SqlServerCdcSourceV2":     {classDebeziumSQLServer, debeziumFromHost},
	"S3_SINK":                  {classS3Sink, sameConfig},
	"GcsSink":                  {classGCSSink, sameConfig},
	"ElasticsearchSink":        {classElasticsearchSink, sameConfig},
	"SnowflakeSink":            {classSnowflakeSink, sameConfig},
	"BigQuerySink":             {classBigQuerySink, bigQueryManaged},
	"BigQueryStorageSink":      {classBigQuerySink, bigQueryManaged},
	"MongoDbAtlasSink":         {classMongoSink, mongoAtlas},
	"MongoDbAtlasSource":       {classMongoSource, mongoAtlas},
}

func sameConfig(c map[string]string) map[string]string { return c }

func copyConfig(c map[string]string) map[string]string {
	out := make(map[string]string, len(c)+3)
	for k, v := range c {
		out[k] = v
	}
	return out
}

// jdbcURLFromHost builds connection.url from connection.host,
// connection.port and db.name, as the managed JDBC connectors take them.
func jdbcURLFromHost(sub string) func(map[string]string) map[string]string {
	return func(c map[string]string) map[string]string {
		out := copyConfig(c)
		host := strings.TrimSpace(c["connection.host"])
		if strings.TrimSpace(c["connection.url"]) != "" || host == "" {
			return out
		}
		if p := strings.TrimSpace(c["connection.port"]); p != "" {
			host = net.JoinHostPort(strings.Trim(host, "[]"), p)
		}
		db := strings.TrimSpace(c["db.name"])
		switch sub {
		case "sqlserver":
			out["connection.url"] = "jdbc:sqlserver://" + host + ";databaseName=" + db
		case "oracle":
			out["connection.url"] = "jdbc:oracle:thin:@//" + host + "/" + db
		default:
			out["connection.url"] = "jdbc:" + sub + "://" + host + "/" + db
		}
		return out
	}
}

// debeziumFromHost maps the managed CDC connectors' connection.host,
// connection.port and db.name onto Debezium's database.* keys where those
// are not set.
func debeziumFromHost(c map[string]string) map[string]string {
	out := copyConfig(c)
	for from, to := range map[string]string{"connection.host": "database.hostname", "connection.port": "database.port", "db.name": "database.dbname", "connection.user": "database.user"} {
		if strings.TrimSpace(out[to]) == "" && strings.TrimSpace(c[from]) != "" {
			out[to] = c[from]
		}
	}
	return out
}

// bigQueryManaged: the managed BigQuery sinks name one dataset in
// "datasets" (no regex=dataset pairs) and map tables with topic2table.map.
func bigQueryManaged(c map[string]string) map[string]string {
	out := copyConfig(c)
	if ds := strings.TrimSpace(c["datasets"]); ds != "" && !strings.Contains(ds, "=") && strings.TrimSpace(c["defaultDataset"]) == "" {
		out["defaultDataset"] = ds
		delete(out, "datasets")
	}
	if m := strings.TrimSpace(c["topic2table.map"]); m != "" && strings.TrimSpace(c["topic2TableMap"]) == "" {
		out["topic2TableMap"] = m
	}
	if s := strings.TrimSpace(c["sanitize.topics"]); s != "" && strings.TrimSpace(c["sanitizeTopics"]) == "" {
		out["sanitizeTopics"] = s
	}
	return out
}

// mongoAtlas: the managed MongoDB Atlas connectors take the cluster host in
// connection.host (an SRV record).
func mongoAtlas(c map[string]string) map[string]string {
	out := copyConfig(c)
	if strings.TrimSpace(c["connection.uri"]) == "" && strings.TrimSpace(c["connection.host"]) != "" {
		out["connection.uri"] = "mongodb+srv://" + strings.TrimSpace(c["connection.host"])
	}
	return out
}

// ManagedClasses lists the Confluent Cloud plugin names the crawler
// derives, sorted.
func ManagedClasses() []string {
	out := make([]string, 0, len(managedClasses))
	for c := range managedClasses {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// --- MongoDB Kafka connector ------------------------------------------------

// mongoServer reads connection.uri ("mongodb://u:p@h1:27017,h2/?replicaSet=rs",
// "mongodb+srv://cluster0.example.net") into the server its collections are
// named under.
func mongoServer(uri string) (dbServer, string, error) {
	uri = strings.TrimSpace(uri)
	if uri == "" {
		return dbServer{}, "", fmt.Errorf("connection.uri is not set")
	}
	if configProviderPattern.MatchString(uri) {
		return dbServer{flavor: flavorMongoDB, host: UnknownHost, port: defaultPorts[flavorMongoDB]}, uri, nil
	}
	host, port, err := mongoHost(uri, "")
	if err != nil {
		return dbServer{}, "", fmt.Errorf("connection.uri: %w", err)
	}
	s := newServer(flavorMongoDB, host, port)
	return s, s.unresolved, nil
}

// mongoSource derives the MongoDB Kafka source connector: change streams of
// one collection, of every collection of a database, or of the whole
// deployment, into topics <topic.prefix><sep><db><sep><collection><sep><topic.suffix>
// (topic.separator, default "."), or as topic.namespace.map maps them.
func (d *deriver) mongoSource() {
	defer d.unexplainedTopics(confidenceResolved)
	server, unresolved, err := mongoServer(d.cfg("connection.uri"))
	canName := err == nil
	if err != nil {
		d.out.problem(err.Error())
	}
	db, coll := d.cfg("database"), d.cfg("collection")
	nsMap := map[string]string{}
	if m := d.cfg("topic.namespace.map"); m != "" {
		if err := json.Unmarshal([]byte(m), &nsMap); err != nil {
			d.out.problem(fmt.Sprintf("topic.namespace.map is not a JSON object of strings: %v", err))
		}
	}
	if d.cfg("pipeline") != "" {
		d.note("a change stream pipeline filters or reshapes documents; lineage assumes it keeps the collection's fields")
	}
	fullDocOnly := strings.EqualFold(d.cfg("publish.full.document.only"), "true")
	emit := func(database, collection, topic, origin string, confidence float64) {
		ref := server.table(database, "", collection)
		ref.unresolved = unresolved
		run := d.chain.run(topic, nil)
		if !run.route.exact() {
			d.note("the topic of %s.%s depends on record content", database, collection)
		} else {
			d.produces(run.route.topic, origin, confidence, strings.Join(run.route.via, ","))
		}
		if !canName {
			return
		}
		d.tableAssets(ref, nil, origin, confidence)
		d.out.link(ref.urn(), catalog.EdgeCaptures, d.connURN, origin, confidence, "", false)
		d.input(ref.urn())
		if run.route.exact() {
			d.pair(ref.urn(), d.c.TopicURN(run.route.topic), origin, confidence, d.chain.appliedAliases(run))
			d.documentFields(ref, topic, run.route.topic, fullDocOnly, origin, confidence)
		}
	}
	switch {
	case db != "" && coll != "":
		emit(db, coll, d.mongoTopic(db, coll, nsMap), OriginConfig, confidenceConfig)
		return
	case db != "":
		d.note("the connector watches every collection of database %s: collections are known from the topics Connect reports", db)
	default:
		d.note("the connector watches the whole deployment: collections are known from the topics Connect reports")
	}
	// Collections of a watched database or deployment: the reported topics
	// that the default naming explains.
	for _, topic := range d.v.topics {
		database, collection, ok := d.mongoNamespaceOf(topic, db)
		if ok && d.mongoTopic(database, collection, nsMap) == topic {
			emit(database, collection, topic, OriginTopics, confidenceResolved)
		}
	}
}

// mongoTopic is the topic the MongoDB source's default topic mapper names
// for a namespace.
func (d *deriver) mongoTopic(db, coll string, nsMap map[string]string) string {
	sep := valueOr(d.conf["topic.separator"], ".")
	middle := db + sep + coll
	switch {
	case nsMap[db+"."+coll] != "":
		middle = nsMap[db+"."+coll]
	case nsMap[db] != "":
		middle = nsMap[db] + sep + coll
	case nsMap["*"] != "":
		middle = nsMap["*"]
	}
	var parts []string
	for _, p := range []string{d.cfg("topic.prefix"), middle, d.cfg("topic.suffix")} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, sep)
}

// mongoNamespaceOf reads <prefix><sep><db><sep><coll><sep><suffix> back, with
// db fixed when the connector watches one database.
func (d *deriver) mongoNamespaceOf(topic, db string) (string, string, bool) {
	sep := valueOr(d.conf["topic.separator"], ".")
	rest := topic
	if p := d.cfg("topic.prefix"); p != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(rest, p+sep); !ok {
			return "", "", false
		}
	}
	if s := d.cfg("topic.suffix"); s != "" {
		var ok bool
		if rest, ok = strings.CutSuffix(rest, sep+s); !ok {
			return "", "", false
		}
	}
	if db != "" {
		coll, ok := strings.CutPrefix(rest, db+sep)
		return db, coll, ok && coll != ""
	}
	database, coll, ok := strings.Cut(rest, sep)
	return database, coll, ok && database != "" && coll != ""
}

// documentFields asserts a collection's document fields, as the topic's
// schema shows them, and field lineage: the value is the document
// (publish.full.document.only) or a change event holding it under
// fullDocument.
func (d *deriver) documentFields(ref tableRef, start, topic string, fullDocOnly bool, origin string, confidence float64) {
	schema, ok := d.schemaOf(topic)
	if !ok {
		return
	}
	base := d.chain.run(start, nil)
	cols := map[string]bool{}
	for _, p := range d.chain.inverseAll(schema.Paths, base.applied) {
		if !fullDocOnly {
			var found bool
			if p, found = strings.CutPrefix(p, "fullDocument."); !found {
				continue
			}
		}
		if p != "" && !strings.ContainsAny(p, ".[{") {
			cols[p] = true
		}
	}
	columns := sortedKeys(cols)
	if len(columns) == 0 {
		return
	}
	d.tableAssets(ref, columns, origin, confidence)
	flows := make([]flow, len(columns))
	for i, c := range columns {
		p := c
		if !fullDocOnly {
			p = "fullDocument." + c
		}
		flows[i] = flow{origin: c, path: p}
	}
	d.emitColumnFieldEdges(ref, topic, d.chain.run(start, flows), schema, origin, confidence)
}

// mongoSinkTarget names the collection the MongoDB sink writes a topic to:
// database, and collection (default: the topic), both overridable per
// topic with topic.override.<topic>.<key>. Top-level value fields become
// document fields; a CDC handler reads Debezium envelopes.
func (d *deriver) mongoSinkTarget(topic string) (sinkTarget, error) {
	server, unresolved, err := mongoServer(d.cfg("connection.uri"))
	if err != nil {
		return sinkTarget{}, err
	}
	get := func(k string) string {
		return firstNonEmpty(d.cfg("topic.override."+topic+"."+k), d.cfg(k))
	}
	if mapper := get("namespace.mapper"); mapper != "" && !strings.HasSuffix(mapper, ".DefaultNamespaceMapper") {
		return sinkTarget{}, fmt.Errorf("namespace.mapper %s names collections from record content", mapper)
	}
	db := get("database")
	if db == "" {
		return sinkTarget{}, fmt.Errorf("database is not set")
	}
	ref := server.table(db, "", valueOr(get("collection"), topic))
	ref.unresolved = unresolved
	handler := get("change.data.capture.handler")
	column := topLevelColumn(nil, nil, nil)
	if strings.HasSuffix(handler, ".ChangeStreamHandler") {
		// MongoDB change stream events: the document is fullDocument.
		column = func(p string) (string, bool) {
			rest, ok := strings.CutPrefix(p, "fullDocument.")
			if !ok || strings.Contains(rest, ".") {
				return "", false
			}
			return rest, true
		}
	}
	return sinkTarget{table: &ref, column: column, unwrap: strings.Contains(handler, ".debezium.")}, nil
}

// --- ClickHouse ---------------------------------------------------------------

// clickHouseTarget names the table the ClickHouse sink writes a topic to:
// clickhouse://<hostname>:<port (default 8443)> + <database (default
// "default")>.<table>, the table from topic2TableMap ("topic=table,…") or
// the topic.
func (d *deriver) clickHouseTarget(topic string) (sinkTarget, error) {
	host := d.cfg("hostname")
	if host == "" {
		return sinkTarget{}, fmt.Errorf("hostname is not set")
	}
	server := newServer(flavorClickHouse, host, valueOr(d.cfg("port"), defaultClickHousePort))
	table := topic
	for _, e := range splitList(d.cfg("topic2TableMap")) {
		t, tbl, ok := strings.Cut(e, "=")
		if !ok {
			return sinkTarget{}, fmt.Errorf("topic2TableMap entry %q is not topic=table", e)
		}
		if strings.TrimSpace(t) == topic {
			table = strings.TrimSpace(tbl)
		}
	}
	ref := server.table(valueOr(d.cfg("database"), "default"), "", table)
	return sinkTarget{table: &ref, column: topLevelColumn(nil, nil, nil)}, nil
}

// --- Apache Iceberg -----------------------------------------------------------

// icebergNamespace names the catalog an Iceberg sink writes through: a Hive
// metastore as OpenLineage names Hive (hive://host:port), any other catalog
// by its URI's authority (iceberg://host:port), else by its warehouse (the
// bucket of a warehouse URI, or a warehouse name) or its name
// (iceberg.catalog, default "iceberg").
func (d *deriver) icebergNamespace() string {
	typ := strings.ToLower(d.cfg("iceberg.catalog.type"))
	if u, err := url.Parse(d.cfg("iceberg.catalog.uri")); err == nil && u.Host != "" {
		if typ == "hive" || u.Scheme == "thrift" {
			return "hive://" + strings.ToLower(u.Host)
		}
		return "iceberg://" + strings.ToLower(u.Host)
	}
	if w := strings.TrimRight(d.cfg("iceberg.catalog.warehouse"), "/"); w != "" && !strings.Contains(w, " ") {
		if u, err := url.Parse(w); err == nil && u.Scheme != "" && u.Host != "" {
			return "iceberg://" + strings.ToLower(u.Host)
		}
		return "iceberg://" + strings.ReplaceAll(w, "/", "_")
	}
	return "iceberg://" + valueOr(d.cfg("iceberg.catalog"), "iceberg")
}

// icebergTargets names the tables an Iceberg sink writes a topic to. Static
// routing without a route field writes every record to every table of
// iceberg.tables; with iceberg.tables.route-field, a record goes to the
// tables whose iceberg.table.<table>.route-regex matches the field's value
// (content-based: confidenceResolved). Dynamic routing names the table by
// the field's value: not knowable from config.
func (d *deriver) icebergTargets(topic string) ([]sinkTarget, error) {
	if strings.EqualFold(d.cfg("iceberg.tables.dynamic-enabled"), "true") {
		d.note("iceberg.tables.dynamic-enabled: tables are named by the %q field of each record; they are not knowable from config", d.cfg("iceberg.tables.route-field"))
		return nil, nil
	}
	tables := splitList(d.cfg("iceberg.tables"))
	if len(tables) == 0 {
		return nil, fmt.Errorf("iceberg.tables is not set")
	}
	routeField := d.cfg("iceberg.tables.route-field")
	ns := d.icebergNamespace()
	var out []sinkTarget
	for _, t := range tables {
		tgt := sinkTarget{column: topLevelColumn(nil, nil, nil)}
		if routeField != "" {
			pattern := d.cfg("iceberg.table." + t + ".route-regex")
			if pattern == "" {
				continue // no record is routed to it
			}
			if _, err := regexp.Compile(pattern); err != nil {
				return nil, fmt.Errorf("iceberg.table.%s.route-regex: %w", t, err)
			}
			tgt.confidence = confidenceResolved
		}
		parts := splitIdentifier(t)
		ref := tableRef{ns: ns, table: parts[len(parts)-1]}
		if len(parts) > 1 {
			ref.database = strings.Join(parts[:len(parts)-1], ".")
		}
		tgt.table = &ref
		out = append(out, tgt)
	}
	if routeField != "" {
		d.note("records are routed to tables by the value of field %q (iceberg.table.<table>.route-regex); every routed table is a possible target of every topic", routeField)
	}
	return out, nil
}
