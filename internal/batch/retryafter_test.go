package batch_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// TestRetryAfterIn2100 is issue 18 item 8: a create answered 429 with
// "Retry-After: Fri, 31 Dec 2100 23:59:59 GMT" scheduled the file's job for
// 2100, so the run showed "1 in flight" forever, a re-run against a healthy
// API hung too, and status gave no reason. Now the run ends at once with
// ErrDeferred, the file's last error says what the API asked and how long
// durascribe waits instead (DefaultRetryAfterMax), and a re-run once the API
// is healthy finishes it at once.
func TestRetryAfterIn2100(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const scale = 0.01
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st := queuedStore(t, ctx, dsn, 1)
		var far atomic.Bool
		far.Store(true)
		srv := emulatortest.NewWrapped(t, emulator.Config{Seed: 7, TimeScale: scale}, emulatortest.ThrottleCreates(&far, "Fri, 31 Dec 2100 23:59:59 GMT"))
		cfg := runConfig(t, srv.URL, srv.APIKey, scale, "")
		cfg.RequestsPerSecond = 5000

		start := time.Now()
		sum, err := st.Run(ctx, cfg)
		if !errors.Is(err, batch.ErrDeferred) || !strings.Contains(err.Error(), "2100-12-31T23:59:59Z") {
			t.Fatalf("run: %v (summary %+v), want ErrDeferred naming 2100-12-31T23:59:59Z", err, sum)
		}
		t.Logf("run: %v", err)
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("the run took %v to end", d)
		}
		if sum.Working != 1 || sum.Done+sum.Failed != 0 {
			t.Errorf("summary %+v, want the file still queued (working)", sum)
		}
		files, err := st.Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 1 {
			t.Fatalf("%d files, want 1", len(files))
		}
		t.Logf("last error: %s", files[0].LastError)
		want := "asked to retry after 2100-12-31T23:59:59Z (in 7"
		if !strings.Contains(files[0].LastError, want) ||
			!strings.Contains(files[0].LastError, "waiting 10m0s at most (the Retry-After maximum)") {
			t.Fatalf("last error %q, want it to say %q and the 10 min wait", files[0].LastError, want)
		}

		// The API is healthy again: a re-run finishes the file at once,
		// not after the rest of its 10 min snooze.
		far.Store(false)
		sum, err = st.Run(ctx, cfg)
		if err != nil || sum.Done != 1 {
			t.Fatalf("re-run: %v (summary %+v), want the file done", err, sum)
		}
	})
}
