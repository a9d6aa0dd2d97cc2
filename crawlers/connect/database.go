package connect

import (
	"fmt"
	"net"
	"net/url"
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
	flavorOracle: "1521", flavorDB2: "50000", flavorMongoDB: "27017",
}

// dbServer is a database server: the OpenLineage namespace of its tables.
type dbServer struct {
	flavor string
	host   string
	port   string
}

func newServer(flavor, host, port string) dbServer {
	if port == "" {
		port = defaultPorts[flavor]
	}
	return dbServer{flavor: flavor, host: strings.ToLower(strings.TrimSpace(host)), port: strings.TrimSpace(port)}
}

// namespace is the OpenLineage namespace: "postgres://host:5432".
func (s dbServer) namespace() string {
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
}

func (s dbServer) table(database, schema, table string) tableRef {
	return tableRef{ns: s.namespace(), database: database, schema: schema, table: table}
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

// jdbcTarget is what a JDBC URL says about where tables live.
type jdbcTarget struct {
	server   dbServer
	database string
	// defaultSchema qualifies unqualified table names.
	defaultSchema string
}

var (
	jdbcHostPort   = regexp.MustCompile(`^([^:/?;,\\]+|\[[^\]]+\])(?:\\[^:/;]*)?(?::(\d+))?`)
	oracleDescHost = regexp.MustCompile(`(?i)\(\s*HOST\s*=\s*([^)\s]+)\s*\)`)
	oracleDescPort = regexp.MustCompile(`(?i)\(\s*PORT\s*=\s*(\d+)\s*\)`)
	oracleDescSvc  = regexp.MustCompile(`(?i)\(\s*(?:SERVICE_NAME|SID)\s*=\s*([^)\s]+)\s*\)`)
)

// parseJDBCURL understands the JDBC URLs of PostgreSQL, MySQL/MariaDB, SQL
// Server, Oracle (thin) and Db2. user qualifies Oracle and Db2 tables, whose
// default schema is the user's.
func parseJDBCURL(raw, user string) (jdbcTarget, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(raw), "jdbc:")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url %q is not a JDBC URL", redactValue("connection.url", raw))
	}
	sub, after, _ := strings.Cut(rest, ":")
	switch strings.ToLower(sub) {
	case "postgresql", "postgres", "pgsql":
		return parseHierURL(flavorPostgres, after, "public", "currentSchema")
	case "mysql", "mariadb":
		return parseHierURL(flavorMySQL, after, "", "")
	case "db2":
		return parseHierURL(flavorDB2, after, strings.ToUpper(user), "currentSchema")
	case "sqlserver":
		return parseSQLServerURL(after)
	case "oracle":
		return parseOracleURL(after, user)
	}
	return jdbcTarget{}, fmt.Errorf("connection.url: unsupported JDBC subprotocol %q", sub)
}

// parseHierURL parses "//host[:port][,host2...]/database[?params]".
func parseHierURL(flavor, s, defaultSchema, schemaParam string) (jdbcTarget, error) {
	s, ok := strings.CutPrefix(s, "//")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected //host:port/database after jdbc:%s:", flavor)
	}
	hosts, path, _ := strings.Cut(s, "/")
	host, port, err := firstHostPort(hosts)
	if err != nil {
		return jdbcTarget{}, err
	}
	db, query, _ := strings.Cut(path, "?")
	t := jdbcTarget{server: newServer(flavor, host, port), database: db, defaultSchema: defaultSchema}
	if schemaParam != "" && query != "" {
		if q, err := url.ParseQuery(query); err == nil && q.Get(schemaParam) != "" {
			t.defaultSchema = strings.Split(q.Get(schemaParam), ",")[0]
		}
	}
	if flavor == flavorDB2 {
		// Db2 puts properties after a colon: //host:port/db:currentSchema=X;
		if name, props, ok := strings.Cut(db, ":"); ok {
			t.database = name
			for _, p := range strings.Split(props, ";") {
				if k, v, ok := strings.Cut(p, "="); ok && strings.EqualFold(k, "currentSchema") {
					t.defaultSchema = v
				}
			}
		}
	}
	if t.database == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no database")
	}
	return t, nil
}

func firstHostPort(hosts string) (host, port string, err error) {
	first := strings.Split(hosts, ",")[0]
	m := jdbcHostPort.FindStringSubmatch(first)
	if m == nil || m[1] == "" {
		return "", "", fmt.Errorf("connection.url names no host")
	}
	return strings.Trim(m[1], "[]"), m[2], nil
}

// parseSQLServerURL parses "//host[\instance][:port][;prop=value...]".
func parseSQLServerURL(s string) (jdbcTarget, error) {
	s, ok := strings.CutPrefix(s, "//")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected //host after jdbc:sqlserver:")
	}
	hostPart, props, _ := strings.Cut(s, ";")
	host, port, err := firstHostPort(hostPart)
	if err != nil {
		return jdbcTarget{}, err
	}
	t := jdbcTarget{defaultSchema: "dbo"}
	for _, p := range strings.Split(props, ";") {
		k, v, _ := strings.Cut(p, "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "databasename", "database":
			t.database = strings.TrimSpace(v)
		case "portnumber", "port":
			port = strings.TrimSpace(v)
		case "servername", "server":
			if host == "" {
				host = strings.TrimSpace(v)
			}
		}
	}
	t.server = newServer(flavorSQLServer, host, port)
	if t.database == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no databaseName")
	}
	return t, nil
}

// parseOracleURL parses the thin forms "thin:@host:port:SID",
// "thin:@//host:port/service", "thin:@host:port/service" and
// "thin:@(DESCRIPTION=...)".
func parseOracleURL(s, user string) (jdbcTarget, error) {
	_, at, ok := strings.Cut(s, "@")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected jdbc:oracle:thin:@...")
	}
	t := jdbcTarget{defaultSchema: strings.ToUpper(user)}
	if strings.HasPrefix(strings.TrimSpace(at), "(") {
		h, p, svc := oracleDescHost.FindStringSubmatch(at), oracleDescPort.FindStringSubmatch(at), oracleDescSvc.FindStringSubmatch(at)
		if h == nil || svc == nil {
			return jdbcTarget{}, fmt.Errorf("connection.url: TNS descriptor without HOST or SERVICE_NAME/SID")
		}
		port := ""
		if p != nil {
			port = p[1]
		}
		t.server, t.database = newServer(flavorOracle, h[1], port), svc[1]
		return t, nil
	}
	at = strings.TrimPrefix(at, "//")
	hostPort, svc, slash := strings.Cut(at, "/")
	host, port, sid := hostPort, "", ""
	if parts := strings.Split(hostPort, ":"); len(parts) >= 2 {
		host, port = parts[0], parts[1]
		if len(parts) == 3 && !slash {
			sid = parts[2]
		}
	}
	if slash {
		sid, _, _ = strings.Cut(svc, "?")
	}
	if host == "" || sid == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected host:port/service or host:port:SID")
	}
	t.server, t.database = newServer(flavorOracle, host, port), sid
	return t, nil
}

// qualify turns a table name as a JDBC connector writes it ("customers",
// "inventory.customers", "db.inventory.customers", possibly quoted) into a
// tableRef under t.
func (t jdbcTarget) qualify(name string) tableRef {
	parts := splitIdentifier(name)
	ref := t.server.table(t.database, t.defaultSchema, "")
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
