package assemblyai

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is distinctive so that tests can search for leaks of it.
const testKey APIKey = "sk-test-7f3c9a1e5b2d4c6e8a0b"

func noEnv(string) string { return "" }

// newTestClient starts an httptest server for h and returns a client of it.
func newTestClient(t testing.TB, h http.HandlerFunc, mod ...func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{APIKey: testKey, BaseURL: srv.URL, Getenv: noEnv}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c, srv
}

// roundTripFunc is an in-memory transport for synctest tests.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newFakeClient returns a client whose requests go to rt, never to a network.
func newFakeClient(t *testing.T, rt roundTripFunc, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{APIKey: testKey, BaseURL: "https://api.test", Getenv: noEnv, HTTPClient: &http.Client{Transport: rt}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
