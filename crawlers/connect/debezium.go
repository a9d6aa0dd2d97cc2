package connect

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// debeziumSource is what a Debezium source connector's config says about
// the tables it captures and the topics it writes.
type debeziumSource struct {
	flavor    string
	server    dbServer
	hasServer bool
	// canName is set when tables can be named: the server and (where
	// identifiers do not carry it) the database are known.
	canName bool
	prefix  string
	// database is the database tables live in when identifiers do not say
	// (PostgreSQL and Db2 dbname, Oracle service, a single SQL Server db).
	database string
	// legacyTopics: SQL Server 1.x topics carry no database part.
	legacyTopics bool

	tables, schemas, databases regexFilter
	columns                    regexFilter
	masks                      []columnMask

	tableListKey string // the include-list key whose literals name tables
	literals     []string
}

// regexFilter is a Debezium include/exclude pair of regex lists. Matching is
// anchored and case-insensitive, as Debezium does it.
type regexFilter struct {
	include, exclude []*regexp.Regexp
	hasInclude       bool
	broken           bool // a pattern did not compile: nothing can be decided
}

// allows reports whether any of forms passes the filter.
func (f regexFilter) allows(forms ...string) bool {
	if f.broken {
		return false
	}
	if f.hasInclude {
		return matchesAny(f.include, forms)
	}
	return !matchesAny(f.exclude, forms)
}

func matchesAny(res []*regexp.Regexp, forms []string) bool {
	for _, re := range res {
		for _, s := range forms {
			if re.MatchString(s) {
				return true
			}
		}
	}
	return false
}

type columnMask struct {
	name     string // what the edge's Transform shows
	patterns []*regexp.Regexp
}

// Debezium connector-level masking options: column.mask.with.<n>.chars and
// column.mask.hash.<algorithm>.with.salt.<salt> (and the hash v2 variant).
var (
	maskWithChars = regexp.MustCompile(`^column\.mask\.with\.(\d+)\.chars$`)
	maskHash      = regexp.MustCompile(`^column\.mask\.hash\.(?:v2\.)?([^.]+)\.with\.salt\..+$`)
)

// debezium derives the lineage of a Debezium CDC source connector.
func (d *deriver) debezium(flavor string) {
	src := d.debeziumSource(flavor)
	if src.prefix == "" {
		d.unexplainedTopics(confidenceResolved)
		return
	}
	tables := map[string]*capturedTable{} // by topic identifier
	for _, lit := range src.literals {
		ref, id, ok := src.parseID(lit)
		if !ok || !src.allowsTable(ref, true) {
			continue
		}
		tables[id] = &capturedTable{ref: ref, id: id, origin: OriginConfig, confidence: confidenceConfig}
	}
	recordBound := d.discoverTables(src, tables)

	ids := make([]string, 0, len(tables))
	for id := range tables {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		d.captureTable(src, tables[id], recordBound[id])
	}
	d.debeziumSideTopics(src)
	d.unexplainedTopics(confidenceResolved)
}

// capturedTable is a table a CDC connector captures, and how we know.
type capturedTable struct {
	ref        tableRef
	id         string // the table's identifier inside topic names
	origin     string
	confidence float64
}

