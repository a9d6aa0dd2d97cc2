package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/changelog/changelogtest"
	"github.com/watershed-data/watershed/changelog/kafkalog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cluster is an in-process Kafka (kfake) closed with the test.
func cluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// rig is a store, its relay to brokers, and the runners built over them.
type rig struct {
	t       *testing.T
	store   *embedded.Store
	brokers []string
	topic   string // empty: the default
	prefix  string // consumer group prefix; empty: the default
}

func newRig(t *testing.T, brokers []string) *rig { return newRigOn(t, brokers, "", "") }

// newRigOn uses its own topic and group prefix, for a cluster shared by
// several tests.
func newRigOn(t *testing.T, brokers []string, topic, prefix string) *rig {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, store: s, brokers: brokers, topic: topic, prefix: prefix}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	relay := kafkalog.NewRelay(kafkalog.RelayOptions{Brokers: brokers, Topic: topic, Partitions: 4, ReplicationFactor: 1, Log: s, Cursors: s, BatchSize: 3})
	go func() { done <- relay.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("relay: %v", err)
		}
		s.Close()
	})
	return r
}

func (r *rig) runner() *kafkalog.Subscriptions {
	k := kafkalog.New(kafkalog.Options{Brokers: r.brokers, Topic: r.topic, GroupPrefix: r.prefix, Log: r.store, Cursors: r.store, MaxBackoff: 50 * time.Millisecond})
	r.t.Cleanup(k.Close)
	return k
}

func (r *rig) append(t *testing.T, typ catalog.ChangeType, subjects ...catalog.URN) []uint64 {
	t.Helper()
	if typ == "" {
		typ = "test.entry"
	}
	var out []uint64
	for _, u := range subjects {
		ch, err := r.store.Apply(context.Background(), catalog.Batch{Mutations: []catalog.Mutation{catalog.Emit{Type: typ, Subject: u}}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch[0].Seq)
	}
	return out
}

// TestConformance runs the change-log suite on kfake: the relay publishes
// the embedded store's outbox, subscriptions consume it as groups.
func TestConformance(t *testing.T) {
	changelogtest.Run(t, changelogtest.Harness{New: func(t *testing.T) *changelogtest.Env {
		r := newRig(t, cluster(t))
		return &changelogtest.Env{
			Runner:  r.runner(),
			Restart: func(t *testing.T) changelogtest.Runner { return r.runner() },
			Append:  r.append,
		}
	}})
}

func urns(prefix string, n int) []catalog.URN {
	out := make([]catalog.URN, n)
	for i := range out {
		out[i] = catalog.URN(fmt.Sprintf("urn:dataset:test://%s/%03d", prefix, i))
	}
	return out
}

// TestGroupSharesWork runs one subscription in two runners (two replicas):
// every entry is handled by one of them, once, and entries of one subject
// arrive in order.
func TestGroupSharesWork(t *testing.T) {
	r := newRig(t, cluster(t))
	a, b := r.runner(), r.runner()
	var mu sync.Mutex
	count := map[uint64]int{}
	by := map[string]int{}
	last := map[catalog.URN]uint64{}
	var disorder []string
	handler := func(who string) func(context.Context, []changelog.Entry) error {
		return func(_ context.Context, batch []changelog.Entry) error {
			mu.Lock()
			defer mu.Unlock()
			for _, e := range batch {
				count[e.Seq]++
				by[who]++
				if e.Seq < last[e.Subject] {
					disorder = append(disorder, fmt.Sprintf("%s: %d after %d", e.Subject, e.Seq, last[e.Subject]))
				}
				last[e.Subject] = e.Seq
			}
			return nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for who, rn := range map[string]*kafkalog.Subscriptions{"a": a, "b": b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := rn.Run(ctx, changelog.Subscription{Name: "shared", Handle: handler(who), BatchSize: 5})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("run %s: %v", who, err)
			}
		}()
	}
	waitCtx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := a.WaitHandled(waitCtx, "shared", 0); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitHandled(waitCtx, "shared", 0); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for round := range 5 {
		for _, u := range urns("s", 8) {
			seqs = append(seqs, r.append(t, "", u+catalog.URN(fmt.Sprint("/", round%2)))...)
		}
	}
	if err := a.WaitHandled(waitCtx, "shared", seqs[len(seqs)-1]); err != nil {
		t.Fatal(err)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seqs {
		if count[s] != 1 {
			t.Errorf("entry %d handled %d times, want once per group", s, count[s])
		}
	}
	if len(disorder) > 0 {
		t.Errorf("per-subject order broken: %v", disorder)
	}
	t.Logf("handled by replica: %v", by)
}

// TestFollowTailsTopic checks that a follower sees entries written before it
// started (from the store) and after (from the topic), each once.
func TestFollowTailsTopic(t *testing.T) {
	r := newRig(t, cluster(t))
	k := r.runner()
	before := r.append(t, "", urns("before", 3)...)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan changelog.Entry, 100)
	done := make(chan error, 1)
	go func() {
		done <- k.Follow(ctx, before[0], func(_ context.Context, e changelog.Entry) error {
			got <- e
			return nil
		})
	}()
	after := r.append(t, "", urns("after", 4)...)
	want := append(before[1:], after...)
	seen := map[uint64]int{}
	timeout := time.After(30 * time.Second)
	for len(seen) < len(want) {
		select {
		case e := <-got:
			seen[e.Seq]++
		case <-timeout:
			t.Fatalf("followed %v, want %v", seen, want)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("follow: %v", err)
	}
	close(got)
	for e := range got {
		seen[e.Seq]++
	}
	for _, s := range want {
		if seen[s] != 1 {
			t.Errorf("entry %d followed %d times", s, seen[s])
		}
	}
	if seen[before[0]] != 0 {
		t.Errorf("entry %d at the follow position was delivered", before[0])
	}
}
