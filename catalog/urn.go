package catalog

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the kind of an entity. Its values are the GraphQL enum AssetKind.
type Kind string

// Entity kinds.
const (
	KindKafkaCluster   Kind = "KAFKA_CLUSTER"
	KindBroker         Kind = "BROKER"
	KindTopic          Kind = "TOPIC"
	KindSchemaRegistry Kind = "SCHEMA_REGISTRY"
	KindSchemaSubject  Kind = "SCHEMA_SUBJECT"
	KindSchemaVersion  Kind = "SCHEMA_VERSION"
	KindField          Kind = "FIELD"
	KindConsumerGroup  Kind = "CONSUMER_GROUP"
	KindPrincipal      Kind = "PRINCIPAL"
	KindConnectCluster Kind = "CONNECT_CLUSTER"
	KindConnector      Kind = "CONNECTOR"
	KindDatabase       Kind = "DATABASE"
	KindTable          Kind = "TABLE"
	KindColumn         Kind = "COLUMN"
	KindJob            Kind = "JOB"
	KindDataset        Kind = "DATASET"
	KindViolation      Kind = "VIOLATION"
	KindCrawlRun       Kind = "CRAWL_RUN"
	// KindPolicy is a policy definition (urn:policy:<name>), owned by the
	// reserved policy source like the violations it raises.
	KindPolicy Kind = "POLICY"
)

// kindSchemes maps each kind to the scheme word of its URNs. The mapping is
// part of the public contract: URNs are stored by users and scripts.
var kindSchemes = []struct {
	kind   Kind
	scheme string
}{
	{KindKafkaCluster, "kafka"},
	{KindBroker, "broker"},
	{KindTopic, "topic"},
	{KindSchemaRegistry, "registry"},
	{KindSchemaSubject, "subject"},
	{KindSchemaVersion, "schema"},
	{KindField, "field"},
	{KindConsumerGroup, "group"},
	{KindPrincipal, "principal"},
	{KindConnectCluster, "connect"},
	{KindConnector, "connector"},
	{KindDatabase, "database"},
	{KindTable, "table"},
	{KindColumn, "column"},
	{KindJob, "job"},
	{KindDataset, "dataset"},
	{KindViolation, "violation"},
	{KindCrawlRun, "crawl"},
	{KindPolicy, "policy"},
}

// Kinds returns every entity kind, in a stable order.
func Kinds() []Kind {
	out := make([]Kind, len(kindSchemes))
	for i, ks := range kindSchemes {
		out[i] = ks.kind
	}
	return out
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, ks := range kindSchemes {
		if ks.kind == k {
			return true
		}
	}
	return false
}

// Scheme returns the URN scheme word of k ("topic" for TOPIC), or "" for an
// unknown kind.
func (k Kind) Scheme() string {
	for _, ks := range kindSchemes {
		if ks.kind == k {
			return ks.scheme
		}
	}
	return ""
}

// URN names an entity: "urn:" + the kind's scheme word + ":" + an identity
// taken from the source system. Examples:
//
//	urn:kafka:prod                                   a Kafka cluster named prod in config
//	urn:topic:prod/orders                            topic orders of cluster prod
//	urn:field:prod/orders/value/customer.email       a field of the topic's value schema
//	urn:group:prod/fraud-detector                    a consumer group
//	urn:subject:prod-sr/orders-value                 a Schema Registry subject
//	urn:table:postgres://inventory-db:5432/inventory.public.customers
//	urn:column:postgres://inventory-db:5432/inventory.public.customers/email
//	urn:job:flink://prod/enrich-orders               a job (OpenLineage namespace + name)
//	urn:dataset:s3://lake/orders                     any other dataset
//
// Dataset identities follow the OpenLineage naming spec (namespace + name).
type URN string

// MaxURNLength bounds a URN's length in bytes.
const MaxURNLength = 2048

// MakeURN builds the URN of an entity of kind k with the given identity.
func MakeURN(k Kind, identity string) URN {
	return URN("urn:" + k.Scheme() + ":" + identity)
}

// Kind returns the kind encoded in u, or "" when its scheme is unknown. It
// does not validate the rest of u (see Validate).
func (u URN) Kind() Kind {
	scheme, _, ok := u.split()
	if !ok {
		return ""
	}
	for _, ks := range kindSchemes {
		if ks.scheme == scheme {
			return ks.kind
		}
	}
	return ""
}

// Identity returns the part of u after the scheme word, or "" when u does
// not have the form urn:<scheme>:<identity>.
func (u URN) Identity() string {
	_, id, ok := u.split()
	if !ok {
		return ""
	}
	return id
}

// split cuts u into scheme and identity without validating them.
func (u URN) split() (scheme, identity string, ok bool) {
	rest, ok := strings.CutPrefix(string(u), "urn:")
	if !ok {
		return "", "", false
	}
	scheme, identity, ok = strings.Cut(rest, ":")
	return scheme, identity, ok && identity != ""
}

// Validate reports why u is not a well-formed URN of a known kind.
func (u URN) Validate() error {
	_, _, err := u.parse()
	return err
}

