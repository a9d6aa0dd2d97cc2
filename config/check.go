package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// checkNode checks a YAML node against the Go type it will be decoded
// into and reports each mismatch by its key path and the type expected
// ("graphql.maxDepth: expected an integer, got "deep" (line 3)"). yaml.v3
// names only the line, and a custom unmarshaler's error (a duration) not
// even that; checking first gives every error its key. Unknown keys are
// reported with the closest known key.
func checkNode(n *yaml.Node, t reflect.Type, path string) []error {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil
		}
		return checkNode(n.Content[0], t, path)
	case yaml.AliasNode:
		return checkNode(n.Alias, t, path)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil // null leaves the default in place
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	mismatch := func() []error {
		return []error{fmt.Errorf("%s: expected %s, got %s (line %d)", keyOrTop(path), describeType(t), describeNode(n), n.Line)}
	}
	switch {
	case t == reflect.TypeOf(yaml.Node{}):
		return nil // decoded (and refused) later
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			return mismatch()
		}
		if _, err := time.ParseDuration(n.Value); err != nil {
			return []error{fmt.Errorf("%s: %q is not a duration; write it with a unit, such as 30s, 5m or 1h (line %d)", keyOrTop(path), n.Value, n.Line)}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return mismatch()
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			return mismatch()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			return mismatch()
		}
	case reflect.Float32, reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			return mismatch()
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return mismatch()
		}
		var errs []error
		for i, item := range n.Content {
			errs = append(errs, checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i))...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return mismatch()
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkNode(n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value))...)
		}
		return errs
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return mismatch()
		}
		fields, inline := yamlFields(t)
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" { // a merge key: its mapping's keys are checked as ours
				errs = append(errs, checkNode(v, t, path)...)
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				if inline {
					continue // the kind's own keys, decoded and checked by the kind
				}
				errs = append(errs, unknownKey(joinKey(path, k.Value), k.Value, keys(fields), k.Line))
				continue
			}
			errs = append(errs, checkNode(v, f.Type, joinKey(path, k.Value))...)
		}
		return errs
	}
	return nil
}

// yamlFields maps a struct's YAML keys to its fields and reports whether
// it has an inline map that takes any other key.
func yamlFields(t reflect.Type) (map[string]reflect.StructField, bool) {
	out := map[string]reflect.StructField{}
	inline := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		parts := strings.Split(f.Tag.Get("yaml"), ",")
		if parts[0] == "-" || !f.IsExported() {
			continue
		}
		if len(parts) > 1 && parts[1] == "inline" {
			if f.Type.Kind() == reflect.Map {
				inline = true
				continue
			}
			sub, subInline := yamlFields(f.Type)
			for k, v := range sub {
				out[k] = v
			}
			inline = inline || subInline
			continue
		}
		name := parts[0]
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f
	}
	return out, inline
}

func keys(m map[string]reflect.StructField) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func unknownKey(path, key string, known []string, line int) error {
	msg := fmt.Sprintf("%s: unknown key (line %d)", path, line)
	if best := closest(key, known); best != "" {
		msg += fmt.Sprintf("; did you mean %s?", best)
	}
	return errors.New(msg)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyOrTop(path string) string {
	if path == "" {
		return "the configuration"
	}
	return path
}

// describeType names what a value of t must look like.
func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 30s"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list of " + plural(describeType(t.Elem()))
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value)"
	}
	return t.String()
}

func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "a mapping"):
		return "mappings"
	case strings.HasPrefix(s, "an "):
		return strings.TrimPrefix(s, "an ") + "s"
	case strings.HasPrefix(s, "a "):
		return strings.TrimPrefix(s, "a ") + "s"
	}
	return s
}

// describeNode names what a YAML node holds.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:37] + "..."
	}
	return fmt.Sprintf("%q", v)
}

// closest returns the candidate nearest to s (case-insensitive edit
// distance), or "" when none is near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
