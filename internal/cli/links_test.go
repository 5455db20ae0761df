package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/durascribe/durascribe/preflight"
)

// check and transcribe walk a folder the same way: symbolic links to audio
// and to folders are followed (a link loop ends), so what check lists as ok
// is what transcribe transcribes, named after the link.
func TestCheckAndTranscribeFollowTheSameLinks(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	in, outside, out := filepath.Join(root, "in"), filepath.Join(root, "outside"), t.TempDir()
	writeClips(t, in, 2)      // in/sub/clip0.wav, in/clip1.wav
	writeClips(t, outside, 4) // outside/sub/clip0.wav, outside/clip1..3.wav
	for link, target := range map[string]string{
		"linked.wav":   filepath.Join(outside, "clip2.wav"),
		"linkdir":      filepath.Join(outside, "sub"),
		"loop":         in,
		"dangling.wav": filepath.Join(root, "nowhere.wav"),
	} {
		if err := os.Symlink(target, filepath.Join(in, link)); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}

	_, stdout, stderr := runArgs(t, "check", "--json", "--no-ffmpeg", in)
	var checked, rejected []string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r preflight.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v\n%s", sc.Text(), err, stderr)
		}
		rel, _ := filepath.Rel(in, r.Source)
		if r.Verdict == preflight.VerdictReject {
			rejected = append(rejected, filepath.ToSlash(rel))
			continue
		}
		checked = append(checked, filepath.ToSlash(rel))
	}
	slices.Sort(checked)
	want := []string{"clip1.wav", "linkdir/clip0.wav", "linked.wav", "sub/clip0.wav"}
	if !slices.Equal(checked, want) || !slices.Equal(rejected, []string{"dangling.wav"}) {
		t.Errorf("check: ok %v, rejected %v; want ok %v, rejected [dangling.wav]", checked, rejected, want)
	}

	code, stdout, stderr := runArgs(t, "transcribe", in, "--out", out, "--db", filepath.Join(root, "ds.db"),
		"--emulator", "--time-scale", "0.01", "--format", "txt", "--no-progress")
	if code != ExitOK {
		t.Fatalf("transcribe: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var written []string
	_ = filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			written = append(written, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(written)
	if want := []string{"clip1.txt", "linkdir/clip0.txt", "linked.txt", "sub/clip0.txt"}; !slices.Equal(written, want) {
		t.Errorf("transcribe wrote %v, want %v", written, want)
	}
}
