package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// --- compatibility-none-with-consumers ----------------------------------------

// compatNone judges schema subjects whose effective compatibility level is
// NONE (any schema may replace any other) while a topic they describe has
// consumers: a producer can break every one of them.
type compatNone struct{}

func compileCompatNone(params map[string]any) (Check, error) {
	var c struct{}
	if err := decodeParams(params, &c); err != nil {
		return nil, err
	}
	return compatNone{}, nil
}

func (compatNone) Kinds() []catalog.Kind { return []catalog.Kind{catalog.KindSchemaSubject} }

func (c compatNone) Affected(ctx context.Context, env *Env, ch catalog.Change) ([]catalog.URN, error) {
	switch {
	case ch.Type.Family("asset"):
		if ch.Subject.Kind() == catalog.KindSchemaSubject {
			return []catalog.URN{ch.Subject}, nil
		}
	case ch.Type.Family("lineage.edge"):
		d, err := ch.EdgeData()
		if err != nil {
			return nil, nil
		}
		switch {
		case d.Kind == catalog.EdgeHasSchema && d.To.Kind() == catalog.KindSchemaSubject:
			return []catalog.URN{d.To}, nil
		case d.Kind == catalog.EdgeConsumes && d.From.Kind() == catalog.KindTopic:
			edges, err := env.Edges(ctx, d.From, catalog.Downstream, catalog.EdgeHasSchema)
			if err != nil {
				return nil, err
			}
			var out []catalog.URN
			for _, e := range edges {
				if e.To.Kind() == catalog.KindSchemaSubject {
					out = append(out, e.To)
				}
			}
			return out, nil
		}
	}
	return nil, nil
}

func (compatNone) Evaluate(ctx context.Context, env *Env, subject catalog.Entity, _ *catalog.Change) (*Finding, error) {
	level, _ := subject.Properties["compatibility"].(string)
	if !strings.EqualFold(level, "NONE") {
		return nil, nil
	}
	topics, err := env.Neighbors(ctx, subject.URN, catalog.Upstream, catalog.EdgeHasSchema)
	if err != nil {
		return nil, err
	}
	var hits []any
	var names []string
	count := 0
	var classes []string
	for _, t := range topics {
		if t.Kind != catalog.KindTopic {
			continue
		}
		consumers, err := env.Neighbors(ctx, t.URN, catalog.Downstream, catalog.EdgeConsumes)
		if err != nil {
			return nil, err
		}
		if len(consumers) == 0 {
			continue
		}
		var cs []any
		for _, c := range consumers {
			cs = append(cs, map[string]any{"urn": string(c.URN), "kind": string(c.Kind), "name": c.Name})
		}
		count += len(consumers)
		names = append(names, t.Name)
		hits = append(hits, map[string]any{"urn": string(t.URN), "name": t.Name, "consumers": cs})
		for _, a := range t.Classifications {
			classes = appendUnique(classes, a.Classification)
		}
	}
	if len(hits) == 0 {
		return nil, nil
	}
	sort.Strings(classes)
	ev := map[string]any{"compatibility": level, "topics": hits}
	if src, ok := subject.Properties["compatibilitySource"].(string); ok {
		ev["compatibilitySource"] = src
	}
	return &Finding{
		Message:         fmt.Sprintf("%s has compatibility NONE and describes %s, read by %d consumer(s): any new schema can break them", describe(subject), strings.Join(names, ", "), count),
		Classifications: classes,
		Evidence:        ev,
	}, nil
}

// --- schema-drift -------------------------------------------------------------

// driftKinds are the findings the schema registry crawler records in a
// topic's schemaDrift property (crawlers/schemaregistry/README.md).
var driftKinds = []string{"unregistered-schema-id", "unknown-schema-id", "not-wire-format", "unknown-field"}

// drift judges topics whose sampled records do not match their registered
// schema, as the registry crawler reports it; Kinds narrows the findings
// that count.
type drift struct {
	Only []string `json:"kinds"`
}

func compileDrift(params map[string]any) (Check, error) {
	var c drift
	if err := decodeParams(params, &c); err != nil {
		return nil, err
	}
	for i, k := range c.Only {
		ok := false
		for _, d := range driftKinds {
			ok = ok || d == k
		}
		if !ok {
			return nil, catalog.Errorf(catalog.Invalid, "params.kinds[%d]: %q is not one of %s", i, k, strings.Join(driftKinds, ", "))
		}
	}
	return &c, nil
}

func (c *drift) Kinds() []catalog.Kind { return []catalog.Kind{catalog.KindTopic} }

func (c *drift) Affected(_ context.Context, _ *Env, ch catalog.Change) ([]catalog.URN, error) {
	if ch.Type.Family("asset") && ch.Subject.Kind() == catalog.KindTopic {
		return []catalog.URN{ch.Subject}, nil
	}
	return nil, nil
}

func (c *drift) Evaluate(_ context.Context, _ *Env, subject catalog.Entity, _ *catalog.Change) (*Finding, error) {
	list, _ := subject.Properties["schemaDrift"].([]any)
	var kept []any
	kinds := map[string]int{}
	for _, item := range list {
		m, _ := item.(map[string]any)
		k, _ := m["kind"].(string)
		if len(c.Only) > 0 {
			ok := false
			for _, want := range c.Only {
				ok = ok || want == k
			}
			if !ok {
				continue
			}
		}
		kept = append(kept, item)
		kinds[k]++
	}
	if len(kept) == 0 {
		return nil, nil
	}
	var parts []string
	for _, k := range driftKinds {
		if n := kinds[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, k))
		}
	}
	var classes []string
	for _, a := range subject.Classifications {
		classes = appendUnique(classes, a.Classification)
	}
	sort.Strings(classes)
	return &Finding{
		Message:         fmt.Sprintf("records on %s do not match its registered schema: %s", describe(subject), strings.Join(parts, ", ")),
		Classifications: classes,
		Evidence:        map[string]any{"drift": kept},
	}, nil
}
