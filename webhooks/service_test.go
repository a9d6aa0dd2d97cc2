package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/goleak"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
)

func TestMain(m *testing.M) {
	if childMain() {
		return
	}
	goleak.VerifyTestMain(m)
}

// receiver is a real HTTP receiver on loopback that verifies every request
// with the Standard Webhooks library and answers from a script.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	got    []received
	answer func(n int, r *http.Request) (status int, header map[string]string)
	notify chan struct{}
}

type received struct {
	id, ts, sig string
	body        []byte
	verified    error
	at          time.Time
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, map[string]string)) *receiver {
	rc := &receiver{t: t, answer: answer, notify: make(chan struct{}, 1000)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		var verr error = errors.New("no secret set")
		if rc.secret != "" {
			wh, err := standardwebhooks.NewWebhook(rc.secret)
			if err != nil {
				verr = err
			} else {
				verr = wh.Verify(body, r.Header)
			}
		}
		rc.got = append(rc.got, received{id: r.Header.Get("webhook-id"), ts: r.Header.Get("webhook-timestamp"), sig: r.Header.Get("webhook-signature"), body: body, verified: verr, at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		status, hdr := 200, map[string]string(nil)
		if rc.answer != nil {
			status, hdr = rc.answer(n, r)
		}
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", n)
		rc.notify <- struct{}{}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// waitFor waits until the receiver has n requests.
func (rc *receiver) waitFor(n int, within time.Duration) []received {
	rc.t.Helper()
	deadline := time.After(within)
	for {
		if got := rc.requests(); len(got) >= n {
			return got
		}
		select {
		case <-rc.notify:
		case <-deadline:
			rc.t.Fatalf("receiver got %d requests, want %d", len(rc.requests()), n)
		}
	}
}

type harness struct {
	t      *testing.T
	store  *embedded.Store
	cl     *changelog.Changelog
	svc    *Service
	cancel context.CancelFunc
	done   chan error
}

func loopbackGuard() *Guard {
	return &Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

func newHarness(t *testing.T, tune func(*Options)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := embedded.Open(embedded.Options{Dir: dir + "/catalog"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := OpenQueue(dir + "/webhooks")
	if err != nil {
		t.Fatal(err)
	}
	cl := changelog.New(changelog.Options{Log: st, Cursors: st, MaxBackoff: 50 * time.Millisecond})
	o := Options{Queue: q, Catalog: st, Subscriber: cl, Guard: loopbackGuard(), Retry: []time.Duration{20 * time.Millisecond, 20 * time.Millisecond}, Jitter: func(d time.Duration) time.Duration { return d }, Timeout: 2 * time.Second}
	if tune != nil {
		tune(&o)
	}
	h := &harness{t: t, store: st, cl: cl, svc: New(o), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.svc.Run(ctx) }()
	t.Cleanup(func() {
		h.cancel()
		if err := <-h.done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("webhooks run: %v", err)
		}
		q.Close()
		st.Close()
	})
	// Wait for the dispatcher to be running.
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := cl.WaitHandled(wctx, SubscriptionName, 0); err != nil {
		t.Fatal(err)
	}
	return h
}

// register writes an asset and returns its change's seq.
func (h *harness) register(u catalog.URN, muts ...catalog.Mutation) uint64 {
	h.t.Helper()
	ch, err := h.store.Apply(context.Background(), catalog.Batch{Actor: "user:test", Mutations: append([]catalog.Mutation{catalog.RegisterAsset{URN: u}}, muts...)})
	if err != nil {
		h.t.Fatal(err)
	}
	return ch[len(ch)-1].Seq
}

func (h *harness) create(in EndpointInput) (Endpoint, string) {
	h.t.Helper()
	ep, secret, err := h.svc.Create(context.Background(), in)
	if err != nil {
		h.t.Fatal(err)
	}
	return ep, secret
}

func str(s string) *string { return &s }

func TestDeliverySignedStableIDRetries(t *testing.T) {
	h := newHarness(t, nil)
	// Fails twice, then succeeds: the third attempt has the same webhook-id.
	rc := newReceiver(t, func(n int, _ *http.Request) (int, map[string]string) {
		if n <= 2 {
			return 500, nil
		}
		return 204, nil
	})
	ep, secret := h.create(EndpointInput{URL: str(rc.srv.URL + "/hook"), Types: []string{"asset.*"}})
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	seq := h.register("urn:dataset:s3://lake/orders")
	got := rc.waitFor(3, 5*time.Second)
	for i, r := range got {
		if r.id != fmt.Sprintf("msg_%s_%d", ep.ID, seq) {
			t.Errorf("attempt %d webhook-id = %q", i+1, r.id)
		}
		if r.verified != nil {
			t.Errorf("attempt %d: signature does not verify: %v", i+1, r.verified)
		}
	}
	var ce changelog.CloudEvent
	if err := json.Unmarshal(got[0].body, &ce); err != nil || ce.Type != "asset.created" || ce.Subject != "urn:dataset:s3://lake/orders" || ce.SpecVersion != "1.0" {
		t.Errorf("body = %s (%v)", got[0].body, err)
	}
	// The delivery log shows the three attempts, newest first.
	waitUntil(t, func() bool {
		as, _ := h.svc.Attempts(context.Background(), ep.ID, 10)
		return len(as) == 3 && as[0].Outcome == "delivered"
	})
	as, _ := h.svc.Attempts(context.Background(), ep.ID, 10)
	if as[1].Status != 500 || as[1].Outcome != "retry" || as[1].Response != "answer 2" || as[0].Number != 3 {
		t.Errorf("attempts = %+v", as)
	}
	if n, _ := h.svc.Pending(context.Background(), ep.ID); n != 0 {
		t.Errorf("pending after delivery = %d", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, func(n int, _ *http.Request) (int, map[string]string) {
		if n == 1 {
			return 429, map[string]string{"Retry-After": "1"}
		}
		return 200, nil
	})
	h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"*"}})
	h.register("urn:dataset:s3://lake/a")
	got := rc.waitFor(2, 5*time.Second)
	if gap := got[1].at.Sub(got[0].at); gap < 900*time.Millisecond {
		t.Errorf("second attempt %s after a 429 with Retry-After: 1 (schedule says 20ms)", gap)
	}
}

func TestGoneDisablesEndpointWithEvent(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, func(int, *http.Request) (int, map[string]string) { return 410, nil })
	ep, _ := h.create(EndpointInput{Name: str("old receiver"), URL: str(rc.srv.URL + "/secret-path"), Types: []string{"asset.*"}})
	h.register("urn:dataset:s3://lake/a")
	rc.waitFor(1, 5*time.Second)
	waitUntil(t, func() bool { e, _ := h.svc.Endpoint(context.Background(), ep.ID); return !e.Enabled })
	e, _ := h.svc.Endpoint(context.Background(), ep.ID)
	if !strings.Contains(e.DisabledReason, "410") {
		t.Errorf("disabled reason %q", e.DisabledReason)
	}
	// The change log gets webhook.endpoint.disabled, without the URL's path.
	var ev *catalog.Change
	waitUntil(t, func() bool {
		cs, _ := h.store.Changes(context.Background(), 0, 0)
		for i := range cs {
			if cs[i].Type == catalog.WebhookEndpointDisabled {
				ev = &cs[i]
				return true
			}
		}
		return false
	})
	if strings.Contains(string(ev.Data), "secret-path") || !strings.Contains(string(ev.Data), ep.ID) || ev.Actor != catalog.ActorWebhooks {
		t.Errorf("disabled event %+v data %s", ev, ev.Data)
	}
	// Nothing more is sent to it.
	h.register("urn:dataset:s3://lake/b")
	time.Sleep(100 * time.Millisecond)
	if n := len(rc.requests()); n != 1 {
		t.Errorf("a disabled endpoint got %d requests", n)
	}
	dl, _ := h.svc.DeadLetters(context.Background(), ep.ID, 10)
	if len(dl) != 1 {
		t.Errorf("dead letters after 410 = %d", len(dl))
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Retry = nil; o.Retry = []time.Duration{} })
	internal := newReceiver(t, nil)
	rc := newReceiver(t, func(int, *http.Request) (int, map[string]string) {
		return 307, map[string]string{"Location": internal.srv.URL + "/admin"}
	})
	ep, _ := h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"asset.*"}})
	h.register("urn:dataset:s3://lake/a")
	rc.waitFor(1, 5*time.Second)
	waitUntil(t, func() bool { dl, _ := h.svc.DeadLetters(context.Background(), ep.ID, 10); return len(dl) == 1 })
	if n := len(internal.requests()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
	as, _ := h.svc.Attempts(context.Background(), ep.ID, 10)
	if len(as) != 1 || as[0].Status != 307 || as[0].Outcome != "dead" {
		t.Errorf("attempts = %+v", as)
	}
}

