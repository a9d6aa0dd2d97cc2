package graph

import (
	"context"
	"encoding/json"
	"errors"
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
	"github.com/watershed-data/watershed/policy"
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
	// the page size of list fields; it also bounds the fields an operation
	// expands to with its fragments inlined. Zero means 50,000.
	MaxComplexity int
	// MaxFieldComparisons bounds the pairs of fields sharing a response
	// name that validation would compare (`{ a a a … }`, or aliases `x:`
	// repeated with different arguments); over it, OVERLAPPING_FIELDS_LIMIT_EXCEEDED.
	// Zero means 50,000 (about 20 ms of validation).
	MaxFieldComparisons int
	// MaxSubscriptionsPerConnection bounds the live subscriptions of one
	// websocket connection. Zero means 100.
	MaxSubscriptionsPerConnection int
	// MaxSubscriptions bounds the live subscriptions of the handler, all
	// connections together. Zero means 10,000.
	MaxSubscriptions int
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
	if l.MaxFieldComparisons == 0 {
		l.MaxFieldComparisons = 50000
	}
	if l.MaxSubscriptionsPerConnection == 0 {
		l.MaxSubscriptionsPerConnection = 100
	}
	if l.MaxSubscriptions == 0 {
		l.MaxSubscriptions = 10000
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
			return withConnSubscriptions(WithPrincipal(ctx, p)), nil, nil
		},
	})
	srv.AddTransport(transport.Options{})
	srv.AddTransport(transport.GET{})
	srv.AddTransport(transport.POST{})
	cache := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(cache)
	srv.SetParserTokenLimit(o.Limits.MaxTokens)
	srv.SetValidationRulesFn(cappedRules(maxReportedErrors + 1))
	srv.Use(extension.Introspection{})
	srv.Use(queryGuard{limits: o.Limits, cache: cache})
	srv.Use(extension.FixedComplexityLimit(o.Limits.MaxComplexity))
	srv.Use(newSubscriptionLimiter(o.Limits.MaxSubscriptionsPerConnection, o.Limits.MaxSubscriptions)) // the last context mutator
	// Dataloaders live for one operation: a websocket connection runs many,
	// and each must see the writes made before it.
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		return next(withLoaders(ctx, r.Catalog))
	})
	srv.AroundFields(stopWhenCanceled)
	srv.AroundResponses(capErrors(maxReportedErrors))
	srv.SetErrorPresenter(presentError(logger))
	srv.SetRecoverFunc(func(ctx context.Context, v any) error {
		logger.Error("resolver panic", "panic", v)
		return catalog.Errorf(catalog.Internal, "internal error")
	})
	h := guardRequest(srv, o.Limits.MaxBodyBytes, originChecker(o.AllowedOrigins), logger)
	return auth.Middleware(h)
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
			errcode.Set(gerr, codeTokenLimit)
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
				errcode.Set(gerr, codeCanceled)
				return gerr
			}
			logger.Error("internal error in resolver", "path", gerr.Path.String(), "err", err)
			gerr.Message = "internal error"
		}
		errcode.Set(gerr, kind.Code())
		return gerr
	}
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
	c.Query.Violations = func(child int, _ *policy.Status, _ *string, first *int, _ *string) int { return page(child, first, 50) }
}
