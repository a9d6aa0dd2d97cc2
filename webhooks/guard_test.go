package webhooks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/watershed-data/watershed/catalog"
)

// fakeResolver answers from a script: the i-th lookup of a host gets
// answers[host][min(i, last)].
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][][]string
	calls   map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	script, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	i := r.calls[host]
	r.calls[host]++
	if i >= len(script) {
		i = len(script) - 1
	}
	var out []netip.Addr
	for _, a := range script[i] {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestGuardRefusesHostileURLs(t *testing.T) {
	res := &fakeResolver{answers: map[string][][]string{
		"internal.example.com": {{"10.1.2.3"}},
		"mixed.example.com":    {{"93.184.216.34", "192.168.1.1"}},
		"public.example.com":   {{"93.184.216.34"}},
		"v6.example.com":       {{"2606:2800:220:1:248:1893:25c8:1946"}},
		"ula.example.com":      {{"fd00:ec2::254"}},
	}}
	g := &Guard{Resolver: res}
	refused := []string{
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:127.0.0.1]/",
		"http://[::ffff:169.254.169.254]/",
		"http://[64:ff9b::a9fe:a9fe]/", // NAT64 of 169.254.169.254
		"http://0.0.0.0/",
		"http://127.0.0.1:8080/",
		"http://[::1]/",
		"http://100.64.0.1/",
		"http://10.0.0.5/",
		"http://172.16.3.4/",
		"http://192.168.0.1/",
		"http://[fe80::1]/",
		"http://[fd12:3456::1]/",
		"http://2130706433/",    // 127.0.0.1 in decimal
		"http://0177.0.0.1/",    // octal
		"http://0x7f000001/",    // hex
		"http://0x7f.1/",        // two-part hex
		"http://169.254.43518/", // 169.254.169.254, three parts
		"http://localhost/",
		"http://internal.example.com/hook",
		"http://mixed.example.com/hook", // every resolved address is checked
		"http://ula.example.com/",
		"ftp://public.example.com/",
		"http://user:pw@public.example.com/",
		"http:///nohost",
		"http://unknown.example.com/",
	}
	for _, u := range refused {
		if _, err := g.CheckURL(context.Background(), u); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
	for _, u := range []string{"https://public.example.com/hooks/x?y=1", "http://v6.example.com:8443/", "https://93.184.216.34/"} {
		if _, err := g.CheckURL(context.Background(), u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	// An operator's allowlist opens exactly its CIDRs.
	g.Allow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if _, err := g.CheckURL(context.Background(), "http://internal.example.com/hook"); err != nil {
		t.Errorf("allowlisted 10/8: %v", err)
	}
	if _, err := g.CheckURL(context.Background(), "http://192.168.0.1/"); err == nil {
		t.Error("192.168.0.1 accepted with only 10/8 allowlisted")
	}
	if _, err := g.CheckURL(context.Background(), "http://169.254.169.254/"); catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("metadata address: err %v, want Invalid", err)
	}
}

func TestGuardPinsTheCheckedAddress(t *testing.T) {
	// A receiver on loopback stands for an internal service; the name first
	// resolves to a public address (the create-time check passes), then to
	// loopback (rebinding). The connection must be refused, and the
	// internal service must see nothing.
	var hits int
	var mu sync.Mutex
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	defer internal.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(internal.URL, "http://"))
	res := &fakeResolver{answers: map[string][][]string{"rebind.example.com": {{"93.184.216.34"}, {"127.0.0.1"}}}}
	g := &Guard{Resolver: res}
	url := "http://rebind.example.com:" + port + "/hook"
	if _, err := g.CheckURL(context.Background(), url); err != nil {
		t.Fatalf("create-time check: %v", err)
	}
	client := &http.Client{Transport: &http.Transport{DialContext: g.DialContext, Proxy: nil}}
	resp, err := client.Post(url, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatal("the rebound name was dialed")
	}
	if catalog.KindOf(err) != catalog.Invalid {
		t.Errorf("dial error %v, want the guard's Invalid", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 0 {
		t.Errorf("internal service got %d requests", hits)
	}
}

func TestLegacyIPv4(t *testing.T) {
	for in, want := range map[string]string{
		"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f000001": "127.0.0.1",
		"0x7f.1": "127.0.0.1", "127.1": "127.0.0.1", "169.254.43518": "169.254.169.254", "010.0.0.1": "8.0.0.1",
	} {
		got, ok := legacyIPv4(in)
		if !ok || got.String() != want {
			t.Errorf("legacyIPv4(%q) = %v, %v; want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"example.com", "1.2.3.4.5", "256.1.1.1", "0x", "a.b", ""} {
		if got, ok := legacyIPv4(in); ok {
			t.Errorf("legacyIPv4(%q) = %v, want no address", in, got)
		}
	}
}
