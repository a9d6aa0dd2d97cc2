// Package config loads Watershed's typed configuration: defaults, then a
// YAML file, then WATERSHED_* environment variables, then command-line
// flags (each layer overrides the one before). Every section validates
// itself and reports problems by their YAML path ("sources[1].url: ...").
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/robfig/cron/v3"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// Config is the whole configuration.
type Config struct {
	// Listen is the HTTP address (GraphQL, UI, health, metrics).
	Listen string `yaml:"listen"`
	// DataDir holds the embedded store, and in every mode the webhooks
	// stage's delivery queue.
	DataDir string `yaml:"dataDir"`
	// Store selects the catalog store: embedded (default) or neo4j.
	Store Store `yaml:"store"`
	// Changelog selects the change log: embedded (default, the store's
	// own outbox) or kafka.
	Changelog Changelog `yaml:"changelog"`
	// Replica names this process among the replicas sharing a store (in
	// crawl leases and logs); empty means <hostname>/<listen>.
	Replica string  `yaml:"replica"`
	Log     Log     `yaml:"log"`
	Auth    Auth    `yaml:"auth"`
	GraphQL GraphQL `yaml:"graphql"`
	// Sources are the crawled systems; each entry's keys beyond name, kind
	// and schedule belong to its kind.
	Sources []Source `yaml:"sources"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// OpenLineage configures the push endpoints (/api/v1/lineage and
	// /api/v1/topologies).
	OpenLineage OpenLineage `yaml:"openlineage"`
	// HTTP bounds the listener.
	HTTP HTTP `yaml:"http"`

	// Webhooks configures delivery of change-log entries to HTTP receivers.
	Webhooks Webhooks `yaml:"webhooks"`

	// Policies are evaluated by the policy engine; more can be created
	// through GraphQL (createPolicy).
	Policies []Policy `yaml:"policies"`
	// PolicyEngine configures the engine that evaluates them.
	PolicyEngine PolicyEngine `yaml:"policyEngine"`

	// Classifications defines classifications beyond the defaults and the
	// auto-classification rules.
	Classifications Classifications `yaml:"classifications"`
}

// Store selects the catalog store.
type Store struct {
	// Kind is embedded (Pebble under dataDir, one process) or neo4j (shared
	// by replicas).
	Kind string `yaml:"kind"`
	// URI is the Neo4j Bolt address (bolt://host:7687 or neo4j://…).
	URI string `yaml:"uri"`
	// User and PasswordFile authenticate to Neo4j; the file holds the
	// password (trailing newline ignored). Without a user, no auth.
	User         string `yaml:"user"`
	PasswordFile string `yaml:"passwordFile"`
	// Database is the Neo4j database; empty means the server's default.
	Database string `yaml:"database"`
	// Password is read from PasswordFile by Load.
	Password string `yaml:"-"`
}

// Store kinds.
const (
	StoreEmbedded = "embedded"
	StoreNeo4j    = "neo4j"
)

// Changelog selects the change log.
type Changelog struct {
	// Kind is embedded (the store's outbox, followed in process) or kafka
	// (the outbox relayed to a topic, handlers in consumer groups).
	Kind string `yaml:"kind"`
	// Bootstrap lists Kafka brokers (host:port).
	Bootstrap []string `yaml:"bootstrap"`
	// Topic is the change-log topic (default watershed.changes).
	Topic string `yaml:"topic"`
	// Partitions is used when Watershed creates the topic (default 12).
	Partitions int `yaml:"partitions"`
	// ReplicationFactor is used when Watershed creates the topic (default:
	// the broker's).
	ReplicationFactor int `yaml:"replicationFactor"`
}

// Change-log kinds.
const (
	ChangelogEmbedded = "embedded"
	ChangelogKafka    = "kafka"
)

// Classifications configures classification definitions and the rules that
// attach classifications automatically (with source rule).
type Classifications struct {
	// Definitions are created or updated at startup, parents first. The
	// defaults (PII, PII.Email, Financial, …) exist in every catalog.
	Definitions []ClassificationDefinition `yaml:"definitions"`
	// Rules attach a classification to every asset they match, on crawl
	// and on new schema versions. A steward's declassify of a rule's
	// attachment sticks.
	Rules []ClassificationRule `yaml:"rules"`
}

// ClassificationDefinition defines one classification.
type ClassificationDefinition struct {
	// Name is dotted and hierarchical; the parent must be a default or an
	// earlier definition.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Propagates is the default for attachments that do not say; nil means
	// true.
	Propagates *bool `yaml:"propagates"`
	// PassesMasking lets the classification cross masking edges.
	PassesMasking bool `yaml:"passesMasking"`
}

// ClassificationRule attaches Classification to the assets it matches. Every
// condition given must hold; at least one is required.
type ClassificationRule struct {
	// Match is a regular expression (Go syntax, unanchored) on the asset's
	// name: a field's or column's own name ("email" for after.email).
	Match string `yaml:"match"`
	// Property names a custom property of the field in its schema ("pii"
	// for {"name": "email", "pii": true}). It must be true, or equal Value
	// when Value is set.
	Property string  `yaml:"property"`
	Value    *string `yaml:"value"`
	// Tag is a Confluent field tag the field must carry (confluent:tags).
	Tag string `yaml:"tag"`
	// Kinds are the asset kinds the rule applies to; default FIELD and
	// COLUMN.
	Kinds          []string `yaml:"kinds"`
	Classification string   `yaml:"classification"`
}

// Policy is one policy: a built-in check with its parameters, or a CEL
// condition. The condition and the built-in's parameters are checked by the
// policy package when the server starts (an invalid CEL expression is
// refused there with its line and column); this section checks the rest.
type Policy struct {
	// Name defaults to the built-in's name; it is required for a condition.
	Name        string `yaml:"name"`
	Builtin     string `yaml:"builtin"`
	Description string `yaml:"description"`
	// Severity is low, medium, high or critical (default: the built-in's,
	// or medium).
	Severity  string      `yaml:"severity"`
	Scope     PolicyScope `yaml:"scope"`
	Condition string      `yaml:"condition"`
	// Enabled defaults to true.
	Enabled *bool `yaml:"enabled"`
	// Params are the built-in's own keys (allow, max, classification…).
	Params map[string]any `yaml:",inline"`
}

// PolicyScope narrows the subjects of a policy.
type PolicyScope struct {
	// Kinds are asset kinds (TOPIC, CONSUMER_GROUP…).
	Kinds []string `yaml:"kinds"`
	// URNs are globs over subject URNs ("urn:topic:prod/*").
	URNs []string `yaml:"urns"`
}

// PolicyEngine configures the policy engine.
type PolicyEngine struct {
	// Sweep is when every policy is evaluated over the whole catalog (a
	// cron expression or "@every 10m"; at least a minute apart). Changes
	// are evaluated as they happen; the sweep catches what no change
	// announces (consumer lag and other live readings).
	Sweep string `yaml:"sweep"`
}

// PolicyName returns the policy's name: Name, or the built-in's name.
func (p Policy) PolicyName() string {
	if p.Name == "" {
		return p.Builtin
	}
	return p.Name
}

// OpenLineage configures the push endpoints.
type OpenLineage struct {
	// TTL is how long a job may stay silent before its lineage ages out.
	TTL Duration `yaml:"ttl"`
	// Sweep is how often stale jobs are looked for.
	Sweep Duration `yaml:"sweep"`
}

// Webhooks configures the webhooks stage. Endpoints themselves are created
// through GraphQL (createWebhook), which returns their signing secret once.
type Webhooks struct {
	// Allow lists CIDRs the SSRF guard lets webhooks reach although they
	// are loopback, private, link-local or otherwise internal.
	Allow []string `yaml:"allow"`
	// Retry lists the delays before attempts 2..n (default 5s, 5m, 30m,
	// 2h, 5h, 10h, 10h); after the last, a delivery is a dead letter.
	Retry []Duration `yaml:"retry"`
	// Timeout bounds one attempt (default 10s).
	Timeout Duration `yaml:"timeout"`
	// Concurrency bounds the attempts in flight per endpoint (default 8).
	Concurrency int `yaml:"concurrency"`
	// DisableAfter disables an endpoint failing for this long without a
	// success (default 120h); "0s" never disables.
	DisableAfter *Duration `yaml:"disableAfter"`
	// PublicURL is where people reach Watershed's UI, for links in Slack
	// messages (default http://<listen>).
	PublicURL string `yaml:"publicURL"`
}

// HTTP bounds what one client can hold of the listener: how long it may
// take to send a request, how long an idle connection stays open, and how
// many connections are served at once.
type HTTP struct {
	// ReadHeaderTimeout bounds the time to send a request's headers.
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	// ReadTimeout bounds the time to send a whole request, body included
	// (a 4 MiB push in 30 s needs 140 KB/s).
	ReadTimeout Duration `yaml:"readTimeout"`
	// WriteTimeout bounds the time from the end of a request's headers to
	// the end of its response. Websocket connections are exempt.
	WriteTimeout Duration `yaml:"writeTimeout"`
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxConnections caps the connections served at once (websockets
	// included); past it a new connection gets 503 and is closed. Zero
	// means 1,024, or half the process's file-descriptor limit if lower.
	MaxConnections int `yaml:"maxConnections"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text, json
}

