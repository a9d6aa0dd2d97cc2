package catalog

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
// default. Classifying twice with the same values changes nothing.
type Classify struct {
	URN            URN
	Classification string
	Propagate      *bool
	Source         AttachmentSource
}

// Declassify removes a direct attachment made by Source (empty: manual).
type Declassify struct {
	URN            URN
	Classification string
	Source         AttachmentSource
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
