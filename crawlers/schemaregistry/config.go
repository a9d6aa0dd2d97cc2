// Package schemaregistry crawls a Confluent-compatible Schema Registry with
// franz-go's sr client and returns a complete catalog.Snapshot of it: the
// registry, every live subject and version (schema text, references, parse
// result), the topics the subjects describe (bound by TopicNameStrategy, or
// by the schema IDs seen in a bounded sample of recent records for
// RecordNameStrategy and TopicRecordNameStrategy), and the field tree of the
// latest schema of every bound topic, with classifications taken from schema
// tags. Sampling reports schema drift on the topic.
//
// Schemas are parsed by the schemaparse package next to this one. See
// README.md in this folder for the URNs, properties, edges, scopes and
// limits.
package schemaregistry

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// KindName is the value of `kind:` for Schema Registry sources.
const KindName = "schemaregistry"

// Defaults and bounds of the configuration.
const (
	// DefaultTimeout bounds each registry request when Config.Timeout is
	// empty. The one bulk request (GET /schemas) gets BulkTimeoutFactor
	// times as long.
	DefaultTimeout = 10 * time.Second
	// BulkTimeoutFactor multiplies the request timeout for GET /schemas,
	// which returns every schema of the registry at once.
	BulkTimeoutFactor = 6
	// DefaultRecordsPerTopic is how many of the newest records of a topic
	// sampling reads when Sample.RecordsPerTopic is zero.
	DefaultRecordsPerTopic = 50
	// MaxRecordsPerTopic bounds Sample.RecordsPerTopic.
	MaxRecordsPerTopic = 1000
	// DefaultSampleTimeout bounds the whole sampling pass when
	// Sample.Timeout is empty.
	DefaultSampleTimeout = 5 * time.Second
)

// Kind describes the "schemaregistry" source kind: it crawls one Schema
// Registry and emits the registry, its subjects and versions, the fields of
// the topics the subjects describe, and facets of those topics. NewConfig
// returns a *Config.
func Kind() crawlers.Kind {
	return crawlers.Kind{
		Name:        KindName,
		Description: "A Confluent-compatible Schema Registry: subjects, versions, parsed field trees with schema tags, topic bindings and schema drift from sampled records",
		Emits: []catalog.Kind{
			catalog.KindSchemaRegistry,
			catalog.KindSchemaSubject,
			catalog.KindSchemaVersion,
			catalog.KindTopic,
			catalog.KindField,
		},
		NewConfig: func() crawlers.Config { return &Config{} },
	}
}

// Config is the configuration of one Schema Registry source, decoded from
// the source's YAML mapping as JSON. The zero value is not valid: URL (or
// URLs) and Cluster are required. Validate reads no files; the files it
// names are read at every crawl, so a rotated secret or certificate needs no
// restart.
type Config struct {
	// URL is the registry's base URL, e.g. "http://schema-registry:8081".
	URL string `json:"url,omitempty"`
	// URLs lists more base URLs of the same registry; requests go to the
	// first and move to the next on a transport error.
	URLs []string `json:"urls,omitempty"`
	// Cluster is the configured name of the Kafka source whose topics the
	// subjects describe. It must name a source of kind kafka.
	Cluster string `json:"cluster"`
	// Username with Password (or PasswordFile) enables HTTP basic
	// authentication.
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	// BearerToken (or BearerTokenFile) is sent as "Authorization: Bearer";
	// it excludes basic authentication.
	BearerToken     string `json:"bearerToken,omitempty"`
	BearerTokenFile string `json:"bearerTokenFile,omitempty"`
	// TLS configures https URLs.
	TLS TLSConfig `json:"tls"`
	// Timeout is a Go duration bounding each registry request;
	// DefaultTimeout when empty.
	Timeout string `json:"timeout,omitempty"`
	// SubjectInclude, when non-empty, catalogues only subjects whose whole
	// name matches one of these regular expressions (RE2, anchored at both
	// ends). SubjectExclude leaves out subjects matching any of its
	// expressions and wins over SubjectInclude.
	SubjectInclude []string `json:"subjectInclude,omitempty"`
	SubjectExclude []string `json:"subjectExclude,omitempty"`
	// Sample configures record sampling.
	Sample SampleConfig `json:"sample"`
}

