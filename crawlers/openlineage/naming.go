package openlineage

import (
	"net"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// The URN helpers below repeat the kafka crawler's rules (crawlers/kafka
// urn.go) instead of importing that package: crawlers meet in the catalog,
// not in each other's code. TestURNsAgreeWithKafkaCrawler pins them.

// escapeIdentity applies the URN escaping rule of catalog.EscapeIdentity.
func escapeIdentity(s string) string { return catalog.EscapeIdentity(s) }

// escapePath escapes a field path that follows a dataset identity which may
// itself contain '/': escapeIdentity plus '/' → %2F, so that the last '/'
// of the URN always separates the dataset from the path.
func escapePath(path string) string {
	return strings.ReplaceAll(escapeIdentity(path), "/", "%2F")
}

// topicURN is kafka.TopicURN: urn:topic:<cluster>/<topic>.
func topicURN(cluster, topic string) catalog.URN {
	return catalog.MakeURN(catalog.KindTopic, cluster+"/"+escapeIdentity(topic))
}

// clusterURN is kafka.ClusterURN: urn:kafka:<cluster>.
func clusterURN(cluster string) catalog.URN {
	return catalog.MakeURN(catalog.KindKafkaCluster, cluster)
}

// streamsJobURN is kafka.StreamsJobURN:
// urn:job:kafka-streams://<cluster>/<application.id>.
func streamsJobURN(cluster, appID string) catalog.URN {
	return catalog.MakeURN(catalog.KindJob, "kafka-streams://"+cluster+"/"+escapeIdentity(appID))
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
		return catalog.MakeURN(catalog.KindField, d.Cluster+"/"+escapeIdentity(d.Name)+"/value/"+escapeIdentity(path))
	case d.Kind == catalog.KindTable:
		return catalog.MakeURN(catalog.KindColumn, d.URN.Identity()+"/"+escapePath(path))
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

// objectStoreScheme maps file-system and object-store schemes to their
// canonical spelling (s3a and s3n are s3). Their dataset names are paths; a
// leading '/' is dropped, as the connect crawler names them.
func objectStoreScheme(scheme string) (string, bool) {
	switch scheme {
	case "s3", "s3a", "s3n":
		return "s3", true
	case "gs", "hdfs":
		return scheme, true
	}
	return "", false
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
//   - s3/s3a/s3n, gs, hdfs → urn:dataset:<scheme>://<bucket>/<path> without
//     a leading '/' in the path;
//   - anything else → urn:dataset:<namespace>/<name> as given (a trailing
//     '/' of the namespace dropped).
func resolveDataset(namespace, name string, clusters func(string) (string, bool)) datasetRef {
	ns := strings.TrimRight(strings.TrimSpace(namespace), "/")
	name = strings.TrimSpace(name)
	scheme, rest, hasScheme := strings.Cut(ns, "://")
	lscheme := strings.ToLower(scheme)
	if !hasScheme {
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
					return datasetRef{Namespace: "kafka://" + authority, Name: name, URN: topicURN(c, name), Kind: catalog.KindTopic, Cluster: c, kafka: true}
				}
			}
		}
		return datasetOf("kafka://"+authority, name, true)
	case lscheme == "snowflake":
		account := strings.ToLower(authority)
		account = strings.TrimSuffix(account, ".snowflakecomputing.com")
		account = strings.TrimSuffix(account, ".privatelink")
		return tableRef("snowflake://"+account, name)
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
		if path != "" {
			nsOut += "/" + path
		}
		return tableRef(nsOut, name)
	}
	if store, ok := objectStoreScheme(lscheme); ok {
		host := authority
		if store == "hdfs" {
			host = strings.ToLower(host)
		}
		nsOut := store + "://" + host
		if path != "" {
			// A namespace carrying a path (s3://bucket/prefix) keeps it.
			nsOut += "/" + path
		}
		return datasetOf(nsOut, strings.TrimLeft(name, "/"), false)
	}
	return datasetOf(lscheme+"://"+rest, name, false)
}

func tableRef(ns, name string) datasetRef {
	return datasetRef{Namespace: ns, Name: name, URN: catalog.MakeURN(catalog.KindTable, escapeIdentity(ns+"/"+name)), Kind: catalog.KindTable}
}

func datasetOf(ns, name string, kafka bool) datasetRef {
	return datasetRef{Namespace: ns, Name: name, URN: catalog.MakeURN(catalog.KindDataset, escapeIdentity(ns+"/"+name)), Kind: catalog.KindDataset, kafka: kafka}
}
