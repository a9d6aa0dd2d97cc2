package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/graph"
	"github.com/watershed-data/watershed/policy"
)

// policyServer is a GraphQL server with a running policy engine.
type policyServer struct {
	*server
	changes *changelog.Changelog
	engine  *policy.Engine
}

func newPolicyServer(t *testing.T) *policyServer {
	t.Helper()
	st, err := embedded.Open(embedded.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cl := changelog.New(changelog.Options{Log: st, Cursors: st, MaxBackoff: 50 * time.Millisecond})
	eng, err := policy.New(policy.Options{Catalog: st, Subscriber: cl})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	auth := graph.NewAuthenticator([]graph.Token{{Name: "ci", Secret: "s3cret-write", Write: true}, {Name: "dash", Secret: "s3cret-read"}}, graph.AccessNone)
	h := graph.NewHandler(graph.Options{Resolver: &graph.Resolver{Catalog: st, Changes: cl, Policies: eng}, Auth: auth})
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("policy engine: %v", err)
		}
		st.Close()
	})
	return &policyServer{server: &server{t: t, url: ts.URL, store: st}, changes: cl, engine: eng}
}

// settle waits until the engine has handled the log and its sweeps.
func (s *policyServer) settle() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.changes.WaitHandled(ctx, policy.SubscriptionName, s.head()); err != nil {
		s.t.Fatal(err)
	}
	if err := s.engine.WaitIdle(ctx); err != nil {
		s.t.Fatal(err)
	}
}

func (s *policyServer) as(token, query string, vars map[string]any) map[string]any {
	s.t.Helper()
	r := s.do(token, query, vars)
	if len(r.Errors) > 0 {
		s.t.Fatalf("query failed: %+v\n%s", r.Errors, query)
	}
	return r.Data
}

