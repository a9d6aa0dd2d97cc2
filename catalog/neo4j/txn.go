package neo4j

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// txCtx is one write transaction: it holds the counter lock, loads the
// records the write touches (in batches), and at commit derives the change
// events from the difference between each record's original and final
// state — several mutations of one entity yield their net effect, and a
// write that changes nothing yields no events — and writes records and
// events with UNWIND.
type txCtx struct {
	s   *Store
	ctx context.Context
	tx  neo4j.ManagedTransaction
	id  string

	head   uint64 // the sequence number before this transaction
	edgeN  int64  // the edge creation counter
	lastAt time.Time

	at                   time.Time
	origin, actor, cause string

	entities map[catalog.URN]*entityRecord
	entOrig  map[catalog.URN]*entityRecord // nil: no record
	entOrder []catalog.URN
	nodes    map[catalog.URN]nodeInfo // what the database holds, once looked up

	edges     map[catalog.EdgeKey]*edgeRecord
	edgeOrig  map[catalog.EdgeKey]*edgeRecord
	edgeVia   map[catalog.EdgeKey][]catalog.URN // the Via nodes the stored edge names
	edgeOrder []catalog.EdgeKey

	allDefs map[string]catalog.ClassificationDef // stored, loaded on first use
	defs    map[string]*classDefRecord           // pending

	live    []liveUpdate
	changes []changeRecord // events emitted explicitly (not derived)
	source  string         // a reconciled source whose lastReconciled becomes at

	run    *catalog.CrawlRun
	runRes *catalog.ReconcileResult
}

type nodeInfo struct {
	exists, record, deleted bool
}

type liveUpdate struct {
	source string
	urn    catalog.URN
	live   []byte // nil removes
	hash   uint64
}

// txnRecord is what a committed write leaves in its (:Txn) node.
type txnRecord struct {
	First, Last uint64          // the sequence numbers it wrote (0, 0: none)
	Result      json.RawMessage // the write's own answer, when it has one
}

// begin takes the counter lock and reads the counter; rec is set when
// transaction id already committed.
func (s *Store) begin(ctx context.Context, tx neo4j.ManagedTransaction, id string) (*txCtx, *txnRecord, error) {
	res, err := tx.Run(ctx, s.q.Replace(`
		MATCH (c:`+"`Counter`"+` {id: 'head'}) SET c.lock = c.lock + 1
		WITH c OPTIONAL MATCH (t:`+"`Txn`"+` {id: $id})
		RETURN c.seq AS seq, c.edges AS edges, c.lastAt AS lastAt, t.first AS first, t.last AS last, t.result AS result`),
		map[string]any{"id": id})
	if err != nil {
		return nil, nil, err
	}
	r, err := res.Single(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("lock the change counter: %w", err)
	}
	t := &txCtx{
		s: s, ctx: ctx, tx: tx, id: id,
		head: uint64(asInt(r.Values[0])), edgeN: asInt(r.Values[1]), lastAt: fromNanos(asInt(r.Values[2])),
		entities: map[catalog.URN]*entityRecord{}, entOrig: map[catalog.URN]*entityRecord{}, nodes: map[catalog.URN]nodeInfo{},
		edges: map[catalog.EdgeKey]*edgeRecord{}, edgeOrig: map[catalog.EdgeKey]*edgeRecord{}, edgeVia: map[catalog.EdgeKey][]catalog.URN{},
		defs: map[string]*classDefRecord{},
	}
	if r.Values[3] == nil {
		return t, nil, nil
	}
	rec := &txnRecord{First: uint64(asInt(r.Values[3])), Last: uint64(asInt(r.Values[4]))}
	if b, ok := r.Values[5].(string); ok {
		rec.Result = json.RawMessage(b)
	}
	return t, rec, nil
}

// setTime fixes the transaction's time and attribution. Write times never
// go backwards, so alive intervals stay ordered and change times follow
// sequence numbers.
func (t *txCtx) setTime(at time.Time, origin, actor, cause string) {
	if at.IsZero() {
		at = t.s.now()
	}
	if at.Before(t.lastAt) {
		at = t.lastAt
	}
	if origin == "" {
		origin = "/watershed"
	}
	t.at, t.origin, t.actor, t.cause = at.UTC(), origin, actor, cause
}

