package lineage_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage"
	"github.com/watershed-data/watershed/lineage/lineagetest"
)

func TestRuleMatches(t *testing.T) {
	field := func(name string, props catalog.Properties) catalog.Entity {
		return catalog.Entity{URN: catalog.URN("urn:field:p/t/value/" + name), Kind: catalog.KindField, Name: name, Properties: props}
	}
	email := regexp.MustCompile("(?i)e?mail")
	cases := []struct {
		name string
		rule lineage.Rule
		e    catalog.Entity
		want bool
	}{
		{"name matches", lineage.Rule{Match: email}, field("customerEmail", nil), true},
		{"name does not match", lineage.Rule{Match: email}, field("phone", nil), false},
		{"column by default", lineage.Rule{Match: email}, catalog.Entity{URN: "urn:column:pg/t/email", Kind: catalog.KindColumn, Name: "email"}, true},
		{"topic not by default", lineage.Rule{Match: email}, catalog.Entity{URN: "urn:topic:p/emails", Kind: catalog.KindTopic, Name: "emails"}, false},
		{"topic when asked", lineage.Rule{Match: email, Kinds: []catalog.Kind{catalog.KindTopic}}, catalog.Entity{URN: "urn:topic:p/emails", Kind: catalog.KindTopic, Name: "emails"}, true},
		{"property true", lineage.Rule{Property: "pii"}, field("x", catalog.Properties{"props": map[string]any{"pii": true}}), true},
		{"property string true", lineage.Rule{Property: "pii"}, field("x", catalog.Properties{"props": map[string]any{"pii": "TRUE"}}), true},
		{"property false", lineage.Rule{Property: "pii"}, field("x", catalog.Properties{"props": map[string]any{"pii": false}}), false},
		{"property absent", lineage.Rule{Property: "pii"}, field("x", catalog.Properties{"props": map[string]any{"doc": "y"}}), false},
		{"property value", lineage.Rule{Property: "sensitivity", Value: "high", HasValue: true}, field("x", catalog.Properties{"props": map[string]any{"sensitivity": "high"}}), true},
		{"property other value", lineage.Rule{Property: "sensitivity", Value: "high", HasValue: true}, field("x", catalog.Properties{"props": map[string]any{"sensitivity": "low"}}), false},
		{"tag", lineage.Rule{Tag: "PII.Name"}, field("x", catalog.Properties{"schemaTags": []any{"PII.Name", "Other"}}), true},
		{"no tag", lineage.Rule{Tag: "PII.Name"}, field("x", catalog.Properties{"schemaTags": []any{"Other"}}), false},
		{"all conditions", lineage.Rule{Match: email, Tag: "T"}, field("email", catalog.Properties{"schemaTags": []any{"U"}}), false},
		{"no condition", lineage.Rule{}, field("email", nil), false},
		{"tombstone", lineage.Rule{Match: email}, catalog.Entity{URN: "urn:field:p/t/value/email", Kind: catalog.KindField, Name: "email", DeletedAt: time.Now()}, false},
	}
	for _, c := range cases {
		if got := c.rule.Matches(c.e); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestClassifierRules runs the Classifier and the Propagator on a store a
// fake crawler reconciles into: rules attach on crawl and on new fields,
// detach when a field stops matching, and a steward's declassify sticks
// across crawls. Rule attachments propagate like any other.
func TestClassifierRules(t *testing.T) {
	e := lineagetest.Start(t)
	ctx := context.Background()
	topic := catalog.URN("urn:topic:prod/customers")
	fEmail := catalog.URN("urn:field:prod/customers/value/email")
	fPhone := catalog.URN("urn:field:prod/customers/value/phone")
	fNew := catalog.URN("urn:field:prod/customers/value/backup_email")
	sink := catalog.URN("urn:column:pg/dwh.customers/email")
	snap := func(phonePII bool, extra bool) catalog.Snapshot {
		s := catalog.Snapshot{Source: "prod"}
		s.Assets = []catalog.Asset{
			{URN: topic},
			{URN: fEmail, Name: "email"},
			{URN: fPhone, Name: "phone", Properties: catalog.Properties{"props": map[string]any{"pii": phonePII}}},
			{URN: sink, Name: "email"},
		}
		s.Links = []catalog.Link{
			{From: topic, Kind: catalog.EdgeContains, To: fEmail, Confidence: 1},
			{From: topic, Kind: catalog.EdgeContains, To: fPhone, Confidence: 1},
			{From: fEmail, Kind: catalog.EdgeDerives, To: sink, Confidence: 1},
		}
		if extra {
			s.Assets = append(s.Assets, catalog.Asset{URN: fNew, Name: "backup_email"})
			s.Links = append(s.Links, catalog.Link{From: topic, Kind: catalog.EdgeContains, To: fNew, Confidence: 1})
		}
		return s
	}
	if _, err := e.Store.Reconcile(ctx, snap(true, false), nil); err != nil {
		t.Fatal(err)
	}
	c := lineage.NewClassifier(lineage.ClassifierOptions{
		Rules: []lineage.Rule{
			{Match: regexp.MustCompile("(?i)e?mail"), Kinds: []catalog.Kind{catalog.KindField}, Classification: "PII.Email"},
			{Property: "pii", Classification: "PII.Phone"},
		},
		Graph: e.Store, Writer: e.Store, Subscriber: e.Changes,
	})
	run := func(c *lineage.Classifier) (stop func()) {
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(cctx) }()
		return func() {
			cancel()
			<-done
		}
	}
	stop := run(c)
	defer func() { stop() }()
	settle := func() {
		t.Helper()
		head, err := e.Store.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		defer wcancel()
		if err := e.Changes.WaitHandled(wctx, c.SubscriptionName(), head); err != nil {
			t.Fatal(err)
		}
		e.Settle(t)
	}
	ruleOn := func(u catalog.URN, class string) bool {
		t.Helper()
		ent, err := e.Store.Entity(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range ent.Classifications {
			if a.Classification == class && a.Source == catalog.AttachRule {
				return true
			}
		}
		return false
	}
	settle()
	if !ruleOn(fEmail, "PII.Email") || !ruleOn(fPhone, "PII.Phone") || ruleOn(sink, "PII.Email") || ruleOn(fPhone, "PII.Email") {
		t.Fatalf("bootstrap: email %v, phone %v, column %v", ruleOn(fEmail, "PII.Email"), ruleOn(fPhone, "PII.Phone"), ruleOn(sink, "PII.Email"))
	}
	// Rule attachments propagate: the column (a COLUMN, which the e-mail
	// rule does not cover) carries PII.Email from the field.
	if st, err := lineage.Stored(ctx, e.Store); err != nil {
		t.Fatal(err)
	} else if _, ok := st[lineage.Key{URN: sink, Origin: fEmail, Classification: "PII.Email"}]; !ok {
		t.Errorf("the rule's attachment did not propagate: %v", st)
	}
	// A new field on the next crawl; the phone stops being pii.
	if _, err := e.Store.Reconcile(ctx, snap(false, true), nil); err != nil {
		t.Fatal(err)
	}
	settle()
	if !ruleOn(fNew, "PII.Email") || ruleOn(fPhone, "PII.Phone") {
		t.Errorf("after a crawl: new field %v, phone %v", ruleOn(fNew, "PII.Email"), ruleOn(fPhone, "PII.Phone"))
	}
	// A steward declassifies the e-mail field: it sticks across crawls.
	if _, err := e.Store.Apply(ctx, catalog.Batch{Actor: "user:steward", Mutations: []catalog.Mutation{
		catalog.Declassify{URN: fEmail, Classification: "PII.Email", Source: catalog.AttachRule, Suppress: true},
	}}); err != nil {
		t.Fatal(err)
	}
	s := snap(true, true)
	s.Assets[1].Description = "changed, so the field is updated"
	if _, err := e.Store.Reconcile(ctx, s, nil); err != nil {
		t.Fatal(err)
	}
	settle()
	if ruleOn(fEmail, "PII.Email") {
		t.Error("a declassified rule attachment came back on the next crawl")
	}
	if !ruleOn(fPhone, "PII.Phone") {
		t.Error("the phone rule did not attach again")
	}
	e.CheckFromScratch(t, "after the rules")
	// A restart with other rules re-evaluates everything under a new name.
	c2 := lineage.NewClassifier(lineage.ClassifierOptions{Rules: []lineage.Rule{{Property: "pii", Classification: "PII.Phone"}}, Graph: e.Store, Writer: e.Store, Subscriber: e.Changes})
	if c2.SubscriptionName() == c.SubscriptionName() {
		t.Fatal("a different rule set has the same subscription name")
	}
	stop()
	c = c2
	stop = run(c)
	settle()
	if ruleOn(fNew, "PII.Email") || !ruleOn(fPhone, "PII.Phone") {
		t.Errorf("after the rules changed: backup_email %v, phone %v", ruleOn(fNew, "PII.Email"), ruleOn(fPhone, "PII.Phone"))
	}
	// An undefined classification is refused before anything runs.
	bad := lineage.NewClassifier(lineage.ClassifierOptions{Rules: []lineage.Rule{{Tag: "x", Classification: "Nope"}}, Graph: e.Store, Writer: e.Store, Subscriber: e.Changes})
	if err := bad.Check(ctx); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("check of an undefined classification: %v", err)
	}
}
