package connect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// An SMT chain is evaluated symbolically: instead of records, it moves field
// paths ("after.email") and topic names through each transformation, keeping
// track of which transformations touched each path and whether one masked it.

// smtKind is what a transformation does, as far as lineage is concerned.
type smtKind int

const (
	smtUnknown              smtKind = iota // not understood: assumed to keep topic and fields, at lower confidence
	smtNoop                                // understood, changes nothing we track (headers, schema metadata, partitions)
	smtRegexRouter                         // org.apache.kafka.connect.transforms.RegexRouter
	smtTimestampRouter                     // org.apache.kafka.connect.transforms.TimestampRouter
	smtByLogicalTableRouter                // io.debezium.transforms.ByLogicalTableRouter
	smtEventRouter                         // io.debezium.transforms.outbox.EventRouter
	smtUnwrap                              // io.debezium.transforms.ExtractNewRecordState and friends
	smtReplaceField                        // ReplaceField$Value
	smtMaskField                           // MaskField$Value
	smtFlatten                             // Flatten$Value
	smtHoistField                          // HoistField$Value
	smtInsertField                         // InsertField$Value
	smtTimestampConverter                  // TimestampConverter$Value
	smtCast                                // Cast$Value
	smtExtractField                        // ExtractField$Value
	smtHeaderFrom                          // HeaderFrom$Value
	smtFilter                              // org.apache.kafka.connect.transforms.Filter
	smtContentRouter                       // routes by record content: topic unknowable from config
)

// smtClasses maps transformation classes (without $Value/$Key) to kinds.
var smtClasses = map[string]smtKind{
	"org.apache.kafka.connect.transforms.RegexRouter":                     smtRegexRouter,
	"org.apache.kafka.connect.transforms.TimestampRouter":                 smtTimestampRouter,
	"io.debezium.transforms.ByLogicalTableRouter":                         smtByLogicalTableRouter,
	"io.debezium.transforms.outbox.EventRouter":                           smtEventRouter,
	"io.debezium.connector.mongodb.transforms.outbox.MongoEventRouter":    smtEventRouter,
	"io.debezium.transforms.ExtractNewRecordState":                        smtUnwrap,
	"io.debezium.transforms.UnwrapFromEnvelope":                           smtUnwrap,
	"io.debezium.connector.mongodb.transforms.ExtractNewDocumentState":    smtUnwrap,
	"io.debezium.connector.mongodb.transforms.UnwrapFromMongoDbEnvelope":  smtUnwrap,
	"org.apache.kafka.connect.transforms.ReplaceField":                    smtReplaceField,
	"org.apache.kafka.connect.transforms.MaskField":                       smtMaskField,
	"org.apache.kafka.connect.transforms.Flatten":                         smtFlatten,
	"org.apache.kafka.connect.transforms.HoistField":                      smtHoistField,
	"org.apache.kafka.connect.transforms.InsertField":                     smtInsertField,
	"org.apache.kafka.connect.transforms.TimestampConverter":              smtTimestampConverter,
	"org.apache.kafka.connect.transforms.Cast":                            smtCast,
	"org.apache.kafka.connect.transforms.ExtractField":                    smtExtractField,
	"org.apache.kafka.connect.transforms.HeaderFrom":                      smtHeaderFrom,
	"org.apache.kafka.connect.transforms.Filter":                          smtFilter,
	"org.apache.kafka.connect.transforms.ValueToKey":                      smtNoop,
	"org.apache.kafka.connect.transforms.SetSchemaMetadata":               smtNoop,
	"org.apache.kafka.connect.transforms.InsertHeader":                    smtNoop,
	"org.apache.kafka.connect.transforms.DropHeaders":                     smtNoop,
	"io.debezium.transforms.HeaderToValue":                                smtNoop,
	"io.debezium.transforms.Filter":                                       smtNoop,
	"io.debezium.transforms.ExtractChangedRecordState":                    smtNoop,
	"io.debezium.transforms.SchemaChangeEventFilter":                      smtNoop,
	"io.debezium.transforms.partitions.PartitionRouting":                  smtNoop,
	"io.debezium.transforms.partitions.ComputePartition":                  smtNoop,
	"io.debezium.transforms.tracing.ActivateTracingSpan":                  smtNoop,
	"io.confluent.connect.transforms.TombstoneHandler":                    smtNoop,
	"io.debezium.transforms.ContentBasedRouter":                           smtContentRouter,
	"io.confluent.connect.transforms.ExtractTopic":                        smtContentRouter,
	"io.debezium.connector.postgresql.transforms.timescaledb.TimescaleDb": smtNoop,
	"io.debezium.transforms.TimezoneConverter":                            smtNoop,
	"io.debezium.connector.mysql.transforms.ReadToInsertEvent":            smtNoop,
	"io.debezium.transforms.VectorToJsonConverter":                        smtNoop,
	"io.debezium.transforms.openlineage.OpenLineage":                      smtNoop,
	"io.confluent.connect.transforms.Filter":                              smtNoop,
	"io.confluent.connect.transforms.MessageTimestampRouter":              smtContentRouter,
	"io.confluent.connect.cloud.transforms.TopicRegexRouter":              smtRegexRouter,
}

