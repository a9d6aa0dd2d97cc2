package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"

	"github.com/watershed-data/watershed/catalog"
)

// Limits on CEL conditions. A condition is compiled once, when its policy is
// created or loaded; evaluation is bounded by cost (a runaway comprehension
// stops with an error) and checks for cancellation.
const (
	maxConditionBytes = 4096
	celCostLimit      = 1_000_000
	maxHelperHops     = 10
)

// CompileError is a CEL compile error at a position of the condition.
type CompileError struct {
	// Line and Column are 1-based.
	Line, Column int
	Message      string
}

func (e CompileError) String() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message) }

// CompileErrors are the errors of a condition that does not compile. The
// Invalid error Compile returns wraps them (errors.As).
type CompileErrors []CompileError

func (e CompileErrors) Error() string {
	parts := make([]string, len(e))
	for i, c := range e {
		parts[i] = c.String()
	}
	return strings.Join(parts, "; ")
}

// evalError is a condition that could not be evaluated for one subject (a
// missing key, a type mismatch, the cost limit): no verdict.
type evalError struct{ err error }

func (e evalError) Error() string { return "evaluate condition: " + e.err.Error() }
func (e evalError) Unwrap() error { return e.err }

// newCELEnv declares what a condition may use: the variables asset, change
// and now, the standard macros (has, all, exists, map, filter), the
// strings extension, and the helpers, bound late so that each evaluation
// reads the catalog it runs against.
func newCELEnv() (*cel.Env, error) {
	asset := cel.MapType(cel.StringType, cel.DynType)
	dynList := cel.ListType(cel.MapType(cel.StringType, cel.DynType))
	return cel.NewEnv(
		cel.Variable("asset", asset),
		cel.Variable("change", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("now", cel.TimestampType),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.Function("consumers", cel.Overload("consumers_dyn", []*cel.Type{cel.DynType}, dynList, cel.LateFunctionBinding())),
		cel.Function("producers", cel.Overload("producers_dyn", []*cel.Type{cel.DynType}, dynList, cel.LateFunctionBinding())),
		cel.Function("readers", cel.Overload("readers_dyn", []*cel.Type{cel.DynType}, cel.ListType(cel.StringType), cel.LateFunctionBinding())),
		cel.Function("classifications", cel.Overload("classifications_dyn", []*cel.Type{cel.DynType}, cel.ListType(cel.StringType), cel.LateFunctionBinding())),
		cel.Function("downstream", cel.Overload("downstream_dyn_int", []*cel.Type{cel.DynType, cel.IntType}, dynList, cel.LateFunctionBinding())),
		cel.Function("upstream", cel.Overload("upstream_dyn_int", []*cel.Type{cel.DynType, cel.IntType}, dynList, cel.LateFunctionBinding())),
	)
}

// celCheck is a compiled CEL condition.
type celCheck struct {
	expr       string
	env        *cel.Env
	prg        cel.Program
	kinds      []catalog.Kind
	usesChange bool
}

func compileCEL(expr string, scope Scope) (*celCheck, error) {
	if len(expr) > maxConditionBytes {
		return nil, catalog.Errorf(catalog.Invalid, "condition: longer than %d bytes", maxConditionBytes)
	}
	env, err := newCELEnv()
	if err != nil {
		return nil, fmt.Errorf("declare the CEL environment: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		var errs CompileErrors
		for _, e := range iss.Errors() {
			errs = append(errs, CompileError{Line: e.Location.Line(), Column: e.Location.Column() + 1, Message: e.Message})
		}
		if len(errs) == 0 {
			errs = CompileErrors{{Line: 1, Column: 1, Message: iss.Err().Error()}}
		}
		return nil, &catalog.Error{Kind: catalog.Invalid, Msg: "condition: " + errs.Error(), Err: errs}
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, catalog.Errorf(catalog.Invalid, "condition: must be a boolean expression, not %s", t)
	}
	widenConversions(ast)
	prg, err := env.Program(ast, cel.CostLimit(celCostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "condition: %w", err)
	}
	c := &celCheck{expr: expr, env: env, prg: prg, kinds: scope.Kinds}
	for _, r := range ast.NativeRep().ReferenceMap() {
		if r.Name == "change" {
			c.usesChange = true
		}
	}
	if len(c.kinds) == 0 {
		for _, k := range catalog.Kinds() {
			if !ignoredKind(k) {
				c.kinds = append(c.kinds, k)
			}
		}
	}
	return c, nil
}

// widenConversions works around a cel-go v0.33 checker bug: a type
// conversion of a value indexed out of a dyn map (int(asset.properties.
// configs["retention.ms"])) is narrowed to the identity overload
// (int64_to_int64), so converting the string fails at run time with "no
// such overload: int(string)". Dropping the single overload of every
// conversion call makes the planner dispatch on the runtime type, which
// picks the same overload whenever the checker was right.
func widenConversions(ast *cel.Ast) {
	native := ast.NativeRep()
	for id, r := range native.ReferenceMap() {
		if len(r.OverloadIDs) != 1 {
			continue
		}
		o := r.OverloadIDs[0]
		for _, suffix := range []string{"_to_int64", "_to_uint64", "_to_double", "_to_string", "_to_bytes", "_to_bool", "_to_timestamp", "_to_duration"} {
			if strings.HasSuffix(o, suffix) {
				native.SetReference(id, &celast.ReferenceInfo{Name: r.Name})
				break
			}
		}
	}
}

func (c *celCheck) Kinds() []catalog.Kind { return c.kinds }

// ChangeScoped reports whether the condition reads change: its verdict then
// depends on the triggering change, which a sweep does not have.
func (c *celCheck) ChangeScoped() bool { return c.usesChange }

// Affected is the change's subject, both ends of an edge, and the dataset
// of a field or column. A condition that looks further (downstream(asset,
// 3)) is refreshed by the sweep for what lies beyond.
func (c *celCheck) Affected(_ context.Context, _ *Env, ch catalog.Change) ([]catalog.URN, error) {
	var out []catalog.URN
	add := func(u catalog.URN) {
		if u != "" && containsKind(c.kinds, u.Kind()) {
			for _, x := range out {
				if x == u {
					return
				}
			}
			out = append(out, u)
		}
	}
	if ch.Type.Family("lineage.edge") {
		if d, err := ch.EdgeData(); err == nil {
			add(d.From)
			add(d.To)
		}
		return out, nil
	}
	add(ch.Subject)
	add(DatasetOf(ch.Subject))
	return out, nil
}

func (c *celCheck) Evaluate(ctx context.Context, env *Env, subject catalog.Entity, change *catalog.Change) (*Finding, error) {
	if c.usesChange && change == nil {
		return nil, nil // a sweep cannot judge a change-scoped condition
	}
	vars := map[string]any{"asset": assetValue(subject), "change": changeValue(change), "now": env.Now()}
	h := &helpers{ctx: ctx, env: env, adapter: c.env.CELTypeAdapter()}
	act, err := cel.FunctionVars(vars, map[string]cel.LateBoundFunction{
		"consumers":       h.neighbors(catalog.Downstream, catalog.EdgeConsumes),
		"producers":       h.neighbors(catalog.Upstream, catalog.EdgeProduces),
		"readers":         h.readers,
		"classifications": h.classifications,
		"downstream":      h.walk(catalog.Downstream),
		"upstream":        h.walk(catalog.Upstream),
	})
	if err != nil {
		return nil, fmt.Errorf("bind the condition's variables: %w", err)
	}
	out, _, err := c.prg.ContextEval(ctx, act)
	if h.err != nil {
		return nil, h.err // a catalog read failed: retry, not a verdict
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, evalError{err}
	}
	b, ok := out.(types.Bool)
	if !ok {
		return nil, evalError{fmt.Errorf("the condition gave %s, not a boolean", out.Type())}
	}
	if !b {
		return nil, nil
	}
	var classes []string
	for _, a := range subject.Classifications {
		classes = appendUnique(classes, a.Classification)
	}
	sort.Strings(classes)
	return &Finding{Classifications: classes, Evidence: map[string]any{"condition": c.expr, "classifications": stringsAny(classes)}}, nil
}

// helpers implements the late-bound functions for one evaluation. A
// catalog error is kept in err (the evaluation is then retried rather than
// taken as a verdict).
type helpers struct {
	ctx     context.Context
	env     *Env
	adapter types.Adapter
	err     error
}

func (h *helpers) fail(err error) ref.Val {
	if h.err == nil {
		h.err = err
	}
	return types.NewErr("%v", err)
}

// urnArg reads an asset argument: an asset map (its urn) or a URN string.
func urnArg(v ref.Val) (catalog.URN, error) {
	switch t := v.(type) {
	case types.String:
		return catalog.URN(t), nil
	case traits.Mapper:
		if u, ok := t.Find(types.String("urn")); ok {
			if s, ok := u.(types.String); ok {
				return catalog.URN(s), nil
			}
		}
	}
	return "", errors.New("expected an asset or a URN string")
}

func (h *helpers) neighbors(dir catalog.Direction, kind catalog.EdgeKind) cel.LateBoundFunction {
	return func(_ string, args ...ref.Val) ref.Val {
		u, err := urnArg(args[0])
		if err != nil {
			return types.NewErr("%v", err)
		}
		ents, err := h.env.Neighbors(h.ctx, u, dir, kind)
		if err != nil {
			return h.fail(err)
		}
		out := make([]any, 0, len(ents))
		for _, e := range ents {
			out = append(out, map[string]any{"urn": string(e.URN), "kind": string(e.Kind), "name": e.Name, "classifications": classNames(e)})
		}
		return h.adapter.NativeToValue(out)
	}
}

func (h *helpers) readers(_ string, args ...ref.Val) ref.Val {
	u, err := urnArg(args[0])
	if err != nil {
		return types.NewErr("%v", err)
	}
	ents, err := h.env.Neighbors(h.ctx, u, catalog.Downstream, catalog.EdgeCanRead)
	if err != nil {
		return h.fail(err)
	}
	out := make([]any, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name)
	}
	return h.adapter.NativeToValue(out)
}

func (h *helpers) classifications(_ string, args ...ref.Val) ref.Val {
	u, err := urnArg(args[0])
	if err != nil {
		return types.NewErr("%v", err)
	}
	c, err := h.env.Carries(h.ctx, u, "")
	if err != nil {
		return h.fail(err)
	}
	return h.adapter.NativeToValue(withAncestors(c.Classifications))
}

func (h *helpers) walk(dir catalog.Direction) cel.LateBoundFunction {
	return func(_ string, args ...ref.Val) ref.Val {
		u, err := urnArg(args[0])
		if err != nil {
			return types.NewErr("%v", err)
		}
		n, ok := args[1].(types.Int)
		if !ok || n < 1 || n > maxHelperHops {
			return types.NewErr("hops must be between 1 and %d", maxHelperHops)
		}
		var hops []Hop
		if dir == catalog.Downstream {
			hops, err = h.env.Downstream(h.ctx, u, int(n))
		} else {
			hops, err = h.env.Upstream(h.ctx, u, int(n))
		}
		if err != nil {
			return h.fail(err)
		}
		urns := make([]catalog.URN, len(hops))
		for i, hp := range hops {
			urns[i] = hp.URN
		}
		ents, err := h.env.Entities(h.ctx, urns)
		if err != nil {
			return h.fail(err)
		}
		byURN := make(map[catalog.URN]catalog.Entity, len(ents))
		for _, e := range ents {
			byURN[e.URN] = e
		}
		out := make([]any, 0, len(hops))
		for _, hp := range hops {
			e, ok := byURN[hp.URN]
			if !ok {
				continue
			}
			out = append(out, map[string]any{"urn": string(e.URN), "kind": string(e.Kind), "name": e.Name, "depth": hp.Depth,
				"classifications": classNames(e), "owners": stringsAny(e.Owners)})
		}
		return h.adapter.NativeToValue(out)
	}
}

// classNames lists e's classifications and their ancestors, as CEL values.
func classNames(e catalog.Entity) []any {
	var names []string
	for _, a := range e.Classifications {
		names = appendUnique(names, a.Classification)
	}
	return withAncestors(names)
}

// withAncestors adds every ancestor of each name ("PII.Email" adds "PII"),
// so that `"PII" in asset.classifications` holds for an e-mail address.
func withAncestors(names []string) []any {
	set := map[string]bool{}
	for _, n := range names {
		for {
			set[n] = true
			i := strings.LastIndexByte(n, '.')
			if i <= 0 {
				break
			}
			n = n[:i]
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return stringsAny(out)
}

// assetValue is the asset variable: the entity as JSON-like values.
func assetValue(e catalog.Entity) map[string]any {
	var direct []string
	for _, a := range e.Classifications {
		if a.Direct() {
			direct = appendUnique(direct, a.Classification)
		}
	}
	m := map[string]any{
		"urn": string(e.URN), "kind": string(e.Kind), "name": e.Name, "description": e.Description,
		"owners": stringsAny(e.Owners), "sources": stringsAny(e.Sources),
		"properties": celJSON(map[string]any(e.Properties)), "live": celJSON(map[string]any(e.Live)),
		"classifications": classNames(e), "direct": withAncestors(direct),
	}
	if !e.CreatedAt.IsZero() {
		m["createdAt"] = e.CreatedAt
	}
	if !e.UpdatedAt.IsZero() {
		m["updatedAt"] = e.UpdatedAt
	}
	return m
}

// changeValue is the change variable: {} in a sweep.
func changeValue(c *catalog.Change) map[string]any {
	if c == nil {
		return map[string]any{}
	}
	m := map[string]any{"type": string(c.Type), "subject": string(c.Subject), "actor": c.Actor, "cause": c.Cause,
		"source": c.Origin, "seq": int64(c.Seq), "time": c.Time}
	var data any
	if len(c.Data) > 0 && json.Unmarshal(c.Data, &data) == nil {
		m["data"] = celJSON(data)
	}
	return m
}

// celJSON converts JSON values for CEL: json.Number becomes an int when
// integral, else a double; nil maps become empty ones.
func celJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = celJSON(x)
		}
		return out
	case catalog.Properties:
		return celJSON(map[string]any(t))
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = celJSON(x)
		}
		return out
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case float64:
		if t == float64(int64(t)) && t < 1<<53 && t > -(1<<53) {
			return int64(t)
		}
		return t
	case int:
		return int64(t)
	case time.Time:
		return t
	}
	return v
}
