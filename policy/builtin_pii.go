package policy

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// --- pii-consumer-allowlist -------------------------------------------------

// consumerAllowlist judges readers: a consumer group (topic CONSUMES group:
// committed offsets or an assignment) or an ACL principal (topic CAN_READ
// principal) reading a topic that carries the classification, unless the
// reader is on the allowlist. The subject is the reader, so each reader's
// violation opens and resolves on its own; the evidence names the topics
// and the fields that carry the classification.
type consumerAllowlist struct {
	Allow          []string `json:"allow"`
	Classification string   `json:"classification"`
}

func compileConsumerAllowlist(params map[string]any) (Check, error) {
	var c consumerAllowlist
	if err := decodeParams(params, &c); err != nil {
		return nil, err
	}
	if err := checkAllow(c.Allow); err != nil {
		return nil, err
	}
	if err := checkClassification(&c.Classification); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *consumerAllowlist) Kinds() []catalog.Kind {
	return []catalog.Kind{catalog.KindConsumerGroup, catalog.KindPrincipal}
}

// readEdges are the edges by which a reader reads a topic.
var readEdges = []catalog.EdgeKind{catalog.EdgeConsumes, catalog.EdgeCanRead}

func (c *consumerAllowlist) Affected(ctx context.Context, env *Env, ch catalog.Change) ([]catalog.URN, error) {
	kinds := c.Kinds()
	switch {
	case ch.Type.Family("lineage.edge"):
		d, err := ch.EdgeData()
		if err != nil {
			return nil, nil
		}
		if (d.Kind == catalog.EdgeConsumes || d.Kind == catalog.EdgeCanRead) && containsKind(kinds, d.To.Kind()) {
			return []catalog.URN{d.To}, nil
		}
	case ch.Type.Family("classification") || ch.Type.Family("asset") || ch.Type == catalog.SchemaVersionAdded:
		if containsKind(kinds, ch.Subject.Kind()) {
			return []catalog.URN{ch.Subject}, nil
		}
		if ch.Type.Family("asset") && ch.Subject.Kind() == catalog.KindTopic {
			return nil, nil // its edges and fields have their own changes
		}
		if t := DatasetOf(ch.Subject); t.Kind() == catalog.KindTopic {
			return readersOf(ctx, env, t, kinds)
		}
	}
	return nil, nil
}

// readersOf lists the readers of topic t of the given kinds.
func readersOf(ctx context.Context, env *Env, t catalog.URN, kinds []catalog.Kind) ([]catalog.URN, error) {
	edges, err := env.Edges(ctx, t, catalog.Downstream, readEdges...)
	if err != nil {
		return nil, err
	}
	var out []catalog.URN
	for _, e := range edges {
		if containsKind(kinds, e.To.Kind()) {
			out = append(out, e.To)
		}
	}
	return out, nil
}

func (c *consumerAllowlist) Evaluate(ctx context.Context, env *Env, subject catalog.Entity, _ *catalog.Change) (*Finding, error) {
	if allowed(c.Allow, subject) {
		return nil, nil
	}
	edge, verb := catalog.EdgeConsumes, "reads"
	if subject.Kind == catalog.KindPrincipal {
		edge, verb = catalog.EdgeCanRead, "may read"
	}
	topics, err := env.Neighbors(ctx, subject.URN, catalog.Upstream, edge)
	if err != nil {
		return nil, err
	}
	var hits []any
	var names, classes []string
	for _, t := range topics {
		if t.Kind != catalog.KindTopic {
			continue
		}
		carried, err := env.Carries(ctx, t.URN, c.Classification)
		if err != nil {
			return nil, err
		}
		if !carried.Any() {
			continue
		}
		ev := evidenceOf(carried)
		ev["urn"], ev["name"] = string(t.URN), t.Name
		hits = append(hits, ev)
		names = append(names, t.Name)
		for _, n := range carried.Classifications {
			classes = appendUnique(classes, n)
		}
	}
	if len(hits) == 0 {
		return nil, nil
	}
	sort.Strings(classes)
	what := c.Classification + " topic " + names[0]
	if n := len(names); n > 1 {
		what = c.Classification + " topics " + strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	}
	return &Finding{
		Message:         fmt.Sprintf("%s %s %s (%s) and is not on the allowlist", describe(subject), verb, what, strings.Join(classes, ", ")),
		Classifications: classes,
		Evidence: map[string]any{
			"reader": string(subject.URN), "readerKind": string(subject.Kind), "readerName": subject.Name,
			"access": strings.ToLower(string(edge)), "topics": hits, "classifications": stringsAny(classes),
		},
	}, nil
}

// --- pii-retention ------------------------------------------------------------

