package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

// DefaultTimeout bounds each step of a crawl (dialing, one request with its
// retries) when Config.Timeout is empty.
const DefaultTimeout = 10 * time.Second

// DefaultClientID is the Kafka client id the crawler presents when
// Config.ClientID is empty. Brokers log it and quotas may key on it.
const DefaultClientID = "watershed-crawler"

// SASL mechanisms a Config may name.
const (
	MechanismPlain       = "PLAIN"
	MechanismScramSHA256 = "SCRAM-SHA-256"
	MechanismScramSHA512 = "SCRAM-SHA-512"
)

// Kind describes the "kafka" source kind: it crawls one Kafka cluster and
// emits its cluster, brokers, topics, consumer groups, ACL principals and the
// Kafka Streams applications inferred from internal topics. NewConfig
// returns a *Config.
func Kind() crawlers.Kind {
	return crawlers.Kind{
		Name:        "kafka",
		Description: "A Kafka cluster: brokers, topics and their configs, consumer groups with lag, ACLs, Kafka Streams applications",
		Emits: []catalog.Kind{
			catalog.KindKafkaCluster,
			catalog.KindBroker,
			catalog.KindTopic,
			catalog.KindConsumerGroup,
			catalog.KindPrincipal,
			catalog.KindJob,
		},
		NewConfig: func() crawlers.Config { return &Config{} },
	}
}

// Config is the configuration of one Kafka source, decoded from the
// source's YAML mapping as JSON. The zero value is not valid: Bootstrap is
// required. Validate reports the first problem; it reads no files.
type Config struct {
	// Bootstrap lists host:port addresses of brokers to connect through.
	Bootstrap []string `json:"bootstrap"`
	// Aliases lists other host:port names of this cluster (load balancer,
	// advertised listeners) so that OpenLineage namespaces such as
	// kafka://broker-1:9092 resolve to this source.
	Aliases []string `json:"aliases,omitempty"`
	// ClientID is the Kafka client id; DefaultClientID when empty.
	ClientID string `json:"clientId,omitempty"`
	// TLS configures encryption; disabled unless Enabled is true.
	TLS TLSConfig `json:"tls"`
	// SASL configures authentication; disabled when Mechanism is empty.
	SASL SASLConfig `json:"sasl"`
	// Timeout is a Go duration ("10s", "1m") bounding each step of a
	// crawl: dialing a broker, waiting for a response, and each request
	// including its retries. DefaultTimeout when empty.
	Timeout string `json:"timeout,omitempty"`
	// IncludeInternal also catalogues the topics the brokers flag as
	// internal (__consumer_offsets, __transaction_state). Kafka Streams'
	// changelog and repartition topics are ordinary topics to Kafka and are
	// always catalogued.
	IncludeInternal bool `json:"includeInternal,omitempty"`
	// TopicInclude, when non-empty, catalogues only topics whose whole name
	// matches at least one of these regular expressions (RE2 syntax,
	// anchored at both ends).
	TopicInclude []string `json:"topicInclude,omitempty"`
	// TopicExclude leaves out topics whose whole name matches any of these
	// regular expressions; it wins over TopicInclude.
	TopicExclude []string `json:"topicExclude,omitempty"`
}

// TLSConfig configures TLS to the brokers.
type TLSConfig struct {
	// Enabled turns TLS on. The other fields are refused while it is false.
	Enabled bool `json:"enabled,omitempty"`
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are a PEM client certificate and its key for
	// mutual TLS; set both or neither.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// ServerName overrides the name verified in the server certificate
	// (by default the host being dialed).
	ServerName string `json:"serverName,omitempty"`
}

// SASLConfig configures SASL authentication.
type SASLConfig struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty disables SASL.
	Mechanism string `json:"mechanism,omitempty"`
	Username  string `json:"username,omitempty"`
	// Password, or PasswordFile naming a file that holds it (trailing
	// newlines are trimmed). Set exactly one. The file is read at every
	// crawl, so a rotated secret is picked up without a restart.
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
}

// Validate reports the first problem with c in terms a user can act on. It
// does not read the files c names; ClientOptions does.
func (c *Config) Validate() error {
	_, err := c.compile()
	return err
}

// settings is a validated Config in usable form.
type settings struct {
	timeout time.Duration
	include []*regexp.Regexp
	exclude []*regexp.Regexp
}

