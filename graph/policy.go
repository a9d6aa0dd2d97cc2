package graph

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/graph/model"
	"github.com/watershed-data/watershed/policy"
)

// PolicyService manages policies and their violations (policy.Engine).
type PolicyService interface {
	Policies(ctx context.Context) []policy.Info
	Policy(ctx context.Context, name string) (policy.Info, error)
	Create(ctx context.Context, actor string, spec policy.Spec) (policy.Info, error)
	Update(ctx context.Context, actor, name string, u policy.Update) (policy.Info, error)
	Delete(ctx context.Context, actor, name string) error
	OpenViolations(ctx context.Context, name string) (int, error)
	Violations(ctx context.Context, q policy.ViolationQuery) (policy.ViolationPage, error)
	Violation(ctx context.Context, urn catalog.URN) (policy.Violation, error)
	Acknowledge(ctx context.Context, actor string, urn catalog.URN, note string) (policy.Violation, error)
	Mute(ctx context.Context, actor string, urn catalog.URN, until time.Time, reason string) (policy.Violation, error)
	Unmute(ctx context.Context, actor string, urn catalog.URN) (policy.Violation, error)
}

// maxViolationPage bounds violations in one answer.
const maxViolationPage = 500

func (r *Resolver) policies() (PolicyService, error) {
	if r.Policies == nil {
		return nil, catalog.Errorf(catalog.Unavailable, "the policy engine is not running in this process")
	}
	return r.Policies, nil
}

// policyWriter returns the service and the caller's actor for a change.
func (r *Resolver) policyWriter(ctx context.Context) (PolicyService, string, error) {
	p, err := requireWriter(ctx)
	if err != nil {
		return nil, "", err
	}
	svc, err := r.policies()
	return svc, p.Actor(), err
}

func scopeFrom(in *model.PolicyScopeInput) policy.Scope {
	if in == nil {
		return policy.Scope{}
	}
	return policy.Scope{Kinds: in.Kinds, URNs: in.Urns}
}

// paramsFrom reads a JSON params argument: an object, or null.
func paramsFrom(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, catalog.Errorf(catalog.Invalid, "params must be a JSON object")
	}
	return m, nil
}

func (r *Resolver) createPolicy(ctx context.Context, in model.CreatePolicyInput) (policy.Info, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Info{}, err
	}
	params, err := paramsFrom(in.Params)
	if err != nil {
		return policy.Info{}, err
	}
	spec := policy.Spec{Name: in.Name, Description: stringOr(in.Description, ""), Builtin: stringOr(in.Builtin, ""),
		Condition: stringOr(in.Condition, ""), Params: params, Scope: scopeFrom(in.Scope), Enabled: boolOr(in.Enabled, true)}
	if in.Severity != nil {
		spec.Severity = *in.Severity
	}
	return svc.Create(ctx, actor, spec)
}

func (r *Resolver) updatePolicy(ctx context.Context, name string, in model.UpdatePolicyInput) (policy.Info, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Info{}, err
	}
	params, err := paramsFrom(in.Params)
	if err != nil {
		return policy.Info{}, err
	}
	u := policy.Update{Description: in.Description, Severity: in.Severity, Params: params, Condition: in.Condition, Enabled: in.Enabled}
	if in.Params != nil && params == nil {
		u.Params = map[string]any{}
	}
	if in.Scope != nil {
		s := scopeFrom(in.Scope)
		u.Scope = &s
	}
	return svc.Update(ctx, actor, name, u)
}

func (r *Resolver) disablePolicy(ctx context.Context, name string) (policy.Info, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Info{}, err
	}
	off := false
	return svc.Update(ctx, actor, name, policy.Update{Enabled: &off})
}

func (r *Resolver) deletePolicy(ctx context.Context, name string) (bool, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return false, err
	}
	if err := svc.Delete(ctx, actor, name); err != nil {
		return false, err
	}
	return true, nil
}

func (r *Resolver) listPolicies(ctx context.Context) ([]policy.Info, error) {
	svc, err := r.policies()
	if err != nil {
		return nil, err
	}
	return svc.Policies(ctx), nil
}

func (r *Resolver) getPolicy(ctx context.Context, name string) (policy.Info, error) {
	svc, err := r.policies()
	if err != nil {
		return policy.Info{}, err
	}
	return svc.Policy(ctx, name)
}

