package batch_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/transcribe"
)

// TestPruneAttempts runs a batch whose files all complete and one whose
// files all fail, then prunes: the done files' logs go, the failed files'
// stay whole, and the caller's OnEvent saw every attempt that was logged.
func TestPruneAttempts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const scale = 0.01
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close() //nolint:errcheck // test teardown

		var events atomic.Int64
		runDir := func(sc emulator.Scenario, n int) {
			em := emulatortest.New(t, emulator.Config{Scenario: sc, TimeScale: scale})
			dir := t.TempDir()
			writeWAVs(t, dir, n)
			inputs, err := batch.ResolveInputs([]string{dir}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Enqueue(ctx, inputs); err != nil {
				t.Fatal(err)
			}
			cfg := runConfig(t, em.URL, em.APIKey, scale, "")
			cfg.Output = batch.OutputConfig{}
			cfg.Transcribe.OnEvent = func(transcribe.Event) { events.Add(1) }
			if _, err := st.Run(ctx, cfg); err != nil {
				t.Fatal(err)
			}
		}
		runDir(emulator.Scenario{Name: "clean"}, 3)
		runDir(emulator.Scenario{Name: "no-speech", Outcomes: []emulator.Outcome{
			{Message: "language_detection cannot be performed on files with no spoken audio.", P: 1}}}, 2)

		done, _ := st.Files(ctx, batch.StateDone)
		failed, _ := st.Files(ctx, batch.StateFailed)
		if len(done) != 3 || len(failed) != 2 {
			t.Fatalf("%d done, %d failed; want 3 and 2", len(done), len(failed))
		}
		all, err := st.Attempts(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(all)) != events.Load() {
			t.Errorf("OnEvent saw %d attempts, the log has %d", events.Load(), len(all))
		}
		perFile := map[int64]int{}
		for _, a := range all {
			perFile[a.FileID]++
		}
		var doneRows int
		for _, f := range done {
			doneRows += perFile[f.ID]
		}

		// Nothing finished a day ago: nothing goes.
		if n, err := st.PruneAttempts(ctx, time.Now().Add(-24*time.Hour)); err != nil || n != 0 {
			t.Fatalf("prune before the run = %d, %v; want 0", n, err)
		}
		n, err := st.PruneAttempts(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n != int64(doneRows) || n == 0 {
			t.Errorf("pruned %d rows, want the %d of the done files", n, doneRows)
		}
		for _, f := range done {
			if got, _ := st.Attempts(ctx, f.ID); len(got) != 0 {
				t.Errorf("done file %d keeps %d attempts", f.ID, len(got))
			}
		}
		for _, f := range failed {
			got, _ := st.Attempts(ctx, f.ID)
			if len(got) == 0 || len(got) != perFile[f.ID] {
				t.Errorf("failed file %d has %d attempts, want all %d", f.ID, len(got), perFile[f.ID])
			}
		}
	})
}
