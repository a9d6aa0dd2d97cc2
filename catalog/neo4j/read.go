package neo4j

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// MaxChangesPerRead bounds one Changes call.
const MaxChangesPerRead = 10000

// reader runs the queries of one read transaction.
type reader struct {
	s   *Store
	ctx context.Context
	tx  neo4j.ManagedTransaction
}

func (r reader) collect(query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := r.tx.Run(r.ctx, r.s.q.Replace(query), params)
	if err != nil {
		return nil, err
	}
	return res.Collect(r.ctx)
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(r reader) (any, error)) (any, error) {
	return s.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return fn(reader{s, ctx, tx}) })
}

func readDefs(ctx context.Context, tx neo4j.ManagedTransaction, s *Store) (map[string]catalog.ClassificationDef, error) {
	res, err := tx.Run(ctx, s.q.Replace("MATCH (d:`ClassDef`) RETURN d.rec"), nil)
	if err != nil {
		return nil, err
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		return nil, fmt.Errorf("read classifications: %w", err)
	}
	out := make(map[string]catalog.ClassificationDef, len(recs))
	for _, r := range recs {
		var d classDefRecord
		if err := json.Unmarshal([]byte(r.Values[0].(string)), &d); err != nil {
			return nil, fmt.Errorf("decode classification: %w", err)
		}
		out[d.Name] = d.public()
	}
	return out, nil
}

// entities reads the merged views of urns in order; unknown URNs yield zero
// entities, URNs only edges reference an entity without sources.
func (r reader) entities(urns []catalog.URN) ([]catalog.Entity, error) {
	out := make([]catalog.Entity, len(urns))
	if len(urns) == 0 {
		return out, nil
	}
	defs, err := readDefs(r.ctx, r.tx, r.s)
	if err != nil {
		return nil, err
	}
	list := make([]string, len(urns))
	for i, u := range urns {
		list[i] = string(u)
	}
	recs, err := r.collect(`UNWIND range(0, size($urns) - 1) AS i MATCH (e:`+"`Entity`"+` {urn: $urns[i]})
		RETURN i, e.rec, [k IN keys(e) WHERE k STARTS WITH 'live.' | [substring(k, 5), e[k]]]`, map[string]any{"urns": list})
	if err != nil {
		return nil, fmt.Errorf("read entities: %w", err)
	}
	for _, rec := range recs {
		i := int(asInt(rec.Values[0]))
		u := urns[i]
		b, ok := rec.Values[1].(string)
		if !ok {
			out[i] = catalog.Entity{URN: u, Kind: u.Kind(), Name: u.DisplayName()}
			continue
		}
		var er entityRecord
		if err := json.Unmarshal([]byte(b), &er); err != nil {
			return nil, fmt.Errorf("decode entity %s: %w", u, err)
		}
		var live map[string]catalog.Properties
		for _, kv := range rec.Values[2].([]any) {
			pair := kv.([]any)
			js, ok := pair[1].(string)
			if !ok {
				continue
			}
			p, err := catalog.DecodeProperties([]byte(js))
			if err != nil {
				return nil, fmt.Errorf("decode live readings of %s: %w", u, err)
			}
			if live == nil {
				live = map[string]catalog.Properties{}
			}
			live[pair[0].(string)] = p
		}
		out[i] = er.view(live, defs)
	}
	return out, nil
}

// Entity returns the merged view of u. A URN that only crawled edges
// reference (no source asserts it yet) yields an entity with no Sources.
func (s *Store) Entity(ctx context.Context, u catalog.URN) (catalog.Entity, error) {
	if err := u.Validate(); err != nil {
		return catalog.Entity{}, err
	}
	ents, err := s.Entities(ctx, []catalog.URN{u})
	if err != nil {
		return catalog.Entity{}, err
	}
	if ents[0].URN == "" {
		return catalog.Entity{}, catalog.Errorf(catalog.NotFound, "no asset %s", u)
	}
	return ents[0], nil
}

// Entities returns the entities of urns in order; unknown or invalid URNs
// yield zero entities.
func (s *Store) Entities(ctx context.Context, urns []catalog.URN) ([]catalog.Entity, error) {
	v, err := s.view(ctx, func(r reader) (any, error) { return r.entities(urns) })
	if err != nil {
		return nil, err
	}
	return v.([]catalog.Entity), nil
}

// lastSeen reads each crawler source's last reconcile time.
func (r reader) lastSeen() (map[string]time.Time, error) {
	recs, err := r.collect("MATCH (s:`Source`) RETURN s.name, s.last", nil)
	if err != nil {
		return nil, fmt.Errorf("read sources: %w", err)
	}
	out := make(map[string]time.Time, len(recs))
	for _, rec := range recs {
		out[rec.Values[0].(string)] = fromNanos(asInt(rec.Values[1]))
	}
	return out, nil
}

