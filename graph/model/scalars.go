// Package model holds the GraphQL-only types (generated from schema.graphql
// into models_gen.go) and the marshalers that map the schema's scalars and
// enums onto the catalog's own types.
package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/watershed-data/watershed/catalog"
)

// MarshalJSON writes any JSON value.
func MarshalJSON(v any) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		if v == nil {
			io.WriteString(w, "null")
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			io.WriteString(w, "null")
			return
		}
		w.Write(b)
	})
}

// MaxJSONDepth bounds the nesting of a JSON input value (asset properties):
// deeper values are refused with INVALID_ARGUMENT rather than stored and
// served back to every reader.
const MaxJSONDepth = 32

// UnmarshalJSON accepts any JSON value nested at most MaxJSONDepth levels
// and normalises numbers to json.Number.
func UnmarshalJSON(v any) (any, error) {
	if jsonDepth(v, MaxJSONDepth+1) > MaxJSONDepth {
		return nil, catalog.Errorf(catalog.Invalid, "JSON value nests more than %d levels deep", MaxJSONDepth)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "JSON value: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "JSON value: %w", err)
	}
	return out, nil
}

// jsonDepth returns the nesting depth of a decoded JSON value (a scalar is
// 0, {} or [] is 1), counting no further than stop.
func jsonDepth(v any, stop int) int {
	if stop <= 0 {
		return 0
	}
	d := 0
	switch t := v.(type) {
	case map[string]any:
		for _, x := range t {
			if d = max(d, jsonDepth(x, stop-1)); d >= stop-1 {
				break
			}
		}
	case []any:
		for _, x := range t {
			if d = max(d, jsonDepth(x, stop-1)); d >= stop-1 {
				break
			}
		}
	default:
		return 0
	}
	return d + 1
}

// MarshalURN writes a URN as a string.
func MarshalURN(u catalog.URN) graphql.Marshaler { return graphql.MarshalString(string(u)) }

// UnmarshalURN parses and validates a URN.
func UnmarshalURN(v any) (catalog.URN, error) {
	s, ok := v.(string)
	if !ok {
		return "", catalog.Errorf(catalog.Invalid, "URN must be a string, not %T", v)
	}
	u := catalog.URN(s)
	if err := u.Validate(); err != nil {
		return "", err
	}
	return u, nil
}

// MarshalAssetKind writes a kind.
func MarshalAssetKind(k catalog.Kind) graphql.Marshaler { return graphql.MarshalString(string(k)) }

// UnmarshalAssetKind parses a kind.
func UnmarshalAssetKind(v any) (catalog.Kind, error) {
	s, _ := v.(string)
	k := catalog.Kind(s)
	if !k.Valid() {
		return "", catalog.Errorf(catalog.Invalid, "unknown asset kind %q", s)
	}
	return k, nil
}

// MarshalEdgeKind writes an edge kind.
func MarshalEdgeKind(k catalog.EdgeKind) graphql.Marshaler {
	return graphql.MarshalString(string(k))
}

// UnmarshalEdgeKind parses an edge kind.
func UnmarshalEdgeKind(v any) (catalog.EdgeKind, error) {
	s, _ := v.(string)
	k := catalog.EdgeKind(s)
	if !k.Valid() {
		return "", catalog.Errorf(catalog.Invalid, "unknown edge kind %q", s)
	}
	return k, nil
}

// MarshalDirection writes a direction.
func MarshalDirection(d catalog.Direction) graphql.Marshaler {
	if d == catalog.Upstream {
		return graphql.MarshalString("UPSTREAM")
	}
	return graphql.MarshalString("DOWNSTREAM")
}

// UnmarshalDirection parses a direction.
func UnmarshalDirection(v any) (catalog.Direction, error) {
	switch v {
	case "UPSTREAM":
		return catalog.Upstream, nil
	case "DOWNSTREAM":
		return catalog.Downstream, nil
	}
	return 0, catalog.Errorf(catalog.Invalid, "direction must be UPSTREAM or DOWNSTREAM, not %v", v)
}

// MarshalAttachmentSource writes an attachment source in enum form.
func MarshalAttachmentSource(s catalog.AttachmentSource) graphql.Marshaler {
	return graphql.MarshalString(strings.ToUpper(strings.ReplaceAll(string(s), "-", "_")))
}

// UnmarshalAttachmentSource parses an attachment source enum.
func UnmarshalAttachmentSource(v any) (catalog.AttachmentSource, error) {
	s, _ := v.(string)
	src := catalog.AttachmentSource(strings.ToLower(strings.ReplaceAll(s, "_", "-")))
	if !src.Valid() {
		return "", catalog.Errorf(catalog.Invalid, "unknown attachment source %q", s)
	}
	return src, nil
}

// SeqCursor encodes a change sequence number as a cursor.
func SeqCursor(seq uint64) string { return strconv.FormatUint(seq, 10) }

// ParseSeqCursor decodes a change cursor ("" means the beginning).
func ParseSeqCursor(s *string) (uint64, error) {
	if s == nil || *s == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(*s, 10, 64)
	if err != nil {
		return 0, catalog.Errorf(catalog.Invalid, "cursor %q is not a change id", *s)
	}
	return n, nil
}

// OffsetCursor encodes a result offset as an opaque cursor.
func OffsetCursor(off int) string { return fmt.Sprintf("o%d", off) }

// ParseOffsetCursor decodes an offset cursor ("" means the start).
func ParseOffsetCursor(s *string) (int, error) {
	if s == nil || *s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimPrefix(*s, "o"))
	if err != nil || !strings.HasPrefix(*s, "o") || n < 0 {
		return 0, catalog.Errorf(catalog.Invalid, "cursor %q is not a search cursor", *s)
	}
	return n + 1, nil
}

// MarshalCrawlStatus writes a crawl status.
func MarshalCrawlStatus(s catalog.CrawlStatus) graphql.Marshaler {
	return graphql.MarshalString(string(s))
}

// UnmarshalCrawlStatus parses a crawl status.
func UnmarshalCrawlStatus(v any) (catalog.CrawlStatus, error) {
	s, _ := v.(string)
	switch st := catalog.CrawlStatus(s); st {
	case catalog.CrawlSucceeded, catalog.CrawlPartial, catalog.CrawlFailed:
		return st, nil
	}
	return "", catalog.Errorf(catalog.Invalid, "unknown crawl status %q", s)
}
