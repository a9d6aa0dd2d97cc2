package lineage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
)

// Rule attaches Classification (with source rule) to every asset it
// matches. Every condition that is set must hold; a rule without any
// matches nothing.
type Rule struct {
	// Match, when set, must match the asset's name: a field's or column's
	// own name ("email" for the field after.email). Unanchored.
	Match *regexp.Regexp
	// Property, when set, names a custom property of the field in its
	// schema (the registry crawler's "props": {"pii": true}). It must be
	// true (JSON true or "true"), or equal Value when HasValue is set.
	Property string
	Value    string
	HasValue bool
	// Tag, when set, must be among the field's Confluent schema tags (the
	// registry crawler's "schemaTags").
	Tag string
	// Kinds are the asset kinds the rule applies to; empty means FIELD and
	// COLUMN.
	Kinds          []catalog.Kind
	Classification string
}

// kinds returns the kinds r applies to.
func (r Rule) kinds() []catalog.Kind {
	if len(r.Kinds) == 0 {
		return fieldNodeKinds
	}
	return r.Kinds
}

// Matches reports whether r attaches its classification to e. A tombstone
// matches nothing.
func (r Rule) Matches(e catalog.Entity) bool {
	if e.URN == "" || e.Deleted() || !containsKind(r.kinds(), e.Kind) {
		return false
	}
	if r.Match == nil && r.Property == "" && r.Tag == "" {
		return false
	}
	if r.Match != nil && !r.Match.MatchString(e.Name) {
		return false
	}
	if r.Property != "" {
		props, _ := e.Properties["props"].(map[string]any)
		v, ok := props[r.Property]
		if !ok {
			return false
		}
		s := fmt.Sprint(v)
		if r.HasValue && s != r.Value {
			return false
		}
		if !r.HasValue && v != true && !strings.EqualFold(s, "true") {
			return false
		}
	}
	if r.Tag != "" && !hasTag(e.Properties["schemaTags"], r.Tag) {
		return false
	}
	return true
}

func hasTag(v any, tag string) bool {
	switch tags := v.(type) {
	case []any:
		for _, t := range tags {
			if s, ok := t.(string); ok && s == tag {
				return true
			}
		}
	case []string:
		for _, t := range tags {
			if t == tag {
				return true
			}
		}
	}
	return false
}

func containsKind(ks []catalog.Kind, k catalog.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// String describes r the way the config writes it.
func (r Rule) String() string {
	var parts []string
	if r.Match != nil {
		parts = append(parts, "match="+r.Match.String())
	}
	if r.Property != "" {
		p := "property=" + r.Property
		if r.HasValue {
			p += "=" + r.Value
		}
		parts = append(parts, p)
	}
	if r.Tag != "" {
		parts = append(parts, "tag="+r.Tag)
	}
	ks := make([]string, len(r.kinds()))
	for i, k := range r.kinds() {
		ks[i] = string(k)
	}
	parts = append(parts, "kinds="+strings.Join(ks, "|"), "classification="+r.Classification)
	return strings.Join(parts, " ")
}

// RulesGraph is what the Classifier reads; catalog.Reader satisfies it.
type RulesGraph interface {
	Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error)
	Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error)
	Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error)
	Classifications(ctx context.Context) ([]catalog.ClassificationDef, error)
}

// ClassifierOptions configure a Classifier.
type ClassifierOptions struct {
	Rules      []Rule
	Graph      RulesGraph
	Writer     Writer
	Subscriber Subscriber
	Logger     *slog.Logger
	// ChunkSize bounds the mutations of one catalog write; zero means 1000.
	ChunkSize int
}

// Classifier applies auto-classification rules: it keeps, on every asset,
// exactly the rule attachments its rules match (catalog.Classify and
// Declassify with source rule, by catalog.ActorRules). It bootstraps by
// scanning the kinds the rules apply to, then follows the change log under
// a subscription named after the rule set ("rules/v1-<hash>"), so a change
// of the rules re-evaluates everything on the next start. Assets created or
// updated by a crawl (a new schema version's fields among them) are
// evaluated as their entries arrive.
//
// A steward's declassify of a rule's attachment is recorded by the catalog
// as a suppression (catalog.Declassify.Suppress), which the catalog honours
// when the Classifier attaches it again: the removal sticks.
type Classifier struct {
	o      ClassifierOptions
	logger *slog.Logger
	kinds  []catalog.Kind
}

// NewClassifier returns a Classifier. It does no I/O.
func NewClassifier(o ClassifierOptions) *Classifier {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 1000
	}
	c := &Classifier{o: o, logger: o.Logger.With("component", "rules")}
	for _, r := range o.Rules {
		for _, k := range r.kinds() {
			if !containsKind(c.kinds, k) {
				c.kinds = append(c.kinds, k)
			}
		}
	}
	sort.Slice(c.kinds, func(i, j int) bool { return c.kinds[i] < c.kinds[j] })
	return c
}

