package policy_test

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/policy"
)

// sweepEstate runs spec over the test estate (one sweep through the real
// store) and returns the open violations by subject.
func sweepEstate(t *testing.T, spec policy.Spec) map[catalog.URN]policy.Violation {
	t.Helper()
	h := newHarness(t, spec)
	h.reconcile(estate())
	h.run()
	return h.open(spec.Name)
}

func wantSubjects(t *testing.T, got map[catalog.URN]policy.Violation, want ...catalog.URN) {
	t.Helper()
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if g := subjects(got); !reflect.DeepEqual(g, want) && !(len(g) == 0 && len(want) == 0) {
		t.Fatalf("violating subjects = %v, want %v", g, want)
	}
}

func TestPIIConsumerAllowlist(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "pii-readers", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true,
		Params: map[string]any{"allow": []any{"fraud-watch", "User:ops"}}})
	// fraud-watch is allowed; billing and User:ops read no PII; analytics
	// (a group) and User:analytics (an ACL principal) read customers.
	wantSubjects(t, got, analytics, userAnalyt)
	v := got[analytics]
	if v.Severity != policy.SeverityHigh || v.Status != policy.StatusOpen || v.Policy != "pii-readers" {
		t.Errorf("violation = %+v", v)
	}
	if !strings.Contains(v.Message, "consumer group analytics reads PII topic customers (PII.Email)") {
		t.Errorf("message = %q", v.Message)
	}
	ev := mustJSON(t, v.Evidence)
	for _, want := range []string{`"reader":"urn:group:prod/analytics"`, `"access":"consumes"`, `"urn":"urn:topic:prod/customers"`, `"path":"email"`, `"classification":"PII.Email"`} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence %s lacks %s", ev, want)
		}
	}
	if !reflect.DeepEqual(v.Classifications, []string{"PII.Email"}) {
		t.Errorf("classifications = %v", v.Classifications)
	}
	if got[userAnalyt].Evidence["access"] != "can_read" {
		t.Errorf("principal evidence = %v", got[userAnalyt].Evidence)
	}

	// Globs and URNs allow too; a narrower classification finds nothing.
	wantSubjects(t, sweepEstate(t, policy.Spec{Name: "globs", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true,
		Params: map[string]any{"allow": []any{"fraud-*", "urn:group:prod/analytics", "User:*"}}}))
	wantSubjects(t, sweepEstate(t, policy.Spec{Name: "phones", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true,
		Params: map[string]any{"classification": "PII.Phone"}}))
}

func TestPIIRetention(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "retention", Builtin: policy.BuiltinPIIRetention, Enabled: true, Params: map[string]any{"max": "168h"}})
	// customers keeps 14 days, profiles is compacted (forever); orders
	// keeps 7 days and carries no PII.
	wantSubjects(t, got, customers, profiles)
	if m := got[customers].Message; !strings.Contains(m, "keeps records 336h0m0s (retention.ms=1209600000), beyond the 168h0m0s limit") {
		t.Errorf("message = %q", m)
	}
	if m := got[profiles].Message; !strings.Contains(m, "compacted") || !strings.Contains(m, "PII.Name") {
		t.Errorf("message = %q", m)
	}
	if ev := got[customers].Evidence; ev["retentionMs"] != "1209600000" || ev["max"] != "168h0m0s" {
		t.Errorf("evidence = %v", ev)
	}
	// A longer limit lets customers through; the compacted topic stays.
	wantSubjects(t, sweepEstate(t, policy.Spec{Name: "retention", Builtin: policy.BuiltinPIIRetention, Enabled: true, Params: map[string]any{"max": "720h"}}), profiles)
}

func TestCompatibilityNoneWithConsumers(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "compat", Builtin: policy.BuiltinCompatibilityNone, Enabled: true})
	// customers-value is NONE and customers has consumers; orders-value is
	// BACKWARD.
	wantSubjects(t, got, custSubject)
	ev := mustJSON(t, got[custSubject].Evidence)
	for _, want := range []string{`"compatibility":"NONE"`, `"urn:group:prod/analytics"`, `"urn:connector:prod-connect/lake-s3-sink"`} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence %s lacks %s", ev, want)
		}
	}
}

func TestPIISinkAllowlist(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "sinks", Builtin: policy.BuiltinPIISinkAllowlist, Enabled: true})
	// PII reaches the lake and the DWH customers table; the profiles table
	// is fed through a masking edge; the CDC source table is no sink.
	wantSubjects(t, got, lake, dwhCust)
	v := got[lake]
	if !strings.Contains(v.Message, "PII (PII.Email) reaches dataset topics/customers through connector lake-s3-sink") {
		t.Errorf("message = %q", v.Message)
	}
	if p := mustJSON(t, v.Evidence["path"]); p != `["urn:topic:prod/customers","urn:dataset:s3://lake/topics/customers"]` {
		t.Errorf("path = %s", p)
	}
	// Approving the connector (by name) or the dataset (by URN glob) clears them.
	wantSubjects(t, sweepEstate(t, policy.Spec{Name: "sinks", Builtin: policy.BuiltinPIISinkAllowlist, Enabled: true,
		Params: map[string]any{"allow": []any{"dwh-jdbc-sink", "urn:dataset:s3://lake/*"}}}))
}

func TestSchemaDrift(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "drift", Builtin: policy.BuiltinSchemaDrift, Enabled: true})
	wantSubjects(t, got, orders)
	if m := got[orders].Message; !strings.Contains(m, "1 unknown-field") {
		t.Errorf("message = %q", m)
	}
	wantSubjects(t, sweepEstate(t, policy.Spec{Name: "drift", Builtin: policy.BuiltinSchemaDrift, Enabled: true,
		Params: map[string]any{"kinds": []any{"not-wire-format"}}}))
}

func TestScopeNarrowsBuiltins(t *testing.T) {
	got := sweepEstate(t, policy.Spec{Name: "pii-readers", Builtin: policy.BuiltinPIIConsumerAllowlist, Enabled: true,
		Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindPrincipal}}})
	wantSubjects(t, got, userAnalyt)
	got = sweepEstate(t, policy.Spec{Name: "retention", Builtin: policy.BuiltinPIIRetention, Enabled: true,
		Params: map[string]any{"max": "1h"}, Scope: policy.Scope{URNs: []string{"urn:topic:prod/cust*"}}})
	wantSubjects(t, got, customers)
}
