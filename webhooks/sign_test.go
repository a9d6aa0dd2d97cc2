package webhooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestSignVerifiesWithTheStandardWebhooksLibrary(t *testing.T) {
	oldSecret, _ := NewSecret()
	newSecret, _ := NewSecret()
	if !strings.HasPrefix(oldSecret, "whsec_") || oldSecret == newSecret {
		t.Fatalf("secrets %q %q", oldSecret, newSecret)
	}
	oldKey, err := SecretKey(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	newKey, _ := SecretKey(newSecret)
	body := []byte(`{"type":"policy.violation.opened"}`)
	ts := time.Now()
	h := http.Header{}
	h.Set("webhook-id", "msg_1_42")
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", Sign([][]byte{newKey, oldKey}, "msg_1_42", ts, body))
	for _, s := range []string{oldSecret, newSecret} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(body, h); err != nil {
			t.Errorf("verify with %s…: %v", s[:10], err)
		}
	}
	other, _ := NewSecret()
	wh, _ := standardwebhooks.NewWebhook(other)
	if err := wh.Verify(body, h); err == nil {
		t.Error("a third secret verified the signature")
	}
	if err := wh.Verify([]byte(`{"tampered":true}`), h); err == nil {
		t.Error("a tampered body verified")
	}
	for _, bad := range []string{"nope", "whsec_!!!", "whsec_" + strings.Repeat("A", 8)} {
		if _, err := SecretKey(bad); err == nil {
			t.Errorf("SecretKey(%q) accepted", bad)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "5": 5 * time.Second, "-3": 0, "abc": 0, "999999999": maxRetryAfter,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		ok   bool
	}{
		{"*", "asset.created", true},
		{"policy.*", "policy.violation.opened", true},
		{"policy.violation.*", "policy.violation.resolved", true},
		{"policy.violation.*", "policy.other", false},
		{"urn:topic:prod/*", "urn:topic:prod/orders", true},
		{"urn:*:prod/orders*", "urn:field:prod/orders/value/email", true},
		{"urn:topic:prod/?rders", "urn:topic:prod/orders", true},
		{"a*b*c*d*e*f", strings.Repeat("a", 5000), false},
	} {
		if got := glob(c.p, c.s); got != c.ok {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}
