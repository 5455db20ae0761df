package preflight

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	t.Parallel()
	wav, err := os.ReadFile(fixture("speech.wav"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.mp3", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", "123456")
	})
	mux.HandleFunc("/huge.wav", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", "6000000000")
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Length", "5000")
	})
	mux.HandleFunc("/gone.mp3", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "expired", http.StatusForbidden)
	})
	mux.HandleFunc("/empty.wav", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "0")
	})
	// an object store that refuses HEAD: the checker falls back to a ranged
	// GET and sniffs the first bytes
	mux.HandleFunc("/nohead/recording", func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Range") != "bytes=0-3071" {
			t.Errorf("fallback GET Range = %q", r.Header.Get("Range"))
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		http.ServeContent(w, r, "recording", time.Time{}, strings.NewReader(string(wav)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	c, err := New(Config{HTTPClient: srv.Client(), AllowPrivateURLs: true}) // httptest listens on 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url     string
		verdict Verdict
		code    Code
		size    int64
	}{
		{srv.URL + "/ok.mp3", VerdictWarn, CodeNotVerified, 123456},
		{srv.URL + "/huge.wav", VerdictReject, CodeTooLarge, 6e9},
		{srv.URL + "/page", VerdictReject, CodeUnsupportedFormat, 5000},
		{srv.URL + "/gone.mp3", VerdictReject, CodeURLUnreachable, -1},
		{srv.URL + "/missing.mp3", VerdictReject, CodeURLUnreachable, -1},
		{srv.URL + "/empty.wav", VerdictReject, CodeEmpty, 0},
		{srv.URL + "/nohead/recording", VerdictWarn, CodeNotVerified, int64(len(wav))},
		{deadURL + "/x.mp3", VerdictReject, CodeURLUnreachable, -1},
	} {
		r, err := c.Check(t.Context(), tt.url)
		if err != nil {
			t.Fatalf("%s: %v", tt.url, err)
		}
		if r.Verdict != tt.verdict || !r.Has(tt.code) || r.Size != tt.size || r.Engine != "url" {
			t.Errorf("%s: %s %v size %d engine %s, want %s %s size %d", tt.url, r.Verdict, codes(r), r.Size, r.Engine, tt.verdict, tt.code, tt.size)
		}
		if strings.HasSuffix(tt.url, "/nohead/recording") && (r.Container != famWAV || r.MIME != "audio/wav") {
			t.Errorf("ranged GET sniff: container %q mime %q, want wav audio/wav", r.Container, r.MIME)
		}
	}
}
