package schemaregistry

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/schemaparse"
)

// Origins of the links a snapshot asserts.
const (
	// OriginRegistry marks what the registry states: registry CONTAINS
	// subject, subject HAS_SCHEMA version.
	OriginRegistry = "registry"
	// OriginTopicNameStrategy marks topic HAS_SCHEMA subject derived from
	// the subject's name, <topic>-key or <topic>-value.
	OriginTopicNameStrategy = "topic-name-strategy"
	// OriginSampledRecords marks topic HAS_SCHEMA subject derived from the
	// schema IDs that sampled records carry.
	OriginSampledRecords = "sampled-records"
	// OriginSchema marks CONTAINS links between a topic and the fields of
	// its schema, and between fields.
	OriginSchema = "schema"
)

// Confidence of the links.
const (
	confidenceRegistry = 1.0
	// A subject named after the topic is what the serializers' default
	// strategy writes to, but nothing proves that producers use it.
	confidenceTopicNameStrategy = 0.9
	// Sampled records carry a schema ID registered under a subject whose
	// name fits RecordNameStrategy or TopicRecordNameStrategy for the topic.
	confidenceSampledStrategy = 0.8
	// Sampled records carry a schema ID registered under a subject whose
	// name fits no strategy for the topic (the same schema registered
	// elsewhere, a custom strategy).
	confidenceSampledOther = 0.6
)

// ScopeSampling is a snapshot scope that holds nothing; when sampling fails
// as a whole it is listed in Snapshot.Incomplete with the reason, so that
// the crawl run shows it.
const ScopeSampling = "sampling"

// maxSchemaText bounds the schema text kept on a SCHEMA_VERSION asset.
const maxSchemaText = 64 << 10

// maxIDLookups bounds the registry lookups of sampled schema IDs that no
// selected subject has, per crawl.
const maxIDLookups = 100

// builder turns what a crawl read into a snapshot.
type builder struct {
	c        *crawl
	st       *registryState
	source   string
	cluster  string
	snap     catalog.Snapshot
	bindings map[string]*topicBinding
	// blocked topics are not re-asserted: their scope is incomplete and
	// the store keeps their facet as it was.
	blocked map[string]bool
	// samples are the samples in effect, fresh or remembered.
	samples   map[string]*topicSample
	bySubject map[string]*subjectInfo
}

// topicBinding is what binds subjects to one topic.
type topicBinding struct {
	parts [2]partBinding
}

// partBinding binds subjects to the key or value of a topic.
type partBinding struct {
	// tns is the readable subject named <topic>-<part>.
	tns *subjectInfo
	// tnsUnreadable says that subject exists but could not be read: the
	// part's binding is unknown this time.
	tnsUnreadable bool
	// sampled are subjects whose schema IDs sampled records carry, with the
	// confidence of the binding (only when tns is nil).
	sampled map[*subjectInfo]float64
	drift   []map[string]any
}

// effective returns the one subject whose latest schema describes the part:
// the TopicNameStrategy subject, else the only sampled one; nil otherwise.
func (pb *partBinding) effective() (*subjectInfo, string) {
	if pb.tns != nil {
		return pb.tns, OriginTopicNameStrategy
	}
	if len(pb.sampled) == 1 {
		for s := range pb.sampled {
			return s, OriginSampledRecords
		}
	}
	return nil, ""
}

func newBuilder(c *crawl, st *registryState) *builder {
	b := &builder{
		c: c, st: st, source: c.cr.source, cluster: c.cr.cfg.Cluster,
		bindings:  map[string]*topicBinding{},
		blocked:   map[string]bool{},
		samples:   map[string]*topicSample{},
		bySubject: make(map[string]*subjectInfo, len(st.subjects)),
	}
	for _, s := range st.subjects {
		b.bySubject[s.name] = s
	}
	b.snap.Incomplete = map[string]string{}
	b.registry()
	for _, s := range st.subjects {
		b.subject(s)
	}
	for name, reason := range st.failed {
		b.incomplete(SubjectScope(name), reason)
	}
	return b
}

