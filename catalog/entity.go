package catalog

import (
	"sort"
	"strings"
	"time"
)

// Properties are the descriptive attributes of an entity as a source reports
// them: partitions and configs of a topic, the type of a field. Values are
// JSON values (string, json.Number, bool, nil, []any, map[string]any); stores
// canonicalise them with CanonicalProperties.
type Properties map[string]any

// Entity is the merged view of one entity: every source's facet, the curated
// data and the classification attachments.
type Entity struct {
	URN  URN
	Kind Kind
	// Name is a short display name: the curated name, else the name the first
	// source gave, else the URN's last path element.
	Name string
	// Description is the curated description when a steward set one, else
	// the first description a source gave.
	Description string
	Owners      []string
	// Properties merges the properties of every facet; on a key asserted by
	// two sources, the source that sorts first by name wins.
	Properties Properties
	// Live holds readings that change on every crawl (consumer lag, group
	// state). They are kept current but never produce change events.
	Live Properties
	// Sources names the sources that currently assert the entity, sorted;
	// "manual" when it was registered through the API.
	Sources []string
	// Classifications are all attachments, direct and propagated, sorted by
	// classification name then source.
	Classifications []Attachment
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// DeletedAt is set when no source asserts the entity any more. The
	// entity stays readable (with its curated data) as a tombstone.
	DeletedAt time.Time
}

// Deleted reports whether e is a tombstone.
func (e Entity) Deleted() bool { return !e.DeletedAt.IsZero() }

// HasClassification reports whether e carries name or a descendant of it
// (PII matches PII.Email), directly or by propagation.
func (e Entity) HasClassification(name string) bool {
	for _, a := range e.Classifications {
		if ClassificationWithin(a.Classification, name) {
			return true
		}
	}
	return false
}

// ClassificationWithin reports whether name equals ancestor or lies below it
// in the hierarchy ("PII.Email" is within "PII").
func ClassificationWithin(name, ancestor string) bool {
	return name == ancestor || strings.HasPrefix(name, ancestor+".")
}

// AttachmentSource says how a classification came to be attached.
type AttachmentSource string

// Attachment sources. Every source but Propagated is direct.
const (
	AttachManual     AttachmentSource = "manual"
	AttachRule       AttachmentSource = "rule"
	AttachSchemaTag  AttachmentSource = "schema-tag"
	AttachCrawler    AttachmentSource = "crawler"
	AttachPropagated AttachmentSource = "propagated"
)

// Valid reports whether s is a known attachment source.
func (s AttachmentSource) Valid() bool {
	switch s {
	case AttachManual, AttachRule, AttachSchemaTag, AttachCrawler, AttachPropagated:
		return true
	}
	return false
}

// Attachment is one classification on one entity.
type Attachment struct {
	Classification string
	Source         AttachmentSource
	// Propagate says whether a direct attachment flows downstream.
	Propagate bool
	// Origin is the entity a propagated attachment came from.
	Origin URN
	// Path explains a propagated attachment: Origin, ..., this entity.
	Path  []URN
	Actor string
	At    time.Time
}

// Direct reports whether a was attached directly rather than propagated.
func (a Attachment) Direct() bool { return a.Source != AttachPropagated }

// SortAttachments orders attachments by classification, then source, then origin.
func SortAttachments(as []Attachment) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Classification != as[j].Classification {
			return as[i].Classification < as[j].Classification
		}
		if as[i].Source != as[j].Source {
			return as[i].Source < as[j].Source
		}
		return as[i].Origin < as[j].Origin
	})
}

// Claim is one source's assertion of an edge, with its provenance.
type Claim struct {
	// Source is the asserting source: a configured crawler source name,
	// "manual", "openlineage", "topology".
	Source string
	// Origin says how the source knows: connect-config, consumer-offsets,
	// acl, openlineage, topology, manual, schema.
	Origin     string
	Confidence float64
	// Transform names the SMT or job step that maps data along the edge.
	Transform string
	// Masking marks an edge whose transform masks the data (MaskField).
	Masking bool
	// Via lists the connectors or jobs the data flows through on this pair
	// edge (see Link.Via), sorted.
	Via       []URN
	FirstSeen time.Time
	LastSeen  time.Time
}

// Interval is a span of time during which an edge was alive. A zero To means
// it still is.
type Interval struct {
	From time.Time
	To   time.Time
}