func TestHangingReceiverDoesNotDelayOthers(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Timeout = 300 * time.Millisecond; o.Concurrency = 1 })
	block := make(chan struct{})
	defer close(block)
	slow := newReceiver(t, func(int, *http.Request) (int, map[string]string) {
		<-block
		return 200, nil
	})
	fast := newReceiver(t, nil)
	slowEP, _ := h.create(EndpointInput{URL: str(slow.srv.URL), Types: []string{"asset.*"}})
	h.create(EndpointInput{URL: str(fast.srv.URL), Types: []string{"asset.*"}})
	for i := 0; i < 5; i++ {
		h.register(catalog.URN(fmt.Sprintf("urn:dataset:s3://lake/%d", i)))
	}
	// Every delivery to the fast endpoint arrives while the hanging receiver still holds every
	// request it was sent (block is only closed when the test ends): the fast endpoint is not
	// queued behind it. No clock is read: the proof is the order of events.
	fast.waitFor(5, 20*time.Second)
	as, err := h.svc.Attempts(context.Background(), slowEP.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if a.Outcome == "delivered" {
			t.Fatalf("the hanging receiver answered an attempt: %+v", a)
		}
	}
	// The hanging receiver's attempts time out and are retried (some attempt, not necessarily the
	// newest: with two retries an event's third attempt is already dead).
	waitUntil(t, func() bool {
		as, _ := h.svc.Attempts(context.Background(), slowEP.ID, 50)
		for _, a := range as {
			if a.Outcome == "retry" && strings.Contains(a.Error, "deadline") {
				return true
			}
		}
		return false
	})
}

