package webhooks

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/watershed-data/watershed/catalog"
)

// Resolver looks up the addresses of a host name (net.Resolver satisfies
// it). Tests use one that answers differently on each lookup.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard refuses webhook destinations a server should never reach on behalf
// of an API caller: loopback, private (RFC 1918), link-local (with the cloud
// metadata service at 169.254.169.254), CGNAT (100.64.0.0/10), IPv6 unique
// local and link-local, IPv4-mapped and NAT64 forms of any of those,
// unspecified, multicast, broadcast and reserved ranges — unless an operator
// allowlists a CIDR. It checks at create time (URL) and on every connection
// (Dial): every address a name resolves to must be allowed, and the dial goes
// to the address that was checked, so a DNS answer that changes between the
// check and the connection (rebinding) cannot redirect it.
type Guard struct {
	Allow    []netip.Prefix
	Resolver Resolver
}

// blocked lists the ranges refused by default.
var blocked = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/23", "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// CheckAddr reports why a may not be reached, or nil.
func (g *Guard) CheckAddr(a netip.Addr) error {
	a = a.WithZone("")
	for _, p := range g.Allow {
		if p.Contains(a) || (a.Is4In6() && p.Contains(a.Unmap())) {
			return nil
		}
	}
	// Mapped and translated IPv4 forms are judged by the IPv4 they carry.
	if a.Is4In6() {
		return g.CheckAddr(a.Unmap())
	}
	if p := netip.MustParsePrefix("64:ff9b::/96"); p.Contains(a) {
		b := a.As16()
		return g.CheckAddr(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return catalog.Errorf(catalog.Invalid, "destination %s is in %s, which webhooks may not reach (allowlist it in webhooks.allow)", a, p)
		}
	}
	return nil
}

// CheckURL validates a webhook URL: http or https, a host, no user info,
// no numeric host in a non-canonical form, and every address the host
// resolves to allowed.
func (g *Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, catalog.Errorf(catalog.Invalid, "webhook URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, catalog.Errorf(catalog.Invalid, "webhook URL %q: the scheme must be http or https", raw)
	}
	if u.User != nil {
		return nil, catalog.Errorf(catalog.Invalid, "webhook URL: user info is not allowed (use the signing secret)")
	}
	host := u.Hostname()
	if host == "" {
		return nil, catalog.Errorf(catalog.Invalid, "webhook URL %q has no host", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, catalog.Errorf(catalog.Invalid, "webhook URL %q: bad port", raw)
		}
	}
	if len(raw) > 2048 {
		return nil, catalog.Errorf(catalog.Invalid, "webhook URL is longer than 2048 bytes")
	}
	if _, err := g.resolve(ctx, host); err != nil {
		return nil, err
	}
	return u, nil
}

// resolve returns the addresses of host, all checked.
func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if err := g.CheckAddr(a); err != nil {
			return nil, err
		}
		return []netip.Addr{a}, nil
	}
	if a, ok := legacyIPv4(host); ok {
		// 2130706433, 0177.0.0.1, 0x7f.1: forms inet_aton accepts and
		// some resolvers turn into addresses. Never a real host name.
		return nil, catalog.Errorf(catalog.Invalid, "webhook host %q is a non-canonical spelling of %s; write the address in dotted decimal", host, a)
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") || strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), ".localhost") {
		if err := g.CheckAddr(netip.MustParseAddr("127.0.0.1")); err != nil {
			return nil, err
		}
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, catalog.Errorf(catalog.Unavailable, "resolve webhook host %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, catalog.Errorf(catalog.Unavailable, "resolve webhook host %s: no addresses", host)
	}
	for _, a := range addrs {
		if err := g.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("webhook host %s resolves to %s: %w", host, a, err)
		}
	}
	return addrs, nil
}

// DialContext resolves addr's host, checks every address, and connects to a
// checked address only. Use it as http.Transport.DialContext.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{
		// A last check on the socket's own address: what is dialed is what
		// was checked, whatever a resolver does in between.
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			return g.CheckAddr(ap.Addr())
		},
	}
	var lastErr error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// legacyIPv4 parses the numeric host forms inet_aton accepts beyond dotted
// decimal: one to four parts, each decimal, octal (leading 0) or hex (0x).
func legacyIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 || host == "" {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		digits := p
		switch {
		case strings.HasPrefix(strings.ToLower(p), "0x"):
			base, digits = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, digits = 8, p[1:]
		}
		if digits == "" {
			if base == 16 {
				return netip.Addr{}, false
			}
			digits = "0"
		}
		v, err := strconv.ParseUint(digits, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
	case 2:
		if vals[0] > 255 || vals[1] > 0xffffff {
			return netip.Addr{}, false
		}
		n = vals[0]<<24 | vals[1]
	case 3:
		if vals[0] > 255 || vals[1] > 255 || vals[2] > 0xffff {
			return netip.Addr{}, false
		}
		n = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		for _, v := range vals {
			if v > 255 {
				return netip.Addr{}, false
			}
		}
		n = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	if n > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}
