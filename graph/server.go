package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/gorilla/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/graph/generated"
	"github.com/watershed-data/watershed/lineage"
)

// Limits protect the endpoint from hostile or careless queries. Each is
// checked before any resolver runs.
type Limits struct {
	// MaxBodyBytes bounds a request body (query plus variables); larger
	// requests get HTTP 413 with code REQUEST_TOO_LARGE. Zero means 1 MiB.
	MaxBodyBytes int64
	// MaxTokens bounds the lexical tokens of a query document. Zero means 15,000.
	MaxTokens int
	// MaxDepth bounds the nesting of selections (fragments expanded). Zero means 15.
	MaxDepth int
	// MaxComplexity bounds the computed cost: one per field, multiplied by
	// the page size of list fields. Zero means 50,000.
	MaxComplexity int
}

func (l *Limits) defaults() {
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = 1 << 20
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = 15000
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = 15
	}
	if l.MaxComplexity == 0 {
		l.MaxComplexity = 50000
	}
}

// Options configure the GraphQL handler.
type Options struct {
	Resolver *Resolver
	Limits   Limits
	// Auth authenticates requests; nil allows every caller to read and write.
	Auth   *Authenticator
	Logger *slog.Logger
	// AllowedOrigins lists browser origins (scheme://host:port) allowed to
	// open websocket subscriptions besides the server's own host.
	AllowedOrigins []string
}

// NewHandler returns the /graphql HTTP handler: POST and GET queries,
// websocket subscriptions (graphql-transport-ws and the older graphql-ws
// protocol), per-request dataloaders, limits and error codes.
func NewHandler(o Options) http.Handler {
	o.Limits.defaults()
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := *o.Resolver // a copy: the caller's resolver is not modified
	if r.Logger == nil {
		r.Logger = logger
	}
	cfg := generated.Config{Resolvers: &r}
	setComplexity(&cfg.Complexity)
	es := generated.NewExecutableSchema(cfg)
	srv := handler.New(es)
	auth := o.Auth
	if auth == nil {
		auth = NewAuthenticator(nil, AccessWrite)
	}
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           10 * time.Second,
		Upgrader: websocket.Upgrader{
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
			CheckOrigin:     originChecker(o.AllowedOrigins),
		},
		InitFunc: func(ctx context.Context, init transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			// Browsers cannot set headers on websockets: take the token
			// from the connection_init payload when the upgrade had none.
			p := PrincipalFrom(ctx)
			if h := init.Authorization(); h != "" {
				var err error
				if p, err = auth.Authenticate(h); err != nil {
					return ctx, nil, err
				}
			}
			if !p.Read {
				return ctx, nil, errors.New("this server requires a bearer token")
			}
			return WithPrincipal(ctx, p), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(o.Limits.MaxTokens)
	srv.Use(extension.Introspection{})
	srv.Use(depthLimit{max: o.Limits.MaxDepth, maxFields: o.Limits.MaxComplexity})
	srv.Use(extension.FixedComplexityLimit(o.Limits.MaxComplexity))
	// Dataloaders live for one operation: a websocket connection runs many,
	// and each must see the writes made before it.
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(withLoaders(ctx, r.Catalog))
	})
	srv.SetErrorPresenter(presentError(logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		logger.Error("resolver panic", "panic", v)
		return catalog.Errorf(catalog.Internal, "internal error")
	})
	h := limitBody(srv, o.Limits.MaxBodyBytes)
	return auth.Middleware(h)
}

// limitBody reads the body up front so that an oversized request gets a
// clear 413 instead of a truncated-JSON error.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isWebsocket(r) {
			next.ServeHTTP(limitWebsocket(w, max), r)
			return
		}
		if r.Body == nil || r.Method == http.MethodGet {
			if len(r.URL.RawQuery) > int(max) {
				writeHTTPError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("query string exceeds %d bytes", max))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			writeHTTPError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("request body of %d bytes exceeds the limit of %d", r.ContentLength, max))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
		if err != nil {
			writeHTTPError(w, http.StatusBadRequest, "BAD_REQUEST", "read request body: "+err.Error())
			return
		}
		if int64(len(body)) > max {
			writeHTTPError(w, http.StatusRequestEntityTooLarge, "REQUEST_TOO_LARGE", fmt.Sprintf("request body exceeds the limit of %d bytes", max))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// writeHTTPError writes a GraphQL-shaped error response.
func writeHTTPError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body := map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": code}}}}
	if err := json.NewEncoder(w).Encode(body); err != nil {
		return // the client went away; nothing more to tell it
	}
}

