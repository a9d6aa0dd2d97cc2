package kafka

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/watershed-data/watershed/catalog"
)

// consumeAll polls cl until it has seen n records.
func consumeAll(t *testing.T, cl *kgo.Client, n int) {
	t.Helper()
	ctx := testCtx(t)
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", seen, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		seen += fs.NumRecords()
	}
}

func firstCommitErr(resp *kmsg.OffsetCommitResponse) error {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitFor retries check until it succeeds or the deadline passes.
func waitFor(t *testing.T, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrawlConsumerGroupLag produces known records, lets a live classic
// consumer read them and commit known offsets, and checks the group's state,
// members, per-partition lag, total lag and CONSUMES provenance.
func TestCrawlConsumerGroupLag(t *testing.T) {
	c := newTestCluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, 2, 3, nil, "orders")
	createTopic(t, adm, 1, 3, nil, "refunds")
	p := newProducer(t, c)
	produce(t, p, "orders", 0, 10)
	produce(t, p, "orders", 1, 4)
	produce(t, p, "refunds", 0, 3)

	consumer := newClient(t, c,
		kgo.ClientID("billing-svc"),
		kgo.ConsumerGroup("billing"),
		kgo.ConsumeTopics("orders", "refunds"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	consumeAll(t, consumer, 17)
	// Committed on orders only: lag 3 on partition 0, none on partition 1.
	// refunds is assigned but never committed.
	consumer.CommitOffsetsSync(testCtx(t), map[string]map[int32]kgo.EpochOffset{
		"orders": {0: {Epoch: -1, Offset: 7}, 1: {Epoch: -1, Offset: 4}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err == nil {
			err = firstCommitErr(resp)
		}
		if err != nil {
			t.Errorf("commit: %v", err)
		}
	})
	// An offsets-only group (a tool committed for it; no member ever joined).
	commit(t, adm, "reporting", map[string]map[int32]int64{"refunds": {0: 1}})

	s := crawl(t, configFor(c))

	type want struct {
		props    groupProps
		state    string
		protocol string
		members  int
		offsets  []groupOffset
		totalLag int64
		consumes map[string]string // topic -> origin
	}
	for _, tc := range []struct {
		group string
		want  want
	}{
		{"billing", want{
			props:    groupProps{GroupType: "classic", ProtocolType: "consumer"},
			state:    "Stable",
			protocol: "cooperative-sticky",
			members:  1,
			offsets: []groupOffset{
				{Topic: "orders", Partition: 0, Committed: 7, End: i64(10), Lag: i64(3)},
				{Topic: "orders", Partition: 1, Committed: 4, End: i64(4), Lag: i64(0)},
			},
			totalLag: 3,
			consumes: map[string]string{"orders": OriginConsumerOffsets, "refunds": OriginAssignment},
		}},
		{"reporting", want{
			props:    groupProps{GroupType: "classic", ProtocolType: ""},
			state:    "Empty",
			offsets:  []groupOffset{{Topic: "refunds", Partition: 0, Committed: 1, End: i64(3), Lag: i64(2)}},
			totalLag: 2,
			consumes: map[string]string{"refunds": OriginConsumerOffsets},
		}},
	} {
		t.Run(tc.group, func(t *testing.T) {
			a := mustAsset(t, s, groupURN(tc.group))
			if a.Scope != "group/"+tc.group || a.Name != tc.group {
				t.Errorf("scope %q name %q", a.Scope, a.Name)
			}
			var props groupProps
			decode(t, a.Properties, &props)
			if props != tc.want.props {
				t.Errorf("properties %+v; want %+v", props, tc.want.props)
			}
			var live groupLive
			decode(t, a.Live, &live)
			if live.State != tc.want.state || live.Protocol != tc.want.protocol || len(live.Members) != tc.want.members || live.Coordinator == nil {
				t.Errorf("live state %q protocol %q members %d coordinator %v", live.State, live.Protocol, len(live.Members), live.Coordinator)
			}
			if !reflect.DeepEqual(live.Offsets, tc.want.offsets) || live.TotalLag != tc.want.totalLag {
				t.Errorf("offsets %+v total %d; want %+v total %d", live.Offsets, live.TotalLag, tc.want.offsets, tc.want.totalLag)
			}
			var got []string
			for _, l := range s.Links {
				if l.Kind == catalog.EdgeConsumes && l.To == a.URN {
					got = append(got, l.From.DisplayName())
					wantOrigin := tc.want.consumes[l.From.DisplayName()]
					wantConf := 1.0
					if wantOrigin == OriginAssignment {
						wantConf = ConfidenceAssignment
					}
					if l.Origin != wantOrigin || l.Confidence != wantConf || l.Scope != a.Scope {
						t.Errorf("link %s: origin %q confidence %v scope %q", l.Key(), l.Origin, l.Confidence, l.Scope)
					}
				}
			}
			if len(got) != len(tc.want.consumes) {
				t.Errorf("consumes %v; want %v", got, tc.want.consumes)
			}
		})
	}

	t.Run("member of billing", func(t *testing.T) {
		var live groupLive
		decode(t, mustAsset(t, s, groupURN("billing")).Live, &live)
		m := live.Members[0]
		if m.ClientID != "billing-svc" || m.MemberID == "" || m.Host == "" {
			t.Errorf("member %+v", m)
		}
		var assigned []string
		for _, a := range m.Assignment {
			for _, p := range a.Partitions {
				assigned = append(assigned, a.Topic+"/"+string(rune('0'+p)))
			}
		}
		if !slices.Equal(assigned, []string{"orders/0", "orders/1", "refunds/0"}) {
			t.Errorf("assignment %v", assigned)
		}
		if !slices.Equal(m.Subscribed, []string{"orders", "refunds"}) {
			t.Errorf("subscribed %v", m.Subscribed)
		}
	})
}

// TestCrawlKIP848Group checks that a group using the KIP-848 consumer
// protocol is recognised, and that its assignment (which kfake keys by
// topic id only) is reported by topic name.
func TestCrawlKIP848Group(t *testing.T) {
	c := newTestCluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, 3, 3, nil, "events")
	produce(t, newProducer(t, c), "events", 1, 6)

	consumer := newClient(t, c,
		kgo.ClientID("analytics"),
		kgo.ConsumerGroup("analytics-848"),
		kgo.ConsumeTopics("events"),
		kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	consumeAll(t, consumer, 6)

	var s catalog.Snapshot
	var live groupLive
	// The member confirms its assignment on its next heartbeat.
	waitFor(t, "a reconciled KIP-848 assignment", func() bool {
		s = crawl(t, configFor(c))
		a, ok := findAsset(s, groupURN("analytics-848"))
		if !ok {
			return false
		}
		live = groupLive{}
		decode(t, a.Live, &live)
		return len(live.Members) == 1 && len(live.Members[0].Assignment) == 1
	})
	a := mustAsset(t, s, groupURN("analytics-848"))
	var props groupProps
	decode(t, a.Properties, &props)
	if props.GroupType != "consumer" || props.ProtocolType != "consumer" || props.Assignor == "" {
		t.Errorf("properties %+v; want a consumer-protocol group with its assignor", props)
	}
	if live.State != "Stable" || live.Members[0].ClientID != "analytics" {
		t.Errorf("live %+v", live)
	}
	if as := live.Members[0].Assignment[0]; as.Topic != "events" || !slices.Equal(as.Partitions, []int32{0, 1, 2}) {
		t.Errorf("assignment %+v; want events [0 1 2]", as)
	}
	if _, ok := a.Live["groupEpoch"]; !ok {
		t.Errorf("live lacks groupEpoch: %v", a.Live)
	}
	l, ok := findLink(s, topicURN("events"), catalog.EdgeConsumes, a.URN)
	if !ok || l.Origin != OriginAssignment {
		t.Errorf("events CONSUMES analytics-848: %+v %v", l, ok)
	}

	// Once it commits, the link is backed by offsets.
	consumer.CommitOffsetsSync(testCtx(t), map[string]map[int32]kgo.EpochOffset{"events": {1: {Epoch: -1, Offset: 2}}}, nil)
	s = crawl(t, configFor(c))
	l, _ = findLink(s, topicURN("events"), catalog.EdgeConsumes, a.URN)
	live = groupLive{}
	decode(t, mustAsset(t, s, a.URN).Live, &live)
	if l.Origin != OriginConsumerOffsets || l.Confidence != 1 || live.TotalLag != 4 {
		t.Errorf("after commit: link %+v, total lag %d (offsets %+v); want consumer-offsets and lag 4", l, live.TotalLag, live.Offsets)
	}
}

// TestRecrawlOnlyLiveMoves checks the contract that keeps a busy cluster
// quiet: when only lag, offsets and watermarks move between two crawls, the
// properties and links of every asset are identical, so the store writes no
// change event.
func TestRecrawlOnlyLiveMoves(t *testing.T) {
	c := newTestCluster(t, 3)
	adm := newAdmin(t, c)
	createTopic(t, adm, 2, 3, map[string]*string{"retention.ms": ptr("3600000")}, "clicks")
	p := newProducer(t, c)
	produce(t, p, "clicks", 0, 3)
	commit(t, adm, "sessionizer", map[string]map[int32]int64{"clicks": {0: 1}})

	first := crawl(t, configFor(c))
	produce(t, p, "clicks", 0, 20)
	produce(t, p, "clicks", 1, 5)
	commit(t, adm, "sessionizer", map[string]map[int32]int64{"clicks": {0: 10, 1: 2}})
	second := crawl(t, configFor(c))

	if len(first.Assets) != len(second.Assets) {
		t.Fatalf("asset counts %d and %d", len(first.Assets), len(second.Assets))
	}
	liveMoved := 0
	for i, a := range first.Assets {
		b := second.Assets[i]
		if a.URN != b.URN || a.Name != b.Name || a.Scope != b.Scope {
			t.Fatalf("asset %d: %s vs %s", i, a.URN, b.URN)
		}
		if !reflect.DeepEqual(normalized(t, a.Properties), normalized(t, b.Properties)) {
			t.Errorf("%s properties moved:\n%v\n%v", a.URN, a.Properties, b.Properties)
		}
		if !reflect.DeepEqual(normalized(t, a.Live), normalized(t, b.Live)) {
			liveMoved++
		}
	}
	if !reflect.DeepEqual(first.Links, second.Links) {
		t.Errorf("links moved:\n%v\n%v", first.Links, second.Links)
	}
	if liveMoved < 2 { // the topic's watermarks and the group's lag
		t.Errorf("live readings moved on %d assets; want the topic and the group", liveMoved)
	}
	var live groupLive
	decode(t, mustAsset(t, second, groupURN("sessionizer")).Live, &live)
	if live.TotalLag != (23-10)+(5-2) {
		t.Errorf("total lag %d; want 16", live.TotalLag)
	}
}
