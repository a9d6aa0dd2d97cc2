package schemaparse

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// jsonObject is a decoded JSON object that remembers the order of its keys,
// so that fields come out in the order the author wrote them.
type jsonObject struct {
	keys   []string
	values map[string]any
}

// get returns the value at key and whether it is present.
func (o *jsonObject) get(key string) (any, bool) {
	v, ok := o.values[key]
	return v, ok
}

// str returns the string at key, "" when absent or not a string.
func (o *jsonObject) str(key string) string {
	s, _ := o.values[key].(string)
	return s
}

// maxJSONDepth bounds the nesting of decoded documents.
const maxJSONDepth = 512

// decodeOrdered decodes text as one JSON value, keeping object key order
// (objects become *jsonObject) and numbers as json.Number. Syntax errors
// carry the line and column.
func decodeOrdered(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := readOrdered(dec, 0)
	if err != nil {
		return nil, positioned(text, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, positioned(text, dec, errors.New("unexpected data after the top-level JSON value"))
	}
	return v, nil
}

// readOrdered reads the next JSON value from dec.
func readOrdered(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested deeper than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch delim {
	case '{':
		return readObject(dec, depth)
	case '[':
		return readArray(dec, depth)
	}
	return nil, fmt.Errorf("unexpected %q", delim)
}

func readObject(dec *json.Decoder, depth int) (*jsonObject, error) {
	obj := &jsonObject{values: map[string]any{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		v, err := readOrdered(dec, depth+1)
		if err != nil {
			return nil, err
		}
		if _, dup := obj.values[key]; !dup {
			obj.keys = append(obj.keys, key)
		}
		obj.values[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	return obj, nil
}

func readArray(dec *json.Decoder, depth int) ([]any, error) {
	arr := []any{}
	for dec.More() {
		v, err := readOrdered(dec, depth+1)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := dec.Token(); err != nil { // the closing bracket
		return nil, err
	}
	return arr, nil
}

// positioned prefixes err with the line and column where decoding stopped.
func positioned(text string, dec *json.Decoder, err error) error {
	offset := dec.InputOffset()
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		offset = syn.Offset
	}
	line, col := lineColumn(text, offset)
	return fmt.Errorf("invalid JSON at line %d, column %d: %w", line, col, err)
}

// lineColumn converts a byte offset into a 1-based line and column.
func lineColumn(text string, offset int64) (line, col int) {
	if offset > int64(len(text)) {
		offset = int64(len(text))
	}
	before := text[:offset]
	line = strings.Count(before, "\n") + 1
	col = len(before) - strings.LastIndexByte(before, '\n')
	return line, col
}

// plainJSON converts an ordered value into plain JSON values
// (map[string]any for objects).
func plainJSON(v any) any {
	switch v := v.(type) {
	case *jsonObject:
		m := make(map[string]any, len(v.values))
		for k, e := range v.values {
			m[k] = plainJSON(e)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plainJSON(e)
		}
		return out
	}
	return v
}

// jsonValue converts a Go value as decoded by a library (float64, int,
// int64, []byte, fixed-size byte arrays, nested maps and slices) into a JSON
// value in canonical form: numbers as json.Number, bytes as the Avro JSON
// string of code points 0-255.
func jsonValue(v any) any {
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return v
	case float64:
		return floatNumber(v, 64)
	case float32:
		return floatNumber(float64(v), 32)
	case int:
		return json.Number(strconv.Itoa(v))
	case int8, int16, int32, int64:
		return json.Number(strconv.FormatInt(reflect.ValueOf(v).Int(), 10))
	case uint, uint8, uint16, uint32, uint64:
		return json.Number(strconv.FormatUint(reflect.ValueOf(v).Uint(), 10))
	case []byte:
		return bytesAsCodePoints(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case *jsonObject:
		return plainJSON(v)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		b := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(b), rv)
		return bytesAsCodePoints(b)
	}
	return fmt.Sprint(v)
}

// floatNumber formats f as a json.Number, or as a string for NaN and
// infinities, which JSON cannot represent.
func floatNumber(f float64, bits int) any {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, bits)
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// bytesAsCodePoints renders b the way Avro writes bytes defaults: one code
// point 0-255 per byte.
func bytesAsCodePoints(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// canonicalJSON renders a JSON value for comparisons; map keys are sorted by
// encoding/json.
func canonicalJSON(v any) string {
	b, err := json.Marshal(plainJSON(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
