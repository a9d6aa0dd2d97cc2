package connect

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/watershed-data/watershed/catalog"
)

// Provenance of the links this crawler asserts.
const (
	// OriginConfig marks what was derived from a connector's class and
	// config.
	OriginConfig = "connect-config"
	// OriginTopics marks what only the worker's /topics report showed.
	OriginTopics = "connect-topics"
	// OriginTasks marks what the connector's task configs showed (the
	// tables a JDBC source's tasks read).
	OriginTasks = "connect-tasks"
)

// Confidence levels of the links this crawler asserts.
const (
	// confidenceConfig: derived from a known class and its config.
	confidenceConfig = 1.0
	// confidenceResolved: a pattern (include-list regex, topics.regex, a
	// content-named topic) resolved against observed topics, or a path
	// through a transformation we do not understand.
	confidenceResolved = 0.7
	// confidenceUnknown: a connector class we do not know.
	confidenceUnknown = 0.5
	// confidenceHistoric: a topic /topics reports that the sink's
	// subscription no longer covers (read once, since creation or the last
	// topics reset).
	confidenceHistoric = 0.3
	// confidenceUnconfirmed caps a topic derived from config that neither
	// Connect's /topics nor the Kafka cluster has (yet).
	confidenceUnconfirmed = 0.6
)

// DefaultConcurrency is how many connectors are read from the worker at once.
const DefaultConcurrency = 4

// Options configures a Crawler.
type Options struct {
	Config Config
	// Source is the configured name of this Connect source ("prod-connect").
	Source string
	// Schemas gives topics' value fields, for field-level lineage; nil
	// means table/dataset-level lineage only.
	Schemas TopicSchemas
	// Topics lists the Kafka cluster's topics, to resolve sinks'
	// topics.regex beyond what Connect reports; nil means reported only.
	Topics TopicLister
	// Concurrency bounds the connectors read at once; zero means
	// DefaultConcurrency.
	Concurrency int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives progress and problems; nil discards.
	Logger *slog.Logger
}

// Crawler crawls one Kafka Connect cluster. It is safe for concurrent use,
// although the Manager never runs two crawls of one source at once.
type Crawler struct {
	cfg         Config
	source      string
	schemas     TopicSchemas
	topics      TopicLister
	concurrency int
	now         func() time.Time
	log         *slog.Logger
	client      *restClient
	// clientMu serialises prepare (password file, CA file) with requests.
	clientMu sync.Mutex
}

// NewCrawler validates opts and returns a crawler. It does no I/O.
func NewCrawler(opts Options) (*Crawler, error) {
	if err := opts.Config.Validate(); err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "connect source config: %w", err)
	}
	if err := catalog.ValidateSource(opts.Source); err != nil {
		return nil, err
	}
	client, err := newRESTClient(opts.Config)
	if err != nil {
		return nil, err
	}
	c := &Crawler{
		cfg: opts.Config, source: opts.Source, schemas: opts.Schemas, topics: opts.Topics,
		concurrency: opts.Concurrency, now: opts.Now, log: opts.Logger, client: client,
	}
	if c.concurrency <= 0 {
		c.concurrency = DefaultConcurrency
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "crawler", "kind", KindName, "source", opts.Source)
	return c, nil
}

// ClusterURN returns the URN of the Connect cluster this crawler inventories.
func (c *Crawler) ClusterURN() catalog.URN { return catalog.ConnectClusterURN(c.source) }

// ConnectorURN returns the URN of a connector of this Connect cluster.
func (c *Crawler) ConnectorURN(name string) catalog.URN { return catalog.ConnectorURN(c.source, name) }

// TopicURN returns the URN of a topic of the Kafka cluster the connectors use.
func (c *Crawler) TopicURN(topic string) catalog.URN { return catalog.TopicURN(c.cfg.Cluster, topic) }

// FieldURN returns the URN of a value field of a topic of the Kafka cluster.
func (c *Crawler) FieldURN(topic, path string) catalog.URN {
	return catalog.FieldURN(c.cfg.Cluster, topic, catalog.PartValue, path)
}

// GroupURN names a consumer group of the cluster the connectors use, as the
// kafka crawler names it (catalog.GroupURN).
func (c *Crawler) GroupURN(group string) catalog.URN { return catalog.GroupURN(c.cfg.Cluster, group) }

// ConnectorScope is the snapshot scope of everything one connector asserts.
func ConnectorScope(name string) string { return "connector/" + name }