func TestDeadLettersAndReplay(t *testing.T) {
	h := newHarness(t, nil)
	var down sync.Mutex
	failing := true
	rc := newReceiver(t, func(int, *http.Request) (int, map[string]string) {
		down.Lock()
		defer down.Unlock()
		if failing {
			return 503, nil
		}
		return 200, nil
	})
	ep, secret := h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"asset.*"}})
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	seq := h.register("urn:dataset:s3://lake/a")
	rc.waitFor(3, 5*time.Second) // 1 + two retries, then dead
	waitUntil(t, func() bool { dl, _ := h.svc.DeadLetters(context.Background(), ep.ID, 10); return len(dl) == 1 })
	down.Lock()
	failing = false
	down.Unlock()
	n, err := h.svc.ReplayDeadLetters(context.Background(), ep.ID)
	if err != nil || n != 1 {
		t.Fatalf("replay = %d, %v", n, err)
	}
	got := rc.waitFor(4, 5*time.Second)
	if got[3].id != fmt.Sprintf("msg_%s_%d", ep.ID, seq) || got[3].verified != nil {
		t.Errorf("replayed delivery id %q verified %v", got[3].id, got[3].verified)
	}
	waitUntil(t, func() bool { dl, _ := h.svc.DeadLetters(context.Background(), ep.ID, 10); return len(dl) == 0 })
}

func TestAutoDisableAfterFailingPeriod(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.DisableAfter = 150 * time.Millisecond
		o.Retry = []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	})
	rc := newReceiver(t, func(int, *http.Request) (int, map[string]string) { return 500, nil })
	ep, _ := h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"asset.*"}})
	h.register("urn:dataset:s3://lake/a")
	waitUntil(t, func() bool { e, _ := h.svc.Endpoint(context.Background(), ep.ID); return !e.Enabled })
	e, _ := h.svc.Endpoint(context.Background(), ep.ID)
	if !strings.Contains(e.DisabledReason, "failing since") {
		t.Errorf("reason %q", e.DisabledReason)
	}
	// Re-enabling resumes the pending delivery.
	enabled := true
	if _, err := h.svc.Update(context.Background(), ep.ID, EndpointInput{Enabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	n := len(rc.requests())
	rc.waitFor(n+1, 5*time.Second)
}

func TestRotationSignsWithBothSecrets(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, nil)
	ep, oldSecret := h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"asset.*"}})
	newSecret, err := h.svc.RotateSecret(context.Background(), ep.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := h.svc.Endpoint(context.Background(), ep.ID); e.ActiveSecrets != 2 || e.RotatingUntil.IsZero() {
		t.Errorf("after rotation: %+v", e)
	}
	h.register("urn:dataset:s3://lake/a")
	got := rc.waitFor(1, 5*time.Second)
	hd := http.Header{}
	hd.Set("webhook-id", got[0].id)
	hd.Set("webhook-timestamp", got[0].ts)
	hd.Set("webhook-signature", got[0].sig)
	for _, s := range []string{oldSecret, newSecret} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(got[0].body, hd); err != nil {
			t.Errorf("during the overlap, %s… does not verify: %v", s[:12], err)
		}
	}
	if n := strings.Count(got[0].sig, "v1,"); n != 2 {
		t.Errorf("signature header has %d signatures: %q", n, got[0].sig)
	}
	// Without overlap the old secret stops at once.
	if _, err := h.svc.RotateSecret(context.Background(), ep.ID, 0); err != nil {
		t.Fatal(err)
	}
	if e, _ := h.svc.Endpoint(context.Background(), ep.ID); e.ActiveSecrets != 1 {
		t.Errorf("after rotation without overlap: %d active secrets", e.ActiveSecrets)
	}
}

