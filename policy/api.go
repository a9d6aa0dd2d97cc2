package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Info is a policy as the API shows it.
type Info struct {
	Spec Spec
	// Error says why a stored policy does not compile (it is then not
	// evaluated); empty otherwise.
	Error string
	// LastError is the last evaluation error (a subject the condition could
	// not judge), with its time.
	LastError   string
	LastErrorAt time.Time
	LastSweepAt time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

func (st *state) info() Info {
	in := Info{Spec: st.spec, LastError: st.lastErr, LastErrorAt: st.lastErrAt, LastSweepAt: st.lastSweep, CreatedAt: st.created, UpdatedAt: st.updated}
	if st.broken != nil {
		in.Error = st.broken.Error()
	}
	return in
}

// Policies lists every policy, sorted by name.
func (e *Engine) Policies(context.Context) []Info {
	e.pmu.Lock()
	defer e.pmu.Unlock()
	out := make([]Info, 0, len(e.policies))
	for _, st := range e.policies {
		out = append(out, st.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.Name < out[j].Spec.Name })
	return out
}

// Policy returns one policy; NotFound when there is none of that name.
func (e *Engine) Policy(_ context.Context, name string) (Info, error) {
	st := e.state(name)
	if st == nil {
		return Info{}, catalog.Errorf(catalog.NotFound, "no policy named %q", name)
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	return st.info(), nil
}

// Create compiles spec, stores it as an API policy (actor is who asked) and
// sweeps it soon. A name in use is a Conflict; an invalid spec (a CEL
// condition that does not compile: its line and column) is Invalid.
func (e *Engine) Create(ctx context.Context, actor string, spec Spec) (Info, error) {
	spec.Origin = OriginAPI
	p, err := Compile(spec)
	if err != nil {
		return Info{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if st := e.state(p.Name); st != nil {
		return Info{}, catalog.Errorf(catalog.Conflict, "a policy named %q exists (%s)", p.Name, st.spec.Origin)
	}
	if ent, err := e.o.Catalog.Entity(ctx, catalog.PolicyURN(p.Name)); err == nil && !ent.Deleted() {
		return Info{}, catalog.Errorf(catalog.Conflict, "a policy named %q exists", p.Name)
	}
	return e.store(ctx, actor, p)
}

// store writes p's definition and installs it. Callers hold e.mu.
func (e *Engine) store(ctx context.Context, actor string, p *Policy) (Info, error) {
	a, err := specAsset(p.Spec)
	if err != nil {
		return Info{}, err
	}
	if _, err := e.o.Catalog.Reconcile(ctx, catalog.Snapshot{Source: catalog.PolicySource, Actor: actor, Scopes: []string{defScope(p.Name)}, Assets: []catalog.Asset{a}}, nil); err != nil {
		return Info{}, fmt.Errorf("store policy %s: %w", p.Name, err)
	}
	ent, err := e.o.Catalog.Entity(ctx, catalog.PolicyURN(p.Name))
	if err != nil {
		return Info{}, fmt.Errorf("read policy %s back: %w", p.Name, err)
	}
	st := &state{spec: p.Spec, created: ent.CreatedAt, updated: ent.UpdatedAt}
	if p.Spec.Enabled {
		st.p = p
	}
	e.pmu.Lock()
	if old := e.policies[p.Name]; old != nil {
		st.lastSweep = old.lastSweep
	}
	e.policies[p.Name] = st
	info := st.info()
	e.pmu.Unlock()
	e.requestSweep(p.Name)
	return info, nil
}

// Update changes an API policy; nil fields stay as they are. A config
// policy is changed in the config file (Conflict here). Whether it is a
// built-in or a condition cannot change.
type Update struct {
	Description *string
	Severity    *Severity
	Scope       *Scope
	Params      map[string]any // nil: unchanged; replaces all parameters
	Condition   *string
	Enabled     *bool
}

// Update applies u to the API policy name and sweeps it soon.
func (e *Engine) Update(ctx context.Context, actor, name string, u Update) (Info, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.state(name)
	if st == nil {
		return Info{}, catalog.Errorf(catalog.NotFound, "no policy named %q", name)
	}
	if st.spec.Origin == OriginConfig {
		return Info{}, catalog.Errorf(catalog.Conflict, "policy %q is defined in the config file; change it there", name)
	}
	spec := st.spec
	if u.Description != nil {
		spec.Description = *u.Description
	}
	if u.Severity != nil {
		spec.Severity = *u.Severity
	}
	if u.Scope != nil {
		spec.Scope = *u.Scope
	}
	if u.Params != nil {
		if spec.Builtin == "" {
			return Info{}, catalog.Errorf(catalog.Invalid, "params: policy %q is a condition; only a builtin takes parameters", name)
		}
		spec.Params = u.Params
	}
	if u.Condition != nil {
		if spec.Builtin != "" {
			return Info{}, catalog.Errorf(catalog.Invalid, "condition: policy %q runs the builtin %s; create a new policy for a condition", name, spec.Builtin)
		}
		spec.Condition = *u.Condition
	}
	if u.Enabled != nil {
		spec.Enabled = *u.Enabled
	}
	p, err := Compile(spec)
	if err != nil {
		return Info{}, err
	}
	return e.store(ctx, actor, p)
}

// Delete removes the API policy name; its violations resolve at once.
func (e *Engine) Delete(ctx context.Context, actor, name string) error {
	e.mu.Lock()
	st := e.state(name)
	if st == nil {
		e.mu.Unlock()
		return catalog.Errorf(catalog.NotFound, "no policy named %q", name)
	}
	if st.spec.Origin == OriginConfig {
		e.mu.Unlock()
		return catalog.Errorf(catalog.Conflict, "policy %q is defined in the config file; remove it there", name)
	}
	_, err := e.o.Catalog.Reconcile(ctx, catalog.Snapshot{Source: catalog.PolicySource, Actor: actor, Scopes: []string{defScope(name)}}, nil)
	if err == nil {
		e.pmu.Lock()
		delete(e.policies, name)
		e.pmu.Unlock()
	}
	e.mu.Unlock()
	if err != nil {
		return fmt.Errorf("delete policy %s: %w", name, err)
	}
	return e.Sweep(ctx, name)
}

// OpenViolations counts the open violations of a policy (acknowledged and
// muted ones included).
func (e *Engine) OpenViolations(ctx context.Context, name string) (int, error) {
	n := 0
	err := e.scanViolations(ctx, name, func(catalog.Entity) bool { n++; return true })
	return n, err
}

// scanViolations calls f for each open violation (of policy, or of all
// when policy is empty) in URN order until f returns false.
func (e *Engine) scanViolations(ctx context.Context, policy string, f func(catalog.Entity) bool) error {
	var after catalog.URN
	if policy != "" {
		after = catalog.URN(violationPrefix(policy))
	}
	return e.scanFrom(ctx, policy, after, f)
}

func (e *Engine) scanFrom(ctx context.Context, policy string, after catalog.URN, f func(catalog.Entity) bool) error {
	for {
		page, next, err := e.o.Catalog.Scan(ctx, catalog.KindViolation, after, scanPage)
		if err != nil {
			return fmt.Errorf("scan violations: %w", err)
		}
		for _, v := range page {
			if policy != "" && !hasViolationPrefix(v.URN, policy) {
				return nil
			}
			if !f(v) {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		after = next
	}
}

// ViolationQuery selects violations. An empty Status selects every
// unresolved one (OPEN, ACKNOWLEDGED, MUTED).
type ViolationQuery struct {
	Status Status
	Policy string
	First  int
	// After is the cursor of the previous page's last violation.
	After string
}

// ViolationPage is one page of violations.
type ViolationPage struct {
	Violations []Violation
	// Cursors[i] resumes after Violations[i].
	Cursors []string
	HasNext bool
	Total   int
}

// maxViolationPage bounds a page.
const maxViolationPage = 500

// Violations lists violations in URN order (resolved ones by offset, their
// tombstones being outside the keyset scan).
func (e *Engine) Violations(ctx context.Context, q ViolationQuery) (ViolationPage, error) {
	if q.First <= 0 || q.First > maxViolationPage {
		return ViolationPage{}, catalog.Errorf(catalog.Invalid, "first must be between 1 and %d", maxViolationPage)
	}
	switch q.Status {
	case "", StatusOpen, StatusAcknowledged, StatusMuted:
	case StatusResolved:
		return e.resolvedViolations(ctx, q)
	default:
		return ViolationPage{}, catalog.Errorf(catalog.Invalid, "status %q is not OPEN, ACKNOWLEDGED, MUTED or RESOLVED", q.Status)
	}
	if q.Policy != "" {
		if err := catalog.ValidatePolicyName(q.Policy); err != nil {
			return ViolationPage{}, err
		}
	}
	now := e.now()
	var page ViolationPage
	var all []Violation
	err := e.scanViolations(ctx, q.Policy, func(ent catalog.Entity) bool {
		v, ok := ViolationFromEntity(ent)
		if !ok {
			return true
		}
		if v.Status == StatusMuted && !v.mutedAt(now) {
			v.Status = StatusOpen // an expired mute: lifted at its next evaluation
			if v.AcknowledgedBy != "" {
				v.Status = StatusAcknowledged
			}
		}
		if q.Status != "" && v.Status != q.Status {
			return true
		}
		all = append(all, v)
		return true
	})
	if err != nil {
		return ViolationPage{}, err
	}
	page.Total = len(all)
	i := 0
	if q.After != "" {
		i = sort.Search(len(all), func(i int) bool { return string(all[i].URN) > q.After })
	}
	for ; i < len(all) && len(page.Violations) < q.First; i++ {
		page.Violations = append(page.Violations, all[i])
		page.Cursors = append(page.Cursors, string(all[i].URN))
	}
	page.HasNext = i < len(all)
	return page, nil
}

func (e *Engine) resolvedViolations(ctx context.Context, q ViolationQuery) (ViolationPage, error) {
	offset := 0
	if q.After != "" {
		n, err := fmt.Sscanf(q.After, "offset:%d", &offset)
		if err != nil || n != 1 || offset < 0 {
			return ViolationPage{}, catalog.Errorf(catalog.Invalid, "after: %q is not a cursor of resolved violations", q.After)
		}
	}
	var page ViolationPage
	var matched []Violation
	for from := 0; ; from += 1000 {
		res, err := e.o.Catalog.Search(ctx, catalog.SearchQuery{Kinds: []catalog.Kind{catalog.KindViolation}, IncludeDeleted: true, Offset: from, Limit: 1000})
		if err != nil {
			return ViolationPage{}, fmt.Errorf("search resolved violations: %w", err)
		}
		for _, ent := range res.Entities {
			if !ent.Deleted() || (q.Policy != "" && !hasViolationPrefix(ent.URN, q.Policy)) {
				continue
			}
			if v, ok := ViolationFromEntity(ent); ok {
				matched = append(matched, v)
			}
		}
		if from+len(res.Entities) >= res.Total || len(res.Entities) == 0 {
			break
		}
	}
	sort.Slice(matched, func(i, j int) bool {
		if !matched[i].ResolvedAt.Equal(matched[j].ResolvedAt) {
			return matched[i].ResolvedAt.After(matched[j].ResolvedAt)
		}
		return matched[i].URN < matched[j].URN
	})
	page.Total = len(matched)
	for i := offset; i < len(matched) && len(page.Violations) < q.First; i++ {
		page.Violations = append(page.Violations, matched[i])
		page.Cursors = append(page.Cursors, fmt.Sprintf("offset:%d", i+1))
	}
	page.HasNext = offset+len(page.Violations) < len(matched)
	return page, nil
}

// Violation returns one violation by URN (resolved ones included).
func (e *Engine) Violation(ctx context.Context, urn catalog.URN) (Violation, error) {
	if urn.Kind() != catalog.KindViolation {
		return Violation{}, catalog.Errorf(catalog.Invalid, "%s is not a violation URN", urn)
	}
	ent, err := e.o.Catalog.Entity(ctx, urn)
	if err != nil {
		return Violation{}, err
	}
	v, ok := ViolationFromEntity(ent)
	if !ok {
		return Violation{}, catalog.Errorf(catalog.Invalid, "%s is not a violation URN", urn)
	}
	return v, nil
}

// openViolation reads an open violation for a steward's action. Callers
// hold e.mu.
func (e *Engine) openViolation(ctx context.Context, urn catalog.URN) (catalog.Entity, error) {
	if _, _, ok := urn.Violation(); !ok {
		return catalog.Entity{}, catalog.Errorf(catalog.Invalid, "%s is not a violation URN", urn)
	}
	ent, err := e.o.Catalog.Entity(ctx, urn)
	if err != nil {
		return catalog.Entity{}, err
	}
	if ent.Deleted() {
		return catalog.Entity{}, catalog.Errorf(catalog.Conflict, "violation %s is resolved", urn)
	}
	return ent, nil
}

// steward rewrites one open violation's properties on a steward's behalf.
func (e *Engine) steward(ctx context.Context, actor string, urn catalog.URN, edit func(catalog.Properties) error) (Violation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ent, err := e.openViolation(ctx, urn)
	if err != nil {
		return Violation{}, err
	}
	props := storedProps(ent)
	if err := edit(props); err != nil {
		return Violation{}, err
	}
	policy, subject, _ := urn.Violation()
	a := assetOf(props)
	if err := e.reconcile(ctx, policy, []string{violationScope(policy, subject)}, []catalog.Asset{a}, actor, ""); err != nil {
		return Violation{}, err
	}
	ent, err = e.o.Catalog.Entity(ctx, urn)
	if err != nil {
		return Violation{}, err
	}
	v, _ := ViolationFromEntity(ent)
	return v, nil
}

func clip(s string, n int) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "", catalog.Errorf(catalog.Invalid, "longer than %d bytes", n)
	}
	return s, nil
}

// Acknowledge marks an open violation as seen and owned by actor, with an
// optional note. It stays open and notified; the acknowledgement lasts
// until the violation resolves (a later opening needs a new one).
func (e *Engine) Acknowledge(ctx context.Context, actor string, urn catalog.URN, note string) (Violation, error) {
	note, err := clip(note, 1024)
	if err != nil {
		return Violation{}, fmt.Errorf("note: %w", err)
	}
	return e.steward(ctx, actor, urn, func(p catalog.Properties) error {
		p[propAckBy], p[propAckAt] = actor, e.now().UTC().Format(time.RFC3339Nano)
		delete(p, propAckNote)
		if note != "" {
			p[propAckNote] = note
		}
		return nil
	})
}

// Mute freezes an open violation until unmuted or until (zero: no end):
// the engine neither updates nor resolves it, so nothing about it is
// notified; it stays listed as MUTED. When the mute ends, the next
// evaluation brings it up to date (resolving it if the condition cleared),
// notifying as usual.
func (e *Engine) Mute(ctx context.Context, actor string, urn catalog.URN, until time.Time, reason string) (Violation, error) {
	reason, err := clip(reason, 1024)
	if err != nil {
		return Violation{}, fmt.Errorf("reason: %w", err)
	}
	now := e.now()
	if !until.IsZero() && !until.After(now) {
		return Violation{}, catalog.Errorf(catalog.Invalid, "until: %s is not in the future", until.UTC().Format(time.RFC3339))
	}
	return e.steward(ctx, actor, urn, func(p catalog.Properties) error {
		for _, k := range []string{propMutedBy, propMutedAt, propMutedUntil, propMuteReason} {
			delete(p, k)
		}
		setMute(p, actor, now, until, reason)
		return nil
	})
}

// Unmute lifts a mute and judges the violation again at once.
func (e *Engine) Unmute(ctx context.Context, actor string, urn catalog.URN) (Violation, error) {
	v, err := e.steward(ctx, actor, urn, func(p catalog.Properties) error {
		if _, ok := p[propMutedBy]; !ok {
			return catalog.Errorf(catalog.Conflict, "violation %s is not muted", urn)
		}
		for _, k := range []string{propMutedBy, propMutedAt, propMutedUntil, propMuteReason} {
			delete(p, k)
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	if st := e.state(v.Policy); st != nil && st.p != nil {
		if err := e.judge(ctx, st.p, []catalog.URN{v.Subject}, nil, ""); err != nil {
			return v, err
		}
	} else if err := e.resolve(ctx, v.Policy, []catalog.URN{v.Subject}); err != nil {
		return v, err
	}
	return e.Violation(ctx, urn)
}
