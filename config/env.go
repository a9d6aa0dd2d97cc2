package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/watershed-data/watershed/crawlers"
)

// EnvPrefix starts every environment variable Watershed reads.
const EnvPrefix = "WATERSHED"

// EnvName returns the environment variable of a dotted YAML key path:
// "dataDir" → WATERSHED_DATA_DIR, "auth.anonymous" → WATERSHED_AUTH_ANONYMOUS.
func EnvName(path string) string {
	var b strings.Builder
	b.WriteString(EnvPrefix)
	for _, part := range strings.Split(path, ".") {
		b.WriteByte('_')
		b.WriteString(upperSnake(part))
	}
	return b.String()
}

func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte('_')
		}
		if r == '-' || r == '.' {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(unicode.ToUpper(r))
	}
	return b.String()
}

// applyEnv overrides cfg from the environment. Scalars take the variable's
// text, lists of scalars are comma-separated, and structured values (the
// sources list, auth tokens) are YAML or JSON. Each source's own keys can
// also be set as WATERSHED_SOURCE_<NAME>_<KEY>, which keeps secrets such as
// SASL passwords out of the file: a key whose type in the source's kind
// (reg) is a string takes the variable's bytes as they are (a password
// "s3cret #1" or "null" stays that), any other key is YAML. A WATERSHED_*
// variable that names no setting is an error naming the closest one.
func applyEnv(cfg *Config, environ []string, reg *crawlers.Registry) error {
	vars := map[string]string{}
	var names []string
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, dup := vars[k]; !dup {
				names = append(names, k)
			}
			vars[k] = v
		}
	}
	sort.Strings(names)
	getenv := func(k string) string { return vars[k] }
	known := map[string]string{} // variable → key path
	if err := envStruct(reflect.ValueOf(cfg).Elem(), "", getenv, known); err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if !strings.HasPrefix(n, EnvPrefix+"_") || strings.HasPrefix(n, EnvPrefix+"_SOURCE_") {
			continue
		}
		if _, ok := known[n]; ok {
			continue
		}
		msg := fmt.Sprintf("%s: no such setting", n)
		candidates := make([]string, 0, len(known))
		for k := range known {
			candidates = append(candidates, k)
		}
		sort.Strings(candidates)
		if best := closest(n, candidates); best != "" {
			msg += fmt.Sprintf("; did you mean %s (%s)?", best, known[best])
		} else {
			msg += "; see the README's configuration section for the variables"
		}
		errs = append(errs, errors.New(msg))
	}
	// Each variable belongs to the source whose name is its longest
	// matching prefix, so "prod" never receives WATERSHED_SOURCE_PROD_SR_URL
	// when a source "prod-sr" exists. Names whose forms collide are errors.
	owner := map[string]int{}
	collides := map[string]string{}
	for i, src := range cfg.Sources {
		key := upperSnake(src.Name)
		if j, dup := owner[key]; dup && cfg.Sources[j].Name != src.Name {
			collides[key] = fmt.Sprintf("sources %q and %q have the same environment form %s", cfg.Sources[j].Name, src.Name, key)
		}
		owner[key] = i
	}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, EnvPrefix+"_SOURCE_")
		if !ok {
			continue
		}
		best, bestLen := -1, 0
		for key, i := range owner {
			if strings.HasPrefix(rest, key+"_") && len(key) > bestLen {
				best, bestLen = i, len(key)
			}
		}
		if best < 0 {
			errs = append(errs, unknownSourceVar(n, cfg.Sources))
			continue
		}
		v := getenv(n)
		if v == "" {
			continue
		}
		if msg, bad := collides[upperSnake(cfg.Sources[best].Name)]; bad {
			return fmt.Errorf("%s: %s: rename one of them", n, msg)
		}
		s := &cfg.Sources[best]
		// "__" descends into a nested key: ..._SASL__PASSWORD sets sasl.password.
		path := strings.Split(rest[bestLen+1:], "__")
		for i := range path {
			path[i] = lowerCamel(path[i])
		}
		var val any = v
		if t := settingType(reg, s.Kind, path); t == nil || t.Kind() != reflect.String {
			if err := yaml.Unmarshal([]byte(v), &val); err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
		}
		if s.Settings == nil {
			s.Settings = map[string]any{}
		}
		target := s.Settings
		for _, k := range path[:len(path)-1] {
			next, ok := target[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				target[k] = next
			}
			target = next
		}
		last := path[len(path)-1]
		target[last] = mergeValue(target[last], val)
	}
	if len(errs) > 0 {
		return joinErrors(errs)
	}
	return nil
}

