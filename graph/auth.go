package graph

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/watershed-data/watershed/catalog"
)

// Token grants API access to whoever presents Secret as a bearer token.
type Token struct {
	// Name identifies the holder in change events ("token:<name>").
	Name   string
	Secret string
	// Write allows mutations; without it the token may only read.
	Write bool
}

// Access is what an anonymous caller (no Authorization header) may do.
type Access int

// Anonymous access levels.
const (
	AccessNone Access = iota
	AccessRead
	AccessWrite
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Name      string
	Write     bool
	Read      bool
	Anonymous bool
}

// Actor names the principal in change events.
func (p Principal) Actor() string {
	if p.Anonymous {
		return "anonymous"
	}
	return "token:" + p.Name
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx, or an anonymous one without
// rights.
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Anonymous: true}
}

func requireWriter(ctx context.Context) (Principal, error) {
	p := PrincipalFrom(ctx)
	if !p.Write {
		if p.Anonymous {
			return p, &authError{code: "UNAUTHENTICATED", msg: "mutations need a bearer token with write access"}
		}
		return p, catalog.Errorf(catalog.Permission, "token %s may only read", p.Name)
	}
	return p, nil
}

// authError is an authentication failure (no or bad credentials).
type authError struct{ code, msg string }

func (e *authError) Error() string { return e.msg }

// Authenticator resolves bearer tokens to principals. Secrets are compared
// as SHA-256 digests in constant time.
type Authenticator struct {
	tokens    []hashedToken
	anonymous Access
}

type hashedToken struct {
	digest [32]byte
	p      Principal
}

// NewAuthenticator returns an authenticator for tokens; anonymous callers
// get the given access.
func NewAuthenticator(tokens []Token, anonymous Access) *Authenticator {
	a := &Authenticator{anonymous: anonymous}
	for _, t := range tokens {
		a.tokens = append(a.tokens, hashedToken{digest: sha256.Sum256([]byte(t.Secret)), p: Principal{Name: t.Name, Read: true, Write: t.Write}})
	}
	return a
}

// Authenticate maps an Authorization header value ("Bearer <token>", or
// empty) to a principal.
func (a *Authenticator) Authenticate(header string) (Principal, error) {
	if header == "" {
		return Principal{Anonymous: true, Read: a.anonymous >= AccessRead, Write: a.anonymous >= AccessWrite}, nil
	}
	scheme, secret, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // RFC 7235: the scheme is case-insensitive
		return Principal{}, &authError{code: "UNAUTHENTICATED", msg: "authorization header must be \"Bearer <token>\""}
	}
	d := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	var found *Principal
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = &a.tokens[i].p
		}
	}
	if found == nil {
		return Principal{}, &authError{code: "UNAUTHENTICATED", msg: "unknown bearer token"}
	}
	return *found, nil
}

// Middleware authenticates each HTTP request and rejects unknown tokens and
// callers without read access with 401.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Header.Get("Authorization"))
		if err == nil && !p.Read && !isWebsocket(r) {
			err = &authError{code: "UNAUTHENTICATED", msg: "this server requires a bearer token"}
		}
		if err != nil {
			writeHTTPError(w, http.StatusUnauthorized, "UNAUTHENTICATED", err.Error())
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// RequireWriter authenticates each request like Middleware and also
// requires write access (401 without credentials, 403 with a read token).
// The push endpoints, which change the catalog, use it.
func (a *Authenticator) RequireWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Authenticate(r.Header.Get("Authorization"))
		switch {
		case err != nil:
			writeHTTPError(w, http.StatusUnauthorized, "UNAUTHENTICATED", err.Error())
		case !p.Write && p.Anonymous:
			writeHTTPError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "this endpoint needs a bearer token with write access")
		case !p.Write:
			writeHTTPError(w, http.StatusForbidden, "PERMISSION_DENIED", "token "+p.Name+" may only read")
		default:
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		}
	})
}
