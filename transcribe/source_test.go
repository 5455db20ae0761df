package transcribe

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
)

// replaceWith puts a new file with data, or a symbolic link to one, at path
// (renamed over it, as an editor or a sync tool does).
func replaceWith(t *testing.T, path string, data []byte, link bool) {
	t.Helper()
	other := filepath.Join(t.TempDir(), "other.wav")
	if err := os.WriteFile(other, data, 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if link {
		if err := os.Symlink(other, tmp); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	} else if err := os.Rename(other, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// A queued file replaced by a symbolic link is not uploaded (the link's
// target was never queued nor checked): a permanent failure that says so.
func TestUploadRefusesFileReplacedByLink(t *testing.T) {
	t.Parallel()
	for _, withCheck := range []bool{false, true} {
		api := newFakeAPI()
		var file string
		checks := 0
		h := newHarness(t, api, func(c *Config) {
			if withCheck {
				// The swap comes during the check: the checked path then
				// leads elsewhere than the file opened.
				c.Preflight = func(context.Context, string) (time.Duration, error) {
					if checks++; checks == 1 {
						replaceWith(t, file, []byte("RIFF the link's target"), true)
					}
					return 0, nil
				}
			}
		})
		file = h.file
		if !withCheck {
			replaceWith(t, file, []byte("RIFF the link's target"), true)
		}
		_, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{})
		if a, _ := Decide(err); a != ActionFail || !errors.Is(err, ErrInput) ||
			!strings.Contains(err.Error(), "replaced by a symbolic link") {
			t.Errorf("preflight %v: Transcribe = %v (%v), want a permanent failure naming the link", withCheck, err, a)
		}
		if uploads, _, _, _ := api.counts(); uploads != 0 {
			t.Errorf("preflight %v: %d uploads, want none", withCheck, uploads)
		}
	}
}

// A file replaced by another between the check and the upload is checked
// again, and the bytes uploaded are the bytes of the second check.
func TestUploadRechecksFileChangedDuringCheck(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	var file string
	checks := 0
	var newData []byte
	h := newHarness(t, api, func(c *Config) {
		c.Preflight = func(context.Context, string) (time.Duration, error) {
			if checks++; checks == 1 {
				replaceWith(t, file, newData, false)
			}
			return 0, nil
		}
	})
	// As long as the old file, so that nothing else notices the swap.
	file, newData = h.file, bytes.Repeat([]byte("E"), len(h.data))
	if _, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{}); err != nil {
		t.Fatal(err)
	}
	if checks != 2 {
		t.Errorf("%d checks, want 2: the replaced file must be checked again", checks)
	}
	if len(api.uploadBods) != 1 || !bytes.Equal(api.uploadBods[0], newData) {
		t.Errorf("uploaded %d bodies, want one: the new file's bytes", len(api.uploadBods))
	}
}
