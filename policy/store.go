package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Where the engine's state lives in the catalog. Policies and violations
// are entities of the reserved policy source, each asserted under its own
// scope, so a snapshot that speaks for some scopes leaves all others alone:
//
//	definition/<policy>              the POLICY entity urn:policy:<policy>
//	violation/<policy>/<subject urn> the VIOLATION urn:violation:<policy>/<subject urn>
//
// Scopes match exactly, so a per-subject evaluation reconciles one scope and
// a sweep reconciles the scopes of every subject it judged (plus those of
// the policy's open violations whose subject it did not find): both resolve
// exactly what no longer holds and nothing else. Keeping this state in the
// catalog, not beside it, means the distributed mode (the catalog on Neo4j,
// several replicas) shares it with no second store.

func defScope(name string) string { return "definition/" + name }

func violationScope(policy string, subject catalog.URN) string {
	return "violation/" + policy + "/" + string(subject)
}

// Violation property keys.
const (
	propPolicy          = "policy"
	propSeverity        = "severity"
	propSubject         = "subject"
	propSubjectKind     = "subjectKind"
	propSubjectName     = "subjectName"
	propMessage         = "message"
	propEvidence        = "evidence"
	propClassifications = "classifications"
	propOpenedAt        = "openedAt"
	propAckBy           = "acknowledgedBy"
	propAckAt           = "acknowledgedAt"
	propAckNote         = "acknowledgeNote"
	propMutedBy         = "mutedBy"
	propMutedAt         = "mutedAt"
	propMutedUntil      = "mutedUntil"
	propMuteReason      = "muteReason"
)

// Status is where a violation stands.
type Status string

// Statuses. A violation is OPEN until the condition clears (RESOLVED). A
// steward may acknowledge one (ACKNOWLEDGED: seen and owned; still open,
// still notified) or mute it (MUTED: frozen as it is and not notified until
// unmuted or the mute expires).
const (
	StatusOpen         Status = "OPEN"
	StatusAcknowledged Status = "ACKNOWLEDGED"
	StatusMuted        Status = "MUTED"
	StatusResolved     Status = "RESOLVED"
)

// Violation is one (policy, subject) pair that violates, or violated, the
// policy.
type Violation struct {
	URN             catalog.URN
	Policy          string
	Subject         catalog.URN
	SubjectKind     catalog.Kind
	SubjectName     string
	Severity        Severity
	Status          Status
	Message         string
	Evidence        map[string]any
	Classifications []string
	// OpenedAt is when this opening began (a violation that resolves and
	// opens again starts anew); FirstOpenedAt when the pair first violated.
	OpenedAt      time.Time
	FirstOpenedAt time.Time
	UpdatedAt     time.Time
	ResolvedAt    time.Time

	AcknowledgedBy  string
	AcknowledgedAt  time.Time
	AcknowledgeNote string

	MutedBy    string
	MutedAt    time.Time
	MutedUntil time.Time // zero: until unmuted
	MuteReason string
}

// ViolationFromEntity reads a VIOLATION entity. A resolved violation is a
// tombstone: it keeps its URN (policy and subject) and times; its last
// evidence is in its policy.violation.resolved event.
func ViolationFromEntity(e catalog.Entity) (Violation, bool) {
	policy, subject, ok := e.URN.Violation()
	if !ok {
		return Violation{}, false
	}
	p := e.Properties
	v := Violation{
		URN: e.URN, Policy: policy, Subject: subject, SubjectKind: subject.Kind(),
		SubjectName: str(p, propSubjectName), Severity: Severity(str(p, propSeverity)), Message: str(p, propMessage),
		FirstOpenedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		AcknowledgedBy: str(p, propAckBy), AcknowledgedAt: timeProp(p, propAckAt), AcknowledgeNote: str(p, propAckNote),
		MutedBy: str(p, propMutedBy), MutedAt: timeProp(p, propMutedAt), MutedUntil: timeProp(p, propMutedUntil), MuteReason: str(p, propMuteReason),
		OpenedAt: timeProp(p, propOpenedAt),
	}
	v.Evidence, _ = p[propEvidence].(map[string]any)
	for _, c := range listProp(p, propClassifications) {
		v.Classifications = append(v.Classifications, c)
	}
	switch {
	case e.Deleted():
		v.Status, v.ResolvedAt = StatusResolved, e.DeletedAt
	case v.MutedBy != "":
		v.Status = StatusMuted
	case v.AcknowledgedBy != "":
		v.Status = StatusAcknowledged
	default:
		v.Status = StatusOpen
	}
	if v.OpenedAt.IsZero() {
		v.OpenedAt = e.CreatedAt
	}
	return v, true
}

// mutedAt reports whether v is muted at now.
func (v Violation) mutedAt(now time.Time) bool {
	return v.Status == StatusMuted && (v.MutedUntil.IsZero() || now.Before(v.MutedUntil))
}

