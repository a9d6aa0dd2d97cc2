package policy_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/policy"
)

var readersPolicy = policy.Spec{Name: "pii-readers", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true,
	Params: map[string]any{"allow": []any{"fraud-watch", "User:ops", "User:analytics"}}}

// TestEngineOpensResolvesDedups drives the engine through the change log
// with the real embedded store: a new reader of a PII topic opens exactly
// one violation (with evidence in its event, caused by the crawl's
// change), a re-crawl that changes nothing adds nothing, a second topic
// updates the evidence without a new opening, and the group going away
// resolves it.
func TestEngineOpensResolvesDedups(t *testing.T) {
	h := newHarness(t, readersPolicy)
	base := without(estate(), "group/analytics")
	h.reconcile(base)
	h.run()
	if got := h.open("pii-readers"); len(got) != 0 {
		t.Fatalf("violations before the new reader: %v", subjects(got))
	}

	h0 := h.head()
	seq := h.reconcile(estate()) // analytics starts reading customers
	h.waitHandled()
	evs := h.events(h0)
	if len(evs) != 1 || evs[0].Type != catalog.PolicyViolationOpened {
		t.Fatalf("events = %+v", evs)
	}
	v := catalog.ViolationURN("pii-readers", analytics)
	ev := evs[0]
	if ev.Subject != v || ev.Actor != catalog.ActorPolicy || ev.Origin != "/watershed/sources/policy" {
		t.Errorf("event = %+v", ev)
	}
	// The cause is one of the crawl's changes: the entry that made the
	// engine look.
	if cause, err := strconv.ParseUint(ev.Cause, 10, 64); err != nil || cause <= h0 || cause > seq {
		t.Errorf("cause %q of event %s: want a change of the crawl (%d, %d]", ev.Cause, ev.ID(), h0, seq)
	}
	data, err := ev.AssetData()
	if err != nil {
		t.Fatal(err)
	}
	if data.Properties["policy"] != "pii-readers" || data.Properties["subject"] != string(analytics) || data.Properties["severity"] != "HIGH" ||
		!reflect.DeepEqual(data.Classifications, []string{"PII.Email"}) || !strings.Contains(data.Description, "analytics reads PII topic customers") {
		t.Errorf("opened data = %+v", data)
	}
	if js := mustJSON(t, data.Properties["evidence"]); !strings.Contains(js, `"path":"email"`) {
		t.Errorf("evidence in the event = %s", js)
	}

	// The same crawl again: no change, no event.
	h1 := h.head()
	h.reconcile(estate())
	h.waitHandled()
	if evs := h.events(h1); len(evs) != 0 {
		t.Errorf("a re-crawl wrote %+v", evs)
	}

	// analytics also reads profiles: the evidence grows, no second opening.
	more := estate()
	more.Links = append(more.Links, catalog.Link{From: profiles, Kind: catalog.EdgeConsumes, To: analytics, Confidence: 1, Scope: "group/analytics"})
	h2 := h.head()
	h.reconcile(more)
	h.waitHandled()
	if evs := h.events(h2); len(evs) != 0 {
		t.Errorf("new evidence wrote %+v", evs)
	}
	got := h.open("pii-readers")[analytics]
	if !reflect.DeepEqual(got.Classifications, []string{"PII.Email", "PII.Name"}) || !strings.Contains(got.Message, "reads PII topics customers and profiles (PII.Email, PII.Name)") {
		t.Errorf("updated violation = %+v", got)
	}
	opened := got.OpenedAt

	// The group goes away: resolved, with its last evidence in the event.
	h3 := h.head()
	h.reconcile(base)
	h.waitHandled()
	evs = h.events(h3)
	if len(evs) != 1 || evs[0].Type != catalog.PolicyViolationResolved || evs[0].Subject != v {
		t.Fatalf("events = %+v", evs)
	}
	if d, _ := evs[0].AssetData(); !reflect.DeepEqual(d.Classifications, []string{"PII.Email", "PII.Name"}) || d.Properties["openedAt"] != opened.UTC().Format(time.RFC3339Nano) {
		t.Errorf("resolved data = %+v", d)
	}
	if len(h.open("pii-readers")) != 0 {
		t.Error("still open")
	}
	page, err := h.engine.Violations(h.ctx, policy.ViolationQuery{Status: policy.StatusResolved, First: 10})
	if err != nil || len(page.Violations) != 1 || page.Violations[0].Subject != analytics || page.Violations[0].ResolvedAt.IsZero() {
		t.Fatalf("resolved = %+v, %v", page, err)
	}

	// It comes back: the same URN opens again (history kept).
	h4 := h.head()
	h.reconcile(estate())
	h.waitHandled()
	if evs := h.events(h4); len(evs) != 1 || evs[0].Type != catalog.PolicyViolationOpened || evs[0].Subject != v {
		t.Fatalf("reopen events = %+v", evs)
	}
}

