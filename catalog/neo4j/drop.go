package neo4j

import (
	"context"
	"errors"
	"fmt"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Drop deletes every node of the store's catalog (5,000 per transaction)
// and the constraints and indexes whose names start with its label prefix,
// leaving other catalogs in the database alone. It needs a LabelPrefix: a
// catalog without one shares its schema names with the database. The store
// stays open but empty of schema; Close it afterwards.
func (s *Store) Drop(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	prefix := s.prefix()
	if prefix == "" {
		return errors.New("drop catalog: the store has no label prefix")
	}
	for _, l := range labels {
		if l == "EDGE" { // a relationship type: DETACH DELETE removes them
			continue
		}
		for {
			v, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
				res, err := tx.Run(ctx, s.q.Replace("MATCH (n:`"+l+"`) WITH n LIMIT 5000 DETACH DELETE n RETURN count(*)"), nil)
				if err != nil {
					return nil, err
				}
				r, err := res.Single(ctx)
				if err != nil {
					return nil, err
				}
				return r.Values[0], nil
			})
			if err != nil {
				return fmt.Errorf("drop %s nodes: %w", l, err)
			}
			if asInt(v) == 0 {
				break
			}
		}
	}
	for _, plural := range []string{"CONSTRAINTS", "INDEXES"} {
		v, err := s.read(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
			res, err := tx.Run(ctx, "SHOW "+plural+" YIELD name WHERE name STARTS WITH $p RETURN name", map[string]any{"p": prefix})
			if err != nil {
				return nil, err
			}
			return res.Collect(ctx)
		})
		if err != nil {
			return fmt.Errorf("list %s: %w", plural, err)
		}
		what := map[string]string{"CONSTRAINTS": "CONSTRAINT", "INDEXES": "INDEX"}[plural]
		for _, r := range v.([]*neo4j.Record) {
			name, _ := r.Values[0].(string)
			if _, err := s.write(ctx, func(tx neo4j.ManagedTransaction) (any, error) {
				res, err := tx.Run(ctx, "DROP "+what+" `"+name+"` IF EXISTS", nil)
				if err != nil {
					return nil, err
				}
				return res.Consume(ctx)
			}); err != nil {
				return fmt.Errorf("drop %s %s: %w", what, name, err)
			}
		}
	}
	return nil
}
