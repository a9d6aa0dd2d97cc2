package policy_test

import (
	"context"
	"encoding/json"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/policy"
)

// walkLimit bounds the test lineage walks, as main's wiring does.
const walkLimit = 10000

// storeLineage answers the lineage questions with walks of the store, the
// way cmd/watershed wires them.
func storeLineage(s catalog.Reader) policy.Lineage {
	walk := func(ctx context.Context, q catalog.TraverseQuery) ([]policy.Hop, error) {
		q.Limit = walkLimit
		tr, err := s.Traverse(ctx, q)
		if err != nil {
			return nil, err
		}
		paths := tr.Paths(q.Start, q.Direction)
		out := make([]policy.Hop, 0, len(tr.Nodes))
		for _, n := range tr.Nodes {
			p := paths[n.URN]
			if q.Direction == catalog.Upstream {
				for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
					p[i], p[j] = p[j], p[i]
				}
			}
			out = append(out, policy.Hop{URN: n.URN, Kind: n.Kind, Depth: n.Depth, Path: p})
		}
		return out, nil
	}
	return policy.Lineage{
		Downstream: func(ctx context.Context, u catalog.URN, hops int) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Downstream, MaxDepth: hops})
		},
		Upstream: func(ctx context.Context, u catalog.URN, hops int) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Upstream, MaxDepth: hops})
		},
		Reaching: func(ctx context.Context, u catalog.URN, c string) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Upstream, Carrying: c})
		},
	}
}

// URNs of the test estate.
var (
	customers   = catalog.TopicURN("prod", "customers")
	orders      = catalog.TopicURN("prod", "orders")
	profiles    = catalog.TopicURN("prod", "profiles")
	email       = catalog.FieldURN("prod", "customers", "value", "email")
	customerID  = catalog.FieldURN("prod", "customers", "value", "id")
	profileName = catalog.FieldURN("prod", "profiles", "value", "name")
	fraudWatch  = catalog.GroupURN("prod", "fraud-watch")
	analytics   = catalog.GroupURN("prod", "analytics")
	billing     = catalog.GroupURN("prod", "billing")
	userAnalyt  = catalog.PrincipalURN("prod", "User:analytics")
	userOps     = catalog.PrincipalURN("prod", "User:ops")
	custSubject = catalog.SubjectURN("prod-sr", "customers-value")
	ordSubject  = catalog.SubjectURN("prod-sr", "orders-value")
	lakeSink    = catalog.ConnectorURN("prod-connect", "lake-s3-sink")
	dwhSink     = catalog.ConnectorURN("prod-connect", "dwh-jdbc-sink")
	lake        = catalog.DatasetURN("s3://lake", "topics/customers")
	dwhCust     = catalog.TableURN("postgres://dwh:5432", "dwh.staging.customers")
	dwhProf     = catalog.TableURN("postgres://dwh:5432", "dwh.staging.profiles")
	srcTable    = catalog.TableURN("postgres://shop:5432", "shop.public.customers")
)

func configs(kv ...string) catalog.Properties {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return catalog.Properties{"configs": m}
}

