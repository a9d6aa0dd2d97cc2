package policy

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Names of the built-in checks.
const (
	BuiltinPIIConsumerAllowlist = "pii-consumer-allowlist"
	BuiltinPIIRetention         = "pii-retention"
	BuiltinCompatibilityNone    = "compatibility-none-with-consumers"
	BuiltinPIISinkAllowlist     = "pii-sink-allowlist"
	BuiltinSchemaDrift          = "schema-drift"
	defaultClassification       = "PII"
	maxAllowEntries             = 1000
)

type builtin struct {
	description string
	severity    Severity
	compile     func(params map[string]any) (Check, error)
}

func builtins() map[string]builtin {
	return map[string]builtin{
		BuiltinPIIConsumerAllowlist: {
			description: "A topic carrying PII is read by a consumer group or ACL principal that is not on the allowlist.",
			severity:    SeverityHigh, compile: compileConsumerAllowlist,
		},
		BuiltinPIIRetention: {
			description: "A topic carrying PII keeps records longer than the limit (or forever: retention.ms -1, or compacted).",
			severity:    SeverityMedium, compile: compileRetention,
		},
		BuiltinCompatibilityNone: {
			description: "A schema subject with compatibility NONE describes a topic that has consumers: any change can break them.",
			severity:    SeverityMedium, compile: compileCompatNone,
		},
		BuiltinPIISinkAllowlist: {
			description: "PII reaches a sink (a table or dataset fed from Kafka) outside the approved set.",
			severity:    SeverityHigh, compile: compileSinkAllowlist,
		},
		BuiltinSchemaDrift: {
			description: "Records on a topic do not match its registered schema (the schema registry crawler's drift findings).",
			severity:    SeverityLow, compile: compileDrift,
		},
	}
}

// BuiltinNames lists the built-in checks, sorted.
func BuiltinNames() []string {
	var out []string
	for n := range builtins() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// decodeParams decodes params into dst (a pointer to a struct with json
// tags), refusing keys it does not have with the closest one named.
func decodeParams(params map[string]any, dst any) error {
	known := map[string]bool{}
	t := reflect.TypeOf(dst).Elem()
	var names []string
	for i := 0; i < t.NumField(); i++ {
		n := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		known[n] = true
		names = append(names, n)
	}
	for _, k := range sortedKeys(params) {
		if !known[k] {
			msg := "params: unknown key " + k
			if len(names) == 0 {
				msg += " (this check takes no parameters)"
			} else {
				msg += " (known: " + strings.Join(names, ", ") + ")"
			}
			return catalog.Errorf(catalog.Invalid, "%s", msg)
		}
	}
	b, err := json.Marshal(params)
	if err != nil {
		return catalog.Errorf(catalog.Invalid, "params: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		return catalog.Errorf(catalog.Invalid, "params: %w", err)
	}
	return nil
}

func checkClassification(c *string) error {
	if *c == "" {
		*c = defaultClassification
	}
	if err := catalog.ValidClassificationName(*c); err != nil {
		return catalog.Errorf(catalog.Invalid, "params.classification: %w", err)
	}
	return nil
}

func checkAllow(allow []string) error {
	if len(allow) > maxAllowEntries {
		return catalog.Errorf(catalog.Invalid, "params.allow: at most %d entries", maxAllowEntries)
	}
	for i, a := range allow {
		if strings.TrimSpace(a) == "" {
			return catalog.Errorf(catalog.Invalid, "params.allow[%d]: empty entry", i)
		}
	}
	return nil
}

// allowed reports whether an entry of allow names e: its name (a group id,
// a principal such as User:analytics, a connector name) or its URN, each
// possibly a glob ("connect-*").
func allowed(allow []string, e catalog.Entity) bool {
	for _, a := range allow {
		if a == e.Name || a == string(e.URN) || glob(a, e.Name) || glob(a, string(e.URN)) {
			return true
		}
	}
	return false
}
