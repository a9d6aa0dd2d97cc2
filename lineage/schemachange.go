package lineage

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/schemaparse"
)

// SchemaChangeQuery proposes a new schema for a registry subject.
type SchemaChangeQuery struct {
	// Subject is a subject name ("orders-value") or its URN
	// (urn:subject:<registry>/<subject>).
	Subject string
	// Registry is the registry source holding Subject, needed only when a
	// subject of that name exists in several registries.
	Registry string
	// Schema is the candidate schema text.
	Schema string
	// SchemaType is AVRO, PROTOBUF or JSON; empty means the subject's.
	SchemaType string
}

// SchemaChangeReport is the impact of registering a candidate schema.
type SchemaChangeReport struct {
	Subject    catalog.Entity
	SchemaType string
	// LatestVersion is the registered version the candidate is compared
	// with.
	LatestVersion int
	Compatibility Compatibility
	// Changes is the field diff from the latest version to the candidate,
	// sorted by path.
	Changes []FieldChange
	// Consumers are the downstream consumer groups, connectors, jobs and
	// sinks (tables, datasets), BREAKING first, then UNKNOWN, then SAFE.
	Consumers []ConsumerImpact
	// Breaking says some consumer is BREAKING.
	Breaking bool
	// Seq is the change-log position the answer reflects.
	Seq uint64
}

// Compatibility is the registry's verdict on the candidate.
type Compatibility struct {
	// Level is the subject's compatibility level: BACKWARD, FORWARD, FULL,
	// their _TRANSITIVE forms, or NONE.
	Level string
	// LevelSource says where Level comes from: "subject" (the subject's own
	// setting), "global" (the registry's) or "default" (neither is known;
	// the registry default BACKWARD applies).
	LevelSource string
	// Compatible says the registry would accept the candidate.
	Compatible bool
	// Messages explain each incompatibility.
	Messages []string
	// Checked lists the versions the candidate was checked against: the
	// latest, or every version for a _TRANSITIVE level (NONE checks none).
	Checked []int
	// ReadersCompatible says a reader on the latest version can read data
	// written with the candidate (the FORWARD direction against the
	// latest), whatever the level: what every consumer that has not
	// upgraded relies on. ReaderMessages explain it when not.
	ReadersCompatible bool
	ReaderMessages    []string
}

// ChangeKind is the kind of a FieldChange.
type ChangeKind string

// Kinds of field change.
const (
	ChangeAdded              ChangeKind = "ADDED"
	ChangeRemoved            ChangeKind = "REMOVED"
	ChangeRenamed            ChangeKind = "RENAMED"
	ChangeTypeChanged        ChangeKind = "TYPE_CHANGED"
	ChangeNullabilityChanged ChangeKind = "NULLABILITY_CHANGED"
	ChangeDefaultChanged     ChangeKind = "DEFAULT_CHANGED"
)

// FieldChange is one difference between the latest version and the
// candidate.
type FieldChange struct {
	// Path is the field's path in the candidate (in the latest version for
	// a removed field).
	Path string
	Kind ChangeKind
	// PreviousPath is, for a rename, the field's path in the latest version.
	PreviousPath string
	// Before and After describe the field in the latest version and in the
	// candidate; Before is nil when added, After when removed.
	Before, After *SchemaField
	// Field is the catalog's field asset of the latest version, when the
	// field existed there and a bound topic carries it.
	Field catalog.URN
	// Breaking says the change can break a reader of the field: it was
	// removed or renamed, its type changed, or it may now be null.
	Breaking bool
}

// SchemaField is a field as one schema version declares it.
type SchemaField struct {
	Path       string
	Type       string
	Nullable   bool
	HasDefault bool
	Default    any
	Aliases    []string
}

// Verdict is a consumer's outcome.
type Verdict string

// Verdicts.
const (
	// Breaking: the consumer would break, or would silently lose data.
	Breaking Verdict = "BREAKING"
	// Unknown: the consumer may depend on a changed field, and no field
	// lineage says whether it does.
	Unknown Verdict = "UNKNOWN"
	// Safe: nothing the consumer reads changes in a way that breaks readers.
	Safe Verdict = "SAFE"
)