// predicateKind is a Kafka Connect predicate type.
type predicateKind int

const (
	predUnknown predicateKind = iota
	predTopicNameMatches
	predRecordIsTombstone
	predHasHeaderKey
)

type predicate struct {
	name    string
	kind    predicateKind
	class   string
	pattern *regexp.Regexp // TopicNameMatches
}

// transform is one parsed SMT of a connector's chain.
type transform struct {
	alias   string
	class   string // as configured, with $Value/$Key
	kind    smtKind
	keySide bool
	pred    *predicate
	negate  bool

	// routers
	regex    *regexp.Regexp
	regexSrc string // the Java pattern as configured
	repl     javaReplacement
	outTopic *regexp.Regexp // topics an EventRouter/TimestampRouter may produce
	tsFormat string         // TimestampRouter topic.format

	// field transforms
	fields    []string          // MaskField fields, HeaderFrom fields
	include   map[string]bool   // ReplaceField include
	exclude   map[string]bool   // ReplaceField exclude
	renames   map[string]string // ReplaceField old → new
	renamedTo map[string]string // ReplaceField new → old
	field     string            // HoistField, ExtractField, TimestampConverter
	delimiter string            // Flatten
	inserted  map[string]bool   // InsertField / unwrap added fields
	casts     []string          // Cast fields; empty with castAll
	castAll   bool
	move      bool // HeaderFrom operation=move

	// unwrap
	rewriteDeletes bool

	// outbox
	payloadColumn    string
	envelopeFields   map[string]string // column → alias, for envelope placement
	hasEnvelopeField bool
	outboxColumns    []string // every column the router reads
}

// chain is a connector's SMT chain in order.
type chain struct {
	transforms []*transform
	// problems make the connector's lineage incomplete (bad regex, missing
	// type); notes explain approximations to a steward.
	problems []string
	notes    []string
}

// parseChain reads transforms, transforms.<alias>.* and predicates.* from a
// connector config.
func parseChain(cfg map[string]string) chain {
	var ch chain
	for _, alias := range splitList(cfg["transforms"]) {
		t, err := parseTransform(cfg, alias)
		if err != nil {
			ch.problems = append(ch.problems, err.Error())
			continue
		}
		switch {
		case t.keySide:
			ch.notes = append(ch.notes, fmt.Sprintf("transform %q (%s) acts on record keys; value lineage ignores it", alias, t.class))
		case t.kind == smtUnknown:
			ch.notes = append(ch.notes, fmt.Sprintf("transform %q (%s) is not understood; lineage through it assumes it keeps topics and fields and has confidence %.1f", alias, t.class, confidenceResolved))
		case t.kind == smtContentRouter:
			ch.notes = append(ch.notes, fmt.Sprintf("transform %q (%s) names topics from record content; its topics are taken from what Connect reports", alias, t.class))
		}
		if t.pred != nil && (t.pred.kind == predHasHeaderKey || t.pred.kind == predUnknown) {
			ch.notes = append(ch.notes, fmt.Sprintf("transform %q runs only when predicate %q (%s) holds, which depends on record content; lineage assumes it may apply (and never counts it as masking)", alias, t.pred.name, t.pred.class))
		}
		ch.transforms = append(ch.transforms, t)
	}
	return ch
}

