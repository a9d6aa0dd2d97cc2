package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// closureCypher is the impact closure in Cypher: a variable-length walk
// whose DISTINCT end nodes Neo4j 5 expands breadth-first with pruning.
const closureCypher = `MATCH (h:Asset {id: $id})-[:FLOW*]->(n) RETURN count(DISTINCT n) AS n`

// measureNeo4j loads g into the Neo4j 5 server at o.Neo4j (through its
// HTTP transaction API, so the bench needs no driver) into a :Asset/:FLOW
// graph it first clears, and times the closure of each hub.
func measureNeo4j(ctx context.Context, g *graph, hubs []uint32, o options, res *Result) error {
	u, err := url.Parse(o.Neo4j)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("-neo4j %q is not an http(s) URL", o.Neo4j)
	}
	n := &neo4jHTTP{endpoint: strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/") + "/db/neo4j/tx/commit"}
	if u.User != nil {
		n.user = u.User.Username()
		n.pass, _ = u.User.Password()
	}
	t0 := time.Now()
	if _, err := n.run(ctx, "MATCH (a:Asset) CALL { WITH a DETACH DELETE a } IN TRANSACTIONS OF 10000 ROWS", nil); err != nil {
		return fmt.Errorf("clear the bench graph: %w", err)
	}
	if _, err := n.run(ctx, "CREATE CONSTRAINT bench_asset IF NOT EXISTS FOR (a:Asset) REQUIRE a.id IS UNIQUE", nil); err != nil {
		return err
	}
	const batch = 20_000
	for lo := 0; lo < len(g.kinds); lo += batch {
		ids := make([]int, 0, batch)
		for i := lo; i < min(lo+batch, len(g.kinds)); i++ {
			ids = append(ids, i)
		}
		if _, err := n.run(ctx, "UNWIND $ids AS id CREATE (:Asset {id: id})", map[string]any{"ids": ids}); err != nil {
			return fmt.Errorf("create assets: %w", err)
		}
	}
	for lo := 0; lo < len(g.from); lo += batch {
		pairs := make([][2]uint32, 0, batch)
		for i := lo; i < min(lo+batch, len(g.from)); i++ {
			pairs = append(pairs, [2]uint32{g.from[i], g.to[i]})
		}
		if _, err := n.run(ctx, "UNWIND $e AS e MATCH (a:Asset {id: e[0]}), (b:Asset {id: e[1]}) CREATE (a)-[:FLOW]->(b)", map[string]any{"e": pairs}); err != nil {
			return fmt.Errorf("create edges: %w", err)
		}
	}
	o.Logger.Info("loaded neo4j", "took", time.Since(t0).Round(time.Millisecond))
	var all []time.Duration
	for i, h := range hubs {
		for r := 0; r < o.PGRuns+1; r++ {
			t0 := time.Now()
			rows, err := n.run(ctx, closureCypher, map[string]any{"id": h})
			d := time.Since(t0)
			if err != nil {
				return fmt.Errorf("closure of %d: %w", h, err)
			}
			if len(rows) != 1 || len(rows[0]) != 1 {
				return fmt.Errorf("closure of %d: unexpected answer %v", h, rows)
			}
			var got int
			if err := json.Unmarshal(rows[0][0], &got); err != nil || got != res.Hubs[i].Closure {
				return fmt.Errorf("neo4j closure of %d has %s assets, the generator's BFS %d", h, rows[0][0], res.Hubs[i].Closure)
			}
			if r > 0 {
				all = append(all, d)
			}
		}
	}
	res.Neo4jP50ms, res.Neo4jP99ms = ms(percentile(all, 50)), ms(percentile(all, 99))
	return nil
}

type neo4jHTTP struct {
	endpoint, user, pass string
}

// run executes one statement in its own transaction and returns the rows.
func (n *neo4jHTTP) run(ctx context.Context, stmt string, params map[string]any) ([][]json.RawMessage, error) {
	if params == nil {
		params = map[string]any{}
	}
	body, err := json.Marshal(map[string]any{"statements": []any{map[string]any{"statement": stmt, "parameters": params}}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if n.user != "" {
		req.SetBasicAuth(n.user, n.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("neo4j: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("neo4j: read answer: %w", err)
	}
	var out struct {
		Results []struct {
			Data []struct {
				Row []json.RawMessage `json:"row"`
			} `json:"data"`
		} `json:"results"`
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("neo4j answered %s: %.200s", resp.Status, b)
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("neo4j: %s: %s", out.Errors[0].Code, out.Errors[0].Message)
	}
	var rows [][]json.RawMessage
	for _, r := range out.Results {
		for _, d := range r.Data {
			rows = append(rows, d.Row)
		}
	}
	return rows, nil
}