// ConsumerImpact is one downstream consumer's verdict.
type ConsumerImpact struct {
	Asset   catalog.Entity
	Verdict Verdict
	// Fields are the subject's field paths (latest version) involved: the
	// changed fields it reads (BREAKING) or may read (UNKNOWN), or the
	// fields field lineage says it reads (SAFE), sorted.
	Fields []string
	// Reason explains the verdict in a sentence.
	Reason string
	// FieldLineage says field lineage tells which subject fields the
	// consumer reads.
	FieldLineage bool
	Hops         int
	// Path explains how the consumer depends on the subject's topic: from
	// a field of it (or the topic) to the consumer.
	Path []catalog.URN
}

// SchemaChangeImpact computes what registering q.Schema under q.Subject
// would do, the way the registry and the consumers would see it:
//
//   - the field diff against the latest version (added, removed, type,
//     nullability and default changes), with a removed field and an added
//     one that names it among its Avro aliases reported as one rename;
//   - the verdict under the subject's compatibility level (its own, else
//     the registry's, else BACKWARD) with schemaparse's rules, against the
//     latest version or, for a _TRANSITIVE level, every version;
//   - for every consumer group, connector, job and sink downstream of the
//     topics bound to the subject, a Verdict.
//
// A consumer is BREAKING when field lineage shows it reads a field (or a
// field nested in it, or the record holding it) that is removed, renamed,
// changes type or may now be null; or when it reads a bound topic with no
// field lineage and a reader on the latest schema cannot read data written
// with the candidate. It is UNKNOWN when it may read such a field but no
// field lineage says whether it does (a consumer group, a job without
// column lineage, or anything downstream of one), or when it reads the
// topic through field lineage that avoids the changed fields but a reader
// on the latest schema cannot read the candidate's data. Otherwise it is
// SAFE: additions, default changes and fields becoming required break no
// reader.
//
// An unparseable candidate is Invalid with the parse error; an unknown
// subject is NotFound; a latest version whose text the catalog does not
// hold in full is Unavailable. References are resolved from the catalog;
// the candidate may use those of any registered version.
func SchemaChangeImpact(ctx context.Context, g Graph, q SchemaChangeQuery) (SchemaChangeReport, error) {
	if strings.TrimSpace(q.Subject) == "" {
		return SchemaChangeReport{}, catalog.Errorf(catalog.Invalid, "schema change: subject is empty")
	}
	if strings.TrimSpace(q.Schema) == "" {
		return SchemaChangeReport{}, catalog.Errorf(catalog.Invalid, "schema change: the candidate schema is empty")
	}
	if q.SchemaType != "" {
		if _, err := schemaparse.SchemaType(q.SchemaType).Normalize(); err != nil {
			return SchemaChangeReport{}, err
		}
	}
	subj, err := findSubject(ctx, g, q.Subject, q.Registry)
	if err != nil {
		return SchemaChangeReport{}, err
	}
	return consistently(ctx, g, func(r *snapshot) (SchemaChangeReport, error) { return schemaChange(ctx, r, subj, q) })
}

