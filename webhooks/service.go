package webhooks

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// SubscriptionName is the dispatcher's change-log cursor. Its position is
// stored in the queue DB, in the same batch as the deliveries it enqueued.
const SubscriptionName = "webhooks/v1"

// Catalog is what the webhooks stage reads from and writes to the catalog.
type Catalog interface {
	Entity(ctx context.Context, urn catalog.URN) (catalog.Entity, error)
	Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error)
}

// Subscriber runs change-log subscriptions (changelog.Changelog).
type Subscriber interface {
	Run(ctx context.Context, s changelog.Subscription) error
}

// Leases grant the delivery lease when replicas share the queue (the
// shared store implements them).
type Leases interface {
	// AcquireLease grants or renews the lease name to holder for ttl. It
	// returns the lease as it stands and whether holder holds it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error)
	// ReleaseLease gives the lease up when holder holds it with token.
	ReleaseLease(ctx context.Context, name, holder string, token uint64) error
}

// DeliveryLease is the lease whose holder delivers when replicas share
// the queue.
const DeliveryLease = "webhooks/delivery"

// DefaultRetry is the delay before each retry: attempts 2..8 over about a
// day and a half, the schedule Standard Webhooks senders commonly use.
var DefaultRetry = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Options configure a Service.
type Options struct {
	Queue      *Queue
	Catalog    Catalog
	Subscriber Subscriber
	// Guard checks every destination; nil refuses every non-public one with
	// an empty allowlist.
	Guard *Guard
	// Within reports whether subject lies within hops hops downstream of
	// of (hops 0: any distance). Wired from the lineage stage in main; nil
	// makes DownstreamOf filters match nothing.
	Within func(ctx context.Context, subject, of catalog.URN, hops int) (bool, error)
	// OwnsDownstream reports whether something downstream of subject (or
	// subject itself) is owned by owner. nil makes OwnedBy filters match
	// nothing.
	OwnsDownstream func(ctx context.Context, subject catalog.URN, owner string) (bool, error)
	// Do sends a request; nil uses a client that dials through Guard,
	// follows no redirects and uses no proxy.
	Do func(*http.Request) (*http.Response, error)
	// Retry lists the delays before attempts 2..n; nil takes DefaultRetry.
	Retry []time.Duration
	// Timeout bounds one attempt (default 10s).
	Timeout time.Duration
	// Concurrency bounds the attempts in flight per endpoint (default 8).
	Concurrency int
	// DisableAfter disables an endpoint that has failed without a success
	// for this long (default 5 days); zero takes the default, negative
	// never disables.
	DisableAfter time.Duration
	// AssetURL links an asset in Slack messages; nil leaves links out.
	AssetURL func(catalog.URN) string
	// LogKeep bounds the delivery log per endpoint (default 1000).
	LogKeep int
	// Leases, when set, makes this Service one of several replicas sharing
	// Queue (NewQueue over the shared store): management works on every
	// replica against the shared queue, and only the holder of
	// DeliveryLease (Holder names this replica) runs the dispatcher, the
	// senders, the outbox emitter and the janitor, its writes fenced by the
	// lease's token. nil: one process, which always delivers.
	Leases Leases
	Holder string
	// LeaseTTL is the delivery lease's lifetime, renewed every third of it
	// (default 15s); Refresh is how often the delivering replica reloads
	// the endpoints other replicas may have changed (default 1s).
	LeaseTTL   time.Duration
	Refresh    time.Duration
	Now        func() time.Time
	Jitter     func(time.Duration) time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Service is the webhooks stage: endpoint management, the dispatcher (a
// change-log handler that only enqueues) and one sender per endpoint.
type Service struct {
	o      Options
	q      *Queue
	log    *slog.Logger
	now    func() time.Time
	do     func(*http.Request) (*http.Response, error)
	m      metrics
	wakeUp chan struct{} // outbox has events to emit

	mu      sync.Mutex
	eps     map[string]*endpointRecord
	raw     map[string][]byte // the stored bytes of each record in eps
	gen     uint64            // counts changes of eps made here, so sync applies no older read
	senders map[string]*sender
	runCtx  context.Context // set by Run; senders start under it
	running sync.WaitGroup
}

type metrics struct {
	attempts *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	enqueued *prometheus.CounterVec
}

// New returns a Service. It does no I/O.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Guard == nil {
		o.Guard = &Guard{}
	}
	if o.Retry == nil {
		o.Retry = DefaultRetry
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.DisableAfter == 0 {
		o.DisableAfter = 5 * 24 * time.Hour
	}
	if o.LogKeep <= 0 {
		o.LogKeep = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 15 * time.Second
	}
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration {
			// ±20%: retries of many failed deliveries spread out instead of
			// arriving together.
			return d + time.Duration((mrand.Float64()*0.4-0.2)*float64(d))
		}
	}
	s := &Service{o: o, q: o.Queue, log: o.Logger.With("component", "webhooks"), now: o.Now, wakeUp: make(chan struct{}, 1),
		eps: map[string]*endpointRecord{}, raw: map[string][]byte{}, senders: map[string]*sender{}}
	s.do = o.Do
	if s.do == nil {
		client := &http.Client{
			Transport: &http.Transport{
				Proxy:                 nil, // a proxy would bypass the guard
				DialContext:           o.Guard.DialContext,
				MaxIdleConnsPerHost:   o.Concurrency,
				IdleConnTimeout:       90 * time.Second,
				TLSHandshakeTimeout:   10 * time.Second,
				ResponseHeaderTimeout: o.Timeout,
				ForceAttemptHTTP2:     true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		s.do = client.Do
	}
	s.m = metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_webhook_attempts_total", Help: "Webhook delivery attempts by endpoint and outcome (delivered, retry, dead, unsubscribed, refused)."}, []string{"endpoint", "outcome"}),
		latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "watershed_webhook_attempt_duration_seconds", Help: "Webhook attempt latency by endpoint.", Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"endpoint"}),
		enqueued: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_webhook_enqueued_total", Help: "Deliveries enqueued by endpoint."}, []string{"endpoint"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.m.attempts, s.m.latency, s.m.enqueued, &pendingCollector{s})
	}
	return s
}

