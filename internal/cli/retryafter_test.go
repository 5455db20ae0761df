package cli

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

// TestTranscribeRetryAfterIn2100 is issue 18 item 8 at the command line: an
// API that answers the create with "Retry-After: Fri, 31 Dec 2100 23:59:59
// GMT" made `transcribe` show "1 in flight" forever and `status` "working
// create" with no reason. Now the command ends within a minute saying what
// the API asked, status shows the file's last error, and the same command
// against the recovered API finishes the file at once.
func TestTranscribeRetryAfterIn2100(t *testing.T) {
	t.Parallel()
	var far atomic.Bool
	far.Store(true)
	srv := emulatortest.NewWrapped(t, emulator.Config{TimeScale: 0.01},
		emulatortest.ThrottleCreates(&far, "Fri, 31 Dec 2100 23:59:59 GMT"))
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 1)
	db := filepath.Join(tmp, "ds.db")
	args := []string{"transcribe", dir, "--db", db, "--base-url", srv.URL, "--api-key", "test-key", "--time-scale", "0.01"}

	start := time.Now()
	code, stdout, stderr := runArgs(t, args...)
	if d := time.Since(start); d > time.Minute {
		t.Errorf("transcribe took %v, want it to end within a minute", d)
	}
	if code != ExitFailed || !strings.Contains(stderr, "2100-12-31T23:59:59Z") || !strings.Contains(stderr, "re-run") {
		t.Fatalf("exit %d, want %d with the API's date and what to do\nstdout:\n%s\nstderr:\n%s", code, ExitFailed, stdout, stderr)
	}
	t.Logf("stderr: %s", stderr)
	_, stdout, _ = runArgs(t, "status", "--db", db)
	t.Logf("status:\n%s", stdout)
	for _, want := range []string{"create", "asked to retry after 2100-12-31T23:59:59Z", "waiting 10m0s at most"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status does not say %q:\n%s", want, stdout)
		}
	}

	far.Store(false)
	code, stdout, stderr = runArgs(t, args...)
	if code != ExitOK {
		t.Fatalf("re-run against the recovered API: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
