package crawlers

import (
	"regexp"
	"strings"
)

// Redaction of secrets in what crawlers store, show and log: connector
// configs, error traces, crawl errors. Two complementary rules:
//
//   - by key: a config key that names a secret (SecretKey) has its whole
//     value replaced;
//   - by value shape (RedactText): whatever the key, credentials inside a
//     value are replaced — the password of a URL's user-info (the last '@'
//     ends it, so a password holding '@' is hidden whole), of an Oracle
//     "user/password@" connect string, password/token/secret/signature
//     parameters, Authorization headers and Bearer/Basic credentials, and
//     private-key PEM blocks.
//
// Config-provider placeholders ("${file:/secrets.properties:password}",
// "${env:PG_PASSWORD}", "${vault:…}") name where a secret lives, not what it
// is, and are kept.

// Redacted replaces a secret.
const Redacted = "[redacted]"

// secretWords are key tokens (keys split on '.', '_' and '-', lower-cased)
// that mark a value as secret wherever they appear.
var secretWords = map[string]bool{
	"pwd": true, "token": true, "jaas": true, "keyfile": true, "sas": true,
	"secrets": true, "credentials": true, "pin": true,
}

// secretNotes follow a secret word in keys that describe a secret rather
// than hold it: "oauth2.token.url", "token.endpoint".
var secretNotes = map[string]bool{
	"url": true, "uri": true, "endpoint": true, "type": true, "path": true, "field": true,
	"header": true, "expiry": true, "ttl": true, "mode": true, "location": true, "provider": true,
}

// secretParts mark a key token as secret when they occur anywhere in it:
// "sslpassword", "keystorepassword", "clientsecret", "apitoken".
var secretParts = []string{"password", "passwd", "passphrase", "secret", "credential", "privatekey", "apikey", "accesskey"}

// secretKeyQualifiers are the tokens that make a key ending in "key" a secret
// ("snowflake.private.key", "aws.secret.access.key", "ssl.keystore.key")
// while "key.converter" or "table.field.event.key" stay visible.
var secretKeyQualifiers = map[string]bool{
	"private": true, "access": true, "secret": true, "api": true, "account": true,
	"master": true, "encryption": true, "signing": true, "shared": true, "client": true,
	"storage": true, "license": true, "auth": true, "ssh": true, "keystore": true, "sas": true,
}