// estate is a small Kafka estate with PII in two topics, readers allowed and
// not, a NONE subject, sinks (one reached through a masking edge) and drift.
func estate() catalog.Snapshot {
	pii := func(c string) []catalog.SourceClassification {
		return []catalog.SourceClassification{{Name: c, Source: catalog.AttachSchemaTag}}
	}
	ordersProps := configs("retention.ms", "604800000", "cleanup.policy", "delete")
	ordersProps["schemaDrift"] = []any{map[string]any{"kind": "unknown-field", "part": "value", "subject": "orders-value", "path": "extra"}}
	return catalog.Snapshot{
		Source: "prod",
		Assets: []catalog.Asset{
			{URN: customers, Name: "customers", Properties: configs("retention.ms", "1209600000", "cleanup.policy", "delete"), Scope: "topic/customers"},
			{URN: email, Name: "email", Properties: catalog.Properties{"path": "email"}, Classifications: pii("PII.Email"), Scope: "topic/customers"},
			{URN: customerID, Name: "id", Properties: catalog.Properties{"path": "id"}, Scope: "topic/customers"},
			{URN: orders, Name: "orders", Properties: ordersProps, Scope: "topic/orders"},
			{URN: profiles, Name: "profiles", Properties: configs("cleanup.policy", "compact"), Scope: "topic/profiles"},
			{URN: profileName, Name: "name", Properties: catalog.Properties{"path": "name"}, Classifications: pii("PII.Name"), Scope: "topic/profiles"},
			{URN: fraudWatch, Name: "fraud-watch", Scope: "group/fraud-watch"},
			{URN: analytics, Name: "analytics", Live: catalog.Properties{"totalLag": 5}, Scope: "group/analytics"},
			{URN: billing, Name: "billing", Scope: "group/billing"},
			{URN: userAnalyt, Name: "User:analytics", Scope: "acls"},
			{URN: userOps, Name: "User:ops", Scope: "acls"},
			{URN: custSubject, Name: "customers-value", Properties: catalog.Properties{"compatibility": "NONE", "compatibilitySource": "subject"}, Scope: "subject/customers-value"},
			{URN: ordSubject, Name: "orders-value", Properties: catalog.Properties{"compatibility": "BACKWARD"}, Scope: "subject/orders-value"},
			{URN: lakeSink, Name: "lake-s3-sink", Scope: "connector/lake"},
			{URN: dwhSink, Name: "dwh-jdbc-sink", Scope: "connector/dwh"},
			{URN: lake, Name: "topics/customers", Scope: "connector/lake"},
			{URN: dwhCust, Name: "dwh.staging.customers", Scope: "connector/dwh"},
			{URN: dwhProf, Name: "dwh.staging.profiles", Scope: "connector/dwh"},
			{URN: srcTable, Name: "shop.public.customers", Scope: "connector/dwh"},
		},
		Links: []catalog.Link{
			{From: customers, Kind: catalog.EdgeContains, To: email, Confidence: 1, Scope: "topic/customers"},
			{From: customers, Kind: catalog.EdgeContains, To: customerID, Confidence: 1, Scope: "topic/customers"},
			{From: profiles, Kind: catalog.EdgeContains, To: profileName, Confidence: 1, Scope: "topic/profiles"},
			{From: customers, Kind: catalog.EdgeConsumes, To: fraudWatch, Confidence: 1, Scope: "group/fraud-watch"},
			{From: customers, Kind: catalog.EdgeConsumes, To: analytics, Confidence: 1, Scope: "group/analytics"},
			{From: orders, Kind: catalog.EdgeConsumes, To: billing, Confidence: 1, Scope: "group/billing"},
			{From: customers, Kind: catalog.EdgeCanRead, To: userAnalyt, Confidence: 1, Scope: "acls"},
			{From: orders, Kind: catalog.EdgeCanRead, To: userOps, Confidence: 1, Scope: "acls"},
			{From: customers, Kind: catalog.EdgeHasSchema, To: custSubject, Confidence: 1, Scope: "subject/customers-value"},
			{From: orders, Kind: catalog.EdgeHasSchema, To: ordSubject, Confidence: 1, Scope: "subject/orders-value"},
			// The CDC source: table → topic (so the source table is no sink).
			{From: srcTable, Kind: catalog.EdgeDerives, To: customers, Confidence: 1, Scope: "connector/dwh"},
			// Sinks: connector-level edges plus per-pair DERIVES edges.
			{From: customers, Kind: catalog.EdgeConsumes, To: lakeSink, Confidence: 1, Scope: "connector/lake"},
			{From: lakeSink, Kind: catalog.EdgeSinks, To: lake, Confidence: 1, Scope: "connector/lake"},
			{From: customers, Kind: catalog.EdgeDerives, To: lake, Confidence: 1, Via: lakeSink, Scope: "connector/lake"},
			{From: customers, Kind: catalog.EdgeConsumes, To: dwhSink, Confidence: 1, Scope: "connector/dwh"},
			{From: profiles, Kind: catalog.EdgeConsumes, To: dwhSink, Confidence: 1, Scope: "connector/dwh"},
			{From: dwhSink, Kind: catalog.EdgeSinks, To: dwhCust, Confidence: 1, Scope: "connector/dwh"},
			{From: dwhSink, Kind: catalog.EdgeSinks, To: dwhProf, Confidence: 1, Scope: "connector/dwh"},
			{From: customers, Kind: catalog.EdgeDerives, To: dwhCust, Confidence: 1, Via: dwhSink, Scope: "connector/dwh"},
			{From: profiles, Kind: catalog.EdgeDerives, To: dwhProf, Confidence: 1, Via: dwhSink, Masking: true, Scope: "connector/dwh"},
		},
	}
}