// Run delivers until ctx ends. In one process it loads the endpoints,
// starts their senders, the outbox emitter and the dispatcher
// subscription. With Leases it does so only while it holds DeliveryLease:
// it asks for the lease every third of its lifetime, renews it as often
// while delivering, stops delivering as soon as a renewal fails to keep
// it, and releases it when ctx ends so another replica takes over at once.
func (s *Service) Run(ctx context.Context) error {
	if s.o.Leases == nil {
		return s.deliver(ctx)
	}
	for {
		l, held, err := s.o.Leases.AcquireLease(ctx, DeliveryLease, s.o.Holder, s.o.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.log.Warn("acquire webhook delivery lease", "err", err)
		case held:
			s.log.Info("delivering webhooks", "lease", l.Name, "token", l.Token)
			if err := s.holdAndDeliver(ctx, l); err != nil {
				s.log.Warn("webhook delivery stopped", "err", err)
			}
		}
		if err := changelog.Sleep(ctx, s.o.LeaseTTL/3); err != nil {
			return nil
		}
	}
}

// holdAndDeliver delivers while it keeps lease l, fencing the queue's
// delivery writes with l's token.
func (s *Service) holdAndDeliver(ctx context.Context, l catalog.Lease) error {
	s.q.setFence(catalog.Fence{Lease: l.Name, Token: l.Token})
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.deliver(dctx) }()
	t := time.NewTicker(s.o.LeaseTTL / 3)
	defer t.Stop()
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer rcancel()
		if err := s.o.Leases.ReleaseLease(rctx, l.Name, s.o.Holder, l.Token); err != nil {
			s.log.Warn("release webhook delivery lease", "err", err)
		}
	}()
	for {
		select {
		case err := <-done:
			if ctx.Err() != nil {
				return nil
			}
			return err
		case <-ctx.Done():
			<-done
			return nil
		case <-t.C:
		}
		cur, held, err := s.o.Leases.AcquireLease(ctx, DeliveryLease, s.o.Holder, s.o.LeaseTTL)
		switch {
		case ctx.Err() != nil:
			continue // the next select sees it
		case err != nil:
			if !s.now().Before(l.Expires) {
				cancel()
				<-done
				return fmt.Errorf("renew webhook delivery lease: %w", err)
			}
			s.log.Warn("renew webhook delivery lease", "err", err)
		case !held || cur.Token != l.Token:
			cancel()
			<-done
			return fmt.Errorf("webhook delivery lease lost to %s (token %d)", cur.Holder, cur.Token)
		default:
			l = cur
		}
	}
}

