package neo4j

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// hopsPerQuery is how many hops one Cypher query of a walk expands: the
// first exactly, the rest speculatively (see walkQuery).
const hopsPerQuery = 5

// edgeFilter is the WHERE of one hop over (n)-[r]->(m): every edge the
// query lets through (kind, alive at $at, pass-through, Carrying,
// NodeKinds, LiveOnly). THROUGH is whether n was reached by the walk (not
// a start); %[1]s and %[2]s are the node's pass-through and the edge's
// liveness at $at.
const edgeFilter = `r.kind IN $kinds
  AND (CASE WHEN $at IS NULL THEN r.alive ELSE %[2]s END)
  AND NOT ((THROUGH AND (CASE WHEN $at IS NULL THEN 0 IN coalesce(n.passTo, []) ELSE %[1]s END)) AND r.kind IN $flow)
  AND ($carry IS NULL OR (NOT (r.masking AND NOT $pm) AND none(b IN r.block WHERE $carry = b OR $carry STARTS WITH b + '.')))
  AND ($nodeKinds IS NULL OR m.kind IN $nodeKinds)
  AND (NOT $live OR NOT m.deleted)`

// walkQuery expands up to hops hops of a walk in one query. Hop 0 is
// exact: every edge the filter lets through out of $frontier, in frontier
// order then edge creation order, at most $limit rows. Each later hop is
// speculative: the edges out of every node the previous hop reached whose
// kind is not in $stop (at most $limit of them, in no order), without
// knowing which of those nodes the walk visited before. The speculative
// hops are a superset of what the walk expands next, so the caller keeps
// the rows of the nodes it really expands and orders them itself; a
// speculative hop that met $limit is unusable (which rows it dropped is
// unknown) and the caller walks on from there with a new query. Later
// hops look their nodes up by URN with an index hint: without it Neo4j
// 5 may plan a hop as a scan of the URN index.
func walkQuery(hops int, upstream bool) string {
	arrow := func(n string) string {
		if upstream {
			return n + "<-[r:`EDGE`]-(m:`Entity`)"
		}
		return n + "-[r:`EDGE`]->(m:`Entity`)"
	}
	filter := func(through string) string {
		return strings.ReplaceAll(fmt.Sprintf(edgeFilter, aliveAt("n.passFrom", "n.passTo"), aliveAt("r.ivFrom", "r.ivTo")), "THROUGH", through)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `CALL {
  UNWIND $frontier AS f
  MATCH %s
  WHERE %s
  WITH f, n, r, m ORDER BY f.i, r.n LIMIT $limit
  RETURN collect([f.i, n.urn, r.kind, m.urn, m.kind, r.n]) AS h0,
    collect(DISTINCT CASE WHEN NOT m.kind IN $stop THEN m.urn END) AS x0
}
`, arrow("(n:`Entity` {urn: f.u})"), filter("f.through"))
	ret := []string{"h0"}
	carried := "h0"
	for h := 1; h < hops; h++ {
		fmt.Fprintf(&b, `CALL {
  WITH x%[1]d
  UNWIND x%[1]d AS u
  MATCH %[3]s USING INDEX SEEK n:`+"`Entity`"+`(urn)
  WHERE %[4]s
  WITH n, r, m LIMIT $limit
  RETURN collect([0, n.urn, r.kind, m.urn, m.kind, r.n]) AS h%[2]d,
    collect(DISTINCT CASE WHEN NOT m.kind IN $stop THEN m.urn END) AS x%[2]d
}
WITH %[5]s, h%[2]d, x%[2]d
`, h-1, h, arrow("(n:`Entity` {urn: u})"), filter("true"), carried)
		ret = append(ret, fmt.Sprintf("h%d", h))
		carried = strings.Join(ret, ", ")
	}
	b.WriteString("RETURN " + strings.Join(ret, ", "))
	return b.String()
}