func (d *deriver) debeziumSource(flavor string) *debeziumSource {
	src := &debeziumSource{flavor: flavor}
	cfg := d.cfg
	src.prefix = firstNonEmpty(cfg("topic.prefix"), cfg("database.server.name"))
	if flavor == flavorMongoDB {
		src.prefix = firstNonEmpty(src.prefix, cfg("mongodb.name"))
	}
	if src.prefix == "" {
		d.out.problem("topic.prefix (database.server.name before Debezium 2.0) is not set: topics cannot be named")
	}

	switch flavor {
	case flavorMongoDB:
		host, port, err := mongoHost(cfg("mongodb.connection.string"), cfg("mongodb.hosts"))
		if err != nil {
			d.out.problem(err.Error())
		} else {
			src.server, src.hasServer = newServer(flavor, host, port), true
		}
	case flavorOracle:
		if u := cfg("database.url"); u != "" && cfg("database.hostname") == "" {
			t, err := parseJDBCURL(u, "")
			if err != nil {
				d.out.problem(fmt.Sprintf("database.url: %v", err))
			} else {
				src.server, src.hasServer = t.server, true
				src.database = t.database
			}
		}
		fallthrough
	default:
		if !src.hasServer {
			if h := cfg("database.hostname"); h != "" {
				src.server, src.hasServer = newServer(flavor, h, cfg("database.port")), true
			} else {
				d.out.problem("database.hostname is not set: captured tables cannot be named")
			}
		}
	}

	switch flavor {
	case flavorPostgres, flavorDB2:
		src.database = cfg("database.dbname")
		if src.database == "" {
			d.out.problem("database.dbname is not set: captured tables cannot be named")
		}
	case flavorOracle:
		src.database = firstNonEmpty(cfg("database.pdb.name"), cfg("database.dbname"), src.database)
		if src.database == "" {
			d.out.problem("database.dbname is not set: captured tables cannot be named")
		}
	case flavorSQLServer:
		names := splitList(firstNonEmpty(cfg("database.names"), cfg("database.dbname")))
		if len(names) == 1 {
			src.database = names[0]
		}
		src.legacyTopics = cfg("database.names") == "" && cfg("topic.prefix") == ""
		if len(names) == 0 {
			d.out.problem("database.names is not set: captured tables cannot be named")
		}
	}

	tableInc, tableExc := "table.include.list", "table.exclude.list"
	tableIncOld, tableExcOld := "table.whitelist", "table.blacklist"
	if flavor == flavorMongoDB {
		tableInc, tableExc = "collection.include.list", "collection.exclude.list"
		tableIncOld, tableExcOld = "collection.whitelist", "collection.blacklist"
	}
	src.tables, src.tableListKey = d.regexFilter(tableInc, tableIncOld, tableExc, tableExcOld)
	src.schemas, _ = d.regexFilter("schema.include.list", "schema.whitelist", "schema.exclude.list", "schema.blacklist")
	src.databases, _ = d.regexFilter("database.include.list", "database.whitelist", "database.exclude.list", "database.blacklist")
	src.columns, _ = d.regexFilter("column.include.list", "column.whitelist", "column.exclude.list", "column.blacklist")
	if src.tableListKey != "" {
		for _, p := range splitRegexList(cfg(src.tableListKey)) {
			if lit, ok := literalOf(p); ok {
				src.literals = append(src.literals, lit)
			}
		}
	}
	switch flavor {
	case flavorMySQL, flavorMongoDB:
		src.canName = src.hasServer
	default:
		src.canName = src.hasServer && src.database != ""
	}
	keys := make([]string, 0, len(d.conf))
	for k := range d.conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var name string
		if m := maskWithChars.FindStringSubmatch(k); m != nil {
			name = k
		} else if m := maskHash.FindStringSubmatch(k); m != nil {
			name = "column.mask.hash." + m[1]
		} else {
			continue
		}
		res, err := compileRegexList(cfg(k))
		if err != nil {
			d.out.problem(fmt.Sprintf("%s: %v", k, err))
			continue
		}
		src.masks = append(src.masks, columnMask{name: name, patterns: res})
	}
	return src
}

// regexFilter compiles an include/exclude pair, preferring the current key
// names over the legacy ones. It returns the include key in use ("" when no
// include list is set).
func (d *deriver) regexFilter(inc, incOld, exc, excOld string) (regexFilter, string) {
	incKey, excKey := inc, exc
	if d.cfg(incKey) == "" {
		incKey = incOld
	}
	if d.cfg(excKey) == "" {
		excKey = excOld
	}
	var f regexFilter
	if v := d.cfg(incKey); v != "" {
		res, err := compileRegexList(v)
		if err != nil {
			d.out.problem(fmt.Sprintf("%s: %v", incKey, err))
			f.broken = true
		}
		f.include, f.hasInclude = res, true
	} else {
		incKey = ""
	}
	if v := d.cfg(excKey); v != "" {
		res, err := compileRegexList(v)
		if err != nil {
			d.out.problem(fmt.Sprintf("%s: %v", excKey, err))
			f.broken = true
		}
		f.exclude = res
	}
	return f, incKey
}

