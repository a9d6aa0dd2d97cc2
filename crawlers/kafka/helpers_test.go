package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/internal/realservers"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testSource = "prod"

// newCluster starts an in-process kfake cluster listening on real sockets.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// brokers is what the helpers need of a cluster: kfake's *kfake.Cluster
// and the portable *testCluster both have it.
type brokers interface{ ListenAddrs() []string }

// testCluster is the cluster of a test whose code runs unchanged on kfake
// and on real Kafka brokers: in process by default; under `make test-real`
// ($REALSERVERS_STATE naming the state file of infra/up) the real
// KRaft cluster, so that kfake's leniencies (any config key accepted,
// KIP-848 assignment shapes, instant deletes) cannot hide a bug.
type testCluster struct {
	addrs []string
	id    string
	real  bool
	n     int
}

// Brokers is the number of brokers, with node ids 0…Brokers-1.
func (c *testCluster) Brokers() int { return c.n }

func (c *testCluster) ListenAddrs() []string { return c.addrs }

// ClusterID is the cluster id the brokers report.
func (c *testCluster) ClusterID() string { return c.id }

// Real reports whether c is the real cluster.
func (c *testCluster) Real() bool { return c.real }

// newTestCluster returns a cluster of at least n brokers for a portable
// test: kfake with n brokers, opts and the cluster id "kfake-<test>", or
// the real cluster (of infra/up's 3 brokers), emptied of every topic,
// group and ACL a test may have left.
func newTestCluster(t testing.TB, n int, opts ...kfake.Opt) *testCluster {
	t.Helper()
	if os.Getenv(realservers.EnvState) == "" {
		id := "kfake-" + strings.ReplaceAll(t.Name(), "/", "-")
		c := newCluster(t, append([]kfake.Opt{kfake.NumBrokers(n), kfake.ClusterID(id)}, opts...)...)
		return &testCluster{addrs: c.ListenAddrs(), id: id, n: n}
	}
	st := realservers.Require(t, realservers.Kafka)
	if st.Connect != nil {
		t.Fatalf("these tests empty the cluster, and the real cluster of %s also carries Kafka Connect: run them against a Kafka-only run of infra/up, as make test-real does", os.Getenv(realservers.EnvState))
	}
	if st.Kafka.Brokers < n {
		t.Fatalf("the real cluster has %d brokers; this test needs %d", st.Kafka.Brokers, n)
	}
	c := &testCluster{addrs: st.Kafka.Bootstrap, id: st.Kafka.ClusterID, real: true, n: st.Kafka.Brokers}
	t.Logf("on the real Kafka %s cluster %s (%d brokers, %v)", st.Kafka.Version, c.id, c.n, c.addrs)
	resetRealCluster(t, c)
	return c
}

// resetRealCluster deletes every non-internal topic, every group and every
// ACL of the real cluster, and waits until every broker's metadata agrees.
func resetRealCluster(t testing.TB, c *testCluster) {
	t.Helper()
	adm := newAdmin(t, c)
	ctx := testCtx(t)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("reset real cluster: list topics: %v", err)
	}
	if names := topics.Names(); len(names) > 0 {
		if _, err := adm.DeleteTopics(ctx, names...); err != nil {
			t.Fatalf("reset real cluster: delete topics: %v", err)
		}
	}
	if groups, err := adm.ListGroups(ctx); err == nil && len(groups.Groups()) > 0 {
		if _, err := adm.DeleteGroups(ctx, groups.Groups()...); err != nil {
			t.Fatalf("reset real cluster: delete groups: %v", err)
		}
	}
	if _, err := adm.DeleteACLs(ctx, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).
		Operations(kadm.OpAny).Allow().Deny().AllowHosts().DenyHosts()); err != nil {
		t.Fatalf("reset real cluster: delete ACLs: %v", err)
	}
	settle(t, c.addrs)
}

