package connect

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// topicBinding is a topic a connector reads or writes, and how we know.
type topicBinding struct {
	topic      string
	origin     string
	confidence float64
	// historic marks a reported topic outside the sink's subscription:
	// /topics lists every topic used since the connector was created or its
	// topics were last reset, so it was read once, and is no sink target.
	historic bool
}

// sinkTopics asserts the topics a sink consumes: its topics list (certain),
// its topics.regex resolved against the reported and the cluster's known
// topics, and the reported topics its subscription covers (at
// reportedConfidence). A reported topic the subscription does not cover is
// kept only as a historic claim at confidenceHistoric. It returns the
// current bindings.
func (d *deriver) sinkTopics(reportedConfidence float64) []topicBinding {
	seen := map[string]int{}
	var out []topicBinding
	add := func(b topicBinding) {
		if i, ok := seen[b.topic]; ok {
			if b.confidence > out[i].confidence {
				out[i] = b
			}
			return
		}
		seen[b.topic] = len(out)
		out = append(out, b)
	}
	listed := map[string]bool{}
	for _, t := range splitList(d.cfg("topics")) {
		listed[t] = true
		add(topicBinding{topic: t, origin: OriginConfig, confidence: confidenceConfig})
	}
	pattern := d.cfg("topics.regex")
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		re, err = compileJavaFull(pattern, false)
		if err != nil {
			d.out.problem(fmt.Sprintf("topics.regex: %v", err))
		} else {
			known, err := d.cache.clusterTopics(d.ctx)
			if err != nil {
				d.out.problem(fmt.Sprintf("list topics of cluster %s: %v", d.c.cfg.Cluster, err))
			}
			candidates := append(append([]string(nil), d.v.topics...), known...)
			for _, t := range candidates {
				if re.MatchString(t) {
					add(topicBinding{topic: t, origin: OriginConfig, confidence: confidenceResolved})
				}
			}
			if !d.v.topicsKnown && d.c.topics == nil {
				d.note("topics.regex can only be resolved against topics Connect reports, and it reported none")
			}
		}
	}
	// Without a readable subscription every reported topic is current.
	subscribed := func(t string) bool {
		return (len(listed) == 0 && pattern == "") || listed[t] || (re != nil && re.MatchString(t)) || (pattern != "" && re == nil)
	}
	var historic []string
	for _, t := range d.v.topics {
		if subscribed(t) {
			add(topicBinding{topic: t, origin: OriginTopics, confidence: reportedConfidence})
		} else if _, ok := seen[t]; !ok {
			historic = append(historic, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
	for _, b := range out {
		d.consumes(b.topic, b.origin, b.confidence)
	}
	for _, t := range historic {
		d.explained[t] = true
		d.out.link(d.c.TopicURN(t), catalog.EdgeConsumes, d.connURN, OriginTopics, confidenceHistoric, "", false)
	}
	if len(historic) > 0 {
		d.note("Connect reports topics the subscription no longer covers (%s): they were read once and are kept as historic claims, not sink targets", strings.Join(historic, ", "))
	}
	return out
}

// deadLetterQueue asserts the sink's dead letter queue topic, which the
// records of every consumed topic may reach.
func (d *deriver) deadLetterQueue(consumed []topicBinding) {
	t := d.cfg("errors.deadletterqueue.topic.name")
	if t == "" {
		return
	}
	d.produces(t, OriginConfig, confidenceConfig, "")
	for _, b := range consumed {
		d.pair(d.c.TopicURN(b.topic), d.c.TopicURN(t), b.origin, min(b.confidence, confidenceResolved), "")
	}
}

// sinkTarget is where a sink writes one topic.
type sinkTarget struct {
	// table is set for relational targets (with columns); otherwise
	// dataset is the target.
	table   *tableRef
	dataset catalog.Asset
	// column maps a value path, as it leaves the SMT chain, to the column
	// it lands in; nil when the target has no columns we can name.
	column func(path string) (string, bool)
	// unwrap says the connector reads Debezium envelopes itself ("after.x"
	// lands in column x) unless the chain already unwrapped them.
	unwrap bool
	// confidence caps the target's lineage (a target chosen by record
	// content); zero means no cap.
	confidence float64
}

// targetFunc names the targets a sink writes one topic to: one for most
// sinks, several for a fan-out (an Iceberg sink's tables).
type targetFunc func(topic string) ([]sinkTarget, error)

// one adapts a single-target naming function.
func one(f func(topic string) (sinkTarget, error)) targetFunc {
	return func(topic string) ([]sinkTarget, error) {
		t, err := f(topic)
		if err != nil {
			return nil, err
		}
		return []sinkTarget{t}, nil
	}
}

// sink derives a sink connector: consumed topics, the targets per topic
// (after the SMT chain renamed it), and field → column edges.
func (d *deriver) sink(target targetFunc) {
	bindings := d.sinkTopics(confidenceResolved)
	for _, b := range bindings {
		d.sinkTopic(b, target)
	}
	d.deadLetterQueue(bindings)
}

func (d *deriver) sinkTopic(b topicBinding, target targetFunc) {
	schema, hasSchema := d.schemaOf(b.topic)
	var flows []flow
	if hasSchema {
		for _, p := range leafPaths(schema.Paths) {
			flows = append(flows, flow{origin: p, path: p})
		}
	}
	base := d.chain.run(b.topic, nil)
	switch {
	case base.route.dropped:
		d.note("records of topic %s are dropped by a Filter transform", b.topic)
		return
	case !base.route.exact():
		d.note("the target of topic %s depends on record content (transform %s)", b.topic, strings.Join(base.route.via, ","))
		return
	}
	tgts, err := target(base.route.topic)
	if err != nil {
		d.out.problem(err.Error())
		return
	}
	for _, tgt := range tgts {
		ch := d.chain
		if tgt.unwrap && !d.chainUnwraps() {
			// No alias: no transform of the config touched the field.
			ch.transforms = append(append([]*transform(nil), ch.transforms...), &transform{kind: smtUnwrap, inserted: map[string]bool{}})
		}
		d.sinkTarget(b, ch.run(b.topic, flows), tgt, hasSchema)
	}
}

// sinkTarget emits one topic → target binding: SINKS, the target and its
// columns, and field → column edges.
func (d *deriver) sinkTarget(b topicBinding, run chainRun, tgt sinkTarget, hasSchema bool) {
	confidence := b.confidence
	if run.capped {
		confidence = min(confidence, confidenceResolved)
	}
	if tgt.confidence > 0 {
		confidence = min(confidence, tgt.confidence)
	}
	var targetURN catalog.URN
	if tgt.table != nil {
		targetURN = tgt.table.urn()
	} else {
		targetURN = tgt.dataset.URN
		d.out.asset(tgt.dataset)
	}
	d.out.link(d.connURN, catalog.EdgeSinks, targetURN, b.origin, confidence, strings.Join(run.route.via, ","), false)
	d.pair(d.c.TopicURN(b.topic), targetURN, b.origin, confidence, d.chain.appliedAliases(run))
	if tgt.table == nil {
		return
	}

	type edge struct {
		field, column string
		touched       []string
		masking       bool
	}
	var edges []edge
	cols := map[string]bool{}
	if hasSchema && tgt.column != nil {
		finals := make([]string, 0, len(run.flows))
		for _, f := range run.flows {
			finals = append(finals, f.path)
		}
		leaves := map[string]bool{}
		for _, p := range leafPaths(finals) {
			leaves[p] = true
		}
		for _, f := range run.flows {
			if f.path == "" || !leaves[f.path] {
				continue
			}
			col, ok := tgt.column(f.path)
			if !ok {
				continue
			}
			cols[col] = true
			edges = append(edges, edge{f.origin, col, f.touched, f.masking})
		}
	}
	d.tableAssets(*tgt.table, sortedKeys(cols), OriginConfig, confidence)
	for _, e := range edges {
		d.out.link(d.c.FieldURN(b.topic, e.field), catalog.EdgeDerives, tgt.table.columnURN(e.column),
			b.origin, confidence, strings.Join(e.touched, ","), e.masking)
	}
}

func (d *deriver) chainUnwraps() bool {
	for _, t := range d.chain.transforms {
		if t.kind == smtUnwrap {
			return true
		}
	}
	return false
}

// leafPaths returns the paths that are not a parent of another path.
func leafPaths(paths []string) []string {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var out []string
	for i, p := range sorted {
		if p == "" {
			continue
		}
		parent := false
		for _, q := range sorted[i+1:] {
			if strings.HasPrefix(q, p+".") {
				parent = true
				break
			}
			if !strings.HasPrefix(q, p) {
				break
			}
		}
		if !parent && (len(out) == 0 || out[len(out)-1] != p) {
			out = append(out, p)
		}
	}
	return out
}

// topLevelColumn maps a top-level value path to the column of the same name,
// honouring a field include/exclude list.
func topLevelColumn(include, exclude map[string]bool, transform func(string) string) func(string) (string, bool) {
	return func(p string) (string, bool) {
		if strings.Contains(p, ".") {
			return "", false
		}
		if (len(include) > 0 && !include[p]) || exclude[p] {
			return "", false
		}
		if transform != nil {
			p = transform(p)
		}
		return p, true
	}
}

// jdbcSinkTarget names the table the Confluent or Debezium JDBC sink writes
// a topic to: table.name.format (collection.name.format in Debezium 3) with
// ${topic}; the Debezium sink first replaces the topic's dots with
// underscores and reads Debezium envelopes itself.
func (d *deriver) jdbcSinkTarget(topic string) (sinkTarget, error) {
	jt, err := parseJDBCURL(d.cfg("connection.url"), firstNonEmpty(d.cfg("connection.user"), d.cfg("connection.username")))
	if err != nil {
		return sinkTarget{}, err
	}
	debezium := d.class == classDebeziumJDBCSink
	format := valueOr(firstNonEmpty(d.cfg("table.name.format"), d.cfg("collection.name.format")), "${topic}")
	name := topic
	if debezium {
		name = strings.ReplaceAll(topic, ".", "_")
	}
	if strings.Contains(format, "${source.") {
		return sinkTarget{}, fmt.Errorf("table.name.format %q names tables from record content", format)
	}
	ref := jt.qualify(strings.ReplaceAll(format, "${topic}", name))
	var include, exclude map[string]bool
	if debezium {
		include, exclude = sinkFieldList(d.cfg("field.include.list"), topic), sinkFieldList(d.cfg("field.exclude.list"), topic)
	} else {
		include = setOf(firstNonEmpty(d.cfg("fields.whitelist"), d.cfg("fields.include.list"), d.cfg("field.include.list")))
	}
	if strings.EqualFold(d.cfg("pk.mode"), "record_key") || strings.EqualFold(d.cfg("primary.key.mode"), "record_key") {
		d.note("primary key columns come from record keys, which value lineage does not follow")
	}
	return sinkTarget{table: &ref, column: topLevelColumn(include, exclude, nil), unwrap: debezium}, nil
}

// sinkFieldList reads a Debezium sink field list, whose entries are
// "field" or "topic:field", keeping those that apply to topic.
func sinkFieldList(list, topic string) map[string]bool {
	out := map[string]bool{}
	for _, e := range splitList(list) {
		if t, f, ok := strings.Cut(e, ":"); ok {
			if t == topic {
				out[f] = true
			}
			continue
		}
		out[e] = true
	}
	return out
}

// s3Target names the S3 prefix the Confluent S3 sink writes a topic to:
// s3://<s3.bucket.name>/<topics.dir><directory.delim><topic>.
func (d *deriver) s3Target(topic string) (sinkTarget, error) {
	bucket := d.cfg("s3.bucket.name")
	if bucket == "" {
		return sinkTarget{}, fmt.Errorf("s3.bucket.name is not set")
	}
	return d.objectStoreTarget("s3://"+bucket, topic), nil
}

// objectStoreTarget names a <topics.dir>/<topic> prefix under an object
// store or file system namespace.
func (d *deriver) objectStoreTarget(ns, topic string) sinkTarget {
	var unresolved string
	if hasPlaceholder(ns) {
		// A bucket or namenode hidden behind a placeholder.
		unresolved = placeholderPattern.FindString(ns)
		scheme, _, _ := strings.Cut(ns, "://")
		ns = scheme + "://" + UnknownHost
		d.note("the bucket or file system is hidden by %s: its paths are recorded under %s", unresolved, ns)
	}
	delim := valueOr(d.conf["directory.delim"], "/")
	dir := strings.Trim(valueOr(d.cfg("topics.dir"), "topics"), "/")
	path := dir + delim + topic
	props := catalog.Properties{"namespace": ns, "name": path}
	if f := d.cfg("format.class"); f != "" {
		props["format"] = f
	}
	if unresolved != "" {
		props["unresolvedConnection"] = unresolved
	}
	return sinkTarget{dataset: catalog.Asset{URN: catalog.DatasetURN(ns, path), Name: path, Properties: props}}
}

// hdfsTarget names the HDFS directory the Confluent HDFS 2/3 sinks write a
// topic to: hdfs://<namenode>/<topics.dir>/<topic>.
func (d *deriver) hdfsTarget(topic string) (sinkTarget, error) {
	raw := firstNonEmpty(d.cfg("hdfs.url"), d.cfg("store.url"))
	if hasPlaceholder(raw) {
		return d.objectStoreTarget("hdfs://"+placeholderPattern.FindString(raw), topic), nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return sinkTarget{}, fmt.Errorf("hdfs.url is not an hdfs://namenode:port URL")
	}
	return d.objectStoreTarget("hdfs://"+strings.ToLower(u.Host), topic), nil
}

// gcsTarget names the prefix the Confluent GCS sink writes a topic to:
// gs://<gcs.bucket.name>/<topics.dir>/<topic>.
func (d *deriver) gcsTarget(topic string) (sinkTarget, error) {
	bucket := d.cfg("gcs.bucket.name")
	if bucket == "" {
		return sinkTarget{}, fmt.Errorf("gcs.bucket.name is not set")
	}
	return d.objectStoreTarget("gs://"+bucket, topic), nil
}

// elasticsearchTarget names the index the Elasticsearch sink writes a topic
// to: the topic name lower-cased, on the first connection.url.
func (d *deriver) elasticsearchTarget(topic string) (sinkTarget, error) {
	urls := splitList(d.cfg("connection.url"))
	if len(urls) == 0 {
		return sinkTarget{}, fmt.Errorf("connection.url is not set")
	}
	if hasPlaceholder(urls[0]) {
		// The server is hidden: the index is still known.
		ns := "elasticsearch://" + UnknownHost
		index := strings.ToLower(topic)
		d.note("the Elasticsearch server is hidden by %s: its indexes are recorded under host %q", placeholderPattern.FindString(urls[0]), UnknownHost)
		return sinkTarget{dataset: catalog.Asset{
			URN:        catalog.DatasetURN(ns, index),
			Name:       index,
			Properties: catalog.Properties{"namespace": ns, "name": index, "index": index, "unresolvedConnection": placeholderPattern.FindString(urls[0])},
		}}, nil
	}
	u, err := url.Parse(urls[0])
	if err != nil || u.Hostname() == "" {
		return sinkTarget{}, fmt.Errorf("connection.url %q is not a URL", redactValue("connection.url", urls[0]))
	}
	port := u.Port()
	if port == "" {
		port = "9200"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	ns := "elasticsearch://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	index := strings.ToLower(topic)
	return sinkTarget{dataset: catalog.Asset{
		URN:        catalog.DatasetURN(ns, index),
		Name:       index,
		Properties: catalog.Properties{"namespace": ns, "name": index, "index": index},
	}}, nil
}

// snowflakeTarget names the table the Snowflake sink writes a topic to:
// snowflake.topic2table.map, else the topic as a valid identifier; unquoted
// names resolve upper-case in Snowflake. Without schematization every field
// lands in the RECORD_CONTENT variant column.
func (d *deriver) snowflakeTarget(topic string) (sinkTarget, error) {
	var account, unresolved string
	switch raw := d.cfg("snowflake.url.name"); {
	case raw == "":
		// Confluent Cloud's SnowflakeSink may leave it out of the config
		// it shows.
		account = UnknownHost
		d.note("snowflake.url.name is not set: the tables are recorded under snowflake://%s", UnknownHost)
	case hasPlaceholder(raw):
		account, unresolved = UnknownHost, placeholderPattern.FindString(raw)
	default:
		var err error
		if account, err = snowflakeAccount(raw); err != nil {
			return sinkTarget{}, err
		}
	}
	db, schema := d.cfg("snowflake.database.name"), d.cfg("snowflake.schema.name")
	if db == "" || schema == "" {
		return sinkTarget{}, fmt.Errorf("snowflake.database.name and snowflake.schema.name are required")
	}
	table, err := snowflakeTable(topic, d.cfg("snowflake.topic2table.map"))
	if err != nil {
		return sinkTarget{}, err
	}
	ref := tableRef{ns: "snowflake://" + account, database: snowflakeIdent(db), schema: snowflakeIdent(schema), table: snowflakeIdent(table), unresolved: unresolved}
	column := func(string) (string, bool) { return "RECORD_CONTENT", true }
	if strings.EqualFold(d.cfg("snowflake.enable.schematization"), "true") {
		column = topLevelColumn(nil, nil, strings.ToUpper)
	}
	return sinkTarget{table: &ref, column: column}, nil
}

// snowflakeAccount extracts the account identifier from snowflake.url.name
// ("https://xy12345.us-east-1.snowflakecomputing.com:443").
func snowflakeAccount(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", fmt.Errorf("snowflake.url.name is not set")
	}
	if i := strings.Index(s, "://"); i >= 0 {
		s = s[i+3:]
	}
	s, _, _ = strings.Cut(s, "/")
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	s = strings.ToLower(s)
	s = strings.TrimSuffix(s, ".snowflakecomputing.com")
	s = strings.TrimSuffix(s, ".privatelink")
	if s == "" {
		return "", fmt.Errorf("snowflake.url.name %q names no account", raw)
	}
	return s, nil
}

var snowflakeValidIdent = regexp.MustCompile(`^[_a-zA-Z][_$a-zA-Z0-9]+$`)

type regexTable struct {
	re    *regexp.Regexp
	table string
}

// snowflakeTable applies the connector's topic → table naming.
func snowflakeTable(topic, mapping string) (string, error) {
	var regexKeys []regexTable
	for _, e := range splitList(mapping) {
		t, tbl, ok := strings.Cut(e, ":")
		if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(tbl) == "" {
			return "", fmt.Errorf("snowflake.topic2table.map entry %q is not topic:table", e)
		}
		t, tbl = strings.TrimSpace(t), strings.TrimSpace(tbl)
		if t == topic {
			return tbl, nil
		}
		if re, err := compileJavaFull(t, false); err == nil {
			regexKeys = append(regexKeys, regexTable{re, tbl})
		}
	}
	for _, rk := range regexKeys {
		if rk.re.MatchString(topic) {
			return rk.table, nil
		}
	}
	if snowflakeValidIdent.MatchString(topic) {
		return topic, nil
	}
	var b strings.Builder
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		valid := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && (c == '$' || (c >= '0' && c <= '9')))
		switch {
		case valid:
			b.WriteByte(c)
		case i == 0:
			b.WriteByte('_')
			if c == '$' || (c >= '0' && c <= '9') {
				b.WriteByte(c)
			}
		default:
			b.WriteByte('_')
		}
	}
	b.WriteString("_")
	b.WriteString(strconv.FormatInt(int64(javaAbs(javaStringHash(topic))), 10))
	return b.String(), nil
}