// originChecker allows websocket upgrades from clients that send no Origin
// (scripts), from the server's own host, and from the allowed origins.
func originChecker(allowed []string) func(*http.Request) bool {
	set := map[string]bool{}
	for _, o := range allowed {
		set[strings.TrimSuffix(o, "/")] = true
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || set[origin] {
			return true
		}
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
}

// presentError maps errors to stable codes in extensions.code and hides
// internal details from clients.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gerr := graphql.DefaultErrorPresenter(ctx, err)
		if strings.Contains(gerr.Message, "exceeded token limit") {
			errcode.Set(gerr, "TOKEN_LIMIT_EXCEEDED")
			return gerr
		}
		if gerr.Extensions != nil && gerr.Extensions["code"] != nil {
			return gerr // parse, validation, complexity and depth errors carry their code
		}
		var ae *authError
		if errors.As(err, &ae) {
			errcode.Set(gerr, ae.code)
			return gerr
		}
		kind := catalog.KindOf(err)
		if kind == catalog.Internal {
			var ce *catalog.Error
			if errors.As(err, &ce) && ce.Msg == "internal error" {
				errcode.Set(gerr, kind.Code())
				return gerr
			}
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				errcode.Set(gerr, "CANCELED")
				return gerr
			}
			logger.Error("internal error in resolver", "path", gerr.Path.String(), "err", err)
			gerr.Message = "internal error"
		}
		errcode.Set(gerr, kind.Code())
		return gerr
	}
}

// depthLimit rejects operations whose selections nest deeper than max or
// expand (fragments inlined) to more than maxFields fields. Fragment
// measurements are memoised, so a document whose fragments spread each other
// many times over is measured in time linear in its size — before gqlgen's
// own complexity pass, which would expand it in full, ever sees it.
type depthLimit struct{ max, maxFields int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                          { return "DepthLimit" }
func (depthLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	m := measurer{capAt: d.maxFields + 1, memo: map[string]measure{}, visiting: map[string]bool{}}
	got := m.set(oc.Operation.SelectionSet)
	if got.depth > d.max {
		err := gqlerror.Errorf("operation nests %d levels deep, which exceeds the limit of %d", got.depth, d.max)
		errcode.Set(err, "DEPTH_LIMIT_EXCEEDED")
		return err
	}
	if got.fields > d.maxFields {
		err := gqlerror.Errorf("operation expands to more than %d fields", d.maxFields)
		errcode.Set(err, "COMPLEXITY_LIMIT_EXCEEDED")
		return err
	}
	return nil
}

// measure is the depth and expanded field count of a selection set.
type measure struct{ depth, fields int }

type measurer struct {
	capAt    int // field counts saturate here
	memo     map[string]measure
	visiting map[string]bool // fragments on the current path (cycles are invalid, but be safe)
}

func (m *measurer) set(set ast.SelectionSet) measure {
	var out measure
	add := func(n int) {
		out.fields = min(out.fields+n, m.capAt)
	}
	for _, sel := range set {
		var child measure
		switch s := sel.(type) {
		case *ast.Field:
			inner := m.set(s.SelectionSet)
			child = measure{depth: inner.depth + 1, fields: min(inner.fields+1, m.capAt)}
		case *ast.InlineFragment:
			child = m.set(s.SelectionSet)
		case *ast.FragmentSpread:
			if s.Definition == nil || m.visiting[s.Name] {
				continue
			}
			if memo, ok := m.memo[s.Name]; ok {
				child = memo
				break
			}
			m.visiting[s.Name] = true
			child = m.set(s.Definition.SelectionSet)
			delete(m.visiting, s.Name)
			m.memo[s.Name] = child
		}
		out.depth = max(out.depth, child.depth)
		add(child.fields)
	}
	return out
}

// setComplexity makes list fields cost their page size times their children.
func setComplexity(c *generated.ComplexityRoot) {
	page := func(child int, first *int, def int) int {
		n := def
		if first != nil {
			n = max(*first, 0)
		}
		return 1 + child*n
	}
	c.Query.Search = func(child int, _ *string, _ []catalog.Kind, _ []string, _ *bool, first *int, _ *string) int {
		return page(child, first, 20)
	}
	c.Query.Lineage = func(child int, _ catalog.URN, _ catalog.Direction, _ *int, _ *time.Time, _ []catalog.EdgeKind, limit *int, _ *lineage.Level, _ []catalog.Kind) int {
		return page(child, limit, 1000) / 10 // nodes and edges are cheap in-memory reads
	}
	c.Query.Impact = func(child int, _ catalog.URN, _ *int, limit *int) int {
		return page(child, limit, 1000) / 10 // one walk; the groups share the limit
	}
	c.Query.Changes = func(child int, _ *string, first *int) int { return page(child, first, 100) }
	c.Asset.Upstream = func(child int, _ []catalog.EdgeKind, first *int) int { return page(child, first, 100) }
	c.Asset.Downstream = func(child int, _ []catalog.EdgeKind, first *int) int { return page(child, first, 100) }
}
