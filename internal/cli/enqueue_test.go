package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// TestEnqueueUploadsSoWorkersNeedNoFiles is the several-machines flow:
// enqueue pre-flights and uploads here, the local files go away, and a
// worker finishes every file from the saved upload_urls with no upload.
func TestEnqueueUploadsSoWorkersNeedNoFiles(t *testing.T) {
	t.Parallel()
	const n = 4
	em := emulatortest.New(t, emulator.Config{Seed: 9, TimeScale: 0.01})
	dir, tmp := t.TempDir(), t.TempDir()
	db := filepath.Join(tmp, "ds.db")
	writeClips(t, dir, n)

	code, stdout, stderr := runArgs(t, "enqueue", dir, "--db", db, "--api-key", em.APIKey, "--base-url", em.URL)
	if code != ExitOK || !strings.Contains(stdout, "4 uploaded now, 0 failed, 0 left") {
		t.Fatalf("enqueue: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, em.APIKey) {
		t.Error("the API key appears in enqueue's output")
	}
	if got := em.Emulator.Stats().Uploads; got != n {
		t.Fatalf("uploads after enqueue = %d, want %d", got, n)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, s, []string{"worker", "--db", db, "--api-key", em.APIKey, "--base-url", em.URL, "--time-scale", "0.01"})
	}()
	waitAllDone(ctx, t, db, n)
	cancel()
	<-done
	stats := em.Emulator.Stats()
	if stats.Uploads != n || stats.ReUploads != 0 || stats.DuplicateTranscripts != 0 || stats.TranscriptsCompleted != n {
		t.Errorf("emulator: uploads %d, re-uploads %d, duplicates %d, completed %d; want %d, 0, 0, %d",
			stats.Uploads, stats.ReUploads, stats.DuplicateTranscripts, stats.TranscriptsCompleted, n, n)
	}

	// Without a key, enqueue only records (and says so); --upload=true
	// without a key is a configuration error.
	clips := t.TempDir()
	writeClips(t, clips, 1)
	if code, stdout, _ := runArgs(t, "enqueue", clips, "--db", filepath.Join(tmp, "b.db")); code != ExitOK || !strings.Contains(stdout, "not uploaded") {
		t.Errorf("enqueue without a key: exit %d\n%s", code, stdout)
	}
	if code, _, stderr := runArgs(t, "enqueue", clips, "--upload", "--db", filepath.Join(tmp, "c.db")); code != ExitConfig {
		t.Errorf("enqueue --upload without a key: exit %d, want %d\n%s", code, ExitConfig, stderr)
	}
}

// waitAllDone polls the store until n files are done.
func waitAllDone(ctx context.Context, t *testing.T, db string, n int) {
	t.Helper()
	st, err := batch.Open(ctx, db, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		files, err := st.Files(ctx, batch.StateDone)
		if err == nil && len(files) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not all files done before the deadline: %d of %d (%v)", len(files), n, err)
		case <-tick.C:
		}
	}
}
