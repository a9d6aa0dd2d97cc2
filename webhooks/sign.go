package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// SecretPrefix starts every signing secret, as the Standard Webhooks
// specification writes them.
const SecretPrefix = "whsec_"

// secretBytes is the size of a generated signing key (the specification
// asks for 24 to 64 bytes).
const secretBytes = 32

// NewSecret returns a fresh signing secret: "whsec_" and the base64 of 32
// random bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", catalog.Errorf(catalog.Internal, "generate webhook secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// SecretKey decodes a "whsec_…" secret into its HMAC key.
func SecretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, catalog.Errorf(catalog.Invalid, "webhook secret must start with %s", SecretPrefix)
	}
	k, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "webhook secret is not base64: %w", err)
	}
	if len(k) < 24 || len(k) > 64 {
		return nil, catalog.Errorf(catalog.Invalid, "webhook secret key is %d bytes; it must be 24 to 64", len(k))
	}
	return k, nil
}

// Sign returns the webhook-signature header for a message: one
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per key, separated by
// spaces, so a receiver that knows any of the keys (during a rotation, the
// old or the new) verifies it.
func Sign(keys [][]byte, id string, ts time.Time, body []byte) string {
	var sb strings.Builder
	prefix := id + "." + strconv.FormatInt(ts.Unix(), 10) + "."
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(prefix))
		m.Write(body)
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString("v1,")
		sb.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return sb.String()
}
