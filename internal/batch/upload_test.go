package batch_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/transcribe"
)

// TestEnqueueUploadedNeedsNoFiles uploads at enqueue time, deletes the local
// files, and checks that a worker finishes every file from the saved
// upload_urls alone: no upload after enqueue, none repeated.
func TestEnqueueUploadedNeedsNoFiles(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const (
			scale = 0.01
			n     = 12
		)
		em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: scale})
		dir := t.TempDir()
		paths := writeWAVs(t, dir, n)
		empty := dir + "/empty.wav"
		if err := os.WriteFile(empty, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close() //nolint:errcheck // test teardown
		inputs, err := batch.ResolveInputs([]string{dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg := runConfig(t, em.URL, em.APIKey, scale, t.TempDir())
		res, err := st.EnqueueUploaded(ctx, inputs, batch.UploadConfig{Transcribe: cfg.Transcribe, Concurrency: 3})
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != n+1 || res.Uploaded != n || res.Rejected != 1 || res.Deferred != 0 {
			t.Fatalf("result added %d uploaded %d rejected %d deferred %d; want %d, %d, 1, 0",
				res.Added, res.Uploaded, res.Rejected, res.Deferred, n+1, n)
		}
		if got := em.Emulator.Stats().Uploads; got != n {
			t.Fatalf("emulator uploads after enqueue = %d, want %d", got, n)
		}
		files, err := st.Files(ctx, batch.StateWorking)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f.Stage != transcribe.StageCreate || f.Checkpoint.UploadURL == "" {
				t.Fatalf("file %s after enqueue: stage %q, upload_url %q", f.Source, f.Stage, f.Checkpoint.UploadURL)
			}
		}
		// Enqueueing again uploads nothing.
		if res, err := st.EnqueueUploaded(ctx, inputs, batch.UploadConfig{Transcribe: cfg.Transcribe}); err != nil || res.Uploaded != 0 || res.Added != 0 {
			t.Fatalf("second enqueue: %+v, %v; want nothing new", res, err)
		}
		for _, p := range paths {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}

		cfg.Concurrency = 4
		sum, err := st.Run(ctx, cfg)
		if err != nil {
			t.Fatalf("run: %v (summary %+v)", err, sum)
		}
		if sum.Done != n || sum.Failed != 1 {
			t.Fatalf("summary %+v: want %d done and the empty file failed", sum, n)
		}
		stats := em.Emulator.Stats()
		if stats.Uploads != n || stats.ReUploads != 0 || stats.DuplicateTranscripts != 0 {
			t.Errorf("emulator: uploads %d re-uploads %d duplicates %d; want %d, 0, 0",
				stats.Uploads, stats.ReUploads, stats.DuplicateTranscripts, n)
		}
	})
}