// Traverse walks breadth-first with the embedded store's semantics (see
// catalog.TraverseQuery): each node once at its smallest depth, reached by the first edge in frontier and edge
// creation order. One hop reads at most Options.MaxHopRows edges; a walk
// that meets that bound stops there, Truncated. One Cypher query expands
// up to hopsPerQuery hops (walkQuery); a hop whose speculative expansion
// met the bound is read again exactly by the next query.
func (s *Store) Traverse(ctx context.Context, q catalog.TraverseQuery) (catalog.Traversal, error) {
	var out catalog.Traversal
	starts := q.StartURNs()
	if len(starts) == 0 {
		return out, catalog.Errorf(catalog.Invalid, "traverse: no start")
	}
	for _, u := range starts {
		if err := u.Validate(); err != nil {
			return out, err
		}
	}
	if q.Direction != catalog.Downstream && q.Direction != catalog.Upstream {
		return out, catalog.Errorf(catalog.Invalid, "traverse: direction must be downstream or upstream")
	}
	for _, k := range q.EdgeKinds {
		if !k.Valid() {
			return out, catalog.Errorf(catalog.Invalid, "traverse: unknown edge kind %q", k)
		}
	}
	if q.Carrying != "" {
		if err := catalog.ValidClassificationName(q.Carrying); err != nil {
			return out, err
		}
	}
	kinds := q.EdgeKinds
	if len(kinds) == 0 {
		kinds = catalog.FlowEdgeKinds()
	}
	var kindList, flowList, nodeKinds []string
	for _, k := range kinds {
		kindList = append(kindList, string(k))
	}
	for _, k := range catalog.FlowEdgeKinds() {
		flowList = append(flowList, string(k))
	}
	for _, k := range q.NodeKinds {
		nodeKinds = append(nodeKinds, string(k))
	}
	stop := map[catalog.Kind]bool{}
	for _, k := range q.StopKinds {
		stop[k] = true
	}
	stopList := []string{}
	for k := range stop {
		stopList = append(stopList, string(k))
	}
	queries := map[int]string{}
	v, err := s.view(ctx, func(r reader) (any, error) {
		var out catalog.Traversal
		head, err := r.head()
		if err != nil {
			return nil, err
		}
		out.Seq = head
		var carry any
		pm := false
		if q.Carrying != "" {
			carry = q.Carrying
			defs, err := readDefs(r.ctx, r.tx, s)
			if err != nil {
				return nil, err
			}
			pm = defs[q.Carrying].PassesMasking
		}
		list := make([]string, len(starts))
		for i, u := range starts {
			list[i] = string(u)
		}
		recs, err := r.collect("UNWIND $urns AS u OPTIONAL MATCH (n:`Entity` {urn: u}) RETURN u, n IS NOT NULL, coalesce(n.deleted, false)", map[string]any{"urns": list})
		if err != nil {
			return nil, fmt.Errorf("read walk starts: %w", err)
		}
		visited := map[catalog.URN]bool{}
		var frontier []catalog.URN
		deleted := map[string]bool{}
		for _, rec := range recs {
			if rec.Values[1] != true {
				return nil, catalog.Errorf(catalog.NotFound, "no asset %s", rec.Values[0])
			}
			deleted[rec.Values[0].(string)] = rec.Values[2] == true
		}
		for _, u := range starts {
			if q.LiveOnly && deleted[string(u)] {
				continue // a tombstone starts nothing
			}
			if !visited[u] {
				visited[u] = true
				frontier = append(frontier, u)
			}
		}
		isStart := len(frontier)
		var spec [][]hopRow // speculative hops of the last query, usable in turn
		for d := 1; len(frontier) > 0 && (q.MaxDepth <= 0 || d <= q.MaxDepth); d++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var rows []hopRow
			if len(spec) > 0 {
				rows = expandedBy(spec[0], frontier)
				spec = spec[1:]
			} else {
				hops := hopsPerQuery
				if q.MaxDepth > 0 {
					hops = min(hops, q.MaxDepth-d+1)
				}
				query, ok := queries[hops]
				if !ok {
					query = walkQuery(hops, q.Direction == catalog.Upstream)
					queries[hops] = query
				}
				params := make([]map[string]any, len(frontier))
				for i, u := range frontier {
					// A pass-through node reached by the walk stops the flow:
					// its pair edges carry the data across it.
					params[i] = map[string]any{"i": int64(i), "u": string(u), "through": d > 1 || i >= isStart}
				}
				recs, err := r.collect(query, map[string]any{
					"frontier": params, "kinds": kindList, "flow": flowList, "at": nanosOrNil(q.At),
					"carry": carry, "pm": pm, "nodeKinds": nilIfEmpty(nodeKinds), "live": q.LiveOnly, "limit": int64(s.hopRows),
					"stop": stopList,
				})
				if err != nil {
					return nil, fmt.Errorf("walk hop %d: %w", d, err)
				}
				if len(recs) != 1 {
					return nil, fmt.Errorf("walk hop %d: %d result rows", d, len(recs))
				}
				for h, v := range recs[0].Values {
					hop := hopRows(v)
					if h == 0 {
						rows = hop
						continue
					}
					if len(hop) >= s.hopRows {
						break // met the bound: which rows it lacks is unknown
					}
					spec = append(spec, hop)
				}
			}
			var next []catalog.URN
			for _, row := range rows {
				key := catalog.EdgeKey{From: row.from, Kind: row.kind, To: row.to}
				other := row.to
				if q.Direction == catalog.Upstream {
					key = catalog.EdgeKey{From: row.to, Kind: row.kind, To: row.from}
				}
				if visited[other] {
					if q.Edges {
						out.Edges = append(out.Edges, key)
					}
					continue
				}
				if q.Limit > 0 && len(out.Nodes) >= q.Limit {
					out.Truncated = true
					return out, nil
				}
				visited[other] = true
				out.Nodes = append(out.Nodes, catalog.Reached{URN: other, Kind: row.mkind, Depth: d, Via: key})
				if q.Edges {
					out.Edges = append(out.Edges, key)
				}
				if stop[row.mkind] {
					continue // reached, not walked from
				}
				next = append(next, other)
			}
			if len(rows) >= s.hopRows {
				out.Truncated = true
				return out, nil
			}
			frontier = next
			isStart = 0
		}
		return out, nil
	})
	if err != nil {
		return catalog.Traversal{}, err
	}
	return v.(catalog.Traversal), nil
}

