package assemblyai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	env := func(k string) string {
		if k == "ASSEMBLYAI_API_KEY" {
			return " env-key \n"
		}
		return ""
	}
	tests := []struct {
		name     string
		cfg      Config
		wantErr  error
		wantBase string
	}{
		{"defaults from env", Config{Getenv: env}, nil, DefaultBaseURL},
		{"no key", Config{Getenv: noEnv}, ErrNoAPIKey, ""},
		{"key with newline", Config{APIKey: "a\nb", Getenv: noEnv}, ErrInvalidAPIKey, ""},
		{"eu", Config{APIKey: "k", BaseURL: EUBaseURL}, nil, EUBaseURL},
		{"path dropped", Config{APIKey: "k", BaseURL: "https://api.test:8443/prefix/?q=1"}, nil, "https://api.test:8443"},
		{"insecure remote", Config{APIKey: "k", BaseURL: "http://api.test"}, ErrInsecureURL, ""},
		{"insecure allowed", Config{APIKey: "k", BaseURL: "http://api.test", AllowInsecureHTTP: true}, nil, "http://api.test"},
		{"http loopback v4", Config{APIKey: "k", BaseURL: "http://127.0.0.2:8080"}, nil, "http://127.0.0.2:8080"},
		{"http loopback v6", Config{APIKey: "k", BaseURL: "http://[::1]:8080"}, nil, "http://[::1]:8080"},
		{"http localhost", Config{APIKey: "k", BaseURL: "http://LocalHost:1"}, nil, "http://LocalHost:1"},
		{"http lookalike", Config{APIKey: "k", BaseURL: "http://127.0.0.1.example.com"}, ErrInsecureURL, ""},
		{"ftp", Config{APIKey: "k", BaseURL: "ftp://api.test"}, ErrInvalidBaseURL, ""},
		{"relative", Config{APIKey: "k", BaseURL: "api.assemblyai.com"}, ErrInvalidBaseURL, ""},
		{"userinfo", Config{APIKey: "k", BaseURL: "https://u:p@api.test"}, ErrInvalidBaseURL, ""},
		{"negative timeout", Config{APIKey: "k", RequestTimeout: -1}, ErrInvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tt.cfg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), "u:p") {
					t.Errorf("error leaks userinfo: %v", err)
				}
				return
			}
			if c.BaseURL() != tt.wantBase {
				t.Errorf("BaseURL = %q, want %q", c.BaseURL(), tt.wantBase)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	d := Config{Getenv: noEnv}.WithDefaults()
	if d.RequestTimeout != 30*time.Second || d.UploadStallTimeout != time.Minute || d.MaxResponseBytes != 64<<20 ||
		d.MaxUploadBytes != MaxUploadBytes || d.BaseURL != DefaultBaseURL || !strings.HasPrefix(d.UserAgent, "durascribe/") {
		t.Errorf("unexpected defaults: %+v", d)
	}
	if d.HTTPClient == nil || d.HTTPClient.Timeout != 0 {
		t.Errorf("default HTTP client must exist and have no overall timeout")
	}
	c, err := New(Config{APIKey: "k", BaseURL: "https://api.test:9"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Host() != "api.test:9" {
		t.Errorf("Host = %q", c.Host())
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	type seen struct{ method, path, query, auth, ctype, ua string }
	got := make(chan seen, 10)
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent")}
		switch {
		case strings.HasSuffix(r.URL.Path, "/srt"):
			_, _ = io.WriteString(w, "1\n00:00:00,000 --> 00:00:01,000\nHi\n")
		case r.URL.Path == "/v2/transcript" && r.Method == http.MethodGet:
			writeJSON(w, 200, `{"page_details":{"limit":1,"result_count":0,"current_url":"x","prev_url":null,"next_url":null},"transcripts":[]}`)
		case strings.HasSuffix(r.URL.Path, "/word-search"):
			writeJSON(w, 200, `{"id":"t1","total_count":0,"matches":[]}`)
		default:
			writeJSON(w, 200, `{"id":"t1","status":"queued","audio_url":"https://a"}`)
		}
	})
	ctx := t.Context()
	if _, err := c.CreateTranscript(ctx, TranscriptParams{AudioURL: "https://a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTranscript(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTranscript(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListTranscripts(ctx, ListParams{Limit: 5, Status: StatusError, CreatedOn: "2026-09-18", BeforeID: "b"}); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Subtitles(ctx, "t1", SubtitleSRT, 32); err != nil || !strings.Contains(s, "Hi") {
		t.Fatalf("Subtitles = %q, %v", s, err)
	}
	if _, err := c.WordSearch(ctx, "t1", []string{"foo", "bar"}); err != nil {
		t.Fatal(err)
	}
	want := []seen{
		{"POST", "/v2/transcript", "", string(testKey), "application/json", ""},
		{"GET", "/v2/transcript/t1", "", string(testKey), "application/json", ""},
		{"DELETE", "/v2/transcript/t1", "", string(testKey), "application/json", ""},
		{"GET", "/v2/transcript", "before_id=b&created_on=2026-09-18&limit=5&status=error", string(testKey), "application/json", ""},
		{"GET", "/v2/transcript/t1/srt", "chars_per_caption=32", string(testKey), "application/json", ""},
		{"GET", "/v2/transcript/t1/word-search", "words=foo%2Cbar", string(testKey), "application/json", ""},
	}
	for i, w := range want {
		g := <-got
		if !strings.HasPrefix(g.ua, "durascribe/") {
			t.Errorf("request %d: User-Agent %q", i, g.ua)
		}
		g.ua = ""
		if g != w {
			t.Errorf("request %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestAPIErrorFields(t *testing.T) {
	t.Parallel()
	html := "<html>\n<head><title>503 Service Temporarily Unavailable</title></head>\n<body>" + strings.Repeat("x", 500) + "</body></html>"
	tests := []struct {
		name       string
		code       int
		ctype      string
		body       string
		retryAfter string
		wantMsg    string
		wantRA     time.Duration
	}{
		{"json", 400, "application/json", `{"error":"Transcript creation error, audio_url not found"}`, "", "Transcript creation error, audio_url not found", 0},
		{"json with status", 500, "application/json", `{"status":"error","error":"Server error, developers have been alerted."}`, "", "Server error, developers have been alerted.", 0},
		{"429 seconds", 429, "application/json", `{"error":"Too Many Requests"}`, "7", "Too Many Requests", 7 * time.Second},
		{"429 date", 429, "application/json", `{"error":"Too Many Requests"}`, "Fri, 18 Sep 2026 12:01:00 GMT", "Too Many Requests", time.Minute},
		{"html 503", 503, "text/html", html, "", "<html> <head><title>503 Service Temporarily Unavailable</title></head> <body>" + strings.Repeat("x", 200-len("<html> <head><title>503 Service Temporarily Unavailable</title></head> <body>")) + "…", 0},
		{"empty 504", 504, "", "", "", "Gateway Timeout", 0},
		{"plain 404", 404, "text/plain", "404 page not found\n", "", "404 page not found", 0},
		{"error not a string", 400, "application/json", `{"error":{"code":1}}`, "", `{"code":1}`, 0},
		{"key echoed", 401, "application/json", `{"error":"bad token ` + string(testKey) + `"}`, "", "bad token [redacted]", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.code)
				_, _ = io.WriteString(w, tt.body)
			}, func(c *Config) { c.Now = func() time.Time { return time.Date(2026, 9, 18, 12, 0, 0, 0, time.UTC) } })
			_, err := c.GetTranscript(t.Context(), "abc")
			e, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("error %T %v, want *APIError", err, err)
			}
			want := APIError{StatusCode: tt.code, Message: tt.wantMsg, Method: "GET", Endpoint: EndpointTranscript, TranscriptID: "abc", RetryAfter: tt.wantRA}
			if *e != want {
				t.Errorf("APIError = %#v\nwant        %#v", *e, want)
			}
		})
	}
}