// deliver runs the dispatcher, the senders, the outbox emitter and the
// janitor until ctx ends.
func (s *Service) deliver(ctx context.Context) error {
	recs, err := s.q.endpoints()
	if err != nil {
		return fmt.Errorf("load webhooks: %w", err)
	}
	s.mu.Lock()
	s.runCtx = ctx
	clear(s.eps)
	clear(s.raw)
	for _, r := range recs {
		s.eps[r.r.ID], s.raw[r.r.ID] = r.r, r.raw
	}
	for _, r := range recs {
		if err := s.startSenderLocked(r.r.ID); err != nil {
			s.mu.Unlock()
			s.stopSenders()
			return err
		}
	}
	s.mu.Unlock()
	s.running.Add(2)
	go func() { defer s.running.Done(); s.emitLoop(ctx) }()
	go func() { defer s.running.Done(); s.janitor(ctx) }()
	if s.o.Leases != nil {
		s.running.Add(1)
		go func() { defer s.running.Done(); s.refreshLoop(ctx) }()
	}
	s.signalOutbox()
	err = s.o.Subscriber.Run(ctx, changelog.Subscription{Name: SubscriptionName, Cursors: s.q, Handle: s.dispatch, BatchSize: 512})
	s.stopSenders()
	s.running.Wait()
	return err
}

// stopSenders stops every sender; Run starts them again.
func (s *Service) stopSenders() {
	s.mu.Lock()
	s.runCtx = nil
	senders := make([]*sender, 0, len(s.senders))
	for _, sd := range s.senders {
		senders = append(senders, sd)
	}
	clear(s.senders)
	s.mu.Unlock()
	for _, sd := range senders { // attempts in flight take s.mu: stop unlocked
		sd.stop()
	}
}

// refreshLoop reloads the endpoints every Refresh while delivering, so
// changes made through other replicas reach the senders.
func (s *Service) refreshLoop(ctx context.Context) {
	t := time.NewTicker(s.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.sync(); err != nil && ctx.Err() == nil {
			s.log.Warn("reload webhooks", "err", err)
		}
	}
}

