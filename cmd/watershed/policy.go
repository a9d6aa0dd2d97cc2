package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/policy"
)

// policyWalkLimit bounds the lineage walks behind policies.
const policyWalkLimit = 100000

// policySpecs turns the config's policies into specs and compiles each, so
// a condition that does not compile fails the start with its key path,
// line and column.
func policySpecs(cfg config.Config) ([]policy.Spec, error) {
	var out []policy.Spec
	for i, p := range cfg.Policies {
		name := p.PolicyName()
		spec := policy.Spec{Name: name, Builtin: p.Builtin, Description: p.Description, Severity: policy.Severity(strings.ToUpper(p.Severity)),
			Condition: p.Condition, Params: p.Params, Enabled: p.Enabled == nil || *p.Enabled, Origin: policy.OriginConfig,
			Scope: policy.Scope{URNs: p.Scope.URNs}}
		for _, k := range p.Scope.Kinds {
			spec.Scope.Kinds = append(spec.Scope.Kinds, catalog.Kind(k))
		}
		if _, err := policy.Compile(spec); err != nil {
			return nil, catalog.Errorf(catalog.Invalid, "config: policies[%d] (%s): %w", i, name, err)
		}
		out = append(out, spec)
	}
	return out, nil
}

// newPolicyEngine builds the policy engine with the lineage questions its
// policies ask answered by walks of the store (the lineage stage's
// semantics: flow edges, pass-through connectors, Carrying for what
// blocks a classification).
func newPolicyEngine(cfg config.Config, specs []policy.Spec, store catalog.Store, changes policy.Subscriber, logger *slog.Logger, reg prometheus.Registerer) (*policy.Engine, error) {
	return policy.New(policy.Options{
		Catalog: store, Subscriber: changes, Config: specs, Sweep: cfg.PolicyEngine.Sweep,
		Lineage: storeLineage(store), Logger: logger, Registerer: reg,
	})
}

// storeLineage answers policy.Lineage with catalog walks.
func storeLineage(store catalog.Reader) policy.Lineage {
	walk := func(ctx context.Context, q catalog.TraverseQuery) ([]policy.Hop, error) {
		q.Limit = policyWalkLimit
		tr, err := store.Traverse(ctx, q)
		if err != nil {
			if catalog.IsNotFound(err) {
				return nil, nil
			}
			return nil, fmt.Errorf("walk from %s: %w", q.Start, err)
		}
		paths := tr.Paths(q.Start, q.Direction)
		out := make([]policy.Hop, 0, len(tr.Nodes))
		for _, n := range tr.Nodes {
			p := paths[n.URN]
			if q.Direction == catalog.Upstream { // data-flow order: upstream end first
				for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
					p[i], p[j] = p[j], p[i]
				}
			}
			out = append(out, policy.Hop{URN: n.URN, Kind: n.Kind, Depth: n.Depth, Path: p})
		}
		return out, nil
	}
	return policy.Lineage{
		Downstream: func(ctx context.Context, u catalog.URN, hops int) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Downstream, MaxDepth: hops})
		},
		Upstream: func(ctx context.Context, u catalog.URN, hops int) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Upstream, MaxDepth: hops})
		},
		Reaching: func(ctx context.Context, u catalog.URN, class string) ([]policy.Hop, error) {
			return walk(ctx, catalog.TraverseQuery{Start: u, Direction: catalog.Upstream, Carrying: class})
		},
	}
}
