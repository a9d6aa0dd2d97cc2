// Package kafka crawls one Kafka cluster with franz-go: the cluster and its
// brokers, topics (partitions, replication, configs), consumer groups
// (classic and KIP-848, with members, committed offsets and lag), the
// principals ACLs let read or write each topic, and the Kafka Streams
// applications that internal topic names reveal.
//
// Each Crawl opens its own client, reads the cluster with a handful of
// batched requests (never one per topic or group), closes the client and
// returns a complete catalog.Snapshot. Readings that move on every crawl
// (lag, group state, members, leaders, watermarks) go in Asset.Live, so a
// re-crawl where only they moved writes no change events. A topic or group
// the crawler could not fully see marks its scope incomplete instead of
// failing the crawl. See README.md for the snapshot's contents.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// crawler crawls one configured Kafka source. It holds no connection
// between crawls and is safe for concurrent use.
type crawler struct {
	cfg    Config
	set    settings
	source string
	log    *slog.Logger
}

func newCrawler(cfg Config, s settings, env crawlers.Env) *crawler {
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &crawler{
		cfg:    cfg,
		set:    s,
		source: env.Source,
		log:    log.With("component", "crawler", "kind", "kafka", "source", env.Source),
	}
}

// Crawl reads the cluster and returns its complete snapshot, with Source
// left empty for the caller. It returns an error only when the cluster
// cannot be read at all: of kind Unavailable when no broker answers metadata
// within the timeout or a broker does not answer the group listing, of kind
// Permission when the cluster refuses the crawler's credentials, and of kind
// Invalid when a file the config names cannot be read. Parts it could not
// see are listed in Snapshot.Incomplete.
func (c *crawler) Crawl(ctx context.Context) (catalog.Snapshot, error) {
	start := time.Now()
	opts, err := c.cfg.ClientOptions()
	if err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Invalid, "kafka source %s: %w", c.source, err)
	}
	opts = append(opts, kgo.WithLogger(kgoLogger{c.log}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Invalid, "kafka source %s: create client: %w", c.source, err)
	}
	defer cl.Close()

	obs, err := c.observe(ctx, cl)
	if err != nil {
		return catalog.Snapshot{}, catalog.Errorf(errorKind(err), "crawl kafka source %s (bootstrap %v, timeout %v): %w", c.source, c.cfg.Bootstrap, c.set.timeout, err)
	}
	observed := time.Since(start)
	snap := c.build(obs)
	snap.At = start.UTC()
	c.log.Debug("crawled", "assets", len(snap.Assets), "links", len(snap.Links),
		"incomplete", len(snap.Incomplete), "observed", observed, "took", time.Since(start))
	return snap, nil
}

// errorKind classifies a failed crawl: Permission when the cluster refused
// the crawler's credentials or authorizations, Unavailable otherwise.
func errorKind(err error) catalog.ErrorKind {
	for _, denied := range []error{
		kerr.SaslAuthenticationFailed, kerr.UnsupportedSaslMechanism, kerr.IllegalSaslState,
		kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
	} {
		if errors.Is(err, denied) {
			return catalog.Permission
		}
	}
	return catalog.Unavailable
}

// kgoLogger forwards franz-go's warnings and errors to slog.
type kgoLogger struct{ log *slog.Logger }

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelWarn
	if level == kgo.LogLevelError {
		lvl = slog.LevelError
	}
	l.log.Log(context.Background(), lvl, fmt.Sprintf("kafka client: %s", msg), keyvals...)
}
