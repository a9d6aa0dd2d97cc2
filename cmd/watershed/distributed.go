package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/catalog/neo4j"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/changelog/kafkalog"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/crawlers"
)

// serverStore is what the server needs of a catalog store: the catalog,
// the cursors of its change-log subscriptions, and leases so that replicas
// sharing it divide the crawls. The embedded store and the Neo4j store
// both are one.
type serverStore interface {
	catalog.Store
	changelog.Cursors
	crawlers.Leases
}

// openConfiguredStore opens the store config.Store selects.
func openConfiguredStore(cfg config.Config, logger *slog.Logger) (serverStore, error) {
	switch cfg.Store.Kind {
	case config.StoreNeo4j:
		st := cfg.Store
		s, err := neo4j.Open(context.Background(), neo4j.Options{URI: st.URI, User: st.User, Password: st.Password, Database: st.Database, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		s, err := embedded.Open(embedded.Options{Dir: cfg.DataDir, Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// changeRunner is what the server needs of a change log: durable
// subscriptions for the stages, a follower for GraphQL subscriptions, and
// their status for /metrics. changelog.Changelog (embedded) and
// kafkalog.Subscriptions (kafka) are both one.
type changeRunner interface {
	Run(ctx context.Context, s changelog.Subscription) error
	WaitHandled(ctx context.Context, name string, seq uint64) error
	Follow(ctx context.Context, after uint64, handler changelog.Handler) error
	Subscriptions() []changelog.SubscriptionStatus
}

// changeLog is the configured change log: its runner, and for kafka the
// relay that publishes the outbox (run in the background; nil otherwise).
type changeLog struct {
	runner changeRunner
	relay  *kafkalog.Relay
	close  func()
}

// newChangeLog builds the change log config.Changelog selects over store;
// it does no I/O.
func newChangeLog(cfg config.Config, store serverStore, logger *slog.Logger) changeLog {
	if cfg.Changelog.Kind != config.ChangelogKafka {
		return changeLog{runner: changelog.New(changelog.Options{Log: store, Cursors: store, Logger: logger}), close: func() {}}
	}
	c := cfg.Changelog
	k := kafkalog.New(kafkalog.Options{Brokers: c.Bootstrap, Topic: c.Topic, Log: store, Cursors: store, Instance: replicaName(cfg), Logger: logger})
	relay := kafkalog.NewRelay(kafkalog.RelayOptions{
		Brokers: c.Bootstrap, Topic: c.Topic, Partitions: int32(c.Partitions), ReplicationFactor: int16(c.ReplicationFactor),
		Log: store, Cursors: store, Leases: store, Holder: replicaName(cfg), Logger: logger,
	})
	return changeLog{runner: k, relay: relay, close: k.Close}
}

// replicaName names this process among the replicas sharing a store:
// config.Replica, or <hostname>/<listen address>.
func replicaName(cfg config.Config) string {
	if cfg.Replica != "" {
		return cfg.Replica
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "watershed"
	}
	return host + "/" + cfg.Listen
}

// webhookRunner is the runner of the webhooks dispatcher. The dispatcher
// reads the store's outbox itself, its cursor kept in the webhooks queue in
// the same write as the deliveries it enqueues, so each change is enqueued
// exactly once: the shared log in embedded mode, and with Kafka a runner of
// its own over the store, run only by the holder of the delivery lease
// (webhooks/README.md, "Replicas").
func webhookRunner(cfg config.Config, store serverStore, r changeRunner, logger *slog.Logger) changeRunner {
	if cfg.Changelog.Kind != config.ChangelogKafka {
		return r
	}
	return changelog.New(changelog.Options{Log: store, Logger: logger})
}

// statusLists reports the subscriptions of several runners.
type statusLists []changeRunner

func (l statusLists) Subscriptions() []changelog.SubscriptionStatus {
	var out []changelog.SubscriptionStatus
	for _, r := range l {
		out = append(out, r.Subscriptions()...)
	}
	return out
}

// runRelay runs the relay until ctx ends (nothing without one).
func (c changeLog) runRelay(ctx context.Context) error {
	if c.relay == nil {
		<-ctx.Done()
		return nil
	}
	if err := c.relay.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("change-log relay: %w", err)
	}
	return nil
}
