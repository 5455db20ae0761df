package batch_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// TestStopFailsNothing (issue 18 hole 5, issue 12 stopping): a graceful stop
// in the middle of a flaky run, with uploads, creates, backoffs, slot waits
// and polls in progress, ends the run promptly with context.Canceled, fails
// no file, and a re-run finishes every file without a duplicate transcript.
func TestStopFailsNothing(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		n := 120
		if raceEnabled {
			n = 40
		}
		const scale = 0.05
		sc, err := emulator.LookupScenario("flaky")
		if err != nil {
			t.Fatal(err)
		}
		em := emulatortest.New(t, emulator.Config{Scenario: sc, Seed: 11, TimeScale: scale})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		st := queuedStore(t, ctx, dsn, n)
		cfg := runConfig(t, em.URL, em.APIKey, scale, t.TempDir())
		cfg.Concurrency = 10

		runCtx, stop := context.WithCancel(ctx)
		res := startRun(runCtx, st, cfg)
		waitDone(t, ctx, st, n/6)
		stopped := time.Now()
		stop()
		r := <-res
		took := time.Since(stopped)
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("run after a stop: %v, want context.Canceled", r.err)
		}
		t.Logf("stopped in %s with %+v", took, r.sum)
		if took > 5*time.Second {
			t.Errorf("the stop took %s, want within 5 s", took)
		}
		if r.sum.Failed != 0 {
			failed, _ := st.Files(ctx, batch.StateFailed)
			for _, f := range failed {
				t.Errorf("failed by the stop: %s: %s", filepath.Base(f.Source), f.Reason)
			}
		}
		if r.sum.Done == n {
			t.Fatal("every file was done before the stop: the test stopped nothing")
		}
		sum, err := st.Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		failed, _ := st.Files(ctx, batch.StateFailed)
		for _, f := range failed {
			if !permanentOutcome(f.Reason) {
				t.Errorf("failed: %s: %s", filepath.Base(f.Source), f.Reason)
			}
		}
		if sum.Done+sum.Failed != n {
			t.Fatalf("re-run: %+v, want all %d files finished", sum, n)
		}
		if stats := em.Emulator.Stats(); stats.DuplicateTranscripts != 0 {
			t.Fatalf("%d duplicate transcripts", stats.DuplicateTranscripts)
		}
	})
}
