package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/durascribe/durascribe/preflight"
)

const audioDir = "../../testdata/audio"

func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	code = run(t.Context(), s, args)
	return code, out.String(), errOut.String()
}

func TestCheckExitCodes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"good file", []string{"check", "--no-ffmpeg", filepath.Join(audioDir, "speech.wav")}, ExitOK},
		{"warning only", []string{"check", "--no-ffmpeg", filepath.Join(audioDir, "tone_as.mp3")}, ExitOK},
		{"silent file", []string{"check", "--no-ffmpeg", filepath.Join(audioDir, "silence.wav")}, ExitFailed},
		{"missing file", []string{"check", "--no-ffmpeg", filepath.Join(audioDir, "nope.wav")}, ExitFailed},
		{"no args", []string{"check"}, ExitUsage},
		{"bad jobs", []string{"check", "--jobs", "0", "x.wav"}, ExitUsage},
		{"bad engine", []string{"check", "--engine", "sox", "x.wav"}, ExitUsage},
		{"bad flag", []string{"check", "--frobnicate", "x.wav"}, ExitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runArgs(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
		})
	}
}

func TestCheckTable(t *testing.T) {
	t.Parallel()
	code, out, errOut := runArgs(t, "check", "--no-ffmpeg", "--jobs", "2",
		filepath.Join(audioDir, "speech.wav"), filepath.Join(audioDir, "silence.wav"))
	if code != ExitFailed {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 4 || !strings.HasPrefix(lines[0], "VERDICT") {
		t.Fatalf("table:\n%s", out)
	}
	// rows in argument order, whatever finished first
	if !strings.HasPrefix(lines[1], "ok") || !strings.Contains(lines[1], "speech.wav") {
		t.Errorf("row 1 = %q, want ok speech.wav", lines[1])
	}
	if !strings.HasPrefix(lines[2], "reject") || !strings.Contains(lines[3], "silent:") {
		t.Errorf("rows 2-3 = %q %q, want reject silence.wav with its reason", lines[2], lines[3])
	}
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "2 files: 1 ok, 0 warn, 1 rejected") {
		t.Errorf("summary = %q", last)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing (details are in the table)", errOut)
	}
}

func TestCheckDirectoryJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, filepath.Join(audioDir, "speech.wav"), filepath.Join(dir, "a.wav"))
	copyFile(t, filepath.Join(audioDir, "speech.txt"), filepath.Join(dir, "a.txt"))
	copyFile(t, filepath.Join(audioDir, "silence.mp3"), filepath.Join(dir, ".hidden.mp3"))
	if err := os.MkdirAll(filepath.Join(dir, "sub", ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(audioDir, "speech.flac"), filepath.Join(dir, "sub", "b.flac"))
	copyFile(t, filepath.Join(audioDir, "silence.wav"), filepath.Join(dir, "sub", ".git", "c.wav"))

	code, out, errOut := runArgs(t, "check", "--json", "--no-ffmpeg", dir)
	if code != ExitOK {
		t.Fatalf("exit %d, want 0\n%s\n%s", code, out, errOut)
	}
	var got []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r preflight.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if r.Verdict != preflight.VerdictOK {
			t.Errorf("%s: %s %+v", r.Source, r.Verdict, r.Reasons)
		}
		rel, _ := filepath.Rel(dir, r.Source)
		got = append(got, rel)
	}
	if strings.Join(got, ",") != "a.wav,sub/b.flac" {
		t.Errorf("checked %v, want a.wav and sub/b.flac (no hidden files, no sidecars)", got)
	}
	var sum struct {
		Summary checkSummary `json:"summary"`
	}
	// Hidden names are passed over, as transcribe does; only a.txt counts
	// as a non-media file skipped.
	if err := json.Unmarshal([]byte(errOut), &sum); err != nil || sum.Summary.Files != 2 || sum.Summary.Skipped != 1 || sum.Summary.OK != 2 {
		t.Errorf("summary on stderr = %s (%v), want 2 files, 2 ok, 1 skipped", errOut, err)
	}
}