// TestEngineClassificationChanges: classifying a field opens violations of
// every reader of its topic; declassifying resolves them.
func TestEngineClassificationChanges(t *testing.T) {
	h := newHarness(t, policy.Spec{Name: "pii-readers", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true})
	h.reconcile(estate())
	h.run()
	before := subjects(h.open("pii-readers"))
	if !reflect.DeepEqual(before, []catalog.URN{analytics, fraudWatch, userAnalyt}) {
		t.Fatalf("open = %v", before)
	}
	// orders has no PII yet; a steward marks a field of it.
	field := catalog.FieldURN("prod", "orders", "value", "address")
	snap := estate()
	snap.Assets = append(snap.Assets, catalog.Asset{URN: field, Name: "address", Properties: catalog.Properties{"path": "address"}, Scope: "topic/orders"})
	snap.Links = append(snap.Links, catalog.Link{From: orders, Kind: catalog.EdgeContains, To: field, Confidence: 1, Scope: "topic/orders"})
	h.reconcile(snap)
	h.waitHandled()
	if _, err := h.store.Apply(h.ctx, catalog.Batch{Actor: "user:alice", Mutations: []catalog.Mutation{catalog.Classify{URN: field, Classification: "PII.Address"}}}); err != nil {
		t.Fatal(err)
	}
	h.waitHandled()
	got := h.open("pii-readers")
	if _, ok := got[billing]; !ok {
		t.Errorf("billing (reads orders) not open: %v", subjects(got))
	}
	if _, ok := got[userOps]; !ok {
		t.Errorf("User:ops (may read orders) not open: %v", subjects(got))
	}
	if _, err := h.store.Apply(h.ctx, catalog.Batch{Actor: "user:alice", Mutations: []catalog.Mutation{catalog.Declassify{URN: field, Classification: "PII.Address"}}}); err != nil {
		t.Fatal(err)
	}
	h.waitHandled()
	if after := subjects(h.open("pii-readers")); !reflect.DeepEqual(after, before) {
		t.Errorf("after declassify open = %v, want %v", after, before)
	}
}

// TestSweep: live readings change without events, so a lag condition is
// judged by the sweep only; the sweep also resolves the violations of a
// subject that is gone and of a policy that was disabled.
func TestSweep(t *testing.T) {
	lag := policy.Spec{Name: "lagging", Enabled: true, Condition: `has(asset.live.totalLag) && asset.live.totalLag > 100`,
		Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindConsumerGroup}}}
	h := newHarness(t, lag)
	h.reconcile(estate())
	h.run()
	if got := h.open("lagging"); len(got) != 0 {
		t.Fatalf("open = %v", subjects(got))
	}
	// analytics falls behind: a live reading, no event.
	behind := estate()
	for i := range behind.Assets {
		if behind.Assets[i].URN == analytics {
			behind.Assets[i].Live = catalog.Properties{"totalLag": 5000}
		}
	}
	h0 := h.head()
	h.reconcile(behind)
	if h.head() != h0 {
		t.Fatal("a live reading wrote a change event")
	}
	h.waitHandled()
	if got := h.open("lagging"); len(got) != 0 {
		t.Fatalf("opened without a sweep: %v", subjects(got))
	}
	if err := h.engine.Sweep(h.ctx, "lagging"); err != nil {
		t.Fatal(err)
	}
	if got := subjects(h.open("lagging")); !reflect.DeepEqual(got, []catalog.URN{analytics}) {
		t.Fatalf("after the sweep open = %v", got)
	}
	// Swept again: nothing new.
	h1 := h.head()
	if err := h.engine.SweepAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if evs := h.events(h1); len(evs) != 0 {
		t.Errorf("a second sweep wrote %+v", evs)
	}
	// It caught up: the sweep resolves.
	h.reconcile(estate())
	if err := h.engine.Sweep(h.ctx, "lagging"); err != nil {
		t.Fatal(err)
	}
	if got := h.open("lagging"); len(got) != 0 {
		t.Fatalf("after catching up open = %v", subjects(got))
	}
	info, err := h.engine.Policy(h.ctx, "lagging")
	if err != nil || info.LastSweepAt.IsZero() {
		t.Errorf("policy info = %+v, %v", info, err)
	}
}