func parseTransform(cfg map[string]string, alias string) (*transform, error) {
	prefix := "transforms." + alias + "."
	get := func(k string) string { return strings.TrimSpace(cfg[prefix+k]) }
	class := get("type")
	if class == "" {
		return nil, fmt.Errorf("transform %q has no %stype", alias, prefix)
	}
	t := &transform{alias: alias, class: class}
	base := class
	if b, ok := strings.CutSuffix(class, "$Value"); ok {
		base = b
	} else if b, ok := strings.CutSuffix(class, "$Key"); ok {
		base, t.keySide = b, true
	}
	t.kind = smtClasses[base]
	if t.keySide {
		t.kind = smtNoop
	}
	if name := get("predicate"); name != "" {
		p, err := parsePredicate(cfg, name)
		if err != nil {
			return nil, fmt.Errorf("transform %q: %w", alias, err)
		}
		t.pred = p
		t.negate = strings.EqualFold(get("negate"), "true")
	}
	var err error
	switch t.kind {
	case smtRegexRouter:
		t.regexSrc = get("regex")
		t.regex, t.repl, err = compileRouter(t.regexSrc, get("replacement"), false)
	case smtByLogicalTableRouter:
		t.regexSrc = get("topic.regex")
		t.regex, t.repl, err = compileRouter(t.regexSrc, get("topic.replacement"), false)
	case smtTimestampRouter:
		t.tsFormat = valueOr(get("topic.format"), "${topic}-${timestamp}")
	case smtEventRouter:
		err = t.parseEventRouter(get)
	case smtUnwrap:
		t.parseUnwrap(get)
	case smtReplaceField:
		t.include = setOf(firstNonEmpty(get("include"), get("whitelist"), get("allowlist")))
		t.exclude = setOf(firstNonEmpty(get("exclude"), get("blacklist"), get("blocklist")))
		t.renames, t.renamedTo = map[string]string{}, map[string]string{}
		for _, r := range splitList(get("renames")) {
			oldName, newName, ok := strings.Cut(r, ":")
			if !ok || oldName == "" || newName == "" {
				return nil, fmt.Errorf("transform %q: renames entry %q is not old:new", alias, r)
			}
			t.renames[oldName], t.renamedTo[newName] = newName, oldName
		}
	case smtMaskField:
		t.fields = splitList(get("fields"))
	case smtFlatten:
		t.delimiter = valueOr(cfg[prefix+"delimiter"], ".")
	case smtHoistField:
		t.field = get("field")
		if t.field == "" {
			return nil, fmt.Errorf("transform %q: HoistField needs field", alias)
		}
	case smtExtractField:
		t.field = get("field")
		if t.field == "" {
			return nil, fmt.Errorf("transform %q: ExtractField needs field", alias)
		}
	case smtTimestampConverter:
		t.field = get("field")
	case smtInsertField:
		t.inserted = map[string]bool{}
		for _, k := range []string{"topic.field", "partition.field", "offset.field", "timestamp.field", "static.field"} {
			if f := strings.TrimRight(get(k), "!?"); f != "" {
				t.inserted[f] = true
			}
		}
	case smtCast:
		for _, s := range splitList(get("spec")) {
			if f, _, ok := strings.Cut(s, ":"); ok {
				t.casts = append(t.casts, strings.TrimSpace(f))
			} else {
				t.castAll = true
			}
		}
	case smtHeaderFrom:
		t.fields = splitList(get("fields"))
		t.move = strings.EqualFold(get("operation"), "move")
	}
	if err != nil {
		return nil, fmt.Errorf("transform %q: %w", alias, err)
	}
	return t, nil
}

func parsePredicate(cfg map[string]string, name string) (*predicate, error) {
	prefix := "predicates." + name + "."
	class := strings.TrimSpace(cfg[prefix+"type"])
	if class == "" {
		return nil, fmt.Errorf("predicate %q has no %stype", name, prefix)
	}
	p := &predicate{name: name, class: class}
	switch class {
	case "org.apache.kafka.connect.transforms.predicates.TopicNameMatches":
		p.kind = predTopicNameMatches
		re, err := compileJavaFull(cfg[prefix+"pattern"], false)
		if err != nil {
			return nil, fmt.Errorf("predicate %q pattern: %w", name, err)
		}
		p.pattern = re
	case "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone":
		p.kind = predRecordIsTombstone
	case "org.apache.kafka.connect.transforms.predicates.HasHeaderKey":
		p.kind = predHasHeaderKey
	}
	return p, nil
}

