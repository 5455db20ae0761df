package batch

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The secret is made once per store and read back by every later run (and
// by every process on a shared store).
func TestWebhookSecretIsKeptInTheStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := Open(ctx, path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.webhookSecret(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if len(first) != 64 {
		t.Fatalf("secret %d characters long, want 64 hex", len(first))
	}
	st, err = Open(ctx, path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	if again, err := st.webhookSecret(ctx); err != nil || again != first {
		t.Fatalf("second run's secret differs (err %v)", err)
	}
}

func TestWebhookHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() //nolint:errcheck // test teardown
	var woken []int64
	var results []string
	h, err := newWebhooks(WebhookConfig{Listener: ln, URL: "https://hooks.example.com/in?team=a",
		OnNotification: func(r string) { results = append(results, r) }}, "s3cret",
		func(id int64) { woken = append(woken, id) }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.urlFor(42), "https://hooks.example.com/in?durascribe_job=42&team=a"; got != want {
		t.Errorf("urlFor = %q, want %q", got, want)
	}
	post := func(method, token, query, body string) int {
		req := httptest.NewRequest(method, "/in?"+query, strings.NewReader(body))
		if token != "" {
			req.Header.Set(webhookHeader, token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	const done = `{"transcript_id":"t1","status":"completed"}`
	for _, tc := range []struct {
		name, method, token, query, body string
		want                             int
	}{
		{"get", http.MethodGet, "s3cret", "durascribe_job=7", done, http.StatusMethodNotAllowed},
		{"no token", http.MethodPost, "", "durascribe_job=7", done, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "s3cret!", "durascribe_job=7", done, http.StatusUnauthorized},
		{"no job", http.MethodPost, "s3cret", "", done, http.StatusBadRequest},
		{"not json", http.MethodPost, "s3cret", "durascribe_job=7", "<xml/>", http.StatusBadRequest},
		{"redacted audio", http.MethodPost, "s3cret", "durascribe_job=7", `{"status":"redacted_audio_ready"}`, http.StatusNoContent},
	} {
		if got := post(tc.method, tc.token, tc.query, tc.body); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if len(woken) != 0 {
		t.Fatalf("jobs %v woken by notifications that should not wake anything", woken)
	}
	if got, want := strings.Join(results, ","), "invalid,unauthorized,unauthorized,invalid,invalid,ignored"; got != want {
		t.Errorf("results %s, want %s", got, want)
	}

	// A job waiting in-process gets the notice; nothing goes through River.
	ch := h.watch(7)
	if got := post(http.MethodPost, "s3cret", "durascribe_job=7", done); got != http.StatusNoContent {
		t.Fatalf("status %d", got)
	}
	select {
	case <-ch:
	default:
		t.Error("the waiting job got no notice")
	}
	h.unwatch(7)
	if results[len(results)-1] != "accepted" {
		t.Errorf("last result %q, want accepted", results[len(results)-1])
	}
	if len(woken) != 0 {
		t.Errorf("a waiting job was also woken through River: %v", woken)
	}

	// A job not waiting is woken through River, and its next wait ends at
	// once (the notice came between its poll and its wait).
	if got := post(http.MethodPost, "s3cret", "durascribe_job=8", `{"transcript_id":"t2","status":"error"}`); got != http.StatusNoContent {
		t.Fatalf("status %d", got)
	}
	if len(woken) != 1 || woken[0] != 8 {
		t.Errorf("woken %v, want [8]", woken)
	}
	select {
	case <-h.watch(8):
	default:
		t.Error("the notice that came before the wait was lost")
	}
	h.unwatch(8)
	// forget drops a notice when the job's run polls first anyway.
	post(http.MethodPost, "s3cret", "durascribe_job=9", done)
	h.forget(9)
	select {
	case <-h.watch(9):
		t.Error("a forgotten notice still ended a wait")
	default:
	}
}

// The listener stops at once at the end of a run, even while the sender
// holds a connection it has not sent on yet (http.Server.Shutdown waits up
// to 5 s for those; it held runs 2 s past their last file).
func TestWebhookListenerClosesAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := newWebhooks(WebhookConfig{Listener: ln}, "s", func(int64) {}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() //nolint:errcheck // test teardown

	time.Sleep(50 * time.Millisecond) // accepted, no request yet
	start := time.Now()
	h.close()
	if took := time.Since(start); took > time.Second {
		t.Errorf("close took %v with an idle connection open", took)
	}
}