// SecretKey reports whether the value of config key k is a secret.
func SecretKey(k string) bool {
	lk := strings.ToLower(k)
	if strings.HasSuffix(lk, "user.info") || strings.HasSuffix(lk, "userinfo") {
		return true // basic.auth.user.info holds "user:password"
	}
	tokens := strings.FieldsFunc(lk, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, t := range tokens {
		if (secretWords[t] || strings.HasSuffix(t, "token") || strings.HasSuffix(t, "pwd")) &&
			(i == len(tokens)-1 || !secretNotes[tokens[i+1]]) {
			return true
		}
		for _, p := range secretParts {
			if strings.Contains(t, p) {
				return true
			}
		}
		if t == "key" && i == len(tokens)-1 && i > 0 && secretKeyQualifiers[tokens[i-1]] {
			return true
		}
	}
	return false
}

// placeholderOnly matches a value made only of config-provider placeholders.
var placeholderOnly = regexp.MustCompile(`^(?:\$\{[A-Za-z][A-Za-z0-9_.-]*:[^}]*\})+$`)

// IsPlaceholder reports whether v is made only of config-provider
// placeholders, which name where a secret lives and are not secrets.
func IsPlaceholder(v string) bool { return placeholderOnly.MatchString(strings.TrimSpace(v)) }

// RedactConfigValue returns the value of config key k safe to store and
// show: Redacted for a secret key (unless a placeholder), otherwise the
// value with RedactText applied.
func RedactConfigValue(k, v string) string {
	if IsPlaceholder(v) {
		return v
	}
	if SecretKey(k) {
		if v == "" {
			return ""
		}
		return Redacted
	}
	return RedactText(v)
}

var (
	// urlUserInfo: scheme://user:password@host — the password runs to the
	// last '@' before the path, query or end, so "p@ss" is hidden whole.
	urlUserInfo = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^/:@\s]*:)([^\s/?#]*)@`)
	// oracleUserPassword: jdbc:oracle:thin:user/password@…
	oracleUserPassword = regexp.MustCompile(`(?i)(jdbc:oracle:(?:thin|oci8?):[^/@\s]*/)("[^"]*"|[^@\s]*)@`)
	// secretParam: password=…, ;pwd=…, &access_token=…, sig=… (Azure SAS),
	// X-Amz-Signature=…, in URLs, JDBC properties and connection strings.
	secretParam = regexp.MustCompile(`(?i)((?:^|[;?&\s,(])[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|apikey|api_key|signature|sig|credential)\s*=\s*)(\{[^}]*\}|[^;&\s,)]*)`)
	// authHeader: "Authorization: Bearer x", "authorization=Basic x".
	authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization\s*[:=]\s*)(?:(bearer|basic|digest|negotiate|token|apikey)\s+)?([^\s|,;"']+)`)
	// bearer: a Bearer/Basic credential anywhere else (a word of lower-case
	// letters, "basic authentication", is prose, not a credential).
	bearer = regexp.MustCompile(`(?i)\b(bearer|basic)\s+([A-Za-z0-9._~+/-]{8,}=*)`)
	// pemBlock: a PEM block; private keys and encrypted blocks are secret,
	// certificates and public keys are not.
	pemBlock = regexp.MustCompile(`-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)`)
)

// RedactText replaces the credentials a text holds by their shape, whatever
// key or message holds it: URL user-info passwords, Oracle user/password@,
// secret parameters, Authorization headers, Bearer/Basic credentials and
// private-key PEM blocks. Placeholders are kept.
func RedactText(s string) string {
	if s == "" {
		return s
	}
	s = pemBlock.ReplaceAllStringFunc(s, func(m string) string {
		typ := pemBlock.FindStringSubmatch(m)[1]
		if strings.Contains(typ, "PRIVATE") || strings.Contains(typ, "ENCRYPTED") || !publicPEM[typ] {
			return Redacted
		}
		return m
	})
	s = replaceGroup(urlUserInfo, s, 2)
	s = replaceGroup(oracleUserPassword, s, 2)
	s = replaceGroup(secretParam, s, 2)
	s = authHeader.ReplaceAllStringFunc(s, func(m string) string {
		sub := authHeader.FindStringSubmatch(m)
		if IsPlaceholder(sub[3]) {
			return m
		}
		out := sub[1]
		if sub[2] != "" {
			out += sub[2] + " "
		}
		return out + Redacted
	})
	s = bearer.ReplaceAllStringFunc(s, func(m string) string {
		sub := bearer.FindStringSubmatch(m)
		if strings.Trim(sub[2], "abcdefghijklmnopqrstuvwxyz") == "" {
			return m
		}
		return sub[1] + " " + Redacted
	})
	return s
}

// publicPEM are the PEM block types that hold no secret.
var publicPEM = map[string]bool{
	"CERTIFICATE": true, "TRUSTED CERTIFICATE": true, "PUBLIC KEY": true, "RSA PUBLIC KEY": true,
	"X509 CRL": true, "CERTIFICATE REQUEST": true, "NEW CERTIFICATE REQUEST": true,
}

// replaceGroup replaces submatch group of every match of re by Redacted,
// keeping placeholders and what is already redacted.
func replaceGroup(re *regexp.Regexp, s string, group int) string {
	idx := re.FindAllStringSubmatchIndex(s, -1)
	if idx == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range idx {
		start, end := m[2*group], m[2*group+1]
		if start < 0 {
			continue
		}
		v := s[start:end]
		if v == "" || v == Redacted || IsPlaceholder(v) || IsPlaceholder(strings.Trim(v, "{}")) {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(s[last:])
	return b.String()
}