// TestCheckCraftedFiles checks a directory in which two crafted files crash
// the pure-Go MP3 and Ogg Vorbis decoders (issue 18): both are reported as
// corrupt, the good file next to them is still checked, and the exit status
// is the ordinary "some files rejected" one rather than a crash.
func TestCheckCraftedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyFile(t, filepath.Join(audioDir, "speech.wav"), filepath.Join(dir, "good.wav"))
	crafted := map[string]string{
		"crash.mp3": "\xff\xf3H" + strings.Repeat("0", 14) + "1\xb0" + strings.Repeat("0", 125),
		"crash.ogg": "OggS\x0000\x01vorbis000000000000\x00",
	}
	for name, b := range crafted {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := runArgs(t, "check", "--json", "--no-ffmpeg", dir)
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, ExitFailed, out, errOut)
	}
	got := map[string]preflight.Report{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r preflight.Report
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got[filepath.Base(r.Source)] = r
	}
	if r, ok := got["good.wav"]; !ok || r.Verdict != preflight.VerdictOK {
		t.Errorf("good.wav: reported %v, verdict %s %+v; want ok", ok, r.Verdict, r.Reasons)
	}
	for name := range crafted {
		if r := got[name]; r.Verdict != preflight.VerdictReject || !r.Has(preflight.CodeCorrupt) {
			t.Errorf("%s: verdict %q %+v, want reject with corrupt", name, r.Verdict, r.Reasons)
		}
	}
}

// TestCheckCorpusBothEngines runs the whole corpus directory: some files are
// rejected, so the exit status is 1 with either engine.
func TestCheckCorpusBothEngines(t *testing.T) {
	t.Parallel()
	argsets := [][]string{{"check", "--no-ffmpeg", "--jobs", "2", audioDir}}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		argsets = append(argsets, []string{"check", "--jobs", "2", audioDir}, []string{"check", "--engine", "ffmpeg", "--jobs", "2", audioDir})
	} else if os.Getenv("CI") == "true" {
		t.Fatal("ffmpeg not on PATH with CI=true")
	}
	for _, args := range argsets {
		code, out, _ := runArgs(t, args...)
		if code != ExitFailed || !strings.Contains(out, "26 files:") || !strings.Contains(out, "4 non-media files skipped") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
}

func TestCheckCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(string) string { return "" }}
	if code := run(ctx, s, []string{"check", "--no-ffmpeg", audioDir}); code != ExitInterrupted {
		t.Errorf("exit %d, want %d", code, ExitInterrupted)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCheckDir checks a directory of 1,000 small files with --jobs 2
// (target <= 10 s per run) with each engine. A quarter of the files (M4A,
// WebM) need ffmpeg under the auto engine.
func BenchmarkCheckDir(b *testing.B) {
	dir := b.TempDir()
	src := []string{"speech.wav", "speech.mp3", "speech.flac", "speech.ogg", "speech.opus", "speech.m4a", "speech.webm", "tone.wav"}
	for i := range 1000 {
		name := src[i%len(src)]
		data, err := os.ReadFile(filepath.Join(audioDir, name))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(i)+"_"+name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, engine := range []string{preflight.EngineGo, preflight.EngineAuto, preflight.EngineFFmpeg} {
		b.Run(engine, func(b *testing.B) {
			if _, err := exec.LookPath("ffmpeg"); err != nil && engine != preflight.EngineGo {
				b.Skip("ffmpeg not on PATH")
			}
			opts := &checkOptions{Sources: []string{dir}, Jobs: 2, Engine: engine, Out: io.Discard, ErrOut: io.Discard}
			for b.Loop() {
				if err := runCheck(b.Context(), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// check refuses a loopback URL unless --allow-private-urls, and prints URLs
// without their query values (issue 18, #14).
func TestCheckPrivateURL(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Header().Set("Content-Length", "123456")
	}))
	defer srv.Close()
	u := srv.URL + "/a.mp3?token=s3cret"
	code, out, errOut := runArgs(t, "check", u)
	if code != ExitFailed || !strings.Contains(out, string(preflight.CodeURLPrivate)) {
		t.Errorf("default: exit %d, want %d and %s\n%s%s", code, ExitFailed, preflight.CodeURLPrivate, out, errOut)
	}
	code, out, errOut = runArgs(t, "check", "--allow-private-urls", u)
	if code != ExitOK || !strings.Contains(out, "a.mp3?token=REDACTED") {
		t.Errorf("--allow-private-urls: exit %d, want %d and the URL redacted\n%s%s", code, ExitOK, out, errOut)
	}
	if strings.Contains(out+errOut, "s3cret") {
		t.Errorf("check prints the URL's token:\n%s%s", out, errOut)
	}
}
