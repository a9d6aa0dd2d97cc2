package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/watershed-data/watershed/catalog"
)

// TestCrawlPartialFailures injects broker errors with kfake faults and
// checks that each marks only its own scope incomplete.
func TestCrawlPartialFailures(t *testing.T) {
	c := newCluster(t, kfake.NumBrokers(3))
	adm := newAdmin(t, c)
	createTopic(t, adm, 2, 3, nil, "healthy", "leaderless", "no-configs", "moved-leader", "broken-offsets")
	commit(t, adm, "ok-group", map[string]map[int32]int64{"healthy": {0: 0}})
	commit(t, adm, "secret-group", map[string]map[int32]int64{"healthy": {1: 0}})
	commit(t, adm, "offsets-hidden", map[string]map[int32]int64{"healthy": {1: 0}})

	c.Fault(
		kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "leaderless", Partitions: []int32{1}, Err: kerr.LeaderNotAvailable, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "no-configs", Err: kerr.TopicAuthorizationFailed, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeGroups}, Group: "secret-group", Err: kerr.GroupAuthorizationFailed, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetFetch}, Group: "offsets-hidden", Err: kerr.GroupAuthorizationFailed, Count: -1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeCluster}, TopLevel: true, Err: kerr.ClusterAuthorizationFailed, Count: -1},
		// A leader that moved answers once; the crawler asks again.
		kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "moved-leader", Partitions: []int32{0}, Err: kerr.NotLeaderForPartition, Count: 1},
		kfake.Fault{Keys: []kmsg.Key{kmsg.ListOffsets}, Topic: "broken-offsets", Partitions: []int32{1}, Err: kerr.KafkaStorageError, Count: -1},
	)
	s := crawl(t, configFor(c))

	for _, tc := range []struct {
		scope      string
		reason     string // substring; "" means complete
		asset      catalog.URN
		assetThere bool
	}{
		{"topic/healthy", "", topicURN("healthy"), true},
		{"topic/leaderless", "partition 1: LEADER_NOT_AVAILABLE", topicURN("leaderless"), true},
		{"topic/no-configs", "describe configs: TOPIC_AUTHORIZATION_FAILED", topicURN("no-configs"), false},
		{"topic/moved-leader", "", topicURN("moved-leader"), true},
		{"topic/broken-offsets", "partition 1: list earliest offset: KAFKA_STORAGE_ERROR", topicURN("broken-offsets"), true},
		{"group/ok-group", "", groupURN("ok-group"), true},
		{"group/secret-group", "describe group: GROUP_AUTHORIZATION_FAILED", groupURN("secret-group"), false},
		{"group/offsets-hidden", "fetch committed offsets: GROUP_AUTHORIZATION_FAILED", groupURN("offsets-hidden"), true},
		{"brokers", "describe cluster: CLUSTER_AUTHORIZATION_FAILED", BrokerURN(testSource, 2), true},
	} {
		t.Run(tc.scope, func(t *testing.T) {
			reason, incomplete := s.Incomplete[tc.scope]
			if incomplete != (tc.reason != "") || !strings.Contains(reason, tc.reason) {
				t.Errorf("incomplete reason %q (%v); want %q", reason, incomplete, tc.reason)
			}
			if _, ok := findAsset(s, tc.asset); ok != tc.assetThere {
				t.Errorf("asset %s present %v; want %v", tc.asset, ok, tc.assetThere)
			}
		})
	}
	if len(s.Incomplete) != 6 {
		t.Errorf("incomplete %v", s.Incomplete)
	}

	t.Run("leaderless partition in live", func(t *testing.T) {
		a := mustAsset(t, s, topicURN("leaderless"))
		var p topicProps
		decode(t, a.Properties, &p)
		var l topicLive
		decode(t, a.Live, &l)
		if p.Partitions != 2 || p.ReplicationFactor != 3 || l.Offline != 1 || l.Partitions[1].Error == "" || l.Partitions[0].HighWatermark == nil {
			t.Errorf("props %+v live %+v", p, l)
		}
	})
	t.Run("links of a group without offsets", func(t *testing.T) {
		if _, ok := findLink(s, topicURN("healthy"), catalog.EdgeConsumes, groupURN("offsets-hidden")); ok {
			t.Errorf("a CONSUMES link without evidence")
		}
		if _, ok := findLink(s, topicURN("healthy"), catalog.EdgeConsumes, groupURN("ok-group")); !ok {
			t.Errorf("healthy CONSUMES ok-group missing")
		}
	})
	t.Run("brokers from metadata", func(t *testing.T) {
		if got := assetURNs(s, catalog.KindBroker); len(got) != 3 {
			t.Errorf("brokers %v", got)
		}
		var p struct {
			ClusterID string `json:"clusterId"`
		}
		decode(t, mustAsset(t, s, ClusterURN(testSource)).Properties, &p)
		if p.ClusterID != "kfake" {
			t.Errorf("cluster id %q from metadata", p.ClusterID)
		}
	})
}
