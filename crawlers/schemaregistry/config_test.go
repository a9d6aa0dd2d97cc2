package schemaregistry

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
	"github.com/watershed-data/watershed/crawlers/kafka"
)

// The kafka crawler's configuration gives the Kafka client options that
// sampling needs.
var _ KafkaClientConfig = (*kafka.Config)(nil)

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "schemaregistry" || k.NewConfig == nil {
		t.Fatalf("kind %+v", k)
	}
	for _, want := range []catalog.Kind{catalog.KindSchemaRegistry, catalog.KindSchemaSubject, catalog.KindSchemaVersion, catalog.KindTopic, catalog.KindField} {
		found := false
		for _, e := range k.Emits {
			found = found || e == want
		}
		if !found {
			t.Errorf("Emits lacks %s", want)
		}
	}
	crawlers.NewRegistry(k) // registers without panicking
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		raw string
		err string // substring; "" means valid
	}{
		{`{"url":"http://sr:8081","cluster":"prod"}`, ""},
		{`{"urls":["http://sr-1:8081","https://sr-2:8081"],"cluster":"prod","tls":{"caFile":"/etc/ca.pem"}}`, ""},
		{`{"url":"https://sr:8081","cluster":"prod","username":"u","passwordFile":"/run/pw","tls":{"certFile":"c","keyFile":"k"}}`, ""},
		{`{"url":"http://sr:8081","cluster":"prod","bearerTokenFile":"/run/token","subjectInclude":["orders-.*"],"subjectExclude":["_.*"],"timeout":"3s",
		   "sample":{"enabled":true,"recordsPerTopic":1000,"timeout":"30s","topicExclude":["__.*"]}}`, ""},
		{`{"cluster":"prod"}`, "url: the Schema Registry URL is required"},
		{`{"url":"sr:8081","cluster":"prod"}`, "scheme must be http or https"},
		{`{"url":"http://","cluster":"prod"}`, "no host"},
		{`{"url":"http://u:p@sr:8081","cluster":"prod"}`, "not in the URL"},
		{`{"url":"http://sr:8081","urls":["http://sr:8081"],"cluster":"prod"}`, "listed twice"},
		{`{"url":"http://sr:8081"}`, "cluster: the name of the Kafka source"},
		{`{"url":"http://sr:8081","cluster":"bad name"}`, "cluster:"},
		{`{"url":"http://sr:8081","cluster":"prod","password":"p"}`, "username: required"},
		{`{"url":"http://sr:8081","cluster":"prod","username":"u"}`, "password or passwordFile: required"},
		{`{"url":"http://sr:8081","cluster":"prod","username":"u","password":"p","passwordFile":"f"}`, "mutually exclusive"},
		{`{"url":"http://sr:8081","cluster":"prod","username":"u","password":"p","bearerToken":"t"}`, "mutually exclusive"},
		{`{"url":"http://sr:8081","cluster":"prod","bearerToken":"t","bearerTokenFile":"f"}`, "mutually exclusive"},
		{`{"url":"http://sr:8081","cluster":"prod","tls":{"caFile":"ca.pem"}}`, "no url uses https"},
		{`{"url":"https://sr:8081","cluster":"prod","tls":{"certFile":"c"}}`, "go together"},
		{`{"url":"http://sr:8081","cluster":"prod","timeout":"soon"}`, "not a duration"},
		{`{"url":"http://sr:8081","cluster":"prod","timeout":"-1s"}`, "must be positive"},
		{`{"url":"http://sr:8081","cluster":"prod","subjectInclude":["("]}`, "subjectInclude[0]"},
		{`{"url":"http://sr:8081","cluster":"prod","sample":{"recordsPerTopic":1001}}`, "at most 1000"},
		{`{"url":"http://sr:8081","cluster":"prod","sample":{"recordsPerTopic":-1}}`, "must be positive"},
		{`{"url":"http://sr:8081","cluster":"prod","sample":{"timeout":"0s"}}`, "sample.timeout"},
		{`{"url":"http://sr:8081","cluster":"prod","sample":{"topicInclude":["["]}}`, "sample.topicInclude[0]"},
		{`{"url":"http://sr:8081","cluster":"prod","extra":1}`, "unknown field"},
	}
	for _, tc := range tests {
		_, err := Kind().DecodeConfig(json.RawMessage(tc.raw))
		if tc.err == "" && err != nil {
			t.Errorf("%s: %v", tc.raw, err)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: err = %v, want %q", tc.raw, err, tc.err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := (&Config{URL: "http://sr:8081", Cluster: "prod"}).compile()
	if err != nil {
		t.Fatal(err)
	}
	if s.timeout != DefaultTimeout || !s.sample || s.perTopic != DefaultRecordsPerTopic || s.sampleTimeout != DefaultSampleTimeout {
		t.Errorf("defaults %+v", s)
	}
	off := false
	s, err = (&Config{URL: "http://sr:8081", Cluster: "prod", Sample: SampleConfig{Enabled: &off}}).compile()
	if err != nil || s.sample {
		t.Errorf("sample.enabled: false not honoured: %+v %v", s, err)
	}
}

func TestNewChecksCluster(t *testing.T) {
	cfg := Config{URL: "http://sr:8081", Cluster: testCluster}
	lookup := func(kind string, c crawlers.Config) func(string) (crawlers.SourceSpec, bool) {
		return func(name string) (crawlers.SourceSpec, bool) {
			if name != testCluster {
				return crawlers.SourceSpec{}, false
			}
			return crawlers.SourceSpec{Name: name, Kind: kind, Config: c}, true
		}
	}
	off := false
	noSampling := cfg
	noSampling.Sample.Enabled = &off
	staging := cfg
	staging.Cluster = "staging"
	tests := []struct {
		name string
		cfg  Config
		env  crawlers.Env
		err  string
	}{
		{"kafka source", cfg, crawlers.Env{Source: testSource, Sources: lookup("kafka", &kafkaSource{})}, ""},
		{"real kafka config", cfg, crawlers.Env{Source: testSource, Sources: lookup("kafka", &kafka.Config{Bootstrap: []string{"k:9092"}})}, ""},
		{"unknown cluster", staging, crawlers.Env{Source: testSource, Sources: lookup("kafka", &kafkaSource{})}, `no source named "staging"`},
		{"wrong kind", cfg, crawlers.Env{Source: testSource, Sources: lookup("connect", &kafkaSource{})}, `of kind "connect", not kafka`},
		{"no client options", cfg, crawlers.Env{Source: testSource, Sources: lookup("kafka", noOptions{})}, "cannot give Kafka client options"},
		{"no client options, no sampling", noSampling, crawlers.Env{Source: testSource, Sources: lookup("kafka", noOptions{})}, ""},
		{"no lookup", cfg, crawlers.Env{Source: testSource}, "no source lookup"},
		{"no lookup, no sampling", noSampling, crawlers.Env{Source: testSource}, ""},
		{"reserved source name", cfg, crawlers.Env{Source: "manual", Sources: lookup("kafka", &kafkaSource{})}, "reserved"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			_, err := c.New(tc.env)
			if tc.err == "" && err != nil {
				t.Errorf("err = %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || catalog.KindOf(err) != catalog.Invalid) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
}

// noOptions is a source configuration that cannot give client options.
type noOptions struct{}

func (noOptions) Validate() error                            { return nil }
func (noOptions) New(crawlers.Env) (crawlers.Crawler, error) { return nil, nil }

// TestFilesReadAtCrawl: New does no I/O; the files the config names are
// read when a crawl starts, with errors naming the field.
func TestFilesReadAtCrawl(t *testing.T) {
	off := false
	for _, tc := range []struct {
		cfg Config
		err string
	}{
		{Config{URL: "https://127.0.0.1:1", TLS: TLSConfig{CAFile: "/nonexistent/ca.pem"}}, "read tls.caFile"},
		{Config{URL: "http://127.0.0.1:1", Username: "u", PasswordFile: "/nonexistent/pw"}, "read passwordFile"},
		{Config{URL: "http://127.0.0.1:1", BearerTokenFile: "/nonexistent/token"}, "read bearerTokenFile"},
	} {
		tc.cfg.Cluster, tc.cfg.Sample.Enabled = testCluster, &off
		cr, err := tc.cfg.New(crawlers.Env{Source: testSource})
		if err != nil {
			t.Fatalf("New must do no I/O: %v", err)
		}
		if _, err := cr.Crawl(context.Background()); err == nil || !strings.Contains(err.Error(), tc.err) || catalog.KindOf(err) != catalog.Invalid {
			t.Errorf("err = %v, want %q", err, tc.err)
		}
	}
}

// TestAuthentication: basic credentials (from a file, re-read each crawl)
// and bearer tokens reach the registry.
func TestAuthentication(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	off := false
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"basic from file", func(c *Config) { c.Username, c.PasswordFile = "watershed", pw }, "Basic d2F0ZXJzaGVkOnMzY3JldA=="},
		{"bearer", func(c *Config) { c.BearerToken = "tok" }, "Bearer tok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := srfakeWithAuth(t, tc.want)
			cfg := Config{URL: reg.URL(), Cluster: testCluster, Sample: SampleConfig{Enabled: &off}, Timeout: "5s"}
			tc.set(&cfg)
			cr, err := cfg.New(crawlers.Env{Source: testSource})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := cr.Crawl(testCtx(t))
			if err != nil {
				t.Fatalf("crawl: %v", err)
			}
			snap.Source = testSource
			checkSnapshot(t, snap)
			mustAsset(t, snap, subjectURN("orders-value"))
		})
	}
	t.Run("refused", func(t *testing.T) {
		reg := srfakeWithAuth(t, "Bearer right")
		cfg := Config{URL: reg.URL(), Cluster: testCluster, Sample: SampleConfig{Enabled: &off}, BearerToken: "wrong"}
		cr, err := cfg.New(crawlers.Env{Source: testSource})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cr.Crawl(testCtx(t)); catalog.KindOf(err) != catalog.Permission {
			t.Errorf("err = %v (kind %v), want Permission", err, catalog.KindOf(err))
		}
	})
}

// srfakeWithAuth starts a registry that expects the Authorization header
// auth, with one subject.
func srfakeWithAuth(t *testing.T, auth string) *srfake.Registry {
	t.Helper()
	reg := srfake.New(srfake.WithAuth(auth))
	t.Cleanup(reg.Close)
	register(t, reg, "orders-value", orderV1, sr.TypeAvro)
	return reg
}

// TestCrawlTimeout: a registry that does not answer fails the crawl within
// the request timeout.
func TestCrawlTimeout(t *testing.T) {
	reg := newRegistry(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	reg.Intercept(func(_ http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return false
	})
	off := false
	cr := newTestCrawler(t, Config{URL: reg.URL(), Cluster: testCluster, Timeout: "200ms", Sample: SampleConfig{Enabled: &off}}, nil)
	start := time.Now()
	_, err := cr.Crawl(testCtx(t))
	if err == nil || catalog.KindOf(err) != catalog.Unavailable || time.Since(start) > 3*time.Second {
		t.Errorf("err = %v after %v", err, time.Since(start))
	}
}