// Auth configures API authentication.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
	// Anonymous is what callers without a token may do: none, read, write.
	// Defaults to write when no tokens are configured and none otherwise.
	Anonymous string `yaml:"anonymous"`
}

// Token is one API bearer token.
type Token struct {
	Name string `yaml:"name"`
	// Token is the secret itself; prefer TokenFile or the environment.
	Token     string `yaml:"token"`
	TokenFile string `yaml:"tokenFile"`
	// Write allows mutations.
	Write bool `yaml:"write"`
}

// GraphQL sets the query limits; zero means the default (graph.Limits).
type GraphQL struct {
	MaxBodyBytes  int64 `yaml:"maxBodyBytes"`
	MaxTokens     int   `yaml:"maxTokens"`
	MaxDepth      int   `yaml:"maxDepth"`
	MaxComplexity int   `yaml:"maxComplexity"`
	// MaxSubscriptionsPerConnection bounds one websocket's live subscriptions.
	MaxSubscriptionsPerConnection int `yaml:"maxSubscriptionsPerConnection"`
	// MaxSubscriptions bounds the live subscriptions of the server.
	MaxSubscriptions int `yaml:"maxSubscriptions"`
}

// MinScheduleInterval is the shortest crawl interval a schedule may ask
// for ("@every 10s"); five-field cron expressions run at most every minute.
const MinScheduleInterval = 10 * time.Second