// retention judges topics that carry the classification and keep records
// longer than Max: retention.ms above it, -1 (forever), or a compacted
// topic without delete (records are kept until overwritten by key). A
// topic whose retention.ms is unknown (no crawler reported its configs)
// is not judged.
type retention struct {
	Max            string `json:"max"`
	Classification string `json:"classification"`
	max            time.Duration
}

func compileRetention(params map[string]any) (Check, error) {
	var c retention
	if err := decodeParams(params, &c); err != nil {
		return nil, err
	}
	if c.Max == "" {
		return nil, catalog.Errorf(catalog.Invalid, "params.max: required (a duration such as 168h)")
	}
	d, err := time.ParseDuration(c.Max)
	if err != nil || d <= 0 {
		return nil, catalog.Errorf(catalog.Invalid, "params.max: %q is not a positive duration such as 168h", c.Max)
	}
	c.max = d
	if err := checkClassification(&c.Classification); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *retention) Kinds() []catalog.Kind { return []catalog.Kind{catalog.KindTopic} }

func (c *retention) Affected(_ context.Context, _ *Env, ch catalog.Change) ([]catalog.URN, error) {
	return topicOf(ch), nil
}

// topicOf is the topic a change to a topic, or to a field or classification
// of one, is about.
func topicOf(ch catalog.Change) []catalog.URN {
	if ch.Type.Family("asset") || ch.Type.Family("classification") || ch.Type == catalog.SchemaVersionAdded {
		if t := DatasetOf(ch.Subject); t.Kind() == catalog.KindTopic {
			return []catalog.URN{t}
		}
	}
	return nil
}

func (c *retention) Evaluate(ctx context.Context, env *Env, subject catalog.Entity, _ *catalog.Change) (*Finding, error) {
	configs, _ := subject.Properties["configs"].(map[string]any)
	raw, hasRetention := configs["retention.ms"].(string)
	cleanup, _ := configs["cleanup.policy"].(string)
	compacted := strings.Contains(cleanup, "compact") && !strings.Contains(cleanup, "delete")
	var kept time.Duration
	var why string
	switch {
	case compacted:
		why = fmt.Sprintf("is compacted (cleanup.policy=%s): records are kept until overwritten, beyond the %s limit", cleanup, c.max)
	case !hasRetention:
		return nil, nil
	default:
		ms, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return nil, nil // not a number Kafka would accept: nothing to judge
		}
		if ms < 0 {
			why = fmt.Sprintf("keeps records forever (retention.ms=%s), beyond the %s limit", raw, c.max)
			break
		}
		kept = time.Duration(ms) * time.Millisecond
		if kept <= c.max {
			return nil, nil
		}
		why = fmt.Sprintf("keeps records %s (retention.ms=%s), beyond the %s limit", kept, raw, c.max)
	}
	carried, err := env.Carries(ctx, subject.URN, c.Classification)
	if err != nil || !carried.Any() {
		return nil, err
	}
	ev := evidenceOf(carried)
	ev["max"] = c.max.String()
	if hasRetention {
		ev["retentionMs"] = raw
	}
	if kept > 0 {
		ev["retention"] = kept.String()
	}
	if cleanup != "" {
		ev["cleanupPolicy"] = cleanup
	}
	return &Finding{
		Message:         fmt.Sprintf("%s carries %s (%s) and %s", describe(subject), c.Classification, strings.Join(carried.Classifications, ", "), why),
		Classifications: carried.Classifications,
		Evidence:        ev,
	}, nil
}

// --- pii-sink-allowlist ------------------------------------------------------

// sinkAllowlist judges sinks: tables and datasets fed from Kafka (some
// topic lies upstream of them). One violates when the classification
// reaches it — upstream of it along edges that let the classification
// through lies an asset carrying it (a topic through its fields, a field,
// a column), or it carries the classification itself (propagated) — and
// neither it nor the connector or job writing it is on the allowlist.
type sinkAllowlist struct {
	Allow          []string `json:"allow"`
	Classification string   `json:"classification"`
}

// maxOrigins bounds the origins listed in a sink's evidence.
const maxOrigins = 10

func compileSinkAllowlist(params map[string]any) (Check, error) {
	var c sinkAllowlist
	if err := decodeParams(params, &c); err != nil {
		return nil, err
	}
	if err := checkAllow(c.Allow); err != nil {
		return nil, err
	}
	if err := checkClassification(&c.Classification); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *sinkAllowlist) Kinds() []catalog.Kind {
	return []catalog.Kind{catalog.KindTable, catalog.KindDataset}
}

func (c *sinkAllowlist) Affected(ctx context.Context, env *Env, ch catalog.Change) ([]catalog.URN, error) {
	var from catalog.URN
	switch {
	case ch.Type.Family("lineage.edge"):
		d, err := ch.EdgeData()
		if err != nil || !d.Kind.Flow() {
			return nil, nil
		}
		from = d.To
	case ch.Type.Family("classification") || ch.Type.Family("asset") || ch.Type == catalog.SchemaVersionAdded:
		if ch.Type == catalog.ClassificationDefined {
			return nil, nil
		}
		from = DatasetOf(ch.Subject)
	default:
		return nil, nil
	}
	return c.sinksFrom(ctx, env, from)
}