func compileRegexList(s string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range splitRegexList(s) {
		re, err := compileJavaFull(p, true)
		if err != nil {
			return out, err
		}
		out = append(out, re)
	}
	return out, nil
}

// parseID reads a table identifier as it appears in include lists, topic
// names and record names, returning the table and its topic identifier.
func (s *debeziumSource) parseID(id string) (tableRef, string, bool) {
	parts := strings.Split(id, ".")
	var db, schema, table string
	switch s.flavor {
	case flavorMySQL, flavorMongoDB:
		if len(parts) < 2 {
			return tableRef{}, "", false
		}
		db, table = parts[0], strings.Join(parts[1:], ".")
	case flavorSQLServer:
		switch len(parts) {
		case 2:
			db, schema, table = s.database, parts[0], parts[1]
		case 3:
			db, schema, table = parts[0], parts[1], parts[2]
		default:
			return tableRef{}, "", false
		}
	default: // PostgreSQL, Oracle, Db2: schema.table, optionally database-qualified
		switch len(parts) {
		case 2:
			db, schema, table = s.database, parts[0], parts[1]
		case 3:
			if s.database != "" && !strings.EqualFold(parts[0], s.database) && s.flavor != flavorOracle {
				return tableRef{}, "", false
			}
			db, schema, table = valueOr(s.database, parts[0]), parts[1], parts[2]
		default:
			return tableRef{}, "", false
		}
	}
	if table == "" || (db == "" && (s.flavor == flavorMySQL || s.flavor == flavorMongoDB)) ||
		(schema == "" && s.flavor != flavorMySQL && s.flavor != flavorMongoDB) {
		return tableRef{}, "", false
	}
	ref := s.server.table(db, schema, table)
	return ref, s.topicID(ref), true
}

// topicID is the part of a default topic name after the prefix.
func (s *debeziumSource) topicID(t tableRef) string {
	switch s.flavor {
	case flavorMySQL, flavorMongoDB:
		return t.database + "." + t.table
	case flavorSQLServer:
		if s.legacyTopics {
			return t.schema + "." + t.table
		}
		return t.database + "." + t.schema + "." + t.table
	}
	return t.schema + "." + t.table
}

// tableForms are the identifiers table include/exclude patterns match.
func (s *debeziumSource) tableForms(t tableRef) []string {
	switch s.flavor {
	case flavorMySQL, flavorMongoDB:
		return []string{t.database + "." + t.table}
	case flavorSQLServer, flavorOracle:
		return []string{t.schema + "." + t.table, t.database + "." + t.schema + "." + t.table}
	}
	return []string{t.schema + "." + t.table}
}

func (s *debeziumSource) columnForms(t tableRef, col string) []string {
	forms := s.tableForms(t)
	out := make([]string, len(forms))
	for i, f := range forms {
		out[i] = f + "." + col
	}
	return out
}

// allowsTable applies the database, schema and table filters. A literal
// from the table include list passes the table filter by construction (it
// would otherwise pass it unless the list is broken).
func (s *debeziumSource) allowsTable(t tableRef, literal bool) bool {
	if (s.databases.hasInclude || len(s.databases.exclude) > 0 || s.databases.broken) && !s.databases.allows(t.database) {
		return false
	}
	if t.schema != "" && (s.schemas.hasInclude || len(s.schemas.exclude) > 0 || s.schemas.broken) && !s.schemas.allows(t.schema) {
		return false
	}
	if literal {
		return !matchesAny(s.tables.exclude, s.tableForms(t))
	}
	return s.tables.allows(s.tableForms(t)...)
}