func (t *txCtx) query(query string, params map[string]any) (neo4j.ResultWithContext, error) {
	return t.tx.Run(t.ctx, t.s.q.Replace(query), params)
}

// collect runs a query and returns its records.
func (t *txCtx) collect(query string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := t.query(query, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(t.ctx)
}

// exec runs a query for its effects, in chunks of rows when it has many.
func (t *txCtx) exec(query string, rows []map[string]any) error {
	const chunk = 5000
	for len(rows) > 0 {
		n := min(len(rows), chunk)
		res, err := t.query(query, map[string]any{"rows": rows[:n]})
		if err != nil {
			return err
		}
		if _, err := res.Consume(t.ctx); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// loadEntities reads the records of urns not loaded yet, in one query per
// chunk.
func (t *txCtx) loadEntities(urns []catalog.URN) error {
	var want []string
	seen := map[catalog.URN]bool{}
	for _, u := range urns {
		if _, ok := t.nodes[u]; ok || seen[u] {
			continue
		}
		seen[u] = true
		want = append(want, string(u))
	}
	for len(want) > 0 {
		n := min(len(want), 5000)
		recs, err := t.collect("UNWIND $urns AS u MATCH (e:`Entity` {urn: u}) RETURN e.urn, e.rec, e.deleted", map[string]any{"urns": want[:n]})
		if err != nil {
			return fmt.Errorf("read entities: %w", err)
		}
		for _, u := range want[:n] {
			t.nodes[catalog.URN(u)] = nodeInfo{}
		}
		for _, r := range recs {
			u := catalog.URN(r.Values[0].(string))
			info := nodeInfo{exists: true, deleted: r.Values[2] == true}
			if b, ok := r.Values[1].(string); ok {
				var rec entityRecord
				if err := json.Unmarshal([]byte(b), &rec); err != nil {
					return fmt.Errorf("decode entity %s: %w", u, err)
				}
				info.record = true
				t.entOrig[u] = &rec
			}
			t.nodes[u] = info
		}
		want = want[n:]
	}
	return nil
}

// entity returns the working record of u, loading it on first use. The
// second result reports whether the record existed before this txn.
func (t *txCtx) entity(u catalog.URN) (*entityRecord, bool, error) {
	if r, ok := t.entities[u]; ok {
		return r, t.entOrig[u] != nil, nil
	}
	if err := t.loadEntities([]catalog.URN{u}); err != nil {
		return nil, false, err
	}
	orig := t.entOrig[u]
	var work *entityRecord
	if orig != nil {
		work = cloneEntity(orig)
	} else {
		work = &entityRecord{URN: u}
	}
	t.entities[u] = work
	t.entOrder = append(t.entOrder, u)
	return work, orig != nil, nil
}

// hasRecord reports whether an entity record exists for u.
func (t *txCtx) hasRecord(u catalog.URN) (bool, error) {
	if err := t.loadEntities([]catalog.URN{u}); err != nil {
		return false, err
	}
	return t.nodes[u].record, nil
}

func keyParam(k catalog.EdgeKey) map[string]any {
	return map[string]any{"f": string(k.From), "k": string(k.Kind), "t": string(k.To)}
}

// loadEdges reads the records of keys not loaded yet.
func (t *txCtx) loadEdges(keys []catalog.EdgeKey) error {
	var want []map[string]any
	seen := map[catalog.EdgeKey]bool{}
	for _, k := range keys {
		if _, ok := t.edges[k]; ok || seen[k] {
			continue
		}
		if _, ok := t.edgeOrig[k]; ok {
			continue
		}
		seen[k] = true
		want = append(want, keyParam(k))
	}
	for len(want) > 0 {
		n := min(len(want), 5000)
		recs, err := t.collect("UNWIND $keys AS k MATCH (:`Entity` {urn: k.f})-[r:`EDGE` {kind: k.k}]->(:`Entity` {urn: k.t}) RETURN k.f, k.k, k.t, r.rec, r.via", map[string]any{"keys": want[:n]})
		if err != nil {
			return fmt.Errorf("read edges: %w", err)
		}
		for _, p := range want[:n] {
			t.edgeOrig[catalog.EdgeKey{From: catalog.URN(p["f"].(string)), Kind: catalog.EdgeKind(p["k"].(string)), To: catalog.URN(p["t"].(string))}] = nil
		}
		for _, r := range recs {
			k := catalog.EdgeKey{From: catalog.URN(r.Values[0].(string)), Kind: catalog.EdgeKind(r.Values[1].(string)), To: catalog.URN(r.Values[2].(string))}
			var rec edgeRecord
			if err := json.Unmarshal([]byte(r.Values[3].(string)), &rec); err != nil {
				return fmt.Errorf("decode edge %s: %w", k, err)
			}
			t.edgeOrig[k] = &rec
			t.edgeVia[k] = asURNs(r.Values[4])
		}
		want = want[n:]
	}
	return nil
}

// edge returns the working record of k, loading it on first use.
func (t *txCtx) edge(k catalog.EdgeKey) (*edgeRecord, bool, error) {
	if r, ok := t.edges[k]; ok {
		return r, t.edgeOrig[k] != nil, nil
	}
	if err := t.loadEdges([]catalog.EdgeKey{k}); err != nil {
		return nil, false, err
	}
	orig := t.edgeOrig[k]
	var work *edgeRecord
	if orig != nil {
		work = cloneEdge(orig)
	} else {
		work = &edgeRecord{From: k.From, Kind: k.Kind, To: k.To}
	}
	t.edges[k] = work
	t.edgeOrder = append(t.edgeOrder, k)
	return work, orig != nil, nil
}

// definitions returns the stored classification definitions with those
// pending in this txn.
func (t *txCtx) definitions() (map[string]catalog.ClassificationDef, error) {
	if t.allDefs == nil {
		defs, err := readDefs(t.ctx, t.tx, t.s)
		if err != nil {
			return nil, err
		}
		t.allDefs = defs
	}
	out := make(map[string]catalog.ClassificationDef, len(t.allDefs)+len(t.defs))
	for k, v := range t.allDefs {
		out[k] = v
	}
	for k, v := range t.defs {
		out[k] = v.public()
	}
	return out, nil
}

func (t *txCtx) setLive(source string, u catalog.URN, b []byte) {
	var h uint64
	if b != nil {
		h = bytesHash(b)
	}
	t.live = append(t.live, liveUpdate{source: source, urn: u, live: b, hash: h})
}

func (t *txCtx) emit(typ catalog.ChangeType, subject catalog.URN, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	t.changes = append(t.changes, changeRecord{Type: typ, Subject: subject, Data: b})
	return nil
}

func cloneEntity(r *entityRecord) *entityRecord {
	b, _ := json.Marshal(r) // a record decoded from JSON encodes again
	var c entityRecord
	_ = json.Unmarshal(b, &c)
	return &c
}

func cloneEdge(r *edgeRecord) *edgeRecord {
	c := *r
	c.Claims = make(map[string]*claimRecord, len(r.Claims))
	for k, v := range r.Claims {
		cv := *v
		cv.Via = append([]catalog.URN(nil), v.Via...)
		cv.Scopes = append([]string(nil), v.Scopes...)
		c.Claims[k] = &cv
	}
	c.Block = append([]string(nil), r.Block...)
	c.Alive = append([]interval(nil), r.Alive...)
	return &c
}

func sameJSON(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ab) == string(bb)
}

func hasCurated(r *entityRecord) bool {
	return r.Description != "" || len(r.Owners) > 0 || len(r.Direct) > 0 || len(r.Propagated) > 0 || len(r.Suppressed) > 0
}

// derive fixes up lifecycle timestamps and derives the change events, in
// the embedded store's order: entity creations and updates, classification
// events, edge events, entity deletions, then explicit events. It returns
// the records that must be written.
func (t *txCtx) derive() (ents []*entityRecord, edges []*edgeRecord, err error) {
	var created, updated, classEvents, edgeEvents, deleted []changeRecord
	add := func(list *[]changeRecord, typ catalog.ChangeType, subject catalog.URN, data any) error {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("encode %s event: %w", typ, err)
		}
		*list = append(*list, changeRecord{Type: typ, Subject: subject, Data: b})
		return nil
	}
	defs, err := t.definitions()
	if err != nil {
		return nil, nil, err
	}
	for _, u := range t.entOrder {
		work, orig := t.entities[u], t.entOrig[u]
		wasAlive := orig != nil && orig.alive()
		isAlive := work.alive()
		switch {
		case !wasAlive && isAlive:
			if work.CreatedAt.IsZero() {
				work.CreatedAt = t.at
			}
			work.DeletedAt = time.Time{}
		case wasAlive && !isAlive:
			work.DeletedAt = t.at
			work.Propagated = nil // a tombstone carries no propagated attachments
		}
		if orig != nil && sameJSON(orig, work) {
			continue
		}
		if orig == nil && !isAlive && !hasCurated(work) {
			continue
		}
		work.UpdatedAt = t.at
		ents = append(ents, work)
		kind := u.Kind()
		var before, after catalog.Entity
		if orig != nil {
			before = orig.view(nil, defs)
		}
		after = work.view(nil, defs)
		data := catalog.AssetData{Kind: kind, Name: after.Name, Sources: after.Sources}
		switch {
		case !wasAlive && isAlive:
			typ := catalog.AssetCreated
			switch kind {
			case catalog.KindSchemaVersion:
				typ = catalog.SchemaVersionAdded
			case catalog.KindViolation:
				typ = catalog.PolicyViolationOpened
				data.Properties, data.Classifications, data.Description = after.Properties, catalog.ClassificationNames(after), after.Description
			}
			if err := add(&created, typ, u, data); err != nil {
				return nil, nil, err
			}
		case wasAlive && !isAlive:
			data.Name, data.Sources = before.Name, before.Sources
			typ := catalog.AssetDeleted
			if kind == catalog.KindViolation {
				typ = catalog.PolicyViolationResolved
				data.Properties, data.Classifications, data.Description = before.Properties, catalog.ClassificationNames(before), before.Description
			}
			if err := add(&deleted, typ, u, data); err != nil {
				return nil, nil, err
			}
			continue
		case wasAlive && isAlive:
			data.Changed = catalog.EntityDiff(before, after)
			if len(data.Changed) > 0 {
				if err := add(&updated, catalog.AssetUpdated, u, data); err != nil {
					return nil, nil, err
				}
			}
		}
		if !isAlive || kind == catalog.KindViolation {
			continue
		}
		for _, ev := range catalog.AttachmentChanges(before.Classifications, after.Classifications) {
			if err := add(&classEvents, ev.Type, u, ev.Data); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, k := range t.edgeOrder {
		work, orig := t.edges[k], t.edgeOrig[k]
		wasAlive := orig != nil && orig.alive()
		isAlive := work.alive()
		switch {
		case !wasAlive && isAlive:
			work.Alive = append(work.Alive, interval{From: t.at})
			work.DeletedAt = time.Time{}
		case wasAlive && !isAlive:
			if n := len(work.Alive); n > 0 {
				work.Alive[n-1].To = t.at
			}
			work.DeletedAt = t.at
		}
		if orig != nil && sameJSON(orig, work) {
			continue
		}
		if orig == nil && !isAlive {
			continue
		}
		edges = append(edges, work)
		switch {
		case !wasAlive && isAlive:
			err = add(&edgeEvents, catalog.EdgeAdded, k.From, work.data())
		case wasAlive && !isAlive:
			err = add(&edgeEvents, catalog.EdgeRemoved, k.From, orig.data())
		case wasAlive && isAlive && !reflect.DeepEqual(orig.data(), work.data()):
			d, before := work.data(), orig.data()
			d.Before = &before
			err = add(&edgeEvents, catalog.EdgeUpdated, k.From, d)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	all := make([]changeRecord, 0, len(created)+len(updated)+len(classEvents)+len(edgeEvents)+len(deleted)+len(t.changes))
	all = append(all, created...)
	all = append(all, updated...)
	all = append(all, classEvents...)
	all = append(all, edgeEvents...)
	all = append(all, deleted...)
	all = append(all, t.changes...)
	t.changes = all
	return ents, edges, nil
}

// commit derives the events and writes the records, the events, the
// counter and the txn marker (with result, the write's answer). It returns
// the committed changes.
func (t *txCtx) commit(result func(changes []catalog.Change) any) ([]catalog.Change, error) {
	ents, edges, err := t.derive()
	if err != nil {
		return nil, err
	}
	if t.run != nil {
		n := len(t.changes)
		t.runRes.Changes, t.runRes.Seq = n, 0
		if n > 0 {
			t.runRes.Seq = t.head + uint64(n)
		}
		if err := t.recordRun(t.run, t.runRes); err != nil {
			return nil, err
		}
	}
	if err := t.writeEntities(ents); err != nil {
		return nil, err
	}
	if err := t.writeLive(); err != nil {
		return nil, err
	}
	if err := t.writeEdges(edges); err != nil {
		return nil, err
	}
	if err := t.writeDefs(); err != nil {
		return nil, err
	}
	if t.source != "" {
		if err := t.exec("UNWIND $rows AS r MERGE (s:`Source` {name: r.name}) SET s.last = r.last",
			[]map[string]any{{"name": t.source, "last": t.at.UnixNano()}}); err != nil {
			return nil, fmt.Errorf("write source state: %w", err)
		}
	}
	out := make([]catalog.Change, len(t.changes))
	rows := make([]map[string]any, len(t.changes))
	head := t.head
	for i := range t.changes {
		c := &t.changes[i]
		head++
		c.Seq, c.Time, c.Origin, c.Actor = head, t.at, t.origin, t.actor
		if c.Cause == "" {
			c.Cause = t.cause
		}
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("encode change: %w", err)
		}
		rows[i] = map[string]any{"seq": int64(c.Seq), "rec": string(b)}
		out[i] = c.public()
	}
	if err := t.exec("UNWIND $rows AS r CREATE (:`Change` {seq: r.seq, rec: r.rec})", rows); err != nil {
		return nil, fmt.Errorf("write changes: %w", err)
	}
	var first uint64
	if len(out) > 0 {
		first = out[0].Seq
	}
	var res any
	if result != nil {
		res = result(out)
	}
	resJSON, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encode write result: %w", err)
	}
	rs, err := t.query(`
		MATCH (c:`+"`Counter`"+` {id: 'head'}) SET c.seq = $seq, c.edges = $edges, c.lastAt = $at
		CREATE (:`+"`Txn`"+` {id: $id, at: $at, first: $first, last: $seq, result: $result})`,
		map[string]any{"seq": int64(head), "edges": t.edgeN, "at": t.at.UnixNano(), "id": t.id, "first": int64(first), "result": string(resJSON)})
	if err == nil {
		_, err = rs.Consume(t.ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("advance the change counter: %w", err)
	}
	// Txn markers only need to outlive the retries of their write.
	rs, err = t.query("MATCH (x:`Txn`) WHERE x.at < $cut WITH x LIMIT 100 DELETE x", map[string]any{"cut": t.at.Add(-txnRetention).UnixNano()})
	if err == nil {
		_, err = rs.Consume(t.ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("prune txn markers: %w", err)
	}
	return out, nil
}

// txnRetention is how long a write's (:Txn) marker is kept: a retry later
// than that (far beyond any retry the driver or the store makes) would
// apply the write again.
const txnRetention = time.Hour

func (t *txCtx) writeEntities(ents []*entityRecord) error {
	var rows, facets []map[string]any
	var gone []string
	for _, r := range ents {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode entity %s: %w", r.URN, err)
		}
		rows = append(rows, map[string]any{
			"urn": string(r.URN), "kind": string(r.URN.Kind()), "rec": string(b), "deleted": !r.alive(),
			"name": r.displayName(), "tokens": tokensOf(r.URN, r.displayName(), r.effectiveDescription()), "classes": r.classNames(),
		})
		for src, f := range r.Facets {
			facets = append(facets, map[string]any{"id": src + "\x00" + string(r.URN), "src": src, "urn": string(r.URN), "hash": int64(facetHash(f))})
		}
		if o := t.entOrig[r.URN]; o != nil {
			for src := range o.Facets {
				if r.Facets[src] == nil {
					gone = append(gone, src+"\x00"+string(r.URN))
				}
			}
		}
	}
	if err := t.exec(`UNWIND $rows AS r MERGE (e:`+"`Entity`"+` {urn: r.urn})
		SET e.kind = r.kind, e.rec = r.rec, e.deleted = r.deleted, e.name = r.name, e.tokens = r.tokens, e.classes = r.classes`, rows); err != nil {
		return fmt.Errorf("write entities: %w", err)
	}
	if err := t.exec("UNWIND $rows AS r MERGE (f:`Facet` {id: r.id}) SET f.src = r.src, f.urn = r.urn, f.hash = r.hash", facets); err != nil {
		return fmt.Errorf("write facets: %w", err)
	}
	var goneRows []map[string]any
	for _, id := range gone {
		goneRows = append(goneRows, map[string]any{"id": id})
	}
	if err := t.exec("UNWIND $rows AS r MATCH (f:`Facet` {id: r.id}) DELETE f", goneRows); err != nil {
		return fmt.Errorf("delete facets: %w", err)
	}
	return nil
}

func (t *txCtx) writeLive() error {
	var rows []map[string]any
	for _, lu := range t.live {
		var v any
		if lu.live != nil {
			v = string(lu.live)
		}
		rows = append(rows, map[string]any{"urn": string(lu.urn), "id": lu.source + "\x00" + string(lu.urn), "props": map[string]any{"live." + lu.source: v}, "hash": int64(lu.hash)})
	}
	if err := t.exec(`UNWIND $rows AS r MERGE (e:`+"`Entity`"+` {urn: r.urn})
		ON CREATE SET e.kind = '', e.deleted = false, e.tokens = [], e.classes = []
		SET e += r.props
		WITH r OPTIONAL MATCH (f:`+"`Facet`"+` {id: r.id}) FOREACH (x IN CASE WHEN f IS NULL THEN [] ELSE [1] END | SET f.liveHash = r.hash)`, rows); err != nil {
		return fmt.Errorf("write live readings: %w", err)
	}
	return nil
}

func intervalLists(ivs []interval) (from, to []int64) {
	from, to = make([]int64, len(ivs)), make([]int64, len(ivs))
	for i, iv := range ivs {
		from[i] = iv.From.UnixNano()
		if !iv.To.IsZero() {
			to[i] = iv.To.UnixNano()
		}
	}
	return from, to
}

func keyString(k catalog.EdgeKey) string {
	return string(k.From) + "\x00" + string(k.Kind) + "\x00" + string(k.To)
}

func (t *txCtx) writeEdges(edges []*edgeRecord) error {
	if len(edges) == 0 {
		return nil
	}
	var rows, claims, gone []map[string]any
	viaOf := map[catalog.URN]map[string][]interval{} // via node → edge key → intervals (nil: drop)
	for _, r := range edges {
		k := r.key()
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode edge %s: %w", k, err)
		}
		var via []catalog.URN
		masking := false
		for _, c := range r.Claims {
			masking = masking || c.Masking
			for _, v := range c.Via {
				if !containsURN(via, v) {
					via = append(via, v)
				}
			}
		}
		old := t.edgeVia[k]
		// A dead edge keeps naming its last Via nodes, which time travel needs.
		if !r.alive() && len(via) == 0 {
			via = old
		}
		sort.Slice(via, func(i, j int) bool { return via[i] < via[j] })
		ks := keyString(k)
		for _, v := range old {
			if !containsURN(via, v) {
				if viaOf[v] == nil {
					viaOf[v] = map[string][]interval{}
				}
				viaOf[v][ks] = nil
			}
		}
		for _, v := range via {
			if viaOf[v] == nil {
				viaOf[v] = map[string][]interval{}
			}
			viaOf[v][ks] = append([]interval{}, r.Alive...)
		}
		from, to := intervalLists(r.Alive)
		t.edgeN++
		rows = append(rows, map[string]any{
			"from": string(k.From), "fk": string(k.From.Kind()), "fn": k.From.DisplayName(),
			"to": string(k.To), "tk": string(k.To.Kind()), "tn": k.To.DisplayName(),
			"kind": string(k.Kind), "rec": string(b), "alive": r.alive(), "masking": masking,
			"block": nonNil(r.Block), "via": urnStrings(via), "ivFrom": from, "ivTo": to, "n": t.edgeN,
		})
		for src, c := range r.Claims {
			claims = append(claims, map[string]any{"id": src + "\x00" + ks, "src": src, "from": string(k.From), "kind": string(k.Kind), "to": string(k.To), "hash": int64(claimHash(c))})
		}
		if o := t.edgeOrig[k]; o != nil {
			for src := range o.Claims {
				if r.Claims[src] == nil {
					gone = append(gone, map[string]any{"id": src + "\x00" + ks})
				}
			}
		}
	}
	if err := t.exec(`UNWIND $rows AS r
		MERGE (a:`+"`Entity`"+` {urn: r.from}) ON CREATE SET a.kind = r.fk, a.name = r.fn, a.deleted = false, a.tokens = [], a.classes = []
		MERGE (b:`+"`Entity`"+` {urn: r.to}) ON CREATE SET b.kind = r.tk, b.name = r.tn, b.deleted = false, b.tokens = [], b.classes = []
		MERGE (a)-[e:`+"`EDGE`"+` {kind: r.kind}]->(b) ON CREATE SET e.n = r.n
		SET e.rec = r.rec, e.alive = r.alive, e.masking = r.masking, e.block = r.block, e.via = r.via, e.ivFrom = r.ivFrom, e.ivTo = r.ivTo`, rows); err != nil {
		return fmt.Errorf("write edges: %w", err)
	}
	if err := t.exec("UNWIND $rows AS r MERGE (c:`Claim` {id: r.id}) SET c.src = r.src, c.from = r.from, c.kind = r.kind, c.to = r.to, c.hash = r.hash", claims); err != nil {
		return fmt.Errorf("write claims: %w", err)
	}
	if err := t.exec("UNWIND $rows AS r MATCH (c:`Claim` {id: r.id}) DELETE c", gone); err != nil {
		return fmt.Errorf("delete claims: %w", err)
	}
	return t.writePassThrough(viaOf)
}

// writePassThrough updates the Via nodes of written edges: passIv maps each
// pair edge naming the node to its alive intervals, and passFrom/passTo
// flatten them for walks (a node is pass-through at a time within one of
// them; passTo 0 is an open interval).
func (t *txCtx) writePassThrough(viaOf map[catalog.URN]map[string][]interval) error {
	if len(viaOf) == 0 {
		return nil
	}
	var urns []string
	for v := range viaOf {
		urns = append(urns, string(v))
	}
	sort.Strings(urns)
	recs, err := t.collect("UNWIND $urns AS u MATCH (v:`Entity` {urn: u}) RETURN u, v.passIv", map[string]any{"urns": urns})
	if err != nil {
		return fmt.Errorf("read pass-through nodes: %w", err)
	}
	stored := map[string]map[string][]interval{}
	for _, r := range recs {
		m := map[string][]interval{}
		if b, ok := r.Values[1].(string); ok {
			if err := json.Unmarshal([]byte(b), &m); err != nil {
				return fmt.Errorf("decode pass-through intervals of %v: %w", r.Values[0], err)
			}
		}
		stored[r.Values[0].(string)] = m
	}
	var rows []map[string]any
	for _, u := range urns {
		m := stored[u]
		if m == nil {
			m = map[string][]interval{}
		}
		for k, ivs := range viaOf[catalog.URN(u)] {
			if ivs == nil {
				delete(m, k)
			} else {
				m[k] = ivs
			}
		}
		var all []interval
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			all = append(all, m[k]...)
		}
		from, to := intervalLists(all)
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode pass-through intervals: %w", err)
		}
		cu := catalog.URN(u)
		rows = append(rows, map[string]any{"urn": u, "kind": string(cu.Kind()), "name": cu.DisplayName(), "iv": string(b), "from": from, "to": to})
	}
	if err := t.exec(`UNWIND $rows AS r MERGE (v:`+"`Entity`"+` {urn: r.urn})
		ON CREATE SET v.kind = r.kind, v.name = r.name, v.deleted = false, v.tokens = [], v.classes = []
		SET v.passIv = r.iv, v.passFrom = r.from, v.passTo = r.to`, rows); err != nil {
		return fmt.Errorf("write pass-through nodes: %w", err)
	}
	return nil
}

func (t *txCtx) writeDefs() error {
	var rows []map[string]any
	for name, d := range t.defs {
		b, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("encode classification %s: %w", name, err)
		}
		rows = append(rows, map[string]any{"name": name, "rec": string(b)})
	}
	if err := t.exec("UNWIND $rows AS r MERGE (d:`ClassDef` {name: r.name}) SET d.rec = r.rec", rows); err != nil {
		return fmt.Errorf("write classifications: %w", err)
	}
	return nil
}

