package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/watershed-data/watershed/catalog/embedded"
	"github.com/watershed-data/watershed/changelog"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/kafka"
	"github.com/watershed-data/watershed/crawlers/openlineage"
	"github.com/watershed-data/watershed/frontend"
	"github.com/watershed-data/watershed/graph"
	"github.com/watershed-data/watershed/policy"
	"github.com/watershed-data/watershed/webhooks"
)

// commonFlags are shared by the commands that load a configuration.
type commonFlags struct {
	config  string
	dataDir string
	listen  string
}

func (f *commonFlags) register(fs *flag.FlagSet, withListen bool) {
	fs.StringVar(&f.config, "config", "", "YAML configuration file")
	fs.StringVar(&f.dataDir, "data-dir", "", "data directory of the embedded store (default ./data)")
	if withListen {
		fs.StringVar(&f.listen, "listen", "", "HTTP listen address (default 127.0.0.1:8080)")
	}
}

func (f *commonFlags) load(environ []string, reg *crawlers.Registry) (config.Config, error) {
	cfg, err := config.Load(f.config, environ, config.Flags{Listen: f.listen, DataDir: f.dataDir}, reg)
	if err != nil {
		return cfg, err
	}
	// The policies' conditions and parameters are checked by the policy
	// package, which config may not import: every command that loads the
	// config refuses an invalid one.
	_, err = policySpecs(cfg)
	return cfg, err
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer, environ []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f commonFlags
	f.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return usage(err)
	}
	if fs.NArg() > 0 {
		return usage(fmt.Errorf("unexpected arguments %v", fs.Args()))
	}
	reg := builtinKinds()
	cfg, err := f.load(environ, reg)
	if err != nil {
		return err
	}
	logger := newLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	srv, err := newServer(cfg, logger)
	if err != nil {
		return err
	}
	return srv.run(ctx)
}

// server is the assembled process: the store, the change log and the HTTP
// endpoints. It listens before the store is open: /healthz answers at once
// and /readyz says 503 until the store is open (and the start-up crawls
// have run), so a liveness probe never kills a server that is still
// reading a large store.
type server struct {
	cfg       config.Config
	logger    *slog.Logger
	registry  *prometheus.Registry
	http      *http.Server
	listener  net.Listener
	openStore func() (serverStore, error) // the configured store by default

	app    atomic.Pointer[http.Handler] // nil until the store is open
	opened chan struct{}                // closed once app is set

	// Set by start, before opened is closed.
	store     serverStore
	changes   changeRunner
	changeLog changeLog
	crawls    *crawlers.Manager // nil without sources
	push      *openlineage.Service
	hooks     *webhooks.Service
	hookQueue *webhooks.Queue
	lineage   *lineageStage
	policies  *policy.Engine
	readyFunc func() error

	policySpecs []policy.Spec // the config's, compiled by newServer
}

