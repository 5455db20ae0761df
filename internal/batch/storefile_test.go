package batch_test

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/durascribe/durascribe/internal/batch"
)

// A SQLite store and its -wal and -shm files are for their owner only: they
// hold the webhook secret (issue 18, #15). An existing store made under a
// permissive umask is restricted when opened.
func TestSQLiteStoreFilesAreOwnerOnly(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		t.Skip("no Unix modes")
	}
	path := filepath.Join(t.TempDir(), "ds.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s: %s has mode %v, want no group or other access", when, filepath.Base(p), perm)
			}
		}
	}
	st, err := batch.Open(t.Context(), path, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check("new store")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+"-wal", nil, 0o644); err != nil { // as a crashed writer leaves it
		t.Fatal(err)
	}
	st, err = batch.Open(t.Context(), path, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	check("reopened store")
}