// TestPolicyAPI drives the Policy section through the real handler:
// compile errors with positions, permissions, a built-in with JSON params,
// violations with evidence and pages, acknowledge and mute, disable and
// delete.
func TestPolicyAPI(t *testing.T) {
	s := newPolicyServer(t)
	const w, r = "s3cret-write", "s3cret-read"
	topic, field := catalog.TopicURN("prod", "customers"), catalog.FieldURN("prod", "customers", "value", "email")
	groups := []catalog.URN{catalog.GroupURN("prod", "analytics"), catalog.GroupURN("prod", "bi"), catalog.GroupURN("prod", "fraud-watch")}
	snap := catalog.Snapshot{Source: "prod", Assets: []catalog.Asset{
		{URN: topic, Name: "customers"},
		{URN: field, Name: "email", Properties: catalog.Properties{"path": "email"}, Classifications: []catalog.SourceClassification{{Name: "PII.Email"}}},
	}, Links: []catalog.Link{{From: topic, Kind: catalog.EdgeContains, To: field, Confidence: 1}}}
	for _, g := range groups {
		snap.Assets = append(snap.Assets, catalog.Asset{URN: g, Name: strings.TrimPrefix(string(g), "urn:group:prod/")})
		snap.Links = append(snap.Links, catalog.Link{From: topic, Kind: catalog.EdgeConsumes, To: g, Confidence: 1})
	}
	if _, err := s.store.Reconcile(context.Background(), snap, nil); err != nil {
		t.Fatal(err)
	}
	s.settle()

	// Compile errors name the position; readers may not create.
	msg := s.code(w, `mutation { createPolicy(input: {name: "bad", condition: "asset.kind == 1 &&"}) { name } }`, nil, "INVALID_ARGUMENT")
	if !strings.Contains(msg, "condition: 1:19: Syntax error") {
		t.Errorf("compile error = %q", msg)
	}
	s.code(w, `mutation { createPolicy(input: {name: "bad", builtin: "pii-retention", params: {max: "soon"}}) { name } }`, nil, "INVALID_ARGUMENT")
	s.code(w, `mutation { createPolicy(input: {name: "bad", builtin: "pii-retention", params: [1]}) { name } }`, nil, "INVALID_ARGUMENT")
	s.code(r, `mutation { createPolicy(input: {name: "x", condition: "true"}) { name } }`, nil, "PERMISSION_DENIED")

	d := s.as(w, `mutation { createPolicy(input: {name: "pii-readers", builtin: "pii-consumer-allowlist", params: {allow: ["fraud-*"]}, severity: CRITICAL}) {
		name builtin params severity enabled origin scope { kinds urns } description createdAt } }`, nil)
	p := get(d, "createPolicy").(map[string]any)
	if p["origin"] != "api" || p["severity"] != "CRITICAL" || mustJSON(t, p["params"]) != `{"allow":["fraud-*"]}` || p["description"] == nil || p["createdAt"] == nil {
		t.Errorf("created = %v", p)
	}
	s.code(w, `mutation { createPolicy(input: {name: "pii-readers", condition: "true"}) { name } }`, nil, "CONFLICT")
	s.settle()

	q := `query($after: String, $status: ViolationStatus) { violations(policy: "pii-readers", first: 1, after: $after, status: $status) {
		totalCount pageInfo { hasNextPage endCursor }
		edges { cursor node { urn policy severity status subjectUrn subject { urn kind } message evidence classifications openedAt asset { kind } } } } }`
	d = s.as(r, q, nil)
	if get(d, "violations", "totalCount") != float64(2) || get(d, "violations", "pageInfo", "hasNextPage") != true {
		t.Fatalf("violations = %s", mustJSON(t, d))
	}
	v := get(d, "violations", "edges", 0, "node").(map[string]any)
	if v["subjectUrn"] != string(groups[0]) || v["severity"] != "CRITICAL" || v["status"] != "OPEN" || get(v, "subject", "kind") != "CONSUMER_GROUP" ||
		get(v, "asset", "kind") != "VIOLATION" || !strings.Contains(mustJSON(t, v["evidence"]), `"path":"email"`) || mustJSON(t, v["classifications"]) != `["PII.Email"]` {
		t.Errorf("violation = %v", v)
	}
	d = s.as(r, q, map[string]any{"after": get(d, "violations", "pageInfo", "endCursor")})
	if get(d, "violations", "edges", 0, "node", "subjectUrn") != string(groups[1]) || get(d, "violations", "pageInfo", "hasNextPage") != false {
		t.Errorf("second page = %s", mustJSON(t, d))
	}
	s.code(r, `{ violations(after: "!!") { totalCount } }`, nil, "INVALID_ARGUMENT")

	// Acknowledge, mute (with an end), filter by status.
	vu := string(catalog.ViolationURN("pii-readers", groups[0]))
	s.code(r, `mutation($u: URN!) { acknowledgeViolation(urn: $u) { status } }`, map[string]any{"u": vu}, "PERMISSION_DENIED")
	d = s.as(w, `mutation($u: URN!) { acknowledgeViolation(urn: $u, note: "on it") { status acknowledgedBy acknowledgeNote } }`, map[string]any{"u": vu})
	if a := get(d, "acknowledgeViolation").(map[string]any); a["status"] != "ACKNOWLEDGED" || a["acknowledgedBy"] != "token:ci" || a["acknowledgeNote"] != "on it" {
		t.Errorf("acknowledged = %v", a)
	}
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	d = s.as(w, `mutation($u: URN!, $until: Time) { muteViolation(urn: $u, until: $until, reason: "known") { status mutedBy mutedUntil muteReason } }`, map[string]any{"u": vu, "until": until})
	if m := get(d, "muteViolation").(map[string]any); m["status"] != "MUTED" || m["mutedUntil"] == nil || m["muteReason"] != "known" {
		t.Errorf("muted = %v", m)
	}
	d = s.as(r, q, map[string]any{"status": "MUTED"})
	if get(d, "violations", "totalCount") != float64(1) {
		t.Errorf("muted list = %s", mustJSON(t, d))
	}
	d = s.as(w, `mutation($u: URN!) { unmuteViolation(urn: $u) { status } }`, map[string]any{"u": vu})
	if get(d, "unmuteViolation", "status") != "ACKNOWLEDGED" {
		t.Errorf("unmuted = %v", d)
	}

	// Update the allowlist: analytics is allowed now.
	s.as(w, `mutation { updatePolicy(name: "pii-readers", input: {params: {allow: ["fraud-*", "analytics"]}}) { name } }`, nil)
	s.settle()
	d = s.as(r, `{ policies { name openViolations lastSweepAt } violations { totalCount } resolved: violations(status: RESOLVED) { totalCount edges { node { subjectUrn resolvedAt status } } } }`, nil)
	if get(d, "violations", "totalCount") != float64(1) || get(d, "resolved", "totalCount") != float64(1) ||
		get(d, "resolved", "edges", 0, "node", "subjectUrn") != string(groups[0]) || get(d, "policies", 0, "openViolations") != float64(1) {
		t.Errorf("after update = %s", mustJSON(t, d))
	}

	// Disable: every violation resolves. Delete: gone.
	d = s.as(w, `mutation { disablePolicy(name: "pii-readers") { enabled } }`, nil)
	if get(d, "disablePolicy", "enabled") != false {
		t.Errorf("disabled = %v", d)
	}
	s.settle()
	if d = s.as(r, `{ violations { totalCount } }`, nil); get(d, "violations", "totalCount") != float64(0) {
		t.Errorf("after disable = %v", d)
	}
	if d = s.as(w, `mutation { deletePolicy(name: "pii-readers") }`, nil); d["deletePolicy"] != true {
		t.Errorf("delete = %v", d)
	}
	s.code(r, `{ policy(name: "pii-readers") { name } }`, nil, "NOT_FOUND")
	s.code(w, `mutation { deletePolicy(name: "pii-readers") }`, nil, "NOT_FOUND")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