// TLSConfig configures TLS for https URLs.
type TLSConfig struct {
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its key for
	// mutual TLS; set both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// SampleConfig configures the sampling of recent records, which binds
// subjects to topics by the schema IDs records carry and detects drift.
type SampleConfig struct {
	// Enabled turns sampling on; true when absent.
	Enabled *bool `json:"enabled,omitempty"`
	// RecordsPerTopic bounds how many of the newest records of each topic
	// are read, spread over its partitions; DefaultRecordsPerTopic when 0,
	// at most MaxRecordsPerTopic.
	RecordsPerTopic int `json:"recordsPerTopic,omitempty"`
	// Timeout is a Go duration bounding the whole sampling pass;
	// DefaultSampleTimeout when empty.
	Timeout string `json:"timeout,omitempty"`
	// TopicInclude and TopicExclude restrict which topics are sampled, as
	// SubjectInclude and SubjectExclude do for subjects. Internal topics
	// (__consumer_offsets…) are never sampled.
	TopicInclude []string `json:"topicInclude,omitempty"`
	TopicExclude []string `json:"topicExclude,omitempty"`
}

// KafkaClientConfig is what this crawler needs of the configuration of the
// Kafka source named by Config.Cluster in order to sample records: the
// franz-go options that connect to the cluster (seeds, TLS, SASL). The kafka
// crawler's *Config implements it. ClientOptions is called at every crawl and
// may read files.
type KafkaClientConfig interface {
	ClientOptions() ([]kgo.Opt, error)
}

// settings is a validated Config in usable form.
type settings struct {
	urls          []string
	timeout       time.Duration
	include       []*regexp.Regexp
	exclude       []*regexp.Regexp
	sample        bool
	perTopic      int
	sampleTimeout time.Duration
	topicInclude  []*regexp.Regexp
	topicExclude  []*regexp.Regexp
}

// Validate reports the first problem with c in terms a user can act on. It
// reads no files.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

func (c *Config) compile() (settings, error) {
	var s settings
	type namedURL struct{ field, raw string }
	var all []namedURL
	if c.URL != "" {
		all = append(all, namedURL{"url", c.URL})
	}
	for i, u := range c.URLs {
		all = append(all, namedURL{fmt.Sprintf("urls[%d]", i), u})
	}
	if len(all) == 0 {
		return s, errors.New(`url: the Schema Registry URL is required, e.g. url: "http://schema-registry:8081"`)
	}
	seen := map[string]bool{}
	https := false
	for _, nu := range all {
		field, raw := nu.field, nu.raw
		u, err := url.Parse(raw)
		if err != nil {
			return s, fmt.Errorf("%s %q: %w", field, raw, err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return s, fmt.Errorf("%s %q: scheme must be http or https", field, raw)
		}
		if u.Host == "" {
			return s, fmt.Errorf("%s %q: no host", field, raw)
		}
		if u.User != nil {
			return s, fmt.Errorf("%s: put credentials in username and password (or passwordFile), not in the URL", field)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return s, fmt.Errorf("%s %q: a base URL has no query or fragment", field, raw)
		}
		if seen[raw] {
			return s, fmt.Errorf("%s %q is listed twice", field, raw)
		}
		seen[raw] = true
		https = https || u.Scheme == "https"
		s.urls = append(s.urls, raw)
	}
	if c.Cluster == "" {
		return s, errors.New("cluster: the name of the Kafka source whose topics the subjects describe is required")
	}
	if err := catalog.ValidateSource(c.Cluster); err != nil {
		return s, fmt.Errorf("cluster: %w", err)
	}
	if err := c.validateAuth(); err != nil {
		return s, err
	}
	if err := c.TLS.validate(https); err != nil {
		return s, err
	}
	var err error
	if s.timeout, err = positiveDuration("timeout", c.Timeout, DefaultTimeout); err != nil {
		return s, err
	}
	if s.include, err = compileAnchored("subjectInclude", c.SubjectInclude); err != nil {
		return s, err
	}
	if s.exclude, err = compileAnchored("subjectExclude", c.SubjectExclude); err != nil {
		return s, err
	}
	s.sample = c.Sample.Enabled == nil || *c.Sample.Enabled
	switch n := c.Sample.RecordsPerTopic; {
	case n == 0:
		s.perTopic = DefaultRecordsPerTopic
	case n < 0:
		return s, fmt.Errorf("sample.recordsPerTopic %d: must be positive (default %d)", n, DefaultRecordsPerTopic)
	case n > MaxRecordsPerTopic:
		return s, fmt.Errorf("sample.recordsPerTopic %d: at most %d records per topic may be sampled", n, MaxRecordsPerTopic)
	default:
		s.perTopic = n
	}
	if s.sampleTimeout, err = positiveDuration("sample.timeout", c.Sample.Timeout, DefaultSampleTimeout); err != nil {
		return s, err
	}
	if s.topicInclude, err = compileAnchored("sample.topicInclude", c.Sample.TopicInclude); err != nil {
		return s, err
	}
	if s.topicExclude, err = compileAnchored("sample.topicExclude", c.Sample.TopicExclude); err != nil {
		return s, err
	}
	return s, nil
}

func (c *Config) validateAuth() error {
	basic := c.Username != "" || c.Password != "" || c.PasswordFile != ""
	bearer := c.BearerToken != "" || c.BearerTokenFile != ""
	switch {
	case basic && bearer:
		return errors.New("bearerToken and username/password are mutually exclusive: use one kind of authentication")
	case c.Password != "" && c.PasswordFile != "":
		return errors.New("password and passwordFile are mutually exclusive")
	case c.BearerToken != "" && c.BearerTokenFile != "":
		return errors.New("bearerToken and bearerTokenFile are mutually exclusive")
	case c.Username == "" && (c.Password != "" || c.PasswordFile != ""):
		return errors.New("username: required when a password is set")
	case c.Username != "" && c.Password == "" && c.PasswordFile == "":
		return errors.New("password or passwordFile: required with username")
	}
	return nil
}

func (t TLSConfig) validate(https bool) error {
	if !https {
		for _, f := range []struct{ name, val string }{{"caFile", t.CAFile}, {"certFile", t.CertFile}, {"keyFile", t.KeyFile}} {
			if f.val != "" {
				return fmt.Errorf("tls.%s is set but no url uses https", f.name)
			}
		}
		if t.InsecureSkipVerify {
			return errors.New("tls.insecureSkipVerify is set but no url uses https")
		}
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("tls.certFile and tls.keyFile go together: set both for mutual TLS, or neither")
	}
	return nil
}

func positiveDuration(field, raw string, def time.Duration) (time.Duration, error) {
	if raw == "" {
		return def, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf(`%s %q: not a duration; use a Go duration such as "10s"`, field, raw)
	}
	if d <= 0 {
		return 0, fmt.Errorf(`%s %q: must be positive, e.g. "10s"`, field, raw)
	}
	return d, nil
}

func compileAnchored(field string, exprs []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(exprs))
	for i, e := range exprs {
		re, err := regexp.Compile(`^(?:` + e + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%s[%d] %q: not a valid regular expression (RE2 syntax): %w", field, i, e, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// selected reports whether name passes include (empty means all) and not
// exclude.
func selected(name string, include, exclude []*regexp.Regexp) bool {
	for _, re := range exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(include) == 0 {
		return true
	}
	for _, re := range include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// New builds the crawler of env.Source. It checks that Cluster names a
// configured source of kind kafka (when env.Sources is set) and, while
// sampling is enabled, that its configuration implements KafkaClientConfig.
// It does no I/O.
func (c *Config) New(env crawlers.Env) (crawlers.Crawler, error) {
	if err := catalog.ValidateSource(env.Source); err != nil {
		return nil, err
	}
	s, err := c.compile()
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: %w", env.Source, err)
	}
	opts := Options{Config: *c, Source: env.Source, Logger: env.Logger}
	if env.Sources == nil {
		if s.sample {
			return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: sampling needs the Kafka source %q, and no source lookup was given; set sample.enabled: false", env.Source, c.Cluster)
		}
		return NewCrawler(opts)
	}
	spec, ok := env.Sources(c.Cluster)
	if !ok {
		return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: cluster: no source named %q is configured", env.Source, c.Cluster)
	}
	if spec.Kind != "kafka" {
		return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: cluster: source %q is of kind %q, not kafka", env.Source, c.Cluster, spec.Kind)
	}
	if s.sample {
		kc, ok := spec.Config.(KafkaClientConfig)
		if !ok {
			return nil, catalog.Errorf(catalog.Invalid, "schemaregistry source %s: cluster: the configuration of source %q cannot give Kafka client options to sample records; set sample.enabled: false", env.Source, c.Cluster)
		}
		opts.KafkaOptions = kc.ClientOptions
	}
	return NewCrawler(opts)
}