func TestFilters(t *testing.T) {
	lineage := map[catalog.URN]catalog.URN{ // child → parent, a chain a → b → c
		"urn:dataset:s3://lake/b": "urn:dataset:s3://lake/a",
		"urn:dataset:s3://lake/c": "urn:dataset:s3://lake/b",
	}
	h := newHarness(t, func(o *Options) {
		o.Within = func(_ context.Context, subject, of catalog.URN, hops int) (bool, error) {
			for d := 1; lineage[subject] != ""; d++ {
				subject = lineage[subject]
				if subject == of {
					return hops == 0 || d <= hops, nil
				}
			}
			return false, nil
		}
		o.OwnsDownstream = func(_ context.Context, subject catalog.URN, owner string) (bool, error) {
			return owner == "team:dwh" && subject == "urn:dataset:s3://lake/a", nil
		}
	})
	type want struct {
		rc  *receiver
		in  EndpointInput
		got []catalog.URN
	}
	mk := func(in EndpointInput, urns ...catalog.URN) *want {
		w := &want{rc: newReceiver(t, nil), in: in, got: urns}
		w.in.URL = str(w.rc.srv.URL)
		h.create(w.in)
		return w
	}
	ws := []*want{
		mk(EndpointInput{Types: []string{"asset.created"}, Filter: &Filter{URN: "urn:dataset:s3://lake/[bc]*"}}), // brackets are literal: nothing
		mk(EndpointInput{Types: []string{"asset.created"}, Filter: &Filter{URN: "urn:dataset:s3://lake/?"}}, "urn:dataset:s3://lake/a", "urn:dataset:s3://lake/b", "urn:dataset:s3://lake/c"),
		mk(EndpointInput{Types: []string{"classification.attached"}, Filter: &Filter{Classification: "PII"}}, "urn:dataset:s3://lake/b"),
		mk(EndpointInput{Types: []string{"asset.created"}, Filter: &Filter{DownstreamOf: "urn:dataset:s3://lake/a", Hops: 1}}, "urn:dataset:s3://lake/a", "urn:dataset:s3://lake/b"),
		mk(EndpointInput{Types: []string{"asset.created"}, Filter: &Filter{OwnedBy: "team:dwh"}}, "urn:dataset:s3://lake/a"),
	}
	h.register("urn:dataset:s3://lake/a")
	h.register("urn:dataset:s3://lake/b", catalog.Classify{URN: "urn:dataset:s3://lake/b", Classification: "PII.Email"})
	last := h.register("urn:dataset:s3://lake/c", catalog.Classify{URN: "urn:dataset:s3://lake/c", Classification: "Financial"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.cl.WaitHandled(ctx, SubscriptionName, last); err != nil {
		t.Fatal(err)
	}
	for i, w := range ws {
		if len(w.got) > 0 {
			w.rc.waitFor(len(w.got), 5*time.Second)
		}
		time.Sleep(50 * time.Millisecond)
		var subs []catalog.URN
		for _, r := range w.rc.requests() {
			var ce changelog.CloudEvent
			json.Unmarshal(r.body, &ce)
			subs = append(subs, catalog.URN(ce.Subject))
		}
		// Deliveries to one endpoint run concurrently: compare as sets.
		sort.Slice(subs, func(i, j int) bool { return subs[i] < subs[j] })
		if fmt.Sprint(subs) != fmt.Sprint(w.got) {
			t.Errorf("endpoint %d (%+v): got %v, want %v", i, w.in.Filter, subs, w.got)
		}
	}
}

func TestSlackFormat(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.AssetURL = func(u catalog.URN) string { return "http://watershed.example/assets/" + url.PathEscape(string(u)) }
	})
	rc := newReceiver(t, nil)
	slack := FormatSlack
	h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"classification.*"}, Format: &slack})
	h.register("urn:dataset:s3://lake/a<b>", catalog.Classify{URN: "urn:dataset:s3://lake/a<b>", Classification: "PII"})
	got := rc.waitFor(1, 5*time.Second)
	var msg struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(got[0].body, &msg); err != nil {
		t.Fatal(err)
	}
	head := msg.Blocks[0]["text"].(map[string]any)["text"].(string)
	detail := msg.Blocks[1]["text"].(map[string]any)["text"].(string)
	if msg.Text == "" || head != "*Classification attached <http://watershed.example/assets/urn:dataset:s3:%2F%2Flake%2Fa%3Cb%3E|a&lt;b&gt;>*" || !strings.Contains(detail, "*PII*") {
		t.Errorf("slack message = %s", got[0].body)
	}
}