// findSubject resolves a subject name or URN to the subject's URN.
func findSubject(ctx context.Context, g Graph, subject, registry string) (catalog.URN, error) {
	if strings.HasPrefix(subject, "urn:") {
		u := catalog.URN(subject)
		if err := u.Validate(); err != nil {
			return "", err
		}
		if u.Kind() != catalog.KindSchemaSubject {
			return "", catalog.Errorf(catalog.Invalid, "%s is a %s, not a schema subject", u, u.Kind())
		}
		return u, nil
	}
	var regs []string
	if registry != "" {
		regs = []string{registry}
	} else {
		after := catalog.URN("")
		for {
			page, next, err := g.Scan(ctx, catalog.KindSchemaRegistry, after, 100)
			if err != nil {
				return "", fmt.Errorf("list registries: %w", err)
			}
			for _, e := range page {
				regs = append(regs, e.URN.Identity())
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	cands := make([]catalog.URN, len(regs))
	for i, reg := range regs {
		cands[i] = subjectURN(reg, subject)
	}
	ents, err := g.Entities(ctx, cands)
	if err != nil {
		return "", fmt.Errorf("read subjects: %w", err)
	}
	var found []catalog.URN
	for _, e := range ents {
		if e.URN != "" && !e.Deleted() && len(e.Sources) > 0 {
			found = append(found, e.URN)
		}
	}
	switch len(found) {
	case 0:
		if registry != "" {
			return "", catalog.Errorf(catalog.NotFound, "no subject %q in registry %q", subject, registry)
		}
		return "", catalog.Errorf(catalog.NotFound, "no subject %q in the catalog's registries (%s)", subject, strings.Join(regs, ", "))
	case 1:
		return found[0], nil
	}
	var names []string
	for _, u := range found {
		names = append(names, registryOf(u))
	}
	return "", catalog.Errorf(catalog.Invalid, "subject %q exists in several registries (%s): say which", subject, strings.Join(names, ", "))
}

func subjectURN(registry, subject string) catalog.URN {
	return catalog.MakeURN(catalog.KindSchemaSubject, registry+"/"+catalog.EscapeIdentity(subject))
}

func versionURN(registry, subject string, version int) catalog.URN {
	return catalog.MakeURN(catalog.KindSchemaVersion, registry+"/"+catalog.EscapeIdentity(subject)+"/"+strconv.Itoa(version))
}

// registryOf returns the registry source of a subject URN.
func registryOf(subject catalog.URN) string {
	reg, _, _ := strings.Cut(subject.Identity(), "/")
	return reg
}

// registered is one version of the subject as the catalog holds it.
type registered struct {
	version   int
	text      string
	truncated bool
	parseErr  string
	refs      []refSpec
}

type refSpec struct {
	Name, Subject string
	Version       int
}

func schemaChange(ctx context.Context, r *snapshot, subj catalog.URN, q SchemaChangeQuery) (SchemaChangeReport, error) {
	var out SchemaChangeReport
	reg := registryOf(subj)
	vs, err := r.traverse(ctx, catalog.TraverseQuery{Start: subj, Direction: catalog.Downstream, MaxDepth: 1, EdgeKinds: []catalog.EdgeKind{catalog.EdgeHasSchema}})
	if err != nil {
		return out, err
	}
	ts, err := r.traverse(ctx, catalog.TraverseQuery{Start: subj, Direction: catalog.Upstream, MaxDepth: 1, EdgeKinds: []catalog.EdgeKind{catalog.EdgeHasSchema}})
	if err != nil {
		return out, err
	}
	urns := []catalog.URN{subj, catalog.MakeURN(catalog.KindSchemaRegistry, reg)}
	for _, n := range vs.Nodes {
		if n.Kind == catalog.KindSchemaVersion {
			urns = append(urns, n.URN)
		}
	}
	nv := len(urns)
	var topics []catalog.URN
	for _, n := range ts.Nodes {
		if n.Kind == catalog.KindTopic {
			topics = append(topics, n.URN)
			urns = append(urns, n.URN)
		}
	}
	ents, err := r.entities(ctx, urns)
	if err != nil {
		return out, err
	}
	subject, registry := ents[0], ents[1]
	if subject.URN == "" || subject.Deleted() {
		return out, catalog.Errorf(catalog.NotFound, "no subject %s in the catalog", subj)
	}
	out.Subject, out.Seq = subject, r.seq
	// The subject's name as the registry spells it (escaped as in URNs):
	// the display name may be a steward's.
	_, name, _ := strings.Cut(subj.Identity(), "/")
	var versions []registered
	for _, e := range ents[2:nv] {
		if e.URN == "" || e.Deleted() {
			continue
		}
		versions = append(versions, versionOf(e))
	}
	if len(versions) == 0 {
		return out, catalog.Errorf(catalog.NotFound, "subject %s has no registered versions in the catalog", subj)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].version < versions[j].version })
	latest := versions[len(versions)-1]
	out.LatestVersion = latest.version

	typ, err := schemaparse.SchemaType(propString(subject.Properties, "schemaType")).Normalize()
	if err != nil {
		return out, catalog.Errorf(catalog.Unavailable, "subject %s: %w", subj, err)
	}
	if q.SchemaType != "" {
		ct, _ := schemaparse.SchemaType(q.SchemaType).Normalize()
		if ct != typ {
			return out, catalog.Errorf(catalog.Invalid, "subject %s holds %s schemas; the candidate is %s", name, typ, ct)
		}
	}
	out.SchemaType = string(typ)
	refs, err := resolveRefs(ctx, r, reg, versions)
	if err != nil {
		return out, err
	}
	cand, err := schemaparse.Parse(typ, q.Schema, refs)
	if err != nil {
		return out, catalog.Errorf(catalog.Invalid, "the candidate schema does not parse: %w", err)
	}
	if latest.truncated {
		return out, catalog.Errorf(catalog.Unavailable, "the catalog holds only the start of version %d of %s (its text is longer than the crawler keeps)", latest.version, name)
	}
	if latest.parseErr != "" {
		return out, catalog.Errorf(catalog.Unavailable, "version %d of %s does not parse: %s", latest.version, name, latest.parseErr)
	}
	prev, err := schemaparse.Parse(typ, latest.text, refs)
	if err != nil {
		return out, catalog.Errorf(catalog.Unavailable, "parse version %d of %s: %w", latest.version, name, err)
	}
	out.Changes = diffSchemas(prev, cand)

	if out.Compatibility, err = checkCompatibility(subject, registry, versions, q.Schema, typ, refs); err != nil {
		return out, err
	}

	// The catalog's fields of the latest version, per bound topic.
	fieldsByPath, err := subjectFields(ctx, r, topics, name)
	if err != nil {
		return out, err
	}
	for i := range out.Changes {
		c := &out.Changes[i]
		old := c.Path
		if c.PreviousPath != "" {
			old = c.PreviousPath
		}
		if us := fieldsByPath[old]; len(us) > 0 && c.Kind != ChangeAdded {
			c.Field = us[0]
		}
	}
	out.Consumers, err = consumerVerdicts(ctx, r, topics, fieldsByPath, out.Changes, out.Compatibility)
	if err != nil {
		return out, err
	}
	for _, c := range out.Consumers {
		if c.Verdict == Breaking {
			out.Breaking = true
		}
	}
	return out, nil
}

func versionOf(e catalog.Entity) registered {
	v := registered{text: propString(e.Properties, "schema"), parseErr: propString(e.Properties, "parseError")}
	if n := liveInt(e.Properties["version"]); n != nil {
		v.version = int(*n)
	}
	v.truncated, _ = e.Properties["schemaTruncated"].(bool)
	if list, ok := e.Properties["references"].([]any); ok {
		for _, x := range list {
			m, _ := x.(map[string]any)
			ref := refSpec{Name: propString(m, "name"), Subject: propString(m, "subject")}
			if n := liveInt(m["version"]); n != nil {
				ref.Version = int(*n)
			}
			if ref.Subject != "" && ref.Version > 0 {
				v.refs = append(v.refs, ref)
			}
		}
	}
	return v
}

func propString(p map[string]any, k string) string {
	s, _ := p[k].(string)
	return s
}

// maxReferences bounds the referenced schemas one check resolves.
const maxReferences = 200

// resolveRefs reads the schemas the versions reference, and those they
// reference in turn, from the catalog.
func resolveRefs(ctx context.Context, r *snapshot, reg string, versions []registered) ([]schemaparse.Reference, error) {
	var out []schemaparse.Reference
	seen := map[catalog.URN]bool{}
	var pending []refSpec
	for _, v := range versions {
		pending = append(pending, v.refs...)
	}
	for len(pending) > 0 {
		var batch []catalog.URN
		var specs []refSpec
		for _, ref := range pending {
			u := versionURN(reg, ref.Subject, ref.Version)
			if seen[u] {
				continue
			}
			seen[u] = true
			batch = append(batch, u)
			specs = append(specs, ref)
		}
		pending = nil
		if len(seen) > maxReferences {
			return nil, catalog.Errorf(catalog.Invalid, "the subject's schemas reference more than %d schemas", maxReferences)
		}
		ents, err := r.entities(ctx, batch)
		if err != nil {
			return nil, err
		}
		for i, e := range ents {
			if e.URN == "" {
				// Parsing says which reference is missing, if it matters.
				continue
			}
			rv := versionOf(e)
			out = append(out, schemaparse.Reference{Name: specs[i].Name, Subject: specs[i].Subject, Version: specs[i].Version,
				Schema: rv.text, Type: schemaparse.SchemaType(propString(e.Properties, "schemaType"))})
			pending = append(pending, rv.refs...)
		}
	}
	return out, nil
}

// checkCompatibility applies the subject's level, and the readers' check.
func checkCompatibility(subject, registry catalog.Entity, versions []registered, candidate string, typ schemaparse.SchemaType, refs []schemaparse.Reference) (Compatibility, error) {
	var c Compatibility
	c.Level, c.LevelSource = propString(subject.Properties, "compatibility"), propString(subject.Properties, "compatibilitySource")
	if c.Level != "" && c.LevelSource == "" {
		c.LevelSource = "subject"
	}
	if c.Level == "" {
		if c.Level = propString(registry.Properties, "compatibility"); c.Level != "" {
			c.LevelSource = "global"
		} else {
			c.Level, c.LevelSource = schemaparse.LevelBackward, "default"
		}
	}
	c.Level = strings.ToUpper(strings.TrimSpace(c.Level))
	switch c.Level {
	case schemaparse.LevelBackward, schemaparse.LevelBackwardTransitive, schemaparse.LevelForward, schemaparse.LevelForwardTransitive,
		schemaparse.LevelFull, schemaparse.LevelFullTransitive, schemaparse.LevelNone:
	default:
		return c, catalog.Errorf(catalog.Unavailable, "the %s compatibility level %q is not one Watershed can apply", c.LevelSource, c.Level)
	}
	transitive := strings.HasSuffix(c.Level, "_TRANSITIVE")
	var texts []string
	for i, v := range versions {
		last := i == len(versions)-1
		if !last && !transitive {
			continue
		}
		if v.truncated || v.parseErr != "" {
			why := "its text is truncated in the catalog"
			if v.parseErr != "" {
				why = "it does not parse: " + v.parseErr
			}
			c.Messages = append(c.Messages, fmt.Sprintf("version %d not checked: %s", v.version, why))
			continue
		}
		texts = append(texts, v.text)
		if c.Level != schemaparse.LevelNone {
			c.Checked = append(c.Checked, v.version)
		}
	}
	ok, msgs, err := schemaparse.CheckCompatibility(c.Level, candidate, texts, typ, refs)
	if err != nil {
		return c, fmt.Errorf("check compatibility under %s: %w", c.Level, err)
	}
	c.Compatible = ok
	c.Messages = append(msgs, c.Messages...)
	if c.Messages == nil {
		c.Messages = []string{}
	}
	latest := versions[len(versions)-1]
	ok, msgs, err = schemaparse.CheckCompatibility(schemaparse.LevelForward, candidate, []string{latest.text}, typ, refs)
	if err != nil {
		return c, fmt.Errorf("check readers of version %d: %w", latest.version, err)
	}
	c.ReadersCompatible, c.ReaderMessages = ok, msgs
	if c.ReaderMessages == nil {
		c.ReaderMessages = []string{}
	}
	return c, nil
}

// diffSchemas is schemaparse.Diff with renames: a removed field and an
// added one whose Avro aliases name it (the parents renamed likewise)
// become one RENAMED change, and so do the fields nested in them.
func diffSchemas(prev, cand *schemaparse.Schema) []FieldChange {
	raw := schemaparse.Diff(prev, cand)
	removed := map[string]int{}
	for i, c := range raw {
		if c.Kind == schemaparse.ChangeRemoved {
			removed[c.Path] = i
		}
	}
	// renamed maps a candidate path to the latest version's path it reads,
	// for renamed fields; parents come before children in Fields order.
	renamed := map[string]string{}
	oldPath := func(path string) string {
		// The longest renamed ancestor decides the prefix.
		for p := path; p != ""; p = parentOf(p) {
			if old, ok := renamed[p]; ok {
				return old + path[len(p):]
			}
		}
		return path
	}
	before := make(map[string]bool, len(prev.Fields))
	for _, f := range prev.Fields {
		before[f.Path] = true
	}
	for _, f := range cand.Fields {
		if before[f.Path] {
			continue
		}
		prefix := strings.TrimSuffix(f.Path, f.Name)
		oldPrefix := oldPath(strings.TrimRight(prefix, ".[]{}")) + prefix[len(strings.TrimRight(prefix, ".[]{}")):]
		if prefix == "" {
			oldPrefix = ""
		}
		if old := oldPrefix + f.Name; old != f.Path {
			if _, ok := removed[old]; ok {
				renamed[f.Path] = old // nested in a renamed parent
				continue
			}
		}
		for _, a := range f.Aliases {
			if _, ok := removed[oldPrefix+a]; ok {
				renamed[f.Path] = oldPrefix + a
				break
			}
		}
	}
	renamedFrom := map[string]string{}
	for n, o := range renamed {
		renamedFrom[o] = n
	}
	var out []FieldChange
	for _, c := range raw {
		switch {
		case c.Kind == schemaparse.ChangeRemoved && renamedFrom[c.Path] != "":
			continue // reported as the rename
		case c.Kind == schemaparse.ChangeAdded && renamed[c.Path] != "":
			old := renamed[c.Path]
			before := raw[removed[old]].Before
			out = append(out, FieldChange{Path: c.Path, Kind: ChangeRenamed, PreviousPath: old,
				Before: schemaField(before), After: schemaField(c.After), Breaking: true})
			continue
		}
		fc := FieldChange{Path: c.Path, Before: schemaField(c.Before), After: schemaField(c.After)}
		switch c.Kind {
		case schemaparse.ChangeAdded:
			fc.Kind = ChangeAdded
		case schemaparse.ChangeRemoved:
			fc.Kind, fc.Breaking = ChangeRemoved, true
		case schemaparse.ChangeType:
			fc.Kind, fc.Breaking = ChangeTypeChanged, true
		case schemaparse.ChangeNullability:
			fc.Kind, fc.Breaking = ChangeNullabilityChanged, c.After != nil && c.After.Nullable
		default:
			fc.Kind = ChangeDefaultChanged
		}
		out = append(out, fc)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// parentOf returns the path of the field enclosing path ("items" for
// "items[].sku"), or "".
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return ""
	}
	return strings.TrimRight(path[:i], "[]{}")
}

func schemaField(f *schemaparse.Field) *SchemaField {
	if f == nil {
		return nil
	}
	return &SchemaField{Path: f.Path, Type: f.Type, Nullable: f.Nullable, HasDefault: f.HasDefault, Default: f.Default, Aliases: f.Aliases}
}

// within reports whether path p lies at or below ancestor a.
func within(p, a string) bool {
	if p == a {
		return true
	}
	if !strings.HasPrefix(p, a) {
		return false
	}
	switch p[len(a)] {
	case '.', '[', '{':
		return true
	}
	return false
}

// related reports whether a reader of field p is affected by a change at c:
// c is p, encloses p, or is nested in p.
func related(p, c string) bool { return within(p, c) || within(c, p) }

// subjectFields maps the paths of the subject's fields, as the topics bound
// to it carry them, to their field assets; subject is the escaped name.
func subjectFields(ctx context.Context, r *snapshot, topics []catalog.URN, subject string) (map[string][]catalog.URN, error) {
	out := map[string][]catalog.URN{}
	for _, t := range topics {
		tr, err := r.traverse(ctx, catalog.TraverseQuery{Start: t, Direction: catalog.Downstream,
			EdgeKinds: []catalog.EdgeKind{catalog.EdgeContains}, NodeKinds: []catalog.Kind{catalog.KindField}})
		if err != nil {
			return nil, err
		}
		urns := make([]catalog.URN, len(tr.Nodes))
		for i, n := range tr.Nodes {
			urns[i] = n.URN
		}
		ents, err := r.entities(ctx, urns)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.URN == "" || e.Deleted() || catalog.EscapeIdentity(propString(e.Properties, "subject")) != subject {
				continue
			}
			if p := propString(e.Properties, "path"); p != "" {
				out[p] = append(out[p], e.URN)
			}
		}
	}
	return out, nil
}

