package changelog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/changelog/changelogtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openStore(t *testing.T, dir string) *embedded.Store {
	t.Helper()
	s, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func register(t *testing.T, s catalog.Store, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		_, err := s.Apply(context.Background(), catalog.Batch{Mutations: []catalog.Mutation{
			catalog.RegisterAsset{URN: catalog.URN(fmt.Sprintf("urn:dataset:s3://b/%03d", i))},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// collector records handled entries and stops its subscription after n.
type collector struct {
	mu     sync.Mutex
	seen   []catalog.Change
	n      int
	cancel context.CancelFunc
}

func (c *collector) handle(ctx context.Context, e changelog.Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, e)
	if len(c.seen) >= c.n {
		c.cancel()
	}
	return nil
}

func subscribeUntil(t *testing.T, cl *changelog.Changelog, name string, fromStart bool, n int) []catalog.Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &collector{n: n, cancel: cancel}
	err := cl.Subscribe(ctx, name, fromStart, c.handle)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe returned %v, want context.Canceled (got %d of %d entries)", err, len(c.seen), n)
	}
	return c.seen
}

func TestSubscribeInOrderAndResumes(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	head0, _ := s.LastSeq(context.Background())
	register(t, s, 0, 10)
	cl := changelog.New(changelog.Options{Log: s, Cursors: s, BatchSize: 3})
	got := subscribeUntil(t, cl, "test", true, int(head0)+10)
	for i, e := range got {
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d: out of order or missing", i, e.Seq)
		}
	}
	// Restart the process: the cursor survives and only new entries arrive.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	defer s.Close()
	register(t, s, 10, 15)
	cl = changelog.New(changelog.Options{Log: s, Cursors: s})
	got = subscribeUntil(t, cl, "test", true, 5)
	if len(got) != 5 || got[0].Seq != head0+11 || got[0].Subject != "urn:dataset:s3://b/010" {
		t.Fatalf("after restart got %d entries starting %v, want the 5 new ones", len(got), got[0])
	}
}

func TestSubscribeWaitsForNewEntries(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	cl := changelog.New(changelog.Options{Log: s, Cursors: s})
	done := make(chan []catalog.Change)
	go func() { done <- subscribeUntil(t, cl, "late", false, 2) }()
	// A new subscription starts at the head: wait until it is running.
	deadline := time.Now().Add(5 * time.Second)
	for len(cl.Subscriptions()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	register(t, s, 0, 2)
	got := <-done
	if len(got) != 2 || got[0].Subject != "urn:dataset:s3://b/000" || got[1].Subject != "urn:dataset:s3://b/001" {
		t.Fatalf("got %v", got)
	}
}

func TestHandlerErrorsRetryThenSkipPermanent(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	head0, _ := s.LastSeq(context.Background())
	register(t, s, 0, 3)
	cl := changelog.New(changelog.Options{Log: s, Cursors: s, MaxBackoff: 10 * time.Millisecond})
	attempts := map[uint64]int{}
	var handled []uint64
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	err := cl.Subscribe(ctx2, "flaky", true, func(ctx context.Context, e changelog.Entry) error {
		attempts[e.Seq]++
		switch {
		case e.Subject == "urn:dataset:s3://b/000" && attempts[e.Seq] < 3:
			return errors.New("transient")
		case e.Subject == "urn:dataset:s3://b/001":
			return changelog.Permanent(errors.New("cannot handle"))
		}
		handled = append(handled, e.Seq)
		if e.Subject == "urn:dataset:s3://b/002" {
			cancel2()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe: %v", err)
	}
	if attempts[head0+1] != 3 {
		t.Errorf("transient entry attempted %d times, want 3", attempts[head0+1])
	}
	if attempts[head0+2] != 1 {
		t.Errorf("permanent entry attempted %d times, want 1", attempts[head0+2])
	}
	if len(handled) < 2 || handled[len(handled)-1] != head0+3 || handled[len(handled)-2] != head0+1 {
		t.Errorf("handled = %v", handled)
	}
}

func TestCancelMidBatchKeepsProgress(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	head0, _ := s.LastSeq(context.Background())
	register(t, s, 0, 10)
	cl := changelog.New(changelog.Options{Log: s, Cursors: s, BatchSize: 100})
	ctx, cancel := context.WithCancel(context.Background())
	var first []uint64
	err := cl.Subscribe(ctx, "mid", true, func(ctx context.Context, e changelog.Entry) error {
		if e.Seq == head0+5 {
			cancel()
			return ctx.Err() // not handled: must be redelivered
		}
		first = append(first, e.Seq)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("subscribe: %v", err)
	}
	pos, _, err := s.LoadCursor(context.Background(), "mid")
	if err != nil {
		t.Fatal(err)
	}
	if pos != head0+4 {
		t.Fatalf("cursor = %d, want %d (last handled)", pos, head0+4)
	}
	got := subscribeUntil(t, cl, "mid", true, 6)
	if got[0].Seq != head0+5 {
		t.Errorf("resumed at %d, want %d", got[0].Seq, head0+5)
	}
}

func TestDuplicateSubscriptionRejected(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	cl := changelog.New(changelog.Options{Log: s, Cursors: s})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- cl.Subscribe(ctx, "one", false, func(context.Context, changelog.Entry) error { return nil })
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(cl.Subscriptions()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err := cl.Subscribe(ctx, "one", false, func(context.Context, changelog.Entry) error { return nil })
	if catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("second subscription: %v, want Conflict", err)
	}
	cancel()
	<-done
}

func TestEnvelope(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 123000000, time.UTC)
	e := catalog.Change{Seq: 42, Type: catalog.AssetCreated, Subject: "urn:topic:prod/orders", Time: at, Origin: "/watershed/sources/prod", Actor: "crawler:prod", Cause: "41", Data: json.RawMessage(`{"kind":"TOPIC"}`)}
	b, err := json.Marshal(changelog.Envelope(e))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"specversion": "1.0", "id": "42", "source": "/watershed/sources/prod", "type": "asset.created",
		"subject": "urn:topic:prod/orders", "time": "2026-11-21T10:00:00.123Z", "datacontenttype": "application/json",
		"data": map[string]any{"kind": "TOPIC"}, "sequence": "00000000000000000042", "cause": "41", "actor": "crawler:prod",
	}
	for k, v := range want {
		if fmt.Sprint(m[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
}

func TestConformance(t *testing.T) {
	changelogtest.Run(t, changelogtest.Harness{New: func(t *testing.T) *changelogtest.Env {
		dir := t.TempDir()
		s := openStore(t, dir)
		t.Cleanup(func() { s.Close() })
		newRunner := func() *changelog.Changelog {
			return changelog.New(changelog.Options{Log: s, Cursors: s, MaxBackoff: 50 * time.Millisecond})
		}
		return &changelogtest.Env{
			Runner:  newRunner(),
			Restart: func(t *testing.T) changelogtest.Runner { return newRunner() },
			Append: func(t *testing.T, typ catalog.ChangeType, subjects ...catalog.URN) []uint64 {
				t.Helper()
				if typ == "" {
					typ = "test.entry"
				}
				var out []uint64
				for _, u := range subjects {
					ch, err := s.Apply(context.Background(), catalog.Batch{Mutations: []catalog.Mutation{catalog.Emit{Type: typ, Subject: u}}})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, ch[0].Seq)
				}
				return out
			},
		}
	}})
}
