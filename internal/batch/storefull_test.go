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

// TestStoreFullStopsTheRun (issue 18 hole 10): when the store cannot be
// written (SQLite's page limit stands in for a full disk) the run stops with
// ErrStoreFull instead of retrying forever, no file fails, and once there
// is room again a re-run finishes every file.
func TestStoreFullStopsTheRun(t *testing.T) {
	t.Parallel()
	const n, scale = 20, 0.01
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := queuedStore(t, ctx, filepath.Join(t.TempDir(), "full.db"), n)
	if err := batch.LimitPages(ctx, st, 0); err != nil {
		t.Fatal(err)
	}
	em := emulatortest.New(t, emulator.Config{Seed: 4, TimeScale: scale})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	if _, err := st.Run(ctx, cfg); !errors.Is(err, batch.ErrStoreFull) {
		t.Fatalf("run on a full store: %v, want ErrStoreFull", err)
	}
	if err := batch.LimitPages(ctx, st, -1); err != nil {
		t.Fatal(err)
	}
	if failed, err := st.Files(ctx, batch.StateFailed); err != nil || len(failed) != 0 {
		t.Fatalf("failed files after the full store: %d (%v), want 0", len(failed), err)
	}
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != n {
		t.Fatalf("re-run with room: %v, %+v: want every file done", err, sum)
	}
	if stats := em.Emulator.Stats(); stats.DuplicateTranscripts != 0 {
		t.Fatalf("%d duplicate transcripts", stats.DuplicateTranscripts)
	}
}
