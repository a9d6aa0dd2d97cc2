package webhooks

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
)

// sharedKV is one KV that several replicas' queues use; only the last
// Close closes it.
type sharedKV struct {
	KV
	refs atomic.Int32
}

func (s *sharedKV) Close() error {
	if s.refs.Add(-1) == 0 {
		return s.KV.Close()
	}
	return nil
}

// deadLeases is a replica's view of the leases: once dead it stops
// talking to the store, as a killed process does (its lease is never
// released, it lapses).
type deadLeases struct {
	Leases
	dead atomic.Bool
}

func (d *deadLeases) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error) {
	if d.dead.Load() {
		return catalog.Lease{}, false, errors.New("replica is dead")
	}
	return d.Leases.AcquireLease(ctx, name, holder, ttl)
}

func (d *deadLeases) ReleaseLease(ctx context.Context, name, holder string, token uint64) error {
	if d.dead.Load() {
		return errors.New("replica is dead")
	}
	return d.Leases.ReleaseLease(ctx, name, holder, token)
}

type sharedReplica struct {
	svc    *Service
	leases *deadLeases
	sent   atomic.Int32
	cancel context.CancelFunc
	done   chan error
}

// TestSharedQueueOneDeliverer: two replicas share the queue. A webhook
// created through the one that does not deliver is listed by both and
// delivered once, by the holder of the delivery lease only, its attempts
// read through the other; when the holder dies without releasing the
// lease, the other takes over once it lapses and delivers what was
// enqueued meanwhile, nothing lost; a rename through a third replica and
// the deliverer's failure tracking on the same record both stick.
func TestSharedQueueOneDeliverer(t *testing.T) {
	dir := t.TempDir()
	st, err := embedded.Open(embedded.Options{Dir: dir + "/catalog"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pkv, err := openPebbleKV(dir + "/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	kv := &sharedKV{KV: pkv}
	rc := newReceiver(t, nil)
	start := func(name string) *sharedReplica {
		kv.refs.Add(1)
		r := &sharedReplica{leases: &deadLeases{Leases: st}, done: make(chan error, 1)}
		client := &http.Client{}
		r.svc = New(Options{
			Queue: NewQueue(kv), Catalog: st, Subscriber: changelog.New(changelog.Options{Log: st, MaxBackoff: 50 * time.Millisecond}),
			Guard: loopbackGuard(), Retry: []time.Duration{20 * time.Millisecond}, Jitter: func(d time.Duration) time.Duration { return d },
			Do:     func(req *http.Request) (*http.Response, error) { r.sent.Add(1); return client.Do(req) },
			Leases: r.leases, Holder: name, LeaseTTL: 600 * time.Millisecond, Refresh: 50 * time.Millisecond,
		})
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go func() { r.done <- r.svc.Run(ctx) }()
		return r
	}
	stop := func(r *sharedReplica) {
		r.cancel()
		if err := <-r.done; err != nil {
			t.Errorf("run: %v", err)
		}
		r.svc.q.Close()
	}
	a := start("a")
	waitLease(t, st, "a")
	b := start("b")
	defer stop(b)
	ctx := context.Background()

	ep, secret, err := b.svc.Create(ctx, EndpointInput{URL: str(rc.srv.URL), Types: []string{"asset.*"}})
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	if got := a.svc.Endpoints(ctx); len(got) != 1 || got[0].ID != ep.ID {
		t.Fatalf("endpoints read through the holder = %+v", got)
	}
	// The holder reloads on its timer; give it the endpoint before the change.
	waitUntil(t, func() bool { return a.svc.record(ep.ID) != nil && senderOf(a.svc, ep.ID) })
	register(t, st, "urn:dataset:s3://lake/one")
	got := rc.waitFor(1, 5*time.Second)
	if got[0].verified != nil {
		t.Fatalf("delivery does not verify: %v", got[0].verified)
	}
	waitUntil(t, func() bool {
		at, err := b.svc.Attempts(ctx, ep.ID, 10)
		return err == nil && len(at) == 1 && at[0].Outcome == "delivered"
	})
	if a.sent.Load() != 1 || b.sent.Load() != 0 {
		t.Fatalf("sent by a: %d, by b: %d; want 1 and 0", a.sent.Load(), b.sent.Load())
	}

	// a dies holding the lease; changes made meanwhile wait in the store's
	// log and are delivered by b once the lease lapses.
	a.leases.dead.Store(true)
	stop(a)
	for _, u := range []catalog.URN{"urn:dataset:s3://lake/two", "urn:dataset:s3://lake/three"} {
		register(t, st, u)
	}
	got = rc.waitFor(3, 10*time.Second)
	ids := map[string]int{}
	for _, r := range got {
		ids[r.id]++
	}
	if len(ids) != 3 || b.sent.Load() != 2 {
		t.Fatalf("after the takeover: %d distinct deliveries (%v), %d sent by b; want 3 and 2", len(ids), ids, b.sent.Load())
	}

	// A rename through a third replica, then failures the deliverer b
	// records on the endpoint: neither overwrites the other.
	c := start("c")
	defer stop(c)
	if _, err := c.svc.Update(ctx, ep.ID, EndpointInput{Name: str("renamed")}); err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.answer = func(int, *http.Request) (int, map[string]string) { return 500, nil }
	rc.mu.Unlock()
	register(t, st, "urn:dataset:s3://lake/four")
	waitUntil(t, func() bool {
		e, err := c.svc.Endpoint(ctx, ep.ID)
		return err == nil && !e.FailingSince.IsZero()
	})
	if e, _ := c.svc.Endpoint(ctx, ep.ID); e.Name != "renamed" {
		t.Fatalf("name after the deliverer's bookkeeping = %q, want renamed", e.Name)
	}
	if c.sent.Load() != 0 {
		t.Fatalf("replica c, not the deliverer, sent %d", c.sent.Load())
	}
}

func senderOf(s *Service, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.senders[id] != nil
}

func register(t *testing.T, st *embedded.Store, u catalog.URN) {
	t.Helper()
	if _, err := st.Apply(context.Background(), catalog.Batch{Actor: "user:test", Mutations: []catalog.Mutation{catalog.RegisterAsset{URN: u}}}); err != nil {
		t.Fatal(err)
	}
}

func waitLease(t *testing.T, st *embedded.Store, holder string) {
	t.Helper()
	waitUntil(t, func() bool {
		ls, err := st.Leases(context.Background(), DeliveryLease)
		return err == nil && len(ls) == 1 && ls[0].Holder == holder
	})
}