// Contains reports whether t lies within iv.
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.From) && (iv.To.IsZero() || t.Before(iv.To))
}

// Edge is the merged view of one edge.
type Edge struct {
	EdgeKey
	// Claims are the sources asserting the edge now, sorted by source.
	Claims []Claim
	// Block lists classifications that must not propagate along the edge.
	Block []string
	// Alive lists the spans during which the edge existed, oldest first.
	Alive     []Interval
	DeletedAt time.Time
}

// Deleted reports whether e is a tombstone.
func (e Edge) Deleted() bool { return !e.DeletedAt.IsZero() }

// Masking reports whether any claim marks the edge as masking.
func (e Edge) Masking() bool {
	for _, c := range e.Claims {
		if c.Masking {
			return true
		}
	}
	return false
}

// Via returns the connectors or jobs that any claim says the edge flows
// through, sorted and without duplicates.
func (e Edge) Via() []URN {
	var out []URN
	for _, c := range e.Claims {
		for _, v := range c.Via {
			if !containsURN(out, v) {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Blocks reports whether the edge stops classification c: c (or an ancestor
// of it) is on the block list, or the edge masks the data and def does not
// let c through masking. A nil def counts as a classification that does not
// pass masking.
func (e Edge) Blocks(c string, def *ClassificationDef) bool {
	for _, b := range e.Block {
		if ClassificationWithin(c, b) {
			return true
		}
	}
	return e.Masking() && (def == nil || !def.PassesMasking)
}

func containsURN(list []URN, u URN) bool {
	for _, x := range list {
		if x == u {
			return true
		}
	}
	return false
}

// Confidence returns the highest confidence among the claims.
func (e Edge) Confidence() float64 {
	var best float64
	for _, c := range e.Claims {
		if c.Confidence > best {
			best = c.Confidence
		}
	}
	return best
}

// AliveAt reports whether e existed at t.
func (e Edge) AliveAt(t time.Time) bool {
	for _, iv := range e.Alive {
		if iv.Contains(t) {
			return true
		}
	}
	return false
}

// ClassificationDef defines a classification.
type ClassificationDef struct {
	// Name is dotted and hierarchical: "PII", "PII.Email".
	Name        string
	Description string
	// Propagates is the default for attachments that do not say.
	Propagates bool
	// PassesMasking lets the classification propagate across masking edges
	// (a masked e-mail is still "customer data"); by default masking stops
	// it.
	PassesMasking bool
	CreatedAt     time.Time
}

// Parent returns the name of the parent classification, or "".
func (d ClassificationDef) Parent() string {
	if i := strings.LastIndexByte(d.Name, '.'); i > 0 {
		return d.Name[:i]
	}
	return ""
}

// DefaultClassifications are defined in every new catalog.
func DefaultClassifications() []ClassificationDef {
	return []ClassificationDef{
		{Name: "PII", Description: "Personally identifiable information", Propagates: true},
		{Name: "PII.Email", Description: "E-mail address", Propagates: true},
		{Name: "PII.Phone", Description: "Telephone number", Propagates: true},
		{Name: "PII.Name", Description: "Person's name", Propagates: true},
		{Name: "PII.Address", Description: "Postal address", Propagates: true},
		{Name: "PII.NationalID", Description: "Government identifier (SSN, passport, tax number)", Propagates: true},
		{Name: "PII.Birthdate", Description: "Date of birth", Propagates: true},
		{Name: "Financial", Description: "Financial data", Propagates: true},
		{Name: "Financial.CardNumber", Description: "Payment card number (PCI)", Propagates: true},
		{Name: "Confidential", Description: "Business-confidential data", Propagates: true},
		{Name: "Public", Description: "Cleared for public release", Propagates: false},
	}
}

// ValidClassificationName reports why name cannot name a classification.
func ValidClassificationName(name string) error {
	if name == "" {
		return Errorf(Invalid, "classification name is empty")
	}
	if len(name) > 200 {
		return Errorf(Invalid, "classification name is longer than 200 bytes")
	}
	for _, part := range strings.Split(name, ".") {
		if part == "" {
			return Errorf(Invalid, "classification %q has an empty segment", name)
		}
		for _, r := range part {
			ok := r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
			if !ok {
				return Errorf(Invalid, "classification %q may contain only letters, digits, '_', '-' and '.'", name)
			}
		}
	}
	return nil
}
