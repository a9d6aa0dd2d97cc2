package policy_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/policy"
)

// TestCompileErrors: every invalid spec is refused as Invalid, naming what
// is wrong; a CEL error gives its line and column.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		name string
		spec policy.Spec
		want string
		pos  *policy.CompileError
	}{
		{"undeclared", policy.Spec{Name: "p", Condition: `asset.kind == "TOPIC" && foo > 1`}, "condition: 1:26: undeclared reference to 'foo'", &policy.CompileError{Line: 1, Column: 26}},
		{"syntax on line 2", policy.Spec{Name: "p", Condition: "asset.kind == \"TOPIC\" &&\n  asset.name =="}, "condition: 2:", &policy.CompileError{Line: 2}},
		{"not boolean", policy.Spec{Name: "p", Condition: `asset.name + "x"`}, "condition: must be a boolean expression, not string", nil},
		{"wrong helper arity", policy.Spec{Name: "p", Condition: `size(downstream(asset)) > 0`}, "found no matching overload for 'downstream'", nil},
		{"too long", policy.Spec{Name: "p", Condition: strings.Repeat("true && ", 600) + "true"}, "longer than 4096 bytes", nil},
		{"neither", policy.Spec{Name: "p"}, "set builtin (one of compatibility-none-with-consumers, pii-consumer-allowlist, pii-retention, pii-sink-allowlist, schema-drift) or condition", nil},
		{"both", policy.Spec{Name: "p", Builtin: policy.BuiltinSchemaDrift, Condition: "true"}, "set builtin or condition, not both", nil},
		{"unknown builtin", policy.Spec{Name: "p", Builtin: "pii-everything"}, `builtin: "pii-everything" is not one of`, nil},
		{"unknown param", policy.Spec{Name: "p", Builtin: policy.BuiltinPIIConsumerAllowlist, Params: map[string]any{"alow": []any{"x"}}}, "params: unknown key alow (known: allow, classification)", nil},
		{"param type", policy.Spec{Name: "p", Builtin: policy.BuiltinPIIConsumerAllowlist, Params: map[string]any{"allow": "x"}}, "params:", nil},
		{"missing max", policy.Spec{Name: "p", Builtin: policy.BuiltinPIIRetention}, "params.max: required", nil},
		{"bad max", policy.Spec{Name: "p", Builtin: policy.BuiltinPIIRetention, Params: map[string]any{"max": "7d"}}, `params.max: "7d" is not a positive duration`, nil},
		{"bad classification", policy.Spec{Name: "p", Builtin: policy.BuiltinPIISinkAllowlist, Params: map[string]any{"classification": "no spaces"}}, "params.classification", nil},
		{"params on a condition", policy.Spec{Name: "p", Condition: "true", Params: map[string]any{"max": "1h"}}, "params: only a builtin takes parameters (max)", nil},
		{"bad name", policy.Spec{Name: "no pii", Condition: "true"}, "policy name", nil},
		{"bad severity", policy.Spec{Name: "p", Condition: "true", Severity: "urgent"}, `severity "urgent" is not one of`, nil},
		{"scope kind of another check", policy.Spec{Name: "p", Builtin: policy.BuiltinPIIRetention, Params: map[string]any{"max": "1h"}, Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindTable}}}, "scope: pii-retention judges [TOPIC], not TABLE", nil},
		{"scope of violations", policy.Spec{Name: "p", Condition: "true", Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindViolation}}}, "policies do not judge VIOLATION", nil},
		{"bad drift kind", policy.Spec{Name: "p", Builtin: policy.BuiltinSchemaDrift, Params: map[string]any{"kinds": []any{"wrong"}}}, `params.kinds[0]: "wrong" is not one of`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.Compile(c.spec)
			if err == nil {
				t.Fatal("compiled")
			}
			if catalog.KindOf(err) != catalog.Invalid {
				t.Errorf("kind = %v, want Invalid: %v", catalog.KindOf(err), err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
			if c.pos != nil {
				var ce policy.CompileErrors
				if !errors.As(err, &ce) || len(ce) == 0 {
					t.Fatalf("no CompileErrors in %v", err)
				}
				if ce[0].Line != c.pos.Line || (c.pos.Column != 0 && ce[0].Column != c.pos.Column) {
					t.Errorf("position = %d:%d, want %d:%d", ce[0].Line, ce[0].Column, c.pos.Line, c.pos.Column)
				}
			}
		})
	}
	// The design's example compiles, and its defaults are filled in.
	p, err := policy.Compile(policy.Spec{Name: "no-pii-in-s3", Severity: "high",
		Condition: `asset.kind == "DATASET" && "PII" in asset.classifications && asset.urn.startsWith("urn:dataset:s3://")`})
	if err != nil {
		t.Fatal(err)
	}
	if p.Severity != policy.SeverityHigh || p.Spec.Origin != policy.OriginAPI {
		t.Errorf("compiled = %+v", p.Spec)
	}
	if p, err := policy.Compile(policy.Spec{Name: "r", Builtin: policy.BuiltinPIIRetention, Params: map[string]any{"max": "168h"}}); err != nil || p.Severity != policy.SeverityMedium || p.Description == "" {
		t.Errorf("builtin defaults: %+v, %v", p, err)
	}
}

