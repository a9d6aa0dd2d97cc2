package config_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/config"
	"github.com/watershed-data/watershed/crawlers"
)

// fakeKind is a crawler kind with one required key, for decoding tests.
type fakeConfig struct {
	URL     string   `json:"url"`
	Aliases []string `json:"aliases"`
	SASL    *struct {
		Password string `json:"password"`
	} `json:"sasl"`
}

func (c *fakeConfig) Validate() error {
	if c.URL == "" {
		return catalog.Errorf(catalog.Invalid, "url: required")
	}
	return nil
}

func (c *fakeConfig) New(crawlers.Env) (crawlers.Crawler, error) {
	return crawlers.CrawlerFunc(func(context.Context) (catalog.Snapshot, error) { return catalog.Snapshot{}, nil }), nil
}

func registry() *crawlers.Registry {
	return crawlers.NewRegistry(crawlers.Kind{Name: "fake", NewConfig: func() crawlers.Config { return &fakeConfig{} }})
}

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "watershed.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func env(m map[string]string) []string {
	out := []string{}
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

func TestLayering(t *testing.T) {
	path := write(t, `
listen: 127.0.0.1:9000
dataDir: /var/lib/watershed
log: {level: debug}
sources:
  - {name: prod, kind: fake, url: "http://a", schedule: "@every 1m", aliases: ["b1:9092"]}
  - {name: dev, kind: fake, url: "http://b"}
`)
	cfg, err := config.Load(path, env(map[string]string{
		"WATERSHED_LISTEN":              "127.0.0.1:9100",
		"WATERSHED_LOG_FORMAT":          "json",
		"WATERSHED_SHUTDOWN_TIMEOUT":    "3s",
		"WATERSHED_SOURCE_PROD_SASL":    "{password: from-env}",
		"WATERSHED_SOURCE_PROD_ALIASES": "[b2:9092]",
		"WATERSHED_AUTH_TOKENS":         `[{name: ci, token: "0123456789abcdef0123", write: true}]`,
	}), config.Flags{DataDir: "/tmp/flag"}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9100" || cfg.DataDir != "/tmp/flag" || cfg.Log.Level != "debug" || cfg.Log.Format != "json" {
		t.Errorf("layering: %+v", cfg)
	}
	if time.Duration(cfg.ShutdownTimeout) != 3*time.Second {
		t.Errorf("shutdownTimeout = %v", cfg.ShutdownTimeout)
	}
	if len(cfg.Auth.Tokens) != 1 || cfg.AnonymousAccess() != "none" {
		t.Errorf("auth: %+v anonymous %s", cfg.Auth, cfg.AnonymousAccess())
	}
	prod, ok := cfg.Source("prod")
	if !ok {
		t.Fatal("no prod source")
	}
	spec := prod.Spec.(*fakeConfig)
	if spec.URL != "http://a" || spec.SASL == nil || spec.SASL.Password != "from-env" || len(spec.Aliases) != 1 || spec.Aliases[0] != "b2:9092" {
		t.Errorf("prod spec = %+v", spec)
	}
	if dev, _ := cfg.Source("dev"); dev.Schedule != "@every 5m" {
		t.Errorf("default schedule = %q", dev.Schedule)
	}
}

func TestDefaultsWithoutFile(t *testing.T) {
	cfg, err := config.Load("", env(nil), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.DataDir != "./data" || cfg.AnonymousAccess() != "write" {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := map[string]string{
		"listen: [1]\n":                                        "line 1",
		"lisen: x\n":                                           "field lisen not found",
		"sources: [{name: a, kind: nope}]\n":                   `sources[0] (a).kind: "nope" is not one of fake`,
		"sources: [{name: a, kind: fake}]\n":                   "url: required",
		"sources: [{name: a, kind: fake, url: x, bogus: 1}]\n": `unknown field "bogus"`,
		"sources: [{name: a, kind: fake, url: x, schedule: 'every day'}]\n":         "schedule",
		"sources: [{name: a, kind: fake, url: x}, {name: a, kind: fake, url: y}]\n": "used twice",
		"sources: [{name: manual, kind: fake, url: x}]\n":                           "reserved",
		"log: {level: loud}\n":                        "log.level",
		"auth: {tokens: [{name: x, token: short}]}\n": "at least 16 characters",
		"shutdownTimeout: soon\n":                     "duration",
		"policies:\n  - builtin: pii-retention\n":     "policies: not supported by this version",
		"webhooks: {allow: [10.20.0.0/33]}\n":         "webhooks.allow[0]",
		"webhooks: {retry: [5s, -1s]}\n":              "webhooks.retry[1]",
		"webhooks: {publicURL: 'ftp://x'}\n":          "webhooks.publicURL",
		"webhooks: {hooks: []}\n":                     "field hooks not found",
	}
	for body, want := range cases {
		_, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
		if err == nil {
			t.Errorf("%q: no error", body)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %q does not mention %q", body, err, want)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", body, err)
		}
	}
}

func TestEnvName(t *testing.T) {
	for in, want := range map[string]string{"dataDir": "WATERSHED_DATA_DIR", "auth.anonymous": "WATERSHED_AUTH_ANONYMOUS", "graphql.maxDepth": "WATERSHED_GRAPHQL_MAX_DEPTH"} {
		if got := config.EnvName(in); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSourceEnvOverrides(t *testing.T) {
	path := write(t, `
sources:
  - {name: prod, kind: fake, url: "http://a", sasl: {password: file-pass}}
  - {name: prod-sr, kind: fake, url: "http://b"}
`)
	cfg, err := config.Load(path, env(map[string]string{
		"WATERSHED_SOURCE_PROD_SR_URL":         "http://override",
		"WATERSHED_SOURCE_PROD_SASL__PASSWORD": "env-pass",
	}), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := cfg.Source("prod")
	sr, _ := cfg.Source("prod-sr")
	if got := prod.Spec.(*fakeConfig); got.URL != "http://a" || got.SASL.Password != "env-pass" {
		t.Errorf("prod = %+v", got)
	}
	if got := sr.Spec.(*fakeConfig); got.URL != "http://override" {
		t.Errorf("prod-sr = %+v", got)
	}
	_, err = config.Load(write(t, "sources: [{name: a.b, kind: fake, url: x}, {name: a-b, kind: fake, url: y}]\n"), env(map[string]string{"WATERSHED_SOURCE_A_B_URL": "z"}), config.Flags{}, registry())
	if err == nil || !strings.Contains(err.Error(), "same environment form") {
		t.Errorf("colliding source names: %v", err)
	}
	if _, err := config.Load("", env(map[string]string{"WATERSHED_GRAPHQL_MAX_BODY_BYTES": "-1"}), config.Flags{}, registry()); err == nil {
		t.Error("negative body limit accepted")
	}
}
