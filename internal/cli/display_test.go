package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A file name with an escape sequence and a newline is printed escaped by
// every command that names files, never raw (issue 18, #17).
func TestHostileFileNamePrintsEscaped(t *testing.T) {
	t.Parallel()
	const name = "a\x1b[31mred\nb.wav"
	const shown = `a\x1b[31mred\nb.wav`
	dir, tmp := t.TempDir(), t.TempDir()
	// Empty, so pre-flight rejects it and every command has a reason to name it.
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Skipf("file system refuses the name: %v", err)
	}
	db := filepath.Join(tmp, "ds.db")
	for _, args := range [][]string{
		{"check", "--no-ffmpeg", filepath.Join(dir, name)},
		{"transcribe", dir, "--db", db, "--emulator", "--time-scale", "0.01", "--no-progress"},
		{"status", "--db", db},
		{"report", "--db", db},
		{"retry", "--db", db, filepath.Join(dir, name)}, // a usage error that names it
	} {
		_, stdout, stderr := runArgs(t, args...)
		all := stdout + stderr
		if strings.ContainsAny(all, "\x1b") || strings.Contains(all, "red\nb.wav") {
			t.Errorf("%s prints the name raw:\n%s", args[0], all)
		}
		if args[0] != "retry" && !strings.Contains(all, shown) {
			t.Errorf("%s does not name the file as %s:\n%s", args[0], shown, all)
		}
	}
}