// without returns snap minus the assets and links of scope.
func without(snap catalog.Snapshot, scope string) catalog.Snapshot {
	out := snap
	out.Assets, out.Links = nil, nil
	for _, a := range snap.Assets {
		if a.Scope != scope {
			out.Assets = append(out.Assets, a)
		}
	}
	for _, l := range snap.Links {
		if l.Scope != scope {
			out.Links = append(out.Links, l)
		}
	}
	return out
}

// harness is a real embedded store with a change log and an engine.
type harness struct {
	t       testing.TB
	ctx     context.Context
	store   *embedded.Store
	changes *changelog.Changelog
	engine  *policy.Engine
	nowMu   sync.Mutex
	now     time.Time
	dir     string
	stop    func()
}

// clock reads the test clock; advance moves it.
func (h *harness) clock() time.Time {
	h.nowMu.Lock()
	defer h.nowMu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.nowMu.Lock()
	defer h.nowMu.Unlock()
	h.now = h.now.Add(d)
}

func newStore(t testing.TB, dir string) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newHarness opens a store in a fresh directory and builds an engine with
// specs as its config policies (not running: call run).
func newHarness(t testing.TB, specs ...policy.Spec) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, ctx: context.Background(), dir: dir, now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	h.store = newStore(t, dir)
	h.changes = changelog.New(changelog.Options{Log: h.store, Cursors: h.store, MaxBackoff: 50 * time.Millisecond})
	h.engine = h.newEngine(specs...)
	return h
}

func (h *harness) newEngine(specs ...policy.Spec) *policy.Engine {
	h.t.Helper()
	e, err := policy.New(policy.Options{Catalog: h.store, Subscriber: h.changes, Lineage: storeLineage(h.store), Config: specs,
		Now: h.clock})
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// run starts the engine until the test ends and waits for its startup
// sweep.
func (h *harness) run() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.engine.Run(ctx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			h.t.Errorf("engine: %v", err)
		}
	}
	h.t.Cleanup(h.stop)
	h.waitHandled()
}

// restart stops the running engine and runs a new one with specs as its
// config policies, on the same store.
func (h *harness) restart(specs ...policy.Spec) {
	h.t.Helper()
	h.stop()
	h.engine = h.newEngine(specs...)
	h.run()
}

// reconcile writes a snapshot and returns the last change it wrote.
func (h *harness) reconcile(s catalog.Snapshot) uint64 {
	h.t.Helper()
	res, err := h.store.Reconcile(h.ctx, s, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Seq
}

// waitHandled waits until the engine has handled the whole log and the
// sweeps it asked for have run.
func (h *harness) waitHandled() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	head, err := h.store.LastSeq(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.changes.WaitHandled(ctx, policy.SubscriptionName, head); err != nil {
		h.t.Fatal(err)
	}
	if err := h.engine.WaitIdle(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// open returns the open violations by subject.
func (h *harness) open(policyName string) map[catalog.URN]policy.Violation {
	h.t.Helper()
	page, err := h.engine.Violations(h.ctx, policy.ViolationQuery{Policy: policyName, First: 500})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[catalog.URN]policy.Violation{}
	for _, v := range page.Violations {
		out[v.Subject] = v
	}
	return out
}

func subjects(m map[catalog.URN]policy.Violation) []catalog.URN {
	var out []catalog.URN
	for u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// events returns the policy.violation.* changes after seq.
func (h *harness) events(after uint64) []catalog.Change {
	h.t.Helper()
	cs, err := h.store.Changes(h.ctx, after, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []catalog.Change
	for _, c := range cs {
		if c.Type.Family("policy.violation") {
			out = append(out, c)
		}
	}
	return out
}

func (h *harness) head() uint64 {
	h.t.Helper()
	s, err := h.store.LastSeq(h.ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