// sync reloads the endpoints from a shared queue (with Leases; in one
// process the memory is the truth and sync does nothing). While
// delivering it starts the senders of new endpoints, stops those of
// deleted ones, and schedules the pending deliveries of changed ones (a
// replay through another replica).
func (s *Service) sync() error {
	if s.o.Leases == nil {
		return nil
	}
	var recs []storedEndpoint
	for try := 0; ; try++ {
		s.mu.Lock()
		gen := s.gen
		s.mu.Unlock()
		var err error
		if recs, err = s.q.endpoints(); err != nil {
			return fmt.Errorf("load webhooks: %w", err)
		}
		s.mu.Lock()
		if s.gen == gen {
			break // s.mu stays held
		}
		s.mu.Unlock() // changed here meanwhile: the read may predate it
		if try >= 10 {
			return catalog.Errorf(catalog.Unavailable, "reload webhooks: they keep changing")
		}
	}
	seen := make(map[string]bool, len(recs))
	var stop []*sender
	var rescan []*sender
	for _, r := range recs {
		id := r.r.ID
		seen[id] = true
		if bytes.Equal(s.raw[id], r.raw) {
			continue
		}
		_, known := s.eps[id]
		s.eps[id], s.raw[id] = r.r, r.raw
		if sd := s.senders[id]; sd != nil && known {
			rescan = append(rescan, sd)
		} else if err := s.startSenderLocked(id); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	for id := range s.eps {
		if !seen[id] {
			delete(s.eps, id)
			delete(s.raw, id)
			if sd := s.senders[id]; sd != nil {
				delete(s.senders, id)
				stop = append(stop, sd)
			}
		}
	}
	s.mu.Unlock()
	for _, sd := range stop {
		sd.stop()
	}
	for _, sd := range rescan {
		pend, err := s.q.pending(sd.id)
		if err != nil {
			return fmt.Errorf("load pending deliveries of webhook %s: %w", sd.id, err)
		}
		for _, d := range pend {
			sd.add(d.Seq, d.NextAt)
		}
		sd.poke()
	}
	return nil
}

// dispatch enqueues the deliveries a batch of changes calls for, with the
// cursor past the batch, in one synced write. It never does HTTP.
func (s *Service) dispatch(ctx context.Context, batch []changelog.Entry) error {
	// With a shared queue an endpoint may have been created through another
	// replica: reload, so every change committed after an endpoint is
	// delivered to it, as in one process.
	if err := s.sync(); err != nil {
		return err
	}
	s.mu.Lock()
	eps := make([]*endpointRecord, 0, len(s.eps))
	for _, r := range s.eps {
		if r.Enabled {
			eps = append(eps, r)
		}
	}
	s.mu.Unlock()
	sort.Slice(eps, func(i, j int) bool { return eps[i].ID < eps[j].ID })
	var ds []Delivery
	ents := map[catalog.URN]*catalog.Entity{}
	now := s.now()
	for _, e := range batch {
		for _, r := range eps {
			if !typeMatches(r.Types, e.Type) {
				continue
			}
			ok, err := s.matches(ctx, r.Filter, e, ents)
			if err != nil {
				return fmt.Errorf("filter change %d for webhook %s: %w", e.Seq, r.ID, err)
			}
			if !ok {
				continue
			}
			body, ct, err := s.render(ctx, r.Format, e, ents)
			if err != nil {
				return fmt.Errorf("render change %d for webhook %s: %w", e.Seq, r.ID, err)
			}
			ds = append(ds, Delivery{Endpoint: r.ID, Seq: e.Seq, Type: e.Type, Subject: e.Subject, Body: body, ContentType: ct, NextAt: now, CreatedAt: now})
		}
	}
	if err := s.q.enqueue(ds, SubscriptionName, batch[len(batch)-1].Seq); err != nil {
		return err
	}
	s.mu.Lock()
	for _, d := range ds {
		if sd := s.senders[d.Endpoint]; sd != nil {
			sd.add(d.Seq, d.NextAt)
		}
		s.m.enqueued.WithLabelValues(d.Endpoint).Inc()
	}
	s.mu.Unlock()
	return nil
}

// entity reads urn once per batch; a missing entity is nil.
func (s *Service) entity(ctx context.Context, urn catalog.URN, cache map[catalog.URN]*catalog.Entity) (*catalog.Entity, error) {
	if urn == "" {
		return nil, nil
	}
	if e, ok := cache[urn]; ok {
		return e, nil
	}
	e, err := s.o.Catalog.Entity(ctx, urn)
	switch {
	case catalog.IsNotFound(err) || catalog.KindOf(err) == catalog.Invalid:
		cache[urn] = nil
		return nil, nil
	case err != nil:
		return nil, err
	}
	cache[urn] = &e
	return &e, nil
}

func (s *Service) matches(ctx context.Context, f Filter, e changelog.Entry, ents map[catalog.URN]*catalog.Entity) (bool, error) {
	if f.URN != "" && !glob(f.URN, string(e.Subject)) {
		return false, nil
	}
	if f.Classification != "" {
		hit := false
		if e.Type.Family("classification") {
			if d, err := e.ClassificationData(); err == nil && catalog.ClassificationWithin(d.Classification, f.Classification) {
				hit = true
			}
		}
		if e.Type.Family("policy.violation") {
			// A violation's event names what it is about; its tombstone
			// (after policy.violation.resolved) carries nothing.
			if d, err := e.AssetData(); err == nil {
				for _, c := range d.Classifications {
					hit = hit || catalog.ClassificationWithin(c, f.Classification)
				}
			}
		}
		if !hit {
			ent, err := s.entity(ctx, e.Subject, ents)
			if err != nil {
				return false, err
			}
			hit = ent != nil && ent.HasClassification(f.Classification)
		}
		if !hit {
			return false, nil
		}
	}
	if f.DownstreamOf != "" {
		if e.Subject == "" || s.o.Within == nil {
			return false, nil
		}
		if e.Subject != f.DownstreamOf {
			ok, err := s.o.Within(ctx, e.Subject, f.DownstreamOf, f.Hops)
			if err != nil || !ok {
				return false, err
			}
		}
	}
	if f.OwnedBy != "" {
		if e.Subject == "" || s.o.OwnsDownstream == nil {
			return false, nil
		}
		ok, err := s.o.OwnsDownstream(ctx, e.Subject, f.OwnedBy)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// render writes the body of a delivery.
func (s *Service) render(ctx context.Context, f Format, e changelog.Entry, ents map[catalog.URN]*catalog.Entity) (json.RawMessage, string, error) {
	if f == FormatSlack {
		ent, err := s.entity(ctx, e.Subject, ents)
		if err != nil {
			return nil, "", err
		}
		link := ""
		if s.o.AssetURL != nil && e.Subject != "" {
			link = s.o.AssetURL(e.Subject)
		}
		b, err := json.Marshal(slackMessage(e, ent, link))
		return b, "application/json", err
	}
	b, err := json.Marshal(changelog.Envelope(e))
	return b, "application/cloudevents+json", err
}

// emitLoop commits the outbox's events to the change log.
func (s *Service) emitLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		evs, err := s.q.outbox()
		if err != nil {
			s.log.Warn("read webhook outbox", "err", err)
		}
		for _, ev := range evs {
			_, err := s.o.Catalog.Apply(ctx, catalog.Batch{Actor: catalog.ActorWebhooks, Origin: "/watershed/webhooks", Mutations: []catalog.Mutation{
				catalog.Emit{Type: ev.Type, Subject: ev.Subject, Data: ev.Data},
			}})
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("emit webhook event", "type", ev.Type, "err", err)
				}
				break
			}
			if err := s.q.dropOutbox(ev.N); err != nil {
				s.log.Warn("drop webhook outbox entry", "err", err)
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wakeUp:
		case <-t.C:
		}
	}
}

