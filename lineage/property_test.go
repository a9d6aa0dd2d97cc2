package lineage_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/lineage/lineagetest"
)

var propertySteps = flag.Int("property.steps", 250, "random operations per seed in TestIncrementalEqualsFromScratch")

// universe is a small estate random operations act on: topics with fields,
// processes between them, so that every rule (field lineage, roll-ups,
// hops with and without field mapping, pass-through pairs, masking, blocks,
// tombstones, hierarchy) gets exercised.
type universe struct {
	topics    []catalog.URN
	fields    map[catalog.URN][]catalog.URN // topic → its fields
	allFields []catalog.URN
	procs     []catalog.URN
	classes   []string
}

func newUniverse() *universe {
	u := &universe{fields: map[catalog.URN][]catalog.URN{}, classes: []string{"PII", "PII.Email", "Internal"}}
	for i := 0; i < 6; i++ {
		t := catalog.URN(fmt.Sprintf("urn:topic:p/t%d", i))
		u.topics = append(u.topics, t)
		for j := 0; j < 3; j++ {
			f := catalog.URN(fmt.Sprintf("urn:field:p/t%d/value/f%d", i, j))
			u.fields[t] = append(u.fields[t], f)
			u.allFields = append(u.allFields, f)
		}
	}
	u.procs = []catalog.URN{"urn:job:flink://prod/j0", "urn:job:flink://prod/j1", "urn:group:p/g0", "urn:connector:c/sink"}
	return u
}

func (u *universe) setup() []catalog.Mutation {
	var muts []catalog.Mutation
	for _, t := range u.topics {
		muts = append(muts, catalog.RegisterAsset{URN: t})
	}
	for _, p := range u.procs {
		muts = append(muts, catalog.RegisterAsset{URN: p})
	}
	for _, t := range u.topics {
		for _, f := range u.fields[t] {
			muts = append(muts, catalog.RegisterAsset{URN: f}, catalog.AddLineage{From: t, To: f, Kind: catalog.EdgeContains})
		}
	}
	muts = append(muts, catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Internal", Propagates: true, PassesMasking: true}})
	return muts
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.Intn(len(xs))] }