func compileRouter(regex, replacement string, caseInsensitive bool) (*regexp.Regexp, javaReplacement, error) {
	if regex == "" {
		return nil, nil, fmt.Errorf("router needs a regex")
	}
	re, err := compileJavaFull(regex, caseInsensitive)
	if err != nil {
		return nil, nil, err
	}
	repl, err := parseJavaReplacement(replacement, re)
	if err != nil {
		return nil, nil, err
	}
	return re, repl, nil
}

func (t *transform) parseEventRouter(get func(string) string) error {
	// MongoEventRouter names its options collection.* instead of table.*.
	field := func(k, def string) string {
		return valueOr(firstNonEmpty(get("table."+k), get("collection."+k)), def)
	}
	t.payloadColumn = field("field.event.payload", "payload")
	routeBy := valueOr(get("route.by.field"), "aggregatetype")
	t.outboxColumns = []string{field("field.event.id", "id"), field("field.event.key", "aggregateid"), routeBy, t.payloadColumn}
	if ts := field("field.event.timestamp", ""); ts != "" {
		t.outboxColumns = append(t.outboxColumns, ts)
	}
	t.envelopeFields = map[string]string{}
	placements := field("fields.additional.placement", "")
	for _, p := range splitList(placements) {
		parts := strings.Split(p, ":")
		if len(parts) < 2 {
			return fmt.Errorf("fields.additional.placement entry %q is not column:placement[:alias]", p)
		}
		col, where := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		alias := col
		if len(parts) > 2 && strings.TrimSpace(parts[2]) != "" {
			alias = strings.TrimSpace(parts[2])
		}
		t.outboxColumns = append(t.outboxColumns, col)
		if strings.EqualFold(where, "envelope") {
			t.envelopeFields[col] = alias
			t.hasEnvelopeField = true
		}
	}
	re, err := compileJavaFull(valueOr(get("route.topic.regex"), "(?<routedByValue>.*)"), false)
	if err != nil {
		return fmt.Errorf("route.topic.regex: %w", err)
	}
	repl, err := parseJavaReplacement(valueOr(get("route.topic.replacement"), "outbox.event.${routedByValue}"), re)
	if err != nil {
		return fmt.Errorf("route.topic.replacement: %w", err)
	}
	t.outTopic, err = regexp.Compile(`^(?:` + repl.pattern() + `)$`)
	if err != nil {
		return fmt.Errorf("route.topic.replacement: %w", err)
	}
	return nil
}

func (t *transform) parseUnwrap(get func(string) string) {
	prefix := valueOr(get("add.fields.prefix"), "__")
	t.inserted = map[string]bool{"__deleted": true, prefix + "deleted": true}
	for _, f := range splitList(get("add.fields")) {
		name, alias, _ := strings.Cut(f, ":")
		if alias != "" {
			t.inserted[alias] = true
		}
		t.inserted[prefix+strings.ReplaceAll(name, ".", "_")] = true
	}
	mode := strings.ToLower(get("delete.handling.mode"))
	tomb := strings.ToLower(get("delete.tombstone.handling.mode"))
	t.rewriteDeletes = mode == "rewrite" || tomb == "rewrite" || tomb == "rewrite-with-tombstone"
}

// route is where a chain sends a record.
type route struct {
	topic   string         // the topic, when known exactly
	pattern *regexp.Regexp // otherwise, the topics it may be (content-named)
	unknown bool           // otherwise, not knowable from config
	dropped bool           // a Filter drops the records
	via     []string       // aliases of the routers that renamed the topic
}

func (r route) exact() bool { return !r.dropped && !r.unknown && r.pattern == nil }

// mark is a touch that applies to part of a flow: a sub-path of a struct or
// of the whole value.
type mark struct {
	rel     string // path relative to the flow's path; "" means every descendant
	alias   string
	masking bool
}

// flow is one data path through the chain: which source column (or field)
// feeds which value path, which transforms touched it, and whether one of
// them masks it.
type flow struct {
	origin  string // source column name (sources) or source field path (sinks)
	path    string // current value path; "" is the whole value
	sep     string // separator of the path's descendants ("." unless flattened)
	touched []string
	masking bool
	marks   []mark
}