func TestCreateValidation(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Guard = &Guard{} })
	for _, in := range []EndpointInput{
		{URL: str("http://169.254.169.254/"), Types: []string{"*"}},
		{URL: str("http://127.0.0.1:9/"), Types: []string{"*"}},
		{URL: str("https://93.184.216.34/"), Types: nil},
		{URL: str("https://93.184.216.34/"), Types: []string{"Asset Created"}},
		{URL: str("https://93.184.216.34/"), Types: []string{"*"}, Filter: &Filter{Hops: 3}},
		{URL: str("https://93.184.216.34/"), Types: []string{"*"}, Filter: &Filter{Classification: "not valid!"}},
	} {
		if _, _, err := h.svc.Create(context.Background(), in); catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("create %+v: err %v, want Invalid", in, err)
		}
	}
	if got := h.svc.Endpoints(context.Background()); len(got) != 0 {
		t.Errorf("refused creations stored %d webhooks", len(got))
	}
}

// TestViolationEvents: a classification filter matches a violation by the
// classifications its events name — the resolved one too, whose tombstone
// carries none — and the Slack message shows the violation as of the event.
func TestViolationEvents(t *testing.T) {
	h := newHarness(t, nil)
	rc := newReceiver(t, nil)
	slack := FormatSlack
	h.create(EndpointInput{URL: str(rc.srv.URL), Types: []string{"policy.violation.*"}, Format: &slack, Filter: &Filter{Classification: "PII"}})
	subject := catalog.GroupURN("prod", "analytics")
	v := catalog.ViolationURN("pii-readers", subject)
	scope := "violation/pii-readers/" + string(subject)
	open := catalog.Snapshot{Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Scopes: []string{scope}, Assets: []catalog.Asset{{
		URN: v, Name: "pii-readers: analytics", Description: "reads PII", Scope: scope,
		Properties:      catalog.Properties{"policy": "pii-readers", "severity": "HIGH", "subject": string(subject), "message": "consumer group analytics reads PII"},
		Classifications: []catalog.SourceClassification{{Name: "PII.Email"}},
	}}}
	other := catalog.Snapshot{Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Scopes: []string{"violation/retention/x"}, Assets: []catalog.Asset{{
		URN: catalog.ViolationURN("retention", "urn:topic:prod/x"), Scope: "violation/retention/x", Properties: catalog.Properties{"policy": "retention"},
	}}}
	for _, s := range []catalog.Snapshot{open, other, {Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Scopes: []string{scope}}} {
		if _, err := h.store.Reconcile(context.Background(), s, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.waitFor(2, 5*time.Second)
	time.Sleep(100 * time.Millisecond) // the violation without PII must not follow
	if n := len(rc.requests()); n != 2 {
		t.Fatalf("%d deliveries, want the PII violation's opened and resolved", n)
	}
	texts := map[string]string{}
	for _, r := range got {
		var msg struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(r.body, &msg); err != nil {
			t.Fatal(err)
		}
		texts[msg.Text] = msg.Blocks[1]["text"].(map[string]any)["text"].(string)
	}
	for _, head := range []string{"Policy violation opened pii-readers: analytics", "Policy violation resolved pii-readers: analytics"} {
		detail, ok := texts[head]
		if !ok {
			t.Errorf("no message %q among %v", head, texts)
			continue
		}
		if !strings.Contains(detail, "Policy: pii-readers") || !strings.Contains(detail, "Message: consumer group analytics reads PII") {
			t.Errorf("%s: details %q", head, detail)
		}
	}
}