func (s *debeziumSource) allowsColumn(t tableRef, col string) bool {
	if !s.columns.hasInclude && len(s.columns.exclude) == 0 {
		return true
	}
	return s.columns.allows(s.columnForms(t, col)...)
}

func (s *debeziumSource) mask(t tableRef, col string) (string, bool) {
	forms := s.columnForms(t, col)
	for _, m := range s.masks {
		if matchesAny(m.patterns, forms) {
			return m.name, true
		}
	}
	return "", false
}

// literalColumns returns the columns of t named literally in the column
// include list.
func (s *debeziumSource) literalColumns(cfg func(string) string, t tableRef) []string {
	var out []string
	for _, p := range splitRegexList(firstNonEmpty(cfg("column.include.list"), cfg("column.whitelist"))) {
		lit, ok := literalOf(p)
		if !ok {
			continue
		}
		for _, form := range s.tableForms(t) {
			if col, ok := cutPrefixFold(lit, form+"."); ok && !strings.Contains(col, ".") {
				out = appendUnique(out, col)
			}
		}
	}
	return out
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// discoverTables finds the captured tables that only the reported topics
// show: by the Debezium record name of their value schema
// ("<prefix>.<schema>.<table>.Envelope", which survives topic renames) or by
// a default topic name that the chain routes to the reported topic. It
// returns, per table identifier, the topics bound by record name.
func (d *deriver) discoverTables(src *debeziumSource, tables map[string]*capturedTable) map[string][]string {
	bound := map[string][]string{}
	logical := d.logicalRouterOutputs()
	for _, topic := range d.v.topics {
		if matchesAny(logical, []string{topic}) {
			continue // a logical topic merging tables: its names are not tables
		}
		if ts, ok := d.schemaOf(topic); ok && ts.RecordName != "" {
			if id, ok := src.idFromRecordName(ts.RecordName); ok {
				if ref, tid, ok := src.parseID(id); ok && (tables[tid] != nil || src.allowsTable(ref, false)) {
					if tables[tid] == nil {
						tables[tid] = &capturedTable{ref: ref, id: tid, origin: OriginTopics, confidence: confidenceResolved}
					}
					bound[tid] = appendUnique(bound[tid], topic)
					continue
				}
			}
		}
		rest, ok := strings.CutPrefix(topic, src.prefix+".")
		if !ok {
			continue
		}
		ref, tid, ok := src.parseID(rest)
		if !ok || tables[tid] != nil || !src.allowsTable(ref, false) {
			continue
		}
		if run := d.chain.run(src.prefix+"."+tid, nil); run.route.exact() && run.route.topic == topic {
			tables[tid] = &capturedTable{ref: ref, id: tid, origin: OriginTopics, confidence: confidenceResolved}
		}
	}
	return bound
}

// logicalRouterOutputs returns patterns of the topics ByLogicalTableRouters
// may write: such topics merge several tables and name none of them.
func (d *deriver) logicalRouterOutputs() []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, t := range d.chain.transforms {
		if t.kind == smtByLogicalTableRouter && t.repl != nil {
			if re, err := regexp.Compile(`^(?:` + t.repl.pattern() + `)$`); err == nil {
				out = append(out, re)
			}
		}
	}
	return out
}

// idFromRecordName extracts the table identifier from a Debezium value
// record name, "<prefix>.<id>.Envelope" or "<prefix>.<id>.Value".
func (s *debeziumSource) idFromRecordName(name string) (string, bool) {
	base, ok := strings.CutSuffix(name, ".Envelope")
	if !ok {
		if base, ok = strings.CutSuffix(name, ".Value"); !ok {
			return "", false
		}
	}
	for _, p := range []string{s.prefix, avroName(s.prefix)} {
		if id, ok := strings.CutPrefix(base, p+"."); ok && id != "" {
			return id, true
		}
	}
	return "", false
}

