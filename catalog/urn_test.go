package catalog_test

import (
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

func TestURN(t *testing.T) {
	cases := []struct {
		urn      catalog.URN
		kind     catalog.Kind
		identity string
		display  string
		valid    bool
	}{
		{"urn:topic:prod/orders", catalog.KindTopic, "prod/orders", "orders", true},
		{"urn:field:prod/orders/value/customer.email", catalog.KindField, "prod/orders/value/customer.email", "customer.email", true},
		{"urn:table:postgres://db:5432/shop.public.customers", catalog.KindTable, "postgres://db:5432/shop.public.customers", "shop.public.customers", true},
		{"urn:kafka:prod", catalog.KindKafkaCluster, "prod", "prod", true},
		{"urn:topic:", "", "", "urn:topic:", false},
		{"topic:prod/orders", "", "", "topic:prod/orders", false},
		{"urn:spaceship:x", "", "x", "x", false},
		{"urn:topic:prod/my topic", catalog.KindTopic, "prod/my topic", "my topic", false},
		{"urn:topic:prod/\x00", catalog.KindTopic, "prod/\x00", "\x00", false},
		{"urn:topic:prod/ord\u200bers", catalog.KindTopic, "prod/ord\u200bers", "ord\u200bers", false}, // zero-width space
		{"urn:topic:prod/\u202eorders", catalog.KindTopic, "prod/\u202eorders", "\u202eorders", false}, // right-to-left override
		{"urn:topic:prod/\ufefforders", catalog.KindTopic, "prod/\ufefforders", "\ufefforders", false}, // byte-order mark
		{"urn:topic:prod/a\nb", catalog.KindTopic, "prod/a\nb", "a\nb", false},
		{"urn:topic:prod/\u3164", catalog.KindTopic, "prod/\u3164", "\u3164", false}, // Hangul filler
		{"urn:topic:prod/commandes-é", catalog.KindTopic, "prod/commandes-é", "commandes-é", true},
		{catalog.URN("urn:topic:" + strings.Repeat("a", catalog.MaxURNLength)), catalog.KindTopic, strings.Repeat("a", catalog.MaxURNLength), strings.Repeat("a", catalog.MaxURNLength), false},
	}
	for _, c := range cases {
		if got := c.urn.Kind(); got != c.kind {
			t.Errorf("%q.Kind() = %q, want %q", c.urn, got, c.kind)
		}
		if got := c.urn.Identity(); got != c.identity {
			t.Errorf("%q.Identity() = %q, want %q", c.urn, got, c.identity)
		}
		if got := c.urn.DisplayName(); got != c.display {
			t.Errorf("%q.DisplayName() = %q, want %q", c.urn, got, c.display)
		}
		err := c.urn.Validate()
		if (err == nil) != c.valid {
			t.Errorf("%q.Validate() = %v, want valid=%v", c.urn, err, c.valid)
		}
		if err != nil && catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("%q.Validate() error kind = %v", c.urn, catalog.KindOf(err))
		}
	}
	for _, k := range catalog.Kinds() {
		u := catalog.MakeURN(k, "x/y")
		if u.Kind() != k || u.Validate() != nil {
			t.Errorf("MakeURN(%s) = %q does not round-trip", k, u)
		}
	}
}

func TestEdgeKinds(t *testing.T) {
	flow := map[catalog.EdgeKind]bool{}
	for _, k := range catalog.FlowEdgeKinds() {
		flow[k] = true
	}
	for _, k := range []catalog.EdgeKind{catalog.EdgeProduces, catalog.EdgeConsumes, catalog.EdgeCaptures, catalog.EdgeSinks, catalog.EdgeDerives} {
		if !flow[k] || !k.Flow() {
			t.Errorf("%s should be a flow edge", k)
		}
	}
	for _, k := range []catalog.EdgeKind{catalog.EdgeContains, catalog.EdgeHasSchema, catalog.EdgeCanRead, catalog.EdgeCanWrite} {
		if flow[k] || k.Flow() {
			t.Errorf("%s should not be a flow edge", k)
		}
	}
	if err := (catalog.EdgeKey{From: "urn:topic:a/b", Kind: catalog.EdgeConsumes, To: "urn:topic:a/b"}).Validate(); err == nil {
		t.Error("self edge accepted")
	}
}

func TestClassificationNames(t *testing.T) {
	for name, ok := range map[string]bool{"PII": true, "PII.Email": true, "Financial.Card_Number-2": true, "": false, "PII.": false, ".PII": false, "PII Email": false, "PII..Email": false} {
		if err := catalog.ValidClassificationName(name); (err == nil) != ok {
			t.Errorf("ValidClassificationName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
	if !catalog.ClassificationWithin("PII.Email", "PII") || catalog.ClassificationWithin("PIIX", "PII") || !catalog.ClassificationWithin("PII", "PII") {
		t.Error("ClassificationWithin hierarchy wrong")
	}
}

func TestErrorKinds(t *testing.T) {
	base := catalog.Errorf(catalog.NotFound, "no asset %s", "x")
	wrapped := catalog.Errorf(catalog.Invalid, "mutation 1: %w", base)
	if catalog.KindOf(wrapped) != catalog.Invalid || !strings.Contains(wrapped.Error(), "no asset x") {
		t.Errorf("wrapped = %v (%v)", wrapped, catalog.KindOf(wrapped))
	}
	if catalog.KindOf(base) != catalog.NotFound || catalog.NotFound.Code() != "NOT_FOUND" {
		t.Error("kinds/codes wrong")
	}
}

func TestEscapeIdentity(t *testing.T) {
	for in, want := range map[string]string{
		"orders":                  "orders",
		"User:CN=alice, OU=eng":   "User:CN=alice,%20OU=eng",
		"100%":                    "100%25",
		"tab\there":               "tab%09here",
		"kunden-größe/ü":          "kunden-größe/ü",
		string([]byte{'a', 0xff}): "a%FF",
	} {
		got := catalog.EscapeIdentity(in)
		if got != want {
			t.Errorf("EscapeIdentity(%q) = %q, want %q", in, got, want)
		}
		if err := catalog.MakeURN(catalog.KindConsumerGroup, "c/"+got).Validate(); err != nil {
			t.Errorf("escaped %q does not make a valid URN: %v", in, err)
		}
	}
}

func TestValidateOwner(t *testing.T) {
	for _, o := range []string{"alice", "team:data", "Data Platform", "équipe-données", "alice@example.com"} {
		if err := catalog.ValidateOwner(o); err != nil {
			t.Errorf("ValidateOwner(%q) = %v, want nil", o, err)
		}
	}
	for _, o := range []string{"al\nice", "alice\r", "a\tb", "ali\u200bce", "\u202ealice", "a\u2028b", "a\u00a0b", "\xff"} {
		err := catalog.ValidateOwner(o)
		if err == nil || catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("ValidateOwner(%q) = %v, want an Invalid error", o, err)
		}
	}
}