func decodeEdge(b string, lastSeen map[string]time.Time) (catalog.Edge, error) {
	var r edgeRecord
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		return catalog.Edge{}, fmt.Errorf("decode edge: %w", err)
	}
	return r.view(func(src string) time.Time {
		if r.Claims[src] == nil {
			return time.Time{}
		}
		return lastSeen[src]
	}), nil
}

// Edges returns the edges touching q.URN, sorted by key.
func (s *Store) Edges(ctx context.Context, q catalog.EdgeQuery) ([]catalog.Edge, error) {
	if err := q.URN.Validate(); err != nil {
		return nil, err
	}
	var kinds []string
	for _, k := range q.Kinds {
		kinds = append(kinds, string(k))
	}
	var patterns []string
	if q.Direction == catalog.Downstream || q.Direction == catalog.Both {
		patterns = append(patterns, "(n)-[r:`EDGE`]->()")
	}
	if q.Direction == catalog.Upstream || q.Direction == catalog.Both {
		patterns = append(patterns, "(n)<-[r:`EDGE`]-()")
	}
	v, err := s.view(ctx, func(r reader) (any, error) {
		seen, err := r.lastSeen()
		if err != nil {
			return nil, err
		}
		var out []catalog.Edge
		for _, p := range patterns {
			recs, err := r.collect("MATCH (n:`Entity` {urn: $urn}) MATCH "+p+` WHERE ($kinds IS NULL OR r.kind IN $kinds)
				AND (CASE WHEN $at IS NOT NULL THEN `+aliveAt("r.ivFrom", "r.ivTo")+` ELSE r.alive OR $deleted END)
				RETURN r.rec`, map[string]any{"urn": string(q.URN), "kinds": nilIfEmpty(kinds), "at": nanosOrNil(q.At), "deleted": q.IncludeDeleted})
			if err != nil {
				return nil, fmt.Errorf("read edges of %s: %w", q.URN, err)
			}
			for _, rec := range recs {
				e, err := decodeEdge(rec.Values[0].(string), seen)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	out := v.([]catalog.Edge)
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].EdgeKey, out[j].EdgeKey) })
	return out, nil
}

// aliveAt is the Cypher test that one of the intervals from[i]..to[i]
// (to 0: open) contains $at.
func aliveAt(from, to string) string {
	return fmt.Sprintf("any(i IN range(0, size(coalesce(%[1]s, [])) - 1) WHERE %[1]s[i] <= $at AND (%[2]s[i] = 0 OR $at < %[2]s[i]))", from, to)
}

func nanosOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func nilIfEmpty(ss []string) any {
	if len(ss) == 0 {
		return nil
	}
	return ss
}