// Source is one configured source.
type Source struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
	// Schedule is a cron expression or "@every 5m"; empty means "@every 5m".
	Schedule string `yaml:"schedule"`
	// Settings are the kind's own keys, decoded into Spec by Load.
	Settings map[string]any `yaml:",inline"`
	// Spec is the decoded, validated kind-specific configuration.
	Spec crawlers.Config `yaml:"-"`
}

// Duration is a time.Duration written as "30s" in YAML and env.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Listen:          "127.0.0.1:8080",
		DataDir:         "./data",
		Log:             Log{Level: "info", Format: "text"},
		Store:           Store{Kind: StoreEmbedded},
		Changelog:       Changelog{Kind: ChangelogEmbedded},
		ShutdownTimeout: Duration(15 * time.Second),
		OpenLineage:     OpenLineage{TTL: Duration(30 * 24 * time.Hour), Sweep: Duration(time.Hour)},
		HTTP: HTTP{
			ReadHeaderTimeout: Duration(10 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			WriteTimeout:      Duration(2 * time.Minute),
			IdleTimeout:       Duration(2 * time.Minute),
		},
	}
}

// Flags are command-line overrides; empty fields are not set.
type Flags struct {
	Listen  string
	DataDir string
}

// Load builds the configuration: defaults, the YAML file at path (if not
// empty), the environment (environ holds "KEY=value" entries, as
// os.Environ returns them), then flags. Sources are decoded with the kinds
// in reg.
func Load(path string, environ []string, flags Flags, reg *crawlers.Registry) (Config, error) {
	cfg := Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return cfg, catalog.Errorf(catalog.Invalid, "read config: %w", err)
		}
		if err := decodeYAML(b, &cfg, ""); err != nil {
			msg := strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n  ", " ")
			return cfg, catalog.Errorf(catalog.Invalid, "config %s: %s", path, msg)
		}
	}
	if environ != nil {
		if err := applyEnv(&cfg, environ, reg); err != nil {
			return cfg, catalog.Errorf(catalog.Invalid, "environment: %w", err)
		}
	}
	if flags.Listen != "" {
		cfg.Listen = flags.Listen
	}
	if flags.DataDir != "" {
		cfg.DataDir = flags.DataDir
	}
	if err := cfg.Validate(reg); err != nil {
		return cfg, catalog.Errorf(catalog.Invalid, "config: %w", err)
	}
	return cfg, nil
}

