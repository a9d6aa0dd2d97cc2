package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Error codes of the limits, in extensions.code. schema.graphql lists them.
const (
	codeBadRequest      = "BAD_REQUEST"
	codeTooLarge        = "REQUEST_TOO_LARGE"
	codeTokenLimit      = "TOKEN_LIMIT_EXCEEDED"
	codeDepthLimit      = "DEPTH_LIMIT_EXCEEDED"
	codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"
	codeOverlapLimit    = "OVERLAPPING_FIELDS_LIMIT_EXCEEDED"
	codeSubscriptionCap = "SUBSCRIPTION_LIMIT_EXCEEDED"
	codeTooManyErrors   = "TOO_MANY_ERRORS"
	codeCanceled        = "CANCELED"
)

// maxReportedErrors bounds the errors of one response.
const maxReportedErrors = 100

func init() {
	// gqlgen answers "protocol" errors with HTTP 422 and, on a websocket,
	// with an `error` message instead of a `next` carrying errors. The
	// registry is gqlgen's own (process-wide); registering is idempotent.
	for _, c := range []string{codeBadRequest, codeTokenLimit, codeDepthLimit, codeComplexityLimit, codeOverlapLimit, codeSubscriptionCap} {
		errcode.RegisterErrorType(c, errcode.KindProtocol)
	}
}

func codedError(code, format string, args ...any) *gqlerror.Error {
	err := gqlerror.Errorf(format, args...)
	errcode.Set(err, code)
	return err
}

// queryGuard runs before gqlgen parses and validates a query (it is an
// OperationParameterMutator). gqlgen's validator cannot be interrupted and
// its OverlappingFieldsCanBeMerged rule compares every pair of fields that
// share a response name, so `{ __typename × 14,000 }` costs ~10⁸
// comparisons and 1,360 conflicting aliases produce ~10⁶ errors. The guard
// parses the document itself (linear, token-limited) and refuses, before
// any validation, documents that nest too deep, expand to too many fields
// (fragments inlined, measured with memoisation) or need too many of those
// comparisons. Documents already in the query cache passed it before and
// skip it.
type queryGuard struct {
	limits Limits
	cache  *lru.LRU[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = queryGuard{}

func (queryGuard) ExtensionName() string                          { return "QueryGuard" }
func (queryGuard) Validate(schema graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters checks the raw query; it never changes it.
func (g queryGuard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		return codedError(codeCanceled, "the request was canceled")
	}
	doc, cached := g.cache.Get(ctx, p.Query)
	if !cached {
		var err error
		doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, g.limits.MaxTokens)
		if err != nil {
			return nil // gqlgen parses again and reports the error with its position
		}
		if gerr := g.check(doc); gerr != nil {
			return gerr
		}
	}
	if isGET(ctx) {
		if op := doc.Operations.ForName(p.OperationName); op != nil && op.Operation != ast.Query {
			return codedError(codeBadRequest, "GET requests may only run queries; send a %s with POST (or, for subscriptions, a websocket)", op.Operation)
		}
	}
	return nil
}

func (g queryGuard) check(doc *ast.QueryDocument) *gqlerror.Error {
	frags := make(map[string]*ast.FragmentDefinition, len(doc.Fragments))
	for _, f := range doc.Fragments {
		if _, dup := frags[f.Name]; !dup {
			frags[f.Name] = f
		}
	}
	maxFields := g.limits.MaxComplexity
	m := measurer{frags: frags, capAt: maxFields + 1, memo: map[string]measure{}, visiting: map[string]bool{}}
	for _, op := range doc.Operations {
		got := m.set(op.SelectionSet)
		if got.depth > g.limits.MaxDepth {
			return codedError(codeDepthLimit, "operation nests %d levels deep, which exceeds the limit of %d", got.depth, g.limits.MaxDepth)
		}
		if got.fields > maxFields {
			return codedError(codeComplexityLimit, "operation expands to more than %d fields", maxFields)
		}
	}
	// The overlap walk expands fragments, so it runs only on documents
	// whose operations passed the expansion limit, and with a budget for
	// the whole document (fragment definitions are validated on their own
	// too, used or not).
	w := overlapWalker{frags: frags, budget: 2 * maxFields, maxPairs: g.limits.MaxFieldComparisons}
	roots := make([]ast.SelectionSet, 0, len(doc.Operations)+len(doc.Fragments))
	for _, op := range doc.Operations {
		roots = append(roots, op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		roots = append(roots, f.SelectionSet)
	}
	for _, root := range roots {
		if w.walk([]ast.SelectionSet{root}, "") {
			continue
		}
		if w.pairs > w.maxPairs {
			where := "at the top level"
			if w.worst.path != "" {
				where = "under " + w.worst.path
			}
			return codedError(codeOverlapLimit, "field %q is selected %d times %s: fields that share a response name are compared pairwise, and this document needs more than %d comparisons; drop the repeats or give them distinct aliases",
				w.worst.name, w.worst.n, where, w.maxPairs)
		}
		return codedError(codeComplexityLimit, "document expands to more than %d fields (operations and fragment definitions together)", 2*maxFields)
	}
	return nil
}

// measure is the depth and expanded field count of a selection set.
type measure struct{ depth, fields int }

// measurer measures selection sets with fragments expanded. Fragment
// measurements are memoised, so a document whose fragments spread each
// other many times over is measured in time linear in its size.
type measurer struct {
	frags    map[string]*ast.FragmentDefinition
	capAt    int // field counts saturate here
	memo     map[string]measure
	visiting map[string]bool // fragments on the current path (cycles are invalid, but be safe)
}

func (m *measurer) set(set ast.SelectionSet) measure {
	var out measure
	for _, sel := range set {
		var child measure
		switch s := sel.(type) {
		case *ast.Field:
			inner := m.set(s.SelectionSet)
			child = measure{depth: inner.depth + 1, fields: min(inner.fields+1, m.capAt)}
		case *ast.InlineFragment:
			child = m.set(s.SelectionSet)
		case *ast.FragmentSpread:
			def := m.frags[s.Name]
			if def == nil || m.visiting[s.Name] {
				continue
			}
			if memo, ok := m.memo[s.Name]; ok {
				child = memo
				break
			}
			m.visiting[s.Name] = true
			child = m.set(def.SelectionSet)
			delete(m.visiting, s.Name)
			m.memo[s.Name] = child
		}
		out.depth = max(out.depth, child.depth)
		out.fields = min(out.fields+child.fields, m.capAt)
	}
	return out
}

// overlapWalker merges selection sets the way the validator's
// OverlappingFieldsCanBeMerged rule does — the fields that land at one
// response position, inline fragments flattened and each named fragment
// taken once — and counts the pairs of fields that share a response name,
// which is what the rule compares.
type overlapWalker struct {
	frags    map[string]*ast.FragmentDefinition
	budget   int // fields left to visit in this document
	pairs    int
	maxPairs int
	worst    struct {
		name, path string
		n          int
	}
}

// walk reports false when the budget or the pair limit ran out.
func (w *overlapWalker) walk(sets []ast.SelectionSet, path string) bool {
	groups := map[string][]*ast.Field{}
	var order []string
	expanded := map[string]bool{}
	var collect func(ast.SelectionSet) bool
	collect = func(set ast.SelectionSet) bool {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if w.budget--; w.budget < 0 {
					return false
				}
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				if _, ok := groups[name]; !ok {
					order = append(order, name)
				}
				groups[name] = append(groups[name], s)
			case *ast.InlineFragment:
				if !collect(s.SelectionSet) {
					return false
				}
			case *ast.FragmentSpread:
				if expanded[s.Name] {
					continue
				}
				expanded[s.Name] = true
				if def := w.frags[s.Name]; def != nil && !collect(def.SelectionSet) {
					return false
				}
			}
		}
		return true
	}
	for _, set := range sets {
		if !collect(set) {
			return false
		}
	}
	for _, name := range order {
		n := len(groups[name])
		if n > w.worst.n {
			w.worst.name, w.worst.path, w.worst.n = name, path, n
		}
		if w.pairs += n * (n - 1) / 2; w.pairs > w.maxPairs {
			return false
		}
	}
	for _, name := range order {
		var subs []ast.SelectionSet
		for _, f := range groups[name] {
			if len(f.SelectionSet) > 0 {
				subs = append(subs, f.SelectionSet)
			}
		}
		if len(subs) == 0 {
			continue
		}
		sub := name
		if path != "" {
			sub = path + "." + name
		}
		if !w.walk(subs, sub) {
			return false
		}
	}
	return true
}

