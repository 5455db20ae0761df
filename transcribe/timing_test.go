package transcribe

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// handlerTransport serves requests in-process, so that synctest's fake clock
// governs every wait of the client and the orchestrator.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func newBlockingServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCancelMidBackoffReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.onUpload = func(_ int, w http.ResponseWriter) bool {
			w.Header().Set("Retry-After", "60")
			return apiError(429, "Too Many Requests")(w)
		}
		client, err := assemblyai.New(assemblyai.Config{
			APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
			HTTPClient: &http.Client{Transport: handlerTransport{api}},
		})
		if err != nil {
			t.Fatal(err)
		}
		prof := testProfile()
		prof.RetryAfterCap = 5 * time.Minute
		tr, err := New(Config{Client: client, Profile: prof})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "a.wav")
		if err := os.WriteFile(file, []byte("bytes"), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		var (
			returned time.Time
			gotErr   error
		)
		go func() {
			_, gotErr = tr.Transcribe(ctx, file, assemblyai.TranscriptParams{})
			returned = time.Now()
		}()
		time.Sleep(10 * time.Second) // well inside the 60 s Retry-After wait
		synctest.Wait()
		cancelled := time.Now()
		cancel()
		synctest.Wait()
		if returned.IsZero() {
			t.Fatal("Transcribe did not return after cancel")
		}
		if d := returned.Sub(cancelled); d > 50*time.Millisecond {
			t.Fatalf("returned %s after cancel", d)
		}
		if !errors.Is(gotErr, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", gotErr)
		}
		if up, _, _, _ := api.counts(); up != 1 {
			t.Fatalf("uploads=%d during a 60 s Retry-After, want 1", up)
		}
	})
}

func TestRetryAfterIsHonouredBeforeTheNextAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		var times []time.Time
		api.onUpload = func(n int, w http.ResponseWriter) bool {
			times = append(times, time.Now())
			if n == 1 {
				w.Header().Set("Retry-After", "7")
				return apiError(429, "Too Many Requests")(w)
			}
			return false
		}
		client, _ := assemblyai.New(assemblyai.Config{
			APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
			HTTPClient: &http.Client{Transport: handlerTransport{api}},
		})
		tr, _ := New(Config{Client: client, Profile: testProfile(), Breakers: resilience.NewBreakers(resilience.BreakerConfig{})})
		file := filepath.Join(t.TempDir(), "a.wav")
		_ = os.WriteFile(file, []byte("bytes"), 0o600)
		if _, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{}); err != nil {
			t.Fatal(err)
		}
		if len(times) != 2 {
			t.Fatalf("uploads=%d, want 2", len(times))
		}
		if gap := times[1].Sub(times[0]); gap < 7*time.Second || gap > 8*time.Second {
			t.Fatalf("second attempt %s after the first, want within [7s, 8s]", gap)
		}
	})
}

// TestReconcileInsideCreateDoesNotWaitForItsOwnProbe: when the create attempt
// that must reconcile is the breaker's half-open probe, the list request it
// sends must not wait for a breaker permit (it would wait for itself until
// the Retry-After cap).
func TestReconcileInsideCreateDoesNotWaitForItsOwnProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
			return n == 1 && created == nil && apiError(503, "Service Unavailable")(w)
		}
		client, _ := assemblyai.New(assemblyai.Config{
			APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
			HTTPClient: &http.Client{Transport: handlerTransport{api}}, RequestTimeout: time.Second,
		})
		prof := testProfile()
		prof.RetryAfterCap = time.Minute
		breakers := resilience.NewBreakers(resilience.BreakerConfig{
			ConsecutiveFailures: 1, OpenDelay: time.Second, JitterFactor: 0.01,
		})
		// The 503 leaves the create's outcome unknown: the resubmit waits
		// for its horizon, 2 s here (request timeout + landing margin).
		tr, _ := New(Config{Client: client, Profile: prof, Breakers: breakers, CreateLandingMargin: time.Second})
		file := filepath.Join(t.TempDir(), "a.wav")
		_ = os.WriteFile(file, []byte("bytes"), 0o600)
		start := time.Now()
		if _, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{}); err != nil {
			t.Fatal(err)
		}
		// One open interval (~1 s) plus fast polls, nowhere near the cap.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %s: the reconciliation waited for the breaker permit its own create held", d)
		}
		if _, creates, _, transcripts := api.counts(); creates != 2 || transcripts != 1 || api.lists == 0 {
			t.Fatalf("creates=%d transcripts=%d lists=%d, want 2, 1, ≥1", creates, transcripts, api.lists)
		}
	})
}

