package crawlers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/watershed-data/watershed/catalog"
)

// RunRecorder is what the manager needs of the store.
type RunRecorder interface {
	Reconcile(ctx context.Context, s catalog.Snapshot, run *catalog.CrawlRun) (catalog.ReconcileResult, error)
	RecordCrawlRun(ctx context.Context, run catalog.CrawlRun) (catalog.Change, error)
}

// Leases divides the crawls among replicas sharing a store: a source is
// crawled only by the replica holding its lease "crawl/<source>". Stores
// shared by replicas implement it (the embedded store too, trivially).
type Leases interface {
	// AcquireLease grants or renews the lease name to holder for ttl; it
	// returns the lease as it stands and whether holder holds it.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (catalog.Lease, bool, error)
	// ReleaseLease gives the lease up if holder still holds it with token.
	ReleaseLease(ctx context.Context, name, holder string, token uint64) error
	// Leases returns the held leases whose names start with prefix.
	Leases(ctx context.Context, prefix string) ([]catalog.Lease, error)
}

// LeaseName is the lease a crawl of source holds.
func LeaseName(source string) string { return "crawl/" + source }

// ManagerOptions configure a Manager.
type ManagerOptions struct {
	Sources []SourceSpec
	Store   RunRecorder
	// Leases, when set, makes every crawl hold its source's lease, renewed
	// every third of LeaseTTL (zero: 30s) while it runs and released after:
	// replicas sharing a store crawl each source one at a time, and a dead
	// replica's lease lapses so that the next schedule tick elsewhere
	// takes over. Holder names this replica (its host name, say).
	Leases   Leases
	Holder   string
	LeaseTTL time.Duration
	// Catalog is handed to crawlers that read what others found.
	Catalog catalog.Reader
	Logger  *slog.Logger
	// Timeout bounds one crawl; zero means 5 minutes.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager schedules crawls with cron expressions, runs at most one crawl per
// source at a time, reconciles each snapshot into the store and records a
// crawl run for every attempt. The change log hears of a run only when
// something happened: crawl.completed when it changed the catalog,
// crawl.failed when it failed, crawl.recovered when a failing source
// succeeds again; an unchanged re-crawl writes no event.
type Manager struct {
	store   RunRecorder
	leases  Leases
	holder  string
	ttl     time.Duration
	logger  *slog.Logger
	timeout time.Duration
	now     func() time.Time
	sources map[string]*managedSource
	order   []string
	cron    *cron.Cron
	started chan struct{}
}

type managedSource struct {
	spec    SourceSpec
	crawler Crawler
	entry   cron.EntryID
	mu      sync.Mutex // held while a crawl runs
	state   sync.Mutex // guards running and last
	running bool
	last    *catalog.CrawlRun
}

// SourceStatus describes a configured source.
type SourceStatus struct {
	Name     string
	Kind     string
	Schedule string
	Running  bool
	NextRun  time.Time
	LastRun  *catalog.CrawlRun
}

// CronParser parses the schedules the manager accepts: five-field cron
// expressions and descriptors such as "@every 5m" or "@hourly".
func CronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// NewManager builds the crawlers of every source (no I/O) and their
// schedules. It fails on a schedule that does not parse or a crawler that
// cannot be built.
func NewManager(o ManagerOptions) (*Manager, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m := &Manager{
		store: o.Store, leases: o.Leases, holder: o.Holder, ttl: o.LeaseTTL,
		logger: logger.With("component", "crawlers"), timeout: o.Timeout, now: o.Now,
		sources: map[string]*managedSource{},
		started: make(chan struct{}),
		cron:    cron.New(cron.WithParser(CronParser()), cron.WithLocation(time.UTC)),
	}
	if m.timeout == 0 {
		m.timeout = 5 * time.Minute
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.ttl <= 0 {
		m.ttl = 30 * time.Second
	}
	if m.leases != nil && m.holder == "" {
		return nil, catalog.Errorf(catalog.Invalid, "crawl leases need a holder name")
	}
	specs := map[string]SourceSpec{}
	for _, s := range o.Sources {
		specs[s.Name] = s
	}
	lookup := func(name string) (SourceSpec, bool) {
		s, ok := specs[name]
		return s, ok
	}
	for _, spec := range o.Sources {
		if _, dup := m.sources[spec.Name]; dup {
			return nil, catalog.Errorf(catalog.Invalid, "source %q is configured twice", spec.Name)
		}
		// Crawlers add their own component, kind and source attributes.
		c, err := spec.Config.New(Env{Source: spec.Name, Logger: logger, Catalog: o.Catalog, Sources: lookup})
		if err != nil {
			return nil, fmt.Errorf("build crawler for source %s: %w", spec.Name, err)
		}
		ms := &managedSource{spec: spec, crawler: c}
		if spec.Schedule != "" {
			name := spec.Name
			id, err := m.cron.AddFunc(spec.Schedule, func() {
				if _, err := m.Crawl(context.Background(), name, "schedule"); err != nil && catalog.KindOf(err) != catalog.Conflict {
					m.logger.Warn("scheduled crawl failed", "source", name, "err", err)
				}
			})
			if err != nil {
				return nil, catalog.Errorf(catalog.Invalid, "source %s schedule %q: %w", spec.Name, spec.Schedule, err)
			}
			ms.entry = id
		}
		m.sources[spec.Name] = ms
		m.order = append(m.order, spec.Name)
	}
	return m, nil
}

// Run crawls every source once at startup, one after the other in
// configuration order (so list the sources others read from first: Kafka,
// then the schema registry, then Connect), then on each source's schedule,
// until ctx ends. It waits for running crawls before returning.
func (m *Manager) Run(ctx context.Context) error {
	for _, name := range m.order {
		if ctx.Err() != nil {
			break
		}
		if _, err := m.Crawl(ctx, name, "startup"); err != nil && ctx.Err() == nil && catalog.KindOf(err) != catalog.Conflict {
			m.logger.Warn("startup crawl failed", "source", name, "err", err)
		}
	}
	close(m.started)
	m.cron.Start()
	<-ctx.Done()
	<-m.cron.Stop().Done()
	return nil
}

// Started is closed once every source's startup crawl has been attempted.
func (m *Manager) Started() <-chan struct{} { return m.started }

// Crawl runs one crawl of source now and returns its recorded run. A crawl
// that fails is recorded too, and its error returned with the run. When a
// crawl of the source is already running it returns a Conflict error
// without waiting; so it does when another replica holds the source's
// lease (Leases), naming that replica, and when the lease changed hands
// while the crawl ran: the store then refuses its snapshot whole (the
// error wraps catalog.ErrFenced) and the failed run is this replica's
// LastRun only.
func (m *Manager) Crawl(ctx context.Context, source, trigger string) (catalog.CrawlRun, error) {
	ms, ok := m.sources[source]
	if !ok {
		return catalog.CrawlRun{}, catalog.Errorf(catalog.NotFound, "no source %q (configured: %v)", source, m.order)
	}
	if !ms.mu.TryLock() {
		return catalog.CrawlRun{}, catalog.Errorf(catalog.Conflict, "a crawl of %s is already running", source)
	}
	defer ms.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	lease, err := m.hold(cctx, source)
	if err != nil {
		return catalog.CrawlRun{}, err
	}
	if lease != nil {
		var lost <-chan struct{}
		cctx, lost = m.keep(cctx, lease)
		defer func() {
			cancel()
			<-lost
			if err := m.leases.ReleaseLease(context.WithoutCancel(ctx), lease.Name, m.holder, lease.Token); err != nil {
				m.logger.Warn("release crawl lease", "source", source, "err", err)
			}
		}()
	}
	ms.setRunning(true)
	defer ms.setRunning(false)

	run := catalog.CrawlRun{Source: source, Kind: ms.spec.Kind, Trigger: trigger, StartedAt: m.now().UTC()}
	logger := m.logger.With("source", source, "trigger", trigger)
	snap, err := crawlSafely(cctx, ms.crawler)
	if err != nil {
		run.Status = catalog.CrawlFailed
		run.Duration = m.now().Sub(run.StartedAt)
		run.Errors = []string{err.Error()}
		logger.Warn("crawl failed", "err", err, "took", run.Duration.Round(time.Millisecond))
		if _, rerr := m.store.RecordCrawlRun(context.WithoutCancel(ctx), run); rerr != nil {
			return run, errors.Join(fmt.Errorf("crawl %s: %w", source, err), fmt.Errorf("record crawl run: %w", rerr))
		}
		ms.setLast(run)
		return run, fmt.Errorf("crawl %s: %w", source, err)
	}
	snap.Source = source
	snap.Fence = catalog.Fence{}
	if lease != nil {
		// The store commits the snapshot only while this crawl's token
		// still holds the lease, atomically with the write.
		snap.Fence = catalog.Fence{Lease: lease.Name, Token: lease.Token}
	}
	if snap.At.IsZero() {
		snap.At = run.StartedAt
	}
	run.Counts = countSnapshot(snap)
	run.Status = catalog.CrawlSucceeded
	if len(snap.Incomplete) > 0 {
		run.Status = catalog.CrawlPartial
		run.Errors = incompleteReasons(snap.Incomplete)
	}
	run.Duration = m.now().Sub(run.StartedAt)
	if lease != nil {
		// A crawl that lost its lease (paused past its expiry while another
		// replica took over) must not write: renew it, with the same token,
		// right before the write. The write's fence covers the pause
		// between this check and the commit.
		if err := m.still(cctx, lease); err != nil {
			run.Status = catalog.CrawlFailed
			run.Errors = append(run.Errors, err.Error())
			logger.Warn("crawl not written", "err", err)
			ms.setLast(run)
			return run, catalog.Errorf(catalog.Conflict, "crawl %s: %w", source, err)
		}
	}
	res, err := m.store.Reconcile(context.WithoutCancel(ctx), snap, &run)
	if errors.Is(err, catalog.ErrFenced) {
		// Fenced off: the store wrote nothing. The source is another
		// replica's now, so this replica records the failed run only in
		// its own status, not in the store (where it would be a write of
		// its own, unfenced).
		run.Status = catalog.CrawlFailed
		run.Errors = append(run.Errors, err.Error())
		run.Duration = m.now().Sub(run.StartedAt)
		logger.Warn("crawl not written", "err", err)
		ms.setLast(run)
		return run, fmt.Errorf("crawl %s: %w", source, err)
	}
	if err != nil {
		run.Status = catalog.CrawlFailed
		run.Errors = append(run.Errors, "reconcile: "+err.Error())
		logger.Error("reconcile failed", "err", err)
		if _, rerr := m.store.RecordCrawlRun(context.WithoutCancel(ctx), run); rerr != nil {
			return run, errors.Join(fmt.Errorf("reconcile %s: %w", source, err), fmt.Errorf("record crawl run: %w", rerr))
		}
		ms.setLast(run)
		return run, fmt.Errorf("reconcile %s: %w", source, err)
	}
	run.Result = res
	run.Duration = m.now().Sub(run.StartedAt)
	ms.setLast(run)
	logger.Info("crawl finished", "status", run.Status, "assets", len(snap.Assets), "links", len(snap.Links),
		"created", res.Created, "updated", res.Updated, "deleted", res.Deleted, "edgesAdded", res.EdgesAdded,
		"edgesRemoved", res.EdgesRemoved, "changes", res.Changes, "incomplete", len(snap.Incomplete), "took", run.Duration.Round(time.Millisecond))
	return run, nil
}

// hold takes the crawl lease of source; nil without Leases. Another
// replica's lease is a Conflict naming it.
func (m *Manager) hold(ctx context.Context, source string) (*catalog.Lease, error) {
	if m.leases == nil {
		return nil, nil
	}
	l, held, err := m.leases.AcquireLease(ctx, LeaseName(source), m.holder, m.ttl)
	if err != nil {
		return nil, fmt.Errorf("acquire crawl lease of %s: %w", source, err)
	}
	if !held {
		return nil, catalog.Errorf(catalog.Conflict, "%s is being crawled by %s (lease until %s)", source, l.Holder, l.Expires.UTC().Format(time.RFC3339))
	}
	return &l, nil
}

// keep renews l every third of the TTL until ctx ends; the returned context
// ends early when a renewal is refused or fails past the lease's expiry,
// and lost is closed once the renewals stopped.
func (m *Manager) keep(ctx context.Context, l *catalog.Lease) (context.Context, <-chan struct{}) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		t := time.NewTicker(m.ttl / 3)
		defer t.Stop()
		expires := l.Expires
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			nl, held, err := m.leases.AcquireLease(ctx, l.Name, m.holder, m.ttl)
			switch {
			case err == nil && held && nl.Token == l.Token:
				expires = nl.Expires
			case err == nil:
				m.logger.Warn("crawl lease lost", "lease", l.Name, "holder", nl.Holder)
				if held { // granted afresh after a lapse: not this crawl's
					if err := m.leases.ReleaseLease(ctx, nl.Name, m.holder, nl.Token); err != nil {
						m.logger.Warn("release crawl lease", "lease", nl.Name, "err", err)
					}
				}
				return
			case ctx.Err() != nil:
				return
			default:
				m.logger.Warn("renew crawl lease", "lease", l.Name, "err", err)
				if !m.now().Before(expires) {
					return
				}
			}
		}
	}()
	return ctx, done
}

