package connect

import (
	"regexp"

	"github.com/watershed-data/watershed/crawlers"
)

// Redacted replaces the value of a secret config key.
const Redacted = crawlers.Redacted

// configProviderPattern matches a value made only of config-provider
// placeholders such as "${file:/secrets.properties:password}",
// "${env:PG_PASSWORD}" or "${vault:secret/pg:password}".
var configProviderPattern = regexp.MustCompile(`^(?:\$\{[A-Za-z][A-Za-z0-9_.-]*:[^}]*\})+$`)

// hashSaltKey matches Debezium's column.mask.hash.<algorithm>.with.salt.<salt>
// keys, whose last part is a secret salt.
var hashSaltKey = regexp.MustCompile(`^(column\.mask\.hash\.(?:v2\.)?[^.]+\.with\.salt\.)(.+)$`)

// isSecretKey reports whether the value of config key k is a secret
// (crawlers.SecretKey).
func isSecretKey(k string) bool { return crawlers.SecretKey(k) }

// redactConfig returns a copy of cfg safe to store and show: secret values
// become Redacted unless they are config-provider placeholders, credentials
// inside any value are replaced by their shape (crawlers.RedactText), and
// secret salts in key names are hidden.
func redactConfig(cfg map[string]string) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if m := hashSaltKey.FindStringSubmatch(k); m != nil {
			k = m[1] + Redacted
		}
		out[k] = redactValue(k, v)
	}
	return out
}

// redactValue is crawlers.RedactConfigValue.
func redactValue(k, v string) string { return crawlers.RedactConfigValue(k, v) }

// redactText is crawlers.RedactText: for traces, errors and notes.
func redactText(s string) string { return crawlers.RedactText(s) }
