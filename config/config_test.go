package config_test

import (
	"context"
	"fmt"
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
		"lisen: x\n":                                           "lisen: unknown key (line 1); did you mean listen?",
		"sources: [{name: a, kind: nope}]\n":                   `sources[0] (a).kind: "nope" is not one of fake`,
		"sources: [{name: a, kind: fake}]\n":                   "url: required",
		"sources: [{name: a, kind: fake, url: x, bogus: 1}]\n": `unknown field "bogus"`,
		"sources: [{name: a, kind: fake, url: x, schedule: 'every day'}]\n":         "schedule",
		"sources: [{name: a, kind: fake, url: x}, {name: a, kind: fake, url: y}]\n": "used twice",
		"sources: [{name: manual, kind: fake, url: x}]\n":                           "reserved",
		"log: {level: loud}\n":                                                         "log.level",
		"auth: {tokens: [{name: x, token: short}]}\n":                                  "at least 16 characters",
		"shutdownTimeout: soon\n":                                                      "duration",
		"policies: [{condition: 'true'}]\n":                                            "policies[0].name: required for a condition",
		"policies: [{name: a, builtin: pii-retention, condition: 'true'}]\n":           "policies[0] (a): set builtin or condition, not both",
		"policies: [{name: a, condtion: 'true'}]\n":                                    "policies[0] (a).condtion: unknown key (a condition takes no parameters); did you mean condition?",
		"policies: [{builtin: pii-retention}, {builtin: pii-retention}]\n":             `policies[1] (pii-retention).name: "pii-retention" is also the name of policies[0]`,
		"policies: [{name: 'no pii', condition: 'true'}]\n":                            "policies[0] (no pii).name: policy name",
		"policies: [{name: a, condition: 'true', severity: urgent}]\n":                 "policies[0] (a).severity",
		"policies: [{name: a, condition: 'true', scope: {kinds: [TOPICS]}}]\n":         `policies[0] (a).scope.kinds[0]: "TOPICS" is not an asset kind`,
		"policyEngine: {sweep: '@every 5s'}\n":                                         "policyEngine.sweep",
		"webhooks: {allow: [10.20.0.0/33]}\n":                                          "webhooks.allow[0]",
		"webhooks: {retry: [5s, -1s]}\n":                                               "webhooks.retry[1]",
		"webhooks: {publicURL: 'ftp://x'}\n":                                           "webhooks.publicURL",
		"webhooks: {hooks: []}\n":                                                      "webhooks.hooks: unknown key",
		"classifications: {rules: [{match: '(', classification: PII}]}\n":              "classifications.rules[0].match",
		"classifications: {rules: [{classification: PII}]}\n":                          "at least one of match, property and tag",
		"classifications: {rules: [{tag: x, classification: 'no space'}]}\n":           "classifications.rules[0].classification",
		"classifications: {rules: [{tag: x, classification: PII, kinds: [TOPICS]}]}\n": `"TOPICS" is not an asset kind`,
		"classifications: {rules: [{match: x, value: 'y', classification: PII}]}\n":    "value: only with property",
		"classifications: {definitions: [{name: HR.Salary}]}\n":                        "parent HR of HR.Salary",
		"classifications: {bogus: 1}\n":                                                "classifications.bogus: unknown key",
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

func TestClassificationsSection(t *testing.T) {
	body := `
classifications:
  definitions:
    - {name: HR, description: Human resources}
    - {name: HR.Salary, propagates: false, passesMasking: true}
  rules:
    - {match: "(?i)e?mail", classification: PII.Email}
    - {property: pii, classification: PII}
    - {property: sensitivity, value: high, kinds: [FIELD], classification: Confidential}
    - {tag: PII.Name, classification: PII.Name}
`
	cfg, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Classifications
	if len(c.Definitions) != 2 || c.Definitions[1].Propagates == nil || *c.Definitions[1].Propagates || !c.Definitions[1].PassesMasking {
		t.Errorf("definitions = %+v", c.Definitions)
	}
	if len(c.Rules) != 4 || c.Rules[0].Match != "(?i)e?mail" || c.Rules[2].Value == nil || *c.Rules[2].Value != "high" || c.Rules[3].Tag != "PII.Name" {
		t.Errorf("rules = %+v", c.Rules)
	}
	// The environment replaces the list, as for every structured key.
	cfg, err = config.Load(write(t, body), env(map[string]string{"WATERSHED_CLASSIFICATIONS_RULES": `[{match: ssn, classification: PII.NationalID}]`}), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Classifications.Rules) != 1 || cfg.Classifications.Rules[0].Classification != "PII.NationalID" {
		t.Errorf("rules from the environment = %+v", cfg.Classifications.Rules)
	}
}

// TestTypeErrorsNameKeyAndType: every type error names its key path and
// the type expected, in the file and in the environment.
func TestTypeErrorsNameKeyAndType(t *testing.T) {
	cases := map[string]string{
		"graphql:\n  maxDepth: deep\n":                `graphql.maxDepth: expected an integer, got "deep" (line 2)`,
		"graphql: {maxTokens: 5, maxDepth: deep}\n":   `graphql.maxDepth: expected an integer, got "deep" (line 1)`,
		"listen: [a, b]\n":                            "listen: expected a string, got a list (line 1)",
		"auth:\n  tokens: {ci: x}\n":                  "auth.tokens: expected a list of mappings, got a mapping (line 2)",
		"auth: {tokens: [{name: x, write: maybe}]}\n": `auth.tokens[0].write: expected true or false, got "maybe"`,
		"shutdownTimeout: 30\n":                       `shutdownTimeout: "30" is not a duration; write it with a unit`,
		"openlineage: {ttl: 5}\n":                     `openlineage.ttl: "5" is not a duration`,
		"http: {readTimeout: 1}\n":                    `http.readTimeout: "1" is not a duration`,
		"sources: [{name: [a], kind: fake}]\n":        "sources[0].name: expected a string, got a list",
		"graphql: {maxDepht: 3}\n":                    "graphql.maxDepht: unknown key (line 1); did you mean maxDepth?",
		"log: debug\n":                                `log: expected a mapping (key: value), got "debug"`,
	}
	for body, want := range cases {
		_, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
		}
	}
	envCases := map[string]string{
		"WATERSHED_GRAPHQL_MAX_DEPTH=deep":      `WATERSHED_GRAPHQL_MAX_DEPTH (graphql.maxDepth): expected an integer, got "deep"`,
		"WATERSHED_SHUTDOWN_TIMEOUT=30":         `WATERSHED_SHUTDOWN_TIMEOUT (shutdownTimeout): "30" is not a duration`,
		"WATERSHED_AUTH_TOKENS={ci: x}":         "WATERSHED_AUTH_TOKENS: auth.tokens: expected a list of mappings, got a mapping",
		"WATERSHED_HTTP_MAX_CONNECTIONS=lots":   `WATERSHED_HTTP_MAX_CONNECTIONS (http.maxConnections): expected an integer, got "lots"`,
		"WATERSHED_AUTH_TOKENS=[{name: 1, wr}]": "WATERSHED_AUTH_TOKENS: auth.tokens[0]",
	}
	for kv, want := range envCases {
		_, err := config.Load("", []string{kv}, config.Flags{}, registry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", kv, err, want)
		}
	}
}