// avroName replaces the characters Avro names may not hold, as Debezium's
// schema.name.adjustment.mode=avro does.
func avroName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

// captureTable emits one captured table: the table and its columns, the
// CAPTURES and PRODUCES edges, and column → field edges.
func (d *deriver) captureTable(src *debeziumSource, ct *capturedTable, recordBound []string) {
	start := src.prefix + "." + ct.id
	base := d.chain.run(start, nil)

	type binding struct {
		topic      string
		origin     string
		confidence float64
		via        string
	}
	var topics []binding
	tableConf := ct.confidence
	if base.capped {
		tableConf = min(tableConf, confidenceResolved)
	}
	switch {
	case base.route.dropped:
		d.note("records of %s are dropped by a Filter transform", ct.ref.name())
	case base.route.exact():
		topics = append(topics, binding{base.route.topic, ct.origin, tableConf, strings.Join(base.route.via, ",")})
	case base.route.pattern != nil:
		for _, t := range d.v.topics {
			if base.route.pattern.MatchString(t) {
				topics = append(topics, binding{t, OriginTopics, confidenceResolved, strings.Join(base.route.via, ",")})
			}
		}
		if !d.v.topicsKnown {
			d.note("topics of %s are named from record content and Connect did not report active topics", ct.ref.name())
		}
	}
	for _, t := range recordBound {
		dup := false
		for _, b := range topics {
			dup = dup || b.topic == t
		}
		if !dup {
			topics = append(topics, binding{t, OriginTopics, confidenceResolved, strings.Join(base.route.via, ",")})
		}
	}

	// Columns: named in the config, read by the outbox router, or found
	// in the schemas of the topics the table feeds.
	cols := map[string]bool{}
	for _, c := range src.literalColumns(d.cfg, ct.ref) {
		cols[c] = true
	}
	if base.outbox != nil {
		for _, c := range base.outbox.outboxColumns {
			cols[c] = true
		}
	}
	schemas := map[string]TopicSchema{}
	for _, b := range topics {
		ts, ok := d.schemaOf(b.topic)
		if !ok {
			continue
		}
		schemas[b.topic] = ts
		if base.outbox != nil {
			continue
		}
		for _, c := range envelopeColumns(d.chain.inverseAll(ts.Paths, base.applied)) {
			cols[c] = true
		}
	}
	for c := range cols {
		if !src.allowsColumn(ct.ref, c) {
			delete(cols, c)
		}
	}
	columns := sortedKeys(cols)

	if src.canName {
		d.tableAssets(ct.ref, columns, ct.origin, tableConf)
		d.out.link(ct.ref.urn(), catalog.EdgeCaptures, d.connURN, ct.origin, tableConf, "", false)
		d.input(ct.ref.urn())
	}
	for _, b := range topics {
		d.produces(b.topic, b.origin, b.confidence, b.via)
		if src.canName {
			d.pair(ct.ref.urn(), d.c.TopicURN(b.topic), b.origin, min(b.confidence, tableConf), d.chain.appliedAliases(base))
		}
	}
	if !src.canName || len(columns) == 0 {
		return
	}
	var flows []flow
	for _, c := range columns {
		for _, side := range []string{"after.", "before."} {
			f := flow{origin: c, path: side + c}
			if name, ok := src.mask(ct.ref, c); ok {
				f.touched, f.masking = []string{name}, true
			}
			flows = append(flows, f)
		}
	}
	run := d.chain.run(start, flows)
	for _, b := range topics {
		if ts, ok := schemas[b.topic]; ok {
			d.emitColumnFieldEdges(ct.ref, b.topic, run, ts, b.origin, min(b.confidence, tableConf))
		}
	}
}

