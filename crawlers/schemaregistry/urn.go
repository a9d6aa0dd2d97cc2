package schemaregistry

import (
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Parts of a Kafka record a schema describes, as they appear in field URNs
// and TopicNameStrategy subject names.
const (
	PartKey   = catalog.PartKey
	PartValue = catalog.PartValue
)

// The URNs of this crawler are spelled by catalog/urns.go, the one owner of
// the URN scheme; the functions below name them in this package's terms.

// RegistryURN is the URN of the registry configured as source:
// urn:registry:<source> (catalog.RegistryURN).
func RegistryURN(source string) catalog.URN { return catalog.RegistryURN(source) }

// SubjectURN is the URN of subject in the registry source:
// urn:subject:<source>/<subject> (catalog.SubjectURN).
func SubjectURN(source, subject string) catalog.URN { return catalog.SubjectURN(source, subject) }

// SchemaURN is the URN of one version of subject:
// urn:schema:<source>/<subject>/<version> (catalog.SchemaVersionURN).
func SchemaURN(source, subject string, version int) catalog.URN {
	return catalog.SchemaVersionURN(source, subject, version)
}

// TopicURN is the URN of topic in the Kafka source cluster:
// urn:topic:<cluster>/<topic>, exactly as the kafka crawler names it
// (catalog.TopicURN).
func TopicURN(cluster, topic string) catalog.URN { return catalog.TopicURN(cluster, topic) }

// FieldURN is the URN of the field at path (a schemaparse path such as
// "customer.address.city" or "items[].sku") of the key or value of topic:
// urn:field:<cluster>/<topic>/<part>/<path> (catalog.FieldURN). Readers take
// a field's path from its "path" property, not from its URN.
func FieldURN(cluster, topic, part, path string) catalog.URN {
	return catalog.FieldURN(cluster, topic, part, path)
}

// SubjectScope is the snapshot scope of a subject, its versions, and the
// fields and links that its TopicNameStrategy binding asserts.
func SubjectScope(subject string) string { return "subject/" + subject }

// TopicScope is the snapshot scope of the topic facet and of the facts
// derived from sampling the topic's records.
func TopicScope(topic string) string { return "topic/" + topic }

// topicNameStrategy returns the topic and part a subject names under
// TopicNameStrategy ("orders-value" → orders, value), and false for any
// other subject, including one whose prefix cannot be a Kafka topic name
// (a context-qualified subject such as ":.staging:orders-value").
func topicNameStrategy(subject string) (topic, part string, ok bool) {
	for _, p := range []string{PartValue, PartKey} {
		if t, found := strings.CutSuffix(subject, "-"+p); found && validTopicName(t) {
			return t, p, true
		}
	}
	return "", "", false
}

// validTopicName reports whether Kafka accepts name as a topic name: 1 to
// 249 characters among ASCII letters, digits, '.', '_' and '-', and neither
// "." nor "..".
func validTopicName(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		ok := b == '.' || b == '_' || b == '-' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
		if !ok {
			return false
		}
	}
	return true
}