func (s *Service) signalOutbox() {
	select {
	case s.wakeUp <- struct{}{}:
	default:
	}
}

// janitor prunes the delivery logs.
func (s *Service) janitor(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		ids := make([]string, 0, len(s.eps))
		for id := range s.eps {
			ids = append(ids, id)
		}
		s.mu.Unlock()
		for _, id := range ids {
			if err := s.q.pruneLog(id, s.o.LogKeep); err != nil {
				s.log.Warn("prune webhook log", "webhook", id, "err", err)
			}
		}
	}
}

// ---- management ----

func newID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", catalog.Errorf(catalog.Internal, "generate webhook id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func (s *Service) validate(ctx context.Context, r *endpointRecord) error {
	if strings.TrimSpace(r.Name) == "" || len(r.Name) > maxNameBytes || !utf8.ValidString(r.Name) || strings.ContainsAny(r.Name, "\n\r") {
		return catalog.Errorf(catalog.Invalid, "webhook name must be 1 to %d bytes of one line", maxNameBytes)
	}
	if len(r.Description) > maxDescBytes {
		return catalog.Errorf(catalog.Invalid, "webhook description is longer than %d bytes", maxDescBytes)
	}
	if _, err := s.o.Guard.CheckURL(ctx, r.URL); err != nil {
		// A name that does not resolve now is refused for an enabled
		// endpoint (the caller learns of the typo at once) but accepted
		// for a disabled one; every connection is checked again anyway.
		if r.Enabled || catalog.KindOf(err) != catalog.Unavailable {
			return err
		}
	}
	if err := validTypes(r.Types); err != nil {
		return err
	}
	switch r.Format {
	case FormatCloudEvents, FormatSlack:
	default:
		return catalog.Errorf(catalog.Invalid, "webhook format %q: use CLOUDEVENTS or SLACK", r.Format)
	}
	f := r.Filter
	if f.Classification != "" {
		if err := catalog.ValidClassificationName(f.Classification); err != nil {
			return err
		}
	}
	if len(f.URN) > maxGlobBytes {
		return catalog.Errorf(catalog.Invalid, "webhook URN filter is longer than %d bytes", maxGlobBytes)
	}
	if f.DownstreamOf != "" {
		if err := f.DownstreamOf.Validate(); err != nil {
			return fmt.Errorf("webhook downstreamOf filter: %w", err)
		}
	}
	if f.Hops < 0 || f.Hops > maxFilterHops {
		return catalog.Errorf(catalog.Invalid, "webhook hops filter must be 0 to %d", maxFilterHops)
	}
	if f.Hops > 0 && f.DownstreamOf == "" {
		return catalog.Errorf(catalog.Invalid, "webhook hops filter needs downstreamOf")
	}
	if len(f.OwnedBy) > maxOwnerBytes || strings.ContainsAny(f.OwnedBy, "\n\r") {
		return catalog.Errorf(catalog.Invalid, "webhook ownedBy filter must be one line of at most %d bytes", maxOwnerBytes)
	}
	return nil
}

