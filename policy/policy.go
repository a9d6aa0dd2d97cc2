package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Severity ranks a policy's violations.
type Severity string

// Severities, lowest first.
const (
	SeverityLow      Severity = "LOW"
	SeverityMedium   Severity = "MEDIUM"
	SeverityHigh     Severity = "HIGH"
	SeverityCritical Severity = "CRITICAL"
)

// ParseSeverity reads a severity in any case ("high", "HIGH"); empty is
// empty (the policy's default applies).
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToUpper(strings.TrimSpace(s)))
	switch v {
	case "", SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical:
		return v, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "severity %q is not one of low, medium, high, critical", s)
}

// Origin says where a policy is defined.
type Origin string

// Origins. A config policy is changed by editing the file (and restarting);
// an API policy through GraphQL.
const (
	OriginConfig Origin = "config"
	OriginAPI    Origin = "api"
)

// Scope narrows the subjects a policy judges. The zero Scope adds no
// narrowing: a built-in judges every subject of its kinds, a CEL condition
// every asset that is not a violation, policy or crawl run.
type Scope struct {
	// Kinds keeps subjects of these kinds.
	Kinds []catalog.Kind `json:"kinds,omitempty"`
	// URNs keeps subjects whose URN matches one of these globs ('*' any run
	// of characters, '?' one): "urn:topic:prod/*".
	URNs []string `json:"urns,omitempty"`
}

// Contains reports whether e lies in s.
func (s Scope) Contains(e catalog.Entity) bool {
	if len(s.Kinds) > 0 && !containsKind(s.Kinds, e.Kind) {
		return false
	}
	if len(s.URNs) == 0 {
		return true
	}
	for _, g := range s.URNs {
		if glob(g, string(e.URN)) {
			return true
		}
	}
	return false
}

func (s Scope) validate() error {
	for _, k := range s.Kinds {
		if !k.Valid() {
			return catalog.Errorf(catalog.Invalid, "scope: unknown kind %q", k)
		}
		if ignoredKind(k) {
			return catalog.Errorf(catalog.Invalid, "scope: policies do not judge %s assets", k)
		}
	}
	if len(s.URNs) > 100 {
		return catalog.Errorf(catalog.Invalid, "scope: at most 100 URN globs")
	}
	for _, g := range s.URNs {
		if g == "" || len(g) > catalog.MaxURNLength {
			return catalog.Errorf(catalog.Invalid, "scope: URN glob %q is empty or too long", g)
		}
	}
	return nil
}

// ignoredKind reports the kinds no policy judges: the engine's own output
// and definitions, and crawl runs.
func ignoredKind(k catalog.Kind) bool {
	return k == catalog.KindViolation || k == catalog.KindPolicy || k == catalog.KindCrawlRun
}

// Spec is a policy as written, in the config file or through GraphQL; it
// is what the catalog stores. Exactly one of Builtin and Condition is set.
type Spec struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Severity    Severity `json:"severity,omitempty"`
	Scope       Scope    `json:"scope"`
	// Builtin names a built-in check (see Builtins); Params are its
	// parameters (allow, max, classification…), JSON values.
	Builtin string         `json:"builtin,omitempty"`
	Params  map[string]any `json:"params,omitempty"`
	// Condition is a CEL expression over asset, change and the helper
	// functions (see README.md); the subject violates the policy when it is
	// true.
	Condition string `json:"condition,omitempty"`
	Enabled   bool   `json:"enabled"`
	Origin    Origin `json:"origin"`
}

// Policy is a compiled Spec: what the engine evaluates.
type Policy struct {
	Name        string
	Description string
	Severity    Severity
	Scope       Scope
	Condition   Check
	// Spec is what the policy was compiled from, defaults filled in.
	Spec Spec
}

// Check is a compiled condition. The engine asks it which subjects a
// change can affect and judges each one from the catalog's current state,
// so redelivered, reordered or skipped changes are harmless: the next
// evaluation or sweep reaches the same verdict.
type Check interface {
	// Kinds lists the kinds of subject the check judges (for sweeps).
	Kinds() []catalog.Kind
	// Affected returns the subjects whose verdict change c may alter.
	Affected(ctx context.Context, env *Env, c catalog.Change) ([]catalog.URN, error)
	// Evaluate judges subject, a live entity of one of Kinds within the
	// policy's scope: a Finding when it violates the policy, else nil.
	// change is the latest change that made the engine look (nil in a
	// sweep).
	Evaluate(ctx context.Context, env *Env, subject catalog.Entity, change *catalog.Change) (*Finding, error)
}

// changeScoped is implemented by checks whose verdict depends on the
// triggering change, not only on state (a CEL condition that reads
// change): sweeps leave their violations as they are.
type changeScoped interface{ ChangeScoped() bool }