// settle waits, on the real cluster only, until every broker of
// bootstrap answers metadata with the same topics, partitions and leaders:
// a real broker applies a topic change some milliseconds after the
// controller acknowledged it, kfake at once.
func settle(t testing.TB, bootstrap []string) {
	t.Helper()
	path := os.Getenv(realservers.EnvState)
	if path == "" {
		return
	}
	st, err := realservers.ReadState(path)
	if err != nil || st.Kafka == nil || !slices.ContainsFunc(bootstrap, func(a string) bool { return slices.Contains(st.Kafka.Bootstrap, a) }) {
		return // a kfake cluster of a kfake-only test
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var views []string
		var err error
		for _, addr := range bootstrap {
			var v string
			if v, err = brokerView(t, addr); err != nil {
				break
			}
			views = append(views, v)
		}
		if err == nil && !slices.ContainsFunc(views, func(v string) bool { return v != views[0] }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokers disagree on metadata after 15s (%v): %v", err, views)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// brokerView renders one broker's metadata image: its answer to a metadata
// request sent to it alone.
func brokerView(t testing.TB, addr string) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, tp := range resp.Topics {
		if err := kerr.ErrorForCode(tp.ErrorCode); err != nil {
			return "", err
		}
		for _, p := range tp.Partitions {
			lines = append(lines, fmt.Sprintf("%s/%d@%d", *tp.Topic, p.Partition, p.Leader))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, " "), nil
}

// newClient returns a franz-go client of c, closed when the test ends.
func newClient(t testing.TB, c brokers, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdmin(t testing.TB, c brokers, opts ...kgo.Opt) *kadm.Client {
	return kadm.NewClient(newClient(t, c, opts...))
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t testing.TB, adm *kadm.Client, partitions int32, rf int16, configs map[string]*string, names ...string) {
	t.Helper()
	resp, err := adm.CreateTopics(testCtx(t), partitions, rf, configs, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", names, err)
	}
}

func ptr(s string) *string { return &s }

// produce writes n records to topic/partition and waits for them.
func produce(t testing.TB, cl *kgo.Client, topic string, partition int32, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "record-%d", i)}
	}
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s/%d: %v", topic, partition, err)
	}
}