func apply(r *endpointRecord, in EndpointInput) {
	if in.Name != nil {
		r.Name = strings.TrimSpace(*in.Name)
	}
	if in.URL != nil {
		r.URL = strings.TrimSpace(*in.URL)
	}
	if in.Description != nil {
		r.Description = *in.Description
	}
	if in.Types != nil {
		r.Types = append([]string(nil), in.Types...)
	}
	if in.Filter != nil {
		r.Filter = *in.Filter
	}
	if in.Format != nil {
		r.Format = *in.Format
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
}

// Create adds an endpoint and returns it with its signing secret, which is
// never shown again.
func (s *Service) Create(ctx context.Context, in EndpointInput) (Endpoint, string, error) {
	id, err := newID()
	if err != nil {
		return Endpoint{}, "", err
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, "", err
	}
	now := s.now().UTC()
	r := &endpointRecord{Endpoint: Endpoint{ID: id, Format: FormatCloudEvents, Enabled: true, CreatedAt: now, UpdatedAt: now}}
	apply(r, in)
	if r.Name == "" && in.URL != nil {
		r.Name = redactURL(r.URL)
	}
	if err := s.validate(ctx, r); err != nil {
		return Endpoint{}, "", err
	}
	r.Secrets = []secretRecord{{Secret: secret, CreatedAt: now}}
	if err := s.sync(); err != nil {
		return Endpoint{}, "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.eps) >= maxEndpointsDB {
		return Endpoint{}, "", catalog.Errorf(catalog.Invalid, "at most %d webhooks may exist", maxEndpointsDB)
	}
	raw, err := s.q.putEndpoint(r, nil)
	if err != nil {
		return Endpoint{}, "", err
	}
	s.eps[id], s.raw[id] = r, raw
	s.gen++
	if err := s.startSenderLocked(id); err != nil {
		return Endpoint{}, "", err
	}
	s.log.Info("webhook created", "webhook", id, "url", redactURL(r.URL), "types", r.Types)
	return r.view(now), secret, nil
}

// Update changes an endpoint. Enabling a disabled one clears why it was
// disabled and resumes its pending deliveries.
func (s *Service) Update(ctx context.Context, id string, in EndpointInput) (Endpoint, error) {
	if err := s.sync(); err != nil {
		return Endpoint{}, err
	}
	cur := s.record(id)
	if cur == nil {
		return Endpoint{}, catalog.Errorf(catalog.NotFound, "no webhook %s", id)
	}
	check := cloneRecord(cur)
	apply(check, in)
	if err := s.validate(ctx, check); err != nil {
		return Endpoint{}, err
	}
	now := s.now().UTC()
	r, err := s.change(id, func(r *endpointRecord) error {
		wasEnabled := r.Enabled
		apply(r, in)
		if r.Enabled && !wasEnabled {
			r.DisabledReason, r.DisabledAt, r.FailingSince = "", time.Time{}, time.Time{}
		}
		if !r.Enabled && wasEnabled {
			r.DisabledAt = now
		}
		r.UpdatedAt = now
		return nil
	})
	if err != nil {
		return Endpoint{}, err
	}
	s.mu.Lock()
	if sd := s.senders[id]; sd != nil {
		sd.poke()
	}
	s.mu.Unlock()
	return r.view(now), nil
}

// change applies fn to a copy of endpoint id's record and stores it in
// place of the record it was applied to; when the stored record changed
// meanwhile (an attempt's bookkeeping, a call through another replica) it
// reloads it and applies fn again.
func (s *Service) change(id string, fn func(r *endpointRecord) error) (*endpointRecord, error) {
	for try := 0; ; try++ {
		s.mu.Lock()
		old, ok := s.eps[id]
		if !ok {
			s.mu.Unlock()
			return nil, catalog.Errorf(catalog.NotFound, "no webhook %s", id)
		}
		r := cloneRecord(old)
		if err := fn(r); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		raw, err := s.q.putEndpoint(r, s.raw[id])
		if err == nil {
			s.eps[id], s.raw[id] = r, raw
			s.gen++
			s.mu.Unlock()
			return r, nil
		}
		s.mu.Unlock()
		if !changedMeanwhile(err) || try >= 10 {
			return nil, err
		}
		if err := s.reload(id); err != nil {
			return nil, err
		}
	}
}

// reload reads endpoint id's record into memory as stored.
func (s *Service) reload(id string) error {
	raw, found, err := s.q.kv.Get(bg(), key(keyEndpoint, id))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !found {
		delete(s.eps, id)
		s.gen++
		delete(s.raw, id)
		return nil
	}
	var r endpointRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("decode webhook %s: %w", id, err)
	}
	s.eps[id], s.raw[id] = &r, raw
	s.gen++
	return nil
}