func keyLess(a, b catalog.EdgeKey) bool {
	if a.From != b.From {
		return a.From < b.From
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.To < b.To
}

// EdgesByKey returns the edges of keys in order; unknown keys yield zero
// edges.
func (s *Store) EdgesByKey(ctx context.Context, keys []catalog.EdgeKey) ([]catalog.Edge, error) {
	out := make([]catalog.Edge, len(keys))
	var params []map[string]any
	for i, k := range keys {
		if k.Validate() != nil {
			continue
		}
		p := keyParam(k)
		p["i"] = int64(i)
		params = append(params, p)
	}
	if len(params) == 0 {
		return out, nil
	}
	_, err := s.view(ctx, func(r reader) (any, error) {
		seen, err := r.lastSeen()
		if err != nil {
			return nil, err
		}
		recs, err := r.collect("UNWIND $keys AS k MATCH (:`Entity` {urn: k.f})-[r:`EDGE` {kind: k.k}]->(:`Entity` {urn: k.t}) RETURN k.i, r.rec", map[string]any{"keys": params})
		if err != nil {
			return nil, fmt.Errorf("read edges: %w", err)
		}
		for _, rec := range recs {
			e, err := decodeEdge(rec.Values[1].(string), seen)
			if err != nil {
				return nil, err
			}
			out[asInt(rec.Values[0])] = e
		}
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Scan pages through the live entities of kind in URN order; see
// catalog.Reader. A page is read by URN from after onwards, so entities
// behind the cursor never come back.
func (s *Store) Scan(ctx context.Context, kind catalog.Kind, after catalog.URN, limit int) ([]catalog.Entity, catalog.URN, error) {
	if !kind.Valid() {
		return nil, "", catalog.Errorf(catalog.Invalid, "scan: unknown kind %q", kind)
	}
	if limit <= 0 {
		return nil, "", catalog.Errorf(catalog.Invalid, "scan: limit must be positive")
	}
	prefix := "urn:" + kind.Scheme() + ":"
	if after != "" && !strings.HasPrefix(string(after), prefix) {
		return nil, "", catalog.Errorf(catalog.Invalid, "scan: cursor %s is not a %s URN", after, kind)
	}
	v, err := s.view(ctx, func(r reader) (any, error) {
		recs, err := r.collect("MATCH (e:`Entity`) WHERE e.kind = $kind AND e.urn > $after AND e.rec IS NOT NULL AND NOT e.deleted RETURN e.urn ORDER BY e.urn LIMIT $n",
			map[string]any{"kind": string(kind), "after": string(after), "n": int64(limit + 1)})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", kind, err)
		}
		var urns []catalog.URN
		for _, rec := range recs {
			urns = append(urns, catalog.URN(rec.Values[0].(string)))
		}
		more := len(urns) > limit
		if more {
			urns = urns[:limit]
		}
		ents, err := r.entities(urns)
		if err != nil {
			return nil, err
		}
		var next catalog.URN
		if more {
			next = urns[len(urns)-1]
		}
		return scanPage{ents, next}, nil
	})
	if err != nil {
		return nil, "", err
	}
	p := v.(scanPage)
	return p.ents, p.next, nil
}

type scanPage struct {
	ents []catalog.Entity
	next catalog.URN
}

// Search finds entities: every word of q.Text must match one of an
// entity's tokens exactly or as a prefix. Ranking is the embedded store's:
// exact name matches first, then entities whose name matches, then kind
// order, name and URN.
func (s *Store) Search(ctx context.Context, q catalog.SearchQuery) (catalog.SearchResult, error) {
	for _, k := range q.Kinds {
		if !k.Valid() {
			return catalog.SearchResult{}, catalog.Errorf(catalog.Invalid, "unknown kind %q", k)
		}
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 1000
	}
	if q.Offset < 0 {
		return catalog.SearchResult{}, catalog.Errorf(catalog.Invalid, "negative offset")
	}
	text := strings.ToLower(strings.TrimSpace(q.Text))
	qwords := words(text)
	var kinds []string
	for _, k := range q.Kinds {
		kinds = append(kinds, string(k))
	}
	kindRank := map[catalog.Kind]int{}
	for i, k := range catalog.Kinds() {
		kindRank[k] = i
	}
	v, err := s.view(ctx, func(r reader) (any, error) {
		recs, err := r.collect(`MATCH (e:`+"`Entity`"+`) WHERE e.rec IS NOT NULL AND ($deleted OR NOT e.deleted)
			AND ($kinds IS NULL OR e.kind IN $kinds)
			AND all(w IN $words WHERE any(t IN e.tokens WHERE t STARTS WITH w))
			AND all(c IN $classes WHERE any(h IN e.classes WHERE h = c OR h STARTS WITH c + '.'))
			RETURN e.urn, e.kind, e.name, e.tokens`,
			map[string]any{"deleted": q.IncludeDeleted, "kinds": nilIfEmpty(kinds), "words": nonNil(qwords), "classes": nonNil(q.Classifications)})
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		type hit struct {
			urn   catalog.URN
			kind  catalog.Kind
			name  string
			score int
		}
		hits := make([]hit, 0, len(recs))
		for _, rec := range recs {
			h := hit{urn: catalog.URN(rec.Values[0].(string)), kind: catalog.Kind(rec.Values[1].(string)), name: rec.Values[2].(string)}
			if len(qwords) > 0 {
				toks := asStrings(rec.Values[3])
				for _, w := range qwords {
					best := 0
					for _, t := range toks {
						if t == w {
							best = 2
							break
						}
						if strings.HasPrefix(t, w) {
							best = 1
						}
					}
					h.score += best
				}
				name := strings.ToLower(h.name)
				switch {
				case name == text:
					h.score += 100
				case strings.HasPrefix(name, text):
					h.score += 50
				case strings.Contains(name, text):
					h.score += 20
				}
			}
			hits = append(hits, h)
		}
		sort.Slice(hits, func(i, j int) bool {
			a, b := hits[i], hits[j]
			if a.score != b.score {
				return a.score > b.score
			}
			if kindRank[a.kind] != kindRank[b.kind] {
				return kindRank[a.kind] < kindRank[b.kind]
			}
			if a.name != b.name {
				return a.name < b.name
			}
			return a.urn < b.urn
		})
		var page []catalog.URN
		for i := q.Offset; i < len(hits) && len(page) < q.Limit; i++ {
			page = append(page, hits[i].urn)
		}
		ents, err := r.entities(page)
		if err != nil {
			return nil, err
		}
		return catalog.SearchResult{Entities: ents, Total: len(hits)}, nil
	})
	if err != nil {
		return catalog.SearchResult{}, err
	}
	return v.(catalog.SearchResult), nil
}

// Changes returns up to limit changes after the given sequence number, in
// order. Sequence numbers are given out under the counter lock and commit
// with their transaction, so the outbox has no gaps: a reader never sees a
// change before an earlier one.
func (s *Store) Changes(ctx context.Context, after uint64, limit int) ([]catalog.Change, error) {
	if limit <= 0 || limit > MaxChangesPerRead {
		limit = MaxChangesPerRead
	}
	if after >= math.MaxInt64 {
		return nil, s.checkOpen() // beyond any sequence number Neo4j can hold
	}
	v, err := s.view(ctx, func(r reader) (any, error) {
		recs, err := r.collect("MATCH (c:`Change`) WHERE c.seq > $after RETURN c.rec ORDER BY c.seq LIMIT $n", map[string]any{"after": int64(after), "n": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		return decodeChanges(recs)
	})
	if err != nil {
		return nil, err
	}
	out := v.([]catalog.Change)
	if len(out) == 0 {
		return nil, nil
	}
	s.published(out[len(out)-1].Seq)
	return out, nil
}

// LastSeq returns the newest change's sequence number.
func (s *Store) LastSeq(ctx context.Context) (uint64, error) {
	v, err := s.view(ctx, func(r reader) (any, error) { return r.head() })
	if err != nil {
		return 0, err
	}
	head := v.(uint64)
	s.published(head)
	return head, nil
}

func (r reader) head() (uint64, error) {
	recs, err := r.collect("MATCH (c:`Counter` {id: 'head'}) RETURN c.seq", nil)
	if err != nil {
		return 0, fmt.Errorf("read the change counter: %w", err)
	}
	if len(recs) == 0 {
		return 0, nil
	}
	return uint64(asInt(recs[0].Values[0])), nil
}

// WaitChanges blocks until a change with Seq > after exists or ctx ends.
// Writes of this store wake it at once; those of other replicas are seen
// by polling every Options.PollInterval.
func (s *Store) WaitChanges(ctx context.Context, after uint64) error {
	for {
		s.mu.Lock()
		head, ch, closed := s.head, s.notify, s.closed
		s.mu.Unlock()
		if closed {
			return catalog.ErrClosed
		}
		if head > after {
			return nil
		}
		timer := time.NewTimer(s.poll)
		select {
		case <-ch:
		case <-timer.C:
			if _, err := s.LastSeq(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("poll the change counter", "err", err)
			}
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		}
		timer.Stop()
	}
}

// Classifications returns the definitions sorted by name.
func (s *Store) Classifications(ctx context.Context) ([]catalog.ClassificationDef, error) {
	v, err := s.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return readDefs(ctx, tx, s) })
	if err != nil {
		return nil, err
	}
	defs := v.(map[string]catalog.ClassificationDef)
	out := make([]catalog.ClassificationDef, 0, len(defs))
	for _, d := range defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// CrawlRuns returns crawl runs, newest first.
func (s *Store) CrawlRuns(ctx context.Context, source string, limit int) ([]catalog.CrawlRun, error) {
	if limit <= 0 {
		limit = 100
	}
	v, err := s.view(ctx, func(r reader) (any, error) {
		recs, err := r.collect("MATCH (r:`Run`) WHERE $src = '' OR r.source = $src RETURN r.rec ORDER BY r.start DESC LIMIT $n",
			map[string]any{"src": source, "n": int64(limit)})
		if err != nil {
			return nil, fmt.Errorf("read crawl runs: %w", err)
		}
		out := make([]catalog.CrawlRun, 0, len(recs))
		for _, rec := range recs {
			var rr runRecord
			if err := json.Unmarshal([]byte(rec.Values[0].(string)), &rr); err != nil {
				return nil, fmt.Errorf("decode crawl run: %w", err)
			}
			out = append(out, catalog.CrawlRun{
				Source: rr.Source, Kind: rr.Kind, Trigger: rr.Trigger, Status: rr.Status, StartedAt: rr.StartedAt,
				Duration: rr.Duration, Counts: rr.Counts, Result: rr.Result, Errors: rr.Errors,
			})
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]catalog.CrawlRun), nil
}

// tokensOf returns the search tokens of an entity: the lower-cased name, the
// words of its name, its URN identity and its description (the embedded
// store's tokens).
func tokensOf(u catalog.URN, name, desc string) []string {
	set := map[string]struct{}{}
	add := func(s string) {
		if s != "" && len(s) <= 200 {
			set[s] = struct{}{}
		}
	}
	lname := strings.ToLower(name)
	add(lname)
	for _, w := range words(lname) {
		add(w)
	}
	for _, w := range words(strings.ToLower(u.Identity())) {
		add(w)
	}
	for i, w := range words(strings.ToLower(desc)) {
		if i >= 64 {
			break
		}
		add(w)
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// words splits s on anything that is not a letter or digit.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}