// Finding is why a subject violates a policy: the violation's message,
// what it is about, and the evidence (which consumer, which
// classification, which path), stored in the violation's properties and
// carried by its events.
type Finding struct {
	Message string
	// Classifications the violation is about (PII.Email); a webhook's
	// classification filter matches them.
	Classifications []string
	// Evidence holds JSON values. Keep it deterministic (sorted lists): an
	// unchanged finding must encode the same, or every evaluation would
	// update the violation.
	Evidence map[string]any
}

// Compile checks s and builds its condition: a built-in with its
// parameters, or a CEL expression compiled once. An invalid spec is an
// Invalid error naming the field; a CEL compile error gives its line and
// column. Compile does no I/O.
func Compile(s Spec) (*Policy, error) {
	if err := catalog.ValidatePolicyName(s.Name); err != nil {
		return nil, err
	}
	sev, err := ParseSeverity(string(s.Severity))
	if err != nil {
		return nil, err
	}
	s.Severity = sev
	if len(s.Description) > 4096 {
		return nil, catalog.Errorf(catalog.Invalid, "description is longer than 4096 bytes")
	}
	if err := s.Scope.validate(); err != nil {
		return nil, err
	}
	if s.Origin == "" {
		s.Origin = OriginAPI
	}
	if s.Origin != OriginAPI && s.Origin != OriginConfig {
		return nil, catalog.Errorf(catalog.Invalid, "origin %q is not config or api", s.Origin)
	}
	var check Check
	switch {
	case s.Builtin != "" && s.Condition != "":
		return nil, catalog.Errorf(catalog.Invalid, "set builtin or condition, not both")
	case s.Builtin != "":
		b, ok := builtins()[s.Builtin]
		if !ok {
			return nil, catalog.Errorf(catalog.Invalid, "builtin: %q is not one of %s", s.Builtin, strings.Join(BuiltinNames(), ", "))
		}
		params, err := normalizeJSON(s.Params)
		if err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "params: %w", err)
		}
		s.Params, _ = params.(map[string]any)
		if check, err = b.compile(s.Params); err != nil {
			return nil, err
		}
		if s.Severity == "" {
			s.Severity = b.severity
		}
		if s.Description == "" {
			s.Description = b.description
		}
		if len(s.Scope.Kinds) > 0 {
			for _, k := range s.Scope.Kinds {
				if !containsKind(check.Kinds(), k) {
					return nil, catalog.Errorf(catalog.Invalid, "scope: %s judges %v, not %s", s.Builtin, check.Kinds(), k)
				}
			}
		}
	case s.Condition != "":
		if len(s.Params) > 0 {
			return nil, catalog.Errorf(catalog.Invalid, "params: only a builtin takes parameters (%s)", strings.Join(sortedKeys(s.Params), ", "))
		}
		if check, err = compileCEL(s.Condition, s.Scope); err != nil {
			return nil, err
		}
	default:
		return nil, catalog.Errorf(catalog.Invalid, "set builtin (one of %s) or condition (a CEL expression)", strings.Join(BuiltinNames(), ", "))
	}
	if s.Severity == "" {
		s.Severity = SeverityMedium
	}
	return &Policy{Name: s.Name, Description: s.Description, Severity: s.Severity, Scope: s.Scope, Condition: check, Spec: s}, nil
}

// judges reports whether p judges e: of one of its check's kinds, in its
// scope.
func (p *Policy) judges(e catalog.Entity) bool {
	return e.URN != "" && !e.Deleted() && containsKind(p.Condition.Kinds(), e.Kind) && p.Scope.Contains(e)
}

func containsKind(ks []catalog.Kind, k catalog.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// normalizeJSON turns a value decoded from YAML or GraphQL into plain JSON
// values (float64 numbers, map[string]any), so that a spec encodes the
// same wherever it came from.
func normalizeJSON(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// glob matches s against p: '*' is any run of characters, '?' one.
func glob(p, s string) bool {
	px, sx := 0, 0
	nextP, nextS := -1, -1
	for px < len(p) || sx < len(s) {
		if px < len(p) {
			switch c := p[px]; c {
			case '*':
				nextP, nextS = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && s[sx] == c {
					px++
					sx++
					continue
				}
			}
		}
		if nextS > 0 && nextS <= len(s) {
			px, sx = nextP, nextS
			continue
		}
		return false
	}
	return true
}

// describe names an entity for messages: its name and kind word.
func describe(e catalog.Entity) string {
	word := strings.ToLower(strings.ReplaceAll(string(e.Kind), "_", " "))
	name := e.Name
	if name == "" {
		name = string(e.URN)
	}
	return fmt.Sprintf("%s %s", word, name)
}