func (b *builder) incomplete(scope, reason string) {
	if prev, ok := b.snap.Incomplete[scope]; ok && prev != reason {
		if strings.Contains(prev, reason) {
			return
		}
		reason = prev + "; " + reason
	}
	b.snap.Incomplete[scope] = reason
}

func (b *builder) registry() {
	urls := b.c.s.urls
	props := catalog.Properties{"url": urls[0], "subjectCount": len(b.st.subjects) + len(b.st.failed)}
	if len(urls) > 1 {
		props["urls"] = stringsAny(urls)
	}
	if b.st.globalCompat != "" {
		props["compatibility"] = b.st.globalCompat
	}
	if b.st.globalMode != "" {
		props["mode"] = b.st.globalMode
	}
	b.snap.Assets = append(b.snap.Assets, catalog.Asset{URN: RegistryURN(b.source), Name: b.source, Properties: props})
}

func (b *builder) subject(s *subjectInfo) {
	scope := SubjectScope(s.name)
	su := SubjectURN(b.source, s.name)
	latest := s.latest()
	props := catalog.Properties{
		"schemaType":     string(latest.schemaType),
		"latestVersion":  latest.version,
		"latestSchemaId": latest.id,
		"versions":       len(s.versions),
	}
	if s.compat != "" {
		props["compatibility"] = s.compat
		props["compatibilitySource"] = s.compatSource
	}
	if s.mode != "" {
		props["mode"] = s.mode
		props["modeSource"] = s.modeSource
	}
	if latest.recordName != "" {
		props["recordName"] = latest.recordName
	}
	b.snap.Assets = append(b.snap.Assets, catalog.Asset{URN: su, Name: s.name, Description: latest.doc, Properties: props, Scope: scope})
	b.snap.Links = append(b.snap.Links, catalog.Link{From: RegistryURN(b.source), Kind: catalog.EdgeContains, To: su,
		Origin: OriginRegistry, Confidence: confidenceRegistry, Scope: scope})
	for _, v := range s.versions {
		vu := SchemaURN(b.source, s.name, v.version)
		vp := catalog.Properties{
			"subject":    s.name,
			"version":    v.version,
			"schemaId":   v.id,
			"schemaType": string(v.schemaType),
		}
		text, truncated := truncateText(v.text, maxSchemaText)
		vp["schema"] = text
		if truncated {
			vp["schemaTruncated"] = true
			vp["schemaBytes"] = len(v.text)
		}
		if len(v.refs) > 0 {
			refs := make([]any, len(v.refs))
			for i, r := range v.refs {
				refs[i] = map[string]any{"name": r.Name, "subject": r.Subject, "version": r.Version}
			}
			vp["references"] = refs
		}
		if v.parseErr != "" {
			vp["parseError"] = v.parseErr
		} else {
			vp["fieldCount"] = v.fieldCount
			if v.recordName != "" {
				vp["recordName"] = v.recordName
			}
		}
		b.snap.Assets = append(b.snap.Assets, catalog.Asset{URN: vu, Name: fmt.Sprintf("%s v%d", s.name, v.version),
			Description: v.doc, Properties: vp, Scope: scope})
		b.snap.Links = append(b.snap.Links, catalog.Link{From: su, Kind: catalog.EdgeHasSchema, To: vu,
			Origin: OriginRegistry, Confidence: confidenceRegistry, Scope: scope})
	}
}

// truncateText cuts s to at most max bytes on a UTF-8 boundary.
func truncateText(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], true
}

func (b *builder) binding(topic string) *topicBinding {
	tb := b.bindings[topic]
	if tb == nil {
		tb = &topicBinding{}
		b.bindings[topic] = tb
	}
	return tb
}

