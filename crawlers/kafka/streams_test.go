package kafka

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
)

// TestStreamsAppIDFixtures infers application ids from the realistic topic
// names in testdata/streams-topics.txt.
func TestStreamsAppIDFixtures(t *testing.T) {
	f, err := os.Open("testdata/streams-topics.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	candidate := map[string]bool{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "groups:"); ok {
			for _, g := range strings.Fields(rest) {
				candidate[g] = true
			}
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("bad fixture line %q", line)
		}
		topic, want := fields[0], fields[1]
		if want == "-" {
			want = ""
		}
		got := ""
		if kind, suffix := streamsTopicKind(topic); kind != notInternal {
			got = streamsAppID(topic, suffix, candidate)
		}
		if got != want {
			t.Errorf("%s: application %q; want %q", topic, got, want)
		}
		n++
	}
	if err := sc.Err(); err != nil || n < 10 {
		t.Fatalf("read %d fixtures: %v", n, err)
	}
}

// streamBalancer is a range balancer that announces itself as Kafka
// Streams' "stream" assignor, as a Streams application's members do.
type streamBalancer struct{ kgo.GroupBalancer }

func (streamBalancer) ProtocolName() string { return "stream" }

// TestCrawlStreamsApp recognises Kafka Streams applications from their
// internal topics, their group and their assignor.
func TestCrawlStreamsApp(t *testing.T) {
	c := newTestCluster(t, 1)
	adm := newAdmin(t, c)
	const (
		changelog   = "order-enricher-customer-store-changelog"
		repartition = "order-enricher-KSTREAM-REPARTITION-0000000003-repartition"
		legacyStore = "legacy-billing-KSTREAM-AGGREGATE-STATE-STORE-0000000001-changelog"
	)
	createTopic(t, adm, 2, 1, nil, "orders", "customers", "enriched-orders", "clicks", changelog, repartition, legacyStore, "inventory-sync-stock-changelog")
	// order-enricher reads orders and customers and its own repartition topic.
	commit(t, adm, "order-enricher", map[string]map[int32]int64{
		"orders": {0: 0, 1: 0}, "customers": {0: 0}, repartition: {0: 0},
	})
	// A stateless application: no internal topics, only its assignor.
	produce(t, newProducer(t, c), "clicks", 0, 2)
	consumer := newClient(t, c,
		kgo.ConsumerGroup("clicks-sessionizer"),
		kgo.ConsumeTopics("clicks"),
		kgo.Balancers(streamBalancer{kgo.RangeBalancer()}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	consumeAll(t, consumer, 2)

	s := crawl(t, configFor(c))
	job := StreamsJobURN(testSource, "order-enricher")
	if job != "urn:job:kafka-streams://prod/order-enricher" {
		t.Fatalf("job urn %s", job)
	}

	t.Run("jobs", func(t *testing.T) {
		want := []string{
			string(StreamsJobURN(testSource, "clicks-sessionizer")),
			string(StreamsJobURN(testSource, "legacy-billing")),
			string(job),
		}
		if got := assetURNs(s, catalog.KindJob); !slices.Equal(got, want) {
			t.Errorf("jobs %v; want %v", got, want)
		}
		a := mustAsset(t, s, job)
		var p struct {
			Framework      string   `json:"framework"`
			ApplicationID  string   `json:"applicationId"`
			Stores         []string `json:"stores"`
			InternalTopics []string `json:"internalTopics"`
		}
		decode(t, a.Properties, &p)
		if p.Framework != "kafka-streams" || p.ApplicationID != "order-enricher" || !slices.Equal(p.Stores, []string{"customer-store"}) ||
			!slices.Equal(p.InternalTopics, []string{repartition, changelog}) || a.Scope != "streams/order-enricher" {
			t.Errorf("job %+v scope %q", p, a.Scope)
		}
	})

	for _, tc := range []struct {
		from, to   catalog.URN
		kind       catalog.EdgeKind
		origin     string
		confidence float64
	}{
		{topicURN("orders"), job, catalog.EdgeConsumes, OriginConsumerOffsets, 1},
		{topicURN("customers"), job, catalog.EdgeConsumes, OriginConsumerOffsets, 1},
		{topicURN(repartition), job, catalog.EdgeConsumes, OriginConsumerOffsets, 1},
		{job, topicURN(repartition), catalog.EdgeProduces, OriginStreamsNaming, ConfidenceStreamsNaming},
		{job, topicURN(changelog), catalog.EdgeProduces, OriginStreamsNaming, ConfidenceStreamsNaming},
		{topicURN("orders"), groupURN("order-enricher"), catalog.EdgeConsumes, OriginConsumerOffsets, 1},
		{StreamsJobURN(testSource, "legacy-billing"), topicURN(legacyStore), catalog.EdgeProduces, OriginStreamsNaming, ConfidenceStreamsNaming},
		{topicURN("clicks"), StreamsJobURN(testSource, "clicks-sessionizer"), catalog.EdgeConsumes, OriginAssignment, ConfidenceAssignment},
	} {
		t.Run(tc.from.DisplayName()+" "+string(tc.kind)+" "+tc.to.DisplayName(), func(t *testing.T) {
			l, ok := findLink(s, tc.from, tc.kind, tc.to)
			if !ok {
				t.Fatalf("missing")
			}
			if l.Origin != tc.origin || l.Confidence != tc.confidence {
				t.Errorf("origin %q confidence %v", l.Origin, l.Confidence)
			}
		})
	}
	t.Run("changelog is not consumed", func(t *testing.T) {
		for _, l := range s.Links {
			if l.To == job && l.From == topicURN(changelog) {
				t.Errorf("changelog consumed by its own job: %s", l.Key())
			}
		}
	})
}
