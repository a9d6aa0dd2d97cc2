package webhooks

import (
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Format is how a delivery's body is written.
type Format string

// Formats.
const (
	// FormatCloudEvents posts the change's CloudEvents 1.0 envelope
	// (structured mode, application/cloudevents+json).
	FormatCloudEvents Format = "CLOUDEVENTS"
	// FormatSlack posts a Slack Block Kit message (for an incoming-webhook
	// URL) with a link to the asset in the UI.
	FormatSlack Format = "SLACK"
)

// Filter narrows the changes an endpoint receives beyond their types. Every
// set field must match.
type Filter struct {
	// Classification keeps changes about assets that carry it (or a
	// descendant), and classification events of it.
	Classification string `json:"classification,omitempty"`
	// URN is a glob over the change's subject: '*' matches any run of
	// characters (slashes included), '?' one character.
	URN string `json:"urn,omitempty"`
	// DownstreamOf keeps changes whose subject lies within Hops hops
	// downstream of it (the asset itself included; Hops 0 means any
	// distance).
	DownstreamOf catalog.URN `json:"downstreamOf,omitempty"`
	Hops         int         `json:"hops,omitempty"`
	// OwnedBy keeps changes to anything upstream of an asset owned by this
	// owner (a team or person): downstream-owner notification.
	OwnedBy string `json:"ownedBy,omitempty"`
}

// Endpoint is one webhook subscription as the API shows it. Secrets are
// never part of it: they are returned once, when created or rotated.
type Endpoint struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	Types       []string `json:"types"`
	Filter      Filter   `json:"filter"`
	Format      Format   `json:"format"`
	Enabled     bool     `json:"enabled"`
	// DisabledReason says why Watershed disabled the endpoint (410 Gone,
	// failing too long); empty when a person disabled it or it is enabled.
	DisabledReason string    `json:"disabledReason,omitempty"`
	DisabledAt     time.Time `json:"disabledAt,omitzero"`
	// Signing keys: how many are active (two during a rotation) and when
	// the older one stops signing.
	ActiveSecrets int       `json:"activeSecrets"`
	RotatingUntil time.Time `json:"rotatingUntil,omitzero"`
	// FailingSince is the time of the first failed attempt since the last
	// success; auto-disable counts from it.
	FailingSince  time.Time `json:"failingSince,omitzero"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// endpointRecord is what the queue DB stores: the endpoint and its keys.
type endpointRecord struct {
	Endpoint
	Secrets []secretRecord `json:"secrets"`
	// Replays counts replays of dead letters when replicas share the
	// queue: the delivering replica reloads a changed record and schedules
	// its pending deliveries.
	Replays uint64 `json:"replays,omitempty"`
}

type secretRecord struct {
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt ends a rotated-out key's overlap; zero: active.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// keys returns the signing keys active at now, newest first.
func (r *endpointRecord) keys(now time.Time) [][]byte {
	var out [][]byte
	for i := len(r.Secrets) - 1; i >= 0; i-- {
		s := r.Secrets[i]
		if !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
			continue
		}
		if k, err := SecretKey(s.Secret); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// view returns the public endpoint with its key counts at now.
func (r *endpointRecord) view(now time.Time) Endpoint {
	e := r.Endpoint
	e.Types = append([]string(nil), r.Types...)
	e.ActiveSecrets, e.RotatingUntil = 0, time.Time{}
	for _, s := range r.Secrets {
		if s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) {
			e.ActiveSecrets++
			if !s.ExpiresAt.IsZero() && s.ExpiresAt.After(e.RotatingUntil) {
				e.RotatingUntil = s.ExpiresAt
			}
		}
	}
	return e
}

// EndpointInput creates or updates an endpoint. On update, nil fields are
// left as they are.
type EndpointInput struct {
	Name        *string
	URL         *string
	Description *string
	Types       []string
	Filter      *Filter
	Format      *Format
	Enabled     *bool
}

// Limits on endpoint definitions.
const (
	maxTypes       = 50
	maxNameBytes   = 200
	maxDescBytes   = 4096
	maxGlobBytes   = 512
	maxFilterHops  = 100
	maxOwnerBytes  = 256
	maxEndpointsDB = 1000
)

// validTypes checks event type globs.
func validTypes(types []string) error {
	if len(types) == 0 {
		return catalog.Errorf(catalog.Invalid, "a webhook needs at least one event type (\"*\" for all)")
	}
	if len(types) > maxTypes {
		return catalog.Errorf(catalog.Invalid, "a webhook may list at most %d event types", maxTypes)
	}
	for _, t := range types {
		if t == "" || len(t) > maxGlobBytes {
			return catalog.Errorf(catalog.Invalid, "event type %q: empty or too long", t)
		}
		if _, err := path.Match(t, "x"); err != nil {
			return catalog.Errorf(catalog.Invalid, "event type pattern %q: %v", t, err)
		}
		for _, r := range t {
			if !(r >= 'a' && r <= 'z') && !(r >= '0' && r <= '9') && !strings.ContainsRune("._-*?", r) {
				return catalog.Errorf(catalog.Invalid, "event type pattern %q may contain only lower-case letters, digits, '.', '_', '-', '*' and '?'", t)
			}
		}
	}
	return nil
}

// typeMatches reports whether change type t matches one of the globs: '*'
// matches any run of characters, so "policy.*" matches every policy event
// and "*" every event.
func typeMatches(globs []string, t catalog.ChangeType) bool {
	for _, g := range globs {
		if glob(g, string(t)) {
			return true
		}
	}
	return false
}

// glob matches s against p, where '*' matches any run of characters and
// '?' any one character (no escapes).
func glob(p, s string) bool {
	// Iterative matching with backtracking to the last star: linear in
	// practice, never exponential.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// redactURL keeps a URL's scheme and host: incoming-webhook URLs (Slack's
// among them) carry their secret in the path or query, so logs, events and
// metrics never show more.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}
