package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
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
// also be set as WATERSHED_SOURCE_<NAME>_<KEY> (YAML values), which keeps
// secrets such as SASL passwords out of the file.
func applyEnv(cfg *Config, environ []string) error {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	getenv := func(k string) string { return vars[k] }
	if err := envStruct(reflect.ValueOf(cfg).Elem(), "", getenv); err != nil {
		return err
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
	var names []string
	for _, kv := range environ {
		if name, _, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(name, EnvPrefix+"_SOURCE_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		rest := strings.TrimPrefix(n, EnvPrefix+"_SOURCE_")
		best, bestLen := -1, 0
		for key, i := range owner {
			if strings.HasPrefix(rest, key+"_") && len(key) > bestLen {
				best, bestLen = i, len(key)
			}
		}
		v := getenv(n)
		if best < 0 || v == "" {
			continue
		}
		if msg, bad := collides[upperSnake(cfg.Sources[best].Name)]; bad {
			return fmt.Errorf("%s: %s: rename one of them", n, msg)
		}
		var val any
		if err := yaml.Unmarshal([]byte(v), &val); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		s := &cfg.Sources[best]
		if s.Settings == nil {
			s.Settings = map[string]any{}
		}
		// "__" descends into a nested key: ..._SASL__PASSWORD sets sasl.password.
		path := strings.Split(rest[bestLen+1:], "__")
		target := s.Settings
		for _, seg := range path[:len(path)-1] {
			k := lowerCamel(seg)
			next, ok := target[k].(map[string]any)
			if !ok {
				next = map[string]any{}
				target[k] = next
			}
			target = next
		}
		last := lowerCamel(path[len(path)-1])
		target[last] = mergeValue(target[last], val)
	}
	return nil
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

func envStruct(v reflect.Value, path string, getenv func(string) string) error {
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
		if f.Type.Kind() == reflect.Struct {
			if err := envStruct(fv, key, getenv); err != nil {
				return err
			}
			continue
		}
		name := EnvName(key)
		raw := getenv(name)
		if raw == "" {
			continue
		}
		if err := setFromEnv(fv, raw); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func setFromEnv(v reflect.Value, raw string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
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
			return err
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return err
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
		return decodeStructured(v, raw)
	default:
		return decodeStructured(v, raw)
	}
	return nil
}

func decodeStructured(v reflect.Value, raw string) error {
	ptr := reflect.New(v.Type())
	if err := decodeYAML([]byte(raw), ptr.Interface()); err != nil {
		return err
	}
	v.Set(ptr.Elem())
	return nil
}
