// Package connect crawls a Kafka Connect cluster through its REST API and
// turns what it finds into catalog assets and lineage: the Connect cluster,
// every connector (config with secrets redacted, state, tasks), the
// databases, tables and columns that CDC and JDBC sources read, the tables
// and datasets that sinks write, and field-level lineage between columns and
// topic fields computed by applying each connector's SMT chain.
//
// See README.md in this folder for the supported connector classes and
// transformations, the URN mapping, confidence levels and known limits.
package connect

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// KindName is the value of `kind:` for Kafka Connect sources.
const KindName = "connect"

// DefaultTimeout bounds each REST request when Config.Timeout is unset.
const DefaultTimeout = 10 * time.Second

// Kind describes the connect crawler: its name, what it emits and how to
// decode its configuration.
func Kind() crawlers.Kind {
	return crawlers.Kind{
		Name:        KindName,
		Description: "Kafka Connect: connectors, configs (secrets redacted), state, CDC and sink lineage down to columns and fields",
		Emits: []catalog.Kind{
			catalog.KindConnectCluster, catalog.KindConnector,
			catalog.KindDatabase, catalog.KindTable, catalog.KindColumn, catalog.KindDataset,
		},
		NewConfig: func() crawlers.Config { return &Config{} },
	}
}

// Config is the configuration of one Kafka Connect source.
type Config struct {
	// URL is the base URL of any worker of the Connect cluster,
	// e.g. "http://connect:8083". Required.
	URL string `json:"url"`
	// Cluster is the configured name of the Kafka source whose topics the
	// connectors read and write. Required.
	Cluster string `json:"cluster"`
	// Username and Password (or PasswordFile, read at every crawl so that
	// rotation needs no restart) enable HTTP basic authentication.
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	// TLS configures https URLs.
	TLS TLSConfig `json:"tls"`
	// Timeout bounds each REST request, as a Go duration ("10s"); empty
	// means DefaultTimeout.
	Timeout string `json:"timeout,omitempty"`
	// Headers are sent with every request (e.g. a proxy's token).
	Headers map[string]string `json:"headers,omitempty"`
}

// TLSConfig configures TLS for https URLs.
type TLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the worker's certificate;
	// empty means the system roots.
	CAFile string `json:"caFile,omitempty"`
	// InsecureSkipVerify disables certificate verification. For tests only.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
}

// Validate reports the first problem with c in terms a user can act on.
func (c *Config) Validate() error {
	if c.URL == "" {
		return errors.New("url: the Kafka Connect REST URL is required (e.g. http://connect:8083)")
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url: scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" {
		return fmt.Errorf("url: %q has no host", c.URL)
	}
	if u.User != nil {
		return errors.New("url: put credentials in username and password (or passwordFile), not in the URL")
	}
	if c.Cluster == "" {
		return errors.New("cluster: the name of the Kafka source whose topics the connectors use is required")
	}
	if err := catalog.ValidateSource(c.Cluster); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if c.Password != "" && c.PasswordFile != "" {
		return errors.New("password and passwordFile are mutually exclusive")
	}
	if (c.Password != "" || c.PasswordFile != "") && c.Username == "" {
		return errors.New("username: required when a password is set")
	}
	if _, err := c.timeout(); err != nil {
		return err
	}
	for k := range c.Headers {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " :\r\n") {
			return fmt.Errorf("headers: %q is not a valid header name", k)
		}
	}
	return nil
}

func (c *Config) timeout() (time.Duration, error) {
	if c.Timeout == "" {
		return DefaultTimeout, nil
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil {
		return 0, fmt.Errorf("timeout: %w", err)
	}
	if d <= 0 {
		return 0, fmt.Errorf("timeout: must be positive, not %s", c.Timeout)
	}
	return d, nil
}

// New builds the crawler for env.Source. It does no I/O. When env.Catalog is
// set, topic fields and the cluster's topics are read from it to derive
// field-level lineage and to resolve topics.regex.
func (c *Config) New(env crawlers.Env) (crawlers.Crawler, error) {
	if env.Sources != nil {
		spec, ok := env.Sources(c.Cluster)
		if !ok {
			return nil, fmt.Errorf("cluster: no source named %q is configured", c.Cluster)
		}
		if spec.Kind != "kafka" {
			return nil, fmt.Errorf("cluster: source %q is of kind %q, not kafka", c.Cluster, spec.Kind)
		}
	}
	opts := Options{Config: *c, Source: env.Source, Logger: env.Logger}
	if env.Catalog != nil {
		lookup := NewCatalogLookup(env.Catalog)
		opts.Schemas, opts.Topics = lookup, lookup
	}
	return NewCrawler(opts)
}