// decodeYAML decodes b into v (a pointer) strictly: unknown keys and values
// of the wrong type are errors that name their key path, under path.
func decodeYAML(b []byte, v any, path string) error {
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return err
	}
	if errs := checkNode(&n, reflect.TypeOf(v).Elem(), path); len(errs) > 0 {
		return joinErrors(errs)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks every section, fills in defaults that depend on other
// keys, and decodes each source's settings into its kind's Spec.
func (c *Config) Validate(reg *crawlers.Registry) error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port", c.Listen))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: must not be empty"))
	}
	errs = append(errs, c.validateDistributed()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format: %q is not text or json", c.Log.Format))
	}
	switch c.Auth.Anonymous {
	case "", "none", "read", "write":
	default:
		errs = append(errs, fmt.Errorf("auth.anonymous: %q is not none, read or write", c.Auth.Anonymous))
	}
	names := map[string]bool{}
	for i := range c.Auth.Tokens {
		t := &c.Auth.Tokens[i]
		p := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", p))
		}
		if t.TokenFile != "" {
			if t.Token != "" {
				errs = append(errs, fmt.Errorf("%s: set token or tokenFile, not both", p))
			}
			b, err := os.ReadFile(t.TokenFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.tokenFile: %w", p, err))
			}
			t.Token = strings.TrimSpace(string(b))
		}
		if len(t.Token) < 16 {
			errs = append(errs, fmt.Errorf("%s: the token must be at least 16 characters", p))
		}
		if names[t.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", p, t.Name))
		}
		names[t.Name] = true
	}
	if c.GraphQL.MaxBodyBytes < 0 || c.GraphQL.MaxTokens < 0 || c.GraphQL.MaxDepth < 0 || c.GraphQL.MaxComplexity < 0 {
		errs = append(errs, errors.New("graphql: limits must not be negative (0 means the default)"))
	}
	errs = append(errs, c.Webhooks.validate()...)
	errs = append(errs, c.Classifications.validate()...)
	errs = append(errs, c.validatePolicies()...)
	if c.OpenLineage.TTL <= 0 || c.OpenLineage.Sweep <= 0 {
		errs = append(errs, errors.New("openlineage: ttl and sweep must be positive durations"))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdownTimeout: must be positive"))
	}
	for key, d := range map[string]Duration{"http.readHeaderTimeout": c.HTTP.ReadHeaderTimeout, "http.readTimeout": c.HTTP.ReadTimeout, "http.writeTimeout": c.HTTP.WriteTimeout, "http.idleTimeout": c.HTTP.IdleTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be a positive duration", key))
		}
	}
	if c.HTTP.MaxConnections < 0 {
		errs = append(errs, errors.New("http.maxConnections: must not be negative (0 means the default)"))
	}
	if c.GraphQL.MaxSubscriptionsPerConnection < 0 || c.GraphQL.MaxSubscriptions < 0 {
		errs = append(errs, errors.New("graphql: subscription limits must not be negative (0 means the default)"))
	}
	errs = append(errs, c.validateSources(reg)...)
	return errors.Join(errs...)
}