func (r *Resolver) openViolations(ctx context.Context, name string) (int, error) {
	svc, err := r.policies()
	if err != nil {
		return 0, err
	}
	return svc.OpenViolations(ctx, name)
}

// Violation cursors are opaque: the engine's cursor, base64url-encoded.
func violationCursor(c string) string { return base64.RawURLEncoding.EncodeToString([]byte(c)) }

func parseViolationCursor(after *string) (string, error) {
	if after == nil || *after == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*after)
	if err != nil {
		return "", catalog.Errorf(catalog.Invalid, "after: not a violations cursor")
	}
	return string(b), nil
}

func (r *Resolver) violations(ctx context.Context, status *policy.Status, name *string, first int, after *string) (model.ViolationConnection, error) {
	var out model.ViolationConnection
	svc, err := r.policies()
	if err != nil {
		return out, err
	}
	if first < 0 || first > maxViolationPage {
		return out, catalog.Errorf(catalog.Invalid, "first must be between 0 and %d", maxViolationPage)
	}
	cursor, err := parseViolationCursor(after)
	if err != nil {
		return out, err
	}
	q := policy.ViolationQuery{Policy: strings.TrimSpace(stringOr(name, "")), First: max(first, 1), After: cursor}
	if status != nil {
		q.Status = *status
	}
	page, err := svc.Violations(ctx, q)
	if err != nil {
		return out, err
	}
	if first == 0 {
		page.Violations, page.Cursors = nil, nil
		page.HasNext = page.Total > 0
	}
	out.TotalCount = page.Total
	out.Edges = make([]model.ViolationEdge, len(page.Violations))
	for i, v := range page.Violations {
		out.Edges[i] = model.ViolationEdge{Cursor: violationCursor(page.Cursors[i]), Node: v}
	}
	out.PageInfo.HasNextPage = page.HasNext
	out.PageInfo.HasPreviousPage = cursor != ""
	if n := len(out.Edges); n > 0 {
		out.PageInfo.StartCursor = &out.Edges[0].Cursor
		out.PageInfo.EndCursor = &out.Edges[n-1].Cursor
	}
	return out, nil
}

func (r *Resolver) getViolation(ctx context.Context, urn catalog.URN) (policy.Violation, error) {
	svc, err := r.policies()
	if err != nil {
		return policy.Violation{}, err
	}
	return svc.Violation(ctx, urn)
}

func (r *Resolver) acknowledgeViolation(ctx context.Context, urn catalog.URN, note *string) (policy.Violation, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Violation{}, err
	}
	forgetAsset(ctx, urn)
	return svc.Acknowledge(ctx, actor, urn, stringOr(note, ""))
}

func (r *Resolver) muteViolation(ctx context.Context, urn catalog.URN, until *time.Time, reason *string) (policy.Violation, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Violation{}, err
	}
	var u time.Time
	if until != nil {
		u = *until
	}
	forgetAsset(ctx, urn)
	return svc.Mute(ctx, actor, urn, u, stringOr(reason, ""))
}

func (r *Resolver) unmuteViolation(ctx context.Context, urn catalog.URN) (policy.Violation, error) {
	svc, actor, err := r.policyWriter(ctx)
	if err != nil {
		return policy.Violation{}, err
	}
	forgetAsset(ctx, urn)
	return svc.Unmute(ctx, actor, urn)
}

// violationSubject loads the subject asset (a URN-only asset when the
// catalog never knew it).
func (r *Resolver) violationSubject(ctx context.Context, v *policy.Violation) (*catalog.Entity, error) {
	ents, err := loadAssets(ctx, r.Catalog, []catalog.URN{v.Subject})
	if err != nil {
		return nil, err
	}
	return &ents[0], nil
}

func (r *Resolver) violationAsset(ctx context.Context, v *policy.Violation) (catalog.Entity, error) {
	ents, err := loadAssets(ctx, r.Catalog, []catalog.URN{v.URN})
	if err != nil {
		return catalog.Entity{}, err
	}
	return ents[0], nil
}

func optSeverity(s policy.Severity) *policy.Severity {
	if s == "" {
		return nil
	}
	return &s
}

func optJSON(m map[string]any) any {
	if len(m) == 0 {
		return nil
	}
	return m
}
