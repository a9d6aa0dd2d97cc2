package schemaregistry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/watershed-data/watershed/catalog"
)

// srRef is a reference as the registry lists it.
type srRef = sr.SchemaReference

// Options configure a Crawler.
type Options struct {
	// Config is the source configuration; NewCrawler validates it.
	Config Config
	// Source is the configured name of the registry source ("prod-sr").
	Source string
	// Logger receives the crawler's logs; nil discards them.
	Logger *slog.Logger
	// KafkaOptions returns the franz-go options that connect to the Kafka
	// source Config.Cluster (KafkaClientConfig.ClientOptions). It is called
	// at every crawl that samples, and is required while sampling is
	// enabled.
	KafkaOptions func() ([]kgo.Opt, error)
	// Now is the clock stamping snapshots; nil means time.Now.
	Now func() time.Time
}

// Crawler crawls one Schema Registry. It holds no connection between
// crawls; it remembers, in memory, the parse results of unchanged schemas
// and the last successful record sample of each topic (reused while a topic
// cannot be sampled). It is safe for concurrent use, but crawls run one at a
// time.
type Crawler struct {
	cfg          Config
	s            settings
	source       string
	logger       *slog.Logger
	kafkaOptions func() ([]kgo.Opt, error)
	now          func() time.Time

	mu         sync.Mutex // held for a whole crawl
	stateMu    sync.Mutex // guards the fields below
	parseCache map[parseKey]parseSummary
	samples    map[string]*topicSample
}

// NewCrawler validates o and builds a crawler. It does no I/O.
func NewCrawler(o Options) (*Crawler, error) {
	if err := catalog.ValidateSource(o.Source); err != nil {
		return nil, err
	}
	s, err := o.Config.compile()
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: %w", o.Source, err)
	}
	if s.sample && o.KafkaOptions == nil {
		return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: sampling is enabled but no Kafka client options were given for cluster %q; set sample.enabled: false", o.Source, o.Config.Cluster)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Crawler{
		cfg: o.Config, s: s, source: o.Source, now: now,
		logger:       logger.With("component", "schemaregistry-crawler"),
		kafkaOptions: o.KafkaOptions,
	}, nil
}

// crawl is the state of one crawl.
type crawl struct {
	cr     *Crawler
	s      settings
	rc     *registryClient
	logger *slog.Logger
}

// Crawl returns a complete snapshot of the registry. It fails (kind
// Unavailable, Permission or Invalid) only when the registry cannot be
// listed or its global configuration read, or a file the config names cannot
// be read. A subject that cannot be read marks its scope "subject/<name>"
// incomplete; a topic that cannot be sampled marks "topic/<name>"
// incomplete; in both cases the store keeps what it had there.
func (c *Crawler) Crawl(ctx context.Context) (catalog.Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.now().UTC()
	rc, err := dialRegistry(c.cfg, c.s)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	defer rc.close()
	cw := &crawl{cr: c, s: c.s, rc: rc, logger: c.logger}

	st, err := cw.fetchRegistry(ctx)
	if err != nil {
		return catalog.Snapshot{}, err
	}
	cw.parseAll(ctx, st)
	if err := ctx.Err(); err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Unavailable, "parse schemas: %w", err)
	}

	b := newBuilder(cw, st)
	b.bindByName(ctx)
	var sampled *sampleOutcome
	if c.s.sample {
		sampled = cw.sample(ctx, b.sampleSpec(ctx))
		if err := ctx.Err(); err != nil {
			return catalog.Snapshot{}, catalog.Errorf(catalog.Unavailable, "sample records: %w", err)
		}
		c.rememberSamples(sampled)
	} else {
		c.forgetSamples()
	}
	b.applySamples(ctx, sampled)
	snap := b.finish(ctx)
	snap.Source = c.source
	snap.At = start
	c.logger.Debug("crawled schema registry", "subjects", len(st.subjects), "unreadable", len(st.failed),
		"assets", len(snap.Assets), "links", len(snap.Links), "incomplete", len(snap.Incomplete))
	return snap, nil
}

func (c *Crawler) parseCacheSnapshot() map[parseKey]parseSummary {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.parseCache
}

func (c *Crawler) storeParseCache(m map[parseKey]parseSummary) {
	c.stateMu.Lock()
	c.parseCache = m
	c.stateMu.Unlock()
}

// rememberSamples keeps the topics sampled successfully, drops the topics
// the cluster no longer has, and keeps the earlier sample of topics that
// failed this time.
func (c *Crawler) rememberSamples(o *sampleOutcome) {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	if o.err != nil {
		return
	}
	next := make(map[string]*topicSample, len(o.topics)+len(o.failed))
	for t, s := range o.topics {
		next[t] = s
	}
	for t := range o.failed {
		if prev := c.samples[t]; prev != nil {
			next[t] = prev
		}
	}
	c.samples = next
}

func (c *Crawler) forgetSamples() {
	c.stateMu.Lock()
	c.samples = nil
	c.stateMu.Unlock()
}

// previousSample returns the last successful sample of topic, or nil.
func (c *Crawler) previousSample(topic string) *topicSample {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	return c.samples[topic]
}

// previousSampledTopics lists the topics with a remembered sample.
func (c *Crawler) previousSampledTopics() []string {
	c.stateMu.Lock()
	defer c.stateMu.Unlock()
	out := make([]string, 0, len(c.samples))
	for t := range c.samples {
		out = append(out, t)
	}
	return out
}
