package fakeconnect

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type response struct {
	status int
	body   string
	header http.Header
}

func do(t *testing.T, srv *Server, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: string(b), header: resp.Header}
}

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	srv := NewServer(opts)
	t.Cleanup(func() {
		srv.Close()
		http.DefaultClient.CloseIdleConnections()
	})
	return srv
}

func inventoryCDC() Connector {
	return Connector{
		Name: "inventory-cdc",
		Config: map[string]string{
			"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
			"database.hostname": "postgres",
			"topic.prefix":      "dbserver1",
			"tasks.max":         "1",
		},
		Topics: []string{"dbserver1.inventory.orders", "dbserver1.inventory.customers"},
	}
}

// TestExactShapes pins the JSON bodies byte for byte against the shapes of
// Kafka Connect 3.x.
func TestExactShapes(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddConnector(inventoryCDC())
	srv.AddConnector(Connector{
		Name:   "s3-sink",
		Config: map[string]string{"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "orders", "tasks.max": "2"},
		State:  StateFailed,
		Trace:  "org.apache.kafka.connect.errors.ConnectException: boom\n\tat X.y(X.java:1)",
	})
	srv.SetTaskState("s3-sink", 1, StateFailed, "java.lang.NullPointerException")

	cfgPG := `{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"postgres","name":"inventory-cdc","tasks.max":"1","topic.prefix":"dbserver1"}`
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, `{"version":"3.7.0","commit":"2ae524ed625438c5","kafka_cluster_id":"MkU3OEVBNTcwNTJENDM2Qk"}`},
		{"/connectors", 200, `["inventory-cdc","s3-sink"]`},
		{"/connectors/inventory-cdc", 200, `{"name":"inventory-cdc","config":` + cfgPG + `,"tasks":[{"connector":"inventory-cdc","task":0}],"type":"source"}`},
		{"/connectors/inventory-cdc/config", 200, cfgPG},
		{"/connectors/inventory-cdc/status", 200, `{"name":"inventory-cdc","connector":{"state":"RUNNING","worker_id":"connect-1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"connect-1:8083"}],"type":"source"}`},
		{"/connectors/s3-sink/status", 200, `{"name":"s3-sink","connector":{"state":"FAILED","worker_id":"connect-1:8083","trace":"org.apache.kafka.connect.errors.ConnectException: boom\n\tat X.y(X.java:1)"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"connect-1:8083"},{"id":1,"state":"FAILED","worker_id":"connect-1:8083","trace":"java.lang.NullPointerException"}],"type":"sink"}`},
		{"/connectors/inventory-cdc/tasks", 200, `[{"id":{"connector":"inventory-cdc","task":0},"config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"postgres","name":"inventory-cdc","task.id":"0","tasks.max":"1","topic.prefix":"dbserver1"}}]`},
		{"/connectors/inventory-cdc/topics", 200, `{"inventory-cdc":{"topics":["dbserver1.inventory.customers","dbserver1.inventory.orders"]}}`},
		{"/connectors/s3-sink/topics", 200, `{"s3-sink":{"topics":[]}}`},
		{"/connectors/missing", 404, `{"error_code":404,"message":"Connector missing not found"}`},
		{"/connectors/missing/config", 404, `{"error_code":404,"message":"Connector missing not found"}`},
		{"/connectors/missing/status", 404, `{"error_code":404,"message":"No status found for connector missing"}`},
		{"/nowhere", 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got := do(t, srv, http.MethodGet, tc.path, "")
			if got.status != tc.status || got.body != tc.body {
				t.Errorf("GET %s = %d %s\nwant %d %s", tc.path, got.status, got.body, tc.status, tc.body)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddConnector(inventoryCDC())
	got := do(t, srv, http.MethodGet, "/connectors?expand=status&expand=info", "")
	if got.status != 200 {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
	var body map[string]struct {
		Status *struct {
			Name      string `json:"name"`
			Connector struct {
				State string `json:"state"`
			} `json:"connector"`
			Type string `json:"type"`
		} `json:"status"`
		Info *struct {
			Name   string            `json:"name"`
			Config map[string]string `json:"config"`
			Type   string            `json:"type"`
		} `json:"info"`
	}
	if err := json.Unmarshal([]byte(got.body), &body); err != nil {
		t.Fatal(err)
	}
	e := body["inventory-cdc"]
	if e.Status == nil || e.Info == nil || e.Status.Connector.State != "RUNNING" || e.Info.Config["topic.prefix"] != "dbserver1" || e.Info.Type != "source" {
		t.Fatalf("unexpected expansion: %s", got.body)
	}

	// Only status asked: no info.
	got = do(t, srv, http.MethodGet, "/connectors?expand=status", "")
	if strings.Contains(got.body, `"info"`) || !strings.Contains(got.body, `"status"`) {
		t.Errorf("expand=status gave %s", got.body)
	}
}

func TestOldWorkers(t *testing.T) {
	srv := newTestServer(t, Options{NoExpand: true, NoTopicsEndpoint: true})
	srv.AddConnector(inventoryCDC())
	if got := do(t, srv, http.MethodGet, "/connectors?expand=status&expand=info", ""); got.body != `["inventory-cdc"]` {
		t.Errorf("no-expand worker answered %s", got.body)
	}
	if got := do(t, srv, http.MethodGet, "/connectors/inventory-cdc/topics", ""); got.status != 404 {
		t.Errorf("topics on old worker: %d %s", got.status, got.body)
	}

	tracking := newTestServer(t, Options{TopicTrackingDisabled: true})
	tracking.AddConnector(inventoryCDC())
	if got := do(t, tracking, http.MethodGet, "/connectors/inventory-cdc/topics", ""); got.status != 403 || got.body != `{"error_code":403,"message":"Topic tracking is disabled."}` {
		t.Errorf("topics with tracking disabled: %d %s", got.status, got.body)
	}
}

func TestFailures(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddConnector(inventoryCDC())
	srv.AddConnector(Connector{Name: "other", Config: map[string]string{"connector.class": "x.Y"}})
	srv.Fail(Failure{Connector: "inventory-cdc", Endpoint: EndpointStatus, Message: "Request timed out"})
	srv.Fail(Failure{Connector: "other", Endpoint: EndpointConfig, Status: 503})

	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/connectors/inventory-cdc/status", 500, `{"error_code":500,"message":"Request timed out"}`},
		{"/connectors/inventory-cdc/config", 200, ""},
		{"/connectors/other/config", 503, `{"error_code":503,"message":"Injected failure reading config of connector other"}`},
		{"/connectors/other/status", 200, ""},
		{"/connectors?expand=status", 500, `{"error_code":500,"message":"Request timed out"}`},
		{"/connectors?expand=info", 503, ""},
		{"/connectors", 200, `["inventory-cdc","other"]`},
	}
	for _, tc := range cases {
		got := do(t, srv, http.MethodGet, tc.path, "")
		if got.status != tc.status || (tc.body != "" && got.body != tc.body) {
			t.Errorf("GET %s = %d %s; want %d %s", tc.path, got.status, got.body, tc.status, tc.body)
		}
	}

	srv.ClearFailures()
	if got := do(t, srv, http.MethodGet, "/connectors/inventory-cdc/status", ""); got.status != 200 {
		t.Errorf("after ClearFailures: %d", got.status)
	}
	srv.Fail(Failure{Endpoint: EndpointRoot, Status: 502})
	if got := do(t, srv, http.MethodGet, "/", ""); got.status != 502 {
		t.Errorf("root failure: %d", got.status)
	}
}

func TestWrites(t *testing.T) {
	srv := newTestServer(t, Options{})
	cfg := `{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","topics":"orders","tasks.max":"2"}`
	got := do(t, srv, http.MethodPut, "/connectors/pg-sink/config", cfg)
	if got.status != http.StatusCreated || got.header.Get("Location") != "/connectors/pg-sink" {
		t.Fatalf("create: %d %s %v", got.status, got.body, got.header)
	}
	want := `{"name":"pg-sink","config":{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector","name":"pg-sink","tasks.max":"2","topics":"orders"},"tasks":[{"connector":"pg-sink","task":0},{"connector":"pg-sink","task":1}],"type":"sink"}`
	if got.body != want {
		t.Errorf("create body:\n%s\nwant\n%s", got.body, want)
	}
	if got := do(t, srv, http.MethodPut, "/connectors/pg-sink/config", cfg); got.status != http.StatusOK {
		t.Errorf("update: %d", got.status)
	}
	if got := do(t, srv, http.MethodPut, "/connectors/pg-sink/config", `{"topics":"x"}`); got.status != 400 || !strings.Contains(got.body, "contains no connector type") {
		t.Errorf("missing class: %d %s", got.status, got.body)
	}
	if got := do(t, srv, http.MethodPut, "/connectors/pg-sink/config", `{"name":"other","connector.class":"a.B"}`); got.status != 400 {
		t.Errorf("name mismatch: %d %s", got.status, got.body)
	}
	if got := do(t, srv, http.MethodPost, "/connectors", `{"name":"pg-sink","config":{"connector.class":"a.B"}}`); got.status != http.StatusConflict {
		t.Errorf("duplicate create: %d %s", got.status, got.body)
	}
	if got := do(t, srv, http.MethodPut, "/connectors/pg-sink/pause", ""); got.status != http.StatusAccepted {
		t.Errorf("pause: %d", got.status)
	}
	if got := do(t, srv, http.MethodGet, "/connectors/pg-sink/status", ""); !strings.Contains(got.body, `"state":"PAUSED"`) {
		t.Errorf("status after pause: %s", got.body)
	}
	if got := do(t, srv, http.MethodDelete, "/connectors/pg-sink", ""); got.status != http.StatusNoContent || got.body != "" {
		t.Errorf("delete: %d %q", got.status, got.body)
	}
	if got := do(t, srv, http.MethodDelete, "/connectors/pg-sink", ""); got.status != 404 {
		t.Errorf("second delete: %d", got.status)
	}
	if got := do(t, srv, http.MethodPost, "/connectors/pg-sink/status", ""); got.status != 405 || got.body != `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}` {
		t.Errorf("wrong method: %d %s", got.status, got.body)
	}
}

func TestMutators(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddConnector(inventoryCDC())
	if !srv.SetState("inventory-cdc", StateFailed, "boom") || srv.SetState("nope", StateFailed, "") {
		t.Fatal("SetState reports existence wrongly")
	}
	if got := do(t, srv, http.MethodGet, "/connectors/inventory-cdc/status", ""); !strings.Contains(got.body, `"state":"FAILED","worker_id":"connect-1:8083","trace":"boom"`) {
		t.Errorf("failed status: %s", got.body)
	}
	srv.SetTopics("inventory-cdc", "a", "b")
	if got := do(t, srv, http.MethodGet, "/connectors/inventory-cdc/topics", ""); got.body != `{"inventory-cdc":{"topics":["a","b"]}}` {
		t.Errorf("topics: %s", got.body)
	}
	if !srv.RemoveConnector("inventory-cdc") || srv.RemoveConnector("inventory-cdc") {
		t.Error("RemoveConnector reports existence wrongly")
	}
	if names := srv.ConnectorNames(); len(names) != 0 {
		t.Errorf("names after remove: %v", names)
	}
	if reqs := srv.Requests(); len(reqs) != 2 || reqs[1] != "GET /connectors/inventory-cdc/topics" {
		t.Errorf("request log: %v", reqs)
	}
}

func TestPlugins(t *testing.T) {
	srv := newTestServer(t, Options{Plugins: []Plugin{{Class: "b.Sink", Type: TypeSink, Version: "1"}, {Class: "a.Source", Type: TypeSource}}})
	if got := do(t, srv, http.MethodGet, "/connector-plugins", ""); got.body != `[{"class":"a.Source","type":"source"},{"class":"b.Sink","type":"sink","version":"1"}]` {
		t.Errorf("plugins: %s", got.body)
	}
	srv.AddConnector(Connector{Name: "x", Config: map[string]string{"connector.class": "b.Sink"}})
	srv.AddConnector(Connector{Name: "y", Config: map[string]string{"connector.class": "c.Unknown"}})
	if got := do(t, srv, http.MethodGet, "/connectors/x", ""); !strings.HasSuffix(got.body, `"type":"sink"}`) {
		t.Errorf("type from plugin: %s", got.body)
	}
	if got := do(t, srv, http.MethodGet, "/connectors/y", ""); !strings.HasSuffix(got.body, `"type":"unknown"}`) {
		t.Errorf("type of unknown plugin: %s", got.body)
	}
}

func TestBasicAuth(t *testing.T) {
	srv := newTestServer(t, Options{BasicAuth: &Credentials{Username: "admin", Password: "s3cret"}})
	if got := do(t, srv, http.MethodGet, "/connectors", ""); got.status != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", got.status)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/connectors", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("with credentials: %d", resp.StatusCode)
	}
}

func TestLatencyHonoursCancellation(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request finished despite an hour of latency")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("cancellation was not honoured")
	}
	srv.SetLatency(10 * time.Millisecond)
	if got := do(t, srv, http.MethodGet, "/", ""); got.status != 200 {
		t.Errorf("with small latency: %d", got.status)
	}
}

