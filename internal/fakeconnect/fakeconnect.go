// Package fakeconnect is an in-process fake of a Kafka Connect worker. It
// speaks the worker's REST API with the JSON shapes of Apache Kafka Connect
// 3.x, so the connect crawler's tests and the demo can run against real
// sockets without a JVM.
//
// A Worker holds connectors (config, type, connector and task state, active
// topics) and answers:
//
//	GET    /                                   {"version","commit","kafka_cluster_id"}
//	GET    /connectors                         ["name", ...]
//	GET    /connectors?expand=status&expand=info
//	POST   /connectors                         {"name","config"} → 201
//	GET    /connectors/{name}                  {"name","config","tasks","type"}
//	GET    /connectors/{name}/config           {"key":"value",...}
//	PUT    /connectors/{name}/config           201 when created, 200 when updated
//	GET    /connectors/{name}/status           {"name","connector","tasks","type"}
//	GET    /connectors/{name}/tasks            [{"id":{"connector","task"},"config"}] (config + Connector.TaskConfigs)
//	GET    /connectors/{name}/topics           {"<name>":{"topics":[...]}}
//	PUT    /connectors/{name}/pause|resume     202
//	DELETE /connectors/{name}                  204
//	GET    /connector-plugins                  [{"class","type","version"}]
//
// Errors use Connect's body {"error_code":404,"message":"..."}. Tests can
// inject failures per connector and endpoint, add latency, emulate older
// workers (no expand, no /topics) and require basic authentication.
//
// A Worker has no package-level state; any number can run side by side.
package fakeconnect

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Connector states reported by Kafka Connect.
const (
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
	StateStopped    = "STOPPED"
)

// Connector types reported by Kafka Connect.
const (
	TypeSource  = "source"
	TypeSink    = "sink"
	TypeUnknown = "unknown"
)

// Endpoint names one per-connector REST resource, for failure injection.
type Endpoint string

// Endpoints that failures can target.
const (
	// EndpointRoot is GET /; Failure.Connector is ignored.
	EndpointRoot Endpoint = "root"
	// EndpointList is GET /connectors (with or without expand);
	// Failure.Connector is ignored.
	EndpointList Endpoint = "list"
	// EndpointInfo is GET /connectors/{name}; it also fails
	// /connectors?expand=info, as the real worker does when the herder
	// cannot read one connector.
	EndpointInfo Endpoint = "info"
	// EndpointConfig is GET /connectors/{name}/config; it also fails
	// /connectors?expand=info.
	EndpointConfig Endpoint = "config"
	// EndpointStatus is GET /connectors/{name}/status; it also fails
	// /connectors?expand=status.
	EndpointStatus Endpoint = "status"
	// EndpointTasks is GET /connectors/{name}/tasks.
	EndpointTasks Endpoint = "tasks"
	// EndpointTopics is GET /connectors/{name}/topics.
	EndpointTopics Endpoint = "topics"
)

// Failure makes the worker answer one endpoint with an error.
type Failure struct {
	// Connector is the connector whose endpoint fails; ignored for
	// EndpointRoot and EndpointList.
	Connector string
	Endpoint  Endpoint
	// Status is the HTTP status; zero means 500.
	Status int
	// Message is the error body's message; empty means a generic one.
	Message string
}

// Plugin is one installed connector plugin.
type Plugin struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// Credentials are HTTP basic-auth credentials.
type Credentials struct {
	Username string
	Password string
}

// Options configures a Worker. The zero value is a Kafka Connect 3.7 worker
// with a realistic plugin set.
type Options struct {
	// Version, Commit and KafkaClusterID are reported by GET /.
	Version        string
	Commit         string
	KafkaClusterID string
	// WorkerID is the worker_id reported in statuses ("host:port").
	WorkerID string
	// Plugins are the installed connector plugins; nil means DefaultPlugins.
	Plugins []Plugin
	// NoExpand emulates a worker older than Kafka 2.3: the expand query
	// parameter is ignored and GET /connectors always returns names.
	NoExpand bool
	// NoTopicsEndpoint emulates a worker older than Kafka 2.5: the
	// /connectors/{name}/topics resource does not exist (404).
	NoTopicsEndpoint bool
	// TopicTrackingDisabled answers /topics with 403, as a worker with
	// topic.tracking.enable=false does.
	TopicTrackingDisabled bool
	// BasicAuth, when set, makes every request require these credentials
	// (401 otherwise), like BasicAuthSecurityRestExtension.
	BasicAuth *Credentials
	// Logger receives one debug line per request; nil discards.
	Logger *slog.Logger
}