// TestConfigPolicyLeavesResolves: restarted without a config policy, the
// engine deletes its definition and resolves its violations.
func TestConfigPolicyLeavesResolves(t *testing.T) {
	retention := policy.Spec{Name: "retention", Builtin: policy.BuiltinPIIRetention, Enabled: true, Params: map[string]any{"max": "168h"}}
	h := newHarness(t, retention)
	h.reconcile(estate())
	h.run()
	if got := subjects(h.open("retention")); !reflect.DeepEqual(got, []catalog.URN{customers, profiles}) {
		t.Fatalf("open = %v", got)
	}
	ent, err := h.store.Entity(h.ctx, catalog.PolicyURN("retention"))
	if err != nil || ent.Deleted() || ent.Properties["builtin"] != "pii-retention" || ent.Properties["origin"] != "config" {
		t.Fatalf("stored definition = %+v, %v", ent, err)
	}
	// A second engine on the same store, with no config policies.
	h0 := h.head()
	h.restart()
	evs := h.events(h0)
	if len(evs) != 2 || evs[0].Type != catalog.PolicyViolationResolved || evs[1].Type != catalog.PolicyViolationResolved {
		t.Fatalf("events = %+v", evs)
	}
	if ent, _ := h.store.Entity(h.ctx, catalog.PolicyURN("retention")); !ent.Deleted() {
		t.Error("the definition of a policy that left the config is still there")
	}
}

// TestAcknowledgeAndMute: an acknowledged violation stays open and lifts
// with its resolution; a muted one is frozen (not updated, not resolved,
// so nothing is notified) until unmuted, which judges it at once.
func TestAcknowledgeAndMute(t *testing.T) {
	h := newHarness(t, readersPolicy)
	h.reconcile(estate())
	h.run()
	v := catalog.ViolationURN("pii-readers", analytics)

	got, err := h.engine.Acknowledge(h.ctx, "user:alice", v, "talking to the analytics team")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != policy.StatusAcknowledged || got.AcknowledgedBy != "user:alice" || got.AcknowledgeNote != "talking to the analytics team" {
		t.Fatalf("acknowledged = %+v", got)
	}
	// Re-evaluation keeps the acknowledgement.
	if err := h.engine.SweepAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.open("pii-readers")[analytics]; got.Status != policy.StatusAcknowledged {
		t.Errorf("after a sweep status = %s", got.Status)
	}
	page, err := h.engine.Violations(h.ctx, policy.ViolationQuery{Status: policy.StatusAcknowledged, First: 10})
	if err != nil || len(page.Violations) != 1 || page.Total != 1 {
		t.Fatalf("acknowledged list = %+v, %v", page, err)
	}

	until := h.clock().Add(24 * time.Hour)
	got, err = h.engine.Mute(h.ctx, "user:bob", v, until, "known; fixed next sprint")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != policy.StatusMuted || got.MutedBy != "user:bob" || !got.MutedUntil.Equal(until) {
		t.Fatalf("muted = %+v", got)
	}
	// The group goes away: a muted violation is frozen — no event.
	h0 := h.head()
	h.reconcile(without(estate(), "group/analytics"))
	h.waitHandled()
	if err := h.engine.SweepAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if evs := h.events(h0); len(evs) != 0 {
		t.Fatalf("a muted violation changed: %+v", evs)
	}
	if got := h.open("pii-readers")[analytics]; got.Status != policy.StatusMuted {
		t.Fatalf("status = %s", got.Status)
	}
	// Unmuted: judged at once, and resolved (notified as usual).
	got, err = h.engine.Unmute(h.ctx, "user:bob", v)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != policy.StatusResolved {
		t.Errorf("after unmute status = %s", got.Status)
	}
	evs := h.events(h0)
	if len(evs) != 1 || evs[0].Type != catalog.PolicyViolationResolved {
		t.Errorf("events = %+v", evs)
	}
	// A resolved violation cannot be acknowledged; a mute must end later.
	if _, err := h.engine.Acknowledge(h.ctx, "user:alice", v, ""); catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("acknowledge a resolved violation: %v", err)
	}
	other := catalog.ViolationURN("pii-readers", userAnalyt)
	if _, err := h.engine.Mute(h.ctx, "user:bob", other, h.clock().Add(-time.Hour), ""); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("mute into the past: %v", err)
	}
}