// TestCELConditions evaluates conditions over the test estate through the
// engine: asset fields, hierarchical classifications, roll-ups, the
// helpers, and live readings.
func TestCELConditions(t *testing.T) {
	cases := []struct {
		cond  string
		kinds []catalog.Kind
		want  []catalog.URN
	}{
		// A field's own classification, its ancestor included.
		{`"PII" in asset.classifications`, nil, []catalog.URN{email, profileName}},
		{`"PII.Name" in asset.classifications`, nil, []catalog.URN{profileName}},
		// The roll-up: a topic carries what its fields carry.
		{`"PII" in classifications(asset)`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{customers, profiles}},
		// Properties, with has() for keys some assets lack.
		{`has(asset.properties.configs) && asset.properties.configs["cleanup.policy"] == "compact"`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{profiles}},
		{`int(asset.properties.configs["retention.ms"]) > 700000000`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{customers}},
		// consumers() and readers().
		{`consumers(asset).exists(c, c.kind == "CONSUMER_GROUP" && c.name == "analytics")`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{customers}},
		{`"User:ops" in readers(asset)`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{orders}},
		{`size(consumers(asset)) == 1`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{orders, profiles}},
		// Conversions of values indexed out of maps (see widenConversions).
		{`double(asset.properties.configs["retention.ms"]) > 1e9`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{customers}},
		// downstream within N hops, and upstream.
		{`downstream(asset, 1).exists(d, d.kind == "DATASET")`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{customers}},
		{`upstream(asset, 2).exists(u, u.urn == "urn:table:postgres://shop:5432/shop.public.customers")`, []catalog.Kind{catalog.KindDataset, catalog.KindTable}, []catalog.URN{dwhCust, lake}},
		// Live readings (sweep-only: they emit no events).
		{`has(asset.live.totalLag) && asset.live.totalLag > 1`, []catalog.Kind{catalog.KindConsumerGroup}, []catalog.URN{analytics}},
		// A URN string works as an argument too.
		{`asset.urn == "urn:topic:prod/orders" && size(consumers("urn:topic:prod/customers")) == 4`, []catalog.Kind{catalog.KindTopic}, []catalog.URN{orders}},
	}
	for _, c := range cases {
		t.Run(c.cond, func(t *testing.T) {
			got := sweepEstate(t, policy.Spec{Name: "cel", Condition: c.cond, Enabled: true, Scope: policy.Scope{Kinds: c.kinds}})
			wantSubjects(t, got, c.want...)
			for _, v := range got {
				if v.Evidence["condition"] != c.cond || v.Severity != policy.SeverityMedium || !strings.Contains(v.Message, "violates cel") {
					t.Errorf("violation = %+v", v)
				}
			}
		})
	}
}

// TestCELEvaluationErrorKeepsVerdict: a condition that fails for a subject
// (a missing key) gives no verdict: nothing opens, and the error is shown
// on the policy.
func TestCELEvaluationErrorKeepsVerdict(t *testing.T) {
	h := newHarness(t, policy.Spec{Name: "cel", Enabled: true, Condition: `asset.properties.configs["retention.ms"] == "1209600000"`,
		Scope: policy.Scope{Kinds: []catalog.Kind{catalog.KindTopic}}})
	h.reconcile(estate())
	h.run()
	wantSubjects(t, h.open("cel"), customers) // profiles has no retention.ms: an error, not a verdict
	info, err := h.engine.Policy(h.ctx, "cel")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info.LastError, "no such key: retention.ms") {
		t.Errorf("last error = %q", info.LastError)
	}
}
