package connect

import (
	"regexp"
	"strings"
)

// Redacted replaces the value of a secret config key.
const Redacted = "[redacted]"

// secretWords are key tokens (keys split on '.', '_' and '-', lower-cased)
// that mark a value as secret wherever they appear.
var secretWords = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passphrase": true,
	"secret": true, "secrets": true, "token": true, "credential": true, "credentials": true,
	"jaas": true, "apikey": true, "keyfile": true, "privatekey": true, "sas": true,
}

// secretKeyQualifiers are the tokens that make a key ending in "key" a secret
// ("snowflake.private.key", "aws.secret.access.key", "kafka.api.key") while
// "key.converter" or "table.field.event.key" stay visible.
var secretKeyQualifiers = map[string]bool{
	"private": true, "access": true, "secret": true, "api": true, "account": true,
	"master": true, "encryption": true, "signing": true, "shared": true, "client": true,
	"storage": true, "license": true, "auth": true, "ssh": true,
}

// configProviderPattern matches a value made only of config-provider
// placeholders such as "${file:/secrets.properties:password}",
// "${env:PG_PASSWORD}" or "${vault:secret/pg:password}": they name where a
// secret lives, not the secret, and are kept verbatim.
var configProviderPattern = regexp.MustCompile(`^(?:\$\{[A-Za-z][A-Za-z0-9_.-]*:[^}]*\})+$`)

// urlUserInfo matches the password part of "scheme://user:password@host".
var urlUserInfo = regexp.MustCompile(`(://[^/:@\s]+:)([^@\s]+)(@)`)

// urlPasswordParam matches "password=..." parameters in JDBC URLs and
// connection strings (";password=...", "?password=...", "&password=...").
var urlPasswordParam = regexp.MustCompile(`(?i)([;?&](?:password|pwd|secret|token)=)([^;&]*)`)

// hashSaltKey matches Debezium's column.mask.hash.<algorithm>.with.salt.<salt>
// keys, whose last part is a secret salt.
var hashSaltKey = regexp.MustCompile(`^(column\.mask\.hash\.[^.]+\.with\.salt\.)(.+)$`)

// isSecretKey reports whether the value of config key k is a secret.
func isSecretKey(k string) bool {
	lk := strings.ToLower(k)
	if strings.HasSuffix(lk, "user.info") || strings.HasSuffix(lk, "userinfo") {
		return true // basic.auth.user.info holds "user:password"
	}
	tokens := strings.FieldsFunc(lk, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, t := range tokens {
		if secretWords[t] {
			return true
		}
		if t == "key" && i == len(tokens)-1 && i > 0 && secretKeyQualifiers[tokens[i-1]] {
			return true
		}
	}
	return false
}

// redactConfig returns a copy of cfg safe to store and show: secret values
// become Redacted unless they are config-provider placeholders, passwords
// inside URLs are blanked, and secret salts in key names are hidden.
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

func redactValue(k, v string) string {
	if configProviderPattern.MatchString(strings.TrimSpace(v)) {
		return v
	}
	if isSecretKey(k) {
		if v == "" {
			return ""
		}
		return Redacted
	}
	v = urlUserInfo.ReplaceAllString(v, "${1}"+Redacted+"${3}")
	return urlPasswordParam.ReplaceAllStringFunc(v, func(m string) string {
		sub := urlPasswordParam.FindStringSubmatch(m)
		if configProviderPattern.MatchString(sub[2]) {
			return m
		}
		return sub[1] + Redacted
	})
}