// SubscriptionName is the Classifier's cursor: versioned by a hash of its
// rules, so that new rules start over.
func (c *Classifier) SubscriptionName() string {
	h := sha256.New()
	for _, r := range c.o.Rules {
		fmt.Fprintln(h, r.String())
	}
	return "rules/v1-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// Check reports the first rule whose classification is not defined in the
// catalog.
func (c *Classifier) Check(ctx context.Context) error {
	defs, err := c.o.Graph.Classifications(ctx)
	if err != nil {
		return fmt.Errorf("read classification definitions: %w", err)
	}
	known := map[string]bool{}
	for _, d := range defs {
		known[d.Name] = true
	}
	for i, r := range c.o.Rules {
		if !known[r.Classification] {
			return catalog.Errorf(catalog.Invalid, "classification rule %d (%s): classification %s is not defined", i+1, r, r.Classification)
		}
	}
	return nil
}

// Run evaluates the rules over the catalog as it is the first time, then
// follows the change log until ctx ends.
func (c *Classifier) Run(ctx context.Context) error {
	if err := c.Check(ctx); err != nil {
		return err
	}
	return c.o.Subscriber.Run(ctx, changelog.Subscription{
		Name:  c.SubscriptionName(),
		Start: c.bootstrap,
		Types: []catalog.ChangeType{catalog.AssetCreated, catalog.AssetUpdated},
		Handle: func(ctx context.Context, batch []changelog.Entry) error {
			byCause := map[string][]catalog.URN{}
			var order []string
			for _, e := range batch {
				if e.Actor == catalog.ActorRules || !containsKind(c.kinds, e.Subject.Kind()) {
					continue
				}
				id := e.ID()
				if _, ok := byCause[id]; !ok {
					order = append(order, id)
				}
				byCause[id] = append(byCause[id], e.Subject)
			}
			for _, id := range order {
				ents, err := c.o.Graph.Entities(ctx, byCause[id])
				if err != nil {
					return fmt.Errorf("read %d entities: %w", len(byCause[id]), err)
				}
				if err := c.write(ctx, id, c.evaluate(ents)); err != nil {
					return err
				}
			}
			return nil
		},
		MaxAttempts: 10,
	})
}

// bootstrap evaluates every asset of the rules' kinds, and removes rule
// attachments from assets of other kinds (rules that were dropped).
func (c *Classifier) bootstrap(ctx context.Context, head uint64) (uint64, error) {
	n := 0
	for _, k := range c.kinds {
		var after catalog.URN
		for {
			ents, next, err := c.o.Graph.Scan(ctx, k, after, 1000)
			if err != nil {
				return 0, fmt.Errorf("scan %s: %w", k, err)
			}
			muts := c.evaluate(ents)
			n += len(muts)
			if err := c.write(ctx, "", muts); err != nil {
				return 0, err
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	// Rule attachments on kinds no rule covers any more.
	defs, err := c.o.Graph.Classifications(ctx)
	if err != nil {
		return 0, fmt.Errorf("read classification definitions: %w", err)
	}
	seen := map[catalog.URN]bool{}
	for _, d := range defs {
		if d.Parent() != "" {
			continue
		}
		for off := 0; ; off += 1000 {
			res, err := c.o.Graph.Search(ctx, catalog.SearchQuery{Classifications: []string{d.Name}, Offset: off, Limit: 1000})
			if err != nil {
				return 0, fmt.Errorf("find carriers of %s: %w", d.Name, err)
			}
			var stale []catalog.Entity
			for _, e := range res.Entities {
				if !seen[e.URN] && !containsKind(c.kinds, e.Kind) {
					seen[e.URN] = true
					stale = append(stale, e)
				}
			}
			muts := c.evaluate(stale)
			n += len(muts)
			if err := c.write(ctx, "", muts); err != nil {
				return 0, err
			}
			if off+len(res.Entities) >= res.Total || len(res.Entities) == 0 {
				break
			}
		}
	}
	c.logger.Info("classification rules applied", "rules", len(c.o.Rules), "writes", n, "subscription", c.SubscriptionName())
	return head, nil
}

// evaluate returns the mutations that bring each entity's rule attachments
// in line with the rules.
func (c *Classifier) evaluate(ents []catalog.Entity) []catalog.Mutation {
	var muts []catalog.Mutation
	for _, e := range ents {
		if e.URN == "" || e.Deleted() {
			continue
		}
		want := map[string]bool{}
		for _, r := range c.o.Rules {
			if r.Matches(e) {
				want[r.Classification] = true
			}
		}
		have := map[string]bool{}
		for _, a := range e.Classifications {
			if a.Source == catalog.AttachRule {
				have[a.Classification] = true
			}
		}
		for _, name := range sortedStrings(want) {
			if !have[name] && !slices.Contains(e.Suppressed, name) {
				muts = append(muts, catalog.Classify{URN: e.URN, Classification: name, Source: catalog.AttachRule})
			}
		}
		for _, name := range sortedStrings(have) {
			if !want[name] {
				muts = append(muts, catalog.Declassify{URN: e.URN, Classification: name, Source: catalog.AttachRule})
			}
		}
	}
	return muts
}

func (c *Classifier) write(ctx context.Context, cause string, muts []catalog.Mutation) error {
	for len(muts) > 0 {
		n := min(len(muts), c.o.ChunkSize)
		_, err := c.o.Writer.Apply(ctx, catalog.Batch{Actor: catalog.ActorRules, Cause: cause, Origin: "/watershed/rules", Mutations: muts[:n]})
		if catalog.KindOf(err) == catalog.NotFound || catalog.KindOf(err) == catalog.Conflict {
			// An asset went away since it was read: apply one by one, skipping it.
			for _, m := range muts[:n] {
				if _, err := c.o.Writer.Apply(ctx, catalog.Batch{Actor: catalog.ActorRules, Cause: cause, Origin: "/watershed/rules", Mutations: []catalog.Mutation{m}}); err != nil {
					if k := catalog.KindOf(err); k != catalog.NotFound && k != catalog.Conflict {
						return fmt.Errorf("apply rule attachment: %w", err)
					}
				}
			}
		} else if err != nil {
			return fmt.Errorf("apply %d rule attachments: %w", n, err)
		}
		muts = muts[n:]
	}
	return nil
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
