package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/watershed-data/watershed/catalog"
)

// TestCrawlSASL connects with each supported mechanism to a kfake cluster
// that requires SASL, and fails clearly with wrong or missing credentials.
func TestCrawlSASL(t *testing.T) {
	c := newCluster(t,
		kfake.NumBrokers(1),
		kfake.EnableSASL(),
		kfake.Superuser(MechanismScramSHA512, "svc-512", "s3cret-512"),
		kfake.Superuser(MechanismScramSHA256, "svc-256", "s3cret-256"),
		kfake.Superuser(MechanismPlain, "svc-plain", "s3cret-plain"),
	)
	createTopic(t, scramAdmin(t, c, "svc-256", "s3cret-256"), 1, 1, nil, "orders")
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte("s3cret-512\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		sasl    SASLConfig
		timeout string
		wantErr string
	}{
		{"SCRAM-SHA-512", SASLConfig{Mechanism: MechanismScramSHA512, Username: "svc-512", Password: "s3cret-512"}, "", ""},
		{"SCRAM-SHA-512 from a password file", SASLConfig{Mechanism: MechanismScramSHA512, Username: "svc-512", PasswordFile: pwFile}, "", ""},
		{"SCRAM-SHA-256", SASLConfig{Mechanism: MechanismScramSHA256, Username: "svc-256", Password: "s3cret-256"}, "", ""},
		{"PLAIN", SASLConfig{Mechanism: MechanismPlain, Username: "svc-plain", Password: "s3cret-plain"}, "", ""},
		{"wrong password", SASLConfig{Mechanism: MechanismScramSHA512, Username: "svc-512", Password: "nope"}, "1s", "crawl kafka source prod"}, // kfake drops the connection; Kafka answers SASL_AUTHENTICATION_FAILED
		{"no credentials", SASLConfig{}, "1s", "crawl kafka source prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFor(c)
			cfg.SASL = tc.sasl
			if tc.timeout != "" {
				cfg.Timeout = tc.timeout
			}
			s, err := crawlErr(t, cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("crawl: %v", err)
				}
				mustAsset(t, s, topicURN("orders"))
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v; want it to contain %q", err, tc.wantErr)
			}
			if catalog.KindOf(err) != catalog.Unavailable {
				t.Errorf("error kind %v", catalog.KindOf(err))
			}
		})
	}
}

// TestCrawlUnreachable: nothing answers at the bootstrap address; the crawl
// fails within the configured timeout and says where it tried.
func TestCrawlUnreachable(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	// A listener that accepts connections and never answers, like a
	// firewall that swallows packets or a wedged broker.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		silent.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})

	for _, tc := range []struct {
		name, addr string
	}{
		{"connection refused", closedAddr},
		{"no answer", silent.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := crawlErr(t, Config{Bootstrap: []string{tc.addr}, Timeout: "1s"})
			took := time.Since(start)
			if err == nil {
				t.Fatal("crawl succeeded")
			}
			if took > 3*time.Second {
				t.Errorf("took %v; the timeout is 1s", took)
			}
			if catalog.KindOf(err) != catalog.Unavailable || !strings.Contains(err.Error(), tc.addr) {
				t.Errorf("error %v (kind %v)", err, catalog.KindOf(err))
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

// TestCrawlTLS connects over TLS with a CA file, and fails without it.
func TestCrawlTLS(t *testing.T) {
	dir := t.TempDir()
	serverCert, caFile := testCA(t, dir)
	c := newCluster(t, kfake.NumBrokers(1), kfake.TLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}))

	for _, tc := range []struct {
		name    string
		tls     TLSConfig
		wantErr bool
	}{
		{"trusted CA", TLSConfig{Enabled: true, CAFile: caFile}, false},
		{"insecure skip verify", TLSConfig{Enabled: true, InsecureSkipVerify: true}, false},
		{"unknown CA", TLSConfig{Enabled: true}, true},
		{"plaintext to a TLS listener", TLSConfig{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFor(c)
			cfg.TLS = tc.tls
			if tc.wantErr {
				cfg.Timeout = "1s"
			}
			s, err := crawlErr(t, cfg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("crawl succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("crawl: %v", err)
			}
			if len(assetURNs(s, catalog.KindBroker)) != 1 {
				t.Errorf("brokers %v", assetURNs(s, catalog.KindBroker))
			}
		})
	}
}

// testCA writes a CA certificate to dir and returns a server certificate for
// 127.0.0.1 signed by it, and the CA file's path.
func testCA(t *testing.T, dir string) (tls.Certificate, string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "watershed test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kafka"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}
