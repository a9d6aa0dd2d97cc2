package neo4j

import (
	"context"
	"fmt"

	"github.com/watershed-data/watershed/catalog"
)

// hopQuery expands one frontier of a walk in Cypher: every edge the query
// lets through (kind, alive at $at, pass-through, Carrying, NodeKinds,
// LiveOnly), in frontier order then edge creation order, at most $limit
// rows. %s is the direction's pattern.
const hopQuery = `UNWIND $frontier AS f
MATCH %s
WITH f, n, r, m, (f.through AND (CASE WHEN $at IS NULL THEN 0 IN coalesce(n.passTo, []) ELSE ` + "%s" + ` END)) AS pass
WHERE r.kind IN $kinds
  AND (CASE WHEN $at IS NULL THEN r.alive ELSE ` + "%s" + ` END)
  AND NOT (pass AND r.kind IN $flow)
  AND ($carry IS NULL OR (NOT (r.masking AND NOT $pm) AND none(b IN r.block WHERE $carry = b OR $carry STARTS WITH b + '.')))
  AND ($nodeKinds IS NULL OR m.kind IN $nodeKinds)
  AND (NOT $live OR NOT m.deleted)
RETURN f.i AS i, n.urn AS from, r.kind AS kind, m.urn AS to, m.kind AS mkind
ORDER BY i, r.n
LIMIT $limit`

// Traverse walks breadth-first, one Cypher query per hop, with the
// embedded store's semantics (see catalog.TraverseQuery): each node once at
// its smallest depth, reached by the first edge in frontier and edge
// creation order. One hop reads at most Options.MaxHopRows edges; a walk
// that meets that bound stops there, Truncated.
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
	pattern := "(n:`Entity` {urn: f.u})-[r:`EDGE`]->(m:`Entity`)"
	if q.Direction == catalog.Upstream {
		pattern = "(n:`Entity` {urn: f.u})<-[r:`EDGE`]-(m:`Entity`)"
	}
	query := fmt.Sprintf(hopQuery, pattern, aliveAt("n.passFrom", "n.passTo"), aliveAt("r.ivFrom", "r.ivTo"))
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
		for d := 1; len(frontier) > 0 && (q.MaxDepth <= 0 || d <= q.MaxDepth); d++ {
			if err := ctx.Err(); err != nil {
				return nil, err
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
			})
			if err != nil {
				return nil, fmt.Errorf("walk hop %d: %w", d, err)
			}
			var next []catalog.URN
			for _, rec := range recs {
				from, kind, to := catalog.URN(rec.Values[1].(string)), catalog.EdgeKind(rec.Values[2].(string)), catalog.URN(rec.Values[3].(string))
				key := catalog.EdgeKey{From: from, Kind: kind, To: to}
				other := to
				if q.Direction == catalog.Upstream {
					key = catalog.EdgeKey{From: to, Kind: kind, To: from}
					other = to
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
				mk := catalog.Kind(rec.Values[4].(string))
				out.Nodes = append(out.Nodes, catalog.Reached{URN: other, Kind: mk, Depth: d, Via: key})
				if q.Edges {
					out.Edges = append(out.Edges, key)
				}
				if stop[mk] {
					continue // reached, not walked from
				}
				next = append(next, other)
			}
			if len(recs) >= s.hopRows {
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