// sinksFrom lists from (when it is a sink kind) and the sinks downstream
// of it.
func (c *sinkAllowlist) sinksFrom(ctx context.Context, env *Env, from catalog.URN) ([]catalog.URN, error) {
	var out []catalog.URN
	if containsKind(c.Kinds(), from.Kind()) {
		out = append(out, from)
	}
	hops, err := env.Downstream(ctx, from, 0)
	if err != nil {
		return nil, err
	}
	for _, h := range hops {
		if containsKind(c.Kinds(), h.Kind) {
			out = append(out, h.URN)
		}
	}
	return out, nil
}

func (c *sinkAllowlist) Evaluate(ctx context.Context, env *Env, subject catalog.Entity, _ *catalog.Change) (*Finding, error) {
	hops, err := env.Reaching(ctx, subject.URN, c.Classification)
	if err != nil {
		return nil, err
	}
	fed := false
	for _, h := range hops {
		if h.Kind == catalog.KindTopic {
			fed = true
			break
		}
	}
	if !fed || allowed(c.Allow, subject) {
		return nil, nil // not fed from Kafka (a source, not a sink), or approved
	}
	writers, err := writersOf(ctx, env, subject.URN)
	if err != nil {
		return nil, err
	}
	for _, w := range writers {
		if allowed(c.Allow, w) {
			return nil, nil
		}
	}
	var classes []string
	var origins []any
	var path []catalog.URN
	own, err := env.Carries(ctx, subject.URN, c.Classification)
	if err != nil {
		return nil, err
	}
	for _, n := range own.Classifications {
		classes = appendUnique(classes, n)
	}
	sort.Slice(hops, func(i, j int) bool {
		if hops[i].Depth != hops[j].Depth {
			return hops[i].Depth < hops[j].Depth
		}
		return hops[i].URN < hops[j].URN
	})
	for _, h := range hops {
		switch h.Kind {
		case catalog.KindTopic, catalog.KindTable, catalog.KindDataset, catalog.KindField, catalog.KindColumn:
		default:
			continue
		}
		carried, err := env.Carries(ctx, h.URN, c.Classification)
		if err != nil {
			return nil, err
		}
		if !carried.Any() {
			continue
		}
		for _, n := range carried.Classifications {
			classes = appendUnique(classes, n)
		}
		if path == nil {
			path = h.Path
		}
		if len(origins) < maxOrigins {
			ev := evidenceOf(carried)
			ev["urn"] = string(h.URN)
			ev["path"] = urnsAny(h.Path)
			origins = append(origins, ev)
		}
	}
	if len(classes) == 0 {
		return nil, nil
	}
	sort.Strings(classes)
	via := ""
	var writerURNs []catalog.URN
	for _, w := range writers {
		writerURNs = append(writerURNs, w.URN)
	}
	if len(writers) > 0 {
		via = " through " + describe(writers[0])
	}
	ev := map[string]any{
		"sink": string(subject.URN), "sinkKind": string(subject.Kind), "sinkName": subject.Name,
		"classifications": stringsAny(classes), "origins": origins, "writers": urnsAny(writerURNs),
	}
	if path != nil {
		ev["path"] = urnsAny(path)
	}
	return &Finding{
		Message:         fmt.Sprintf("%s (%s) reaches %s%s, which is not an approved sink", c.Classification, strings.Join(classes, ", "), describe(subject), via),
		Classifications: classes,
		Evidence:        ev,
	}, nil
}

// writersOf lists the connectors and jobs that write urn: the Via of the
// pair edges into it and the connectors or jobs whose flow edges end at it,
// sorted by URN.
func writersOf(ctx context.Context, env *Env, urn catalog.URN) ([]catalog.Entity, error) {
	edges, err := env.Edges(ctx, urn, catalog.Upstream, catalog.EdgeSinks, catalog.EdgeDerives, catalog.EdgeProduces)
	if err != nil {
		return nil, err
	}
	seen := map[catalog.URN]bool{}
	var urns []catalog.URN
	add := func(u catalog.URN) {
		if k := u.Kind(); (k == catalog.KindConnector || k == catalog.KindJob) && !seen[u] {
			seen[u] = true
			urns = append(urns, u)
		}
	}
	for _, e := range edges {
		add(e.From)
		for _, v := range e.Via() {
			add(v)
		}
	}
	sort.Slice(urns, func(i, j int) bool { return urns[i] < urns[j] })
	return env.Entities(ctx, urns)
}