// still renews l and fails unless this replica still holds it under the
// same token.
func (m *Manager) still(ctx context.Context, l *catalog.Lease) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lost its lease before writing: %w", err)
	}
	nl, held, err := m.leases.AcquireLease(ctx, l.Name, m.holder, m.ttl)
	if err != nil {
		return fmt.Errorf("renew lease before writing: %w", err)
	}
	if held && nl.Token != l.Token {
		// Granted afresh after another holder: not this crawl's to use.
		if err := m.leases.ReleaseLease(ctx, nl.Name, m.holder, nl.Token); err != nil {
			m.logger.Warn("release crawl lease", "lease", nl.Name, "err", err)
		}
	}
	if !held || nl.Token != l.Token {
		return fmt.Errorf("lost its lease before writing (now %s, token %d)", nl.Holder, nl.Token)
	}
	return nil
}

// Lease returns the crawl lease of source as it stands (nil when none is
// held, or without Leases).
func (m *Manager) Lease(ctx context.Context, source string) (*catalog.Lease, error) {
	if m.leases == nil {
		return nil, nil
	}
	ls, err := m.leases.Leases(ctx, LeaseName(source))
	if err != nil {
		return nil, fmt.Errorf("read crawl lease of %s: %w", source, err)
	}
	for _, l := range ls {
		if l.Name == LeaseName(source) {
			return &l, nil
		}
	}
	return nil, nil
}