// violationAsset writes a violation as the policy source asserts it. prev
// is the violation as stored (zero when it is not open): its opening time,
// acknowledgement and an unexpired mute carry over.
func violationAsset(p *Policy, subject catalog.Entity, f *Finding, prev *Violation, now time.Time) catalog.Asset {
	props := catalog.Properties{
		propPolicy: p.Name, propSeverity: string(p.Severity), propSubject: string(subject.URN),
		propSubjectKind: string(subject.Kind), propSubjectName: subject.Name, propMessage: f.Message,
		propEvidence: f.Evidence, propClassifications: stringsAny(f.Classifications),
		propOpenedAt: now.UTC().Format(time.RFC3339Nano),
	}
	if prev != nil && prev.Status != StatusResolved {
		if !prev.OpenedAt.IsZero() {
			props[propOpenedAt] = prev.OpenedAt.UTC().Format(time.RFC3339Nano)
		}
		if prev.AcknowledgedBy != "" {
			props[propAckBy], props[propAckAt] = prev.AcknowledgedBy, prev.AcknowledgedAt.UTC().Format(time.RFC3339Nano)
			if prev.AcknowledgeNote != "" {
				props[propAckNote] = prev.AcknowledgeNote
			}
		}
		if prev.mutedAt(now) {
			setMute(props, prev.MutedBy, prev.MutedAt, prev.MutedUntil, prev.MuteReason)
		}
	}
	return assetOf(props)
}

func setMute(props catalog.Properties, by string, at, until time.Time, reason string) {
	props[propMutedBy], props[propMutedAt] = by, at.UTC().Format(time.RFC3339Nano)
	if !until.IsZero() {
		props[propMutedUntil] = until.UTC().Format(time.RFC3339Nano)
	}
	if reason != "" {
		props[propMuteReason] = reason
	}
}

// assetOf builds the violation asset from its properties alone, so that a
// violation re-asserted unchanged (a muted one, frozen) encodes exactly as
// before and writes nothing.
func assetOf(props catalog.Properties) catalog.Asset {
	policy, subject := str(props, propPolicy), catalog.URN(str(props, propSubject))
	name := str(props, propSubjectName)
	if name == "" {
		name = string(subject)
	}
	var classes []catalog.SourceClassification
	for _, c := range listProp(props, propClassifications) {
		if catalog.ValidClassificationName(c) == nil {
			classes = append(classes, catalog.SourceClassification{Name: c, Source: catalog.AttachCrawler})
		}
	}
	return catalog.Asset{
		URN: catalog.ViolationURN(policy, subject), Name: policy + ": " + name, Description: str(props, propMessage),
		Properties: props, Classifications: classes, Scope: violationScope(policy, subject),
	}
}

// storedProps returns the stored properties of a violation as the policy
// source asserts them (a copy).
func storedProps(e catalog.Entity) catalog.Properties {
	out := make(catalog.Properties, len(e.Properties))
	for k, v := range e.Properties {
		out[k] = v
	}
	return out
}

// specAsset writes a policy definition as the POLICY entity.
func specAsset(s Spec) (catalog.Asset, error) {
	props := catalog.Properties{"severity": string(s.Severity), "enabled": s.Enabled, "origin": string(s.Origin)}
	if s.Builtin != "" {
		props["builtin"] = s.Builtin
		if len(s.Params) > 0 {
			props["params"] = s.Params
		}
	}
	if s.Condition != "" {
		props["condition"] = s.Condition
	}
	scope := map[string]any{}
	if len(s.Scope.Kinds) > 0 {
		var ks []any
		for _, k := range s.Scope.Kinds {
			ks = append(ks, string(k))
		}
		scope["kinds"] = ks
	}
	if len(s.Scope.URNs) > 0 {
		scope["urns"] = stringsAny(s.Scope.URNs)
	}
	if len(scope) > 0 {
		props["scope"] = scope
	}
	return catalog.Asset{URN: catalog.PolicyURN(s.Name), Name: s.Name, Description: s.Description, Properties: props, Scope: defScope(s.Name)}, nil
}

// specFromEntity reads a POLICY entity back.
func specFromEntity(e catalog.Entity) (Spec, error) {
	name, ok := e.URN.Policy()
	if !ok {
		return Spec{}, catalog.Errorf(catalog.Invalid, "%s is not a policy", e.URN)
	}
	p := e.Properties
	s := Spec{Name: name, Description: e.Description, Severity: Severity(str(p, "severity")), Builtin: str(p, "builtin"),
		Condition: str(p, "condition"), Origin: Origin(str(p, "origin"))}
	s.Enabled, _ = p["enabled"].(bool)
	if params, ok := p["params"].(map[string]any); ok {
		n, err := normalizeJSON(params)
		if err != nil {
			return Spec{}, fmt.Errorf("decode the params of %s: %w", name, err)
		}
		s.Params, _ = n.(map[string]any)
	}
	if sc, ok := p["scope"].(map[string]any); ok {
		for _, k := range listProp(sc, "kinds") {
			s.Scope.Kinds = append(s.Scope.Kinds, catalog.Kind(k))
		}
		s.Scope.URNs = listProp(sc, "urns")
	}
	return s, nil
}

// sameSpec reports whether two specs say the same.
func sameSpec(a, b Spec) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func listProp(m map[string]any, k string) []string {
	l, _ := m[k].([]any)
	var out []string
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func timeProp(m map[string]any, k string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, str(m, k))
	return t
}

// sortViolations orders violations by URN.
func sortViolations(vs []Violation) {
	sort.Slice(vs, func(i, j int) bool { return vs[i].URN < vs[j].URN })
}

// violationPrefix is the URN prefix of policy's violations.
func violationPrefix(policy string) string {
	return string(catalog.ViolationURN(policy, "")) // "urn:violation:<policy>/"
}

func hasViolationPrefix(u catalog.URN, policy string) bool {
	return strings.HasPrefix(string(u), violationPrefix(policy))
}
