package policy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// SubscriptionName is the engine's change-log cursor. Bump the version when
// what the engine derives from a change changes: the new cursor starts at
// the head, and the startup sweep recomputes every verdict.
const SubscriptionName = "policy/v1"

// DefaultSweep is the sweep schedule when none is configured.
const DefaultSweep = "@every 10m"

// Tunables.
const (
	judgeChunk = 256 // subjects per evaluation pass (and per reconcile)
	scanPage   = 256
)

// Catalog is what the engine reads and writes.
type Catalog interface {
	Reader
	Reconcile(ctx context.Context, s catalog.Snapshot, run *catalog.CrawlRun) (catalog.ReconcileResult, error)
	Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error)
}

// Subscriber runs change-log subscriptions (changelog.Changelog).
type Subscriber interface {
	Run(ctx context.Context, s changelog.Subscription) error
}

// Options configure an Engine.
type Options struct {
	Catalog    Catalog
	Subscriber Subscriber
	Lineage    Lineage
	// Config are the policies of the config file (Origin is set to config).
	Config []Spec
	// Sweep is a cron expression or "@every 10m" (DefaultSweep when empty).
	Sweep      string
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Engine evaluates policies and keeps their violations in the catalog. It
// is a change-log handler (the policies a change can affect, judged from
// current state) plus a scheduled sweep; both write violations as snapshots
// of the reserved policy source, so the store's diffing opens each one once
// per (policy, subject), resolves it when the condition clears, and writes
// policy.violation.opened|resolved with the evidence.
type Engine struct {
	o     Options
	log   *slog.Logger
	now   func() time.Time
	sched cron.Schedule
	m     metrics

	// mu serialises evaluation passes and the writes they make, so a
	// sweep page, a batch of changes and a steward's acknowledgement never
	// interleave between reading a violation and writing it.
	mu sync.Mutex

	pmu      sync.Mutex
	policies map[string]*state
	pending  map[string]bool // policies to sweep soon
	sweeping bool
	idle     chan struct{} // closed and replaced when pending or sweeping changes
	wake     chan struct{}
}

// state is one policy as the engine holds it.
type state struct {
	spec      Spec
	p         *Policy // nil when disabled, or when a stored spec does not compile
	broken    error   // why a stored spec does not compile
	lastErr   string
	lastErrAt time.Time
	lastSweep time.Time
	created   time.Time
	updated   time.Time
}

type metrics struct {
	opened, resolved, evals, errs *prometheus.CounterVec
	sweep                         *prometheus.GaugeVec
}

// New checks the options and compiles the config's policies. It does no
// I/O. A config policy that does not compile is an error naming it.
func New(o Options) (*Engine, error) {
	if o.Catalog == nil || o.Subscriber == nil {
		return nil, errors.New("policy engine: a catalog and a subscriber are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sweep == "" {
		o.Sweep = DefaultSweep
	}
	sched, err := ParseSchedule(o.Sweep)
	if err != nil {
		return nil, err
	}
	e := &Engine{o: o, log: o.Logger.With("component", "policy"), now: o.Now, sched: sched,
		policies: map[string]*state{}, pending: map[string]bool{"": true}, idle: make(chan struct{}), wake: make(chan struct{}, 1)}
	for i, s := range o.Config {
		s.Origin = OriginConfig
		p, err := Compile(s)
		if err != nil {
			return nil, fmt.Errorf("policies[%d] (%s): %w", i, s.Name, err)
		}
		if _, dup := e.policies[p.Name]; dup {
			return nil, catalog.Errorf(catalog.Invalid, "policies[%d]: the name %q is used twice", i, p.Name)
		}
		st := &state{spec: p.Spec}
		if p.Spec.Enabled {
			st.p = p
		}
		e.policies[p.Name] = st
	}
	e.m = metrics{
		opened:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_policy_violations_opened_total", Help: "Violations opened, by policy."}, []string{"policy"}),
		resolved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_policy_violations_resolved_total", Help: "Violations resolved, by policy."}, []string{"policy"}),
		evals:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_policy_evaluations_total", Help: "Subjects judged, by policy."}, []string{"policy"}),
		errs:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "watershed_policy_evaluation_errors_total", Help: "Subjects a policy could not judge (the violation, if any, was kept as it was)."}, []string{"policy"}),
		sweep:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "watershed_policy_sweep_duration_seconds", Help: "Duration of each policy's last sweep."}, []string{"policy"}),
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{e.m.opened, e.m.resolved, e.m.evals, e.m.errs, e.m.sweep} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register policy metrics: %w", err)
			}
		}
	}
	return e, nil
}

