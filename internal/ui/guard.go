package ui

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// TokenParam is the query parameter that carries the dashboard token in the
// URL `durascribe ui` prints; the first request with it sets a cookie.
const TokenParam = "token"

// NewToken returns a random dashboard token (32 bytes, hex).
func NewToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// IsLoopbackHost reports whether a Host header (with or without a port)
// names this machine's loopback: "localhost", an address in 127.0.0.0/8, or
// [::1]. Any other name may be an attacker's domain rebound to 127.0.0.1.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// LocalOnly wraps next so that it answers only requests a browser on this
// machine makes to it on purpose:
//
//   - the Host must name the loopback (IsLoopbackHost), else 421 Misdirected
//     Request: a page of attacker.example whose name was rebound to 127.0.0.1
//     sends "Host: attacker.example" and is refused (DNS rebinding);
//   - a request that may change state (any method but GET, HEAD, OPTIONS)
//     must come from the same origin: its Origin header, or its Referer
//     when it has no Origin, must be http(s)://HOST with the request's own
//     Host, else 403. A request with neither header is not from a browser
//     page (browsers send Origin with every cross-site POST) and passes.
//
// Serving a remote address (--allow-remote) drops the Host check but keeps
// the Origin check.
func LocalOnly(next http.Handler, anyHost bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !anyHost && !IsLoopbackHost(r.Host) {
			http.Error(w, "durascribe serves only http://localhost, http://127.0.0.1 or http://[::1] (this request named host "+
				quoteHost(r.Host)+"): open the address it printed", http.StatusMisdirectedRequest)
			return
		}
		if !safeMethod(r.Method) && !sameOrigin(r) {
			http.Error(w, "cross-origin request refused: durascribe accepts changes only from its own pages",
				http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether r's Origin (or Referer) is r's own origin, or
// r carries neither.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
		if origin == "" {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null", a sandboxed or privacy-masked origin
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// quoteHost makes a Host header safe to echo in a plain-text error.
func quoteHost(h string) string {
	if len(h) > 100 {
		h = h[:100] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '?'
		}
		return r
	}, h)
}

// tokenGate requires token on every request but those of /metrics (which
// Prometheus scrapes without cookies and which shows only counts): from a
// "?token=" parameter, which sets an HttpOnly, SameSite=Strict cookie and
// redirects to the same page without it, or from that cookie, or from an
// "Authorization: Bearer" header for scripts. The cookie's name carries the
// port, so two dashboards on one machine do not overwrite each other's.
func tokenGate(next http.Handler, token string) http.Handler {
	want := []byte(token)
	valid := func(got string) bool { return subtle.ConstantTimeCompare([]byte(got), want) == 1 }
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		name := cookieName(r.Host)
		q := r.URL.Query()
		if got, ok := q[TokenParam]; ok {
			if len(got) != 1 || !valid(got[0]) {
				http.Error(w, "wrong dashboard token: open the address `durascribe ui` printed", http.StatusUnauthorized)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true,
				SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
			q.Del(TokenParam)
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if c, err := r.Cookie(name); err == nil && valid(c.Value) {
			next.ServeHTTP(w, r)
			return
		}
		if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && valid(bearer) {
			next.ServeHTTP(w, r)
			return
		}
		http.Error(w, "the dashboard needs its token: open the address `durascribe ui` printed (it ends in ?token=...)",
			http.StatusUnauthorized)
	})
}

func cookieName(host string) string {
	_, port, err := net.SplitHostPort(host)
	if err != nil || port == "" {
		port = "80"
	}
	return "durascribe_ui_" + port
}
