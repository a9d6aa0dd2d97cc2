package catalog

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// ChangeType is the CloudEvents type of a change, e.g. "asset.created".
type ChangeType string

// Change types written by stores. Other packages add their own (policy,
// crawl, webhook) through Batch mutations in later stages. A crawl run
// writes crawl.completed only when it changed something, crawl.failed when
// it failed, and crawl.recovered when it is the first to succeed (or be
// partial) after a failed one; a run that changes nothing writes no event
// (it is still recorded in crawlRuns).
const (
	AssetCreated             ChangeType = "asset.created"
	AssetUpdated             ChangeType = "asset.updated"
	AssetDeleted             ChangeType = "asset.deleted"
	SchemaVersionAdded       ChangeType = "schema.version.added"
	EdgeAdded                ChangeType = "lineage.edge.added"
	EdgeUpdated              ChangeType = "lineage.edge.updated"
	EdgeRemoved              ChangeType = "lineage.edge.removed"
	ClassificationAttached   ChangeType = "classification.attached"
	ClassificationDetached   ChangeType = "classification.detached"
	ClassificationPropagated ChangeType = "classification.propagated"
	ClassificationRetracted  ChangeType = "classification.retracted"
	ClassificationDefined    ChangeType = "classification.defined"
	CrawlCompletedEvent      ChangeType = "crawl.completed"
	CrawlFailedEvent         ChangeType = "crawl.failed"
	CrawlRecoveredEvent      ChangeType = "crawl.recovered"
	PolicyViolationOpened    ChangeType = "policy.violation.opened"
	PolicyViolationResolved  ChangeType = "policy.violation.resolved"
	WebhookEndpointDisabled  ChangeType = "webhook.endpoint.disabled"
)

// ChangeTypes lists the change types stores and stages emit.
func ChangeTypes() []ChangeType {
	return []ChangeType{
		AssetCreated, AssetUpdated, AssetDeleted, SchemaVersionAdded,
		EdgeAdded, EdgeUpdated, EdgeRemoved,
		ClassificationAttached, ClassificationDetached, ClassificationPropagated, ClassificationRetracted,
		ClassificationDefined, CrawlCompletedEvent, CrawlFailedEvent, CrawlRecoveredEvent,
		PolicyViolationOpened, PolicyViolationResolved, WebhookEndpointDisabled,
	}
}

// Change is one entry of the change log.
type Change struct {
	// Seq is the position in the log: strictly increasing, never reused.
	Seq     uint64
	Type    ChangeType
	Subject URN
	Time    time.Time
	// Origin is the CloudEvents source: "/watershed/sources/prod",
	// "/watershed/graphql".
	Origin string
	Actor  string
	// Cause is the ID of the change that caused this one, if any.
	Cause string
	// Data is the JSON payload; its shape depends on Type (see the *Data
	// types in this file).
	Data json.RawMessage
}

// ID returns the CloudEvents id of c: its sequence number in decimal.
func (c Change) ID() string { return strconv.FormatUint(c.Seq, 10) }

// AssetData is the payload of asset.*, schema.version.added and
// policy.violation.* changes.
type AssetData struct {
	Kind    Kind           `json:"kind"`
	Name    string         `json:"name"`
	Sources []string       `json:"sources,omitempty"`
	Changed []PropertyDiff `json:"changed,omitempty"`
	// Properties and Classifications are set on policy.violation.opened
	// (the violation as opened) and policy.violation.resolved (as it was
	// last): a violation's event carries its evidence, so a receiver needs
	// no second read, and the tombstone of a resolved one has none. (A
	// violation's classifications say what it is about; attaching them
	// writes no classification.* events.)
	Properties      Properties `json:"properties,omitempty"`
	Classifications []string   `json:"classifications,omitempty"`
	// Description is the violation's message, on the same events.
	Description string `json:"description,omitempty"`
}

// EdgeData is the payload of lineage.edge.* changes.
type EdgeData struct {
	From    URN         `json:"from"`
	Kind    EdgeKind    `json:"kind"`
	To      URN         `json:"to"`
	Sources []string    `json:"sources,omitempty"`
	Claims  []ClaimData `json:"claims,omitempty"`
	Block   []string    `json:"block,omitempty"`
	// Before is the edge as it was, on lineage.edge.updated: a handler that
	// depends on what changed (a claim's Via, masking, the block list) needs
	// the old values as well as the new ones.
	Before *EdgeData `json:"before,omitempty"`
}

// ClaimData describes one claim in an EdgeData.
type ClaimData struct {
	Source     string  `json:"source"`
	Origin     string  `json:"origin,omitempty"`
	Confidence float64 `json:"confidence"`
	Transform  string  `json:"transform,omitempty"`
	Masking    bool    `json:"masking,omitempty"`
	Via        []URN   `json:"via,omitempty"`
}

// ClassificationData is the payload of classification.* changes.
type ClassificationData struct {
	Classification string           `json:"classification"`
	Source         AttachmentSource `json:"source,omitempty"`
	Propagate      bool             `json:"propagate,omitempty"`
	Origin         URN              `json:"origin,omitempty"`
	Path           []URN            `json:"path,omitempty"`
	Description    string           `json:"description,omitempty"`
	PassesMasking  bool             `json:"passesMasking,omitempty"`
}

// AssetData decodes the payload of an asset.* or schema.version.added change.
func (c Change) AssetData() (AssetData, error) {
	var d AssetData
	return d, c.decode(&d)
}

// EdgeData decodes the payload of a lineage.edge.* change.
func (c Change) EdgeData() (EdgeData, error) {
	var d EdgeData
	return d, c.decode(&d)
}

// ClassificationData decodes the payload of a classification.* change.
func (c Change) ClassificationData() (ClassificationData, error) {
	var d ClassificationData
	return d, c.decode(&d)
}

func (c Change) decode(v any) error {
	if len(c.Data) == 0 {
		return Errorf(Invalid, "change %d (%s) has no data", c.Seq, c.Type)
	}
	if err := json.Unmarshal(c.Data, v); err != nil {
		return Errorf(Invalid, "decode %s data of change %d: %w", c.Type, c.Seq, err)
	}
	return nil
}

// Family reports whether t is name or lies below it: "policy.violation.opened"
// is in the families "policy.violation" and "policy".
func (t ChangeType) Family(name string) bool {
	s := string(t)
	return s == name || strings.HasPrefix(s, name+".")
}