// TestUnknownEnvRefused: a mistyped WATERSHED_* variable is an error that
// names the closest setting, not silently ignored.
func TestUnknownEnvRefused(t *testing.T) {
	cases := map[string]string{
		"WATERSHED_GRAPHQL_MAX_DEPHT=3":      "WATERSHED_GRAPHQL_MAX_DEPHT: no such setting; did you mean WATERSHED_GRAPHQL_MAX_DEPTH (graphql.maxDepth)?",
		"WATERSHED_DATADIR=/tmp/x":           "did you mean WATERSHED_DATA_DIR (dataDir)?",
		"WATERSHED_AUTH_ANONYMUS=read":       "did you mean WATERSHED_AUTH_ANONYMOUS (auth.anonymous)?",
		"WATERSHED_COMPLETELY_UNRELATED=1":   "WATERSHED_COMPLETELY_UNRELATED: no such setting",
		"WATERSHED_SOURCE_PRDO_URL=http://x": "no configured source has this prefix; source variables start with WATERSHED_SOURCE_PROD_",
	}
	path := write(t, "sources: [{name: prod, kind: fake, url: x}]\n")
	for kv, want := range cases {
		_, err := config.Load(path, []string{kv}, config.Flags{}, registry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", kv, err, want)
		}
	}
	// Variables that are not Watershed's are none of its business.
	if _, err := config.Load(path, []string{"HOME=/root", "WATERSHEDX=1", "WATERSHED_LISTEN=127.0.0.1:9999"}, config.Flags{}, registry()); err != nil {
		t.Errorf("known and foreign variables: %v", err)
	}
}