func TestAPIErrorString(t *testing.T) {
	t.Parallel()
	e := &APIError{StatusCode: 400, Message: "Transcript creation error, audio_url not found", Method: "POST", Endpoint: EndpointTranscripts}
	if got, want := e.Error(), "POST /v2/transcript: 400 Bad Request: Transcript creation error, audio_url not found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &APIError{StatusCode: 429, Message: "Too Many Requests", Method: "GET", Endpoint: EndpointTranscript, TranscriptID: "t1", RetryAfter: 2 * time.Second}
	if got, want := e.Error(), "GET /v2/transcript/{id} (transcript t1): 429 Too Many Requests (retry after 2s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestConnectionReuse proves that error responses are drained and closed so
// that one keep-alive connection serves every request.
func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/transcript/bad":
			writeJSON(w, 400, `{"error":"Transcript lookup error, transcript id not found"}`)
		case "/v2/transcript/html":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(503)
			_, _ = io.WriteString(w, "<html>"+strings.Repeat("lorem ipsum ", 3000)+"</html>") // 36 KB, mostly unread
		case "/v2/transcript/slow":
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, `{"error":"Too Many Requests"}`)
		case "/v2/transcript/empty":
			w.WriteHeader(500)
		default:
			writeJSON(w, 200, `{"id":"ok","status":"completed","audio_url":"https://a","text":"`+strings.Repeat("a", 100_000)+`"}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, err := New(Config{APIKey: testKey, BaseURL: srv.URL, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	for range 3 {
		for _, id := range []string{"bad", "html", "slow", "empty", "ok"} {
			_, err := c.GetTranscript(t.Context(), id)
			if (err == nil) != (id == "ok") {
				t.Fatalf("GetTranscript(%s) error = %v", id, err)
			}
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("opened %d connections, want 1", n)
	}
}

func TestBadInputSendsNothing(t *testing.T) {
	t.Parallel()
	var requests atomic.Int32
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) { requests.Add(1) })
	ctx := t.Context()
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"get empty id", second(c.GetTranscript(ctx, "")), ErrEmptyID},
		{"delete blank id", second(c.DeleteTranscript(ctx, "  ")), ErrEmptyID},
		{"id with slash", second(c.GetTranscript(ctx, "a/b")), ErrInvalidArgument},
		{"sentences empty id", second(c.Sentences(ctx, "")), ErrEmptyID},
		{"paragraphs empty id", second(c.Paragraphs(ctx, "")), ErrEmptyID},
		{"create no url", second(c.CreateTranscript(ctx, TranscriptParams{})), ErrNoAudioURL},
		{"subtitles format", second(c.Subtitles(ctx, "t", "txt", 0)), ErrInvalidArgument},
		{"subtitles chars", second(c.Subtitles(ctx, "t", SubtitleVTT, -1)), ErrInvalidArgument},
		{"word search empty", second(c.WordSearch(ctx, "t", nil)), ErrInvalidArgument},
		{"word search comma", second(c.WordSearch(ctx, "t", []string{"a,b"})), ErrInvalidArgument},
		{"list limit", second(c.ListTranscripts(ctx, ListParams{Limit: 201})), ErrInvalidArgument},
		{"list status", second(c.ListTranscripts(ctx, ListParams{Status: "done"})), ErrInvalidArgument},
		{"list date", second(c.ListTranscripts(ctx, ListParams{CreatedOn: "18/09/2026"})), ErrInvalidArgument},
		{"extra conflict", second(c.CreateTranscript(ctx, TranscriptParams{AudioURL: "https://a", Punctuate: Bool(true),
			Extra: map[string]json.RawMessage{"punctuate": json.RawMessage("false")}})), ErrExtraKeyConflict},
	}
	for _, ch := range checks {
		if !errors.Is(ch.err, ch.want) {
			t.Errorf("%s: error = %v, want %v", ch.name, ch.err, ch.want)
		}
		if Classify(ch.err) != ClassPermanent {
			t.Errorf("%s: Classify = %v, want permanent", ch.name, Classify(ch.err))
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("server got %d requests, want 0", n)
	}
}

func second[T any](_ T, err error) error { return err }

// TestKeyNeverLeaks checks error strings, fmt verbs and slog output.
func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	c, srv := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 401, `{"error":"Authentication error, API token missing/invalid: `+r.Header.Get("Authorization")+`"}`)
	})
	var out bytes.Buffer
	ctx := t.Context()
	_, err1 := c.GetTranscript(ctx, "t1")
	_, err2 := c.Upload(ctx, strings.NewReader("abc"), 3)
	_, err3 := c.ListTranscriptsPage(ctx, "https://evil.test/v2/transcript?key="+string(testKey))
	cfg := Config{APIKey: testKey, BaseURL: srv.URL}
	fmt.Fprintf(&out, "%v %+v %#v %s %q %x %d %v %+v %#v\n", testKey, testKey, testKey, testKey, testKey, testKey, testKey, cfg, cfg, cfg)
	log := slog.New(slog.NewJSONHandler(&out, nil))
	log.Info("client", "key", testKey, "config", cfg, "client", c, "err", err1, "err2", err2, "err3", err3, slog.Any("raw", struct{ K APIKey }{testKey}))
	slog.New(slog.NewTextHandler(&out, nil)).Info("client", "key", testKey, "config", cfg)
	for _, err := range []error{err1, err2} {
		if Classify(err) != ClassPermanent || !IsAccountError(err) {
			t.Errorf("%v: want a permanent account error", err)
		}
	}
	for _, s := range []string{err1.Error(), err2.Error(), out.String()} {
		if strings.Contains(s, string(testKey)) {
			t.Errorf("key leaked in %q", s)
		}
	}
	if !strings.Contains(out.String(), `"key":"[redacted]"`) {
		t.Errorf("slog JSON output lacks the redacted key: %s", out.String())
	}
}