// recordRun stages run (with res as its result) and its event, and prunes
// the source's oldest runs beyond the retention (see catalog.CrawlEvent).
func (t *txCtx) recordRun(run *catalog.CrawlRun, res *catalog.ReconcileResult) error {
	if run.StartedAt.IsZero() {
		run.StartedAt = t.at
	}
	run.StartedAt = run.StartedAt.UTC()
	rec := runRecord{
		Source: run.Source, Kind: run.Kind, Trigger: run.Trigger, Status: run.Status,
		StartedAt: run.StartedAt, Duration: run.Duration, Counts: run.Counts, Result: *res, Errors: run.Errors,
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode crawl run: %w", err)
	}
	start := run.StartedAt.UnixNano()
	recs, err := t.collect("MATCH (r:`Run` {source: $src}) WHERE r.start <> $start RETURN r.status ORDER BY r.start DESC LIMIT 1", map[string]any{"src": run.Source, "start": start})
	if err != nil {
		return fmt.Errorf("read the previous crawl run: %w", err)
	}
	var prev catalog.CrawlStatus
	if len(recs) > 0 {
		s, _ := recs[0].Values[0].(string)
		prev = catalog.CrawlStatus(s)
	}
	rs, err := t.query(`MERGE (r:`+"`Run`"+` {source: $src, start: $start}) SET r.status = $status, r.rec = $rec
		WITH 1 AS x MATCH (o:`+"`Run`"+` {source: $src}) WITH o ORDER BY o.start DESC SKIP $keep DETACH DELETE o`,
		map[string]any{"src": run.Source, "start": start, "status": string(run.Status), "rec": string(b), "keep": t.s.runs})
	if err == nil {
		_, err = rs.Consume(t.ctx)
	}
	if err != nil {
		return fmt.Errorf("write crawl run: %w", err)
	}
	typ := catalog.CrawlEvent(run.Status, prev, res.Changes)
	if typ == "" {
		return nil
	}
	return t.emit(typ, run.URN(), catalog.NewCrawlRunData(*run, *res))
}

// Helpers for values as the driver returns them.

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case float64:
		return int64(x)
	}
	return 0
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func asURNs(v any) []catalog.URN {
	list, _ := v.([]any)
	var out []catalog.URN
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, catalog.URN(s))
		}
	}
	return out
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func urnStrings(us []catalog.URN) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func containsURN(list []catalog.URN, u catalog.URN) bool {
	for _, x := range list {
		if x == u {
			return true
		}
	}
	return false
}
