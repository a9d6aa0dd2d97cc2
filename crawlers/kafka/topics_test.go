package kafka

import (
	"reflect"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/watershed-data/watershed/catalog"
)

// TestCrawlTopicsBetweenCrawls creates, reconfigures and deletes topics
// between two crawls and checks that each snapshot says exactly that.
func TestCrawlTopicsBetweenCrawls(t *testing.T) {
	c := newTestCluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, 3, 3, map[string]*string{"retention.ms": ptr("86400000")}, "orders")
	createTopic(t, adm, 2, 2, nil, "payments")
	createTopic(t, adm, 1, 1, nil, "audit")
	produce(t, newProducer(t, c), "orders", 0, 5)

	cfg := configFor(c)
	cfg.Aliases = []string{"kafka.internal:9092"}
	first := crawl(t, cfg)

	createTopic(t, adm, 4, 3, nil, "shipments")
	if _, err := adm.AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Name: "cleanup.policy", Value: ptr("compact")}}, "payments"); err != nil {
		t.Fatalf("alter configs: %v", err)
	}
	if _, err := adm.DeleteTopics(testCtx(t), "audit"); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
	second := crawl(t, cfg)

	type want struct {
		present       bool
		partitions    int
		rf            int
		configs       map[string]string // subset
		messages      int64
		notConfigKeys []string
	}
	for _, tc := range []struct {
		name  string
		snap  catalog.Snapshot
		topic string
		want  want
	}{
		{"first/orders has its override and important defaults", first, "orders",
			want{present: true, partitions: 3, rf: 3, messages: 5, configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete", "min.insync.replicas": "1"}, notConfigKeys: []string{"delete.retention.ms", "segment.ms"}}},
		{"first/payments", first, "payments", want{present: true, partitions: 2, rf: 2, configs: map[string]string{"cleanup.policy": "delete"}}},
		{"first/audit", first, "audit", want{present: true, partitions: 1, rf: 1}},
		{"first/shipments not yet", first, "shipments", want{}},
		{"second/orders unchanged", second, "orders", want{present: true, partitions: 3, rf: 3, messages: 5, configs: map[string]string{"retention.ms": "86400000"}}},
		{"second/payments compacted", second, "payments", want{present: true, partitions: 2, rf: 2, configs: map[string]string{"cleanup.policy": "compact"}}},
		{"second/audit deleted", second, "audit", want{}},
		{"second/shipments created", second, "shipments", want{present: true, partitions: 4, rf: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := topicURN(tc.topic)
			a, ok := findAsset(tc.snap, u)
			_, linked := findLink(tc.snap, ClusterURN(testSource), catalog.EdgeContains, u)
			if ok != tc.want.present || linked != tc.want.present {
				t.Fatalf("asset present %v, CONTAINS link present %v; want %v", ok, linked, tc.want.present)
			}
			if !ok {
				return
			}
			if a.Scope != "topic/"+tc.topic || a.Name != tc.topic {
				t.Errorf("scope %q name %q", a.Scope, a.Name)
			}
			var p topicProps
			decode(t, a.Properties, &p)
			if p.Partitions != tc.want.partitions || p.ReplicationFactor != tc.want.rf || p.Internal {
				t.Errorf("props %+v; want %d partitions, rf %d, not internal", p, tc.want.partitions, tc.want.rf)
			}
			for k, v := range tc.want.configs {
				if p.Configs[k] != v {
					t.Errorf("configs[%s] = %q; want %q (configs %v)", k, p.Configs[k], v, p.Configs)
				}
			}
			for _, k := range tc.want.notConfigKeys {
				if _, ok := p.Configs[k]; ok {
					t.Errorf("configs has default-valued, unimportant %s", k)
				}
			}
			var l topicLive
			decode(t, a.Live, &l)
			if len(l.Partitions) != tc.want.partitions || l.Messages != tc.want.messages || l.Offline != 0 || l.UnderReplicated != 0 {
				t.Errorf("live %+v", l)
			}
			for _, lp := range l.Partitions {
				if lp.Leader < 0 || len(lp.Replicas) != tc.want.rf || lp.HighWatermark == nil || lp.LogStartOffset == nil {
					t.Errorf("live partition %+v", lp)
				}
			}
		})
	}

	t.Run("cluster and brokers", func(t *testing.T) {
		for _, s := range []catalog.Snapshot{first, second} {
			cl := mustAsset(t, s, ClusterURN(testSource))
			var p struct {
				ClusterID   string   `json:"clusterId"`
				Bootstrap   []string `json:"bootstrap"`
				Aliases     []string `json:"aliases"`
				BrokerCount int      `json:"brokerCount"`
			}
			decode(t, cl.Properties, &p)
			if p.ClusterID != c.ClusterID() || p.BrokerCount != 3 || !slices.Equal(p.Bootstrap, cfg.Bootstrap) || !slices.Equal(p.Aliases, cfg.Aliases) {
				t.Errorf("cluster props %+v", p)
			}
			if _, ok := cl.Live["controller"]; !ok {
				t.Errorf("cluster live lacks controller: %v", cl.Live)
			}
			if got := assetURNs(s, catalog.KindBroker); !slices.Equal(got, []string{"urn:broker:prod/0", "urn:broker:prod/1", "urn:broker:prod/2"}) {
				t.Errorf("brokers %v", got)
			}
			for i := range int32(3) {
				b := mustAsset(t, s, BrokerURN(testSource, i))
				if b.Scope != ScopeBrokers || b.Properties["host"] != "127.0.0.1" {
					t.Errorf("broker %+v", b)
				}
				if _, ok := findLink(s, ClusterURN(testSource), catalog.EdgeContains, b.URN); !ok {
					t.Errorf("no cluster CONTAINS %s", b.URN)
				}
			}
			if len(s.Incomplete) != 0 {
				t.Errorf("incomplete %v", s.Incomplete)
			}
		}
	})

	t.Run("unchanged assets keep equal properties", func(t *testing.T) {
		for _, u := range []catalog.URN{ClusterURN(testSource), topicURN("orders"), BrokerURN(testSource, 1)} {
			a, b := mustAsset(t, first, u), mustAsset(t, second, u)
			if !reflect.DeepEqual(normalized(t, a.Properties), normalized(t, b.Properties)) {
				t.Errorf("%s properties changed:\n%v\n%v", u, a.Properties, b.Properties)
			}
		}
	})
}

// TestCrawlTopicFilters covers includeInternal and the include/exclude
// regular expressions.
func TestCrawlTopicFilters(t *testing.T) {
	c := newTestCluster(t, 1)
	adm := newAdmin(t, c)
	createTopic(t, adm, 1, 1, nil, "orders", "orders-dlq", "orders.v2", "tmp-scratch", "_schemas")
	if c.Real() {
		// A real broker refuses to create an internal topic; its first
		// offset commit makes __consumer_offsets.
		settle(t, c.ListenAddrs())
		commit(t, adm, "filters-probe", map[string]map[int32]int64{"orders": {0: 0}})
	} else {
		createTopic(t, adm, 1, 1, map[string]*string{"kfake.is_internal": ptr("true")}, "__consumer_offsets")
	}

	for _, tc := range []struct {
		name    string
		mutate  func(*Config)
		want    []string
		checkFn func(*testing.T, catalog.Snapshot)
	}{
		{"default leaves internal topics out", func(*Config) {}, []string{"_schemas", "orders", "orders-dlq", "orders.v2", "tmp-scratch"}, nil},
		{"includeInternal", func(c *Config) { c.IncludeInternal = true },
			[]string{"__consumer_offsets", "_schemas", "orders", "orders-dlq", "orders.v2", "tmp-scratch"},
			func(t *testing.T, s catalog.Snapshot) {
				var p topicProps
				decode(t, mustAsset(t, s, topicURN("__consumer_offsets")).Properties, &p)
				if !p.Internal {
					t.Errorf("__consumer_offsets not marked internal")
				}
			}},
		{"include is anchored", func(c *Config) { c.TopicInclude = []string{"orders"} }, []string{"orders"}, nil},
		{"include and exclude", func(c *Config) {
			c.TopicInclude = []string{`orders.*`, `tmp-.*`}
			c.TopicExclude = []string{`.*-dlq`, `tmp-.*`}
		}, []string{"orders", "orders.v2"}, nil},
		{"exclude only", func(c *Config) { c.TopicExclude = []string{`_.*`} }, []string{"orders", "orders-dlq", "orders.v2", "tmp-scratch"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFor(c)
			tc.mutate(&cfg)
			s := crawl(t, cfg)
			var want []string
			for _, n := range tc.want {
				want = append(want, string(topicURN(n)))
			}
			if got := assetURNs(s, catalog.KindTopic); !slices.Equal(got, want) {
				t.Errorf("topics %v; want %v", got, want)
			}
			if tc.checkFn != nil {
				tc.checkFn(t, s)
			}
		})
	}
}