// TestSourceSecretsFromEnvVerbatim: a string-typed source key takes the
// variable's bytes as they are, not YAML-decoded.
func TestSourceSecretsFromEnvVerbatim(t *testing.T) {
	path := write(t, "sources: [{name: prod, kind: fake, url: x, sasl: {password: file}}]\n")
	for _, secret := range []string{"s3cret #tail", "null", "~", "'quoted'", `"double"`, "true", "123", "[a, b]", "{a: b}", " padded ", "a: b", "-", "&anchor", "*alias", "%x", "@at"} {
		cfg, err := config.Load(path, []string{"WATERSHED_SOURCE_PROD_SASL__PASSWORD=" + secret, "WATERSHED_SOURCE_PROD_URL=" + secret}, config.Flags{}, registry())
		if err != nil {
			t.Errorf("%q: %v", secret, err)
			continue
		}
		src, _ := cfg.Source("prod")
		got := src.Spec.(*fakeConfig)
		if got.SASL.Password != secret || got.URL != secret {
			t.Errorf("secret %q arrived as password %q, url %q", secret, got.SASL.Password, got.URL)
		}
	}
	// Keys that are not strings are still YAML: a list.
	cfg, err := config.Load(path, []string{"WATERSHED_SOURCE_PROD_ALIASES=[b1:9092, b2:9092]"}, config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if src, _ := cfg.Source("prod"); strings.Join(src.Spec.(*fakeConfig).Aliases, ",") != "b1:9092,b2:9092" {
		t.Errorf("aliases = %v", src.Spec.(*fakeConfig).Aliases)
	}
}

// TestScheduleFloor: schedules shorter than MinScheduleInterval are refused.
func TestScheduleFloor(t *testing.T) {
	for sched, ok := range map[string]bool{"@every 1ms": false, "@every 1s": false, "@every 9s": false, "@every 10s": true, "@every 5m": true, "*/1 * * * *": true, "@hourly": true} {
		_, err := config.Load(write(t, "sources: [{name: a, kind: fake, url: x, schedule: '"+sched+"'}]\n"), env(nil), config.Flags{}, registry())
		if (err == nil) != ok {
			t.Errorf("schedule %q: error %v, want accepted=%v", sched, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "sources[0] (a).schedule") {
			t.Errorf("schedule %q: error %v does not name the key", sched, err)
		}
	}
}

// TestPoliciesSection accepts the policies of DESIGN.md §10 as written,
// keeps each built-in's own keys as its parameters, and takes policies
// from the environment too.
func TestPoliciesSection(t *testing.T) {
	body := `policies:
  - builtin: pii-consumer-allowlist
    allow: ["fraud-watch", "User:analytics"]   # consumer groups and ACL principals
  - builtin: pii-retention
    max: 168h
  - name: no-pii-in-s3
    severity: high
    condition: 'asset.kind == "DATASET" && "PII" in asset.classifications && asset.urn.startsWith("urn:dataset:s3://")'
    scope: {kinds: [DATASET]}
    enabled: false
policyEngine:
  sweep: "@every 15m"
`
	cfg, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Policies) != 3 || cfg.PolicyEngine.Sweep != "@every 15m" {
		t.Fatalf("policies = %+v, engine %+v", cfg.Policies, cfg.PolicyEngine)
	}
	p0, p1, p2 := cfg.Policies[0], cfg.Policies[1], cfg.Policies[2]
	if p0.PolicyName() != "pii-consumer-allowlist" || fmt.Sprint(p0.Params["allow"]) != "[fraud-watch User:analytics]" {
		t.Errorf("policies[0] = %+v", p0)
	}
	if p1.Params["max"] != "168h" || p1.Enabled != nil {
		t.Errorf("policies[1] = %+v", p1)
	}
	if p2.Name != "no-pii-in-s3" || p2.Severity != "high" || !strings.HasPrefix(p2.Condition, `asset.kind == "DATASET"`) ||
		len(p2.Params) != 0 || p2.Enabled == nil || *p2.Enabled || fmt.Sprint(p2.Scope.Kinds) != "[DATASET]" {
		t.Errorf("policies[2] = %+v", p2)
	}

	cfg, err = config.Load("", env(map[string]string{
		"WATERSHED_POLICIES":            `[{builtin: schema-drift}, {name: lagging, condition: "asset.live.totalLag > 1000"}]`,
		"WATERSHED_POLICY_ENGINE_SWEEP": "@hourly",
	}), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Policies) != 2 || cfg.Policies[1].Condition != "asset.live.totalLag > 1000" || cfg.PolicyEngine.Sweep != "@hourly" {
		t.Errorf("from the environment: %+v %+v", cfg.Policies, cfg.PolicyEngine)
	}
	if cfg, err := config.Load("", env(nil), config.Flags{}, registry()); err != nil || cfg.PolicyEngine.Sweep != "@every 10m" {
		t.Errorf("default sweep = %q, %v", cfg.PolicyEngine.Sweep, err)
	}
}

func TestDistributedSections(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "neo4j-password")
	if err := os.WriteFile(pw, []byte("s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`
store: {kind: neo4j, uri: "bolt://neo4j:7687", user: neo4j, passwordFile: %q}
changelog: {kind: kafka, bootstrap: ["kafka:9092"]}
replica: watershed-1
`, pw)
	cfg, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Kind != "neo4j" || cfg.Store.Password != "s3cret-pass" || cfg.Changelog.Topic != "watershed.changes" || cfg.Replica != "watershed-1" {
		t.Errorf("distributed config = %+v %+v", cfg.Store, cfg.Changelog)
	}
	cfg, err = config.Load("", env(map[string]string{"WATERSHED_CHANGELOG_KIND": "kafka", "WATERSHED_CHANGELOG_BOOTSTRAP": "a:9092,b:9092", "WATERSHED_CHANGELOG_TOPIC": "wc"}), config.Flags{}, registry())
	if err != nil || cfg.Changelog.Kind != "kafka" || len(cfg.Changelog.Bootstrap) != 2 || cfg.Changelog.Topic != "wc" || cfg.Store.Kind != "embedded" {
		t.Errorf("changelog from env = %+v, %v", cfg.Changelog, err)
	}

	cases := map[string]string{
		"store: {kind: mongo}\n":                                                          `store.kind: "mongo" is not embedded or neo4j`,
		"store: {kind: neo4j}\n":                                                          "store.uri: required for kind neo4j",
		"store: {kind: neo4j, uri: 'http://x:7474'}\n":                                    `store.uri: "http://x:7474" is not a Bolt address`,
		"store: {uri: 'bolt://x:7687'}\n":                                                 "store.uri: only for kind neo4j",
		"store: {kind: neo4j, uri: 'bolt://x', user: u}\n":                                "store.passwordFile: required with store.user",
		"store: {kind: neo4j, uri: 'bolt://x', passwordFile: /nonexistent/pw, user: u}\n": "store.passwordFile: open /nonexistent/pw",
		"store: {kind: neo4j, uri: 'bolt://x', pasword: y}\n":                             "store.pasword: unknown key",
		"store: {kind: neo4j, uri: 'bolt://x'}\n":                                         "changelog.kind: the embedded change log serves one process",
		"changelog: {kind: nats}\n":                                                       `changelog.kind: "nats" is not embedded or kafka`,
		"changelog: {kind: kafka}\n":                                                      "changelog.bootstrap: required for kind kafka",
		"changelog: {kind: kafka, bootstrap: [kafka]}\n":                                  `changelog.bootstrap[0]: "kafka" is not host:port`,
		"changelog: {kind: kafka, bootstrap: ['k:9092'], topic: 'a b'}\n":                 `changelog.topic: "a b" is not a Kafka topic name`,
		"changelog: {kind: kafka, bootstrap: ['k:9092'], partitions: -1}\n":               "changelog.partitions: -1 is negative",
		"changelog: {topic: x}\n":                                                         "only for kind kafka",
	}
	for body, want := range cases {
		_, err := config.Load(write(t, body), env(nil), config.Flags{}, registry())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v does not mention %q", body, err, want)
		}
	}
}