// bindByName binds every subject named <topic>-key or <topic>-value to its
// topic. A topic whose such subject cannot be read is blocked: its scope is
// incomplete and its facet kept as it was.
func (b *builder) bindByName(context.Context) {
	for _, s := range b.st.subjects {
		if t, part, ok := topicNameStrategy(s.name); ok {
			b.binding(t).parts[partIdx(part)].tns = s
		}
	}
	failed := make([]string, 0, len(b.st.failed))
	for name := range b.st.failed {
		failed = append(failed, name)
	}
	sort.Strings(failed)
	for _, name := range failed {
		if t, part, ok := topicNameStrategy(name); ok {
			b.binding(t).parts[partIdx(part)].tnsUnreadable = true
			b.incomplete(TopicScope(t), fmt.Sprintf("subject %s could not be read", name))
			b.blocked[t] = true
		}
	}
}

func partIdx(part string) int {
	if part == PartKey {
		return 0
	}
	return 1
}

// sampleSpec tells sampling which schema IDs are Protobuf and which topic
// parts are bound to a JSON schema.
func (b *builder) sampleSpec(ctx context.Context) sampleSpec {
	spec := sampleSpec{protobufIDs: map[int]bool{}, shapes: map[string][2]*jsonShape{}}
	for id, vs := range b.st.byID {
		for _, v := range vs {
			if v.schemaType == schemaparse.Protobuf {
				spec.protobufIDs[id] = true
			}
		}
	}
	for t, tb := range b.bindings {
		var shapes [2]*jsonShape
		found := false
		for i := 0; i < numParts; i++ {
			s := tb.parts[i].tns
			if s == nil || s.latest().schemaType != schemaparse.JSON {
				continue
			}
			if sch := b.c.schemaOf(ctx, b.st, s.latest()); sch != nil {
				shapes[i] = newJSONShape(sch)
				found = true
			}
		}
		if found {
			spec.shapes[t] = shapes
		}
	}
	return spec
}

// applySamples puts the samples in effect (fresh, or remembered for topics
// that could not be sampled now) into the bindings: subjects bound by
// sampled schema IDs, and drift.
func (b *builder) applySamples(ctx context.Context, o *sampleOutcome) {
	if o == nil {
		return
	}
	if o.err != nil {
		b.incomplete(ScopeSampling, o.err.Error())
		affected := b.c.cr.previousSampledTopics()
		for t := range b.bindings {
			affected = append(affected, t)
		}
		for _, t := range affected {
			b.failSample(t, "sample records: "+o.err.Error())
		}
	} else {
		for t, ts := range o.topics {
			b.samples[t] = ts
		}
		for t, reason := range o.failed {
			b.failSample(t, reason)
		}
	}
	lookups := b.lookupUnknownIDs(ctx)
	topics := make([]string, 0, len(b.samples))
	for t := range b.samples {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		b.bindSampled(t, b.samples[t], lookups)
	}
}

// failSample marks topic's scope incomplete and uses its remembered sample,
// or blocks the topic when there is none.
func (b *builder) failSample(topic, reason string) {
	b.incomplete(TopicScope(topic), reason)
	if prev := b.c.cr.previousSample(topic); prev != nil {
		b.samples[topic] = prev
		return
	}
	b.blocked[topic] = true
}

// idLookup is what the registry said of a schema ID no selected subject has.
type idLookup struct {
	subjects []string // subjects registering it (possibly unselected)
	err      error
}