func newProducer(t testing.TB, c brokers, opts ...kgo.Opt) *kgo.Client {
	return newClient(t, c, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
}

// commit commits offsets for group as an admin (no members join).
func commit(t testing.TB, adm *kadm.Client, group string, offsets map[string]map[int32]int64) {
	t.Helper()
	var os kadm.Offsets
	for topic, ps := range offsets {
		for p, at := range ps {
			os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
		}
	}
	if err := adm.CommitAllOffsets(testCtx(t), group, os); err != nil {
		t.Fatalf("commit offsets of %s: %v", group, err)
	}
}

// configFor returns a minimal valid config pointing at c.
func configFor(c brokers) Config {
	return Config{Bootstrap: c.ListenAddrs(), Timeout: "5s"}
}

// crawl runs one crawl of cfg as source "prod" and checks that the snapshot
// is one the store accepts.
func crawl(t testing.TB, cfg Config) catalog.Snapshot {
	t.Helper()
	snap, err := crawlErr(t, cfg)
	if err != nil {
		t.Fatalf("crawl: %v", err)
	}
	return snap
}

func crawlErr(t testing.TB, cfg Config) (catalog.Snapshot, error) {
	t.Helper()
	settle(t, cfg.Bootstrap)
	cr, err := cfg.New(crawlers.Env{Source: testSource})
	if err != nil {
		t.Fatalf("new crawler: %v", err)
	}
	snap, err := cr.Crawl(testCtx(t))
	if err != nil {
		return snap, err
	}
	snap.Source = testSource
	if err := snap.Validate(); err != nil {
		t.Fatalf("snapshot does not validate: %v", err)
	}
	seen := map[catalog.URN]bool{}
	for _, a := range snap.Assets {
		if seen[a.URN] {
			t.Fatalf("asset %s appears twice", a.URN)
		}
		seen[a.URN] = true
	}
	return snap, nil
}

func findAsset(s catalog.Snapshot, u catalog.URN) (catalog.Asset, bool) {
	for _, a := range s.Assets {
		if a.URN == u {
			return a, true
		}
	}
	return catalog.Asset{}, false
}

func mustAsset(t testing.TB, s catalog.Snapshot, u catalog.URN) catalog.Asset {
	t.Helper()
	a, ok := findAsset(s, u)
	if !ok {
		t.Fatalf("snapshot lacks %s; it has %v", u, assetURNs(s, u.Kind()))
	}
	return a
}

func assetURNs(s catalog.Snapshot, kind catalog.Kind) []string {
	var out []string
	for _, a := range s.Assets {
		if kind == "" || a.URN.Kind() == kind {
			out = append(out, string(a.URN))
		}
	}
	sort.Strings(out)
	return out
}

func findLink(s catalog.Snapshot, from catalog.URN, kind catalog.EdgeKind, to catalog.URN) (catalog.Link, bool) {
	for _, l := range s.Links {
		if l.From == from && l.Kind == kind && l.To == to {
			return l, true
		}
	}
	return catalog.Link{}, false
}

// linkSet renders the links of kind as "from -> to" lines, sorted.
func linkSet(s catalog.Snapshot, kind catalog.EdgeKind) []string {
	var out []string
	for _, l := range s.Links {
		if l.Kind == kind {
			out = append(out, string(l.From)+" -> "+string(l.To))
		}
	}
	slices.Sort(out)
	return out
}

// decode turns properties into v through JSON, as a store would read them.
func decode(t testing.TB, p catalog.Properties, v any) {
	t.Helper()
	b, err := catalog.CanonicalProperties(p)
	if err != nil {
		t.Fatalf("encode properties: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode properties %s: %v", b, err)
	}
}

func normalized(t testing.TB, p catalog.Properties) catalog.Properties {
	t.Helper()
	n, err := catalog.NormalizeProperties(p)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	return n
}

func topicURN(name string) catalog.URN { return TopicURN(testSource, name) }
func groupURN(name string) catalog.URN { return GroupURN(testSource, name) }

// Decoded shapes of Properties and Live, for assertions.
type topicProps struct {
	Partitions        int               `json:"partitions"`
	ReplicationFactor int               `json:"replicationFactor"`
	Internal          bool              `json:"internal"`
	Configs           map[string]string `json:"configs"`
}

type topicLive struct {
	Partitions []struct {
		Partition      int32   `json:"partition"`
		Leader         int32   `json:"leader"`
		Replicas       []int32 `json:"replicas"`
		ISR            []int32 `json:"isr"`
		LogStartOffset *int64  `json:"logStartOffset"`
		HighWatermark  *int64  `json:"highWatermark"`
		Error          string  `json:"error"`
	} `json:"partitions"`
	UnderReplicated int   `json:"underReplicatedPartitions"`
	Offline         int   `json:"offlinePartitions"`
	Messages        int64 `json:"messageCountEstimate"`
}

type groupProps struct {
	GroupType    string `json:"groupType"`
	ProtocolType string `json:"protocolType"`
	Assignor     string `json:"assignor"`
}

type groupOffset struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	End       *int64 `json:"end"`
	Lag       *int64 `json:"lag"`
}

type groupLive struct {
	State       string `json:"state"`
	Protocol    string `json:"protocol"`
	Coordinator *int32 `json:"coordinator"`
	Members     []struct {
		MemberID   string   `json:"memberId"`
		ClientID   string   `json:"clientId"`
		Host       string   `json:"host"`
		Subscribed []string `json:"subscribedTopics"`
		Assignment []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignment"`
	} `json:"members"`
	Offsets  []groupOffset `json:"offsets"`
	TotalLag int64         `json:"totalLag"`
}

func i64(v int64) *int64 { return &v }