func (u URN) parse() (Kind, string, error) {
	s := string(u)
	if len(s) > MaxURNLength {
		return "", "", Errorf(Invalid, "urn is %d bytes long; the limit is %d", len(s), MaxURNLength)
	}
	rest, ok := strings.CutPrefix(s, "urn:")
	if !ok {
		return "", "", Errorf(Invalid, "urn %q must start with \"urn:\"", clip(s))
	}
	scheme, id, ok := strings.Cut(rest, ":")
	if !ok || id == "" {
		return "", "", Errorf(Invalid, "urn %q must have the form urn:<kind>:<identity>", clip(s))
	}
	if !utf8.ValidString(s) {
		return "", "", Errorf(Invalid, "urn %q is not valid UTF-8", clip(s))
	}
	for _, r := range s {
		if unicode.IsSpace(r) || invisibleRune(r) {
			return "", "", Errorf(Invalid, "urn %q contains %U: whitespace, a control character or an invisible one", clip(s), r)
		}
	}
	for _, ks := range kindSchemes {
		if ks.scheme == scheme {
			return ks.kind, id, nil
		}
	}
	return "", "", Errorf(Invalid, "urn %q has unknown kind %q", clip(s), scheme)
}

// invisibleRune reports runes that render as nothing but make two names
// differ: control characters, format characters (U+200B zero-width space,
// U+202E right-to-left override, U+FEFF) and the Hangul fillers.
func invisibleRune(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0:
		return true
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// ValidateOwner reports why o cannot name an owner: it must be valid UTF-8
// without control, invisible or line-breaking characters (plain spaces are
// fine: "Data Platform").
func ValidateOwner(o string) error {
	if !utf8.ValidString(o) {
		return Errorf(Invalid, "owner %q is not valid UTF-8", clip(o))
	}
	for _, r := range o {
		if invisibleRune(r) || (unicode.IsSpace(r) && r != ' ') {
			return Errorf(Invalid, "owner %q contains %U: a control, invisible or line-breaking character", clip(o), r)
		}
	}
	return nil
}

// DisplayName returns a short human name for u: the last path element of its
// identity (the topic name, the field path, the column name).
func (u URN) DisplayName() string {
	id := u.Identity()
	if id == "" {
		return string(u)
	}
	if i := strings.LastIndexByte(id, '/'); i >= 0 && i < len(id)-1 {
		return id[i+1:]
	}
	return id
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

// EdgeKind is the kind of an edge.
type EdgeKind string

// Edge kinds. Flow edges carry data downstream and are what lineage
// traversal follows by default; structural and access edges are not.
const (
	EdgeContains  EdgeKind = "CONTAINS"   // structural: cluster→topic, topic→field, table→column
	EdgeHasSchema EdgeKind = "HAS_SCHEMA" // structural: topic→subject, subject→version
	EdgeProduces  EdgeKind = "PRODUCES"   // flow: connector/job/app → topic
	EdgeConsumes  EdgeKind = "CONSUMES"   // flow: topic → group/connector/job
	EdgeCaptures  EdgeKind = "CAPTURES"   // flow: table → CDC connector
	EdgeSinks     EdgeKind = "SINKS"      // flow: sink connector → table/dataset
	EdgeDerives   EdgeKind = "DERIVES"    // flow: column/field → field/column, dataset → dataset
	EdgeCanRead   EdgeKind = "CAN_READ"   // access: topic → principal allowed to read it
	EdgeCanWrite  EdgeKind = "CAN_WRITE"  // access: principal → topic it may write
	EdgeMemberOf  EdgeKind = "MEMBER_OF"  // structural: broker → cluster membership and the like
)

var edgeKinds = []struct {
	kind EdgeKind
	flow bool
}{
	{EdgeContains, false},
	{EdgeHasSchema, false},
	{EdgeProduces, true},
	{EdgeConsumes, true},
	{EdgeCaptures, true},
	{EdgeSinks, true},
	{EdgeDerives, true},
	{EdgeCanRead, false},
	{EdgeCanWrite, false},
	{EdgeMemberOf, false},
}

// EdgeKinds returns every edge kind, in a stable order.
func EdgeKinds() []EdgeKind {
	out := make([]EdgeKind, len(edgeKinds))
	for i, ek := range edgeKinds {
		out[i] = ek.kind
	}
	return out
}

// Valid reports whether k is a known edge kind.
func (k EdgeKind) Valid() bool {
	for _, ek := range edgeKinds {
		if ek.kind == k {
			return true
		}
	}
	return false
}

// Flow reports whether data flows along edges of kind k (lineage edges).
func (k EdgeKind) Flow() bool {
	for _, ek := range edgeKinds {
		if ek.kind == k {
			return ek.flow
		}
	}
	return false
}

// FlowEdgeKinds returns the edge kinds that lineage traversal follows by default.
func FlowEdgeKinds() []EdgeKind {
	var out []EdgeKind
	for _, ek := range edgeKinds {
		if ek.flow {
			out = append(out, ek.kind)
		}
	}
	return out
}

// EdgeKey identifies an edge.
type EdgeKey struct {
	From URN
	Kind EdgeKind
	To   URN
}

// String renders k as "from -KIND-> to".
func (k EdgeKey) String() string {
	return fmt.Sprintf("%s -%s-> %s", k.From, k.Kind, k.To)
}

// Validate reports why k is not a well-formed edge.
func (k EdgeKey) Validate() error {
	if err := k.From.Validate(); err != nil {
		return fmt.Errorf("edge from: %w", err)
	}
	if err := k.To.Validate(); err != nil {
		return fmt.Errorf("edge to: %w", err)
	}
	if !k.Kind.Valid() {
		return Errorf(Invalid, "unknown edge kind %q", k.Kind)
	}
	if k.From == k.To {
		return Errorf(Invalid, "edge %s connects an entity to itself", k)
	}
	return nil
}
