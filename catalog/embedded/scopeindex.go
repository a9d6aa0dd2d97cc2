package embedded

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"

	"github.com/cockroachdb/pebble"

	"github.com/watershed-data/watershed/catalog"
)

// The scope index lists, per source and scope, the entities whose facet and
// the edges whose claim that source asserts under that scope:
//
//	x<len><source><len><scope>e<urn>             (lengths as uvarints)
//	x<len><source><len><scope>g<from>\x00<kind>\x00<to>
//
// The keys carry no value. They are staged in the batch that writes the
// records (stageScopeIndex), so they never disagree with the records, and a
// Scopes-limited Reconcile reads only the keys of the snapshot's scopes
// instead of every record the source asserts. An assertion with no scope is
// indexed under the empty scope.
const prefixScope = 'x'

const (
	scopeEntity = 'e'
	scopeEdge   = 'g'
)

// scopePrefix returns the key prefix of source's assertions under scope.
func scopePrefix(source, scope string) []byte {
	b := make([]byte, 0, 1+2*binary.MaxVarintLen32+len(source)+len(scope))
	b = append(b, prefixScope)
	b = binary.AppendUvarint(b, uint64(len(source)))
	b = append(b, source...)
	b = binary.AppendUvarint(b, uint64(len(scope)))
	return append(b, scope...)
}

func scopeEntityKey(source, scope string, u catalog.URN) []byte {
	b := append(scopePrefix(source, scope), scopeEntity)
	return append(b, u...)
}

func scopeEdgeKey(source, scope string, k catalog.EdgeKey) []byte {
	b := append(scopePrefix(source, scope), scopeEdge)
	return append(b, edgeKey(k)[1:]...)
}

// parseEdgeKeyBody parses from\x00kind\x00to.
func parseEdgeKeyBody(b []byte) (catalog.EdgeKey, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return catalog.EdgeKey{}, fmt.Errorf("parse edge key %q: no separator", b)
	}
	j := bytes.IndexByte(b[i+1:], 0)
	if j < 0 {
		return catalog.EdgeKey{}, fmt.Errorf("parse edge key %q: one separator", b)
	}
	j += i + 1
	return catalog.EdgeKey{From: catalog.URN(b[:i]), Kind: catalog.EdgeKind(b[i+1 : j]), To: catalog.URN(b[j+1:])}, nil
}

// assertionScopes lists the scopes of an assertion; none means the empty one.
func assertionScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return []string{""}
	}
	return scopes
}

// entityScopeKeys returns the scope index keys of r (nil: none).
func entityScopeKeys(r *entityRecord) map[string]struct{} {
	if r == nil || len(r.Facets) == 0 {
		return nil
	}
	out := make(map[string]struct{}, len(r.Facets))
	for src, f := range r.Facets {
		for _, sc := range assertionScopes(f.Scopes) {
			out[string(scopeEntityKey(src, sc, r.URN))] = struct{}{}
		}
	}
	return out
}

// edgeScopeKeys returns the scope index keys of r (nil: none).
func edgeScopeKeys(r *edgeRecord) map[string]struct{} {
	if r == nil || len(r.Claims) == 0 {
		return nil
	}
	out := make(map[string]struct{}, len(r.Claims))
	k := r.key()
	for src, c := range r.Claims {
		for _, sc := range assertionScopes(c.Scopes) {
			out[string(scopeEdgeKey(src, sc, k))] = struct{}{}
		}
	}
	return out
}

// batchWriter is the part of a Pebble batch the index staging uses.
type batchWriter interface {
	Set(key, value []byte, _ *pebble.WriteOptions) error
	Delete(key []byte, _ *pebble.WriteOptions) error
}

// stageScopeDiff stages the keys of after missing from before and deletes
// those of before missing from after, in key order.
func stageScopeDiff(b batchWriter, before, after map[string]struct{}) error {
	var dels, sets []string
	for k := range before {
		if _, ok := after[k]; !ok {
			dels = append(dels, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			sets = append(sets, k)
		}
	}
	sort.Strings(dels)
	sort.Strings(sets)
	for _, k := range dels {
		if err := b.Delete([]byte(k), nil); err != nil {
			return fmt.Errorf("stage scope index deletion: %w", err)
		}
	}
	for _, k := range sets {
		if err := b.Set([]byte(k), nil, nil); err != nil {
			return fmt.Errorf("stage scope index: %w", err)
		}
	}
	return nil
}

// stageScopeIndex stages the scope index changes of the records a txn
// writes, next to the records themselves.
func (t *txn) stageScopeIndex(b batchWriter, ents []*entityRecord, edges []*edgeRecord) error {
	for _, r := range ents {
		orig := t.entOrig[r.URN]
		if orig != nil && sameFacetScopes(orig, r) {
			continue // most writes (curation, propagation) change no facet
		}
		if err := stageScopeDiff(b, entityScopeKeys(orig), entityScopeKeys(r)); err != nil {
			return err
		}
	}
	for _, r := range edges {
		if err := stageScopeDiff(b, edgeScopeKeys(t.edgeOrig[r.key()]), edgeScopeKeys(r)); err != nil {
			return err
		}
	}
	return nil
}

// sameFacetScopes reports whether a and b have facets from the same
// sources under the same scopes.
func sameFacetScopes(a, b *entityRecord) bool {
	if len(a.Facets) != len(b.Facets) {
		return false
	}
	for src, fa := range a.Facets {
		fb, ok := b.Facets[src]
		if !ok || !slices.Equal(fa.Scopes, fb.Scopes) {
			return false
		}
	}
	return true
}

// scopedAssertions returns, from the scope index, the entities and edges
// source asserts under any of scopes, each once, in key order per scope.
func (s *Store) scopedAssertions(source string, scopes []string) ([]catalog.URN, []catalog.EdgeKey, error) {
	var urns []catalog.URN
	var keys []catalog.EdgeKey
	seenU := map[catalog.URN]bool{}
	seenK := map[catalog.EdgeKey]bool{}
	seenScope := map[string]bool{}
	for _, sc := range scopes {
		if seenScope[sc] {
			continue
		}
		seenScope[sc] = true
		p := scopePrefix(source, sc)
		err := s.scan(p, func(k, _ []byte) error {
			rest := k[len(p):]
			if len(rest) == 0 {
				return fmt.Errorf("read scope index key %q: no record", k)
			}
			switch rest[0] {
			case scopeEntity:
				u := catalog.URN(rest[1:])
				if !seenU[u] {
					seenU[u] = true
					urns = append(urns, u)
				}
			case scopeEdge:
				ek, err := parseEdgeKeyBody(rest[1:])
				if err != nil {
					return err
				}
				if !seenK[ek] {
					seenK[ek] = true
					keys = append(keys, ek)
				}
			default:
				return fmt.Errorf("read scope index key %q: unknown record type", k)
			}
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read scope index of %s/%s: %w", source, sc, err)
		}
	}
	return urns, keys, nil
}