// lookupUnknownIDs asks the registry about sampled schema IDs that no
// readable, selected subject has, at most maxIDLookups of them.
func (b *builder) lookupUnknownIDs(ctx context.Context) map[int]*idLookup {
	seen := map[int]bool{}
	var ids []int
	for _, ts := range b.samples {
		for i := 0; i < numParts; i++ {
			for id := range ts.ids[i] {
				if len(b.st.byID[id]) == 0 && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		}
	}
	sort.Ints(ids)
	if len(ids) > maxIDLookups {
		b.c.logger.Info("too many unknown sampled schema ids; looking up the first ones only", "ids", len(ids), "limit", maxIDLookups)
		ids = ids[:maxIDLookups]
	}
	results := make([]*idLookup, len(ids))
	forEach(ctx, len(ids), fetchConcurrency, func(i int) {
		svs, err := b.c.lookupID(ctx, ids[i])
		l := &idLookup{err: err}
		for _, sv := range svs {
			l.subjects = append(l.subjects, sv.Subject)
		}
		sort.Strings(l.subjects)
		l.subjects = dedupeSorted(l.subjects)
		results[i] = l
	})
	out := make(map[int]*idLookup, len(ids))
	for i, id := range ids {
		if results[i] != nil {
			out[id] = results[i]
		}
	}
	return out
}

func dedupeSorted(ss []string) []string {
	if len(ss) < 2 {
		return ss
	}
	out := ss[:1]
	for _, s := range ss[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}

// bindSampled binds subjects to the parts of topic that TopicNameStrategy
// does not bind, by the schema IDs its records carry, and records drift:
// IDs that the bound subject does not register, IDs the registry does not
// know, records without wire format where the schema needs it, JSON field
// names the schema lacks.
func (b *builder) bindSampled(topic string, ts *topicSample, lookups map[int]*idLookup) {
	tb := b.bindings[topic]
	for i := 0; i < numParts; i++ {
		part := partName(i)
		var pb *partBinding
		if tb != nil {
			pb = &tb.parts[i]
			if pb.tnsUnreadable {
				continue
			}
		}
		var drift []map[string]any
		sampled := map[*subjectInfo]float64{}
		for _, id := range ts.sortedIDs(i) {
			vs := b.st.byID[id]
			if len(vs) == 0 {
				l := lookups[id]
				switch {
				case l == nil:
					// Beyond the lookup budget: say nothing.
				case l.err != nil:
					b.incomplete(TopicScope(topic), fmt.Sprintf("resolve sampled schema id %d: %v", id, l.err))
					b.blocked[topic] = true
				case len(l.subjects) == 0:
					drift = append(drift, map[string]any{"kind": "unknown-schema-id", "part": part, "schemaId": id})
				case b.anyFailed(l.subjects):
					b.incomplete(TopicScope(topic), fmt.Sprintf("sampled schema id %d belongs to a subject that could not be read", id))
					b.blocked[topic] = true
				case pb != nil && pb.tns != nil:
					drift = append(drift, map[string]any{"kind": "unregistered-schema-id", "part": part, "schemaId": id,
						"subject": pb.tns.name, "registeredUnder": stringsAny(l.subjects)})
				}
				continue
			}
			if pb != nil && pb.tns != nil {
				if !registers(pb.tns, id) {
					drift = append(drift, map[string]any{"kind": "unregistered-schema-id", "part": part, "schemaId": id,
						"subject": pb.tns.name, "registeredUnder": stringsAny(subjectNames(vs))})
				}
				continue
			}
			for s, conf := range b.candidates(topic, vs) {
				if conf > sampled[s] {
					sampled[s] = conf
				}
			}
		}
		if pb != nil && pb.tns != nil && ts.notWire[i] > 0 {
			if t := pb.tns.latest().schemaType; t == schemaparse.Avro || t == schemaparse.Protobuf {
				drift = append(drift, map[string]any{"kind": "not-wire-format", "part": part, "subject": pb.tns.name})
			}
		}
		if pb != nil && pb.tns != nil {
			for _, p := range sortedKeys(ts.unknowns[i]) {
				drift = append(drift, map[string]any{"kind": "unknown-field", "part": part, "subject": pb.tns.name, "path": p})
			}
		}
		if len(sampled) > 0 || len(drift) > 0 {
			tb = b.binding(topic)
			pb = &tb.parts[i]
			if len(sampled) > 0 {
				pb.sampled = sampled
			}
			pb.drift = drift
		}
	}
}

func (b *builder) anyFailed(subjects []string) bool {
	for _, s := range subjects {
		if _, bad := b.st.failed[s]; bad {
			return true
		}
	}
	return false
}

// registers reports whether s has a live version with schema id.
func registers(s *subjectInfo, id int) bool {
	for _, v := range s.versions {
		if v.id == id {
			return true
		}
	}
	return false
}

func subjectNames(vs []*versionInfo) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.subject)
	}
	sort.Strings(out)
	return dedupeSorted(out)
}