// crawlSafely turns a crawler panic into an error so one broken crawler
// cannot take the server down.
func crawlSafely(ctx context.Context, c Crawler) (snap catalog.Snapshot, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("crawler panicked: %v", p)
		}
	}()
	return c.Crawl(ctx)
}

func countSnapshot(s catalog.Snapshot) map[string]int {
	out := map[string]int{}
	for _, a := range s.Assets {
		out[string(a.URN.Kind())]++
	}
	out["links"] = len(s.Links)
	return out
}

func incompleteReasons(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for scope, reason := range m {
		if scope == "" {
			scope = "(source)"
		}
		out = append(out, scope+": "+reason)
	}
	sort.Strings(out)
	return out
}

func (ms *managedSource) setRunning(v bool) {
	ms.state.Lock()
	ms.running = v
	ms.state.Unlock()
}

func (ms *managedSource) setLast(r catalog.CrawlRun) {
	ms.state.Lock()
	ms.last = &r
	ms.state.Unlock()
}

// Sources describes every configured source, in configuration order.
func (m *Manager) Sources() []SourceStatus {
	out := make([]SourceStatus, 0, len(m.order))
	for _, name := range m.order {
		ms := m.sources[name]
		ms.state.Lock()
		st := SourceStatus{Name: name, Kind: ms.spec.Kind, Schedule: ms.spec.Schedule, Running: ms.running, LastRun: ms.last}
		ms.state.Unlock()
		if ms.entry != 0 {
			st.NextRun = m.cron.Entry(ms.entry).Next
		}
		out = append(out, st)
	}
	return out
}
