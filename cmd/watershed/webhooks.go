package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/neo4j"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/webhooks"
)

// webhookWalkLimit bounds the lineage walks behind webhook filters.
const webhookWalkLimit = 100000

// newWebhooks builds the webhooks stage, with the lineage questions its
// filters ask answered by walks of the store. Its queue is a DB of its own
// under the data directory, or, on the Neo4j store, the store's KV
// namespace "webhooks", shared by the replicas, of which the holder of the
// delivery lease delivers.
func newWebhooks(cfg config.Config, store catalog.Store, changes webhooks.Subscriber, logger *slog.Logger, reg prometheus.Registerer) (*webhooks.Service, *webhooks.Queue, error) {
	var q *webhooks.Queue
	var leases webhooks.Leases
	if shared, ok := store.(*neo4j.Store); ok {
		kv, err := shared.KV("webhooks")
		if err != nil {
			return nil, nil, err
		}
		q, leases = webhooks.NewQueue(kv), shared
	} else {
		var err error
		if q, err = webhooks.OpenQueue(filepath.Join(cfg.DataDir, "webhooks")); err != nil {
			return nil, nil, err
		}
	}
	w := cfg.Webhooks
	var retry []time.Duration
	for _, d := range w.Retry {
		retry = append(retry, time.Duration(d))
	}
	disableAfter := time.Duration(0) // the default
	if w.DisableAfter != nil {
		disableAfter = time.Duration(*w.DisableAfter)
		if disableAfter == 0 {
			disableAfter = -1 // "0s": never
		}
	}
	public := strings.TrimSuffix(w.PublicURL, "/")
	if public == "" {
		public = "http://" + cfg.Listen
	}
	svc := webhooks.New(webhooks.Options{
		Queue: q, Catalog: store, Subscriber: changes,
		Guard:        &webhooks.Guard{Allow: w.AllowPrefixes()},
		Retry:        retry,
		Timeout:      time.Duration(w.Timeout),
		Concurrency:  w.Concurrency,
		DisableAfter: disableAfter,
		AssetURL:     func(u catalog.URN) string { return public + "/asset/" + url.PathEscape(string(u)) },
		Within: func(ctx context.Context, subject, of catalog.URN, hops int) (bool, error) {
			tr, err := store.Traverse(ctx, catalog.TraverseQuery{Start: subject, Direction: catalog.Upstream, MaxDepth: hops, Limit: webhookWalkLimit})
			if err != nil {
				if catalog.IsNotFound(err) {
					return false, nil
				}
				return false, err
			}
			for _, n := range tr.Nodes {
				if n.URN == of {
					return true, nil
				}
			}
			return false, nil
		},
		OwnsDownstream: func(ctx context.Context, subject catalog.URN, owner string) (bool, error) {
			tr, err := store.Traverse(ctx, catalog.TraverseQuery{Start: subject, Direction: catalog.Downstream, Limit: webhookWalkLimit})
			if err != nil {
				if catalog.IsNotFound(err) {
					return false, nil
				}
				return false, err
			}
			urns := []catalog.URN{subject}
			for _, n := range tr.Nodes {
				urns = append(urns, n.URN)
			}
			ents, err := store.Entities(ctx, urns)
			if err != nil {
				return false, fmt.Errorf("read owners downstream of %s: %w", subject, err)
			}
			for _, e := range ents {
				for _, o := range e.Owners {
					if o == owner {
						return true, nil
					}
				}
			}
			return false, nil
		},
		Leases:     leases,
		Holder:     replicaName(cfg),
		Logger:     logger,
		Registerer: reg,
	})
	return svc, q, nil
}