func (c *Config) validatePolicies() []error {
	var errs []error
	if c.PolicyEngine.Sweep == "" {
		c.PolicyEngine.Sweep = "@every 10m"
	}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	if sched, err := parser.Parse(c.PolicyEngine.Sweep); err != nil {
		errs = append(errs, fmt.Errorf("policyEngine.sweep: %q: %w", c.PolicyEngine.Sweep, err))
	} else if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < time.Minute {
		errs = append(errs, fmt.Errorf("policyEngine.sweep: %q runs more often than every minute", c.PolicyEngine.Sweep))
	}
	seen := map[string]int{}
	for i := range c.Policies {
		pol := &c.Policies[i]
		p := fmt.Sprintf("policies[%d]", i)
		if n := pol.PolicyName(); n != "" {
			p = fmt.Sprintf("policies[%d] (%s)", i, n)
		}
		switch {
		case pol.Builtin == "" && len(pol.Params) > 0:
			keys := make([]string, 0, len(pol.Params))
			for k := range pol.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			known := []string{"name", "builtin", "description", "severity", "scope", "condition", "enabled"}
			for _, k := range keys {
				msg := fmt.Sprintf("%s.%s: unknown key (a condition takes no parameters)", p, k)
				if best := closest(k, known); best != "" {
					msg += fmt.Sprintf("; did you mean %s?", best)
				}
				errs = append(errs, errors.New(msg))
			}
		case pol.Builtin == "" && pol.Condition == "":
			errs = append(errs, fmt.Errorf("%s: set builtin or condition", p))
		case pol.Builtin != "" && pol.Condition != "":
			errs = append(errs, fmt.Errorf("%s: set builtin or condition, not both", p))
		case pol.Builtin == "" && pol.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: required for a condition", p))
		}
		name := pol.PolicyName()
		if name != "" {
			if err := catalog.ValidatePolicyName(name); err != nil {
				errs = append(errs, fmt.Errorf("%s.name: %w", p, err))
			}
			if j, dup := seen[name]; dup {
				errs = append(errs, fmt.Errorf("%s.name: %q is also the name of policies[%d]; give one of them a name", p, name, j))
			}
			seen[name] = i
		}
		switch strings.ToLower(pol.Severity) {
		case "", "low", "medium", "high", "critical":
		default:
			errs = append(errs, fmt.Errorf("%s.severity: %q is not one of low, medium, high, critical", p, pol.Severity))
		}
		for j, k := range pol.Scope.Kinds {
			if !catalog.Kind(k).Valid() {
				errs = append(errs, fmt.Errorf("%s.scope.kinds[%d]: %q is not an asset kind", p, j, k))
			}
		}
	}
	return errs
}

func (w *Webhooks) validate() []error {
	var errs []error
	for i, a := range w.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, aerr := netip.ParseAddr(a); aerr != nil {
				errs = append(errs, fmt.Errorf("webhooks.allow[%d]: %q is not a CIDR (10.20.0.0/16) or an address", i, a))
			}
		}
	}
	if len(w.Retry) > 20 {
		errs = append(errs, errors.New("webhooks.retry: at most 20 retries"))
	}
	for i, d := range w.Retry {
		if d <= 0 || time.Duration(d) > 7*24*time.Hour {
			errs = append(errs, fmt.Errorf("webhooks.retry[%d]: %s is not between 0s and 168h", i, time.Duration(d)))
		}
	}
	if w.Timeout < 0 || time.Duration(w.Timeout) > 5*time.Minute {
		errs = append(errs, errors.New("webhooks.timeout: must be between 0s (the default, 10s) and 5m"))
	}
	if w.Concurrency < 0 || w.Concurrency > 256 {
		errs = append(errs, errors.New("webhooks.concurrency: must be between 0 (the default, 8) and 256"))
	}
	if w.DisableAfter != nil && *w.DisableAfter < 0 {
		errs = append(errs, errors.New("webhooks.disableAfter: must not be negative"))
	}
	if w.PublicURL != "" {
		if u, err := url.Parse(w.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("webhooks.publicURL: %q is not an http(s) URL", w.PublicURL))
		}
	}
	return errs
}

// AllowPrefixes returns Allow as prefixes (an address is its /32 or /128).
func (w *Webhooks) AllowPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, a := range w.Allow {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p.Masked())
		} else if ad, err := netip.ParseAddr(a); err == nil {
			out = append(out, netip.PrefixFrom(ad, ad.BitLen()))
		}
	}
	return out
}

