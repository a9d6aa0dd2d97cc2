package openlineage

import (
	"net"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Every identity another source also names (topics, their fields, tables,
// columns, datasets, Kafka Streams jobs) is spelled by catalog/urns.go, so
// a dataset an OpenLineage event names lands on the entity the crawlers
// assert.

// escapeIdentity applies the URN escaping rule of catalog.EscapeIdentity.
func escapeIdentity(s string) string { return catalog.EscapeIdentity(s) }

// escapePath escapes a field path that follows a dataset identity which may
// itself contain '/': escapeIdentity plus '/' → %2F, so that the last '/'
// of the URN always separates the dataset from the path.
func escapePath(path string) string {
	return strings.ReplaceAll(escapeIdentity(path), "/", "%2F")
}

// JobURN is the URN of the OpenLineage job name in namespace:
// urn:job:<namespace>/<name>, both escaped as URN identities.
func JobURN(namespace, name string) catalog.URN {
	return catalog.MakeURN(catalog.KindJob, escapeIdentity(namespace)+"/"+escapeIdentity(name))
}

// JobScope is the snapshot scope of an OpenLineage job's JOB asset and its
// dataset-level links: job/<namespace>/<name>.
func JobScope(namespace, name string) string { return "job/" + namespace + "/" + name }

// ColumnsScope is the snapshot scope of the field-level DERIVES links an
// OpenLineage job's column-lineage facets assert: columns/<namespace>/<name>.
func ColumnsScope(namespace, name string) string { return "columns/" + namespace + "/" + name }

// DatasetScope is the snapshot scope of a table or dataset the openlineage
// source asserts, with its fields and CONTAINS links: dataset/<urn>. It is
// shared by every job that reads or writes the dataset.
func DatasetScope(u catalog.URN) string { return "dataset/" + string(u) }

// AppScope is the snapshot scope of a posted Kafka Streams topology:
// app/<cluster>/<application.id>.
func AppScope(cluster, appID string) string { return "app/" + cluster + "/" + appID }

// datasetRef is an OpenLineage dataset mapped onto a catalog entity.
type datasetRef struct {
	// Namespace and Name are the normalised OpenLineage identity.
	Namespace string
	Name      string
	URN       catalog.URN
	Kind      catalog.Kind // TOPIC, TABLE or DATASET
	// Cluster is the Kafka source a TOPIC resolved to.
	Cluster string
	// kafka marks a Kafka dataset (resolved or not): its fields are record
	// value fields and carry the "value/" part.
	kafka bool
}

// owned reports whether the openlineage source asserts the dataset as an
// asset. Topics of crawled clusters belong to the kafka crawler: events
// only link to them.
func (d datasetRef) owned() bool { return d.Kind != catalog.KindTopic }

// fieldURN names a field (column) of the dataset:
//
//	TOPIC          urn:field:<cluster>/<topic>/value/<path>
//	Kafka DATASET  urn:field:kafka://host:port/<topic>/value/<path>
//	TABLE          urn:column:<namespace>/<name>/<column>
//	other DATASET  urn:field:<namespace>/<name>/<path>
func (d datasetRef) fieldURN(path string) catalog.URN {
	switch {
	case d.Kind == catalog.KindTopic:
		return catalog.FieldURN(d.Cluster, d.Name, "value", path)
	case d.Kind == catalog.KindTable:
		return catalog.ColumnURN(d.URN, path)
	case d.kafka:
		return catalog.MakeURN(catalog.KindField, d.URN.Identity()+"/value/"+escapePath(path))
	default:
		return catalog.MakeURN(catalog.KindField, d.URN.Identity()+"/"+escapePath(path))
	}
}

// databaseScheme maps the namespace scheme of a database (OpenLineage
// naming spec, plus the spellings integrations use) to the scheme the
// connect crawler writes and the default port added when the namespace has
// none. Datasets of databases are tables: urn:table:<namespace>/<name>.
func databaseScheme(scheme string) (canonical, port string, ok bool) {
	switch scheme {
	case "postgres", "postgresql":
		return "postgres", "5432", true
	case "mysql", "mariadb":
		return "mysql", "3306", true
	case "sqlserver", "mssql":
		return "sqlserver", "1433", true
	case "oracle":
		return "oracle", "1521", true
	case "db2":
		return "db2", "50000", true
	case "mongodb":
		return "mongodb", "27017", true
	case "redshift":
		return "redshift", "5439", true
	case "teradata":
		return "teradata", "1025", true
	case "trino", "presto", "hive", "awsathena", "clickhouse", "cassandra", "spanner":
		return scheme, "", true
	}
	return "", "", false
}

// pathScheme maps the schemes of file systems and object stores to their
// canonical spelling (s3a and s3n are s3). Their dataset names are paths.
func pathScheme(scheme string) (string, bool) {
	switch scheme {
	case "s3", "s3a", "s3n":
		return "s3", true
	case "gs", "hdfs", "file", "dbfs", "abfss", "wasbs":
		return scheme, true
	}
	return "", false
}

// splitNamespace cuts a namespace into scheme and the rest after "://".
// "file" and "dbfs" alone, and "file:/p" or "dbfs:/p" (how the Java client
// writes a local or Databricks path as a namespace), have an empty
// authority.
func splitNamespace(ns string) (scheme, rest string, ok bool) {
	if scheme, rest, ok = strings.Cut(ns, "://"); ok {
		return strings.ToLower(scheme), rest, true
	}
	lower := strings.ToLower(ns)
	for _, s := range []string{"file", "dbfs"} {
		if lower == s {
			return s, "", true
		}
		if p, ok := strings.CutPrefix(lower, s+":/"); ok {
			return s, "/" + ns[len(ns)-len(p):], true
		}
	}
	return "", "", false
}

// joinPath joins a namespace's path and a dataset name with exactly one
// '/' and without a trailing one: the location the two stand for.
func joinPath(nsPath, name string) string {
	parts := make([]string, 0, 2)
	for _, p := range []string{nsPath, name} {
		if p = strings.Trim(p, "/"); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "/")
}

// resolveDataset maps an OpenLineage dataset (namespace, name) onto a
// catalog URN:
//
//   - kafka://host:port + topic → the crawled topic when clusters resolves
//     one of the (comma-separated) host:port of the namespace, else
//     urn:dataset:kafka://host:port/<topic>;
//   - database namespaces → urn:table:<namespace>/<name>, the scheme spelled
//     as the connect crawler spells it (postgresql → postgres, mssql →
//     sqlserver, mariadb → mysql), the host lower-cased and the default port
//     added; snowflake://<account> lower-cased without .snowflakecomputing.com;
//     the namespace "bigquery";
//   - file systems and object stores (s3/s3a/s3n, gs, hdfs, file, dbfs,
//     abfss, wasbs) → urn:dataset:<scheme>://<authority>/<path>: the
//     location the Naming spec's namespace and name stand for, whether the
//     name starts with '/' (hdfs, file, dbfs) or not (s3, gs), a trailing
//     '/' dropped; "file" and "dbfs" alone have an empty authority
//     (file:///tmp/x);
//   - any other scheme://… namespace → urn:dataset:<namespace>/<name>, the
//     namespace as given (scheme lower-cased) and exactly one '/' before the
//     name (inmemory:// + df → inmemory:///df);
//   - a namespace without a scheme → urn:dataset:<namespace>/<name> (a
//     trailing '/' of the namespace dropped).
func resolveDataset(namespace, name string, clusters func(string) (string, bool)) datasetRef {
	ns := strings.TrimSpace(namespace)
	name = strings.TrimSpace(name)
	lscheme, rest, hasScheme := splitNamespace(ns)
	if !hasScheme {
		ns = strings.TrimRight(ns, "/")
		if strings.EqualFold(ns, "bigquery") {
			return tableRef("bigquery", name)
		}
		return datasetOf(ns, name, false)
	}
	authority, path, _ := strings.Cut(rest, "/")
	switch {
	case lscheme == "kafka":
		authority = strings.ToLower(authority)
		if clusters != nil {
			for _, hp := range strings.Split(authority, ",") {
				if c, ok := clusters(strings.TrimSpace(hp)); ok {
					return datasetRef{Namespace: "kafka://" + authority, Name: name, URN: catalog.TopicURN(c, name), Kind: catalog.KindTopic, Cluster: c, kafka: true}
				}
			}
		}
		return datasetOf("kafka://"+authority, name, true)
	case lscheme == "snowflake":
		account := strings.ToLower(authority)
		account = strings.TrimSuffix(account, ".snowflakecomputing.com")
		account = strings.TrimSuffix(account, ".privatelink")
		return tableRef("snowflake://"+account, name)
	case lscheme == "bigquery" && authority == "" && strings.Trim(path, "/") == "":
		return tableRef("bigquery", name) // bigquery:// (the Naming table's spelling)
	}
	if canonical, port, ok := databaseScheme(lscheme); ok {
		host := strings.ToLower(authority)
		if _, at, ok := strings.Cut(host, "@"); ok {
			host = at // never keep credentials
		}
		if port != "" && !strings.Contains(host, ",") {
			if _, _, err := net.SplitHostPort(host); err != nil {
				host = net.JoinHostPort(strings.Trim(host, "[]"), port)
			}
		}
		nsOut := canonical + "://" + host
		if path = strings.Trim(path, "/"); path != "" {
			nsOut += "/" + path
		}
		return tableRef(nsOut, name)
	}
	if store, ok := pathScheme(lscheme); ok {
		host := authority
		if store == "hdfs" {
			host = strings.ToLower(host)
		}
		nsOut := store + "://" + host
		if p := strings.Trim(path, "/"); p != "" {
			nsOut += "/" + p // a namespace carrying a path (s3://bucket/prefix) keeps it
		}
		loc := store + "://" + host
		if p := joinPath(path, name); p != "" {
			loc += "/" + p
		}
		return datasetRef{Namespace: nsOut, Name: name, URN: catalog.MakeURN(catalog.KindDataset, escapeIdentity(loc)), Kind: catalog.KindDataset}
	}
	// Another scheme: the namespace as given, one separator before the name.
	nsOut := lscheme + "://" + rest
	base := nsOut
	if rest != "" {
		base = lscheme + "://" + strings.TrimRight(rest, "/")
	}
	return datasetRef{Namespace: nsOut, Name: name, URN: catalog.MakeURN(catalog.KindDataset, escapeIdentity(base+"/"+strings.TrimLeft(name, "/"))), Kind: catalog.KindDataset}
}

func tableRef(ns, name string) datasetRef {
	return datasetRef{Namespace: ns, Name: name, URN: catalog.TableURN(ns, name), Kind: catalog.KindTable}
}

func datasetOf(ns, name string, kafka bool) datasetRef {
	return datasetRef{Namespace: ns, Name: name, URN: catalog.DatasetURN(ns, name), Kind: catalog.KindDataset, kafka: kafka}
}
