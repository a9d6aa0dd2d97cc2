package neo4j

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/watershed-data/watershed/catalog"
)

// Apply validates and commits every mutation of b in one transaction. See
// catalog.Writer.
func (s *Store) Apply(ctx context.Context, b catalog.Batch) ([]catalog.Change, error) {
	if len(b.Mutations) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := s.writeOnce(ctx, func(t *txCtx) (any, error) {
		t.setTime(s.now(), b.Origin, b.Actor, b.Cause)
		if err := t.prefetch(b.Mutations); err != nil {
			return nil, err
		}
		for i, m := range b.Mutations {
			if err := s.applyOne(t, m); err != nil {
				if len(b.Mutations) > 1 {
					return nil, fmt.Errorf("mutation %d of %d: %w", i+1, len(b.Mutations), err)
				}
				return nil, err
			}
		}
		return t.commit(nil)
	}, replayChanges)
	if err != nil {
		return nil, err
	}
	changes := v.([]catalog.Change)
	if len(changes) > 0 {
		s.published(changes[len(changes)-1].Seq)
	}
	if len(changes) == 0 {
		return nil, nil
	}
	return changes, nil
}

// replayChanges answers a retried write that had committed: the changes it
// wrote.
func replayChanges(t *txCtx, rec txnRecord) (any, error) {
	if rec.First == 0 {
		return []catalog.Change{}, nil
	}
	recs, err := t.collect("MATCH (c:`Change`) WHERE c.seq >= $first AND c.seq <= $last RETURN c.rec ORDER BY c.seq",
		map[string]any{"first": int64(rec.First), "last": int64(rec.Last)})
	if err != nil {
		return nil, fmt.Errorf("read the changes of a committed write: %w", err)
	}
	return decodeChanges(recs)
}

func decodeChanges(recs []*neo4j.Record) ([]catalog.Change, error) {
	out := make([]catalog.Change, 0, len(recs))
	for _, r := range recs {
		var c changeRecord
		if err := json.Unmarshal([]byte(r.Values[0].(string)), &c); err != nil {
			return nil, fmt.Errorf("decode change: %w", err)
		}
		out = append(out, c.public())
	}
	return out, nil
}

// prefetch loads, in one query each, the entities and edges the mutations
// name, so applying them needs no further round trip.
func (t *txCtx) prefetch(muts []catalog.Mutation) error {
	var urns []catalog.URN
	var keys []catalog.EdgeKey
	for _, m := range muts {
		switch m := m.(type) {
		case catalog.RegisterAsset:
			urns = append(urns, m.URN)
		case catalog.UnregisterAsset:
			urns = append(urns, m.URN)
		case catalog.AddLineage:
			urns = append(urns, m.From, m.To)
			keys = append(keys, catalog.EdgeKey{From: m.From, Kind: m.Kind, To: m.To})
		case catalog.RemoveLineage:
			keys = append(keys, catalog.EdgeKey{From: m.From, Kind: m.Kind, To: m.To})
		case catalog.Classify:
			urns = append(urns, m.URN)
		case catalog.Declassify:
			urns = append(urns, m.URN)
		case catalog.SetDescription:
			urns = append(urns, m.URN)
		case catalog.SetOwners:
			urns = append(urns, m.URN)
		case catalog.SetPropagated:
			urns = append(urns, m.URN)
		case catalog.Propagate:
			urns = append(urns, m.URN)
		case catalog.Retract:
			urns = append(urns, m.URN)
		case catalog.SetEdgeBlock:
			keys = append(keys, m.Edge)
		}
	}
	if err := t.loadEntities(urns); err != nil {
		return err
	}
	return t.loadEdges(keys)
}

// RecordCrawlRun stores a crawl run that did not reconcile and its
// crawl.failed (or crawl.recovered) event. See catalog.Writer. The Change
// is zero when the run wrote no event.
func (s *Store) RecordCrawlRun(ctx context.Context, run catalog.CrawlRun) (catalog.Change, error) {
	if err := catalog.ValidateSource(run.Source); err != nil {
		return catalog.Change{}, err
	}
	v, err := s.writeOnce(ctx, func(t *txCtx) (any, error) {
		t.setTime(s.now(), "/watershed/sources/"+run.Source, "crawler:"+run.Source, "")
		r := run
		t.run, t.runRes = &r, &r.Result
		return t.commit(nil)
	}, replayChanges)
	if err != nil {
		return catalog.Change{}, err
	}
	changes := v.([]catalog.Change)
	if len(changes) == 0 {
		return catalog.Change{}, nil
	}
	last := changes[len(changes)-1]
	s.published(last.Seq)
	return last, nil
}

// LoadCursor returns the saved position of the named changelog consumer and
// whether it ever saved one.
func (s *Store) LoadCursor(ctx context.Context, name string) (uint64, bool, error) {
	v, err := s.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, s.q.Replace("MATCH (c:`Cursor` {name: $name}) RETURN c.seq"), map[string]any{"name": name})
		if err != nil {
			return nil, err
		}
		return res.Collect(ctx)
	})
	if err != nil {
		return 0, false, fmt.Errorf("read cursor %s: %w", name, err)
	}
	recs := v.([]*neo4j.Record)
	if len(recs) == 0 {
		return 0, false, nil
	}
	return uint64(asInt(recs[0].Values[0])), true, nil
}

// SaveCursor durably records the position of the named changelog consumer.
// Saving a position twice is harmless, so a retried save needs no guard.
func (s *Store) SaveCursor(ctx context.Context, name string, seq uint64) error {
	_, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
		res, err := tx.Run(ctx, s.q.Replace("MERGE (c:`Cursor` {name: $name}) SET c.seq = $seq"), map[string]any{"name": name, "seq": int64(seq)})
		if err != nil {
			return nil, err
		}
		return res.Consume(ctx)
	})
	if err != nil {
		return fmt.Errorf("write cursor %s: %w", name, classify(err))
	}
	return nil
}