// consumerVerdicts decides, for each consumer downstream of the topics, how
// the changes affect it.
func consumerVerdicts(ctx context.Context, r *snapshot, topics []catalog.URN, fieldsByPath map[string][]catalog.URN, changes []FieldChange, compat Compatibility) ([]ConsumerImpact, error) {
	if len(topics) == 0 {
		return []ConsumerImpact{}, nil
	}
	var breaking []string // paths in the latest version
	for _, c := range changes {
		if !c.Breaking {
			continue
		}
		if c.PreviousPath != "" {
			breaking = append(breaking, c.PreviousPath)
		} else {
			breaking = append(breaking, c.Path)
		}
	}
	var starts []catalog.URN
	pathOf := map[catalog.URN]string{}
	paths := make([]string, 0, len(fieldsByPath))
	for p := range fieldsByPath {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		for _, u := range fieldsByPath[p] {
			starts = append(starts, u)
			pathOf[u] = p
		}
	}
	var items []*item
	direct := map[catalog.URN]bool{}
	mappedDirect := map[catalog.URN]bool{}
	topicSet := map[catalog.URN]bool{}
	for _, t := range topics {
		topicSet[t] = true
	}
	if len(starts) > 0 {
		fa, err := analyzeFields(ctx, r, starts, false, 0)
		if err != nil {
			return nil, err
		}
		items = fa.list()
		for _, it := range items {
			// Start indexes → paths, for the verdicts below.
			it.fields = pathSet(fa.starts, pathOf, it.reads)
			it.mayFields = pathSet(fa.starts, pathOf, it.mayRead)
		}
		for _, t := range topics {
			v := fa.views[t]
			if v == nil {
				if v, err = fa.viewDataset(ctx, r, t, nil); err != nil {
					return nil, err
				}
			}
			for _, x := range v.readers {
				direct[x] = true
			}
		}
		for _, it := range items {
			if direct[it.urn] && len(it.fields) > 0 {
				mappedDirect[it.urn] = true
			}
		}
	} else {
		// No field assets: every consumer may read every field.
		all := map[catalog.URN]bool{}
		for _, c := range changes {
			all[catalog.URN(c.Path)] = true
		}
		tr, err := r.traverse(ctx, catalog.TraverseQuery{Starts: topics, Direction: catalog.Downstream})
		if err != nil {
			return nil, err
		}
		ps := tr.Paths(topics[0], catalog.Downstream)
		for _, n := range tr.Nodes {
			if n.Depth == 1 && isProcess(n.Kind) {
				direct[n.URN] = true
			}
			items = append(items, &item{urn: n.URN, hops: n.Depth, path: ps[n.URN], mayFields: all, fields: map[catalog.URN]bool{}})
		}
	}
	var keep []*item
	for _, it := range items {
		switch it.urn.Kind() {
		case catalog.KindConsumerGroup, catalog.KindConnector, catalog.KindJob, catalog.KindTable, catalog.KindDataset:
			keep = append(keep, it)
		}
	}
	urns := make([]catalog.URN, len(keep))
	for i, it := range keep {
		urns[i] = it.urn
	}
	ents, err := r.entities(ctx, urns)
	if err != nil {
		return nil, err
	}
	out := make([]ConsumerImpact, 0, len(keep))
	for i, it := range keep {
		e := ents[i]
		if e.URN == "" {
			e = catalog.Entity{URN: it.urn, Kind: it.urn.Kind(), Name: it.urn.DisplayName()}
		}
		ci := ConsumerImpact{Asset: e, Hops: it.hops, Path: it.path, FieldLineage: len(it.fields) > 0}
		reads, may := keysOf(it.fields), keysOf(it.mayFields)
		exactBreak := affected(reads, breaking)
		mayBreak := affected(may, breaking)
		isDirect := direct[it.urn]
		switch {
		case len(exactBreak) > 0:
			ci.Verdict, ci.Fields = Breaking, exactBreak
			ci.Reason = "field lineage shows it depends on " + describeChanges(exactBreak, changes)
		case isDirect && !compat.ReadersCompatible && !mappedDirect[it.urn]:
			ci.Verdict, ci.Fields = Breaking, breakingOrAll(breaking, changes)
			ci.Reason = "it reads the topic with no field lineage, and a reader on the latest schema cannot read data written with the candidate: " + firstOf(compat.ReaderMessages)
		case isDirect && !compat.ReadersCompatible:
			ci.Verdict, ci.Fields = Unknown, breakingOrAll(breaking, changes)
			ci.Reason = "field lineage shows it reads none of the changed fields, but a reader on the latest schema cannot read data written with the candidate: " + firstOf(compat.ReaderMessages)
		case len(mayBreak) > 0:
			ci.Verdict, ci.Fields = Unknown, mayBreak
			ci.Reason = "it may depend on " + describeChanges(mayBreak, changes) + ", and no field lineage says whether it does"
		default:
			ci.Verdict, ci.Fields = Safe, reads
			switch {
			case len(reads) > 0:
				ci.Reason = "field lineage shows it reads no field the change breaks"
			case len(breaking) == 0:
				ci.Reason = "the change breaks no field a reader could use"
			default:
				ci.Reason = "it depends on none of the changed fields"
			}
		}
		if ci.Fields == nil {
			ci.Fields = []string{}
		}
		out = append(out, ci)
	}
	rank := map[Verdict]int{Breaking: 0, Unknown: 1, Safe: 2}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if rank[a.Verdict] != rank[b.Verdict] {
			return rank[a.Verdict] < rank[b.Verdict]
		}
		if a.Hops != b.Hops {
			return a.Hops < b.Hops
		}
		return a.Asset.URN < b.Asset.URN
	})
	return out, nil
}

