package schemaregistry

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/schemaparse"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testSource  = "prod-sr"
	testCluster = "prod"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readTestdata returns the text of a file under testdata/.
func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	return string(b)
}

// newRegistry starts an in-memory schema registry over real HTTP.
func newRegistry(t testing.TB) *srfake.Registry {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	return reg
}

// register registers a schema under subject and returns its id and version.
func register(t testing.TB, reg *srfake.Registry, subject, text string, typ sr.SchemaType, refs ...sr.SchemaReference) (id, version int) {
	t.Helper()
	id, version, err := reg.RegisterSchema(subject, sr.Schema{Schema: text, Type: typ, References: refs})
	if err != nil {
		t.Fatalf("register %s: %v", subject, err)
	}
	return id, version
}

// srClient returns a client of reg for test setup (deletes, configs).
func srClient(t testing.TB, reg *srfake.Registry) *sr.Client {
	t.Helper()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatalf("sr client: %v", err)
	}
	return cl
}

// requestLog counts the requests a registry receives, by method and path.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) intercept(_ http.ResponseWriter, r *http.Request) bool {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	return false
}

func (l *requestLog) count(pred func(string) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if pred(r) {
			n++
		}
	}
	return n
}

// newCluster starts an in-process Kafka cluster on real sockets.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func newKafkaClient(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t testing.TB, c *kfake.Cluster, partitions int32, names ...string) {
	t.Helper()
	adm := kadm.NewClient(newKafkaClient(t, c))
	resp, err := adm.CreateTopics(testCtx(t), partitions, 1, nil, names...)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topics %v: %v", names, err)
	}
}

// wire frames payload in the Confluent wire format with schema id.
func wire(id int, payload string) []byte {
	return append(schemaparse.AppendWireHeader(nil, id), payload...)
}

// wireProtobuf frames a Protobuf payload with id and message indexes.
func wireProtobuf(id int, indexes []int, payload string) []byte {
	b := schemaparse.AppendWireHeader(nil, id)
	b = schemaparse.AppendProtobufMessageIndexes(b, indexes)
	return append(b, payload...)
}

func produce(t testing.TB, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// kafkaSource is the configuration of a Kafka source in tests: it
// implements crawlers.Config and KafkaClientConfig as the kafka crawler's
// Config does.
type kafkaSource struct {
	bootstrap []string
	err       error
}

func (k *kafkaSource) Validate() error                            { return nil }
func (k *kafkaSource) New(crawlers.Env) (crawlers.Crawler, error) { return nil, nil }
func (k *kafkaSource) ClientOptions() ([]kgo.Opt, error) {
	if k.err != nil {
		return nil, k.err
	}
	return []kgo.Opt{kgo.SeedBrokers(k.bootstrap...), kgo.DialTimeout(2 * time.Second), kgo.RetryTimeout(2 * time.Second)}, nil
}

// envFor returns the environment of the registry source, with a Kafka
// source named testCluster configured as cfg.
func envFor(cfg crawlers.Config) crawlers.Env {
	return crawlers.Env{
		Source: testSource,
		Sources: func(name string) (crawlers.SourceSpec, bool) {
			if name == testCluster {
				return crawlers.SourceSpec{Name: testCluster, Kind: "kafka", Config: cfg}, true
			}
			return crawlers.SourceSpec{}, false
		},
	}
}

// noSample returns a config of reg without sampling.
func noSample(reg *srfake.Registry) Config {
	f := false
	return Config{URL: reg.URL(), Cluster: testCluster, Timeout: "5s", Sample: SampleConfig{Enabled: &f}}
}

// withSample returns a config of reg sampling c's topics.
func withSample(reg *srfake.Registry) Config {
	return Config{URL: reg.URL(), Cluster: testCluster, Timeout: "5s", Sample: SampleConfig{Timeout: "10s"}}
}

// newTestCrawler builds a crawler of cfg whose cluster source is c (nil:
// unreachable addresses are never dialled because sampling is off).
func newTestCrawler(t testing.TB, cfg Config, c *kfake.Cluster) *Crawler {
	t.Helper()
	ks := &kafkaSource{}
	if c != nil {
		ks.bootstrap = c.ListenAddrs()
	}
	cr, err := cfg.New(envFor(ks))
	if err != nil {
		t.Fatalf("new crawler: %v", err)
	}
	return cr.(*Crawler)
}

// crawlOnce runs one crawl and checks that the snapshot is one the store
// accepts, with every URN asserted once.
func crawlOnce(t testing.TB, cr *Crawler) catalog.Snapshot {
	t.Helper()
	snap, err := cr.Crawl(testCtx(t))
	if err != nil {
		t.Fatalf("crawl: %v", err)
	}
	checkSnapshot(t, snap)
	return snap
}

func checkSnapshot(t testing.TB, snap catalog.Snapshot) {
	t.Helper()
	if snap.Source != testSource {
		t.Fatalf("snapshot source %q", snap.Source)
	}
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
	links := map[catalog.EdgeKey]bool{}
	for _, l := range snap.Links {
		if links[l.Key()] {
			t.Fatalf("link %s appears twice", l.Key())
		}
		links[l.Key()] = true
	}
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

// linkSet renders the links of kind whose tail starts with fromPrefix as
// "from -> to" lines, sorted.
func linkSet(s catalog.Snapshot, kind catalog.EdgeKind, fromPrefix string) []string {
	var out []string
	for _, l := range s.Links {
		if l.Kind == kind && strings.HasPrefix(string(l.From), fromPrefix) {
			out = append(out, string(l.From)+" -> "+string(l.To))
		}
	}
	slices.Sort(out)
	return out
}

// normalized returns p as a store would read it back (numbers as json.Number).
func normalized(t testing.TB, p catalog.Properties) catalog.Properties {
	t.Helper()
	n, err := catalog.NormalizeProperties(p)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	return n
}

// propJSON renders one property as canonical JSON.
func propJSON(t testing.TB, p catalog.Properties, key string) string {
	t.Helper()
	v, ok := p[key]
	if !ok {
		return "<absent>"
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %s: %v", key, err)
	}
	return string(b)
}

func subjectURN(s string) catalog.URN { return SubjectURN(testSource, s) }
func topicURN(s string) catalog.URN   { return TopicURN(testCluster, s) }
func fieldURN(topic, part, path string) catalog.URN {
	return FieldURN(testCluster, topic, part, path)
}
