package schemaregistry

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/watershed-data/watershed/schemaparse"
)

// maxReferences bounds the references (transitively) one schema may pull in.
const maxReferences = 256

// parseSummary is what the crawl keeps of a parsed version between crawls:
// the summary, and the field tree of latest versions (which bound topics
// need; older versions need no more than the summary).
type parseSummary struct {
	recordName string
	doc        string
	fieldCount int
	err        string
	schema     *schemaparse.Schema
}

// parseKey identifies a schema and its resolved references by content, so
// that an unchanged version is not parsed again on the next crawl.
type parseKey [sha256.Size]byte

func contentKey(v *versionInfo, refs []schemaparse.Reference) parseKey {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(string(v.schemaType))
	write(v.text)
	for _, r := range refs {
		write(r.Name)
		write(string(r.Type))
		write(r.Schema)
	}
	var k parseKey
	h.Sum(k[:0])
	return k
}

// parseAll parses every version of every readable subject on all cores,
// reusing the results for unchanged schemas from the previous crawl. Only
// latest versions keep their field trees, in memory between crawls too (see
// schemaOf). A subject whose references cannot be fetched moves to st.failed.
func (c *crawl) parseAll(ctx context.Context, st *registryState) {
	type job struct {
		s      int
		v      *versionInfo
		latest bool
	}
	var jobs []job
	for i, s := range st.subjects {
		for _, v := range s.versions {
			jobs = append(jobs, job{i, v, v == s.latest()})
		}
	}
	prev := c.cr.parseCacheSnapshot()
	next := make([]struct {
		key parseKey
		sum parseSummary
		ok  bool
	}, len(jobs))
	failures := make([]string, len(jobs))
	forEach(ctx, len(jobs), runtime.GOMAXPROCS(0), func(i int) {
		j := jobs[i]
		refs, err := c.resolveRefs(ctx, st, j.v.refs)
		if err != nil && !errors.Is(err, errRefNotFound) && !isRefLimit(err) {
			failures[i] = fmt.Sprintf("version %d: %v", j.v.version, err)
			return
		}
		if err != nil {
			j.v.parseErr = err.Error()
			return
		}
		key := contentKey(j.v, refs)
		if sum, ok := prev[key]; ok && (sum.schema != nil || sum.err != "" || !j.latest) {
			if !j.latest {
				sum.schema = nil
			}
			j.v.apply(sum)
			next[i].key, next[i].sum, next[i].ok = key, sum, true
			return
		}
		sum := j.v.parse(refs, j.latest)
		next[i].key, next[i].sum, next[i].ok = key, sum, true
	})
	cache := make(map[parseKey]parseSummary, len(jobs))
	for _, n := range next {
		if n.ok {
			cache[n.key] = n.sum
		}
	}
	c.cr.storeParseCache(cache)

	failedSubjects := map[int]string{}
	for i, f := range failures {
		if f != "" && failedSubjects[jobs[i].s] == "" {
			failedSubjects[jobs[i].s] = f
		}
	}
	if len(failedSubjects) == 0 {
		return
	}
	kept := st.subjects[:0]
	for i, s := range st.subjects {
		if reason, bad := failedSubjects[i]; bad {
			st.failed[s.name] = "resolve references of " + reason
			for _, v := range s.versions {
				delete(st.byKey, svKey{v.subject, v.version})
				st.byID[v.id] = removeVersion(st.byID[v.id], v)
				if len(st.byID[v.id]) == 0 {
					delete(st.byID, v.id)
				}
			}
			continue
		}
		kept = append(kept, s)
	}
	st.subjects = kept
}

func removeVersion(vs []*versionInfo, v *versionInfo) []*versionInfo {
	out := vs[:0]
	for _, x := range vs {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// parse parses v with refs, records the outcome on v and returns its
// summary. The parsed schema stays with v when keep is set (latest
// versions, whose fields a bound topic needs).
func (v *versionInfo) parse(refs []schemaparse.Reference, keep bool) parseSummary {
	s, err := schemaparse.Parse(v.schemaType, v.text, refs)
	var sum parseSummary
	if err != nil {
		sum.err = err.Error()
	} else {
		sum = parseSummary{recordName: s.Name, doc: s.Doc, fieldCount: len(s.Fields)}
		if keep {
			sum.schema = s
		}
	}
	v.apply(sum)
	return sum
}

// apply records a parse outcome on v. The parsed schema is shared, never
// modified.
func (v *versionInfo) apply(sum parseSummary) {
	v.recordName, v.doc, v.fieldCount, v.parseErr = sum.recordName, sum.doc, sum.fieldCount, sum.err
	v.schema = sum.schema
}

// refLimitError reports a schema whose references exceed maxReferences.
type refLimitError struct{}

func (refLimitError) Error() string {
	return fmt.Sprintf("resolve references: more than %d references (transitively)", maxReferences)
}

func isRefLimit(err error) bool {
	var e refLimitError
	return errors.As(err, &e)
}

// resolveRefs returns the references of a schema with their texts, and the
// references of those, transitively (each name once, the first one wins).
// A reference the registry does not have wraps errRefNotFound; other errors
// are the registry's.
func (c *crawl) resolveRefs(ctx context.Context, st *registryState, refs []srRef) ([]schemaparse.Reference, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	var out []schemaparse.Reference
	seen := map[string]bool{}
	queue := append([]srRef(nil), refs...)
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		if seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		if len(out) == maxReferences {
			return nil, refLimitError{}
		}
		v, err := c.lookupVersion(ctx, st, r.Subject, r.Version)
		if err != nil {
			return nil, fmt.Errorf("reference %q (subject %s version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		out = append(out, schemaparse.Reference{Name: r.Name, Subject: r.Subject, Version: r.Version, Schema: v.text, Type: v.schemaType})
		queue = append(queue, v.refs...)
	}
	return out, nil
}

// schemaOf returns the parsed schema of v, parsing it again when its
// summary came from the previous crawl; it then stays with v for this crawl. It returns nil when v does not parse.
func (c *crawl) schemaOf(ctx context.Context, st *registryState, v *versionInfo) *schemaparse.Schema {
	if v.schema != nil || v.parseErr != "" {
		return v.schema
	}
	refs, err := c.resolveRefs(ctx, st, v.refs)
	if err != nil {
		return nil
	}
	s, err := schemaparse.Parse(v.schemaType, v.text, refs)
	if err != nil {
		return nil
	}
	v.schema = s
	return s
}

// protobufMessageName names the message that wire-format message indexes
// select in the Protobuf schema of v, or "" when it cannot be resolved.
func (c *crawl) protobufMessageName(ctx context.Context, st *registryState, v *versionInfo, indexes []int) string {
	refs, err := c.resolveRefs(ctx, st, v.refs)
	if err != nil {
		return ""
	}
	s, err := schemaparse.ParseProtobufMessage(v.text, refs, indexes)
	if err != nil {
		return ""
	}
	return s.Name
}

// indexesKey renders message indexes as a map key: "1.0".
func indexesKey(idx []int) string {
	parts := make([]string, len(idx))
	for i, n := range idx {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ".")
}