// DefaultPlugins is the plugin set of a typical CDC + sink deployment.
func DefaultPlugins() []Plugin {
	return []Plugin{
		{Class: "com.snowflake.kafka.connector.SnowflakeSinkConnector", Type: TypeSink, Version: "2.2.2"},
		{Class: "com.wepay.kafka.connect.bigquery.BigQuerySinkConnector", Type: TypeSink, Version: "2.5.7"},
		{Class: "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector", Type: TypeSink, Version: "14.0.17"},
		{Class: "io.confluent.connect.jdbc.JdbcSinkConnector", Type: TypeSink, Version: "10.7.6"},
		{Class: "io.confluent.connect.jdbc.JdbcSourceConnector", Type: TypeSource, Version: "10.7.6"},
		{Class: "io.confluent.connect.s3.S3SinkConnector", Type: TypeSink, Version: "10.5.13"},
		{Class: "io.debezium.connector.db2.Db2Connector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.jdbc.JdbcSinkConnector", Type: TypeSink, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.mongodb.MongoDbConnector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.mysql.MySqlConnector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.oracle.OracleConnector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.postgresql.PostgresConnector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "io.debezium.connector.sqlserver.SqlServerConnector", Type: TypeSource, Version: "2.5.4.Final"},
		{Class: "org.apache.kafka.connect.mirror.MirrorCheckpointConnector", Type: TypeSource, Version: "3.7.0"},
		{Class: "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector", Type: TypeSource, Version: "3.7.0"},
		{Class: "org.apache.kafka.connect.mirror.MirrorSourceConnector", Type: TypeSource, Version: "3.7.0"},
	}
}

// Connector describes a connector to add with Worker.AddConnector.
type Connector struct {
	Name   string
	Config map[string]string
	// Type is "source", "sink" or "unknown"; empty infers it from the
	// installed plugin of Config["connector.class"] ("unknown" if none).
	Type string
	// State is the connector's state; empty means RUNNING.
	State string
	// Trace is reported with a FAILED state.
	Trace string
	// Tasks is the number of tasks; zero means tasks.max (default 1).
	Tasks int
	// Topics are the active topics reported by /topics.
	Topics []string
	// TaskConfigs, when set, are the keys the connector adds to each task's
	// config (a JDBC source's "tables" and "tables.fetched"), one map per
	// task; their number is then the number of tasks. GET .../tasks
	// answers the connector's config with these keys merged in and
	// "task.id".
	TaskConfigs []map[string]string
}

// Task is the state of one task.
type Task struct {
	ID       int
	State    string
	WorkerID string
	Trace    string
}

type connectorState struct {
	name     string
	config   map[string]string
	typ      string
	state    string
	trace    string
	workerID string
	tasks    []Task
	topics   []string
	// taskConfigs are the per-task keys of Connector.TaskConfigs.
	taskConfigs []map[string]string
}

// Worker is a fake Kafka Connect worker. It implements http.Handler and is
// safe for concurrent use.
type Worker struct {
	opts    Options
	plugins []Plugin
	log     *slog.Logger

	mu         sync.Mutex
	connectors map[string]*connectorState
	failures   []Failure
	latency    time.Duration
	requests   []string
}