// ParseSchedule parses a sweep schedule: a five-field cron expression or a
// descriptor such as "@every 10m" or "@hourly" (at least a minute apart).
func ParseSchedule(s string) (cron.Schedule, error) {
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	sched, err := parser.Parse(s)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "sweep schedule %q: %w", s, err)
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < time.Minute {
		return nil, catalog.Errorf(catalog.Invalid, "sweep schedule %q runs more often than every minute", s)
	}
	return sched, nil
}

// Run loads the stored policies, writes the config's definitions into the
// catalog, then follows the change log and sweeps (at once, then on the
// schedule, and for a policy as soon as it is created or changed) until ctx
// ends.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.load(ctx); err != nil {
		return err
	}
	subErr := make(chan error, 1)
	go func() {
		subErr <- e.o.Subscriber.Run(ctx, changelog.Subscription{
			Name:        SubscriptionName,
			Types:       []catalog.ChangeType{"asset", "schema", "lineage", "classification"},
			Handle:      e.handle,
			BatchSize:   512,
			MaxAttempts: 10, // then skipped and counted; the next sweep heals it
		})
	}()
	e.requestSweep("") // every policy, and violations of policies that are gone
	for {
		now := e.now()
		timer := time.NewTimer(e.sched.Next(now).Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			<-subErr
			return ctx.Err()
		case err := <-subErr:
			timer.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("policy subscription: %w", err)
		case <-timer.C:
			e.requestSweep("")
		case <-e.wake:
			timer.Stop()
		}
		e.sweepPending(ctx)
	}
}

func (e *Engine) requestSweep(name string) {
	e.pmu.Lock()
	e.pending[name] = true
	e.signalLocked()
	e.pmu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// signalLocked wakes WaitIdle callers. Callers hold pmu.
func (e *Engine) signalLocked() {
	close(e.idle)
	e.idle = make(chan struct{})
}

// WaitIdle returns once no sweep is requested or running, or with ctx's
// error. The startup sweep counts as requested from New on.
func (e *Engine) WaitIdle(ctx context.Context) error {
	for {
		e.pmu.Lock()
		idle := len(e.pending) == 0 && !e.sweeping
		ch := e.idle
		e.pmu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for the policy sweeps: %w", ctx.Err())
		}
	}
}

// sweepPending runs the sweeps requested so far ("" is all of them).
func (e *Engine) sweepPending(ctx context.Context) {
	e.pmu.Lock()
	pending := e.pending
	e.pending = map[string]bool{}
	e.sweeping = true
	e.signalLocked()
	e.pmu.Unlock()
	defer func() {
		e.pmu.Lock()
		e.sweeping = false
		e.signalLocked()
		e.pmu.Unlock()
	}()
	if pending[""] {
		if err := e.SweepAll(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("sweep", "err", err)
		}
		return
	}
	for name := range pending {
		if err := e.Sweep(ctx, name); err != nil && ctx.Err() == nil {
			e.log.Warn("sweep", "policy", name, "err", err)
		}
	}
}