func (c *Config) validateSources(reg *crawlers.Registry) []error {
	var errs []error
	seen := map[string]bool{}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	for i := range c.Sources {
		s := &c.Sources[i]
		p := fmt.Sprintf("sources[%d]", i)
		if s.Name != "" {
			p = fmt.Sprintf("sources[%d] (%s)", i, s.Name)
		}
		if err := catalog.ValidateSource(s.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", p, err))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", p, s.Name))
		}
		seen[s.Name] = true
		if s.Schedule == "" {
			s.Schedule = "@every 5m"
		}
		if sched, err := parser.Parse(s.Schedule); err != nil {
			errs = append(errs, fmt.Errorf("%s.schedule: %q: %w", p, s.Schedule, err))
		} else if every, ok := sched.(cron.ConstantDelaySchedule); ok && every.Delay < MinScheduleInterval {
			errs = append(errs, fmt.Errorf("%s.schedule: %q runs more often than every %v, the shortest interval allowed", p, s.Schedule, MinScheduleInterval))
		}
		if reg == nil {
			continue
		}
		kind, ok := reg.Lookup(s.Kind)
		if !ok {
			errs = append(errs, fmt.Errorf("%s.kind: %q is not one of %s", p, s.Kind, strings.Join(reg.Names(), ", ")))
			continue
		}
		raw, err := json.Marshal(jsonCompatible(s.Settings))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		spec, err := kind.DecodeConfig(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		s.Spec = spec
	}
	return errs
}

// joinErrors joins errors on one line.
func joinErrors(errs []error) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// jsonCompatible converts YAML-decoded maps with non-string keys.
func jsonCompatible(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = jsonCompatible(x)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[fmt.Sprint(k)] = jsonCompatible(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = jsonCompatible(x)
		}
		return out
	default:
		return v
	}
}

// Source returns the source named name.
func (c *Config) Source(name string) (Source, bool) {
	for _, s := range c.Sources {
		if s.Name == name {
			return s, true
		}
	}
	return Source{}, false
}

// AnonymousAccess resolves the effective anonymous access level.
func (c *Config) AnonymousAccess() string {
	if c.Auth.Anonymous != "" {
		return c.Auth.Anonymous
	}
	if len(c.Auth.Tokens) == 0 {
		return "write"
	}
	return "none"
}

func (c *Classifications) validate() []error {
	var errs []error
	known := map[string]bool{}
	for _, d := range catalog.DefaultClassifications() {
		known[d.Name] = true
	}
	for i, d := range c.Definitions {
		p := fmt.Sprintf("classifications.definitions[%d]", i)
		if err := catalog.ValidClassificationName(d.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s.name: %w", p, err))
			continue
		}
		def := catalog.ClassificationDef{Name: d.Name}
		if parent := def.Parent(); parent != "" && !known[parent] {
			errs = append(errs, fmt.Errorf("%s.name: parent %s of %s is neither a default nor defined earlier", p, parent, d.Name))
		}
		known[d.Name] = true
	}
	for i, r := range c.Rules {
		p := fmt.Sprintf("classifications.rules[%d]", i)
		if err := catalog.ValidClassificationName(r.Classification); err != nil {
			errs = append(errs, fmt.Errorf("%s.classification: %w", p, err))
		}
		if r.Match == "" && r.Property == "" && r.Tag == "" {
			errs = append(errs, fmt.Errorf("%s: give at least one of match, property and tag", p))
		}
		if r.Value != nil && r.Property == "" {
			errs = append(errs, fmt.Errorf("%s.value: only with property", p))
		}
		if r.Match != "" {
			if _, err := regexp.Compile(r.Match); err != nil {
				errs = append(errs, fmt.Errorf("%s.match: %w", p, err))
			}
		}
		for _, k := range r.Kinds {
			if !catalog.Kind(k).Valid() {
				errs = append(errs, fmt.Errorf("%s.kinds: %q is not an asset kind", p, k))
			}
		}
	}
	return errs
}