// New returns a worker with no connectors. It does no I/O; serve it with
// NewServer or any http.Server.
func New(opts Options) *Worker {
	if opts.Version == "" {
		opts.Version = "3.7.0"
	}
	if opts.Commit == "" {
		opts.Commit = "2ae524ed625438c5"
	}
	if opts.KafkaClusterID == "" {
		opts.KafkaClusterID = "MkU3OEVBNTcwNTJENDM2Qk"
	}
	if opts.WorkerID == "" {
		opts.WorkerID = "connect-1:8083"
	}
	plugins := opts.Plugins
	if plugins == nil {
		plugins = DefaultPlugins()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{
		opts:       opts,
		plugins:    append([]Plugin(nil), plugins...),
		log:        log.With("component", "fakeconnect"),
		connectors: map[string]*connectorState{},
	}
}

// Server is a Worker served over a real loopback socket.
type Server struct {
	*Worker
	// URL is the base URL of the worker, e.g. "http://127.0.0.1:41234".
	URL string
	srv *httptest.Server
}

// NewServer starts a worker on a loopback port. Close it when done.
func NewServer(opts Options) *Server {
	w := New(opts)
	srv := httptest.NewServer(w)
	return &Server{Worker: w, URL: srv.URL, srv: srv}
}

// Close shuts the server down and waits for outstanding requests.
func (s *Server) Close() { s.srv.Close() }

// AddConnector adds c, replacing any connector of the same name.
func (w *Worker) AddConnector(c Connector) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.connectors[c.Name] = w.newState(c)
}

func (w *Worker) newState(c Connector) *connectorState {
	cfg := make(map[string]string, len(c.Config)+1)
	for k, v := range c.Config {
		cfg[k] = v
	}
	cfg["name"] = c.Name
	typ := c.Type
	if typ == "" {
		typ = w.pluginType(cfg["connector.class"])
	}
	state := c.State
	if state == "" {
		state = StateRunning
	}
	n := c.Tasks
	if len(c.TaskConfigs) > 0 {
		n = len(c.TaskConfigs)
	}
	if n <= 0 {
		n = 1
		if m, err := strconv.Atoi(cfg["tasks.max"]); err == nil && m > 0 {
			n = m
		}
	}
	taskState := state
	if state == StateFailed {
		taskState = StateRunning
	}
	tasks := make([]Task, n)
	for i := range tasks {
		tasks[i] = Task{ID: i, State: taskState, WorkerID: w.opts.WorkerID}
	}
	return &connectorState{
		name: c.Name, config: cfg, typ: typ, state: state, trace: c.Trace,
		workerID: w.opts.WorkerID, tasks: tasks, topics: append([]string(nil), c.Topics...),
		taskConfigs: copyTaskConfigs(c.TaskConfigs),
	}
}

func (w *Worker) pluginType(class string) string {
	for _, p := range w.plugins {
		if p.Class == class {
			return p.Type
		}
	}
	return TypeUnknown
}

// RemoveConnector deletes the connector named name and reports whether it
// existed.
func (w *Worker) RemoveConnector(name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.connectors[name]
	delete(w.connectors, name)
	return ok
}

// SetState sets a connector's state and the trace reported with FAILED. It
// reports whether the connector exists.
func (w *Worker) SetState(name, state, trace string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if ok {
		c.state, c.trace = state, trace
	}
	return ok
}

// SetTaskState sets one task's state and trace. It reports whether the
// connector and task exist.
func (w *Worker) SetTaskState(name string, task int, state, trace string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if !ok || task < 0 || task >= len(c.tasks) {
		return false
	}
	c.tasks[task].State, c.tasks[task].Trace = state, trace
	return true
}

// SetTopics replaces the active topics reported for a connector. It reports
// whether the connector exists.
func (w *Worker) SetTopics(name string, topics ...string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if ok {
		c.topics = append([]string(nil), topics...)
	}
	return ok
}

// Fail makes the worker answer f.Endpoint (of f.Connector) with an error
// until ClearFailures.
func (w *Worker) Fail(f Failure) {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = append(w.failures, f)
}

// ClearFailures removes every injected failure.
func (w *Worker) ClearFailures() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = nil
}

// SetLatency delays every response by d. A request whose context ends first
// is abandoned without an answer.
func (w *Worker) SetLatency(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.latency = d
}

