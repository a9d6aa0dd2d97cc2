package connect

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// UnknownHost is the host of the namespace of tables whose server a
// connector's config hides behind a config-provider placeholder
// ("connection.url": "${env:MYSQL_CONNECTION_URL}"): the tables are still
// recorded, under <flavor>://unknown (jdbc://unknown when even the kind of
// database is hidden), with the placeholder in their "connection" property.
const UnknownHost = "unknown"

// flavorJDBC is the namespace scheme of a JDBC URL whose subprotocol is
// hidden by a placeholder.
const flavorJDBC = "jdbc"

// flavorRedshift is Amazon Redshift (its own JDBC driver, PostgreSQL rules).
const flavorRedshift = "redshift"

// jdbcTarget is what a JDBC URL says about where tables live.
type jdbcTarget struct {
	server   dbServer
	database string
	// defaultSchema qualifies unqualified table names.
	defaultSchema string
	// user is the user the URL names (Oracle user/password@, ?user=), for
	// the default schema of Oracle and Db2 and the default database of
	// PostgreSQL.
	user string
	// unresolved is the placeholder that hides the server, when it does.
	unresolved string
}

// placeholderPattern finds config-provider placeholders inside a value.
var placeholderPattern = regexp.MustCompile(`\$\{[A-Za-z][A-Za-z0-9_.-]*:[^}]*\}`)

// hasPlaceholder reports whether s holds a config-provider placeholder.
func hasPlaceholder(s string) bool { return placeholderPattern.MatchString(s) }

// parseJDBCURL reads a JDBC URL the way the drivers do: PostgreSQL
// (pgjdbc), MySQL (Connector/J, user-info, address=(…) and (host=…) host
// specs, load-balancing and replication prefixes), MariaDB, SQL Server
// (Microsoft and jTDS), Oracle thin (user/password@, SID, service names,
// EZConnect, TNS descriptors), Db2 and Redshift. Multi-host URLs are named by
// their first host. user is the connector's connection.user, which
// qualifies Oracle and Db2 tables (whose default schema is the user's) and
// names PostgreSQL's database when the URL has none. A URL whose server is
// a config-provider placeholder is no error: its tables live under
// UnknownHost.
func parseJDBCURL(raw, user string) (jdbcTarget, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url is not set")
	}
	if configProviderPattern.MatchString(s) {
		return jdbcTarget{server: dbServer{flavor: flavorJDBC, host: UnknownHost}, unresolved: s}, nil
	}
	rest, ok := strings.CutPrefix(s, "jdbc:")
	if !ok {
		if len(s) > 5 && strings.EqualFold(s[:5], "jdbc:") {
			rest = s[5:]
		} else {
			return jdbcTarget{}, fmt.Errorf("connection.url %q is not a JDBC URL", redactValue("connection.url", raw))
		}
	}
	sub, after, _ := strings.Cut(rest, ":")
	var t jdbcTarget
	var err error
	switch lsub := strings.ToLower(sub); lsub {
	case "postgresql", "postgres", "pgsql":
		t, err = parsePostgresURL(flavorPostgres, after, user)
	case "redshift":
		t, err = parsePostgresURL(flavorRedshift, after, user)
	case "mysql", "mariadb", "mysql+srv":
		t, err = parseMySQLURL(after)
	case "sqlserver":
		t, err = parseSQLServerURL(after)
	case "jtds":
		t, err = parseJTDSURL(after)
	case "oracle":
		t, err = parseOracleURL(after, user)
	case "db2":
		t, err = parseDb2URL(after, user)
	default:
		if hasPlaceholder(sub) {
			return jdbcTarget{server: dbServer{flavor: flavorJDBC, host: UnknownHost}, unresolved: s}, nil
		}
		return jdbcTarget{}, fmt.Errorf("connection.url: unsupported JDBC subprotocol %q", sub)
	}
	if err != nil {
		return jdbcTarget{}, err
	}
	t.unresolved = firstNonEmpty(t.unresolved, t.server.unresolved)
	if hasPlaceholder(t.database) {
		t.unresolved, t.database = firstNonEmpty(t.unresolved, placeholderPattern.FindString(t.database)), UnknownHost
	}
	return t, nil
}

// hostSpec is one host of a URL's host list.
type hostSpec struct{ host, port string }