// newServer binds the listen address (so a busy port fails fast) and
// builds the HTTP server; it does not open the store (run does).
func newServer(cfg config.Config, logger *slog.Logger) (*server, error) {
	if err := checkExposure(cfg); err != nil {
		return nil, err
	}
	specs, err := policySpecs(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &server{cfg: cfg, logger: logger, registry: prometheus.NewRegistry(), opened: make(chan struct{}), policySpecs: specs}
	s.openStore = func() (serverStore, error) { return openConfiguredStore(cfg, logger) }
	s.listener = newLimitListener(ln, maxConnections(cfg.HTTP.MaxConnections), logger, s.registry)
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", s.serveReady)
	mux.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if app := s.app.Load(); app != nil {
			(*app).ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"errors":[{"message":"the server is starting: the store is opening","extensions":{"code":"UNAVAILABLE"}}]}`+"\n")
	})
	var handler http.Handler = mux
	if cfg.AnonymousAccess() != "none" {
		handler = hostGuard(cfg.Listen, handler)
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout),
		ReadTimeout:       time.Duration(cfg.HTTP.ReadTimeout),
		WriteTimeout:      time.Duration(cfg.HTTP.WriteTimeout),
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// start opens the store and builds the endpoints that need it, then
// publishes them.
func (s *server) start() error {
	began := time.Now()
	store, err := s.openStore()
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	s.store = store
	cfg, logger := s.cfg, s.logger
	s.changeLog = newChangeLog(cfg, store, logger)
	s.changes = s.changeLog.runner
	if len(cfg.Sources) > 0 {
		if s.crawls, err = newManager(cfg, store, logger); err != nil {
			return err
		}
		s.readyFunc = func() error {
			select {
			case <-s.crawls.Started():
				return nil
			default:
				return errors.New("startup crawls are running")
			}
		}
	}
	hookRunner := webhookRunner(cfg, store, s.changes, logger)
	s.registerMetrics(hookRunner)
	if s.hooks, s.hookQueue, err = newWebhooks(cfg, store, hookRunner, logger, s.registry); err != nil {
		return fmt.Errorf("open webhooks: %w", err)
	}
	if s.lineage, err = newLineageStage(context.Background(), cfg, store, s.changes, s.registry, logger); err != nil {
		return err
	}
	if s.policies, err = newPolicyEngine(cfg, s.policySpecs, store, s.changes, logger, s.registry); err != nil {
		return fmt.Errorf("build the policy engine: %w", err)
	}

	anon := map[string]graph.Access{"none": graph.AccessNone, "read": graph.AccessRead, "write": graph.AccessWrite}[cfg.AnonymousAccess()]
	var tokens []graph.Token
	for _, t := range cfg.Auth.Tokens {
		tokens = append(tokens, graph.Token{Name: t.Name, Secret: t.Token, Write: t.Write})
	}
	auth := graph.NewAuthenticator(tokens, anon)
	s.push = openlineage.New(openlineage.Options{
		Store: store, Catalog: store, Logger: logger, TTL: time.Duration(cfg.OpenLineage.TTL),
		KafkaClusters: kafkaResolver(cfg), KnownCluster: knownKafka(cfg),
	})
	gql := graph.NewHandler(graph.Options{
		Resolver: &graph.Resolver{Catalog: store, Changes: s.changes, Crawls: crawlController(s.crawls), Webhooks: s.hooks, Policies: s.policies, Logger: logger},
		Auth:     auth,
		Logger:   logger,
		Limits: graph.Limits{
			MaxBodyBytes: cfg.GraphQL.MaxBodyBytes, MaxTokens: cfg.GraphQL.MaxTokens,
			MaxDepth: cfg.GraphQL.MaxDepth, MaxComplexity: cfg.GraphQL.MaxComplexity,
			MaxSubscriptionsPerConnection: cfg.GraphQL.MaxSubscriptionsPerConnection, MaxSubscriptions: cfg.GraphQL.MaxSubscriptions,
		},
	})
	mux := http.NewServeMux()
	mux.Handle("/graphql", s.instrument("graphql", gql))
	push := auth.RequireWriter(s.push.Handler())
	mux.Handle(openlineage.LineagePath, s.instrument("openlineage", push))
	mux.Handle(openlineage.TopologiesPath, s.instrument("topologies", push))
	mux.Handle("/", frontend.Handler()) // the web UI; unknown paths serve its index.html (deep links)
	var app http.Handler = mux
	s.app.Store(&app)
	close(s.opened)
	logger.Info("store open", "took", time.Since(began).Round(time.Millisecond), "store", cfg.Store.Kind, "changelog", cfg.Changelog.Kind, "replica", replicaName(cfg))
	return nil
}

// checkExposure refuses to serve anonymous write access on a non-loopback
// address unless the operator asked for it explicitly.
func checkExposure(cfg config.Config) error {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", cfg.Listen, err)
	}
	ip := net.ParseIP(host)
	loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
	if !loopback && cfg.Auth.Anonymous == "" && len(cfg.Auth.Tokens) == 0 {
		return fmt.Errorf("refusing to listen on %s without auth: configure auth.tokens, or set auth.anonymous (none, read or write) explicitly", cfg.Listen)
	}
	return nil
}

// run serves until ctx ends: it answers /healthz at once, opens the store,
// then runs the crawls and the push-lineage sweeper. On the way out it stops
// accepting requests, lets running ones finish within the shutdown timeout,
// and closes the store last.
func (s *server) run(ctx context.Context) error {
	ln := s.listener
	s.logger.Info("watershed serving", "url", "http://"+ln.Addr().String(), "graphql", "http://"+ln.Addr().String()+"/graphql", "dataDir", s.cfg.DataDir)
	var g run.Group
	g.Add(func() error {
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	}, func(error) {
		sctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.cfg.ShutdownTimeout))
		defer cancel()
		if err := s.http.Shutdown(sctx); err != nil {
			s.logger.Warn("http shutdown", "err", err)
			s.http.Close()
		}
	})
	{
		bctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			if err := s.start(); err != nil {
				return err
			}
			return s.background(bctx)
		}, func(error) { cancel() })
	}
	{
		// Ends on a signal, or when another actor ends (a store that
		// cannot open): the process then exits instead of serving 503s.
		sctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			<-sctx.Done()
			s.logger.Info("shutting down")
			return nil
		}, func(error) { cancel() })
	}
	err := g.Run()
	if s.hookQueue != nil {
		if cerr := s.hookQueue.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close webhook queue: %w", cerr))
		}
	}
	if s.changeLog.close != nil {
		s.changeLog.close()
	}
	if s.store != nil {
		if cerr := s.store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}
	s.logger.Info("stopped")
	return err
}

// background runs the push-lineage sweeper, the webhooks stage, the policy
// engine, propagation and the classification rules, and the crawls until
// ctx ends.
func (s *server) background(ctx context.Context) error {
	var g run.Group
	{
		sctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { s.sweepPushLineage(sctx); return nil }, func(error) { cancel() })
	}
	{
		wctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			if err := s.hooks.Run(wctx); err != nil && wctx.Err() == nil {
				return fmt.Errorf("webhooks: %w", err)
			}
			return nil
		}, func(error) { cancel() })
	}
	{
		lctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.lineage.run(lctx) }, func(error) { cancel() })
	}
	{
		pctx, cancel := context.WithCancel(ctx)
		g.Add(func() error {
			if err := s.policies.Run(pctx); err != nil && pctx.Err() == nil {
				return fmt.Errorf("policy engine: %w", err)
			}
			return nil
		}, func(error) { cancel() })
	}
	if s.crawls != nil {
		cctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.crawls.Run(cctx) }, func(error) { cancel() })
	}
	{
		rctx, cancel := context.WithCancel(ctx)
		g.Add(func() error { return s.changeLog.runRelay(rctx) }, func(error) { cancel() })
	}
	return g.Run()
}

func (s *server) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if s.app.Load() == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "the store is opening")
		return
	}
	if _, err := s.store.LastSeq(r.Context()); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "store:", err)
		return
	}
	if s.readyFunc != nil {
		if err := s.readyFunc(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, err)
			return
		}
	}
	fmt.Fprintln(w, "ready")
}

// registerMetrics registers the metrics of the open store.
func (s *server) registerMetrics(hooks changeRunner) {
	var changes statusLists = []changeRunner{s.changes}
	if hooks != s.changes {
		changes = append(changes, hooks) // the webhooks dispatcher's own runner
	}
	s.registry.MustRegister(&subscriptionCollector{changes: changes, head: s.store.LastSeq})
	es, ok := s.store.(*embedded.Store)
	if !ok {
		return
	}
	s.registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watershed_catalog_entities", Help: "Entities known to the catalog, tombstones and referenced URNs included."},
			func() float64 { return float64(es.Stats().Entities) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watershed_catalog_edges", Help: "Edges known to the catalog, tombstones included."},
			func() float64 { return float64(es.Stats().Edges) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watershed_changelog_head_sequence", Help: "Sequence number of the newest change-log entry."},
			func() float64 { return float64(es.Stats().Head) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "watershed_store_disk_bytes", Help: "Disk space used by the embedded store."},
			func() float64 { return float64(es.Stats().DiskBytes) }),
	)
}

// instrument counts and times the requests of one handler.
func (s *server) instrument(name string, h http.Handler) http.Handler {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "watershed_http_requests_total", Help: "HTTP requests by handler and status code.", ConstLabels: prometheus.Labels{"handler": name},
	}, []string{"code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "watershed_http_request_duration_seconds", Help: "HTTP request latency by handler.", ConstLabels: prometheus.Labels{"handler": name},
		Buckets: prometheus.DefBuckets,
	}, []string{"code"})
	s.registry.MustRegister(reqs, dur)
	return promhttp.InstrumentHandlerCounter(reqs, promhttp.InstrumentHandlerDuration(dur, h))
}

// subscriptionCollector exports the position of each change-log subscription.
type subscriptionCollector struct {
	changes interface {
		Subscriptions() []changelog.SubscriptionStatus
	}
	head func(context.Context) (uint64, error)
}

var (
	subscriptionPosition = prometheus.NewDesc("watershed_changelog_subscription_position", "Last change-log entry handled by each subscription.", []string{"subscription"}, nil)
	subscriptionBacklog  = prometheus.NewDesc("watershed_changelog_subscription_backlog", "Change-log entries written but not yet handled by each subscription (head - position).", []string{"subscription"}, nil)
	subscriptionRetries  = prometheus.NewDesc("watershed_changelog_subscription_retries_total", "Failed handler attempts of each subscription.", []string{"subscription"}, nil)
	subscriptionSkipped  = prometheus.NewDesc("watershed_changelog_subscription_skipped_total", "Entries each subscription skipped after permanent errors or too many attempts.", []string{"subscription"}, nil)
)

func (c *subscriptionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{subscriptionPosition, subscriptionBacklog, subscriptionRetries, subscriptionSkipped} {
		ch <- d
	}
}

func (c *subscriptionCollector) Collect(ch chan<- prometheus.Metric) {
	head, err := c.head(context.Background())
	for _, st := range c.changes.Subscriptions() {
		ch <- prometheus.MustNewConstMetric(subscriptionPosition, prometheus.GaugeValue, float64(st.Position), st.Name)
		ch <- prometheus.MustNewConstMetric(subscriptionRetries, prometheus.CounterValue, float64(st.Retries), st.Name)
		ch <- prometheus.MustNewConstMetric(subscriptionSkipped, prometheus.CounterValue, float64(st.Skipped), st.Name)
		if err == nil && head >= st.Position {
			ch <- prometheus.MustNewConstMetric(subscriptionBacklog, prometheus.GaugeValue, float64(head-st.Position), st.Name)
		}
	}
}

// newManager builds the crawl manager for the configured sources.
func newManager(cfg config.Config, store serverStore, logger *slog.Logger) (*crawlers.Manager, error) {
	specs := make([]crawlers.SourceSpec, 0, len(cfg.Sources))
	for _, src := range cfg.Sources {
		specs = append(specs, crawlers.SourceSpec{Name: src.Name, Kind: src.Kind, Schedule: src.Schedule, Config: src.Spec})
	}
	return crawlers.NewManager(crawlers.ManagerOptions{Sources: specs, Store: store, Catalog: store, Logger: logger, Leases: store, Holder: replicaName(cfg)})
}

// crawlController avoids handing the resolver a typed nil.
func crawlController(m *crawlers.Manager) graph.CrawlController {
	if m == nil {
		return nil
	}
	return m
}

// hostGuard protects a server that lets anonymous callers in: it answers
// 421 to requests whose Host is not a loopback name or the listen host, so
// a web page that rebinds its own DNS name to 127.0.0.1 cannot reach the
// API from a browser.
func hostGuard(listen string, next http.Handler) http.Handler {
	listenHost, _, err := net.SplitHostPort(listen)
	if err != nil {
		listenHost = ""
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
		ip := net.ParseIP(host)
		ok := strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) ||
			(listenHost != "" && strings.EqualFold(host, listenHost) && listenHost != "0.0.0.0" && listenHost != "::")
		if !ok {
			http.Error(w, "host "+r.Host+" is not allowed for anonymous access; configure auth.tokens to serve other names", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sweepPushLineage ages out stale OpenLineage jobs on the configured
// interval until ctx ends.
func (s *server) sweepPushLineage(ctx context.Context) {
	t := time.NewTicker(time.Duration(s.cfg.OpenLineage.Sweep))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			res, err := s.push.Sweep(ctx, now)
			if err != nil {
				s.logger.Warn("openlineage sweep", "err", err)
				continue
			}
			s.logger.Debug("openlineage sweep", "result", res)
		}
	}
}

// kafkaResolver maps the host:port names of every configured Kafka source
// (bootstrap servers and aliases, lower-cased) to the source's name, so
// that OpenLineage namespaces such as kafka://broker-1:9092 land on crawled
// topics.
func kafkaResolver(cfg config.Config) func(string) (string, bool) {
	byAddr := map[string]string{}
	for _, src := range cfg.Sources {
		kc, ok := src.Spec.(*kafka.Config)
		if !ok {
			continue
		}
		for _, a := range append(append([]string(nil), kc.Bootstrap...), kc.Aliases...) {
			byAddr[strings.ToLower(a)] = src.Name
		}
	}
	return func(hostport string) (string, bool) {
		name, ok := byAddr[strings.ToLower(hostport)]
		return name, ok
	}
}

// knownKafka reports whether name is a configured Kafka source.
func knownKafka(cfg config.Config) func(string) bool {
	return func(name string) bool {
		src, ok := cfg.Source(name)
		return ok && src.Kind == "kafka"
	}
}