// Requests returns the requests served so far as "METHOD /path?query",
// oldest first.
func (w *Worker) Requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.requests...)
}

// ResetRequests forgets the request log.
func (w *Worker) ResetRequests() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = nil
}

// ConnectorNames returns the names of the connectors, sorted.
func (w *Worker) ConnectorNames() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sortedNames()
}

// Config returns a copy of a connector's config (with its "name" key, as
// Connect stores it).
func (w *Worker) Config(name string) (map[string]string, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if !ok {
		return nil, false
	}
	return copyConfig(c.config), true
}

func (w *Worker) sortedNames() []string {
	names := make([]string, 0, len(w.connectors))
	for n := range w.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func copyTaskConfigs(in []map[string]string) []map[string]string {
	if in == nil {
		return nil
	}
	out := make([]map[string]string, len(in))
	for i, m := range in {
		out[i] = copyConfig(m)
	}
	return out
}

// SetTaskConfigs replaces the per-task keys of connector name (see
// Connector.TaskConfigs), resizing its tasks to match, and reports whether
// the connector exists.
func (w *Worker) SetTaskConfigs(name string, configs ...map[string]string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if !ok {
		return false
	}
	c.taskConfigs = copyTaskConfigs(configs)
	if len(configs) > 0 {
		tasks := make([]Task, len(configs))
		for i := range tasks {
			tasks[i] = Task{ID: i, State: StateRunning, WorkerID: c.workerID}
			if i < len(c.tasks) {
				tasks[i] = c.tasks[i]
			}
		}
		c.tasks = tasks
	}
	return true
}

func copyConfig(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// REST entities, with the field names and order of Kafka Connect's Jackson
// classes (ServerInfo, ConnectorInfo, ConnectorStateInfo, TaskInfo,
// ActiveTopicsInfo, ErrorMessage).

type serverInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

type connectorTaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []connectorTaskID `json:"tasks"`
	Type   string            `json:"type"`
}

type abstractState struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type connectorStateInfo struct {
	Name      string        `json:"name"`
	Connector abstractState `json:"connector"`
	Tasks     []taskState   `json:"tasks"`
	Type      string        `json:"type"`
}

type taskInfo struct {
	ID     connectorTaskID   `json:"id"`
	Config map[string]string `json:"config"`
}

type activeTopicsInfo struct {
	Topics []string `json:"topics"`
}

type errorMessage struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

type createConnectorRequest struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
}

func (c *connectorState) info() connectorInfo {
	ids := make([]connectorTaskID, len(c.tasks))
	for i := range c.tasks {
		ids[i] = connectorTaskID{Connector: c.name, Task: i}
	}
	return connectorInfo{Name: c.name, Config: copyConfig(c.config), Tasks: ids, Type: c.typ}
}

func (c *connectorState) status() connectorStateInfo {
	out := connectorStateInfo{
		Name:      c.name,
		Connector: abstractState{State: c.state, WorkerID: c.workerID},
		Tasks:     make([]taskState, len(c.tasks)),
		Type:      c.typ,
	}
	if c.state == StateFailed {
		out.Connector.Trace = c.trace
	}
	for i, t := range c.tasks {
		out.Tasks[i] = taskState{ID: t.ID, State: t.State, WorkerID: t.WorkerID}
		if t.State == StateFailed {
			out.Tasks[i].Trace = t.Trace
		}
	}
	return out
}

// ServeHTTP answers one REST request.
func (w *Worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	w.requests = append(w.requests, requestLine(r))
	latency := w.latency
	w.mu.Unlock()
	w.log.Debug("request", "method", r.Method, "url", r.URL.String())

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if creds := w.opts.BasicAuth; creds != nil {
		u, p, ok := r.BasicAuth()
		if !ok || u != creds.Username || p != creds.Password {
			rw.Header().Set("WWW-Authenticate", `Basic realm="connect"`)
			w.writeError(rw, http.StatusUnauthorized, "User cannot access the resource.")
			return
		}
	}
	w.route(rw, r)
}

func requestLine(r *http.Request) string {
	s := r.Method + " " + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		s += "?" + r.URL.RawQuery
	}
	return s
}

