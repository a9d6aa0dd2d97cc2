package catalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
)

// CanonicalProperties returns p as canonical JSON (sorted keys, numbers kept
// verbatim) and an error when p holds a value JSON cannot represent. A nil
// or empty map encodes as "{}".
func CanonicalProperties(p Properties) ([]byte, error) {
	if len(p) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(map[string]any(p))
	if err != nil {
		return nil, Errorf(Invalid, "encode properties: %w", err)
	}
	return b, nil
}

// DecodeProperties parses canonical JSON into Properties, keeping numbers as
// json.Number so that a round trip is exact.
func DecodeProperties(b []byte) (Properties, error) {
	if len(b) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var p Properties
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode properties: %w", err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

// NormalizeProperties returns p with every value in its canonical decoded
// form (numbers as json.Number, structs as maps), so that two property maps
// can be compared with reflect.DeepEqual.
func NormalizeProperties(p Properties) (Properties, error) {
	b, err := CanonicalProperties(p)
	if err != nil {
		return nil, err
	}
	return DecodeProperties(b)
}

// PropertyDiff is one changed property key.
type PropertyDiff struct {
	Key    string `json:"key"`
	Before any    `json:"before,omitempty"`
	After  any    `json:"after,omitempty"`
}

// DiffProperties lists the keys whose values differ between before and after,
// sorted by key. Both maps must be normalized.
func DiffProperties(before, after Properties) []PropertyDiff {
	keys := map[string]struct{}{}
	for k := range before {
		keys[k] = struct{}{}
	}
	for k := range after {
		keys[k] = struct{}{}
	}
	var out []PropertyDiff
	for k := range keys {
		b, bok := before[k]
		a, aok := after[k]
		if bok == aok && reflect.DeepEqual(a, b) {
			continue
		}
		out = append(out, PropertyDiff{Key: k, Before: b, After: a})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