func (c *Config) compile() (settings, error) {
	var s settings
	if len(c.Bootstrap) == 0 {
		return s, errors.New(`bootstrap: at least one broker address is required, e.g. bootstrap: ["broker-1:9092"]`)
	}
	for i, a := range c.Bootstrap {
		if err := validHostPort(a); err != nil {
			return s, fmt.Errorf("bootstrap[%d] %q: %w", i, a, err)
		}
	}
	for i, a := range c.Aliases {
		if err := validHostPort(a); err != nil {
			return s, fmt.Errorf("aliases[%d] %q: %w", i, a, err)
		}
	}
	s.timeout = DefaultTimeout
	if c.Timeout != "" {
		d, err := time.ParseDuration(c.Timeout)
		if err != nil {
			return s, fmt.Errorf(`timeout %q: not a duration; use a Go duration such as "10s" or "1m"`, c.Timeout)
		}
		if d <= 0 {
			return s, fmt.Errorf(`timeout %q: must be positive, e.g. "10s"`, c.Timeout)
		}
		s.timeout = d
	}
	var err error
	if s.include, err = compileAnchored("topicInclude", c.TopicInclude); err != nil {
		return s, err
	}
	if s.exclude, err = compileAnchored("topicExclude", c.TopicExclude); err != nil {
		return s, err
	}
	if err := c.TLS.validate(); err != nil {
		return s, err
	}
	if err := c.SASL.validate(); err != nil {
		return s, err
	}
	return s, nil
}

func validHostPort(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return errors.New(`must be host:port, e.g. "broker-1:9092"`)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q must be a number from 1 to 65535", port)
	}
	return nil
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

func (t TLSConfig) validate() error {
	if !t.Enabled {
		for _, f := range []struct{ name, val string }{
			{"caFile", t.CAFile}, {"certFile", t.CertFile}, {"keyFile", t.KeyFile}, {"serverName", t.ServerName},
		} {
			if f.val != "" {
				return fmt.Errorf("tls.%s is set but tls.enabled is false; set tls.enabled: true to use TLS", f.name)
			}
		}
		if t.InsecureSkipVerify {
			return errors.New("tls.insecureSkipVerify is set but tls.enabled is false; set tls.enabled: true to use TLS")
		}
		return nil
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("tls.certFile and tls.keyFile go together: set both for mutual TLS, or neither")
	}
	return nil
}

func (s SASLConfig) validate() error {
	if s.Mechanism == "" {
		if s.Username != "" || s.Password != "" || s.PasswordFile != "" {
			return errors.New("sasl.mechanism is required when SASL credentials are set: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
		}
		return nil
	}
	switch s.Mechanism {
	case MechanismPlain, MechanismScramSHA256, MechanismScramSHA512:
	default:
		if u := strings.ToUpper(s.Mechanism); u == MechanismPlain || u == MechanismScramSHA256 || u == MechanismScramSHA512 {
			return fmt.Errorf("sasl.mechanism %q: write it as %q", s.Mechanism, u)
		}
		return fmt.Errorf("sasl.mechanism %q is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", s.Mechanism)
	}
	if s.Username == "" {
		return fmt.Errorf("sasl.username is required with sasl.mechanism %s", s.Mechanism)
	}
	switch {
	case s.Password != "" && s.PasswordFile != "":
		return errors.New("sasl.password and sasl.passwordFile are both set: keep one")
	case s.Password == "" && s.PasswordFile == "":
		return fmt.Errorf("sasl.password or sasl.passwordFile is required with sasl.mechanism %s", s.Mechanism)
	}
	return nil
}

// ClientOptions returns the franz-go options that connect to this cluster:
// seed brokers, client id, dial, response and retry timeouts, TLS and SASL. Other
// crawlers (the Schema Registry crawler sampling records) reuse them and add
// their own. It reads the files c names (CA, client certificate, password)
// every time it is called, and returns an error naming the field when one
// cannot be read or parsed, or when c is invalid.
func (c *Config) ClientOptions() ([]kgo.Opt, error) {
	s, err := c.compile()
	if err != nil {
		return nil, err
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = DefaultClientID
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Bootstrap...),
		kgo.ClientID(clientID),
		kgo.DialTimeout(s.timeout),
		// Bounds reading any response, including the connection's first
		// (ApiVersions, SASL), which no context cancels.
		kgo.RequestTimeoutOverhead(s.timeout),
		kgo.RetryTimeout(s.timeout),
	}
	if c.TLS.Enabled {
		tc, err := c.TLS.load()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		password := c.SASL.Password
		if c.SASL.PasswordFile != "" {
			b, err := os.ReadFile(c.SASL.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("sasl.passwordFile: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
			if password == "" {
				return nil, fmt.Errorf("sasl.passwordFile %s is empty", c.SASL.PasswordFile)
			}
		}
		switch c.SASL.Mechanism {
		case MechanismPlain:
			opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.Username, Pass: password}.AsMechanism()))
		case MechanismScramSHA256:
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: password}.AsSha256Mechanism()))
		case MechanismScramSHA512:
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: password}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

func (t TLSConfig) load() (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.caFile %s: no PEM certificate found", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.certFile/keyFile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// New builds the crawler of env.Source. It validates c and env.Source and
// does no I/O: connections are opened by each Crawl and closed before it
// returns, so the crawler holds no resources between crawls.
func (c *Config) New(env crawlers.Env) (crawlers.Crawler, error) {
	if err := catalog.ValidateSource(env.Source); err != nil {
		return nil, err
	}
	s, err := c.compile()
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "kafka source %s: %w", env.Source, err)
	}
	return newCrawler(*c, s, env), nil
}