// TestBackoffAfterAnOutageEndsWhenAnotherCallerFindsTheAPIBack checks Resume's
// wait after retries run out while the API is down: a backoff of its own
// ends as soon as another caller's probe closes the breaker, rather than a
// minute later.
func TestBackoffAfterAnOutageEndsWhenAnotherCallerFindsTheAPIBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		var down atomic.Bool
		down.Store(true)
		api.onUpload = func(_ int, w http.ResponseWriter) bool {
			return down.Load() && apiError(503, "Service Unavailable")(w)
		}
		client, _ := assemblyai.New(assemblyai.Config{
			APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
			HTTPClient: &http.Client{Transport: handlerTransport{api}},
		})
		prof := testProfile()
		prof.Backoff = resilience.Backoff{Base: time.Minute, Cap: time.Minute, MinDelay: time.Minute, MaxAttempts: 1}
		breakers := resilience.NewBreakers(resilience.BreakerConfig{
			ConsecutiveFailures: 1, OpenDelay: 10 * time.Second, JitterFactor: 0.01,
		})
		tr, _ := New(Config{Client: client, Profile: prof, Breakers: breakers, GiveUpAfter: time.Hour})
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a.wav"), filepath.Join(dir, "b.wav")
		_ = os.WriteFile(a, []byte("bytes a"), 0o600)
		_ = os.WriteFile(b, []byte("bytes b"), 0o600)

		start := time.Now()
		doneA := make(chan time.Duration, 1)
		go func() {
			if _, err := tr.Transcribe(t.Context(), a, assemblyai.TranscriptParams{}); err != nil {
				t.Error(err)
			}
			doneA <- time.Since(start)
		}()
		// a's upload fails, opens the breaker, and a backs off for a minute.
		time.Sleep(5 * time.Second)
		down.Store(false)
		// b comes when the breaker half-opens: its upload is the probe.
		time.Sleep(6 * time.Second)
		if _, err := tr.Transcribe(t.Context(), b, assemblyai.TranscriptParams{}); err != nil {
			t.Fatal(err)
		}
		if d := <-doneA; d > 20*time.Second {
			t.Errorf("a done %v after it started, want soon after b's probe (~11 s), not after its 1-minute backoff", d)
		}
	})
}

// TestFarFutureRetryAfterIsCapped: a create answered 429 with a Retry-After
// in 2100 (or 999999 s) once parked the file for that long. The wait is
// bounded by the profile's RetryAfterMax (DefaultRetryAfterMax when unset),
// Decide hands the queue that bound, and the checkpoint's last error says
// what the API asked and how long we wait instead.
func TestFarFutureRetryAfterIsCapped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		max        time.Duration // the profile's RetryAfterMax
		wantAfter  time.Duration
		wantMsg    string
	}{
		{"date in 2100", "Fri, 31 Dec 2100 23:59:59 GMT", 0, resilience.DefaultRetryAfterMax,
			"the server asked to retry after 2100-12-31T23:59:59Z (in 100 years); waiting 10m0s at most (the Retry-After maximum)"},
		{"999999 seconds", "999999", 0, resilience.DefaultRetryAfterMax,
			"(in 11.6 days); waiting 10m0s at most"},
		{"profile override", "999999", 3 * time.Minute, 3 * time.Minute,
			"(in 11.6 days); waiting 3m0s at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				api := newFakeAPI()
				api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
					// The first create of Step's and of Transcribe's.
					if n <= 2 && created == nil {
						w.Header().Set("Retry-After", tt.retryAfter)
						return apiError(429, "Too Many Requests")(w)
					}
					return false
				}
				client, _ := assemblyai.New(assemblyai.Config{
					APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
					HTTPClient: &http.Client{Transport: handlerTransport{api}},
				})
				prof := testProfile()
				prof.RetryAfterMax = tt.max
				tr, err := New(Config{Client: client, Profile: prof, Breakers: resilience.NewBreakers(resilience.BreakerConfig{})})
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "a.wav")
				_ = os.WriteFile(file, []byte("bytes"), 0o600)

				// One step, as the batch runs it: the durable wait is bounded.
				res, err := tr.Step(t.Context(), Checkpoint{Source: file}, assemblyai.TranscriptParams{}, nil)
				if action, after := Decide(err); action != ActionRetryLater || after != tt.wantAfter {
					t.Fatalf("Decide(%v) = %v, %v; want retry-later, %v", err, action, after, tt.wantAfter)
				}
				if !strings.Contains(res.Checkpoint.LastError, tt.wantMsg) {
					t.Errorf("last error %q\ndoes not say %q", res.Checkpoint.LastError, tt.wantMsg)
				}

				// Transcribe, in-process: done after the bounded wait.
				start := time.Now()
				if _, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{}); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d < tt.wantAfter || d > tt.wantAfter+time.Minute {
					t.Errorf("Transcribe took %v after a capped Retry-After, want about %v", d, tt.wantAfter)
				}
			})
		})
	}
}
