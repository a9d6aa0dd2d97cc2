package catalog

import (
	"sort"
	"strings"
)

// Batch is a list of mutations applied atomically: all of them and their
// change events commit together, or none does.
type Batch struct {
	// Actor is who asked: "user:alice", "token:ci", "system:propagation".
	Actor string
	// Cause is the ID of the change that caused this batch, when a changelog
	// handler writes it; handlers use it to avoid loops.
	Cause string
	// Origin is the CloudEvents source of the resulting changes, e.g.
	// "/watershed/graphql". Empty means "/watershed".
	Origin    string
	Mutations []Mutation
}

// Mutation is one change to curated data or manual assets. The concrete
// types are the exported structs in this file.
type Mutation interface{ mutation() }

// RegisterAsset creates or updates the "manual" facet of an entity: an
// asset no crawler sees. Registering an entity a crawler also asserts is
// allowed; the two facets merge.
type RegisterAsset struct {
	URN         URN
	Name        string
	Description string
	Properties  Properties
}

// UnregisterAsset removes the manual facet; the entity is tombstoned if no
// other source asserts it.
type UnregisterAsset struct{ URN URN }

// AddLineage adds a manual claim to an edge. Both ends must exist.
type AddLineage struct {
	From, To  URN
	Kind      EdgeKind
	Transform string
	Masking   bool
	// Via names the connector or job a pair edge flows through (Link.Via).
	Via URN
}

// RemoveLineage removes the manual claim from an edge. It is NotFound when
// there is no manual claim; crawled claims are removed by their crawler.
type RemoveLineage struct {
	From, To URN
	Kind     EdgeKind
}

// Classify attaches a classification directly. Source is AttachManual or
// AttachRule (empty means manual). A nil Propagate takes the definition's
// default. Classifying twice with the same values changes nothing. A rule's
// Classify of a classification a steward suppressed on the entity (see
// Declassify) changes nothing either.
type Classify struct {
	URN            URN
	Classification string
	Propagate      *bool
	Source         AttachmentSource
}

// Declassify removes a direct attachment made by Source (empty: manual).
//
// With Suppress (Source AttachRule only) the removal sticks: the entity
// records the classification as suppressed, and a later Classify of it with
// Source AttachRule changes nothing, so auto-classification rules never
// attach it again. A manual Classify of the same classification lifts the
// suppression. This is how a steward's declassify of a rule's attachment
// survives the next crawl.
type Declassify struct {
	URN            URN
	Classification string
	Source         AttachmentSource
	Suppress       bool
}

// SetDescription sets the curated description; empty clears it, so the
// sources' description shows again.
type SetDescription struct {
	URN         URN
	Description string
}

// SetOwners replaces the owners of an entity.
type SetOwners struct {
	URN    URN
	Owners []string
}

// DefineClassification creates or updates a classification definition. The
// parent of a dotted name must be defined first.
type DefineClassification struct{ Def ClassificationDef }

// SetPropagated replaces the propagated attachments of one entity with
// Attachments (all of Source AttachPropagated). The propagation handler uses
// it; the store emits classification.propagated / .retracted for the
// difference.
type SetPropagated struct {
	URN         URN
	Attachments []Attachment
}

// Propagate sets one propagated attachment, keyed by (URN, Classification,
// Origin), with Path explaining it (Origin first, URN last). Setting the same
// Path again changes nothing; a different Path replaces it. Propagate and
// Retract of different keys commute, so concurrent handlers never overwrite
// each other's attachments. A tombstoned URN is skipped, not an error: a
// deleted asset carries nothing until it is recreated.
type Propagate struct {
	URN, Origin    URN
	Classification string
	Path           []URN
}

// Retract removes the propagated attachment keyed by (URN, Classification,
// Origin). Retracting what is absent changes nothing; a tombstone or an
// unknown URN is not an error.
type Retract struct {
	URN, Origin    URN
	Classification string
}

// Emit commits an event of a stage-owned type (policy.*, webhook.*) with the
// batch. Types the store derives itself (asset.*, lineage.*,
// classification.*, schema.*, crawl.*) are refused. Data is encoded as JSON.
type Emit struct {
	Type    ChangeType
	Subject URN
	Data    any
}

// SetEdgeBlock replaces the list of classifications an edge blocks.
type SetEdgeBlock struct {
	Edge  EdgeKey
	Block []string
}

func (RegisterAsset) mutation()        {}
func (UnregisterAsset) mutation()      {}
func (AddLineage) mutation()           {}
func (RemoveLineage) mutation()        {}
func (Classify) mutation()             {}
func (Declassify) mutation()           {}
func (SetDescription) mutation()       {}
func (SetOwners) mutation()            {}
func (DefineClassification) mutation() {}
func (SetPropagated) mutation()        {}
func (SetEdgeBlock) mutation()         {}
func (Propagate) mutation()            {}
func (Retract) mutation()              {}
func (Emit) mutation()                 {}

// Limits on curated values, enforced by every store.
const (
	MaxNameBytes        = 1024
	MaxDescriptionBytes = 64 << 10
	MaxOwners           = 100
	MaxOwnerBytes       = 256
)

// NormalizeOwners trims, sorts and deduplicates a SetOwners list, and
// reports why it is not acceptable (too many, an empty or overlong name).
// An empty list normalizes to nil.
func NormalizeOwners(owners []string) ([]string, error) {
	if len(owners) > MaxOwners {
		return nil, Errorf(Invalid, "%d owners; the limit is %d", len(owners), MaxOwners)
	}
	out := make([]string, 0, len(owners))
	for _, o := range owners {
		o = strings.TrimSpace(o)
		if o == "" {
			return nil, Errorf(Invalid, "owner names must not be empty")
		}
		if len(o) > MaxOwnerBytes {
			return nil, Errorf(Invalid, "owner %q is longer than %d bytes", o[:32]+"...", MaxOwnerBytes)
		}
		out = append(out, o)
	}
	sort.Strings(out)
	uniq := out[:0]
	for i, o := range out {
		if i == 0 || o != out[i-1] {
			uniq = append(uniq, o)
		}
	}
	if len(uniq) == 0 {
		return nil, nil
	}
	return uniq, nil
}
