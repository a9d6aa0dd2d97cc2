package neo4j

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/catalogtest"
	"github.com/watershed-data/watershed/internal/realservers"
)

// openTest opens a store on the real Neo4j of `make test-real`, its labels
// prefixed by a name derived from key, so tests share the database without
// seeing each other's catalogs. The catalog is dropped when the test ends.
// Without the servers the test skips (saying why), as every real-server test.
func openTest(t testing.TB, key string, clock func() time.Time) *Store {
	t.Helper()
	st := realservers.Require(t, realservers.Neo4j)
	h := sha256.Sum256([]byte(key + t.Name()))
	prefix := "T" + hex.EncodeToString(h[:6]) + "_"
	ctx := context.Background()
	s, err := Open(ctx, Options{URI: st.Neo4j.BoltURL, User: st.Neo4j.User, Password: st.Neo4j.Password, LabelPrefix: prefix, Now: clock})
	if err != nil {
		t.Fatalf("open neo4j store: %v", err)
	}
	if _, loaded := dropped.LoadOrStore(prefix, true); !loaded {
		t.Cleanup(func() { drop(t, st, prefix) })
	}
	return s
}

var dropped sync.Map // label prefixes whose drop is registered

// drop deletes every node and schema object of the catalog with prefix.
func drop(t testing.TB, st *realservers.State, prefix string) {
	ctx := context.Background()
	s, err := Open(ctx, Options{URI: st.Neo4j.BoltURL, User: st.Neo4j.User, Password: st.Neo4j.Password, LabelPrefix: prefix})
	if err != nil {
		t.Errorf("open store to drop it: %v", err)
		return
	}
	defer s.Close()
	for _, l := range labels {
		if l == "EDGE" {
			continue
		}
		for {
			v, err := s.write(ctx, func(tx neo4jTx) (any, error) {
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
				t.Errorf("drop %s nodes: %v", l, err)
				return
			}
			if asInt(v) == 0 {
				break
			}
		}
	}
	for _, what := range []string{"CONSTRAINT", "INDEX"} {
		plural := map[string]string{"CONSTRAINT": "CONSTRAINTS", "INDEX": "INDEXES"}[what]
		v, err := s.read(ctx, func(tx neo4jTx) (any, error) {
			res, err := tx.Run(ctx, "SHOW "+plural+" YIELD name WHERE name STARTS WITH $p RETURN name", map[string]any{"p": prefix})
			if err != nil {
				return nil, err
			}
			return res.Collect(ctx)
		})
		if err != nil {
			t.Errorf("list %ss: %v", what, err)
			return
		}
		for _, r := range v.([]*neo4jRecord) {
			if _, err := s.write(ctx, func(tx neo4jTx) (any, error) {
				res, err := tx.Run(ctx, "DROP "+what+" `"+r.Values[0].(string)+"` IF EXISTS", nil)
				if err != nil {
					return nil, err
				}
				return res.Consume(ctx)
			}); err != nil {
				t.Errorf("drop %s: %v", r.Values[0], err)
			}
		}
	}
}

func harness() catalogtest.Harness {
	return catalogtest.Harness{Open: func(t *testing.T, dir string, clock func() time.Time) catalog.Store {
		t.Helper()
		return openTest(t, dir, clock)
	}}
}

// TestConformance runs the catalog conformance suite (and the model-based
// test) against the real Neo4j.
func TestConformance(t *testing.T) {
	catalogtest.Run(t, harness())
}

// TestMain runs the model-based test with 500 operations unless
// -catalog.model.ops says otherwise: every operation is a few dozen round
// trips to the real server (1,500, the embedded store's count, take about
// seven minutes here).
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "catalog.model.ops" })
	if !set {
		if err := flag.Set("catalog.model.ops", "500"); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