// splitHostList splits a comma-separated host list, keeping commas inside
// brackets and parentheses (IPv6 literals, address=(…), (host=…,port=…)).
func splitHostList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// keyValuePattern reads "key=value" pairs of MySQL's address=(host=h)(port=p)
// and (host=h,port=p) host specs.
var keyValuePattern = regexp.MustCompile(`(?i)\b(host|port)\s*=\s*([^,()\s]+)`)

// parseHostSpec reads "host", "host:port", "[v6]:port", MySQL's
// "address=(host=h)(port=p)" and "(host=h,port=p)".
func parseHostSpec(s string) (hostSpec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return hostSpec{}, fmt.Errorf("connection.url names no host")
	}
	if strings.HasPrefix(s, "(") || strings.HasPrefix(strings.ToLower(s), "address=") {
		var h hostSpec
		for _, m := range keyValuePattern.FindAllStringSubmatch(s, -1) {
			if strings.EqualFold(m[1], "host") && h.host == "" {
				h.host = m[2]
			} else if strings.EqualFold(m[1], "port") && h.port == "" {
				h.port = m[2]
			}
		}
		if h.host == "" {
			return hostSpec{}, fmt.Errorf("connection.url: host spec %q names no host", s)
		}
		return h, nil
	}
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return hostSpec{}, fmt.Errorf("connection.url: unterminated IPv6 address")
		}
		h := hostSpec{host: s[1:end]}
		if p, ok := strings.CutPrefix(s[end+1:], ":"); ok {
			h.port = p
		}
		return h, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 && !strings.Contains(s[:i], ":") {
		return hostSpec{host: s[:i], port: s[i+1:]}, validPort(s[i+1:])
	}
	return hostSpec{host: s}, nil
}

func validPort(p string) error {
	if p == "" || hasPlaceholder(p) {
		return nil
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return fmt.Errorf("connection.url: port %q is not a number", p)
		}
	}
	return nil
}

// cutAuthority splits "//authority/path?query" at the first '/', '?' or '#'
// after the authority, as RFC 3986 and Connector/J do.
func cutAuthority(s string) (authority, path, query string) {
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		return s, "", ""
	}
	authority, rest := s[:end], s[end:]
	rest, _, _ = strings.Cut(rest, "#")
	if strings.HasPrefix(rest, "/") {
		path, query, _ = strings.Cut(rest[1:], "?")
	} else {
		query = strings.TrimPrefix(rest, "?")
	}
	return authority, path, query
}

// stripUserInfo removes "user[:password]@" from an authority: the text up
// to its last '@'. A user never names a host.
func stripUserInfo(authority string) (hosts, user string) {
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		u, _, _ := strings.Cut(authority[:i], ":")
		return authority[i+1:], u
	}
	return authority, ""
}

// parsePostgresURL reads pgjdbc URLs: "//host[:port][,host2…]/database[?…]"
// or "database" alone (localhost). An empty database is the user's name,
// as pgjdbc and libpq default it.
func parsePostgresURL(flavor, s, user string) (jdbcTarget, error) {
	t := jdbcTarget{defaultSchema: "public"}
	var hosts []string
	var path, query string
	if rest, ok := strings.CutPrefix(s, "//"); ok {
		var authority string
		authority, path, query = cutAuthority(rest)
		authority, t.user = stripUserInfo(authority)
		hosts = splitHostList(authority)
	} else {
		path, query, _ = strings.Cut(s, "?")
		hosts = []string{"localhost"}
	}
	h, err := parseHostSpec(hosts[0])
	if err != nil {
		return jdbcTarget{}, err
	}
	q, _ := url.ParseQuery(query)
	if u := q.Get("user"); u != "" {
		t.user = u
	}
	if schema := q.Get("currentSchema"); schema != "" {
		t.defaultSchema = strings.TrimSpace(strings.Split(schema, ",")[0])
	}
	db, err := url.PathUnescape(path)
	if err != nil {
		db = path
	}
	if db == "" {
		db = firstNonEmpty(q.Get("PGDBNAME"), t.user, user)
	}
	if db == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no database (and no user whose name pgjdbc would take)")
	}
	t.database = db
	if flavor == flavorRedshift && h.port == "" {
		h.port = "5439"
	}
	t.server = newServer(flavor, h.host, h.port)
	return t, nil
}

// mysqlPrefixes are the Connector/J and MariaDB protocol variants before
// "//": they choose how hosts are used, not which database is read.
var mysqlPrefixes = []string{"loadbalance:", "replication:", "sequential:", "aurora:", "failover:"}