func (w *Worker) route(rw http.ResponseWriter, r *http.Request) {
	segs, err := pathSegments(r.URL)
	if err != nil {
		w.writeError(rw, http.StatusNotFound, "HTTP 404 Not Found")
		return
	}
	switch {
	case len(segs) == 0:
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{http.MethodGet: w.getRoot})
	case len(segs) == 1 && segs[0] == "connector-plugins":
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{http.MethodGet: w.getPlugins})
	case len(segs) == 1 && segs[0] == "connectors":
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet:  w.listConnectors,
			http.MethodPost: w.createConnector,
		})
	case len(segs) == 2 && segs[0] == "connectors":
		name := segs[1]
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet:    func(rw http.ResponseWriter, r *http.Request) { w.getInfo(rw, name) },
			http.MethodDelete: func(rw http.ResponseWriter, r *http.Request) { w.deleteConnector(rw, name) },
		})
	case len(segs) == 3 && segs[0] == "connectors":
		w.routeSub(rw, r, segs[1], segs[2])
	default:
		w.writeError(rw, http.StatusNotFound, "HTTP 404 Not Found")
	}
}

func (w *Worker) routeSub(rw http.ResponseWriter, r *http.Request, name, sub string) {
	switch sub {
	case "config":
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet: func(rw http.ResponseWriter, r *http.Request) { w.getConfig(rw, name) },
			http.MethodPut: func(rw http.ResponseWriter, r *http.Request) { w.putConfig(rw, r, name) },
		})
	case "status":
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet: func(rw http.ResponseWriter, r *http.Request) { w.getStatus(rw, name) },
		})
	case "tasks":
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet: func(rw http.ResponseWriter, r *http.Request) { w.getTasks(rw, name) },
		})
	case "topics":
		if w.opts.NoTopicsEndpoint {
			w.writeError(rw, http.StatusNotFound, "HTTP 404 Not Found")
			return
		}
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodGet: func(rw http.ResponseWriter, r *http.Request) { w.getTopics(rw, name) },
		})
	case "pause", "resume":
		state := StatePaused
		if sub == "resume" {
			state = StateRunning
		}
		w.onlyMethods(rw, r, map[string]http.HandlerFunc{
			http.MethodPut: func(rw http.ResponseWriter, r *http.Request) { w.setStateREST(rw, name, state) },
		})
	default:
		w.writeError(rw, http.StatusNotFound, "HTTP 404 Not Found")
	}
}

