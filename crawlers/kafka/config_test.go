package kafka

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/watershed-data/watershed/catalog"
	"github.com/watershed-data/watershed/crawlers"
)

func TestKind(t *testing.T) {
	k := Kind()
	if k.Name != "kafka" || k.Description == "" {
		t.Errorf("kind %+v", k)
	}
	want := []catalog.Kind{catalog.KindKafkaCluster, catalog.KindBroker, catalog.KindTopic, catalog.KindConsumerGroup, catalog.KindPrincipal, catalog.KindJob}
	if !slices.Equal(k.Emits, want) {
		t.Errorf("emits %v", k.Emits)
	}
	if _, ok := k.NewConfig().(*Config); !ok {
		t.Errorf("NewConfig returns %T", k.NewConfig())
	}
	crawlers.NewRegistry(k) // registers without panicking
	if _, err := k.DecodeConfig(json.RawMessage(`{"bootstrap":["a:9092"],"bootstrapServers":"a:9092"}`)); err == nil || !strings.Contains(err.Error(), "bootstrapServers") {
		t.Errorf("unknown key accepted: %v", err)
	}
}

// TestConfigFixture decodes the realistic full source config in testdata.
func TestConfigFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/source-full.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Kind().DecodeConfig(raw)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	c := cfg.(*Config)
	if c.SASL.Mechanism != MechanismScramSHA512 || len(c.Aliases) != 2 || !c.TLS.Enabled {
		t.Errorf("decoded %+v", c)
	}
	// The TLS files do not exist here: ClientOptions names the field.
	if _, err := c.ClientOptions(); err == nil || !strings.Contains(err.Error(), "tls.caFile") {
		t.Errorf("ClientOptions: %v", err)
	}
	c.TLS = TLSConfig{}
	opts, err := c.ClientOptions()
	if err != nil || len(opts) < 5 {
		t.Errorf("ClientOptions: %d options, %v", len(opts), err)
	}
	if _, err := c.New(crawlers.Env{Source: "prod"}); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		json string
		want string // substring of the error; "" means valid
	}{
		{"minimal", `{"bootstrap":["broker-1:9092"]}`, ""},
		{"everything", `{"bootstrap":["b1:9092","b2:9093"],"aliases":["lb:9092"],"clientId":"x","timeout":"30s",
			"tls":{"enabled":true,"insecureSkipVerify":true},"sasl":{"mechanism":"PLAIN","username":"u","password":"p"},
			"topicInclude":["orders.*"],"topicExclude":["tmp"],"includeInternal":true}`, ""},
		{"no bootstrap", `{}`, "bootstrap: at least one broker address is required"},
		{"empty bootstrap", `{"bootstrap":[]}`, "bootstrap: at least one broker address is required"},
		{"bootstrap without port", `{"bootstrap":["broker-1"]}`, `bootstrap[0] "broker-1": must be host:port`},
		{"bootstrap with bad port", `{"bootstrap":["b:1","b:99999"]}`, `bootstrap[1] "b:99999": port "99999" must be a number from 1 to 65535`},
		{"bad alias", `{"bootstrap":["b:1"],"aliases":["kafka://b:1"]}`, `aliases[0] "kafka://b:1": must be host:port`},
		{"bad include regex", `{"bootstrap":["b:1"],"topicInclude":["orders(", "x"]}`, `topicInclude[0] "orders(": not a valid regular expression`},
		{"bad exclude regex", `{"bootstrap":["b:1"],"topicExclude":["ok","*bad"]}`, `topicExclude[1] "*bad": not a valid regular expression`},
		{"unknown mechanism", `{"bootstrap":["b:1"],"sasl":{"mechanism":"GSSAPI","username":"u","password":"p"}}`, `sasl.mechanism "GSSAPI" is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`},
		{"lower-case mechanism", `{"bootstrap":["b:1"],"sasl":{"mechanism":"scram-sha-256","username":"u","password":"p"}}`, `write it as "SCRAM-SHA-256"`},
		{"credentials without mechanism", `{"bootstrap":["b:1"],"sasl":{"username":"u","password":"p"}}`, "sasl.mechanism is required"},
		{"mechanism without username", `{"bootstrap":["b:1"],"sasl":{"mechanism":"PLAIN","password":"p"}}`, "sasl.username is required"},
		{"mechanism without password", `{"bootstrap":["b:1"],"sasl":{"mechanism":"SCRAM-SHA-512","username":"u"}}`, "sasl.password or sasl.passwordFile is required"},
		{"password twice", `{"bootstrap":["b:1"],"sasl":{"mechanism":"PLAIN","username":"u","password":"p","passwordFile":"/f"}}`, "both set"},
		{"tls file while disabled", `{"bootstrap":["b:1"],"tls":{"caFile":"/ca.pem"}}`, "tls.caFile is set but tls.enabled is false"},
		{"cert without key", `{"bootstrap":["b:1"],"tls":{"enabled":true,"certFile":"/c.pem"}}`, "tls.certFile and tls.keyFile go together"},
		{"timeout not a duration", `{"bootstrap":["b:1"],"timeout":"10"}`, `timeout "10": not a duration`},
		{"negative timeout", `{"bootstrap":["b:1"],"timeout":"-1s"}`, `timeout "-1s": must be positive`},
		{"timeout as number", `{"bootstrap":["b:1"],"timeout":10}`, "decode kafka source config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Kind().DecodeConfig(json.RawMessage(tc.json))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want it to contain %q", err, tc.want)
			}
			if catalog.KindOf(err) != catalog.Invalid {
				t.Errorf("error kind %v; want Invalid", catalog.KindOf(err))
			}
		})
	}

	t.Run("New refuses what Validate refuses", func(t *testing.T) {
		if _, err := (&Config{}).New(crawlers.Env{Source: "prod"}); err == nil {
			t.Error("New accepted an empty config")
		}
		if _, err := (&Config{Bootstrap: []string{"b:1"}}).New(crawlers.Env{Source: "bad name"}); err == nil {
			t.Error("New accepted an invalid source name")
		}
	})

	t.Run("ClientOptions reads the password file", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ file, want string }{
			{filepath.Join(dir, "missing"), "sasl.passwordFile: open"},
			{empty, "is empty"},
		} {
			c := Config{Bootstrap: []string{"b:1"}, SASL: SASLConfig{Mechanism: MechanismPlain, Username: "u", PasswordFile: tc.file}}
			if _, err := c.ClientOptions(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v; want %q", tc.file, err, tc.want)
			}
		}
	})
}

func TestEscapeIdentity(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"orders", "orders"},
		{"connect-s3-sink", "connect-s3-sink"},
		{"team/app.v2_consumer", "team/app.v2_consumer"},
		{"User:CN=alice, OU=eng", "User:CN=alice,%20OU=eng"},
		{"100%", "100%25"},
		{"tab\there", "tab%09here"},
		{"grüppe", "grüppe"},
		{"bad\xffutf8", "bad%FFutf8"},
	} {
		got := EscapeIdentity(tc.in)
		if got != tc.want {
			t.Errorf("EscapeIdentity(%q) = %q; want %q", tc.in, got, tc.want)
		}
		if err := GroupURN("prod", tc.in).Validate(); err != nil {
			t.Errorf("GroupURN(%q) invalid: %v", tc.in, err)
		}
	}
}