// hopRow is one edge a hop of a walk read: from the frontier node from to
// the node to (of kind mkind), n its creation order.
type hopRow struct {
	from, to catalog.URN
	kind     catalog.EdgeKind
	mkind    catalog.Kind
	n        int64
}

// hopRows decodes a hop's list of [i, from, kind, to, mkind, n].
func hopRows(v any) []hopRow {
	list, _ := v.([]any)
	out := make([]hopRow, 0, len(list))
	for _, e := range list {
		f := e.([]any)
		out = append(out, hopRow{from: catalog.URN(f[1].(string)), kind: catalog.EdgeKind(f[2].(string)), to: catalog.URN(f[3].(string)), mkind: catalog.Kind(f[4].(string)), n: asInt(f[5])})
	}
	return out
}

// expandedBy keeps the rows of a speculative hop out of the frontier's
// nodes, in frontier order then edge creation order: the rows the exact
// hop query would have read.
func expandedBy(rows []hopRow, frontier []catalog.URN) []hopRow {
	at := make(map[catalog.URN]int, len(frontier))
	for i, u := range frontier {
		at[u] = i
	}
	var out []hopRow
	for _, r := range rows {
		if _, ok := at[r.from]; ok {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := at[out[i].from], at[out[j].from]; a != b {
			return a < b
		}
		return out[i].n < out[j].n
	})
	return out
}
