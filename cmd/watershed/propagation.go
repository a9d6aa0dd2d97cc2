package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/lineage"
)

// lineageStage is the classification side of the lineage stage: the
// propagation handler and the auto-classification rules.
type lineageStage struct {
	prop  *lineage.Propagator
	rules *lineage.Classifier
}

// newLineageStage defines the configured classifications, checks that every
// rule names a defined one (so a typo fails at startup, not later), and
// builds the handlers.
func newLineageStage(ctx context.Context, cfg config.Config, store catalog.Store, changes lineage.Subscriber, reg prometheus.Registerer, logger *slog.Logger) (*lineageStage, error) {
	if err := defineClassifications(ctx, store, cfg.Classifications.Definitions); err != nil {
		return nil, err
	}
	var rules []lineage.Rule
	for _, r := range cfg.Classifications.Rules {
		lr := lineage.Rule{Property: r.Property, Tag: r.Tag, Classification: r.Classification}
		if r.Match != "" {
			re, err := regexp.Compile(r.Match)
			if err != nil {
				return nil, fmt.Errorf("classifications.rules: match %q: %w", r.Match, err)
			}
			lr.Match = re
		}
		if r.Value != nil {
			lr.Value, lr.HasValue = *r.Value, true
		}
		for _, k := range r.Kinds {
			lr.Kinds = append(lr.Kinds, catalog.Kind(k))
		}
		rules = append(rules, lr)
	}
	l := &lineageStage{
		prop: lineage.New(lineage.Options{Graph: store, Writer: store, Subscriber: changes, Registerer: reg, Logger: logger}),
		rules: lineage.NewClassifier(lineage.ClassifierOptions{
			Rules: rules, Graph: store, Writer: store, Subscriber: changes, Logger: logger,
		}),
	}
	if err := l.rules.Check(ctx); err != nil {
		return nil, fmt.Errorf("config: %w (define it under classifications.definitions)", err)
	}
	return l, nil
}

// defineClassifications creates or updates the configured definitions,
// parents first; an unchanged definition writes nothing.
func defineClassifications(ctx context.Context, store catalog.Writer, defs []config.ClassificationDefinition) error {
	sorted := append([]config.ClassificationDefinition(nil), defs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		return strings.Count(sorted[i].Name, ".") < strings.Count(sorted[j].Name, ".")
	})
	var muts []catalog.Mutation
	for _, d := range sorted {
		prop := true
		if d.Propagates != nil {
			prop = *d.Propagates
		}
		muts = append(muts, catalog.DefineClassification{Def: catalog.ClassificationDef{
			Name: d.Name, Description: d.Description, Propagates: prop, PassesMasking: d.PassesMasking,
		}})
	}
	if len(muts) == 0 {
		return nil
	}
	if _, err := store.Apply(ctx, catalog.Batch{Actor: "system:config", Origin: "/watershed/config", Mutations: muts}); err != nil {
		return fmt.Errorf("classifications.definitions: %w", err)
	}
	return nil
}

// run runs propagation and the rules until ctx ends.
func (l *lineageStage) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 2)
	go func() { errs <- l.prop.Run(ctx) }()
	go func() { errs <- l.rules.Run(ctx) }()
	first := <-errs
	cancel()
	second := <-errs
	if errors.Is(first, context.Canceled) {
		first = nil
	}
	if errors.Is(second, context.Canceled) {
		second = nil
	}
	return errors.Join(first, second)
}
