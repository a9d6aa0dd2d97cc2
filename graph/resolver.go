// Package graph serves Watershed's GraphQL API: gqlgen resolvers (thin: one
// call into the catalog or a domain package, then a mapping), per-request
// dataloaders, subscriptions that tail the change log, and the limits and
// authentication that protect the endpoint.
package graph

import (
	"context"
	"log/slog"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/crawlers"
)

//go:generate sh -c "cd .. && go tool gqlgen generate"

// Catalog is what the resolvers need of the store.
type Catalog interface {
	catalog.Reader
	catalog.Writer
}

// ChangeFollower tails the change log from a position (changelog.Changelog).
type ChangeFollower interface {
	Follow(ctx context.Context, after uint64, handler changelog.Handler) error
}

// CrawlController runs and reports crawls (crawlers.Manager).
type CrawlController interface {
	Crawl(ctx context.Context, source, trigger string) (catalog.CrawlRun, error)
	Sources() []crawlers.SourceStatus
	// Lease returns the crawl lease of source, nil when none is held.
	Lease(ctx context.Context, source string) (*catalog.Lease, error)
}

// Resolver is the root resolver. It holds the services the resolvers call.
type Resolver struct {
	Catalog Catalog
	Changes ChangeFollower
	// Crawls is nil when the process runs no crawlers.
	Crawls CrawlController
	// Webhooks is nil when the process runs no webhooks stage.
	Webhooks WebhookService
	// Policies is nil when the process runs no policy engine.
	Policies PolicyService
	Logger   *slog.Logger
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func intOr(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func stringOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
