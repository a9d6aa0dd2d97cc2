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
	// DataDir holds the embedded store.
	DataDir string  `yaml:"dataDir"`
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

	// Sections of the design that this build does not implement yet. They
	// are decoded only to be refused with a clear message instead of
	// "field not found" (or, worse, silently ignored).
	Policies        yaml.Node `yaml:"policies"`
	Classifications yaml.Node `yaml:"classifications"`
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
	for name, n := range map[string]yaml.Node{"policies": c.Policies, "classifications": c.Classifications} {
		if n.Kind != 0 {
			errs = append(errs, fmt.Errorf("%s: not supported by this version of Watershed yet; remove the section", name))
		}
	}
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