func pathSegments(u *url.URL) ([]string, error) {
	var out []string
	for _, s := range strings.Split(strings.Trim(u.EscapedPath(), "/"), "/") {
		if s == "" {
			continue
		}
		v, err := url.PathUnescape(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (w *Worker) onlyMethods(rw http.ResponseWriter, r *http.Request, handlers map[string]http.HandlerFunc) {
	h, ok := handlers[r.Method]
	if !ok {
		w.writeError(rw, http.StatusMethodNotAllowed, "HTTP 405 Method Not Allowed")
		return
	}
	h(rw, r)
}

// failure returns the injected failure for (connector, endpoint), if any.
// The caller holds w.mu.
func (w *Worker) failure(connector string, eps ...Endpoint) (Failure, bool) {
	for _, f := range w.failures {
		for _, ep := range eps {
			if f.Endpoint != ep {
				continue
			}
			if ep == EndpointRoot || ep == EndpointList || f.Connector == connector {
				return f, true
			}
		}
	}
	return Failure{}, false
}

func (w *Worker) writeFailure(rw http.ResponseWriter, f Failure, what string) {
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("Injected failure reading %s", what)
	}
	w.writeError(rw, f.Status, msg)
}

func (w *Worker) getRoot(rw http.ResponseWriter, _ *http.Request) {
	w.mu.Lock()
	f, failed := w.failure("", EndpointRoot)
	w.mu.Unlock()
	if failed {
		w.writeFailure(rw, f, "worker info")
		return
	}
	w.writeJSON(rw, http.StatusOK, serverInfo{Version: w.opts.Version, Commit: w.opts.Commit, KafkaClusterID: w.opts.KafkaClusterID})
}

func (w *Worker) getPlugins(rw http.ResponseWriter, _ *http.Request) {
	out := append([]Plugin(nil), w.plugins...)
	sort.Slice(out, func(i, j int) bool { return out[i].Class < out[j].Class })
	w.writeJSON(rw, http.StatusOK, out)
}

func (w *Worker) listConnectors(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, failed := w.failure("", EndpointList); failed {
		w.writeFailure(rw, f, "connectors")
		return
	}
	names := w.sortedNames()
	expand := r.URL.Query()["expand"]
	if len(expand) == 0 || w.opts.NoExpand {
		w.writeJSON(rw, http.StatusOK, names)
		return
	}
	// The real worker asks the herder for every connector; one failing
	// connector fails the whole request.
	for _, e := range expand {
		var eps []Endpoint
		switch e {
		case "status":
			eps = []Endpoint{EndpointStatus}
		case "info":
			eps = []Endpoint{EndpointInfo, EndpointConfig}
		}
		for _, n := range names {
			if f, failed := w.failure(n, eps...); failed {
				w.writeFailure(rw, f, "connector "+n)
				return
			}
		}
	}
	out := make(map[string]map[string]any, len(names))
	for _, n := range names {
		c := w.connectors[n]
		exp := map[string]any{}
		for _, e := range expand {
			switch e {
			case "status":
				exp["status"] = c.status()
			case "info":
				exp["info"] = c.info()
			}
		}
		out[n] = exp
	}
	w.writeJSON(rw, http.StatusOK, out)
}

func (w *Worker) createConnector(rw http.ResponseWriter, r *http.Request) {
	var req createConnectorRequest
	if err := decodeBody(r, &req); err != nil {
		w.writeError(rw, http.StatusBadRequest, err.Error())
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		w.writeError(rw, http.StatusBadRequest, "Connector name cannot be empty")
		return
	}
	if req.Config == nil || req.Config["connector.class"] == "" {
		w.writeError(rw, http.StatusBadRequest, "Connector config "+formatConfig(req.Config)+" contains no connector type")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, exists := w.connectors[name]; exists {
		w.writeError(rw, http.StatusConflict, "Connector "+name+" already exists")
		return
	}
	c := w.newState(Connector{Name: name, Config: req.Config})
	w.connectors[name] = c
	rw.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	w.writeJSON(rw, http.StatusCreated, c.info())
}

func (w *Worker) getInfo(rw http.ResponseWriter, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.lookup(rw, name, EndpointInfo)
	if !ok {
		return
	}
	w.writeJSON(rw, http.StatusOK, c.info())
}

func (w *Worker) getConfig(rw http.ResponseWriter, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.lookup(rw, name, EndpointConfig)
	if !ok {
		return
	}
	w.writeJSON(rw, http.StatusOK, copyConfig(c.config))
}

func (w *Worker) getStatus(rw http.ResponseWriter, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if f, failed := w.failure(name, EndpointStatus); failed {
		w.writeFailure(rw, f, "status of connector "+name)
		return
	}
	c, ok := w.connectors[name]
	if !ok {
		w.writeError(rw, http.StatusNotFound, "No status found for connector "+name)
		return
	}
	w.writeJSON(rw, http.StatusOK, c.status())
}

func (w *Worker) getTasks(rw http.ResponseWriter, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.lookup(rw, name, EndpointTasks)
	if !ok {
		return
	}
	out := make([]taskInfo, len(c.tasks))
	for i := range c.tasks {
		cfg := copyConfig(c.config)
		if i < len(c.taskConfigs) {
			for k, v := range c.taskConfigs[i] {
				cfg[k] = v
			}
		}
		cfg["task.id"] = strconv.Itoa(i)
		out[i] = taskInfo{ID: connectorTaskID{Connector: c.name, Task: i}, Config: cfg}
	}
	w.writeJSON(rw, http.StatusOK, out)
}

func (w *Worker) getTopics(rw http.ResponseWriter, name string) {
	if w.opts.TopicTrackingDisabled {
		w.writeError(rw, http.StatusForbidden, "Topic tracking is disabled.")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, known := w.connectors[name]; !known {
		if f, failed := w.failure(name, EndpointTopics); failed {
			w.writeFailure(rw, f, string(EndpointTopics)+" of connector "+name)
			return
		}
		// A real worker (Kafka 4.3) answers an unknown connector's
		// topics with an empty list, not 404.
		w.writeJSON(rw, http.StatusOK, map[string]activeTopicsInfo{name: {Topics: []string{}}})
		return
	}
	c, ok := w.lookup(rw, name, EndpointTopics)
	if !ok {
		return
	}
	topics := append([]string{}, c.topics...)
	sort.Strings(topics)
	w.writeJSON(rw, http.StatusOK, map[string]activeTopicsInfo{c.name: {Topics: topics}})
}

func (w *Worker) putConfig(rw http.ResponseWriter, r *http.Request, name string) {
	var cfg map[string]string
	if err := decodeBody(r, &cfg); err != nil {
		w.writeError(rw, http.StatusBadRequest, err.Error())
		return
	}
	if n, ok := cfg["name"]; ok && n != name {
		w.writeError(rw, http.StatusBadRequest, fmt.Sprintf("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name))
		return
	}
	if cfg["connector.class"] == "" {
		w.writeError(rw, http.StatusBadRequest, "Connector config "+formatConfig(cfg)+" contains no connector type")
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	old, exists := w.connectors[name]
	c := w.newState(Connector{Name: name, Config: cfg})
	if exists {
		// An update keeps the runtime state and the topics seen so far.
		c.state, c.trace, c.topics = old.state, old.trace, old.topics
	}
	w.connectors[name] = c
	status := http.StatusOK
	if !exists {
		status = http.StatusCreated
		rw.Header().Set("Location", "/connectors/"+url.PathEscape(name))
	}
	w.writeJSON(rw, status, c.info())
}

func (w *Worker) deleteConnector(rw http.ResponseWriter, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.connectors[name]; !ok {
		w.writeError(rw, http.StatusNotFound, "Connector "+name+" not found")
		return
	}
	delete(w.connectors, name)
	rw.WriteHeader(http.StatusNoContent)
}

func (w *Worker) setStateREST(rw http.ResponseWriter, name, state string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, ok := w.connectors[name]
	if !ok {
		w.writeError(rw, http.StatusNotFound, "Connector "+name+" not found")
		return
	}
	c.state, c.trace = state, ""
	for i := range c.tasks {
		c.tasks[i].State, c.tasks[i].Trace = state, ""
	}
	rw.WriteHeader(http.StatusAccepted)
}

// lookup finds a connector for a per-connector endpoint, answering the
// injected failure or 404 itself. The caller holds w.mu.
func (w *Worker) lookup(rw http.ResponseWriter, name string, ep Endpoint) (*connectorState, bool) {
	if f, failed := w.failure(name, ep); failed {
		w.writeFailure(rw, f, string(ep)+" of connector "+name)
		return nil, false
	}
	c, ok := w.connectors[name]
	if !ok {
		w.writeError(rw, http.StatusNotFound, "Connector "+name+" not found")
		return nil, false
	}
	return c, true
}

func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read request body: %w", err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("cannot deserialize request body: %w", err)
	}
	return nil
}

func formatConfig(cfg map[string]string) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + cfg[k]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (w *Worker) writeJSON(rw http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.writeError(rw, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.write(rw, status, b)
}

func (w *Worker) writeError(rw http.ResponseWriter, status int, msg string) {
	b, err := json.Marshal(errorMessage{ErrorCode: status, Message: msg})
	if err != nil {
		b = []byte(`{"error_code":500,"message":"encode error message"}`)
	}
	w.write(rw, status, b)
}

func (w *Worker) write(rw http.ResponseWriter, status int, body []byte) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	if _, err := rw.Write(body); err != nil {
		w.log.Debug("write response", "err", err)
	}
}
