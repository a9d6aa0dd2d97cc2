package kafka

import (
	"strconv"

	"github.com/watershed-data/watershed/catalog"
)

// ClusterURN is the URN of the Kafka cluster configured as source:
// urn:kafka:<source>.
func ClusterURN(source string) catalog.URN {
	return catalog.MakeURN(catalog.KindKafkaCluster, source)
}

// BrokerURN is the URN of broker node id of source: urn:broker:<source>/<id>.
func BrokerURN(source string, id int32) catalog.URN {
	return catalog.MakeURN(catalog.KindBroker, source+"/"+strconv.Itoa(int(id)))
}

// TopicURN is the URN of topic in source: urn:topic:<source>/<topic>. Kafka
// topic names never need escaping; see EscapeIdentity for the rule applied
// anyway.
func TopicURN(source, topic string) catalog.URN {
	return catalog.MakeURN(catalog.KindTopic, source+"/"+EscapeIdentity(topic))
}

// GroupURN is the URN of consumer group id in source:
// urn:group:<source>/<group id>, the id escaped by EscapeIdentity.
func GroupURN(source, group string) catalog.URN {
	return catalog.MakeURN(catalog.KindConsumerGroup, source+"/"+EscapeIdentity(group))
}

// PrincipalURN is the URN of an ACL principal ("User:alice") in source:
// urn:principal:<source>/<principal>, escaped by EscapeIdentity.
func PrincipalURN(source, principal string) catalog.URN {
	return catalog.MakeURN(catalog.KindPrincipal, source+"/"+EscapeIdentity(principal))
}

// StreamsJobURN is the URN of the Kafka Streams application appID running
// against source: urn:job:kafka-streams://<source>/<application.id>, the
// namespace and name the OpenLineage integration of Kafka Streams uses.
func StreamsJobURN(source, appID string) catalog.URN {
	return catalog.MakeURN(catalog.KindJob, "kafka-streams://"+source+"/"+EscapeIdentity(appID))
}

// EscapeIdentity applies the URN escaping rule of catalog.EscapeIdentity.
func EscapeIdentity(s string) string { return catalog.EscapeIdentity(s) }
