package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// ErrPrivateAddress means a URL source resolved to an address that is not on
// the public internet (loopback, private, link-local, ...) and
// Config.AllowPrivateURLs is false. It is checked when connecting, on the
// address actually dialled, so a DNS name that changes its answer between
// look-ups cannot slip past it.
var ErrPrivateAddress = errors.New("address is not public")

// nonPublic lists the prefixes IsPublicAddr refuses besides what netip's
// own predicates (loopback, private, link-local, multicast, unspecified)
// cover. IPv4-mapped addresses are unmapped before the check.
var nonPublic = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT (RFC 6598)
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"240.0.0.0/4",     // reserved, and 255.255.255.255 broadcast
		"::/128",          // unspecified
		"100::/64",        // discard-only
		"2001:db8::/32",   // documentation
		"fc00::/7",        // unique local (ULA)
		"fec0::/10",       // deprecated site-local
		"2001::/32",       // Teredo: tunnels to an IPv4 address of its own
		"64:ff9b:1::/48",  // local-use NAT64
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // well-known NAT64: an IPv4 address in the last 4 bytes
	sixToFour = netip.MustParsePrefix("2002::/16")    // 6to4: an IPv4 address in bytes 2..5
)

// IsPublicAddr reports whether ip is a public unicast address that a URL
// pre-flight may connect to. Loopback, private (RFC 1918), link-local (which
// includes cloud metadata at 169.254.169.254), unspecified, multicast,
// broadcast, carrier-grade NAT (100.64.0.0/10), IPv6 unique local, reserved
// and documentation ranges are not; IPv4-mapped, NAT64 and 6to4 addresses are
// judged by the IPv4 address they carry.
func IsPublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return IsPublicAddr(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return IsPublicAddr(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// addrError is the dial error of a refused address.
type addrError struct{ ip netip.Addr }

func (e *addrError) Error() string {
	return fmt.Sprintf("%s is not a public address", e.ip)
}

func (e *addrError) Unwrap() error { return ErrPrivateAddress }

// refuseNonPublic is a net.Dialer.Control: it runs after name resolution,
// on the address about to be dialled.
func refuseNonPublic(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !IsPublicAddr(ip) {
		return &addrError{ip}
	}
	return nil
}

const (
	// urlTimeout bounds a URL check (one HEAD, or a GET of the first bytes)
	// when the caller gives no client: a healthy host answers in well under
	// a second, and a check must not stall a batch. Round.
	urlTimeout = 15 * time.Second
	// urlDialTimeout is the dial timeout and keep-alive period of the
	// guarded dialers: net/http's DefaultTransport values, kept.
	urlDialTimeout = 30 * time.Second
)

// urlClient returns the client URL sources are fetched with: hc (or a client
// with a 15 s timeout) that follows no redirect and, unless allowPrivate,
// refuses non-public addresses at dial time. A proxy from the environment
// is still used; the proxy itself may be private, and the target host is
// then checked by resolving it here, as the proxy will (a host that answers
// differently to the proxy is the proxy's business). A client whose Transport
// is not an *http.Transport cannot be guarded and is used as given.
func urlClient(hc *http.Client, allowPrivate bool) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	} else {
		c.Timeout = urlTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if allowPrivate {
		return &c
	}
	base, ok := c.Transport.(*http.Transport)
	if c.Transport == nil {
		base, ok = http.DefaultTransport.(*http.Transport)
	}
	if !ok {
		return &c
	}
	t := base.Clone()
	guarded := &net.Dialer{Timeout: urlDialTimeout, KeepAlive: urlDialTimeout, Control: refuseNonPublic}
	plain := &net.Dialer{Timeout: urlDialTimeout, KeepAlive: urlDialTimeout}
	var proxies sync.Map // host:port of proxies in use: dialled without the check
	if proxy := t.Proxy; proxy != nil {
		t.Proxy = func(req *http.Request) (*url.URL, error) {
			p, err := proxy(req)
			if p == nil || err != nil {
				return p, err
			}
			if err := checkHost(req.Context(), req.URL.Hostname()); err != nil {
				return nil, err
			}
			proxies.Store(canonicalAddr(p), true)
			return p, nil
		}
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if _, ok := proxies.Load(addr); ok {
			return plain.DialContext(ctx, network, addr)
		}
		return guarded.DialContext(ctx, network, addr)
	}
	t.DialTLSContext = nil // TLS runs over DialContext's connection
	c.Transport = t
	return &c
}

// checkHost resolves host and refuses it when any of its addresses is not
// public.
func checkHost(ctx context.Context, host string) error {
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !IsPublicAddr(ip) {
			return &addrError{ip}
		}
	}
	return nil
}

// canonicalAddr is the host:port the transport dials for proxy URL p.
func canonicalAddr(p *url.URL) string {
	port := p.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}[p.Scheme]
	}
	return net.JoinHostPort(p.Hostname(), port)
}
