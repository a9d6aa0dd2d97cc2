package connect

import (
	"strings"
	"testing"
)

func TestJavaRegex(t *testing.T) {
	tests := []struct {
		pattern, input string
		ci, match      bool
		err            string
	}{
		{pattern: `dbserver1\.inventory\.(.*)`, input: "dbserver1.inventory.customers", match: true},
		{pattern: `inventory.customers`, input: "INVENTORY.CUSTOMERS", ci: true, match: true},
		{pattern: `inventory.customers`, input: "x.inventory.customers", ci: true, match: false},
		{pattern: `\Qa.b\E.c`, input: "a.bxc", match: true},
		{pattern: `\Qa.b\E.c`, input: "axbxc", match: false},
		{pattern: `a*+b`, input: "aaab", match: true},
		{pattern: `(?>ab|a)c`, input: "abc", match: true},
		{pattern: `[]a]+`, input: "]a]", match: true},
		{pattern: `(?<name>x)y`, input: "xy", match: true},
		{pattern: `(a)\1`, err: "backreferences"},
		{pattern: `(?=a)a`, err: "lookaround"},
		{pattern: `(?<!a)b`, err: "lookaround"},
		{pattern: `inventory.(orders`, err: "missing closing )"},
	}
	for _, tc := range tests {
		re, err := compileJavaFull(tc.pattern, tc.ci)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.pattern, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.pattern, err)
			continue
		}
		if got := re.MatchString(tc.input); got != tc.match {
			t.Errorf("%q ~ %q = %v", tc.pattern, tc.input, got)
		}
	}
}

