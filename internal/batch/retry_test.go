package batch_test

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// TestRetryReusesACompletedTranscript (issue 18 hole 4): a file that failed
// at the wait stage though its transcript completed (here the fetch of the
// completed transcript is refused for good) is retried by fetching that
// transcript again, not by creating and paying for a second one.
func TestRetryReusesACompletedTranscript(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const scale = 0.01
		var refuse atomic.Bool
		refuse.Store(true)
		srv := emulatortest.NewWrapped(t, emulator.Config{Seed: 9, TimeScale: scale}, func(em http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !refuse.Load() || r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/v2/transcript/") {
					em.ServeHTTP(w, r)
					return
				}
				rec := httptest.NewRecorder()
				em.ServeHTTP(rec, r)
				if bytes.Contains(rec.Body.Bytes(), []byte(`"status":"completed"`)) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"error":"a permanent error on the completed transcript"}`))
					return
				}
				maps.Copy(w.Header(), rec.Header())
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
			})
		})
		em := srv.Emulator
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		const n = 3
		st := queuedStore(t, ctx, dsn, n)
		cfg := runConfig(t, srv.URL, srv.APIKey, scale, "")
		if sum, err := st.Run(ctx, cfg); err != nil || sum.Failed != n {
			t.Fatalf("first run: %v, %+v: want every file failed at the wait stage", err, sum)
		}
		refuse.Store(false)
		if _, err := st.Requeue(ctx, batch.RetrySelector{Failed: true}); err != nil {
			t.Fatal(err)
		}
		if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != n {
			t.Fatalf("retry: %v, %+v: want every file done", err, sum)
		}
		if stats := em.Stats(); stats.TranscriptsCreated != n || stats.DuplicateTranscripts != 0 {
			t.Fatalf("%d transcripts (%d duplicates) for %d files: the retry paid again", stats.TranscriptsCreated, stats.DuplicateTranscripts, n)
		}
	})
}