// op returns one random mutation batch and a description; a batch the
// store refuses (removing lineage that is not there) is simply skipped.
func (u *universe) op(rng *rand.Rand) (string, []catalog.Mutation) {
	switch r := rng.Intn(100); {
	case r < 22: // field lineage
		a, b := pick(rng, u.allFields), pick(rng, u.allFields)
		if a == b {
			return "noop", nil
		}
		return fmt.Sprintf("field %s -> %s masking=%v", a, b, r < 4), []catalog.Mutation{catalog.AddLineage{From: a, To: b, Kind: catalog.EdgeDerives, Masking: r < 4}}
	case r < 32:
		a, b := pick(rng, u.allFields), pick(rng, u.allFields)
		return fmt.Sprintf("unlink field %s -> %s", a, b), []catalog.Mutation{catalog.RemoveLineage{From: a, To: b, Kind: catalog.EdgeDerives}}
	case r < 44: // dataset lineage through a process
		t, p := pick(rng, u.topics), pick(rng, u.procs)
		if rng.Intn(2) == 0 {
			return fmt.Sprintf("consume %s -> %s", t, p), []catalog.Mutation{catalog.AddLineage{From: t, To: p, Kind: catalog.EdgeConsumes}}
		}
		return fmt.Sprintf("produce %s -> %s", p, t), []catalog.Mutation{catalog.AddLineage{From: p, To: t, Kind: catalog.EdgeProduces}}
	case r < 50:
		t, p := pick(rng, u.topics), pick(rng, u.procs)
		if rng.Intn(2) == 0 {
			return fmt.Sprintf("unlink %s -> %s", t, p), []catalog.Mutation{catalog.RemoveLineage{From: t, To: p, Kind: catalog.EdgeConsumes}}
		}
		return fmt.Sprintf("unlink %s -> %s", p, t), []catalog.Mutation{catalog.RemoveLineage{From: p, To: t, Kind: catalog.EdgeProduces}}
	case r < 55: // a pair edge through the sink (making it pass-through)
		a, b := pick(rng, u.topics), pick(rng, u.topics)
		if a == b {
			return "noop", nil
		}
		return fmt.Sprintf("pair %s -> %s", a, b), []catalog.Mutation{catalog.AddLineage{From: a, To: b, Kind: catalog.EdgeDerives, Via: pick(rng, u.procs)}}
	case r < 59:
		a, b := pick(rng, u.topics), pick(rng, u.topics)
		return fmt.Sprintf("unpair %s -> %s", a, b), []catalog.Mutation{catalog.RemoveLineage{From: a, To: b, Kind: catalog.EdgeDerives}}
	case r < 64: // block lists on field edges
		a, b := pick(rng, u.allFields), pick(rng, u.allFields)
		var block []string
		if rng.Intn(2) == 0 {
			block = []string{pick(rng, u.classes)}
		}
		return fmt.Sprintf("block %s -> %s %v", a, b, block), []catalog.Mutation{catalog.SetEdgeBlock{Edge: catalog.EdgeKey{From: a, Kind: catalog.EdgeDerives, To: b}, Block: block}}
	case r < 76: // classify a field or a topic
		c := pick(rng, u.classes)
		target := pick(rng, u.allFields)
		if rng.Intn(4) == 0 {
			target = pick(rng, u.topics)
		}
		return fmt.Sprintf("classify %s %s", target, c), []catalog.Mutation{catalog.Classify{URN: target, Classification: c}}
	case r < 84:
		c := pick(rng, u.classes)
		target := pick(rng, u.allFields)
		if rng.Intn(4) == 0 {
			target = pick(rng, u.topics)
		}
		return fmt.Sprintf("declassify %s %s", target, c), []catalog.Mutation{catalog.Declassify{URN: target, Classification: c}}
	case r < 89: // tombstone an asset
		all := append(append(append([]catalog.URN(nil), u.allFields...), u.topics...), u.procs...)
		x := pick(rng, all)
		return "delete " + string(x), []catalog.Mutation{catalog.UnregisterAsset{URN: x}}
	case r < 95:
		all := append(append(append([]catalog.URN(nil), u.allFields...), u.topics...), u.procs...)
		x := pick(rng, all)
		return "restore " + string(x), []catalog.Mutation{catalog.RegisterAsset{URN: x}}
	default: // redefine whether Internal passes masking
		pm := rng.Intn(2) == 0
		return fmt.Sprintf("define Internal passesMasking=%v", pm), []catalog.Mutation{catalog.DefineClassification{Def: catalog.ClassificationDef{Name: "Internal", Propagates: true, PassesMasking: pm}}}
	}
}

// TestIncrementalEqualsFromScratch is the property test of DESIGN.md §6:
// after any random sequence of operations, in bursts that the handler sees
// as multi-entry batches, the propagated state the Propagator maintains
// incrementally equals a recomputation from scratch, paths included.
func TestIncrementalEqualsFromScratch(t *testing.T) {
	seeds := []int64{1, 2, 3, time.Now().UnixNano()}
	steps := *propertySteps
	if testing.Short() {
		seeds, steps = seeds[:1], 60
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed))
			e := lineagetest.Start(t)
			u := newUniverse()
			ctx := context.Background()
			if _, err := e.Store.Apply(ctx, catalog.Batch{Mutations: u.setup()}); err != nil {
				t.Fatal(err)
			}
			var log []string
			for i := 0; i < steps; {
				burst := 1 + rng.Intn(6)
				for j := 0; j < burst && i < steps; j, i = j+1, i+1 {
					desc, muts := u.op(rng)
					if len(muts) == 0 {
						continue
					}
					if _, err := e.Store.Apply(ctx, catalog.Batch{Actor: "user:property", Mutations: muts}); err != nil {
						if k := catalog.KindOf(err); k != catalog.NotFound && k != catalog.Conflict && k != catalog.Invalid {
							t.Fatalf("step %d %s: %v", i, desc, err)
						}
						continue
					}
					log = append(log, desc)
				}
				e.Settle(t)
				e.CheckFromScratch(t, fmt.Sprintf("seed %d after step %d", seed, i))
				if t.Failed() {
					n := max(0, len(log)-12)
					t.Fatalf("last operations:\n  %v", log[n:])
				}
			}
			st := e.Prop.Stats()
			t.Logf("seed %d: %d operations, %d origins reaching %d attachments", seed, len(log), st.Origins, st.Attachments)
		})
	}
}
