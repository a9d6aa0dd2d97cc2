package catalog

import (
	"strconv"
	"strings"
)

// This file is the only code that spells the identities of entities as URNs
// (docs/urns.md is the contract). Every constructor has a parser that gives
// back what the constructor was given, so no package needs to cut URNs
// apart by hand.
//
// Escaping: every name a source gives is escaped with EscapeIdentity (which
// keeps '/' and non-ASCII letters). A column also has its '/' written %2F,
// so that the last '/' of a column URN always separates it from its table.
// Source names (cluster, registry and Connect source) are configuration
// words without '/' (ValidateSource) and are never escaped.
//
// One spelling is ambiguous and kept for compatibility: the topic inside a
// field URN is not '/'-escaped. Kafka topic names cannot hold '/', so every
// real topic parses back; a name with a "/key/" or "/value/" segment would
// not (URN.Field documents the rule).

// Record parts of a Kafka message that field URNs name.
const (
	PartKey   = "key"
	PartValue = "value"
)

// streamsScheme is the OpenLineage namespace scheme of Kafka Streams jobs.
const streamsScheme = "kafka-streams://"

// escapeSegment is EscapeIdentity plus '/' → %2F, for a name followed by
// another segment of the identity.
func escapeSegment(s string) string {
	return strings.ReplaceAll(EscapeIdentity(s), "/", "%2F")
}