func TestJavaReplacement(t *testing.T) {
	tests := []struct{ regex, repl, in, want, err string }{
		{regex: `(.*)customers_shard(.*)`, repl: "$1customers_all_shards", in: "db.inventory.customers_shard1", want: "db.inventory.customers_all_shards"},
		{regex: `([^.]+)\.([^.]+)\.([^.]+)`, repl: "$3", in: "dbserver1.inventory.customers", want: "customers"},
		// Java reads "$12" as group 1 then "2" when there is no group 12.
		{regex: `(a)(b)`, repl: "$12", in: "ab", want: "a2"},
		{regex: `(a)(b)`, repl: `\$1-$2`, in: "ab", want: "$1-b"},
		{regex: `(?<routedByValue>.*)`, repl: "outbox.event.${routedByValue}", in: "Order", want: "outbox.event.Order"},
		{regex: `(a)`, repl: "$2", err: "no group 2"},
		{regex: `(a)`, repl: "${x}", err: "no group with name {x}"},
		{regex: `(a)`, repl: `x\`, err: "escaped is missing"},
	}
	for _, tc := range tests {
		re, repl, err := compileRouter(tc.regex, tc.repl, false)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q/%q: err = %v", tc.regex, tc.repl, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := javaFullReplace(re, repl, tc.in); !ok || got != tc.want {
			t.Errorf("%q/%q on %q = %q, want %q", tc.regex, tc.repl, tc.in, got, tc.want)
		}
	}
}

func TestRegexLists(t *testing.T) {
	if got := splitRegexList(`inventory\.a\,b, inventory.c ,,`); len(got) != 2 || got[0] != `inventory\.a,b` || got[1] != "inventory.c" {
		t.Errorf("splitRegexList = %q", got)
	}
	for pattern, want := range map[string]string{
		"inventory.customers":   "inventory.customers",
		`inventory\.customers`:  "inventory.customers",
		`inventory\.cust_\d+`:   "",
		"inventory.(customers)": "",
		"public.*":              "",
	} {
		got, ok := literalOf(pattern)
		if (want == "") == ok || got != want && ok {
			t.Errorf("literalOf(%q) = %q, %v", pattern, got, ok)
		}
	}
}

func TestSecretKeys(t *testing.T) {
	secret := []string{
		"database.password", "connection.password", "ssl.key.password", "sasl.jaas.config",
		"aws.secret.access.key", "snowflake.private.key", "snowflake.private.key.passphrase",
		"kafka.api.key", "kafka.api.secret", "value.converter.basic.auth.user.info",
		"keyfile", "azure.client_secret", "http.auth.token", "gcs.credentials.json", "api-token",
	}
	visible := []string{
		"database.user", "key.converter", "key.converter.schema.registry.url", "table.field.event.key",
		"aws.access.key.id", "transforms.unwrap.type", "pk.fields", "topic.prefix", "key.ignore",
	}
	for _, k := range secret {
		if !isSecretKey(k) {
			t.Errorf("%s should be secret", k)
		}
	}
	for _, k := range visible {
		if isSecretKey(k) {
			t.Errorf("%s should be visible", k)
		}
	}
	for v, want := range map[string]string{
		"jdbc:postgresql://h/db?user=u&password=p&ssl=true": "jdbc:postgresql://h/db?user=u&password=[redacted]&ssl=true",
		"mongodb://u:p@h:27017/?replicaSet=rs0":             "mongodb://u:[redacted]@h:27017/?replicaSet=rs0",
		"jdbc:sqlserver://h;password=${env:PW};db=x":        "jdbc:sqlserver://h;password=${env:PW};db=x",
		"http://plain:8083":                                 "http://plain:8083",
	} {
		if got := redactValue("connection.url", v); got != want {
			t.Errorf("redactValue(%q) = %q, want %q", v, got, want)
		}
	}
}

// TestJDBCURLs reads URLs from the drivers' documentation and from real
// connector configs the way the drivers read them.
func TestJDBCURLs(t *testing.T) {
	tests := []struct {
		url, user, table, want, err string
		unresolved                  bool
	}{
		{url: "jdbc:postgresql://Postgres:5432/inventory?user=u&password=p", table: "customers", want: "urn:table:postgres://postgres:5432/inventory.public.customers"},
		{url: "jdbc:postgresql://pg1,pg2:5433/inventory?currentSchema=sales", table: "orders", want: "urn:table:postgres://pg1:5432/inventory.sales.orders"},
		{url: "jdbc:postgresql://pg/inventory", table: "crm.accounts", want: "urn:table:postgres://pg:5432/inventory.crm.accounts"},
		{url: "jdbc:postgresql://pg/inventory", table: `"Sales"."Orders"`, want: "urn:table:postgres://pg:5432/inventory.Sales.Orders"},
		// pgjdbc: no host means localhost; no database means the user's name
		{url: "jdbc:postgresql:accounting", table: "t", want: "urn:table:postgres://localhost:5432/accounting.public.t"},
		{url: "jdbc:postgresql://[::1]:5740/accounting", table: "t", want: "urn:table:postgres://[::1]:5740/accounting.public.t"},
		{url: "jdbc:postgresql://pg/?user=app&password=x", table: "t", want: "urn:table:postgres://pg:5432/app.public.t"},
		{url: "jdbc:postgresql://pg:5432/", user: "reporting", table: "t", want: "urn:table:postgres://pg:5432/reporting.public.t"},
		{url: "jdbc:postgresql://test_postgres:5432/postgres?user=postgres&password=datahub", table: "member", want: "urn:table:postgres://test_postgres:5432/postgres.public.member"},
		{url: "jdbc:postgresql://h1:5432,h2:5433/db?targetServerType=primary&loadBalanceHosts=true", table: "t", want: "urn:table:postgres://h1:5432/db.public.t"},
		// MySQL Connector/J: user-info is never the host
		{url: "jdbc:mysql://foo:datahub@test_mysql:3306/librarydb", table: "book", want: "urn:table:mysql://test_mysql:3306/librarydb.book"},
		{url: "jdbc:mysql://sandy:p%40ss@mysql/librarydb", table: "book", want: "urn:table:mysql://mysql:3306/librarydb.book"},
		{url: "jdbc:mysql://mysql:3306/analytics", table: "orders", want: "urn:table:mysql://mysql:3306/analytics.orders"},
		{url: "jdbc:mysql://address=(protocol=tcp)(host=Primary.Example)(port=3307)/sales", table: "orders", want: "urn:table:mysql://primary.example:3307/sales.orders"},
		{url: "jdbc:mysql://(host=myhost1,port=1111,key1=value1),(host=myhost2,port=2222)/sales", table: "orders", want: "urn:table:mysql://myhost1:1111/sales.orders"},
		{url: "jdbc:mysql://sandy:secret@[myhost1:1111,myhost2:2222]/sales", table: "orders", want: "urn:table:mysql://myhost1:1111/sales.orders"},
		{url: "jdbc:mysql://[(host=myhost1,port=1111,user=sandy,password=secret),(host=myhost2,port=2222)]/sales", table: "orders", want: "urn:table:mysql://myhost1:1111/sales.orders"},
		{url: "jdbc:mysql:loadbalance://host1:3306,host2:3307/shop?loadBalanceBlocklistTimeout=5000", table: "orders", want: "urn:table:mysql://host1:3306/shop.orders"},
		{url: "jdbc:mysql:replication://source,replica1,replica2/shop", table: "orders", want: "urn:table:mysql://source:3306/shop.orders"},
		{url: "jdbc:mysql://[::1]:3306/shop", table: "orders", want: "urn:table:mysql://[::1]:3306/shop.orders"},
		{url: "jdbc:mariadb://maria/analytics", table: "other.orders", want: "urn:table:mysql://maria:3306/other.orders"},
		{url: "jdbc:mariadb:replication://master1,slave1/test?user=root&password=myPassword", table: "t", want: "urn:table:mysql://master1:3306/test.t"},
		{url: "jdbc:mariadb://address=(host=localhost)(port=3306)(type=master),address=(host=replica)(port=3307)(type=slave)/db", table: "t", want: "urn:table:mysql://localhost:3306/db.t"},
		{url: "jdbc:mysql://mysql:3306/", err: "no database"},
		// SQL Server (Microsoft and jTDS)
		{url: "jdbc:sqlserver://sql:1433;databaseName=sales;encrypt=true", table: "orders", want: "urn:table:sqlserver://sql:1433/sales.dbo.orders"},
		{url: `jdbc:sqlserver://sql\inst;database=sales`, table: "ops.orders", want: "urn:table:sqlserver://sql:1433/sales.ops.orders"},
		{url: `jdbc:sqlserver://sqlserver.example.com\SQLEXPRESS:1434;database=x`, table: "t", want: "urn:table:sqlserver://sqlserver.example.com:1434/x.dbo.t"},
		{url: "jdbc:sqlserver://localhost;instanceName=instance1;DatabaseName=AdventureWorks;user=MyUserName;password={pass;word=x};", table: "t", want: "urn:table:sqlserver://localhost:1433/AdventureWorks.dbo.t"},
		{url: "jdbc:sqlserver://;serverName=sql.example.com;portNumber=14330;databaseName=db", table: "t", want: "urn:table:sqlserver://sql.example.com:14330/db.dbo.t"},
		{url: "jdbc:jtds:sqlserver://mssql:1433/orders;user=sa;password=x", table: "t", want: "urn:table:sqlserver://mssql:1433/orders.dbo.t"},
		// Oracle thin: user/password@, SID, services, EZConnect, descriptors
		{url: "jdbc:oracle:thin:@oracle:1521:ORCL", user: "scott", table: "emp", want: "urn:table:oracle://oracle:1521/ORCL.SCOTT.emp"},
		{url: "jdbc:oracle:thin:scott/tiger@myhost:1521:orcl", table: "emp", want: "urn:table:oracle://myhost:1521/orcl.SCOTT.emp"},
		{url: `jdbc:oracle:thin:scott/"p@ss/word"@//myhost:1521/svc`, table: "emp", want: "urn:table:oracle://myhost:1521/svc.SCOTT.emp"},
		{url: "jdbc:oracle:thin:@//oracle:1522/ORCLPDB1", table: "HR.EMPLOYEES", want: "urn:table:oracle://oracle:1522/ORCLPDB1.HR.EMPLOYEES"},
		{url: "jdbc:oracle:thin:@myhost/XEPDB1", table: "HR.T", want: "urn:table:oracle://myhost:1521/XEPDB1.HR.T"},
		{url: "jdbc:oracle:thin:@tcps://adb.eu-frankfurt-1.oraclecloud.com:1522/g13_high.adb.oraclecloud.com?wallet_location=/wallet", table: "HR.T", want: "urn:table:oracle://adb.eu-frankfurt-1.oraclecloud.com:1522/g13_high.adb.oraclecloud.com.HR.T"},
		{url: "jdbc:oracle:thin:@//h1:1521,h2:1521/svc", table: "HR.T", want: "urn:table:oracle://h1:1521/svc.HR.T"},
		{url: "jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=ora)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=svc)))", table: "HR.T", want: "urn:table:oracle://ora:1521/svc.HR.T"},
		{url: "jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(PROTOCOL=TCP)(HOST=h1)(PORT=1531))(ADDRESS=(PROTOCOL=TCP)(HOST=h2)(PORT=1521)))(CONNECT_DATA=(SID=ORCL)))", table: "HR.T", want: "urn:table:oracle://h1:1531/ORCL.HR.T"},
		{url: "jdbc:oracle:thin:@prod_alias", table: "HR.T", want: "urn:table:oracle://unknown:1521/prod_alias.HR.T", unresolved: true},
		// Db2, Redshift
		{url: "jdbc:db2://db2:50000/SAMPLE", user: "db2inst1", table: "EMP", want: "urn:table:db2://db2:50000/SAMPLE.DB2INST1.EMP"},
		{url: "jdbc:db2://db2:50000/SAMPLE:currentSchema=APP;", table: "EMP", want: "urn:table:db2://db2:50000/SAMPLE.APP.EMP"},
		{url: "jdbc:redshift://examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com/dev", table: "t", want: "urn:table:redshift://examplecluster.abc123xyz789.us-west-2.redshift.amazonaws.com:5439/dev.public.t"},
		// placeholders: an explicit unknown host, not an error
		{url: "${env:MYSQL_CONNECTION_URL}", table: "book", want: "urn:table:jdbc://unknown/book", unresolved: true},
		{url: "${file:/opt/secrets/connect.properties:url}", table: "librarydb.book", want: "urn:table:jdbc://unknown/librarydb.book", unresolved: true},
		{url: "jdbc:mysql://${env:DB_HOST}:3306/shop", table: "orders", want: "urn:table:mysql://unknown:3306/shop.orders", unresolved: true},
		{url: "jdbc:postgresql://pg:5432/db?password=${env:PW}", table: "t", want: "urn:table:postgres://pg:5432/db.public.t"},
		{url: "jdbc:h2:mem:test", err: "unsupported JDBC subprotocol"},
		{url: "postgresql://pg/db", err: "not a JDBC URL"},
		{url: "jdbc:postgresql://pg/", err: "no database"},
		{url: "jdbc:mysql://db:33o6/x", err: "not a number"},
		{url: "", err: "not set"},
	}
	for _, tc := range tests {
		jt, err := parseJDBCURL(tc.url, tc.user)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v", tc.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		if got := string(jt.qualify(tc.table).urn()); got != tc.want {
			t.Errorf("%s + %s = %s, want %s", tc.url, tc.table, got, tc.want)
		}
		if (jt.unresolved != "") != tc.unresolved {
			t.Errorf("%s: unresolved = %q", tc.url, jt.unresolved)
		}
	}
}