// parseMySQLURL reads Connector/J and MariaDB URLs:
// "[loadbalance:|replication:|…]//[user[:password]@]hostspec[,hostspec…]/[database][?…]".
func parseMySQLURL(s string) (jdbcTarget, error) {
	for _, p := range mysqlPrefixes {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			s = s[len(p):]
			break
		}
	}
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected //host:port/database after jdbc:mysql:")
	}
	authority, path, _ := cutAuthority(rest)
	authority, user := stripUserInfo(authority)
	if inner, ok := strings.CutPrefix(authority, "["); ok && strings.HasSuffix(inner, "]") {
		inner = inner[:len(inner)-1]
		if strings.ContainsAny(inner, ",(=") || strings.Count(inner, ":") < 2 {
			// Connector/J's bracketed host list, [h1:1111,h2:2222] or
			// [(host=a,port=1),(host=b)], not an IPv6 literal
			authority = inner
		}
	}
	h, err := parseHostSpec(splitHostList(authority)[0])
	if err != nil {
		return jdbcTarget{}, err
	}
	db, err := url.PathUnescape(path)
	if err != nil {
		db = path
	}
	if db == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no database")
	}
	return jdbcTarget{server: newServer(flavorMySQL, h.host, h.port), database: db, user: user}, nil
}

// sqlServerProps reads ";key=value" properties, values possibly in braces
// ("{a;b}"), keys case-insensitive.
func sqlServerProps(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, "; ")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var v string
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			if end < 0 {
				v, rest = rest[1:], ""
			} else {
				v, rest = rest[1:end], rest[end+1:]
			}
			_, rest, _ = strings.Cut(rest, ";")
		} else {
			v, rest, _ = strings.Cut(rest, ";")
		}
		out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		s = rest
	}
	return out
}

