package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// enqueue → edit every file → transcribe: each file is transcribed once,
// from the upload enqueue made (a second record per file was a second paid
// transcript).
func TestEditedAfterEnqueueIsTranscribedOnce(t *testing.T) {
	t.Parallel()
	const n = 4
	em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: 0.01})
	dir, out := t.TempDir(), t.TempDir()
	db := filepath.Join(t.TempDir(), "ds.db")
	writeClips(t, dir, n)
	api := []string{"--db", db, "--api-key", em.APIKey, "--base-url", em.URL}
	if code, stdout, stderr := runArgs(t, append([]string{"enqueue", dir}, api...)...); code != ExitOK {
		t.Fatalf("enqueue: exit %d\n%s\n%s", code, stdout, stderr)
	}
	later := time.Now().Add(time.Hour)
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0); err == nil {
				_, _ = f.Write(make([]byte, 64)) // an edit: new size
				_ = f.Close()
			}
			_ = os.Chtimes(p, later, later)
		}
		return nil
	})
	args := append([]string{"transcribe", dir, "--out", out, "--time-scale", "0.01", "--no-progress"}, api...)
	code, stdout, stderr := runArgs(t, args...)
	if code != ExitOK || !strings.Contains(stdout, "queued 0 new files (4 already known)") {
		t.Fatalf("transcribe: exit %d\n%s\n%s", code, stdout, stderr)
	}
	st, err := batch.Open(t.Context(), db, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	files, err := st.Files(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	stats := em.Emulator.Stats()
	if len(files) != n || stats.Uploads != n || stats.TranscriptsCompleted != n {
		t.Errorf("%d records, %d uploads, %d transcripts; want %d of each", len(files), stats.Uploads,
			stats.TranscriptsCompleted, n)
	}
}
