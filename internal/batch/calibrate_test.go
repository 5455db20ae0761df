package batch_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/preflight"
)

// The run measures AssemblyAI's processing time (list endpoint: created and
// completed) and scales its estimate: with an estimate four times too long,
// the first files are fetched long after they are done, the later ones
// about when they are done.
func TestPollsAdaptToMeasuredProcessingTime(t *testing.T) {
	t.Parallel()
	const n, scale = 80, 0.1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	st := queuedStore(t, ctx, filepath.Join(t.TempDir(), "calib.db"), n)
	em := emulatortest.New(t, emulator.Config{Seed: 9, TimeScale: scale})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	cfg.Concurrency, cfg.UploadConcurrency = 10, 2
	cfg.RequestsPerSecond = 5000
	// The emulator takes 2.3 s + 0.1 x audio (2.35 s here, 0.235 s at this
	// scale); the estimate is four times that.
	cfg.Transcribe.ProcessingBase = 9200 * time.Millisecond
	cfg.Transcribe.ProcessingFactor = 0.4
	// The pre-flight gives each file's duration, which the estimate needs.
	if cfg.Preflight, err = preflight.New(preflight.Config{DisableFFmpeg: true}); err != nil {
		t.Fatal(err)
	}
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != n {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(files, func(a, b *batch.File) int { return a.Checkpoint.CreatedAt.Compare(b.Checkpoint.CreatedAt) })
	mean := func(fs []*batch.File) time.Duration {
		var sum time.Duration
		for _, f := range fs {
			sum += f.FinishedAt.Sub(f.Checkpoint.CreatedAt)
		}
		return sum / time.Duration(len(fs))
	}
	first, last := mean(files[:10]), mean(files[n-20:])
	t.Logf("create to done: first 10 created %v, last 20 %v", first, last)
	// Uncalibrated, a file is fetched 0.94-1.03 s after its create.
	if first < 900*time.Millisecond {
		t.Errorf("first files done %v after their create: the estimate was not too long?", first)
	}
	if last > 700*time.Millisecond {
		t.Errorf("last files done %v after their create, first ones %v: the estimate did not adapt", last, first)
	}
	lists := 0
	for _, c := range em.Emulator.Stats().Requests["list"] {
		lists += c
	}
	if lists < 1 || lists > n/25+1 {
		t.Errorf("%d list requests for %d files, want 1 to %d", lists, n, n/25+1)
	}

	// The next run on the store starts from the measured scale: its first
	// files are fetched about when done, before it has measured anything.
	more := t.TempDir() // new paths: new inputs
	writeWAVs(t, more, 10)
	inputs, _ := batch.ResolveInputs([]string{more}, nil)
	if res, err := st.Enqueue(ctx, inputs); err != nil || res.Added != 10 {
		t.Fatalf("enqueue: %v, %+v", err, res)
	}
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != n+10 {
		t.Fatalf("second run: %v, %+v", err, sum)
	}
	all, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := slices.DeleteFunc(all, func(f *batch.File) bool { return !strings.HasPrefix(f.Source, more) })
	if got := mean(second); got > 700*time.Millisecond {
		t.Errorf("second run's files done %v after their create: it did not start from the measured scale", got)
	}
}