// parseSQLServerURL reads Microsoft's
// "//[serverName[\instanceName][:portNumber]][;property=value…]".
func parseSQLServerURL(s string) (jdbcTarget, error) {
	s, ok := strings.CutPrefix(s, "//")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected //host after jdbc:sqlserver:")
	}
	hostPart, props, _ := strings.Cut(s, ";")
	p := sqlServerProps(props)
	hostPart = strings.TrimSpace(hostPart)
	if hostPart == "" {
		hostPart = p["servername"]
		if hostPart == "" {
			hostPart = p["server"]
		}
	}
	if hostPart == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no host (serverName)")
	}
	host, _, _ := strings.Cut(hostPart, `\`) // \instanceName
	port := ""
	if i := strings.LastIndexByte(hostPart, ':'); i >= 0 && !strings.Contains(hostPart[:i], ":") {
		port = hostPart[i+1:]
		if j := strings.IndexByte(host, ':'); j >= 0 {
			host = host[:j]
		}
	}
	if v := firstNonEmpty(p["portnumber"], p["port"]); v != "" {
		port = v
	}
	if err := validPort(port); err != nil {
		return jdbcTarget{}, err
	}
	t := jdbcTarget{defaultSchema: "dbo", database: firstNonEmpty(p["databasename"], p["database"]), user: firstNonEmpty(p["user"], p["username"])}
	if t.database == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no databaseName")
	}
	t.server = newServer(flavorSQLServer, strings.Trim(host, "[]"), port)
	return t, nil
}

// parseJTDSURL reads jTDS "sqlserver://host[:port][/database][;prop=value…]".
func parseJTDSURL(s string) (jdbcTarget, error) {
	const scheme = "sqlserver://"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return jdbcTarget{}, fmt.Errorf("connection.url: only jdbc:jtds:sqlserver:// URLs are supported")
	}
	s = s[len(scheme):]
	main, props, _ := strings.Cut(s, ";")
	p := sqlServerProps(props)
	hostPart, db, _ := strings.Cut(main, "/")
	h, err := parseHostSpec(hostPart)
	if err != nil {
		return jdbcTarget{}, err
	}
	t := jdbcTarget{defaultSchema: "dbo", database: firstNonEmpty(p["databasename"], db), user: p["user"]}
	if t.database == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no database")
	}
	t.server = newServer(flavorSQLServer, h.host, firstNonEmpty(p["port"], h.port))
	return t, nil
}

var (
	oracleDescHost = regexp.MustCompile(`(?i)\(\s*HOST\s*=\s*([^)\s]+)\s*\)`)
	oracleDescPort = regexp.MustCompile(`(?i)\(\s*PORT\s*=\s*(\d+)\s*\)`)
	oracleDescSvc  = regexp.MustCompile(`(?i)\(\s*(?:SERVICE_NAME|SID)\s*=\s*([^)\s]+)\s*\)`)
)

// parseOracleURL reads the thin and OCI forms after "jdbc:oracle:":
// "thin:[user/password]@" followed by "host:port:SID", "host:port/service",
// "//host:port/service", "host/service", "tcp(s)://host:port/service",
// "h1:p1,h2:p2/service", "(DESCRIPTION=…)" or a TNS alias (whose host only
// tnsnames.ora knows: UnknownHost).
func parseOracleURL(s, user string) (jdbcTarget, error) {
	driver, rest, ok := strings.Cut(s, ":")
	if !ok || (!strings.EqualFold(driver, "thin") && !strings.EqualFold(driver, "oci") && !strings.EqualFold(driver, "oci8")) {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected jdbc:oracle:thin:@...")
	}
	// The connect descriptor follows the last '@' before any '(' or '?'.
	head := rest
	if i := strings.IndexAny(head, "(?"); i >= 0 {
		head = head[:i]
	}
	at := strings.LastIndexByte(head, '@')
	if at < 0 {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected jdbc:oracle:thin:@...")
	}
	if creds := rest[:at]; creds != "" {
		u, _, _ := strings.Cut(creds, "/")
		user = firstNonEmpty(user, strings.Trim(u, `"`))
	}
	desc := strings.TrimSpace(rest[at+1:])
	t := jdbcTarget{defaultSchema: strings.ToUpper(user), user: user}
	if strings.HasPrefix(desc, "(") {
		h, p, svc := oracleDescHost.FindStringSubmatch(desc), oracleDescPort.FindStringSubmatch(desc), oracleDescSvc.FindStringSubmatch(desc)
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
	desc, _, _ = strings.Cut(desc, "?")
	lower := strings.ToLower(desc)
	for _, p := range []string{"tcps://", "tcp://"} {
		if strings.HasPrefix(lower, p) {
			desc, lower = desc[len(p):], lower[len(p):]
		}
	}
	desc = strings.TrimPrefix(desc, "//")
	hostList, svc, slash := strings.Cut(desc, "/")
	if !slash && !strings.Contains(hostList, ":") {
		// A TNS alias: only tnsnames.ora knows its host.
		if hostList == "" {
			return jdbcTarget{}, fmt.Errorf("connection.url: nothing after @")
		}
		t.server, t.database, t.unresolved = newServer(flavorOracle, UnknownHost, ""), hostList, "TNS alias "+hostList
		return t, nil
	}
	first := splitHostList(hostList)[0]
	host, port, sid := first, "", ""
	if parts := strings.Split(first, ":"); len(parts) >= 2 {
		host, port = parts[0], parts[1]
		if len(parts) == 3 && !slash {
			sid = parts[2]
		}
	}
	if slash {
		sid, _, _ = strings.Cut(svc, ":") // service[:server]
		sid, _, _ = strings.Cut(sid, "/") // service/instance
	}
	if host == "" || sid == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected host:port/service or host:port:SID")
	}
	if err := validPort(port); err != nil {
		return jdbcTarget{}, err
	}
	t.server, t.database = newServer(flavorOracle, strings.Trim(host, "[]"), port), sid
	return t, nil
}

// parseDb2URL reads "//host[:port]/database[:property=value;…]".
func parseDb2URL(s, user string) (jdbcTarget, error) {
	rest, ok := strings.CutPrefix(s, "//")
	if !ok {
		return jdbcTarget{}, fmt.Errorf("connection.url: expected //host:port/database after jdbc:db2:")
	}
	authority, path, _ := cutAuthority(rest)
	authority, u := stripUserInfo(authority)
	h, err := parseHostSpec(splitHostList(authority)[0])
	if err != nil {
		return jdbcTarget{}, err
	}
	user = firstNonEmpty(user, u)
	t := jdbcTarget{server: newServer(flavorDB2, h.host, h.port), defaultSchema: strings.ToUpper(user), user: user}
	db, props, _ := strings.Cut(path, ":")
	t.database = db
	for _, p := range strings.Split(props, ";") {
		if k, v, ok := strings.Cut(p, "="); ok {
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "currentschema":
				t.defaultSchema = strings.TrimSpace(v)
			case "user":
				if t.defaultSchema == "" {
					t.defaultSchema = strings.ToUpper(strings.TrimSpace(v))
				}
			}
		}
	}
	if t.database == "" {
		return jdbcTarget{}, fmt.Errorf("connection.url names no database")
	}
	return t, nil
}