// TestTaskConfigs: the keys a connector generates for its tasks (a JDBC
// source's tables) are served by GET /connectors/{name}/tasks, one entry per
// task, over the connector's config.
func TestTaskConfigs(t *testing.T) {
	srv := newTestServer(t, Options{})
	srv.AddConnector(Connector{
		Name:   "mysql_source1",
		Config: map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "tasks.max": "2"},
		TaskConfigs: []map[string]string{
			{"tables": "`librarydb`.`book`", "tables.fetched": "true"},
			{"tables": "`librarydb`.`member`", "tables.fetched": "true"},
		},
	})
	r := do(t, srv, http.MethodGet, "/connectors/mysql_source1/tasks", "")
	want := `[{"id":{"connector":"mysql_source1","task":0},"config":{"connector.class":"io.confluent.connect.jdbc.JdbcSourceConnector","name":"mysql_source1","tables":"` + "`librarydb`.`book`" + `","tables.fetched":"true","task.id":"0","tasks.max":"2"}},` +
		`{"id":{"connector":"mysql_source1","task":1},"config":{"connector.class":"io.confluent.connect.jdbc.JdbcSourceConnector","name":"mysql_source1","tables":"` + "`librarydb`.`member`" + `","tables.fetched":"true","task.id":"1","tasks.max":"2"}}]`
	if r.status != http.StatusOK || strings.TrimSpace(r.body) != want {
		t.Errorf("tasks = %d %s\nwant %s", r.status, r.body, want)
	}
	if !srv.SetTaskConfigs("mysql_source1", map[string]string{"tables": "", "tables.fetched": "false"}) {
		t.Fatal("SetTaskConfigs: no connector")
	}
	r = do(t, srv, http.MethodGet, "/connectors/mysql_source1/tasks", "")
	if !strings.Contains(r.body, `"tables.fetched":"false"`) || strings.Contains(r.body, `"task":1`) {
		t.Errorf("after SetTaskConfigs: %s", r.body)
	}
	if st := do(t, srv, http.MethodGet, "/connectors/mysql_source1/status", ""); strings.Count(st.body, `"id":`) != 1 {
		t.Errorf("status after SetTaskConfigs: %s", st.body)
	}
	if srv.SetTaskConfigs("nope") {
		t.Error("SetTaskConfigs on a missing connector")
	}
}
