package connect

import (
	"net"
	"regexp"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Database flavours, named by the OpenLineage namespace scheme of their
// datasets.
const (
	flavorPostgres  = "postgres"
	flavorMySQL     = "mysql"
	flavorSQLServer = "sqlserver"
	flavorOracle    = "oracle"
	flavorDB2       = "db2"
	flavorMongoDB   = "mongodb"
)

var defaultPorts = map[string]string{
	flavorPostgres: "5432", flavorMySQL: "3306", flavorSQLServer: "1433",
	flavorOracle: "1521", flavorDB2: "50000", flavorMongoDB: "27017", flavorRedshift: "5439",
}

// dbServer is a database server: the OpenLineage namespace of its tables.
type dbServer struct {
	flavor string
	host   string
	port   string
	// unresolved is the placeholder that hides the host, if one does.
	unresolved string
}

// newServer names a server. A host or port hidden behind a config-provider
// placeholder gives UnknownHost (the default port), the placeholder kept in
// unresolved.
func newServer(flavor, host, port string) dbServer {
	s := dbServer{flavor: flavor, host: strings.ToLower(strings.TrimSpace(host)), port: strings.TrimSpace(port)}
	if hasPlaceholder(host) {
		s.host, s.unresolved = UnknownHost, placeholderPattern.FindString(host)
	}
	if hasPlaceholder(port) {
		s.port, s.unresolved = "", firstNonEmpty(s.unresolved, placeholderPattern.FindString(port))
	}
	if s.port == "" {
		s.port = defaultPorts[flavor]
	}
	return s
}

// namespace is the OpenLineage namespace: "postgres://host:5432", or
// "jdbc://unknown" when the config hides even the kind of database.
func (s dbServer) namespace() string {
	if s.port == "" {
		return s.flavor + "://" + s.host
	}
	return s.flavor + "://" + net.JoinHostPort(s.host, s.port)
}

// tableRef names a table (or MongoDB collection) following the OpenLineage
// naming spec: namespace plus "database.schema.table" (PostgreSQL, SQL
// Server, Oracle with the service name as database, Db2, Snowflake),
// "database.table" (MySQL, MongoDB) or "project.dataset.table" (BigQuery).
type tableRef struct {
	ns       string // OpenLineage namespace
	database string
	schema   string
	table    string
	// unresolved is the config-provider placeholder that hides the server
	// (the namespace's host is then UnknownHost).
	unresolved string
}

func (s dbServer) table(database, schema, table string) tableRef {
	return tableRef{ns: s.namespace(), database: database, schema: schema, table: table, unresolved: s.unresolved}
}

// name is the OpenLineage dataset name.
func (t tableRef) name() string {
	parts := make([]string, 0, 3)
	for _, p := range []string{t.database, t.schema, t.table} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ".")
}

func (t tableRef) urn() catalog.URN { return catalog.TableURN(t.ns, t.name()) }

func (t tableRef) databaseURN() catalog.URN { return catalog.DatabaseURN(t.ns, t.database) }

func (t tableRef) columnURN(col string) catalog.URN { return catalog.ColumnURN(t.urn(), col) }

// qualify turns a table name as a JDBC connector writes it ("customers",
// "inventory.customers", "db.inventory.customers", possibly quoted) into a
// tableRef under t.
func (t jdbcTarget) qualify(name string) tableRef {
	parts := splitIdentifier(name)
	ref := t.server.table(t.database, t.defaultSchema, "")
	ref.unresolved = firstNonEmpty(t.unresolved, ref.unresolved)
	switch {
	case len(parts) == 0:
		return ref
	case t.server.flavor == flavorMySQL:
		if len(parts) >= 2 {
			ref.database, parts = parts[0], parts[1:]
		}
		ref.schema, ref.table = "", strings.Join(parts, ".")
	case len(parts) == 1:
		ref.table = parts[0]
	case len(parts) == 2:
		ref.schema, ref.table = parts[0], parts[1]
	default:
		ref.database, ref.schema, ref.table = parts[0], parts[1], strings.Join(parts[2:], ".")
	}
	return ref
}

// splitIdentifier splits a possibly qualified, possibly quoted SQL
// identifier on dots outside quotes, dropping the quotes.
func splitIdentifier(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '`':
			quote = c
		case c == '[':
			quote = ']'
		case c == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sqlTableRefs extracts, best effort, the tables a SQL query reads: the
// identifiers after FROM and JOIN (comma-separated FROM lists included),
// skipping subqueries.
func sqlTableRefs(query string) []string {
	toks := sqlTokens(query)
	var out []string
	for i := 0; i < len(toks); i++ {
		kw := strings.ToUpper(toks[i])
		if kw != "FROM" && kw != "JOIN" {
			continue
		}
		for j := i + 1; j < len(toks); {
			if toks[j] == "(" || !isIdentToken(toks[j]) {
				break
			}
			out = appendUnique(out, toks[j])
			j++
			// skip an alias: [AS] alias
			if j < len(toks) && strings.EqualFold(toks[j], "AS") {
				j++
			}
			if j < len(toks) && isIdentToken(toks[j]) && !sqlKeywords[strings.ToUpper(toks[j])] {
				j++
			}
			if kw == "FROM" && j < len(toks) && toks[j] == "," {
				j++
				continue
			}
			break
		}
	}
	return out
}

var sqlKeywords = map[string]bool{
	"WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "OUTER": true,
	"CROSS": true, "ON": true, "GROUP": true, "ORDER": true, "HAVING": true, "LIMIT": true, "UNION": true,
	"SELECT": true, "FROM": true, "USING": true, "NATURAL": true, "WINDOW": true, "OFFSET": true, "FETCH": true,
}

var sqlTokenPattern = regexp.MustCompile("(?s)--[^\n]*|/\\*.*?\\*/|'(?:[^']|'')*'|(?:\"[^\"]*\"|`[^`]*`|\\[[^\\]]*\\]|[A-Za-z_][A-Za-z0-9_$#]*)(?:\\s*\\.\\s*(?:\"[^\"]*\"|`[^`]*`|\\[[^\\]]*\\]|[A-Za-z_][A-Za-z0-9_$#]*))*|[(),]|\\S")

func sqlTokens(q string) []string {
	var out []string
	for _, t := range sqlTokenPattern.FindAllString(q, -1) {
		if strings.HasPrefix(t, "--") || strings.HasPrefix(t, "/*") || strings.HasPrefix(t, "'") {
			continue
		}
		out = append(out, strings.Join(strings.Fields(t), ""))
	}
	return out
}

func isIdentToken(t string) bool {
	if t == "" {
		return false
	}
	c := t[0]
	return c == '"' || c == '`' || c == '[' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