// touch records that the transform alias changed f. An empty alias (a
// connector's built-in behaviour, such as the Debezium JDBC sink reading
// envelopes) records nothing.
func (f flow) touch(alias string) flow {
	if alias == "" {
		return f
	}
	f.touched = appendUnique(append([]string(nil), f.touched...), alias)
	return f
}

// chainRun is the outcome of running a chain for one start topic.
type chainRun struct {
	route   route
	flows   []flow
	applied []bool // per transform: did it apply to this record stream
	// capped is set when an unknown transform was applied: derivations
	// through it are at most confidenceResolved.
	capped bool
	// outbox is the EventRouter that applied, if any.
	outbox *transform
}

// run moves a record stream that starts on topic with the given flows
// through the chain.
func (ch chain) run(topic string, flows []flow) chainRun {
	out := chainRun{route: route{topic: topic}, applied: make([]bool, len(ch.transforms))}
	flows = append([]flow(nil), flows...)
	for i := range flows {
		if flows[i].sep == "" {
			flows[i].sep = "."
		}
	}
	for i, t := range ch.transforms {
		if out.route.dropped {
			break
		}
		apply, certain := t.applies(out.route)
		if !apply || t.keySide {
			continue
		}
		out.applied[i] = true
		switch t.kind {
		case smtUnknown:
			out.capped = true
		case smtRegexRouter, smtByLogicalTableRouter:
			if out.route.exact() {
				if next, ok := javaFullReplace(t.regex, t.repl, out.route.topic); ok {
					out.route.topic = next
					out.route.via = append(out.route.via, t.alias)
				}
			}
		case smtTimestampRouter:
			if out.route.exact() {
				lit := strings.ReplaceAll(t.tsFormat, "${topic}", out.route.topic)
				pat := regexp.QuoteMeta(lit)
				pat = strings.ReplaceAll(pat, regexp.QuoteMeta("${timestamp}"), ".+")
				out.route = route{pattern: regexp.MustCompile(`^(?:` + pat + `)$`), via: append(out.route.via, t.alias)}
			}
		case smtContentRouter:
			out.route = route{unknown: true, via: append(out.route.via, t.alias)}
		case smtEventRouter:
			out.route = route{pattern: t.outTopic, via: append(out.route.via, t.alias)}
			out.outbox = t
		case smtFilter:
			out.route.dropped = true
			flows = nil
		}
		flows = t.moveFlows(flows, certain)
	}
	out.flows = flows
	return out
}

// applies evaluates t's predicate for records on r. certain is false when
// the predicate depends on record content.
func (t *transform) applies(r route) (apply, certain bool) {
	if t.pred == nil {
		return true, true
	}
	switch t.pred.kind {
	case predTopicNameMatches:
		if !r.exact() {
			return true, false
		}
		return t.pred.pattern.MatchString(r.topic) != t.negate, true
	case predRecordIsTombstone:
		// Tombstones carry no fields: only a negated predicate touches data.
		return t.negate, true
	default:
		return true, false
	}
}

// moveFlows applies t to flows.
func (t *transform) moveFlows(flows []flow, certain bool) []flow {
	if t.kind == smtUnwrap {
		return t.unwrap(flows)
	}
	var out []flow
	for _, f := range flows {
		out = append(out, t.moveFlow(f, certain)...)
	}
	return out
}

// unwrap replaces a Debezium envelope by its after (and, when deletes are
// rewritten, before) state; envelope metadata (op, source, ts_ms) is
// dropped. A stream that is not an envelope passes through unchanged, as
// the SMT passes non-envelope records.
func (t *transform) unwrap(flows []flow) []flow {
	envelope := false
	for _, f := range flows {
		envelope = envelope || hasPathPrefix(f.path, "after") || hasPathPrefix(f.path, "before")
	}
	if !envelope {
		return flows
	}
	var out []flow
	for _, f := range flows {
		switch {
		case hasPathPrefix(f.path, "after"):
			f.path = trimPathPrefix(f.path, "after")
			out = append(out, f.touch(t.alias))
		case hasPathPrefix(f.path, "before") && t.rewriteDeletes:
			f.path = trimPathPrefix(f.path, "before")
			out = append(out, f.touch(t.alias))
		}
	}
	return out
}

