package connect

import (
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// jdbcTable is a table a JDBC source reads, and how we know.
type jdbcTable struct {
	name       string // as configured or reported: "book", "public.events", `"db"."public"."t"`
	ref        tableRef
	origin     string
	confidence float64
}

// jdbcSource derives the Confluent JDBC source connector. In table mode each
// table is polled into topic <topic.prefix><table>. The tables are, in this
// order of trust: the configured list (table.whitelist, table.include.list),
// the "tables" the connector gave its tasks (GET /connectors/NAME/tasks:
// what it really reads), and — only where the SMT chain can be run
// backwards to a single start topic — the reported topics. In query mode
// the query's result goes to <topic.prefix>, and the tables it reads are
// parsed out of the SQL, best effort, at lower confidence.
func (d *deriver) jdbcSource() {
	defer d.unexplainedTopics(confidenceResolved)
	jt, err := d.jdbcConnection()
	canName := err == nil
	if err != nil {
		d.out.problem(err.Error())
	}
	if lit, ok := literalOf(d.cfg("schema.pattern")); ok && !strings.Contains(lit, "%") && canName {
		jt.defaultSchema = lit
	}
	prefix := d.conf["topic.prefix"]

	if query := d.cfg("query"); query != "" {
		run := d.chain.run(prefix, nil)
		if run.route.exact() && run.route.topic != "" {
			d.produces(run.route.topic, OriginConfig, confidenceConfig, strings.Join(run.route.via, ","))
		}
		refs := sqlTableRefs(query)
		if len(refs) == 0 {
			d.note("query mode: no table could be parsed out of the query")
		} else {
			d.note("query mode: tables were parsed out of the SQL query, best effort; no column lineage")
		}
		if !canName {
			return
		}
		for _, name := range refs {
			t := jt.qualify(name)
			d.tableAssets(t, nil, OriginConfig, confidenceResolved)
			d.out.link(t.urn(), catalog.EdgeCaptures, d.connURN, OriginConfig, confidenceResolved, "", false)
			if run.route.exact() && run.route.topic != "" {
				d.pair(t.urn(), d.c.TopicURN(run.route.topic), OriginConfig, confidenceResolved, d.chain.appliedAliases(run))
			}
		}
		return
	}

	tables := d.jdbcSourceTables(jt, prefix)
	var contentRouted []jdbcTable
	for _, tb := range tables {
		if !d.jdbcSourceTable(jt, canName, prefix, tb) {
			contentRouted = append(contentRouted, tb)
		}
	}
	if len(contentRouted) == 0 {
		return
	}
	// A router names topics from record content. With one table every
	// topic the connector reports comes from it; with several, which
	// table feeds which topic is unknowable from outside.
	if len(tables) == 1 {
		tb := tables[0]
		bare := bareTable(tb.name)
		for _, topic := range d.v.topics {
			if !d.explained[topic] {
				d.jdbcSourceTopic(jt, canName, prefix+bare, tb, topic, OriginTopics, min(tb.confidence, confidenceResolved))
			}
		}
		if !d.v.topicsKnown {
			d.note("the topics of table %s are named from record content and Connect did not report active topics", tb.name)
		}
		return
	}
	names := make([]string, len(contentRouted))
	for i, tb := range contentRouted {
		names[i] = tb.name
	}
	d.note("the topics of tables %s are named from record content: which table feeds which reported topic is unknown", strings.Join(names, ", "))
}

// jdbcSourceTables lists the tables a JDBC source reads, merged by URN.
func (d *deriver) jdbcSourceTables(jt jdbcTarget, prefix string) []jdbcTable {
	var out []jdbcTable
	seen := map[catalog.URN]int{}
	add := func(name, origin string, confidence float64) {
		if len(splitIdentifier(name)) == 0 {
			return
		}
		ref := jt.qualify(name)
		if origin == OriginTasks {
			// A task names the table fully ("`librarydb`.`book`"); a
			// configured "book" is the same table, named more precisely now.
			parts := splitIdentifier(name)
			for i, tb := range out {
				if tb.origin == OriginConfig && isSuffix(splitIdentifier(tb.name), parts) && tb.ref.urn() != ref.urn() {
					delete(seen, tb.ref.urn())
					out[i].ref = ref
					seen[ref.urn()] = i
				}
			}
		}
		if i, ok := seen[ref.urn()]; ok {
			if confidence > out[i].confidence {
				out[i].origin, out[i].confidence = origin, confidence
			}
			return
		}
		seen[ref.urn()] = len(out)
		out = append(out, jdbcTable{name: name, ref: ref, origin: origin, confidence: confidence})
	}
	exclude := setOf(firstNonEmpty(d.cfg("table.blacklist"), d.cfg("table.exclude.list")))
	for _, n := range splitList(firstNonEmpty(d.cfg("table.whitelist"), d.cfg("table.include.list"))) {
		if !exclude[n] {
			add(n, OriginConfig, confidenceConfig)
		}
	}
	fetched := false
	for _, task := range d.v.tasks {
		list, ok := task["tables"]
		if !ok {
			continue // not a task config that names tables
		}
		if strings.EqualFold(strings.TrimSpace(task["tables.fetched"]), "false") {
			d.note("the connector has not listed its tables yet (its tasks say tables.fetched=false)")
			continue
		}
		fetched = true
		for _, n := range splitQuotedList(list) {
			add(n, OriginTasks, confidenceConfig)
		}
	}
	if len(out) > 0 || fetched {
		return out
	}
	// Neither config nor tasks name the tables: only the reported topics
	// do, through the chain run backwards where it is invertible.
	for _, topic := range d.v.topics {
		starts, ok := d.chain.preimages(topic)
		var tables []string
		for _, s := range starts {
			if n, found := strings.CutPrefix(s, prefix); found && n != "" && !exclude[n] {
				tables = append(tables, n)
			}
		}
		switch {
		case !ok:
			d.note("topic %s: the transforms cannot be run backwards to the table it comes from", topic)
		case len(tables) == 1:
			add(tables[0], OriginTopics, confidenceResolved)
		case len(tables) > 1:
			d.note("topic %s may come from any of the tables %s", topic, strings.Join(tables, ", "))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ref.urn() < out[j].ref.urn() })
	return out
}

// bareTable is the table part of a possibly qualified, quoted name: the
// JDBC source names topics <topic.prefix><table>.
func bareTable(name string) string {
	parts := splitIdentifier(name)
	if len(parts) == 0 {
		return ""
	}
	return parts[len(parts)-1]
}

// jdbcSourceTable emits one table: the table, CAPTURES, and, when the chain
// names its topic from config, the topic with column → field lineage. It
// returns false when the topic depends on record content.
func (d *deriver) jdbcSourceTable(jt jdbcTarget, canName bool, prefix string, tb jdbcTable) bool {
	start := prefix + bareTable(tb.name)
	base := d.chain.run(start, nil)
	confidence := tb.confidence
	if base.capped {
		confidence = min(confidence, confidenceResolved)
	}
	if canName {
		d.tableAssets(tb.ref, nil, tb.origin, confidence)
		d.out.link(tb.ref.urn(), catalog.EdgeCaptures, d.connURN, tb.origin, confidence, "", false)
		d.input(tb.ref.urn())
	}
	switch {
	case base.route.dropped:
		d.note("records of table %s are dropped by a Filter transform", tb.name)
		return true
	case base.route.pattern != nil:
		for _, topic := range d.v.topics {
			if base.route.pattern.MatchString(topic) {
				d.jdbcSourceTopic(jt, canName, start, tb, topic, OriginTopics, min(confidence, confidenceResolved))
			}
		}
		return true
	case !base.route.exact():
		return false
	}
	d.jdbcSourceTopic(jt, canName, start, tb, base.route.topic, tb.origin, confidence)
	return true
}

// jdbcSourceTopic binds a table to a topic it feeds: PRODUCES and the
// columns (the topic's fields run backwards through the chain) with their
// column → field edges.
func (d *deriver) jdbcSourceTopic(jt jdbcTarget, canName bool, start string, tb jdbcTable, topic, origin string, confidence float64) {
	run := d.chain.run(start, nil)
	d.produces(topic, origin, confidence, strings.Join(run.route.via, ","))
	if !canName {
		return
	}
	d.pair(tb.ref.urn(), d.c.TopicURN(topic), origin, confidence, d.chain.appliedAliases(run))
	schema, hasSchema := d.schemaOf(topic)
	if !hasSchema {
		return
	}
	cols := map[string]bool{}
	for _, p := range d.chain.inverseAll(schema.Paths, run.applied) {
		if p != "" && !strings.Contains(p, ".") {
			cols[p] = true
		}
	}
	columns := sortedKeys(cols)
	if len(columns) == 0 {
		return
	}
	d.tableAssets(tb.ref, columns, tb.origin, confidence)
	flows := make([]flow, len(columns))
	for i, c := range columns {
		flows[i] = flow{origin: c, path: c}
	}
	d.emitColumnFieldEdges(tb.ref, topic, d.chain.run(start, flows), schema, origin, confidence)
}

// splitQuotedList splits a list of possibly quoted, qualified identifiers
// ("`db`.`book`,`db`.`member`", `"public"."a,b"`) on commas outside quotes,
// as the JDBC source writes its tasks' "tables".
func splitQuotedList(s string) []string {
	var out []string
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '`':
			quote = c
		case c == '[':
			quote = ']'
		case c == ',':
			if p := strings.TrimSpace(s[start:i]); p != "" {
				out = append(out, p)
			}
			start = i + 1
		}
	}
	if p := strings.TrimSpace(s[start:]); p != "" {
		out = append(out, p)
	}
	return out
}

// isSuffix reports whether short is a trailing part of long (compared as
// identifiers, case-insensitively): "book" of "librarydb"."book".
func isSuffix(short, long []string) bool {
	if len(short) == 0 || len(short) > len(long) {
		return false
	}
	off := len(long) - len(short)
	for i := range short {
		if !strings.EqualFold(short[i], long[off+i]) {
			return false
		}
	}
	return true
}
