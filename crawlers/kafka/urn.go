package kafka

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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

// EscapeIdentity makes a source-given name (a group id, a principal such as
// "User:CN=alice, OU=eng") usable in a URN, which may not contain
// whitespace or control characters: it percent-encodes '%', whitespace,
// control characters and invalid UTF-8 bytes, byte by byte (a space becomes
// %20), and keeps everything else, including '/' and non-ASCII letters. Names
// without such characters — every valid topic name, almost every group id —
// are returned unchanged.
func EscapeIdentity(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if b := s[i]; b <= ' ' || b == '%' || b >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == '%' || (r == utf8.RuneError && size == 1) || unicode.IsSpace(r) || unicode.IsControl(r) {
			for j := i; j < i+size; j++ {
				sb.WriteByte('%')
				sb.WriteByte(hex[s[j]>>4])
				sb.WriteByte(hex[s[j]&15])
			}
		} else {
			sb.WriteString(s[i : i+size])
		}
		i += size
	}
	return sb.String()
}