// pathSet turns start indexes into the set of their subject paths, kept as
// URN-typed keys of the item's field sets.
func pathSet(starts []catalog.URN, pathOf map[catalog.URN]string, idx map[int]bool) map[catalog.URN]bool {
	out := map[catalog.URN]bool{}
	for i := range idx {
		out[catalog.URN(pathOf[starts[i]])] = true
	}
	return out
}

func keysOf(m map[catalog.URN]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, string(k))
	}
	sort.Strings(out)
	return out
}

// affected returns the paths of the breaking changes that touch a read
// path: at it, around it, or nested in it.
func affected(reads, breaking []string) []string {
	var out []string
	for _, c := range breaking {
		for _, p := range reads {
			if related(p, c) {
				out = append(out, c)
				break
			}
		}
	}
	return uniqueSorted(out)
}

func breakingOrAll(breaking []string, changes []FieldChange) []string {
	if len(breaking) > 0 {
		return uniqueSorted(breaking)
	}
	var out []string
	for _, c := range changes {
		out = append(out, c.Path)
	}
	return uniqueSorted(out)
}

func uniqueSorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return compactStrings(out)
}

func compactStrings(s []string) []string {
	var out []string
	for i, x := range s {
		if i == 0 || x != s[i-1] {
			out = append(out, x)
		}
	}
	return out
}

// describeChanges says what happens at the changed paths: "after.email
// (removed), after.id (type changed from long to string)".
func describeChanges(paths []string, changes []FieldChange) string {
	var parts []string
	for _, p := range paths {
		var what []string
		for _, c := range changes {
			at := c.Path
			if c.PreviousPath != "" {
				at = c.PreviousPath
			}
			if c.Breaking && related(p, at) {
				w := strings.ToLower(strings.ReplaceAll(string(c.Kind), "_", " "))
				if at != p {
					w += " at " + at
				}
				if c.Kind == ChangeRenamed {
					w += " to " + c.Path
				}
				if c.Kind == ChangeTypeChanged && c.Before != nil && c.After != nil {
					w += " from " + c.Before.Type + " to " + c.After.Type
				}
				if c.Kind == ChangeNullabilityChanged {
					w = "may now be null"
				}
				what = append(what, w)
			}
		}
		parts = append(parts, p+" ("+strings.Join(compactStrings(what), ", ")+")")
	}
	return strings.Join(parts, ", ")
}

func firstOf(msgs []string) string {
	if len(msgs) == 0 {
		return "the check gave no reason"
	}
	return msgs[0]
}