// candidates returns the subjects that a schema ID seen in topic binds,
// among the versions vs registering it: those whose name fits
// RecordNameStrategy (the record name) or TopicRecordNameStrategy
// (<topic>-<record name>) for the version's record, else all of them, with
// lower confidence. Subjects named by TopicNameStrategy after another topic
// count among "all of them".
func (b *builder) candidates(topic string, vs []*versionInfo) map[*subjectInfo]float64 {
	fit := map[*subjectInfo]float64{}
	other := map[*subjectInfo]float64{}
	for _, v := range vs {
		s := b.bySubject[v.subject]
		if s == nil {
			continue
		}
		if v.recordName != "" && (v.subject == v.recordName || v.subject == topic+"-"+v.recordName) {
			fit[s] = confidenceSampledStrategy
		} else {
			other[s] = confidenceSampledOther
		}
	}
	if len(fit) > 0 {
		return fit
	}
	return other
}

// finish asserts every bound topic: its facet, its HAS_SCHEMA links and the
// fields of the subjects that describe it, and returns the snapshot.
func (b *builder) finish(ctx context.Context) catalog.Snapshot {
	topics := make([]string, 0, len(b.bindings))
	for t := range b.bindings {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		b.topic(ctx, t, b.bindings[t])
	}
	if len(b.snap.Incomplete) == 0 {
		b.snap.Incomplete = nil
	}
	return b.snap
}

func (b *builder) topic(ctx context.Context, topic string, tb *topicBinding) {
	tu := TopicURN(b.cluster, topic)
	tscope := TopicScope(topic)
	props := catalog.Properties{}
	bound := false
	var drift []any
	for i := 0; i < numParts; i++ {
		part := partName(i)
		pb := &tb.parts[i]
		if pb.tns != nil {
			bound = true
			b.snap.Links = append(b.snap.Links, catalog.Link{From: tu, Kind: catalog.EdgeHasSchema, To: SubjectURN(b.source, pb.tns.name),
				Origin: OriginTopicNameStrategy, Confidence: confidenceTopicNameStrategy, Scope: SubjectScope(pb.tns.name)})
		}
		var names []string
		for s, conf := range pb.sampled {
			bound = true
			names = append(names, s.name)
			b.snap.Links = append(b.snap.Links, catalog.Link{From: tu, Kind: catalog.EdgeHasSchema, To: SubjectURN(b.source, s.name),
				Origin: OriginSampledRecords, Confidence: conf, Scope: tscope})
		}
		sort.Strings(names)
		if len(names) > 1 {
			props[part+"SchemaSubjects"] = stringsAny(names)
		}
		for _, d := range pb.drift {
			drift = append(drift, d)
		}
		s, origin := pb.effective()
		if s == nil {
			continue
		}
		latest := s.latest()
		props[part+"SchemaSubject"] = s.name
		props[part+"SchemaId"] = latest.id
		props[part+"SchemaVersion"] = latest.version
		props[part+"SchemaType"] = string(latest.schemaType)
		props[part+"SchemaBinding"] = origin
		if latest.recordName != "" {
			props[part+"SchemaName"] = latest.recordName
		}
		scope := SubjectScope(s.name)
		if origin == OriginSampledRecords {
			scope = tscope
		}
		if sch := b.c.schemaOf(ctx, b.st, latest); sch != nil {
			b.fields(tu, topic, part, s, latest, sch, scope)
		}
	}
	if !bound || b.blocked[topic] {
		return
	}
	var live catalog.Properties
	if ts := b.samples[topic]; ts != nil {
		ids := map[string]any{}
		var messages []any
		for i := 0; i < numParts; i++ {
			part := partName(i)
			if sorted := ts.sortedIDs(i); len(sorted) > 0 {
				ids[part] = intsAny(sorted)
			}
			messages = append(messages, b.protobufMessages(ctx, ts, i)...)
		}
		if len(ids) > 0 {
			props["sampledSchemaIds"] = ids
		}
		if len(messages) > 0 {
			props["sampledProtobufMessages"] = messages
		}
		live = catalog.Properties{"sampledRecords": ts.records}
	}
	if len(drift) > 0 {
		props["schemaDrift"] = drift
	}
	b.snap.Assets = append(b.snap.Assets, catalog.Asset{URN: tu, Name: topic, Properties: props, Live: live, Scope: tscope})
}