// Crawl returns a complete snapshot of the Connect cluster. It fails only
// when nothing trustworthy could be seen: the password or CA file cannot be
// read, the worker cannot be reached or cannot list its connectors, or ctx
// ends. A connector whose config or status cannot be read (or whose config
// cannot be understood) is listed in Snapshot.Incomplete under its scope, so
// the store keeps what it knew, and the crawl goes on with the others.
func (c *Crawler) Crawl(ctx context.Context) (catalog.Snapshot, error) {
	c.clientMu.Lock()
	defer c.clientMu.Unlock()
	defer c.client.closeIdle()
	if err := c.client.prepare(c.cfg.TLS.CAFile); err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Invalid, "prepare connect client: %w", redactedError{err})
	}
	at := c.now()

	var info serverInfo
	if err := c.client.get(ctx, "/", nil, &info); err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Unavailable, "read connect worker %s: %w", redactText(c.cfg.URL), redactedError{err})
	}
	views, err := c.readConnectors(ctx)
	if err != nil {
		return catalog.Snapshot{}, catalog.Errorf(catalog.Unavailable, "list connectors of %s: %w", redactText(c.cfg.URL), redactedError{err})
	}
	if err := ctx.Err(); err != nil {
		// Reads cut short by the caller are no sign of broken connectors.
		return catalog.Snapshot{}, catalog.Errorf(catalog.Unavailable, "crawl %s: %w", redactText(c.cfg.URL), err)
	}

	b := newSnapshotBuilder(c.source)
	b.add(c.clusterAsset(info))
	cache := newCrawlCache(c)
	for _, v := range views {
		if v.gone {
			continue
		}
		out := b.scope(ConnectorScope(v.name))
		if v.failure != "" {
			out.problem(v.failure)
			c.log.Warn("connector unreadable; keeping what the catalog knew", "connector", v.name, "reason", redactText(v.failure))
			continue
		}
		if v.topicsProblem != "" {
			out.problem(v.topicsProblem)
		}
		if v.tasksProblem != "" {
			out.problem(v.tasksProblem)
		}
		d := &deriver{c: c, ctx: ctx, v: v, out: out, cache: cache, connURN: c.ConnectorURN(v.name)}
		d.derive()
	}
	snap := b.snapshot()
	snap.At = at
	c.log.Info("crawled", "connectors", len(views), "assets", len(snap.Assets), "links", len(snap.Links), "incomplete", len(snap.Incomplete))
	return snap, nil
}

func (c *Crawler) clusterAsset(info serverInfo) catalog.Asset {
	return catalog.Asset{
		URN:  c.ClusterURN(),
		Name: c.source,
		Properties: catalog.Properties{
			"version":        info.Version,
			"commit":         info.Commit,
			"kafkaClusterId": info.KafkaClusterID,
			"kafkaSource":    c.cfg.Cluster,
			"url":            redactValue("url", c.cfg.URL),
		},
	}
}

// connectorView is what the worker said about one connector.
type connectorView struct {
	name        string
	config      map[string]string
	typ         string
	status      *connectorStatus
	topics      []string
	topicsKnown bool
	// failure is why the connector could not be read; its scope is then
	// incomplete.
	failure string
	// gone is set when the connector vanished during the crawl.
	gone bool
	// topicsProblem is why the active topics could not be read although
	// the worker has the resource; what they would have shown is kept.
	topicsProblem string
	// tasks are the task configs (GET /connectors/{name}/tasks), read for
	// the classes whose tasks say what they really read.
	tasks      []map[string]string
	tasksKnown bool
	// tasksProblem is why the task configs could not be read.
	tasksProblem string
}

// readConnectors lists the connectors with their config and status, using
// the expand API when the worker has it, and their active topics.
func (c *Crawler) readConnectors(ctx context.Context) ([]*connectorView, error) {
	views, expanded, err := c.readExpanded(ctx)
	if err != nil {
		return nil, err
	}
	work := make(chan *connectorView)
	var wg sync.WaitGroup
	for range min(c.concurrency, max(len(views), 1)) {
		wg.Go(func() {
			for v := range work {
				if !expanded {
					c.readOne(ctx, v)
				}
				if v.failure == "" && !v.gone {
					c.readTopics(ctx, v)
					if readsTaskConfigs(v.config["connector.class"]) {
						c.readTasks(ctx, v)
					}
				}
			}
		})
	}
	for _, v := range views {
		work <- v
	}
	close(work)
	wg.Wait()
	return views, nil
}