func (t *transform) moveFlow(f flow, certain bool) []flow {
	switch t.kind {
	case smtEventRouter:
		payload := "after." + t.payloadColumn
		if hasPathPrefix(f.path, payload) {
			rest := trimPathPrefix(f.path, payload)
			if t.hasEnvelopeField {
				f.path = joinPath("payload", rest)
			} else {
				f.path = rest
			}
			return []flow{f.touch(t.alias)}
		}
		for col, alias := range t.envelopeFields {
			if f.path == "after."+col {
				f.path = alias
				return []flow{f.touch(t.alias)}
			}
		}
		return nil
	case smtExtractField:
		switch {
		case f.path == "":
			return []flow{f.touch(t.alias)}
		case hasPathPrefix(f.path, t.field):
			f.path = trimPathPrefix(f.path, t.field)
			return []flow{f.touch(t.alias)}
		}
		return nil
	case smtHoistField:
		f.path = joinPath(t.field, f.path)
		f.sep = "."
		return []flow{f.touch(t.alias)}
	case smtReplaceField:
		return t.replaceField(f)
	case smtMaskField:
		if !certain {
			return []flow{f}
		}
		for _, name := range t.fields {
			f = affect(f, name, t.alias, true)
		}
		return []flow{f}
	case smtFlatten:
		return []flow{t.flatten(f)}
	case smtCast:
		if t.castAll {
			return []flow{f.touch(t.alias)}
		}
		for _, name := range t.casts {
			f = affect(f, name, t.alias, false)
		}
		return []flow{f}
	case smtTimestampConverter:
		if t.field == "" {
			return []flow{f.touch(t.alias)}
		}
		return []flow{affect(f, t.field, t.alias, false)}
	case smtHeaderFrom:
		if t.move {
			for _, name := range t.fields {
				if f.path != "" && hasPathPrefix(f.path, name) {
					return nil
				}
			}
		}
		return []flow{f}
	}
	return []flow{f}
}

func (t *transform) replaceField(f flow) []flow {
	if f.path == "" {
		// The whole value (an outbox payload): renamed fields are touched.
		for newName := range t.renamedTo {
			f.marks = append(f.marks, mark{rel: newName, alias: t.alias})
		}
		return []flow{f}
	}
	top, rest, _ := strings.Cut(f.path, ".")
	if t.exclude[top] || (len(t.include) > 0 && !t.include[top]) {
		return nil
	}
	if newName, ok := t.renames[top]; ok {
		f.path = joinPath(newName, rest)
		return []flow{f.touch(t.alias)}
	}
	return []flow{f}
}

func (t *transform) flatten(f flow) flow {
	if f.path == "" {
		for i, m := range f.marks {
			f.marks[i].rel = flattenPath(m.rel, t.delimiter)
		}
		return f.touch(t.alias)
	}
	next := flattenPath(f.path, t.delimiter)
	if t.delimiter != "." {
		// Descendants of a struct flow are renamed "a_b".
		f.sep = t.delimiter
		f.marks = append(f.marks, mark{rel: "", alias: t.alias})
	}
	if next != f.path {
		f.path = next
		return f.touch(t.alias)
	}
	return f
}

// flattenPath joins the struct levels of a dotted path with delim, as
// Flatten does; arrays and maps ("items[]") are not flattened below.
func flattenPath(p, delim string) string {
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if strings.HasSuffix(s, "[]") || strings.HasSuffix(s, "{}") {
			return strings.Join(segs[:i+1], delim) + joinRest(segs[i+1:])
		}
	}
	return strings.Join(segs, delim)
}

func joinRest(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	return "." + strings.Join(segs, ".")
}

// affect applies a field-specific touch (target is a value path as the
// transform names it) to f: the whole flow when f lies at or under target,
// a mark when target lies under f.
func affect(f flow, target, alias string, masking bool) flow {
	switch {
	case f.path != "" && hasPathPrefix(f.path, target):
		f = f.touch(alias)
		f.masking = f.masking || masking
	case f.path == "":
		f.marks = append(f.marks, mark{rel: target, alias: alias, masking: masking})
	case strings.HasPrefix(target, f.path+f.sep):
		f.marks = append(f.marks, mark{rel: target[len(f.path)+len(f.sep):], alias: alias, masking: masking})
	}
	return f
}

