package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/internal/fakeconnect"
)

// scenarioConnector is one connector of a scenario.
type scenarioConnector struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Type   string            `json:"type"`
	State  string            `json:"state"`
	Topics []string          `json:"topics"`
	// Tasks are the keys the connector adds to each task's config.
	Tasks []map[string]string `json:"tasks"`
}

// scenario is one testdata/*.json file: connectors as a worker holds them
// and the topic schemas the schema registry crawler would have catalogued.
type scenario struct {
	Description string              `json:"description"`
	Connectors  []scenarioConnector `json:"connectors"`
	// ClusterTopics, when set, are the Kafka cluster's topics (the
	// TopicLister); otherwise the topics with schemas are.
	ClusterTopics []string `json:"clusterTopics"`
	Schemas       map[string]struct {
		RecordName string   `json:"recordName"`
		Paths      []string `json:"paths"`
	} `json:"schemas"`
}

const testSource, testCluster = "prod-connect", "prod"

func loadScenario(t *testing.T, name string) scenario {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s scenario
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

func (s scenario) schemas() MapSchemas {
	m := MapSchemas{}
	for topic, ts := range s.Schemas {
		m[catalog.TopicURN(testCluster, topic)] = TopicSchema{RecordName: ts.RecordName, Paths: ts.Paths}
	}
	return m
}

// topicList is a TopicLister of fixed topics of testCluster.
type topicList []string

func (l topicList) Topics(_ context.Context, cluster string) ([]string, error) {
	if cluster != testCluster {
		return nil, nil
	}
	return append([]string(nil), l...), nil
}

// startWorker serves the scenario's connectors from a fake worker on a real
// socket.
func startWorker(t *testing.T, s scenario, opts fakeconnect.Options) *fakeconnect.Server {
	t.Helper()
	srv := fakeconnect.NewServer(opts)
	t.Cleanup(srv.Close)
	for _, c := range s.Connectors {
		srv.AddConnector(fakeconnect.Connector{Name: c.Name, Config: c.Config, Type: c.Type, State: c.State, Topics: c.Topics, TaskConfigs: c.Tasks})
	}
	return srv
}

func newTestCrawler(t *testing.T, url string, schemas MapSchemas, mutate func(*Options)) *Crawler {
	t.Helper()
	opts := Options{Config: Config{URL: url, Cluster: testCluster}, Source: testSource}
	if schemas != nil {
		opts.Schemas, opts.Topics = schemas, schemas
	}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := NewCrawler(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// crawlScenario crawls a scenario through the real HTTP client and a fake
// worker and checks the snapshot is valid.
func crawlScenario(t *testing.T, file string) catalog.Snapshot {
	t.Helper()
	s := loadScenario(t, file)
	srv := startWorker(t, s, fakeconnect.Options{})
	snap, err := newTestCrawler(t, srv.URL, s.schemas(), func(o *Options) {
		if s.ClusterTopics != nil {
			o.Topics = topicList(s.ClusterTopics)
		}
	}).Crawl(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := snap.Validate(); err != nil {
		t.Fatalf("invalid snapshot: %v", err)
	}
	return snap
}

// linkString renders a link compactly for exact comparisons:
// "from -KIND-> to [origin conf transform masking]".
func linkString(l catalog.Link) string {
	s := fmt.Sprintf("%s -%s-> %s [%s %.1f", l.From, l.Kind, l.To, l.Origin, l.Confidence)
	if l.Transform != "" {
		s += " t=" + l.Transform
	}
	if l.Masking {
		s += " masking"
	}
	return s + "]"
}

func links(s catalog.Snapshot, keep func(catalog.Link) bool) []string {
	var out []string
	for _, l := range s.Links {
		if keep == nil || keep(l) {
			out = append(out, linkString(l))
		}
	}
	sort.Strings(out)
	return out
}

// linksOfKind renders the links of kind k; pair edges (those with a Via)
// are left to pairLinks.
func linksOfKind(s catalog.Snapshot, k catalog.EdgeKind) []string {
	return links(s, func(l catalog.Link) bool { return l.Kind == k && l.Via == "" })
}

// pairLinks renders the pair edges (DERIVES with a Via) of connector name,
// or of every connector when name is empty, as "from -> to [origin conf
// t=transform]".
func pairLinks(s catalog.Snapshot, name string) []string {
	var out []string
	for _, l := range s.Links {
		if l.Via == "" || (name != "" && l.Via != catalog.ConnectorURN(testSource, name)) {
			continue
		}
		str := fmt.Sprintf("%s -> %s [%s %.1f", l.From, l.To, l.Origin, l.Confidence)
		if l.Transform != "" {
			str += " t=" + l.Transform
		}
		out = append(out, str+"]")
	}
	sort.Strings(out)
	return out
}

func assetURNs(s catalog.Snapshot, k catalog.Kind) []string {
	var out []string
	for _, a := range s.Assets {
		if a.URN.Kind() == k {
			out = append(out, string(a.URN))
		}
	}
	sort.Strings(out)
	return out
}

func asset(t *testing.T, s catalog.Snapshot, u string) catalog.Asset {
	t.Helper()
	for _, a := range s.Assets {
		if string(a.URN) == u {
			return a
		}
	}
	t.Fatalf("no asset %s", u)
	return catalog.Asset{}
}

func equalLists(t *testing.T, what string, got, want []string) {
	t.Helper()
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func dump(t *testing.T, s catalog.Snapshot) {
	t.Helper()
	for _, a := range s.Assets {
		t.Logf("asset %s scope=%s", a.URN, a.Scope)
	}
	for _, l := range links(s, nil) {
		t.Logf("link %s", l)
	}
	t.Logf("incomplete %v", s.Incomplete)
}

// httptestServer serves h on a loopback socket for the test's duration.
func httptestServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