// snowflakeIdent resolves an identifier as Snowflake does: unquoted names
// are upper-cased, quoted ones kept as written.
func snowflakeIdent(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return strings.ToUpper(s)
}

// javaStringHash is java.lang.String.hashCode over UTF-16 code units.
func javaStringHash(s string) int32 {
	var h int32
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// javaAbs is Math.abs(int): MinInt32 stays negative, as in Java.
func javaAbs(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// bigQueryTarget names the table the BigQuery sink writes a topic to:
// project.dataset.table, with the dataset from defaultDataset (or the
// legacy datasets regex list) and the table from topic2TableMap, the legacy
// topicsToTables regex list, or the topic (sanitized with sanitizeTopics).
func (d *deriver) bigQueryTarget(topic string) (sinkTarget, error) {
	project := d.cfg("project")
	if project == "" {
		return sinkTarget{}, fmt.Errorf("project is not set")
	}
	dataset := d.cfg("defaultDataset")
	if dataset == "" {
		for _, e := range splitList(d.cfg("datasets")) {
			pat, ds, ok := strings.Cut(e, "=")
			if !ok {
				return sinkTarget{}, fmt.Errorf("datasets entry %q is not regex=dataset", e)
			}
			re, err := compileJavaFull(pat, false)
			if err != nil {
				return sinkTarget{}, fmt.Errorf("datasets: %w", err)
			}
			if re.MatchString(topic) {
				dataset = ds
				break
			}
		}
	}
	if dataset == "" {
		return sinkTarget{}, fmt.Errorf("defaultDataset is not set and no datasets entry matches topic %s", topic)
	}
	table, err := d.bigQueryTable(topic)
	if err != nil {
		return sinkTarget{}, err
	}
	ref := tableRef{ns: "bigquery", database: project, schema: dataset, table: table}
	column := func(p string) (string, bool) { return p, p != "" }
	return sinkTarget{table: &ref, column: column}, nil
}

var bigQueryInvalid = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func (d *deriver) bigQueryTable(topic string) (string, error) {
	for _, e := range splitList(d.cfg("topic2TableMap")) {
		t, tbl, ok := strings.Cut(e, ":")
		if !ok {
			return "", fmt.Errorf("topic2TableMap entry %q is not topic:table", e)
		}
		if strings.TrimSpace(t) == topic {
			return strings.TrimSpace(tbl), nil
		}
	}
	for _, e := range splitList(d.cfg("topicsToTables")) {
		pat, format, ok := strings.Cut(e, "=")
		if !ok {
			return "", fmt.Errorf("topicsToTables entry %q is not regex=format", e)
		}
		re, repl, err := compileRouter(pat, format, false)
		if err != nil {
			return "", fmt.Errorf("topicsToTables: %w", err)
		}
		if out, ok := javaFullReplace(re, repl, topic); ok {
			return out, nil
		}
	}
	if strings.EqualFold(d.cfg("sanitizeTopics"), "true") {
		s := bigQueryInvalid.ReplaceAllString(topic, "_")
		if s != "" && s[0] >= '0' && s[0] <= '9' {
			s = "_" + s
		}
		return s, nil
	}
	return topic, nil
}
