package connect

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// maxResponseBytes bounds one REST response body (a cluster with thousands
// of connectors answers expand in a few MB).
const maxResponseBytes = 64 << 20

// restClient talks to one Kafka Connect worker.
type restClient struct {
	base     *url.URL
	http     *http.Client
	username string
	password string
	pwFile   string
	headers  map[string]string
}

func newRESTClient(cfg Config) (*restClient, error) {
	base, err := url.Parse(strings.TrimRight(cfg.URL, "/"))
	if err != nil {
		return nil, fmt.Errorf("parse url: %w", err)
	}
	timeout, err := cfg.timeout()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if base.Scheme == "https" {
		// InsecureSkipVerify is an explicit opt-in, documented as test-only.
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.TLS.InsecureSkipVerify}
	}
	return &restClient{
		base:     base,
		http:     &http.Client{Transport: transport, Timeout: timeout},
		username: cfg.Username,
		password: cfg.Password,
		pwFile:   cfg.PasswordFile,
		headers:  cfg.Headers,
	}, nil
}

// prepare does the I/O that New may not: it reads the CA file and the
// password file. It is called at the start of every crawl.
func (c *restClient) prepare(caFile string) error {
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return fmt.Errorf("read tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("read tls.caFile %s: no PEM certificates found", caFile)
		}
		t := c.http.Transport.(*http.Transport)
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		t.TLSClientConfig.RootCAs = pool
	}
	if c.pwFile != "" {
		b, err := os.ReadFile(c.pwFile)
		if err != nil {
			return fmt.Errorf("read passwordFile: %w", err)
		}
		c.password = strings.TrimRight(string(b), "\r\n")
	}
	return nil
}

// closeIdle releases kept-alive connections; a crawl runs every few minutes
// at most, so there is nothing to gain from keeping them.
func (c *restClient) closeIdle() { c.http.CloseIdleConnections() }

// httpError is a non-2xx answer of the worker.
type httpError struct {
	Method  string
	Path    string
	Status  int
	Message string // Connect's error message, or the start of the body
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
}

// statusOf returns the HTTP status of err, or 0 when err is not an answer of
// the worker (a network error, a timeout).
func statusOf(err error) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// get fetches path (with query) and decodes the JSON answer into out.
func (c *restClient) get(ctx context.Context, path string, query url.Values, out any) error {
	body, err := c.getRaw(ctx, path, query)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode GET %s: %w", path, err)
	}
	return nil
}

func (c *restClient) getRaw(ctx context.Context, path string, query url.Values) ([]byte, error) {
	u := *c.base
	u.Path = strings.TrimRight(c.base.Path, "/") + path // URL.String escapes connector names
	u.RawPath = ""
	u.RawQuery = query.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("build request GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read GET %s: %w", path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &httpError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Message: errorMessage(body)}
	}
	return body, nil
}

func errorMessage(body []byte) string {
	var em struct {
		ErrorCode int    `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(body, &em); err == nil && em.Message != "" {
		return em.Message
	}
	s := strings.TrimSpace(string(bytes.ToValidUTF8(body, nil)))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}

// REST entities of Kafka Connect 3.x.

type serverInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

type connectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Type   string            `json:"type"`
}

type stateInfo struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type taskStateInfo struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

type connectorStatus struct {
	Name      string          `json:"name"`
	Connector stateInfo       `json:"connector"`
	Tasks     []taskStateInfo `json:"tasks"`
	Type      string          `json:"type"`
}

type expandedConnector struct {
	Status *connectorStatus `json:"status"`
	Info   *connectorInfo   `json:"info"`
}

type activeTopics struct {
	Topics []string `json:"topics"`
}

// taskInfo is one entry of GET /connectors/{name}/tasks: the task's id and
// the config the connector generated for it (JDBC sources put the tables a
// task reads under "tables").
type taskInfo struct {
	ID struct {
		Connector string `json:"connector"`
		Task      int    `json:"task"`
	} `json:"id"`
	Config map[string]string `json:"config"`
}