// readExpanded tries GET /connectors?expand=status&expand=info. It falls
// back to the plain list when the worker answers with an error (one
// connector failing fails the whole expansion) or ignores expand (Kafka
// before 2.3 returns the list of names).
func (c *Crawler) readExpanded(ctx context.Context) ([]*connectorView, bool, error) {
	body, err := c.client.getRaw(ctx, "/connectors", url.Values{"expand": {"status", "info"}})
	if err == nil {
		trimmed := strings.TrimSpace(string(body))
		if strings.HasPrefix(trimmed, "{") {
			var exp map[string]expandedConnector
			if err := json.Unmarshal(body, &exp); err == nil {
				views := make([]*connectorView, 0, len(exp))
				complete := true
				for name, e := range exp {
					if e.Info == nil || e.Status == nil {
						complete = false
						break
					}
					views = append(views, &connectorView{name: name, config: e.Info.Config, typ: firstNonEmpty(e.Status.Type, e.Info.Type), status: e.Status})
				}
				if complete {
					sortViews(views)
					return views, true, nil
				}
			}
		}
		if strings.HasPrefix(trimmed, "[") {
			var names []string
			if err := json.Unmarshal(body, &names); err != nil {
				return nil, false, fmt.Errorf("decode GET /connectors: %w", err)
			}
			return namesToViews(names), false, nil
		}
	} else if statusOf(err) == 0 {
		return nil, false, err // the worker is unreachable
	} else {
		c.log.Debug("expand API unavailable; reading connectors one by one", "err", redactedError{err})
	}
	var names []string
	if err := c.client.get(ctx, "/connectors", nil, &names); err != nil {
		return nil, false, err
	}
	return namesToViews(names), false, nil
}

func namesToViews(names []string) []*connectorView {
	views := make([]*connectorView, len(names))
	for i, n := range names {
		views[i] = &connectorView{name: n}
	}
	sortViews(views)
	return views
}

func sortViews(views []*connectorView) {
	sort.Slice(views, func(i, j int) bool { return views[i].name < views[j].name })
}

// readOne reads one connector's config and status.
func (c *Crawler) readOne(ctx context.Context, v *connectorView) {
	base := "/connectors/" + v.name
	var cfg map[string]string
	if err := c.client.get(ctx, base+"/config", nil, &cfg); err != nil {
		c.noteReadError(v, "read config", err)
		return
	}
	var st connectorStatus
	if err := c.client.get(ctx, base+"/status", nil, &st); err != nil {
		c.noteReadError(v, "read status", err)
		return
	}
	v.config, v.status, v.typ = cfg, &st, st.Type
}

func (c *Crawler) noteReadError(v *connectorView, what string, err error) {
	if statusOf(err) == http.StatusNotFound {
		v.gone = true // deleted since the list was read
		c.log.Debug("connector vanished during the crawl", "connector", v.name)
		return
	}
	v.failure = fmt.Sprintf("%s: %v", what, err)
}

// readTopics reads the connector's active topics. Workers before Kafka 2.5
// have no such resource (404) and workers with topic tracking disabled
// refuse it (403); both leave the topics unknown.
func (c *Crawler) readTopics(ctx context.Context, v *connectorView) {
	var body map[string]activeTopics
	err := c.client.get(ctx, "/connectors/"+v.name+"/topics", nil, &body)
	switch {
	case err == nil:
		v.topics = append([]string(nil), body[v.name].Topics...)
		sort.Strings(v.topics)
		v.topicsKnown = true
	case statusOf(err) == http.StatusNotFound || statusOf(err) == http.StatusForbidden:
		c.log.Debug("active topics unavailable", "connector", v.name, "err", redactedError{err})
	default:
		v.topicsProblem = fmt.Sprintf("read active topics: %v", err)
	}
}

// readTasks reads the connector's task configs. A connector that has not
// started its tasks has none (an empty list); an error leaves them unknown
// and makes the connector's scope incomplete, since they name what the
// connector reads.
func (c *Crawler) readTasks(ctx context.Context, v *connectorView) {
	var body []taskInfo
	err := c.client.get(ctx, "/connectors/"+v.name+"/tasks", nil, &body)
	switch {
	case err == nil:
		sort.SliceStable(body, func(i, j int) bool { return body[i].ID.Task < body[j].ID.Task })
		for _, t := range body {
			v.tasks = append(v.tasks, t.Config)
		}
		v.tasksKnown = true
	case statusOf(err) == http.StatusNotFound:
		c.log.Debug("task configs unavailable", "connector", v.name, "err", redactedError{err})
	default:
		v.tasksProblem = fmt.Sprintf("read task configs: %v", err)
	}
}

// redactedError shows err with the credentials its text may hold (a worker's
// error message echoing a config value, a URL) replaced by their shape, and
// unwraps to err.
type redactedError struct{ err error }

func (e redactedError) Error() string { return redactText(e.err.Error()) }
func (e redactedError) Unwrap() error { return e.err }