// load reads the stored policies and reconciles the config's definitions:
// a config policy replaces an API one of the same name (logged), and a
// policy that left the config is deleted (its violations resolve at the
// startup sweep).
func (e *Engine) load(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, err := e.storedSpecs(ctx)
	if err != nil {
		return err
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	var scopes []string
	var assets []catalog.Asset
	for name, st := range e.policies { // the config's
		a, err := specAsset(st.spec)
		if err != nil {
			return err
		}
		scopes, assets = append(scopes, defScope(name)), append(assets, a)
		if old, ok := stored[name]; ok {
			st.created, st.updated = old.created, old.updated
			if old.spec.Origin == OriginAPI {
				e.log.Warn("a config policy replaces the policy of the same name created through the API", "policy", name)
			}
		}
	}
	for name, old := range stored {
		if _, inConfig := e.policies[name]; inConfig {
			continue
		}
		if old.spec.Origin == OriginConfig {
			scopes = append(scopes, defScope(name)) // left the config: delete
			e.log.Info("a policy left the config; its violations resolve", "policy", name)
			continue
		}
		e.policies[name] = old
	}
	if len(scopes) == 0 {
		return nil
	}
	sort.Strings(scopes)
	_, err = e.o.Catalog.Reconcile(ctx, catalog.Snapshot{Source: catalog.PolicySource, Actor: catalog.ActorPolicy, Scopes: scopes, Assets: assets}, nil)
	if err != nil {
		return fmt.Errorf("store the config's policies: %w", err)
	}
	return nil
}

// storedSpecs reads every POLICY entity.
func (e *Engine) storedSpecs(ctx context.Context) (map[string]*state, error) {
	out := map[string]*state{}
	var after catalog.URN
	for {
		page, next, err := e.o.Catalog.Scan(ctx, catalog.KindPolicy, after, scanPage)
		if err != nil {
			return nil, fmt.Errorf("read stored policies: %w", err)
		}
		for _, ent := range page {
			st := e.stateOf(ent)
			if st != nil {
				out[st.spec.Name] = st
			}
		}
		if next == "" {
			return out, nil
		}
		after = next
	}
}

// stateOf compiles a stored definition; one that no longer compiles is kept
// (listed with its error), not evaluated.
func (e *Engine) stateOf(ent catalog.Entity) *state {
	spec, err := specFromEntity(ent)
	if err != nil {
		e.log.Warn("unreadable stored policy", "urn", ent.URN, "err", err)
		return nil
	}
	st := &state{spec: spec, created: ent.CreatedAt, updated: ent.UpdatedAt}
	p, err := Compile(spec)
	switch {
	case err != nil:
		st.broken = err
		e.log.Warn("a stored policy does not compile; it is not evaluated", "policy", spec.Name, "err", err)
	case spec.Enabled:
		st.p = p
		st.spec = p.Spec
	default:
		st.spec = p.Spec
	}
	return st
}

// active returns the enabled, compiled policies, sorted by name.
func (e *Engine) active() []*Policy {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	var out []*Policy
	for _, st := range e.policies {
		if st.p != nil {
			out = append(out, st.p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (e *Engine) state(name string) *state {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	return e.policies[name]
}

func (e *Engine) noteError(name string, err error) {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if st := e.policies[name]; st != nil {
		st.lastErr, st.lastErrAt = err.Error(), e.now()
	}
	e.m.errs.WithLabelValues(name).Inc()
}

// handle is the change-log handler: for every active policy, the subjects
// the batch can affect are judged again from current state. Entries the
// engine wrote itself, and changes of violations, are skipped (no loops).
// POLICY entities changed by someone else (another replica's API) are
// reloaded.
func (e *Engine) handle(ctx context.Context, batch []changelog.Entry) error {
	policies := e.active()
	env := e.newEnv()
	type work struct {
		order   []catalog.URN
		changes map[catalog.URN][]*catalog.Change
	}
	todo := map[string]*work{}
	var reload []string
	for i := range batch {
		c := &batch[i]
		if name, ok := c.Subject.Policy(); ok {
			if c.Actor != catalog.ActorPolicy {
				reload = append(reload, name)
			}
			continue
		}
		if c.Actor == catalog.ActorPolicy || c.Subject.Kind() == catalog.KindViolation || c.Type == catalog.ClassificationDefined {
			continue
		}
		for _, p := range policies {
			subjects, err := p.Condition.Affected(ctx, env, *c)
			if err != nil {
				return fmt.Errorf("policy %s: subjects of change %d: %w", p.Name, c.Seq, err)
			}
			if len(subjects) == 0 {
				continue
			}
			w := todo[p.Name]
			if w == nil {
				w = &work{changes: map[catalog.URN][]*catalog.Change{}}
				todo[p.Name] = w
			}
			for _, s := range subjects {
				if _, seen := w.changes[s]; !seen {
					w.order = append(w.order, s)
				}
				w.changes[s] = append(w.changes[s], c)
			}
		}
	}
	for _, name := range reload {
		if err := e.reload(ctx, name); err != nil {
			return err
		}
	}
	for _, p := range policies {
		w := todo[p.Name]
		if w == nil {
			continue
		}
		for start := 0; start < len(w.order); start += judgeChunk {
			chunk := w.order[start:min(start+judgeChunk, len(w.order))]
			var newest *catalog.Change
			for _, s := range chunk {
				cs := w.changes[s]
				if c := cs[len(cs)-1]; newest == nil || c.Seq > newest.Seq {
					newest = c
				}
			}
			if err := e.judge(ctx, p, chunk, w.changes, newest.ID()); err != nil {
				return fmt.Errorf("policy %s: %w", p.Name, err)
			}
		}
	}
	return nil
}

func (e *Engine) newEnv() *Env { return NewEnv(e.o.Catalog, e.o.Lineage, e.now()) }

// judge evaluates p for subjects and reconciles their violations in one
// snapshot: a subject that violates gets (or keeps) its violation, one that
// does not (or is gone, or out of scope) loses it. A muted violation is
// left exactly as it is. A subject the condition could not judge keeps
// whatever it had. changes holds, per subject, the batch's changes that
// made the engine look (nil in a sweep): a state-based check sees the
// latest; a change-scoped one is judged by each, and holds if one holds.
func (e *Engine) judge(ctx context.Context, p *Policy, subjects []catalog.URN, changes map[catalog.URN][]*catalog.Change, cause string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	env := e.newEnv()
	now := env.Now()
	ents, err := e.o.Catalog.Entities(ctx, subjects)
	if err != nil {
		return fmt.Errorf("read subjects: %w", err)
	}
	env.remember(subjects, ents)
	vurns := make([]catalog.URN, len(subjects))
	for i, s := range subjects {
		vurns[i] = catalog.ViolationURN(p.Name, s)
	}
	existing, err := e.o.Catalog.Entities(ctx, vurns)
	if err != nil {
		return fmt.Errorf("read violations: %w", err)
	}
	_, scoped := p.Condition.(changeScoped)
	scoped = scoped && p.Condition.(changeScoped).ChangeScoped()
	var scopes []string
	var assets []catalog.Asset
	changed := false // anything to write: most passes find nothing new
	for i, s := range subjects {
		var prev *Violation
		ex := existing[i]
		live := ex.URN != "" && !ex.Deleted()
		if live {
			v, _ := ViolationFromEntity(ex)
			prev = &v
			if v.mutedAt(now) {
				// Frozen: asserted exactly as stored, so nothing is written.
				scopes, assets = append(scopes, violationScope(p.Name, s)), append(assets, assetOf(storedProps(ex)))
				continue
			}
		}
		ent := ents[i]
		cs := changes[s]
		var f *Finding
		if p.judges(ent) {
			if scoped && len(cs) == 0 {
				continue // a sweep cannot judge a change-scoped condition: keep
			}
			if !scoped && len(cs) > 1 {
				cs = cs[len(cs)-1:]
			}
			if len(cs) == 0 {
				cs = []*catalog.Change{nil}
			}
			failed := false
			for _, c := range cs {
				e.m.evals.WithLabelValues(p.Name).Inc()
				got, err := p.Condition.Evaluate(ctx, env, ent, c)
				if err != nil {
					var ee evalError
					if errors.As(err, &ee) {
						e.noteError(p.Name, fmt.Errorf("%s: %w", s, err))
						failed = true
						continue
					}
					return fmt.Errorf("judge %s: %w", s, err)
				}
				if got != nil {
					f = got
				}
			}
			if failed && f == nil {
				continue // no verdict: keep what it had
			}
		}
		scopes = append(scopes, violationScope(p.Name, s))
		if f == nil {
			changed = changed || live // resolves
			continue
		}
		if f.Message == "" {
			f.Message = describe(ent) + " violates " + p.Name
			if p.Description != "" {
				f.Message += ": " + p.Description
			}
		}
		if f.Evidence == nil {
			f.Evidence = map[string]any{}
		}
		a := violationAsset(p, ent, f, prev, now)
		changed = changed || !live || !sameViolation(a, ex)
		assets = append(assets, a)
	}
	if !changed {
		return nil
	}
	return e.reconcile(ctx, p.Name, scopes, assets, catalog.ActorPolicy, cause)
}

// sameViolation reports whether asserting a would leave the stored
// violation ex as it is.
func sameViolation(a catalog.Asset, ex catalog.Entity) bool {
	if a.Name != ex.Name || a.Description != ex.Description {
		return false
	}
	x, err1 := catalog.CanonicalProperties(a.Properties)
	y, err2 := catalog.CanonicalProperties(ex.Properties)
	if err1 != nil || err2 != nil || string(x) != string(y) {
		return false
	}
	var names []string
	for _, c := range ex.Classifications {
		names = appendUnique(names, c.Classification)
	}
	if len(names) != len(a.Classifications) {
		return false
	}
	for i, c := range a.Classifications {
		if names[i] != c.Name {
			return false
		}
	}
	return true
}

// reconcile writes one snapshot of violations and counts what it opened
// and resolved.
func (e *Engine) reconcile(ctx context.Context, policy string, scopes []string, assets []catalog.Asset, actor, cause string) error {
	if len(scopes) == 0 {
		return nil
	}
	res, err := e.o.Catalog.Reconcile(ctx, catalog.Snapshot{Source: catalog.PolicySource, Actor: actor, Cause: cause, Scopes: scopes, Assets: assets}, nil)
	if err != nil {
		return fmt.Errorf("write violations: %w", err)
	}
	if res.Created > 0 {
		e.m.opened.WithLabelValues(policy).Add(float64(res.Created))
	}
	if res.Deleted > 0 {
		e.m.resolved.WithLabelValues(policy).Add(float64(res.Deleted))
	}
	if res.Created+res.Deleted > 0 {
		e.log.Debug("violations", "policy", policy, "opened", res.Created, "resolved", res.Deleted, "updated", res.Updated, "cause", cause)
	}
	return nil
}

// SweepAll sweeps every policy, then resolves the violations of policies
// that no longer exist or are disabled.
func (e *Engine) SweepAll(ctx context.Context) error {
	e.pmu.Lock()
	names := make([]string, 0, len(e.policies))
	for n := range e.policies {
		names = append(names, n)
	}
	e.pmu.Unlock()
	sort.Strings(names)
	var errs []error
	for _, n := range names {
		if err := e.Sweep(ctx, n); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			errs = append(errs, fmt.Errorf("policy %s: %w", n, err))
		}
	}
	// Violations of policies the engine does not know (deleted, or gone
	// from the config).
	orphans := map[string]bool{}
	var after catalog.URN
	for {
		page, next, err := e.o.Catalog.Scan(ctx, catalog.KindViolation, after, scanPage)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("scan violations: %w", err))...)
		}
		for _, v := range page {
			if p, _, ok := v.URN.Violation(); ok && e.state(p) == nil {
				orphans[p] = true
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	for p := range orphans {
		if err := e.Sweep(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("resolve the violations of policy %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Sweep judges every subject of one policy from current state and resolves
// its violations whose subject is gone. For a policy that is disabled or
// deleted it resolves every violation (muted ones too). Lag and other live
// readings change without change events, so conditions on them are only
// re-judged here.
func (e *Engine) Sweep(ctx context.Context, name string) error {
	began := e.now()
	st := e.state(name)
	var p *Policy
	if st != nil {
		p = st.p
		if st.broken != nil {
			return nil // keep what it had until it is fixed
		}
	}
	seen := map[catalog.URN]bool{}
	if p != nil {
		kinds := p.Condition.Kinds()
		if len(p.Scope.Kinds) > 0 {
			kinds = p.Scope.Kinds
		}
		for _, k := range kinds {
			var after catalog.URN
			for {
				page, next, err := e.o.Catalog.Scan(ctx, k, after, scanPage)
				if err != nil {
					return fmt.Errorf("scan %s: %w", k, err)
				}
				var subjects []catalog.URN
				for _, ent := range page {
					if p.Scope.Contains(ent) {
						subjects = append(subjects, ent.URN)
						seen[ent.URN] = true
					}
				}
				if len(subjects) > 0 {
					if err := e.judge(ctx, p, subjects, nil, ""); err != nil {
						return err
					}
				}
				if next == "" {
					break
				}
				after = next
			}
		}
	}
	// The open violations of this policy whose subject the scan did not
	// judge: gone, out of scope now, or the policy is off.
	var rest []catalog.URN
	after := catalog.URN(violationPrefix(name))
	for {
		page, next, err := e.o.Catalog.Scan(ctx, catalog.KindViolation, after, scanPage)
		if err != nil {
			return fmt.Errorf("scan violations: %w", err)
		}
		done := false
		for _, v := range page {
			if !hasViolationPrefix(v.URN, name) {
				done = true
				break
			}
			if _, subject, ok := v.URN.Violation(); ok && !seen[subject] {
				rest = append(rest, subject)
			}
		}
		if done || next == "" {
			break
		}
		after = next
	}
	for start := 0; start < len(rest); start += judgeChunk {
		chunk := rest[start:min(start+judgeChunk, len(rest))]
		var err error
		if p != nil {
			err = e.judge(ctx, p, chunk, nil, "")
		} else {
			err = e.resolve(ctx, name, chunk)
		}
		if err != nil {
			return err
		}
	}
	e.pmu.Lock()
	if st := e.policies[name]; st != nil {
		st.lastSweep = e.now()
	}
	e.pmu.Unlock()
	e.m.sweep.WithLabelValues(name).Set(e.now().Sub(began).Seconds())
	return nil
}

// resolve resolves the violations of policy for subjects, muted or not.
func (e *Engine) resolve(ctx context.Context, policy string, subjects []catalog.URN) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	scopes := make([]string, len(subjects))
	for i, s := range subjects {
		scopes[i] = violationScope(policy, s)
	}
	return e.reconcile(ctx, policy, scopes, nil, catalog.ActorPolicy, "")
}

// reload rereads one policy definition after someone else changed it.
func (e *Engine) reload(ctx context.Context, name string) error {
	ent, err := e.o.Catalog.Entity(ctx, catalog.PolicyURN(name))
	if err != nil && !catalog.IsNotFound(err) {
		return fmt.Errorf("reload policy %s: %w", name, err)
	}
	e.pmu.Lock()
	cur := e.policies[name]
	e.pmu.Unlock()
	if err != nil || ent.Deleted() {
		if cur != nil && cur.spec.Origin == OriginAPI {
			e.pmu.Lock()
			delete(e.policies, name)
			e.pmu.Unlock()
			e.requestSweep(name)
		}
		return nil
	}
	st := e.stateOf(ent)
	if st == nil || (cur != nil && (cur.spec.Origin == OriginConfig || sameSpec(cur.spec, st.spec))) {
		return nil
	}
	e.pmu.Lock()
	e.policies[name] = st
	e.pmu.Unlock()
	e.requestSweep(name)
	return nil
}