// inverse returns the paths before t that can become path after t; empty
// when t creates path (an inserted field) or cannot produce it.
func (t *transform) inverse(path string) []string {
	switch t.kind {
	case smtUnwrap:
		if t.inserted[topOf(path)] {
			return nil
		}
		return []string{joinPath("after", path)}
	case smtExtractField:
		return []string{joinPath(t.field, path)}
	case smtHoistField:
		if path == t.field {
			return []string{""}
		}
		if hasPathPrefix(path, t.field) {
			return []string{trimPathPrefix(path, t.field)}
		}
		return nil
	case smtReplaceField:
		top, rest, _ := strings.Cut(path, ".")
		orig := top
		if old, ok := t.renamedTo[top]; ok {
			orig = old
		} else if _, renamedAway := t.renames[top]; renamedAway {
			return nil
		}
		if t.exclude[orig] || (len(t.include) > 0 && !t.include[orig]) {
			return nil
		}
		return []string{joinPath(orig, rest)}
	case smtFlatten:
		return unflattenCandidates(path, t.delimiter)
	case smtInsertField:
		if t.inserted[path] {
			return nil
		}
	case smtHeaderFrom:
		if t.move {
			for _, f := range t.fields {
				if hasPathPrefix(path, f) {
					return nil
				}
			}
		}
	case smtEventRouter:
		return nil
	}
	return []string{path}
}

// unflattenCandidates returns the dotted paths Flatten could have turned
// into p: every way of reading each delimiter as a level separator or as a
// literal part of a name.
func unflattenCandidates(p, delim string) []string {
	if delim == "." || delim == "" {
		return []string{p}
	}
	top, rest, hasRest := strings.Cut(p, ".")
	parts := strings.Split(top, delim)
	if len(parts) > 9 {
		return []string{p} // too ambiguous to enumerate
	}
	var out []string
	n := len(parts) - 1
	for mask := 0; mask < 1<<n; mask++ {
		var b strings.Builder
		b.WriteString(parts[0])
		for i := 1; i < len(parts); i++ {
			if mask&(1<<(i-1)) != 0 {
				b.WriteString(".")
			} else {
				b.WriteString(delim)
			}
			b.WriteString(parts[i])
		}
		s := b.String()
		if hasRest {
			s += "." + rest
		}
		if !slices.Contains(strings.Split(s, "."), "") {
			out = append(out, s)
		}
	}
	return out
}

// inverseAll runs paths backwards through the transforms that applied.
func (ch chain) inverseAll(paths []string, applied []bool) []string {
	cur := paths
	for i := len(ch.transforms) - 1; i >= 0; i-- {
		if !applied[i] {
			continue
		}
		var next []string
		for _, p := range cur {
			next = append(next, ch.transforms[i].inverse(p)...)
		}
		cur = dedupe(next)
	}
	return cur
}

// targets returns, for one flow, the schema paths it reaches with their
// transforms and masking.
func (f flow) targets(schema []string) []fieldTarget {
	var out []fieldTarget
	for _, q := range schema {
		var rel string
		switch {
		case f.path == "":
			rel = q
		case q == f.path:
			rel = ""
		case strings.HasPrefix(q, f.path+f.sep):
			rel = q[len(f.path)+len(f.sep):]
		default:
			continue
		}
		ft := fieldTarget{path: q, touched: append([]string(nil), f.touched...), masking: f.masking}
		for _, m := range f.marks {
			if rel != "" && (m.rel == "" || hasPathPrefix(rel, m.rel)) {
				ft.touched = appendUnique(ft.touched, m.alias)
				ft.masking = ft.masking || m.masking
			}
		}
		out = append(out, ft)
	}
	return out
}

type fieldTarget struct {
	path    string
	touched []string
	masking bool
}

// Path helpers for dotted paths.

func hasPathPrefix(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+".")
}

func trimPathPrefix(p, prefix string) string {
	if p == prefix {
		return ""
	}
	return strings.TrimPrefix(p, prefix+".")
}

func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

func topOf(p string) string {
	top, _, _ := strings.Cut(p, ".")
	return top
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func setOf(list string) map[string]bool {
	m := map[string]bool{}
	for _, v := range splitList(list) {
		m[v] = true
	}
	return m
}

func valueOr(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}