// TestMuteExpires: past its end, a mute is lifted at the next evaluation.
func TestMuteExpires(t *testing.T) {
	h := newHarness(t, readersPolicy)
	h.reconcile(estate())
	h.run()
	v := catalog.ViolationURN("pii-readers", analytics)
	if _, err := h.engine.Mute(h.ctx, "user:bob", v, h.clock().Add(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	h.reconcile(without(estate(), "group/analytics"))
	h.waitHandled()
	if got := h.open("pii-readers")[analytics]; got.Status != policy.StatusMuted {
		t.Fatalf("status = %s", got.Status)
	}
	h.advance(2 * time.Hour)
	if err := h.engine.SweepAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if _, open := h.open("pii-readers")[analytics]; open {
		t.Error("an expired mute kept the violation open")
	}
}

// TestAPIPolicies: created, updated, disabled and deleted through the
// engine, stored in the catalog and loaded again by a new engine; config
// policies cannot be changed through the API.
func TestAPIPolicies(t *testing.T) {
	h := newHarness(t, policy.Spec{Name: "drift", Builtin: policy.BuiltinSchemaDrift, Enabled: true})
	h.reconcile(estate())
	h.run()

	if _, err := h.engine.Create(h.ctx, "user:alice", policy.Spec{Name: "bad", Condition: "asset.nope("}); catalog.KindOf(err) != catalog.Invalid || !strings.Contains(err.Error(), "condition: 1:12: Syntax error") {
		t.Errorf("invalid condition: %v", err)
	}
	info, err := h.engine.Create(h.ctx, "user:alice", policy.Spec{Name: "no-pii-in-s3", Severity: "critical", Enabled: true,
		Condition: `asset.urn.startsWith("urn:dataset:s3://") && upstream(asset, 2).exists(u, "PII" in classifications(u))`,
		Scope:     policy.Scope{Kinds: []catalog.Kind{catalog.KindDataset}}})
	if err != nil {
		t.Fatal(err)
	}
	if info.Spec.Origin != policy.OriginAPI || info.Spec.Severity != policy.SeverityCritical || info.CreatedAt.IsZero() {
		t.Errorf("created = %+v", info)
	}
	h.waitHandled()
	if got := subjects(h.open("no-pii-in-s3")); !reflect.DeepEqual(got, []catalog.URN{lake}) {
		t.Fatalf("open = %v", got)
	}
	if got := h.open("no-pii-in-s3")[lake]; got.Severity != policy.SeverityCritical {
		t.Errorf("severity = %s", got.Severity)
	}
	ent, err := h.store.Entity(h.ctx, catalog.PolicyURN("no-pii-in-s3"))
	if err != nil || ent.Properties["origin"] != "api" {
		t.Fatalf("stored = %+v, %v", ent, err)
	}
	if _, err := h.engine.Create(h.ctx, "user:alice", policy.Spec{Name: "no-pii-in-s3", Condition: "true"}); catalog.KindOf(err) != catalog.Conflict {
		t.Errorf("duplicate name: %v", err)
	}
	for _, err := range []error{
		func() error { _, err := h.engine.Update(h.ctx, "user:alice", "drift", policy.Update{}); return err }(),
		h.engine.Delete(h.ctx, "user:alice", "drift"),
	} {
		if catalog.KindOf(err) != catalog.Conflict || !strings.Contains(err.Error(), "config file") {
			t.Errorf("change a config policy: %v", err)
		}
	}

	// Update: the new severity reaches the open violation.
	sev := policy.SeverityLow
	if _, err := h.engine.Update(h.ctx, "user:alice", "no-pii-in-s3", policy.Update{Severity: &sev}); err != nil {
		t.Fatal(err)
	}
	h.waitHandled()
	if got := h.open("no-pii-in-s3")[lake]; got.Severity != policy.SeverityLow {
		t.Errorf("after update severity = %s", got.Severity)
	}
	bad := "asset."
	if _, err := h.engine.Update(h.ctx, "user:alice", "no-pii-in-s3", policy.Update{Condition: &bad}); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("update to an invalid condition: %v", err)
	}

	// A new engine on the same store loads the API policy.
	h.restart(policy.Spec{Name: "drift", Builtin: policy.BuiltinSchemaDrift, Enabled: true})
	got, err := h.engine.Policy(h.ctx, "no-pii-in-s3")
	if err != nil || got.Spec.Severity != policy.SeverityLow || got.Spec.Condition == "" {
		t.Fatalf("loaded = %+v, %v", got, err)
	}
	if names := len(h.engine.Policies(h.ctx)); names != 2 {
		t.Errorf("%d policies", names)
	}

	// Disabled: its violations resolve.
	off := false
	h0 := h.head()
	if _, err := h.engine.Update(h.ctx, "user:alice", "no-pii-in-s3", policy.Update{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	h.waitHandled()
	if evs := h.events(h0); len(evs) != 1 || evs[0].Type != catalog.PolicyViolationResolved {
		t.Errorf("disable events = %+v", evs)
	}
	// Deleted: gone from the list and the catalog.
	if err := h.engine.Delete(h.ctx, "user:alice", "no-pii-in-s3"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Policy(h.ctx, "no-pii-in-s3"); !catalog.IsNotFound(err) {
		t.Errorf("deleted policy: %v", err)
	}
	if ent, _ := h.store.Entity(h.ctx, catalog.PolicyURN("no-pii-in-s3")); !ent.Deleted() {
		t.Error("definition not tombstoned")
	}
}

// TestChangeScopedCondition: a condition that reads change is judged on
// changes only; the sweep keeps its violations (it has no change to judge
// them by) unless their subject is gone.
func TestChangeScopedCondition(t *testing.T) {
	h := newHarness(t, policy.Spec{Name: "new-groups", Enabled: true, Condition: `has(change.type) && change.type == "asset.created"`,
		Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindConsumerGroup}}})
	h.reconcile(without(estate(), "group/billing"))
	h.run()
	h.reconcile(estate()) // billing appears
	h.waitHandled()
	if got := subjects(h.open("new-groups")); !reflect.DeepEqual(got, []catalog.URN{billing}) {
		t.Fatalf("open = %v", got)
	}
	if err := h.engine.SweepAll(h.ctx); err != nil {
		t.Fatal(err)
	}
	if got := subjects(h.open("new-groups")); !reflect.DeepEqual(got, []catalog.URN{billing}) {
		t.Fatalf("after a sweep open = %v", got)
	}
	// A later change of billing (not a creation) clears it.
	changed := estate()
	for i := range changed.Assets {
		if changed.Assets[i].URN == billing {
			changed.Assets[i].Properties = catalog.Properties{"groupType": "consumer"}
		}
	}
	h.reconcile(changed)
	h.waitHandled()
	if got := h.open("new-groups"); len(got) != 0 {
		t.Fatalf("after an update open = %v", subjects(got))
	}
}