func TestSQLTableRefs(t *testing.T) {
	for q, want := range map[string]string{
		"SELECT o.id, c.email FROM shop.orders o JOIN customers AS c ON c.id = o.customer_id":        "shop.orders customers",
		"select * from a, b as bb, c where a.id = b.id":                                              "a b c",
		"SELECT x FROM (SELECT * FROM inner_t) sub LEFT OUTER JOIN \"Other\".\"T\" t ON t.x = sub.x": `inner_t "Other"."T"`,
		"SELECT 'FROM fake' AS s FROM real_t -- FROM comment\n WHERE 1=1 /* JOIN nope */":            "real_t",
		"SELECT id FROM [dbo].[Orders] WITH (NOLOCK)":                                                "[dbo].[Orders]",
	} {
		if got := strings.Join(sqlTableRefs(q), " "); got != want {
			t.Errorf("%q: got %q, want %q", q, got, want)
		}
	}
}

func TestSinkNaming(t *testing.T) {
	for topic, want := range map[string]string{
		"mytopic2":  "mytopic2",
		"orders.v1": "orders_v1_390712796",
		"1st-topic": "_1st_topic_1458840052",
		"ünïcode":   "",
		"a":         "",
	} {
		got, err := snowflakeTable(topic, "")
		if err != nil {
			t.Fatal(err)
		}
		if want != "" && got != want {
			t.Errorf("snowflakeTable(%q) = %q, want %q", topic, got, want)
		}
		if want == "" && !strings.HasPrefix(got, "_") && !strings.Contains(got, "_") {
			t.Errorf("snowflakeTable(%q) = %q is not sanitised", topic, got)
		}
	}
	if got, _ := snowflakeTable("orders.v1", "orders.v1:ORDERS,pay.*:PAYMENTS"); got != "ORDERS" {
		t.Errorf("mapped = %q", got)
	}
	if got, _ := snowflakeTable("payments-eu", "orders:ORDERS,pay.*:PAYMENTS"); got != "PAYMENTS" {
		t.Errorf("regex-mapped = %q", got)
	}
	if _, err := snowflakeTable("x", "broken"); err == nil {
		t.Error("malformed topic2table map accepted")
	}
	for raw, want := range map[string]string{
		"https://xy12345.us-east-1.snowflakecomputing.com:443": "xy12345.us-east-1",
		"myorg-myaccount.snowflakecomputing.com":               "myorg-myaccount",
		"MyOrg-MyAccount.privatelink.snowflakecomputing.com":   "myorg-myaccount",
	} {
		if got, err := snowflakeAccount(raw); err != nil || got != want {
			t.Errorf("snowflakeAccount(%q) = %q, %v", raw, got, err)
		}
	}
	if javaStringHash("orders.v1") != -390712796 || javaStringHash("") != 0 {
		t.Error("javaStringHash differs from java.lang.String.hashCode")
	}
	if javaAbs(-2147483648) != -2147483648 {
		t.Error("javaAbs(MinInt32) must stay negative, as Math.abs does")
	}
}

func TestLeafPaths(t *testing.T) {
	got := leafPaths([]string{"after", "after.id", "after.address", "after.address.city", "op", "source", "source.ts_ms", "a.b", "ab"})
	want := "a.b ab after.address.city after.id op source.ts_ms"
	if strings.Join(got, " ") != want {
		t.Errorf("leafPaths = %v", got)
	}
}

func TestMongoHost(t *testing.T) {
	for _, tc := range []struct{ conn, hosts, host, port string }{
		{conn: "mongodb://u:p@m0.example:27018,m1:27017/?replicaSet=rs0", host: "m0.example", port: "27018"},
		{conn: "mongodb+srv://cluster0.example.mongodb.net/?retryWrites=true", host: "cluster0.example.mongodb.net"},
		{hosts: "rs0/mongodb:27017,mongodb2:27017", host: "mongodb", port: "27017"},
	} {
		h, p, err := mongoHost(tc.conn, tc.hosts)
		if err != nil || h != tc.host || p != tc.port {
			t.Errorf("mongoHost(%q, %q) = %q %q %v", tc.conn, tc.hosts, h, p, err)
		}
	}
	if _, _, err := mongoHost("", ""); err == nil {
		t.Error("no host accepted")
	}
}
