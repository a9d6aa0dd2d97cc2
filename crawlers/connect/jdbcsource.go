package connect

import (
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// jdbcSource derives the Confluent JDBC source connector. In table mode each
// table of table.whitelist (table.include.list) is polled into topic
// <topic.prefix><table>; in query mode the query's result goes to
// <topic.prefix>, and the tables it reads are parsed out of the SQL, best
// effort, at lower confidence.
func (d *deriver) jdbcSource() {
	defer d.unexplainedTopics(confidenceResolved)
	jt, err := parseJDBCURL(d.cfg("connection.url"), firstNonEmpty(d.cfg("connection.user"), d.cfg("connection.username")))
	canName := err == nil
	if err != nil {
		d.out.problem(err.Error())
	}
	if lit, ok := literalOf(d.cfg("schema.pattern")); ok && !strings.Contains(lit, "%") && canName {
		jt.defaultSchema = lit
	}
	prefix := d.v.config["topic.prefix"]

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
		}
		return
	}

	names := map[string]topicBinding{} // table name → how we know
	exclude := setOf(firstNonEmpty(d.cfg("table.blacklist"), d.cfg("table.exclude.list")))
	for _, n := range splitList(firstNonEmpty(d.cfg("table.whitelist"), d.cfg("table.include.list"))) {
		if !exclude[n] {
			names[n] = topicBinding{origin: OriginConfig, confidence: confidenceConfig}
		}
	}
	if len(names) == 0 {
		// All tables: only the reported topics name them.
		for _, t := range d.v.topics {
			if n, ok := strings.CutPrefix(t, prefix); ok && n != "" && !exclude[n] {
				names[n] = topicBinding{origin: OriginTopics, confidence: confidenceResolved}
			}
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	for _, n := range sorted {
		d.jdbcSourceTable(jt, canName, prefix, n, names[n])
	}
}

func (d *deriver) jdbcSourceTable(jt jdbcTarget, canName bool, prefix, name string, how topicBinding) {
	parts := splitIdentifier(name)
	if len(parts) == 0 {
		return
	}
	start := prefix + parts[len(parts)-1] // the topic carries the bare table name
	base := d.chain.run(start, nil)
	confidence := how.confidence
	if base.capped {
		confidence = min(confidence, confidenceResolved)
	}
	if !base.route.exact() {
		d.note("the topic of table %s depends on record content", name)
		return
	}
	topic := base.route.topic
	d.produces(topic, how.origin, confidence, strings.Join(base.route.via, ","))
	if !canName {
		return
	}
	t := jt.qualify(name)
	schema, hasSchema := d.schemaOf(topic)
	cols := map[string]bool{}
	if hasSchema {
		for _, p := range d.chain.inverseAll(schema.Paths, base.applied) {
			if p != "" && !strings.Contains(p, ".") {
				cols[p] = true
			}
		}
	}
	columns := sortedKeys(cols)
	d.tableAssets(t, columns, how.origin, confidence)
	d.out.link(t.urn(), catalog.EdgeCaptures, d.connURN, how.origin, confidence, "", false)
	if !hasSchema || len(columns) == 0 {
		return
	}
	flows := make([]flow, len(columns))
	for i, c := range columns {
		flows[i] = flow{origin: c, path: c}
	}
	run := d.chain.run(start, flows)
	d.emitColumnFieldEdges(t, topic, run, schema, how.origin, confidence)
}
