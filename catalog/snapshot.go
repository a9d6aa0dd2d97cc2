package catalog

import (
	"fmt"
	"math"
	"time"
)

// ManualSource is the source name of everything registered through the API.
// No crawler source may use it.
const ManualSource = "manual"

// PolicySource is the reserved source that owns violations: the policy
// engine reconciles them as snapshots scoped per policy and subject, so the
// store's diffing deduplicates them and resolves those that disappear. No
// crawler source may use it.
const PolicySource = "policy"

// Actors of the stages that write back into the catalog. A handler ignores
// the entries whose Actor is its own, so it never loops on its own writes.
const (
	ActorPropagation = "system:propagation"
	ActorPolicy      = "system:policy"
	ActorWebhooks    = "system:webhooks"
	ActorRules       = "system:rules"
)

// Snapshot is everything one source asserts, as a crawler saw it. The store
// diffs it against what the source asserted before: assets and links that are
// absent are removed from that source (and tombstoned once no source asserts
// them), unless their scope is listed in Incomplete.
type Snapshot struct {
	// Source is the configured name of the source, e.g. "prod".
	Source string
	// At is when the crawl observed the source; zero means the store's clock.
	At     time.Time
	Assets []Asset
	Links  []Link
	// Incomplete lists the scopes the crawler could not see this time, with
	// the reason. Assets and links asserted earlier under such a scope are
	// kept as they were instead of being deleted.
	Incomplete map[string]string
	// Scopes, when non-empty, says the snapshot covers only these scopes:
	// assets and links the source asserted under any other scope are kept.
	// Push sources use it (one OpenLineage job, one Streams application).
	Scopes []string
	// Actor is who the changes are attributed to; empty means
	// "crawler:<Source>".
	Actor string
	// Cause is the ID of the change that caused this snapshot, when a
	// changelog handler reconciles one (the policy engine).
	Cause string
	// Fence, when set, makes the store commit the snapshot only while the
	// lease it names is held under its token (a crawl's "crawl/<source>"),
	// and refuse it whole otherwise with a Conflict wrapping ErrFenced.
	Fence Fence
}

// Asset is one entity as a source asserts it.
type Asset struct {
	URN         URN
	Name        string
	Description string
	Properties  Properties
	// Live holds readings that change every crawl (lag, state). They are
	// stored but produce no change events.
	Live Properties
	// Classifications the source itself attaches (schema tags, "pii": true).
	Classifications []SourceClassification
	// Scope groups the asset with the part of the source it came from
	// ("group/fraud-detector", "connector/inventory-cdc"). Empty means the
	// whole source.
	Scope string
}

// SourceClassification is a classification a source attaches to an asset.
type SourceClassification struct {
	Name string
	// Source is AttachSchemaTag or AttachCrawler; empty means AttachCrawler.
	Source AttachmentSource
}

// Link is one edge as a source asserts it.
type Link struct {
	From URN
	Kind EdgeKind
	To   URN
	// Origin says how the source knows (connect-config, consumer-offsets, acl…).
	Origin     string
	Confidence float64
	Transform  string
	Masking    bool
	Scope      string
	// Via names the connector or job the data flows through on a pair edge
	// (topic → table through a sink connector). Such a node is pass-through
	// for traversal: a walk crosses it along its pair edges only, so a
	// multi-topic connector never links one topic to another topic's table.
	Via URN
}

// Key returns the identity of the edge l asserts.
func (l Link) Key() EdgeKey { return EdgeKey{From: l.From, Kind: l.Kind, To: l.To} }

// ReconcileResult counts what a Reconcile changed.
type ReconcileResult struct {
	Created int `json:"created"` // entities
	Updated int `json:"updated"`
	Deleted int `json:"deleted"`

	EdgesAdded   int `json:"edgesAdded"`
	EdgesRemoved int `json:"edgesRemoved"`
	EdgesUpdated int `json:"edgesUpdated"`
	// Kept counts assets and links absent from the snapshot but kept because
	// their scope was incomplete or outside the snapshot's Scopes.
	Kept int `json:"kept"`
	// LiveUpdated counts entities whose live readings changed (no events).
	LiveUpdated int `json:"liveUpdated"`
	// Changes counts the catalog change events written (a crawl run's own
	// crawl.completed event not included).
	Changes int `json:"changes"`
	// Seq is the sequence number of the last of those changes (0 if none).
	Seq uint64 `json:"seq"`
}

// ValidateSource reports why name cannot name a crawler source.
func ValidateSource(name string) error {
	if name == "" {
		return Errorf(Invalid, "source name is empty")
	}
	if name == ManualSource {
		return Errorf(Invalid, "source name %q is reserved for the API", name)
	}
	if name == PolicySource {
		return Errorf(Invalid, "source name %q is reserved for the policy engine", name)
	}
	for _, r := range name {
		ok := r == '_' || r == '-' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return Errorf(Invalid, "source name %q may contain only letters, digits, '_', '-' and '.'", name)
		}
	}
	return nil
}

// ValidateSnapshotSource is ValidateSource, except that it admits the
// reserved PolicySource (stores accept the policy engine's snapshots).
func ValidateSnapshotSource(name string) error {
	if name == PolicySource {
		return nil
	}
	return ValidateSource(name)
}

// Validate reports the first reason s cannot be reconciled, including
// property values JSON cannot encode.
func (s *Snapshot) Validate() error {
	if err := s.ValidateStructure(); err != nil {
		return err
	}
	for _, a := range s.Assets {
		if _, err := CanonicalProperties(a.Properties); err != nil {
			return fmt.Errorf("asset %s properties: %w", a.URN, err)
		}
		if _, err := CanonicalProperties(a.Live); err != nil {
			return fmt.Errorf("asset %s live properties: %w", a.URN, err)
		}
	}
	return nil
}

// ValidateStructure is Validate without encoding the property values, for
// callers that encode them anyway (stores).
func (s *Snapshot) ValidateStructure() error {
	if err := ValidateSnapshotSource(s.Source); err != nil {
		return err
	}
	for i, a := range s.Assets {
		if err := a.URN.Validate(); err != nil {
			return fmt.Errorf("asset %d: %w", i, err)
		}
		for _, c := range a.Classifications {
			if err := ValidClassificationName(c.Name); err != nil {
				return fmt.Errorf("asset %s: %w", a.URN, err)
			}
			if c.Source != "" && c.Source != AttachSchemaTag && c.Source != AttachCrawler && c.Source != AttachRule {
				return Errorf(Invalid, "asset %s: a source may attach classifications only as schema-tag, crawler or rule, not %q", a.URN, c.Source)
			}
		}
	}
	for i, l := range s.Links {
		if err := l.Key().Validate(); err != nil {
			return fmt.Errorf("link %d: %w", i, err)
		}
		if math.IsNaN(l.Confidence) || l.Confidence < 0 || l.Confidence > 1 {
			return Errorf(Invalid, "link %s: confidence %v is outside [0,1]", l.Key(), l.Confidence)
		}
		if l.Via != "" {
			if err := l.Via.Validate(); err != nil {
				return fmt.Errorf("link %s via: %w", l.Key(), err)
			}
		}
	}
	return nil
}