// envelopeColumns returns the columns that envelope paths ("after.email",
// "before.email") name; deeper paths are not columns.
func envelopeColumns(paths []string) []string {
	var out []string
	for _, p := range paths {
		for _, side := range []string{"after.", "before."} {
			if c, ok := strings.CutPrefix(p, side); ok && c != "" && !strings.Contains(c, ".") {
				out = appendUnique(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// debeziumSideTopics asserts the topics a Debezium connector writes besides
// change events: schema changes, heartbeats and transaction metadata. The
// SMT chain applies to their records too.
func (d *deriver) debeziumSideTopics(src *debeziumSource) {
	type sideTopic struct {
		topic string
		// ddl: the schema change topic carries the captured tables' DDL,
		// so each table feeds it; heartbeats and transaction metadata
		// carry no table data.
		ddl bool
	}
	var topics []sideTopic
	switch src.flavor {
	case flavorMySQL, flavorSQLServer, flavorOracle, flavorDB2:
		if !strings.EqualFold(d.cfg("include.schema.changes"), "false") {
			topics = append(topics, sideTopic{src.prefix, true})
		}
	}
	if atoiDefault(d.cfg("heartbeat.interval.ms"), 0) > 0 {
		prefix := firstNonEmpty(d.cfg("topic.heartbeat.prefix"), d.cfg("heartbeat.topics.prefix"), "__debezium-heartbeat")
		topics = append(topics, sideTopic{prefix + "." + src.prefix, false})
	}
	if strings.EqualFold(d.cfg("provide.transaction.metadata"), "true") {
		topics = append(topics, sideTopic{src.prefix + "." + valueOr(d.cfg("topic.transaction"), "transaction"), false})
	}
	for _, t := range topics {
		run := d.chain.run(t.topic, nil)
		if !run.route.exact() {
			continue
		}
		d.produces(run.route.topic, OriginConfig, confidenceConfig, strings.Join(run.route.via, ","))
		if !t.ddl {
			d.side[run.route.topic] = true
			continue
		}
		for _, in := range append([]catalog.URN(nil), d.inputs...) {
			d.pair(in, d.c.TopicURN(run.route.topic), OriginConfig, confidenceConfig, d.chain.appliedAliases(run))
		}
	}
}

// mongoHost returns the first host of a MongoDB connection string
// ("mongodb://user:pw@h1:27017,h2:27017/?replicaSet=rs0",
// "mongodb+srv://cluster.example.com") or legacy host list ("rs0/h1:27017").
func mongoHost(connString, hosts string) (string, string, error) {
	if connString != "" {
		rest, ok := strings.CutPrefix(connString, "mongodb://")
		if !ok {
			rest, ok = strings.CutPrefix(connString, "mongodb+srv://")
		}
		if !ok {
			return "", "", fmt.Errorf("mongodb.connection.string is not a mongodb:// URL")
		}
		// The hosts end at the first '/' or '?'; user-info ends at the last
		// '@' before them (a password may hold '@').
		hostList := rest
		if i := strings.IndexAny(hostList, "/?"); i >= 0 {
			hostList = hostList[:i]
		}
		if i := strings.LastIndexByte(hostList, '@'); i >= 0 {
			hostList = hostList[i+1:]
		}
		return splitHostPort(strings.Split(hostList, ",")[0])
	}
	if hosts != "" {
		if _, after, ok := strings.Cut(hosts, "/"); ok {
			hosts = after
		}
		return splitHostPort(strings.Split(hosts, ",")[0])
	}
	return "", "", fmt.Errorf("mongodb.connection.string (mongodb.hosts before Debezium 2.2) is not set: captured collections cannot be named")
}

func splitHostPort(hp string) (string, string, error) {
	hp = strings.TrimSpace(hp)
	if hp == "" {
		return "", "", fmt.Errorf("no MongoDB host")
	}
	u, err := url.Parse("//" + hp)
	if err != nil {
		return "", "", fmt.Errorf("parse MongoDB host %q: %w", hp, err)
	}
	return u.Hostname(), u.Port(), nil
}