// UnescapeIdentity reverses EscapeIdentity (and the %2F of escaped
// segments): it decodes every %XX. It reports false when s holds a '%' not
// followed by two hex digits, which EscapeIdentity never writes.
func UnescapeIdentity(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// sourceWord reports whether s can be a configured source name (see
// ValidateSource; the reserved name is accepted, a parser does not judge).
func sourceWord(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '.' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

// identityOf returns u's identity when u is of kind k.
func (u URN) identityOf(k Kind) (string, bool) {
	scheme, id, ok := u.split()
	if !ok || scheme != k.Scheme() {
		return "", false
	}
	return id, true
}

// sourceAndName parses "<source>/<escaped name>" identities.
func (u URN) sourceAndName(k Kind) (source, name string, ok bool) {
	id, ok := u.identityOf(k)
	if !ok {
		return "", "", false
	}
	source, rest, ok := strings.Cut(id, "/")
	if !ok || !sourceWord(source) || rest == "" {
		return "", "", false
	}
	name, ok = UnescapeIdentity(rest)
	return source, name, ok
}

// single parses "<source>" identities.
func (u URN) single(k Kind) (string, bool) {
	id, ok := u.identityOf(k)
	if !ok || !sourceWord(id) {
		return "", false
	}
	return id, true
}

// --- Kafka ---------------------------------------------------------------

// KafkaClusterURN is the URN of the Kafka cluster configured as source
// cluster: urn:kafka:<cluster>.
func KafkaClusterURN(cluster string) URN { return MakeURN(KindKafkaCluster, cluster) }

// KafkaCluster parses a KafkaClusterURN.
func (u URN) KafkaCluster() (cluster string, ok bool) { return u.single(KindKafkaCluster) }

// BrokerURN is the URN of broker node id of cluster: urn:broker:<cluster>/<id>.
func BrokerURN(cluster string, id int32) URN {
	return MakeURN(KindBroker, cluster+"/"+strconv.Itoa(int(id)))
}

// Broker parses a BrokerURN.
func (u URN) Broker() (cluster string, id int32, ok bool) {
	cluster, rest, ok := u.sourceAndName(KindBroker)
	if !ok {
		return "", 0, false
	}
	n, err := strconv.ParseInt(rest, 10, 32)
	if err != nil || strconv.Itoa(int(n)) != rest {
		return "", 0, false
	}
	return cluster, int32(n), true
}

// TopicURN is the URN of topic in cluster: urn:topic:<cluster>/<topic>.
// Every name Kafka accepts is kept verbatim.
func TopicURN(cluster, topic string) URN {
	return MakeURN(KindTopic, cluster+"/"+EscapeIdentity(topic))
}

// Topic parses a TopicURN.
func (u URN) Topic() (cluster, topic string, ok bool) {
	cluster, topic, ok = u.sourceAndName(KindTopic)
	return cluster, topic, ok && topic != ""
}

// FieldURN is the URN of the field at path (a dotted path such as
// "customer.address.city" or "items[].sku") of the key or value (part) of
// topic: urn:field:<cluster>/<topic>/<part>/<path>. The path is escaped by
// EscapeIdentity and keeps any '/', since it is the last segment.
func FieldURN(cluster, topic, part, path string) URN {
	return MakeURN(KindField, cluster+"/"+EscapeIdentity(topic)+"/"+part+"/"+EscapeIdentity(path))
}

// Field parses a FieldURN. The topic ends at the first "/key/" or "/value/"
// after it, which is exact for every topic name Kafka accepts (they hold no
// '/'); the path may hold anything. It reports false for the fields of
// datasets (urn:field:<namespace>/<name>/<path>), which name no cluster.
func (u URN) Field() (cluster, topic, part, path string, ok bool) {
	id, ok := u.identityOf(KindField)
	if !ok {
		return "", "", "", "", false
	}
	cluster, rest, ok := strings.Cut(id, "/")
	if !ok || !sourceWord(cluster) {
		return "", "", "", "", false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] != '/' {
			continue
		}
		for _, p := range []string{PartKey, PartValue} {
			after, found := strings.CutPrefix(rest[i+1:], p+"/")
			if !found || after == "" {
				continue
			}
			topic, ok1 := UnescapeIdentity(rest[:i])
			path, ok2 := UnescapeIdentity(after)
			if !ok1 || !ok2 {
				return "", "", "", "", false
			}
			return cluster, topic, p, path, true
		}
	}
	return "", "", "", "", false
}

// TopicOfField returns the URN of the topic a FieldURN belongs to.
func (u URN) TopicOfField() (URN, bool) {
	cluster, topic, _, _, ok := u.Field()
	if !ok {
		return "", false
	}
	return TopicURN(cluster, topic), true
}

// GroupURN is the URN of consumer group id in cluster:
// urn:group:<cluster>/<group id>.
func GroupURN(cluster, group string) URN {
	return MakeURN(KindConsumerGroup, cluster+"/"+EscapeIdentity(group))
}

// Group parses a GroupURN.
func (u URN) Group() (cluster, group string, ok bool) { return u.sourceAndName(KindConsumerGroup) }

// PrincipalURN is the URN of an ACL principal ("User:alice") in cluster:
// urn:principal:<cluster>/<principal>.
func PrincipalURN(cluster, principal string) URN {
	return MakeURN(KindPrincipal, cluster+"/"+EscapeIdentity(principal))
}

// Principal parses a PrincipalURN.
func (u URN) Principal() (cluster, principal string, ok bool) {
	return u.sourceAndName(KindPrincipal)
}

// StreamsJobURN is the URN of the Kafka Streams application appID running
// against cluster: urn:job:kafka-streams://<cluster>/<application.id>, the
// namespace and name the OpenLineage integration of Kafka Streams uses.
func StreamsJobURN(cluster, appID string) URN {
	return MakeURN(KindJob, streamsScheme+cluster+"/"+EscapeIdentity(appID))
}

// StreamsJob parses a StreamsJobURN.
func (u URN) StreamsJob() (cluster, appID string, ok bool) {
	id, ok := u.identityOf(KindJob)
	if !ok {
		return "", "", false
	}
	rest, ok := strings.CutPrefix(id, streamsScheme)
	if !ok {
		return "", "", false
	}
	cluster, app, ok := strings.Cut(rest, "/")
	if !ok || !sourceWord(cluster) || app == "" {
		return "", "", false
	}
	appID, ok = UnescapeIdentity(app)
	return cluster, appID, ok
}

// --- Schema Registry -------------------------------------------------------

// RegistryURN is the URN of the schema registry configured as source:
// urn:registry:<source>.
func RegistryURN(source string) URN { return MakeURN(KindSchemaRegistry, source) }

// Registry parses a RegistryURN.
func (u URN) Registry() (source string, ok bool) { return u.single(KindSchemaRegistry) }

// SubjectURN is the URN of subject in the registry source:
// urn:subject:<source>/<subject>.
func SubjectURN(source, subject string) URN {
	return MakeURN(KindSchemaSubject, source+"/"+EscapeIdentity(subject))
}

// Subject parses a SubjectURN.
func (u URN) Subject() (source, subject string, ok bool) { return u.sourceAndName(KindSchemaSubject) }

// SchemaVersionURN is the URN of one version of subject:
// urn:schema:<source>/<subject>/<version>.
func SchemaVersionURN(source, subject string, version int) URN {
	return MakeURN(KindSchemaVersion, source+"/"+EscapeIdentity(subject)+"/"+strconv.Itoa(version))
}

// SchemaVersion parses a SchemaVersionURN.
func (u URN) SchemaVersion() (source, subject string, version int, ok bool) {
	id, ok := u.identityOf(KindSchemaVersion)
	if !ok {
		return "", "", 0, false
	}
	source, rest, ok := strings.Cut(id, "/")
	i := strings.LastIndexByte(rest, '/')
	if !ok || !sourceWord(source) || i <= 0 {
		return "", "", 0, false
	}
	v, err := strconv.Atoi(rest[i+1:])
	if err != nil || strconv.Itoa(v) != rest[i+1:] {
		return "", "", 0, false
	}
	subject, ok = UnescapeIdentity(rest[:i])
	return source, subject, v, ok
}

// --- Kafka Connect -----------------------------------------------------------

// ConnectClusterURN is the URN of the Kafka Connect cluster configured as
// source: urn:connect:<source>.
func ConnectClusterURN(source string) URN { return MakeURN(KindConnectCluster, source) }

// ConnectCluster parses a ConnectClusterURN.
func (u URN) ConnectCluster() (source string, ok bool) { return u.single(KindConnectCluster) }

// ConnectorURN is the URN of connector name of the Connect source:
// urn:connector:<source>/<name>.
func ConnectorURN(source, name string) URN {
	return MakeURN(KindConnector, source+"/"+EscapeIdentity(name))
}

// Connector parses a ConnectorURN.
func (u URN) Connector() (source, name string, ok bool) { return u.sourceAndName(KindConnector) }

// --- Datasets of other systems (OpenLineage namespace + name) ---------------

// namespaced builds "<namespace>/<name>" identities, escaped as a whole.
func namespaced(k Kind, namespace, name string) URN {
	return MakeURN(k, EscapeIdentity(namespace+"/"+name))
}

// splitNamespace cuts an OpenLineage identity "<namespace>/<name>" where the
// namespace is "scheme://authority" or a single word ("bigquery"): the
// namespace ends at the first '/' after the authority, and the name may hold
// '/'. A namespace with a path of its own (s3://bucket/prefix) is read as
// its authority, the path becoming part of the name — the same dataset.
func splitNamespace(id string) (namespace, name string, ok bool) {
	start := 0
	if i := strings.Index(id, "://"); i > 0 && !strings.Contains(id[:i], "/") {
		start = i + 3
	}
	j := strings.IndexByte(id[start:], '/')
	if j < 0 {
		return "", "", false
	}
	j += start
	ns, ok1 := UnescapeIdentity(id[:j])
	name, ok2 := UnescapeIdentity(id[j+1:])
	if !ok1 || !ok2 || ns == "" || ns == id[:start] {
		return "", "", false
	}
	return ns, name, true
}

func (u URN) namespaced(k Kind) (namespace, name string, ok bool) {
	id, ok := u.identityOf(k)
	if !ok {
		return "", "", false
	}
	return splitNamespace(id)
}

// DatabaseURN is the URN of a database of a server whose OpenLineage
// namespace is namespace ("postgres://db:5432"):
// urn:database:<namespace>/<database>.
func DatabaseURN(namespace, database string) URN {
	return namespaced(KindDatabase, namespace, database)
}

// Database parses a DatabaseURN.
func (u URN) Database() (namespace, database string, ok bool) { return u.namespaced(KindDatabase) }

// TableURN is the URN of the table of OpenLineage namespace and name
// ("postgres://db:5432", "inventory.public.customers"):
// urn:table:<namespace>/<name>.
func TableURN(namespace, name string) URN { return namespaced(KindTable, namespace, name) }

// Table parses a TableURN.
func (u URN) Table() (namespace, name string, ok bool) { return u.namespaced(KindTable) }

// DatasetURN is the URN of any other dataset of OpenLineage namespace and
// name ("s3://lake", "topics/orders"): urn:dataset:<namespace>/<name>.
func DatasetURN(namespace, name string) URN { return namespaced(KindDataset, namespace, name) }

// Dataset parses a DatasetURN.
func (u URN) Dataset() (namespace, name string, ok bool) { return u.namespaced(KindDataset) }

// ColumnURN is the URN of column of table (a TableURN):
// urn:column:<table identity>/<column>, the column escaped as a segment so
// that the last '/' always separates it from the table.
func ColumnURN(table URN, column string) URN {
	return MakeURN(KindColumn, table.Identity()+"/"+escapeSegment(column))
}

// Column parses a ColumnURN into its table's URN and the column.
func (u URN) Column() (table URN, column string, ok bool) {
	id, ok := u.identityOf(KindColumn)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(id, '/')
	if i <= 0 || i == len(id)-1 {
		return "", "", false
	}
	column, ok = UnescapeIdentity(id[i+1:])
	if !ok {
		return "", "", false
	}
	table = MakeURN(KindTable, id[:i])
	if _, _, ok := table.Table(); !ok {
		return "", "", false
	}
	return table, column, true
}

// --- Policy ------------------------------------------------------------------

// PolicyURN is the URN of the policy named name: urn:policy:<name>. Policy
// names are words (ValidatePolicyName), never escaped.
func PolicyURN(name string) URN { return MakeURN(KindPolicy, name) }

// Policy parses a PolicyURN.
func (u URN) Policy() (name string, ok bool) {
	id, ok := u.identityOf(KindPolicy)
	if !ok || ValidatePolicyName(id) != nil {
		return "", false
	}
	return id, true
}

// ViolationURN is the URN of the violation of policy by subject:
// urn:violation:<policy>/<subject urn>. There is one per (policy, subject),
// which is how the store deduplicates violations.
func ViolationURN(policy string, subject URN) URN {
	return MakeURN(KindViolation, policy+"/"+string(subject))
}

// Violation parses a ViolationURN.
func (u URN) Violation() (policy string, subject URN, ok bool) {
	id, ok := u.identityOf(KindViolation)
	if !ok {
		return "", "", false
	}
	policy, rest, ok := strings.Cut(id, "/")
	if !ok || ValidatePolicyName(policy) != nil || URN(rest).Kind() == "" {
		return "", "", false
	}
	return policy, URN(rest), true
}

// ValidatePolicyName reports why name cannot name a policy: it must start
// with a letter or digit and hold only letters, digits, '_', '-' and '.', at
// most 100 bytes ("pii-retention", "no-pii-in-s3").
func ValidatePolicyName(name string) error {
	if name == "" {
		return Errorf(Invalid, "policy name is empty")
	}
	if len(name) > 100 {
		return Errorf(Invalid, "policy name %q is longer than 100 bytes", name[:100])
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && (i == 0 || (c != '_' && c != '-' && c != '.')) {
			return Errorf(Invalid, "policy name %q must start with a letter or digit and hold only letters, digits, '_', '-' and '.'", name)
		}
	}
	return nil
}
