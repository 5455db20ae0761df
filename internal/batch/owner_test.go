package batch_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// slowCreates is the clean scenario with creates that take 1-2 s (API
// time) to land: a create is in flight whenever a process stops.
func slowCreates(t *testing.T) emulator.Scenario {
	t.Helper()
	sc, err := emulator.LookupScenario("clean")
	if err != nil {
		t.Fatal(err)
	}
	sc.Name = "slow-create"
	sc.Routes = map[string][]emulator.Fault{"create": {{
		Kind: emulator.KindLatency, P: 1, Min: emulator.Duration(time.Second), Max: emulator.Duration(2 * time.Second),
	}}}
	return sc
}

// waitDone waits until at least n files of st are done.
func waitDone(t *testing.T, ctx context.Context, st *batch.Store, n int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		done, err := st.Files(ctx, batch.StateDone)
		if err != nil {
			t.Fatal(err)
		}
		if len(done) >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %d files done: %v (%d done)", n, ctx.Err(), len(done))
		case <-tick.C:
		}
	}
}

type runResult struct {
	sum batch.Summary
	err error
}

func startRun(ctx context.Context, st *batch.Store, cfg batch.RunConfig) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		sum, err := st.Run(ctx, cfg)
		ch <- runResult{sum, err}
	}()
	return ch
}

// TestOneWorkerPerSQLiteStore (issue 18, holes 2 and 11): a second run
// started on a SQLite store another process works waits instead of working
// beside it, and takes over when the first stops; a third started then waits
// in turn rather than rescuing the jobs of a live worker. Slow creates make
// a rescue of a live worker's job a duplicate transcript.
func TestOneWorkerPerSQLiteStore(t *testing.T) {
	t.Parallel()
	const (
		n     = 24
		scale = 0.05
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	em := emulatortest.New(t, emulator.Config{Scenario: slowCreates(t), Seed: 3, TimeScale: scale})
	dsn := filepath.Join(t.TempDir(), "shared.db")
	stA := queuedStore(t, ctx, dsn, n)
	open := func() *batch.Store {
		st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	client, err := assemblyai.New(assemblyai.Config{APIKey: assemblyai.APIKey(em.APIKey), BaseURL: em.URL, RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Transcribe.Client = client
	cfg.Concurrency = 4
	cfg.OwnerRecheck = 10 * time.Millisecond

	// Start/stop cycles: each cycle starts a run on a new handle, lets two
	// more files finish, then stops the oldest run still going.
	type live struct {
		stop  context.CancelFunc
		res   <-chan runResult
		ended *atomic.Int64 // files this run finished
	}
	var runs []live
	start := func(st *batch.Store) {
		c, stop := context.WithCancel(ctx)
		t.Cleanup(stop)
		ended := new(atomic.Int64)
		rc := cfg
		rc.OnFileEnd = func(*batch.File, error) { ended.Add(1) }
		runs = append(runs, live{stop, startRun(c, st, rc), ended})
	}
	start(stA)
	done := 2
	waitDone(t, ctx, stA, done)
	for range 4 {
		start(open())
		before := make([]int64, len(runs))
		for i, r := range runs {
			before[i] = r.ended.Load()
		}
		done += 3
		waitDone(t, ctx, stA, done)
		working := 0
		for i, r := range runs {
			if r.ended.Load() > before[i] {
				working++
			}
		}
		if working > 1 {
			t.Fatalf("%d runs finished files at the same time: two workers on one SQLite store", working)
		}
		runs[0].stop()
		if r := <-runs[0].res; !errors.Is(r.err, context.Canceled) {
			t.Fatalf("a run after its stop: %v, want context.Canceled", r.err)
		}
		runs = runs[1:]
	}
	start(open())
	for _, r := range runs {
		if r := <-r.res; r.err != nil || r.sum.Done != n {
			t.Fatalf("run: %v, %+v: want every file done", r.err, r.sum)
		}
	}
	failed, _ := stA.Files(ctx, batch.StateFailed)
	for _, f := range failed {
		t.Errorf("failed %s: %s", filepath.Base(f.Source), f.Reason)
	}
	stats := em.Emulator.Stats()
	if stats.DuplicateTranscripts != 0 || stats.TranscriptsCreated != n {
		t.Fatalf("transcripts %d, duplicates %d: want %d and 0", stats.TranscriptsCreated, stats.DuplicateTranscripts, n)
	}
}