// protobufMessages names the messages that sampled Protobuf records of part
// i were written with.
func (b *builder) protobufMessages(ctx context.Context, ts *topicSample, i int) []any {
	ids := make([]int, 0, len(ts.indexes[i]))
	for id := range ts.indexes[i] {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var out []any
	for _, id := range ids {
		lists := append([][]int(nil), ts.indexes[i][id]...)
		sort.Slice(lists, func(a, c int) bool { return indexesKey(lists[a]) < indexesKey(lists[c]) })
		for _, idx := range lists {
			m := map[string]any{"part": partName(i), "schemaId": id, "messageIndexes": intsAny(idx)}
			if vs := b.st.byID[id]; len(vs) > 0 {
				if name := b.c.protobufMessageName(ctx, b.st, vs[0], idx); name != "" {
					m["messageName"] = name
				}
			}
			out = append(out, m)
		}
	}
	return out
}

// fields asserts the field tree of schema sch (version v of subject s) as
// the fields of part of topic, with the CONTAINS hierarchy. A field whose
// URN would exceed catalog.MaxURNLength is left out with its descendants.
func (b *builder) fields(tu catalog.URN, topic, part string, s *subjectInfo, v *versionInfo, sch *schemaparse.Schema, scope string) {
	emitted := make(map[string]catalog.URN, len(sch.Fields))
	omitted := 0
	for _, f := range sch.Fields {
		parent := tu
		if f.Parent != "" {
			pu, ok := emitted[f.Parent]
			if !ok {
				omitted++
				continue
			}
			parent = pu
		}
		fu := FieldURN(b.cluster, topic, part, f.Path)
		if fu.Validate() != nil {
			omitted++
			continue
		}
		emitted[f.Path] = fu
		props := catalog.Properties{
			"path":       f.Path,
			"part":       part,
			"type":       f.Type,
			"nullable":   f.Nullable,
			"recursive":  f.Recursive,
			"schemaType": string(v.schemaType),
			"subject":    s.name,
			"version":    v.version,
		}
		if f.Doc != "" {
			props["doc"] = f.Doc
		}
		if f.HasDefault {
			props["default"] = f.Default
		}
		if len(f.Props) > 0 {
			props["props"] = map[string]any(f.Props)
		}
		var classes []catalog.SourceClassification
		if len(f.Tags) > 0 {
			props["schemaTags"] = stringsAny(f.Tags)
			for _, tag := range f.Tags {
				if catalog.ValidClassificationName(tag) == nil {
					classes = append(classes, catalog.SourceClassification{Name: tag, Source: catalog.AttachSchemaTag})
				}
			}
		}
		b.snap.Assets = append(b.snap.Assets, catalog.Asset{URN: fu, Name: f.Name, Description: f.Doc,
			Properties: props, Classifications: classes, Scope: scope})
		b.snap.Links = append(b.snap.Links, catalog.Link{From: parent, Kind: catalog.EdgeContains, To: fu,
			Origin: OriginSchema, Confidence: confidenceRegistry, Scope: scope})
	}
	if omitted > 0 {
		b.c.logger.Warn("fields left out: their URNs would be too long", "topic", topic, "part", part, "subject", s.name, "fields", omitted)
	}
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func intsAny(ns []int) []any {
	out := make([]any, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
