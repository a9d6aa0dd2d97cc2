package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
)

// maxRequestJSONDepth bounds the nesting of a request body (and of the
// variables and extensions of a GET request).
const maxRequestJSONDepth = 64

// guardRequest checks the HTTP side of a GraphQL request before gqlgen sees
// it. gqlgen answers a body that does not decode with code INTERNAL and
// echoes the whole body into the error message (which was then logged at
// ERROR), answers other mistakes with no code at all, and reads bodies
// without a limit. Here every such request gets a 4xx with a code
// (BAD_REQUEST, REQUEST_TOO_LARGE, PERMISSION_DENIED), nothing of the body
// is logged, and the body is read up front within max bytes.
func guardRequest(next http.Handler, max int64, checkOrigin func(*http.Request) bool, logger *slog.Logger) http.Handler {
	refuse := func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
		logger.Debug("graphql request refused", "method", r.Method, "status", status, "code", code, "reason", msg)
		writeHTTPError(w, status, code, msg)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			if !isWebsocket(r) {
				refuse(w, r, http.StatusBadRequest, codeBadRequest, "only websocket upgrades are supported")
				return
			}
			if !checkOrigin(r) {
				refuse(w, r, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("websocket connections from origin %q are not allowed; list it in the server's allowed origins", r.Header.Get("Origin")))
				return
			}
			next.ServeHTTP(limitWebsocket(w, max), r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			if int64(len(r.URL.RawQuery)) > max {
				refuse(w, r, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("query string exceeds %d bytes", max))
				return
			}
			if err := checkGETQuery(r.URL.RawQuery); err != nil {
				refuse(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
				return
			}
			next.ServeHTTP(w, r.WithContext(withGET(r.Context())))
		case http.MethodPost:
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				refuse(w, r, http.StatusUnsupportedMediaType, codeBadRequest, "a GraphQL POST must have Content-Type: application/json")
				return
			}
			if r.ContentLength > max {
				refuse(w, r, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, max))
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil {
				refuse(w, r, http.StatusBadRequest, codeBadRequest, "read request body: "+err.Error())
				return
			}
			if int64(len(body)) > max {
				refuse(w, r, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("request body exceeds the limit of %d bytes", max))
				return
			}
			if err := checkRequestBody(body); err != nil {
				refuse(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
		case http.MethodOptions:
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			refuse(w, r, http.StatusMethodNotAllowed, codeBadRequest, fmt.Sprintf("method %s is not allowed; use POST (or GET for queries)", r.Method))
		}
	})
}

// checkRequestBody checks that b is one GraphQL-over-HTTP request: a JSON
// object with a string query, an optional string operationName and
// optional object variables and extensions. Its messages never quote b.
func checkRequestBody(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(b) == 0:
		return fmt.Errorf("the request body is empty; send a JSON object with a query")
	case b[0] == '[':
		return fmt.Errorf("batched requests (a JSON array) are not supported; send one operation per request")
	case jsonDeeperThan(b, maxRequestJSONDepth):
		return fmt.Errorf("the request body nests more than %d levels deep", maxRequestJSONDepth)
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(b, &req); err != nil {
		return fmt.Errorf("the request body is not a JSON object: %w", err)
	}
	q, ok := req["query"]
	if !ok {
		return fmt.Errorf(`the request body has no "query"`)
	}
	if !jsonIs(q, '"') {
		return fmt.Errorf(`"query" must be a string`)
	}
	if v, ok := req["operationName"]; ok && !jsonIs(v, '"') && !jsonIs(v, 'n') {
		return fmt.Errorf(`"operationName" must be a string or null`)
	}
	for _, k := range []string{"variables", "extensions"} {
		if v, ok := req[k]; ok && !jsonIs(v, '{') && !jsonIs(v, 'n') {
			return fmt.Errorf("%q must be an object or null", k)
		}
	}
	return nil
}

// checkGETQuery checks the parameters of a GraphQL GET request.
func checkGETQuery(raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("the query string does not parse: %w", err)
	}
	if q.Get("query") == "" {
		return fmt.Errorf("a GraphQL GET request needs a query parameter")
	}
	for _, k := range []string{"variables", "extensions"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		b := []byte(v)
		if jsonDeeperThan(b, maxRequestJSONDepth) {
			return fmt.Errorf("%s nests more than %d levels deep", k, maxRequestJSONDepth)
		}
		var obj map[string]json.RawMessage
		if !jsonIs(b, 'n') {
			if err := json.Unmarshal(b, &obj); err != nil {
				return fmt.Errorf("%s must be a JSON object: %w", k, err)
			}
		}
	}
	return nil
}

// jsonIs reports whether the JSON value v starts with c (after spaces).
func jsonIs(v json.RawMessage, c byte) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == c
}

// jsonDeeperThan reports whether the JSON text b nests arrays and objects
// more than limit levels deep. It scans bytes (strings skipped) without
// decoding, so it is cheap on any input.
func jsonDeeperThan(b []byte, limit int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			if depth++; depth > limit {
				return true
			}
		case ']', '}':
			depth--
		}
	}
	return false
}
