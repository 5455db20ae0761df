// Package emulatortest starts an emulator on a loopback port for one test,
// like net/http/httptest: New registers the cleanup, and the server's URL is
// the base URL to give any AssemblyAI client.
package emulatortest

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/durascribe/durascribe/emulator"
)

// Server is a running emulator on 127.0.0.1.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// APIKey is a key the emulator accepts: the first of Config.APIKeys, or
	// "test-key" when any key is accepted.
	APIKey string
	// Emulator is the handler, for Stats and the rest of its API.
	Emulator *emulator.Server
	// HTTP is the underlying httptest server.
	HTTP *httptest.Server
}

// New starts an emulator for cfg and stops it when the test ends. It fails
// the test if cfg is invalid.
func New(tb testing.TB, cfg emulator.Config) *Server {
	tb.Helper()
	return NewWrapped(tb, cfg, nil)
}

// NewWrapped is New with the emulator's handler wrapped by wrap (nil: none),
// for a test that needs a fault the scenarios cannot express (a Retry-After
// date, a refusal that ends when the test says): wrap answers what it
// chooses and hands the rest to the emulator.
func NewWrapped(tb testing.TB, cfg emulator.Config, wrap func(http.Handler) http.Handler) *Server {
	tb.Helper()
	em, err := emulator.New(cfg)
	if err != nil {
		tb.Fatalf("start emulator: %v", err)
	}
	var h http.Handler = em
	if wrap != nil {
		h = wrap(em)
	}
	hs := httptest.NewServer(h)
	s := &Server{URL: hs.URL, APIKey: "test-key", Emulator: em, HTTP: hs}
	if len(cfg.APIKeys) > 0 {
		s.APIKey = cfg.APIKeys[0]
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the HTTP server and the emulator. Tests need not call it.
func (s *Server) Close() {
	s.HTTP.CloseClientConnections()
	s.HTTP.Close()
	_ = s.Emulator.Close()
}

// ThrottleCreates is a wrap for NewWrapped: while on is set, it answers
// every POST /v2/transcript 429 with the given Retry-After header (say an
// HTTP date far in the future, which no scenario can express); the rest
// goes to the emulator.
func ThrottleCreates(on *atomic.Bool, retryAfter string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() && r.Method == http.MethodPost && r.URL.Path == "/v2/transcript" {
				w.Header().Set("Retry-After", retryAfter)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":"Too Many Requests"}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
