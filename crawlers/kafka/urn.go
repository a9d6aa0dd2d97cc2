package kafka

import (
	"github.com/watershed-data/watershed/catalog"
)

// The URNs of this crawler are spelled by catalog/urns.go, the one owner of
// the URN scheme; the functions below name them in this package's terms.

// ClusterURN is the URN of the Kafka cluster configured as source:
// urn:kafka:<source> (catalog.KafkaClusterURN).
func ClusterURN(source string) catalog.URN { return catalog.KafkaClusterURN(source) }

// BrokerURN is the URN of broker node id of source: urn:broker:<source>/<id>
// (catalog.BrokerURN).
func BrokerURN(source string, id int32) catalog.URN { return catalog.BrokerURN(source, id) }

// TopicURN is the URN of topic in source: urn:topic:<source>/<topic>
// (catalog.TopicURN).
func TopicURN(source, topic string) catalog.URN { return catalog.TopicURN(source, topic) }

// GroupURN is the URN of consumer group id in source:
// urn:group:<source>/<group id> (catalog.GroupURN).
func GroupURN(source, group string) catalog.URN { return catalog.GroupURN(source, group) }

// PrincipalURN is the URN of an ACL principal ("User:alice") in source:
// urn:principal:<source>/<principal> (catalog.PrincipalURN).
func PrincipalURN(source, principal string) catalog.URN {
	return catalog.PrincipalURN(source, principal)
}

// StreamsJobURN is the URN of the Kafka Streams application appID running
// against source: urn:job:kafka-streams://<source>/<application.id>
// (catalog.StreamsJobURN).
func StreamsJobURN(source, appID string) catalog.URN { return catalog.StreamsJobURN(source, appID) }

// EscapeIdentity applies the URN escaping rule of catalog.EscapeIdentity.
func EscapeIdentity(s string) string { return catalog.EscapeIdentity(s) }
