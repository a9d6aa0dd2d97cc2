package catalog

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// The functions in this file build change events from before/after views.
// They are pure, so every store derives the same events from the same
// difference (the catalogtest suite holds them to it).

// EntityDiff lists what a steward would call a change between two views of
// one entity: name, description, owners, sources and each property key
// (prefixed "properties."). Both views' properties must be normalized.
func EntityDiff(before, after Entity) []PropertyDiff {
	var out []PropertyDiff
	if before.Name != after.Name {
		out = append(out, PropertyDiff{Key: "name", Before: before.Name, After: after.Name})
	}
	if before.Description != after.Description {
		out = append(out, PropertyDiff{Key: "description", Before: before.Description, After: after.Description})
	}
	if !slices.Equal(before.Owners, after.Owners) {
		out = append(out, PropertyDiff{Key: "owners", Before: before.Owners, After: after.Owners})
	}
	if !slices.Equal(before.Sources, after.Sources) {
		out = append(out, PropertyDiff{Key: "sources", Before: before.Sources, After: after.Sources})
	}
	for _, d := range DiffProperties(before.Properties, after.Properties) {
		d.Key = "properties." + d.Key
		out = append(out, d)
	}
	return out
}

// AttachmentChange is one classification event derived from two attachment
// lists.
type AttachmentChange struct {
	Type ChangeType
	Data ClassificationData
}

// AttachmentChanges compares two attachment lists of one entity, keyed by
// (classification, source, origin): an added or changed attachment is
// classification.attached (direct) or .propagated, a removed one .detached
// or .retracted. Additions come first, in the order of after.
func AttachmentChanges(before, after []Attachment) []AttachmentChange {
	type key struct {
		c string
		s AttachmentSource
		o URN
	}
	index := func(as []Attachment) map[key]Attachment {
		m := make(map[key]Attachment, len(as))
		for _, a := range as {
			m[key{a.Classification, a.Source, a.Origin}] = a
		}
		return m
	}
	b, a := index(before), index(after)
	var out []AttachmentChange
	for _, at := range after {
		k := key{at.Classification, at.Source, at.Origin}
		prev, had := b[k]
		if had && prev.Propagate == at.Propagate && reflect.DeepEqual(prev.Path, at.Path) {
			continue
		}
		typ := ClassificationAttached
		if !at.Direct() {
			typ = ClassificationPropagated
		}
		out = append(out, AttachmentChange{typ, ClassificationData{Classification: at.Classification, Source: at.Source, Propagate: at.Propagate, Origin: at.Origin, Path: at.Path}})
	}
	for _, bt := range before {
		if _, still := a[key{bt.Classification, bt.Source, bt.Origin}]; still {
			continue
		}
		typ := ClassificationDetached
		if !bt.Direct() {
			typ = ClassificationRetracted
		}
		out = append(out, AttachmentChange{typ, ClassificationData{Classification: bt.Classification, Source: bt.Source, Origin: bt.Origin}})
	}
	return out
}

// ClassificationNames lists the distinct classifications e carries, sorted
// (e.Classifications must be sorted, as stores return them).
func ClassificationNames(e Entity) []string {
	var out []string
	for _, a := range e.Classifications {
		if len(out) == 0 || out[len(out)-1] != a.Classification {
			out = append(out, a.Classification)
		}
	}
	return out
}

// derivedFamilies are the change-type families only stores write.
var derivedFamilies = []string{"asset", "lineage", "classification", "schema", "crawl"}

// ValidateEmit reports why a stage may not emit m: its type must be dotted
// lower-case words (at least two) outside the families stores derive
// themselves, and its subject, when set, a valid URN.
func ValidateEmit(m Emit) error {
	typ := string(m.Type)
	if !validEventType(typ) {
		return Errorf(Invalid, "emit: %q is not an event type (dotted lower-case words, at least two)", typ)
	}
	for _, f := range derivedFamilies {
		if m.Type.Family(f) {
			return Errorf(Invalid, "emit: %s events are written by the store itself", f)
		}
	}
	if m.Subject != "" {
		if err := m.Subject.Validate(); err != nil {
			return fmt.Errorf("emit %s subject: %w", typ, err)
		}
	}
	return nil
}

func validEventType(s string) bool {
	if len(s) == 0 || len(s) > 200 || !strings.Contains(s, ".") {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z') && !(r >= '0' && r <= '9') && r != '_' && r != '-' {
				return false
			}
		}
	}
	return true
}

// CrawlEvent returns the event a recorded crawl run writes (DESIGN §4):
// crawl.failed for a failed run, crawl.recovered for the first run that
// succeeds (or is partial) after a failed one (prev is the source's
// previous run's status, empty when none), crawl.completed for a run that
// changed something, and "" (no event) otherwise.
func CrawlEvent(status, prev CrawlStatus, changes int) ChangeType {
	switch {
	case status == CrawlFailed:
		return CrawlFailedEvent
	case prev == CrawlFailed:
		return CrawlRecoveredEvent
	case changes > 0:
		return CrawlCompletedEvent
	}
	return ""
}

// CrawlRunData is the payload of crawl.completed, crawl.failed and
// crawl.recovered events.
type CrawlRunData struct {
	Source     string          `json:"source"`
	Kind       string          `json:"kind,omitempty"`
	Trigger    string          `json:"trigger,omitempty"`
	Status     CrawlStatus     `json:"status"`
	StartedAt  string          `json:"startedAt"`
	DurationMS int64           `json:"durationMs"`
	Counts     map[string]int  `json:"counts,omitempty"`
	Result     ReconcileResult `json:"result"`
	Errors     []string        `json:"errors,omitempty"`
}

// NewCrawlRunData returns the event payload of run with res as its result.
func NewCrawlRunData(run CrawlRun, res ReconcileResult) CrawlRunData {
	return CrawlRunData{
		Source: run.Source, Kind: run.Kind, Trigger: run.Trigger, Status: run.Status,
		StartedAt: run.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), DurationMS: run.Duration.Milliseconds(),
		Counts: run.Counts, Result: res, Errors: run.Errors,
	}
}

// Retainer returns a function that keeps, of an earlier assertion's scopes
// (none means the whole source, ""), those this snapshot does not speak for:
// scopes outside its Scopes (when it is limited to some) and scopes it
// marks Incomplete. An assertion absent from the snapshot survives while
// some of its scopes are retained.
func (s *Snapshot) Retainer() func(old []string) []string {
	limited := make(map[string]bool, len(s.Scopes))
	for _, sc := range s.Scopes {
		limited[sc] = true
	}
	incomplete := s.Incomplete
	return func(old []string) []string {
		if len(old) == 0 {
			old = []string{""}
		}
		var out []string
		for _, sc := range old {
			_, inc := incomplete[sc]
			if inc || (len(limited) > 0 && !limited[sc]) {
				out = append(out, sc)
			}
		}
		return out
	}
}