// Delete removes an endpoint, its pending deliveries, log and dead letters.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.sync(); err != nil {
		return err
	}
	s.mu.Lock()
	if _, ok := s.eps[id]; !ok {
		s.mu.Unlock()
		return catalog.Errorf(catalog.NotFound, "no webhook %s", id)
	}
	sd := s.senders[id]
	delete(s.senders, id)
	delete(s.eps, id) // attempts in flight now find no endpoint and stop
	s.gen++
	delete(s.raw, id)
	s.mu.Unlock()
	if sd != nil {
		sd.stop()
	}
	return s.q.deleteEndpoint(id)
}

// MaxOverlap bounds how long a rotated-out secret keeps signing.
const MaxOverlap = 7 * 24 * time.Hour

// RotateSecret adds a new signing secret and returns it (shown once). The
// keys active before keep signing for overlap (both signatures are sent),
// so receivers can switch without dropping a delivery.
func (s *Service) RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	if overlap < 0 || overlap > MaxOverlap {
		return "", catalog.Errorf(catalog.Invalid, "secret overlap must be between 0 and %s", MaxOverlap)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	if err := s.sync(); err != nil {
		return "", err
	}
	now := s.now().UTC()
	_, err = s.change(id, func(r *endpointRecord) error {
		var kept []secretRecord
		for _, sec := range r.Secrets {
			if !sec.ExpiresAt.IsZero() && !now.Before(sec.ExpiresAt) {
				continue // long expired: forget it
			}
			if sec.ExpiresAt.IsZero() || sec.ExpiresAt.After(now.Add(overlap)) {
				sec.ExpiresAt = now.Add(overlap)
			}
			kept = append(kept, sec)
		}
		r.Secrets = append(kept, secretRecord{Secret: secret, CreatedAt: now})
		r.UpdatedAt = now
		return nil
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Endpoints lists every endpoint, by name.
func (s *Service) Endpoints(ctx context.Context) []Endpoint {
	if err := s.sync(); err != nil {
		s.log.Warn("reload webhooks", "err", err) // answer from memory
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]Endpoint, 0, len(s.eps))
	for _, r := range s.eps {
		out = append(out, r.view(now))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Endpoint returns one endpoint.
func (s *Service) Endpoint(ctx context.Context, id string) (Endpoint, error) {
	if err := s.sync(); err != nil {
		return Endpoint{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.eps[id]
	if !ok {
		return Endpoint{}, catalog.Errorf(catalog.NotFound, "no webhook %s", id)
	}
	return r.view(s.now()), nil
}

// Attempts returns the newest attempts of an endpoint's delivery log.
func (s *Service) Attempts(ctx context.Context, id string, limit int) ([]Attempt, error) {
	if _, err := s.Endpoint(ctx, id); err != nil {
		return nil, err
	}
	return s.q.attempts(id, limit)
}

// DeadLetters returns the deliveries that exhausted their attempts.
func (s *Service) DeadLetters(ctx context.Context, id string, limit int) ([]Delivery, error) {
	if _, err := s.Endpoint(ctx, id); err != nil {
		return nil, err
	}
	return s.q.deadLetters(id, limit)
}

// Pending returns how many deliveries of an endpoint wait.
func (s *Service) Pending(ctx context.Context, id string) (int, error) {
	if _, err := s.Endpoint(ctx, id); err != nil {
		return 0, err
	}
	return s.q.countPending(id)
}

// ReplayDeadLetters queues every dead letter of an endpoint again (same
// webhook-id, a fresh schedule) and returns how many.
func (s *Service) ReplayDeadLetters(ctx context.Context, id string) (int, error) {
	if _, err := s.Endpoint(ctx, id); err != nil {
		return 0, err
	}
	ds, err := s.q.replay(id, s.now())
	if err != nil {
		return 0, err
	}
	if len(ds) > 0 && s.o.Leases != nil {
		// Tell the delivering replica, which reloads changed records.
		if _, err := s.change(id, func(r *endpointRecord) error { r.Replays++; return nil }); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	if sd := s.senders[id]; sd != nil {
		for _, d := range ds {
			sd.add(d.Seq, d.NextAt)
		}
	}
	s.mu.Unlock()
	return len(ds), nil
}

func cloneRecord(r *endpointRecord) *endpointRecord {
	c := *r
	c.Types = append([]string(nil), r.Types...)
	c.Secrets = append([]secretRecord(nil), r.Secrets...)
	return &c
}

// record returns the current record of id.
func (s *Service) record(id string) *endpointRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eps[id]
}

// disabledData is the payload of webhook.endpoint.disabled.
type disabledData struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	URL    string `json:"url"` // scheme and host only
	Reason string `json:"reason"`
}

var errStopped = errors.New("sender stopped")