// unknownSourceVar explains a WATERSHED_SOURCE_ variable that names no
// configured source.
func unknownSourceVar(name string, sources []Source) error {
	if len(sources) == 0 {
		return fmt.Errorf("%s: no sources are configured, so no source setting can be set", name)
	}
	forms := make([]string, len(sources))
	for i, s := range sources {
		forms[i] = EnvPrefix + "_SOURCE_" + upperSnake(s.Name) + "_"
	}
	sort.Strings(forms)
	return fmt.Errorf("%s: no configured source has this prefix; source variables start with %s", name, strings.Join(forms, ", "))
}

// settingType returns the Go type of the setting at path (JSON names,
// matched case-insensitively as encoding/json does) in the config of the
// source kind named kind, or nil when it is not known.
func settingType(reg *crawlers.Registry, kind string, path []string) reflect.Type {
	if reg == nil {
		return nil
	}
	k, ok := reg.Lookup(kind)
	if !ok {
		return nil
	}
	t := reflect.TypeOf(k.NewConfig())
	for _, seg := range path {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := jsonField(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
		case reflect.Map:
			t = t.Elem()
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonField finds the field of struct t that encoding/json decodes name into.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("json"), ",")[0]
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && tag == "" {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if sub, ok := jsonField(ft, name); ok {
					return sub, true
				}
			}
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// mergeValue merges an override into an existing value: maps merge key by
// key (recursively), anything else is replaced.
func mergeValue(old, override any) any {
	om, ok1 := old.(map[string]any)
	nm, ok2 := override.(map[string]any)
	if !ok1 || !ok2 {
		return override
	}
	for k, v := range nm {
		om[k] = mergeValue(om[k], v)
	}
	return om
}

// lowerCamel turns PASSWORD_FILE into passwordFile.
func lowerCamel(s string) string {
	parts := strings.Split(strings.ToLower(s), "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

var durationType = reflect.TypeOf(Duration(0))

// envStruct sets v's fields from their variables and records every
// variable name it knows in known (name → key path).
func envStruct(v reflect.Value, path string, getenv func(string) string, known map[string]string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if path != "" {
			key = path + "." + tag
		}
		fv := v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(yaml.Node{}) {
			if err := envStruct(fv, key, getenv, known); err != nil {
				return err
			}
			continue
		}
		name := EnvName(key)
		known[name] = key
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setFromEnv(fv, raw, name, key); err != nil {
			return err
		}
	}
	return nil
}

// setFromEnv sets v from the text of variable name (of key path key);
// errors name both and the type expected.
func setFromEnv(v reflect.Value, raw, name, key string) error {
	what := name + " (" + key + ")"
	bad := func() error {
		shown := raw
		if len(shown) > 40 {
			shown = shown[:37] + "..."
		}
		return fmt.Errorf("%s: expected %s, got %q", what, describeType(v.Type()), shown)
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%s: %q is not a duration; write it with a unit, such as 30s, 5m or 1h", what, raw)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return bad()
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return bad()
		}
		v.SetInt(n)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.String {
			var parts []string
			for _, p := range strings.Split(raw, ",") {
				if p = strings.TrimSpace(p); p != "" {
					parts = append(parts, p)
				}
			}
			v.Set(reflect.ValueOf(parts))
			return nil
		}
		return decodeStructured(v, raw, name, key)
	default:
		return decodeStructured(v, raw, name, key)
	}
	return nil
}

func decodeStructured(v reflect.Value, raw, name, key string) error {
	ptr := reflect.New(v.Type())
	if err := decodeYAML([]byte(raw), ptr.Interface(), key); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	v.Set(ptr.Elem())
	return nil
}