// cappedRules returns gqlgen's default validation rules with their errors
// capped: past max errors in one validation, further ones are dropped
// instead of accumulated (the response middleware then says so).
func cappedRules(max int) func() *rules.Rules {
	return func() *rules.Rules {
		n := 0 // one rule set serves one validation, on one goroutine
		out := rules.NewRules()
		for name, rule := range rules.NewDefaultRules().GetInner() {
			out.AddRule(name, func(ev *core.Events, add core.AddErrFunc) {
				rule(ev, func(opts ...core.ErrorOption) {
					if n++; n <= max {
						add(opts...)
					}
				})
			})
		}
		return out
	}
}

// capErrors trims a response's error list to max entries and says that
// more were omitted.
func capErrors(max int) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || len(resp.Errors) <= max {
			return resp
		}
		resp.Errors = append(resp.Errors[:max:max], codedError(codeTooManyErrors, "further errors omitted: at most %d are reported", max))
		return resp
	}
}

// stopWhenCanceled skips the fields of an operation whose client has gone:
// gqlgen resolves field after field without looking at the context.
func stopWhenCanceled(ctx context.Context, next graphql.Resolver) (any, error) {
	if ctx.Err() != nil {
		return nil, codedError(codeCanceled, "the request was canceled")
	}
	return next(ctx)
}

type getRequestKey struct{}

// withGET marks a context as serving a GET request.
func withGET(ctx context.Context) context.Context {
	return context.WithValue(ctx, getRequestKey{}, true)
}

func isGET(ctx context.Context) bool {
	v, _ := ctx.Value(getRequestKey{}).(bool)
	return v
}
