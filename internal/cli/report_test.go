package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/durascribe/durascribe/internal/bundle"
	"github.com/durascribe/durascribe/internal/report"
)

// testKey is the API key given to every command of the observability tests;
// no output, file or log may contain it.
const testKey = "sk_test_durascribe_0123456789abcdef"

func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	s := &streams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, Getenv: func(k string) string { return env[k] }}
	code = run(t.Context(), s, args)
	return code, out.String(), errOut.String()
}

// outageBatch runs a small batch on the emulator's outage scenario: six
// good files (which retry through the outage) and a silent one that fails
// pre-flight. It returns the store and the log file.
func outageBatch(t *testing.T) (db, logFile string) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	speech, err := os.ReadFile(filepath.Join(audioDir, "speech.wav"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := os.WriteFile(filepath.Join(in, n+".wav"), speech, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	silence, err := os.ReadFile(filepath.Join(audioDir, "silence.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "silent.wav"), silence, 0o600); err != nil {
		t.Fatal(err)
	}
	// An outage from the emulator's start, 3 s long at this time scale, so
	// that the files meet it however slowly the run starts (the named
	// "outage" scenario begins 0.1 s in at this scale and may be over first;
	// 1 s was once over before the first upload, in CI under -race).
	outage := filepath.Join(dir, "outage.json")
	if err := os.WriteFile(outage, []byte(`{"name": "outage", "outages": [{"start": 0, "end": 300}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	db, logFile = filepath.Join(dir, "jobs.db"), filepath.Join(dir, "log.txt")
	code, out, errOut := runEnv(t, map[string]string{"ASSEMBLYAI_API_KEY": testKey}, "transcribe",
		"--emulator="+outage, "--time-scale", "0.01", "--db", db, "--out", filepath.Join(dir, "out"),
		"--log-level", "debug", "--log-file", logFile, in)
	if code != ExitFailed {
		t.Fatalf("transcribe exit %d, want %d (one silent file)\nstdout:\n%s\nstderr:\n%s", code, ExitFailed, out, errOut)
	}
	return db, logFile
}

func noKey(t *testing.T, what string, data []byte) {
	t.Helper()
	if bytes.Contains(data, []byte(testKey)) {
		t.Errorf("API key found in %s", what)
	}
}

func TestReportAndBundle(t *testing.T) {
	t.Parallel()
	db, logFile := outageBatch(t)
	logData, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	noKey(t, "the log", logData)
	env := map[string]string{"ASSEMBLYAI_API_KEY": testKey}

	t.Run("json", func(t *testing.T) {
		code, out, errOut := runEnv(t, env, "report", "--db", db, "--json")
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		noKey(t, "report --json", []byte(out))
		var s report.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("parse report: %v\n%s", err, out)
		}
		if s.Files.Total != 7 || len(s.Files.NotDone) != 1 || !strings.Contains(s.Files.NotDone[0].Reason, "silent") {
			t.Errorf("files = %+v", s.Files)
		}
		var stages []string
		for _, st := range s.Stages {
			stages = append(stages, st.Stage)
		}
		if !slices.Equal(stages, []string{"upload", "create", "wait"}) {
			t.Errorf("stages = %v", stages)
		}
		if s.Attempts == 0 || s.FailedAttempts == 0 {
			t.Errorf("outage left no failed attempts: %d of %d", s.FailedAttempts, s.Attempts)
		}
		codes := map[string]int{}
		for _, b := range s.Timeline {
			for k, v := range b.ErrorsByStatus {
				codes[k] += v
			}
		}
		if codes["503"] == 0 {
			t.Errorf("no 503s in the timeline of an outage: %v", codes)
		}
		if len(s.Latency) == 0 {
			t.Error("no latency figures")
		}
	})

	t.Run("text and html", func(t *testing.T) {
		page := filepath.Join(t.TempDir(), "sub", "report.html")
		code, out, errOut := runEnv(t, env, "report", "--db", db, "--html", page)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		noKey(t, "report text", []byte(out))
		for _, want := range []string{"STAGE", "upload", "Errors by status:", "503=", "Not done:", "silent.wav"} {
			if !strings.Contains(out, want) {
				t.Errorf("text report lacks %q:\n%s", want, out)
			}
		}
		html, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		noKey(t, "report html", html)
		for _, id := range report.ChartIDs {
			if !bytes.Contains(html, []byte(`id="`+id+`"`)) {
				t.Errorf("html lacks chart %s", id)
			}
		}
	})

	t.Run("bundle failed", func(t *testing.T) {
		zipPath := filepath.Join(t.TempDir(), "bundle.zip")
		code, out, errOut := runEnv(t, env, "bundle", "--db", db, "--failed", "-o", zipPath)
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "1 files") {
			t.Errorf("stdout = %q", out)
		}
		raw, err := os.ReadFile(zipPath)
		if err != nil {
			t.Fatal(err)
		}
		noKey(t, "the raw zip", raw)
		zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			t.Fatal(err)
		}
		entries := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			noKey(t, f.Name, data)
			entries[strings.TrimPrefix(f.Name, bundle.Root)] = data
		}
		dir := "files/001-silent.wav/"
		for _, name := range []string{"README.txt", "system.json", dir + "summary.txt", dir + "attempts.json",
			dir + "errors.json", dir + "preflight.json", dir + "params.json"} {
			if _, ok := entries[name]; !ok {
				t.Errorf("bundle lacks %s", name)
			}
		}
		if !bytes.Contains(entries["README.txt"], []byte("silent")) {
			t.Errorf("README lacks the failure reason:\n%s", entries["README.txt"])
		}
		hasSample := false
		for name := range entries {
			if strings.HasPrefix(name, dir+"sample.") || strings.HasPrefix(name, dir+"audio.") {
				hasSample = true
			}
		}
		if !hasSample {
			t.Error("bundle lacks an audio sample (the silent file is small)")
		}
	})

	t.Run("bundle by id and path", func(t *testing.T) {
		zipPath := filepath.Join(t.TempDir(), "bundle.zip")
		code, _, errOut := runEnv(t, env, "bundle", "--db", db, "--no-ffmpeg", "-o", zipPath, "1",
			filepath.Join(filepath.Dir(db), "in", "silent.wav"))
		if code != ExitOK {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		zr, err := zip.OpenReader(zipPath)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close() //nolint:errcheck // opened read-only
		n := 0
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, "/summary.txt") {
				n++
			}
		}
		if n != 2 {
			t.Errorf("bundle has %d files, want 2", n)
		}
	})

	t.Run("bundle usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"bundle", "--db", db},
			{"bundle", "--db", db, "-o", filepath.Join(t.TempDir(), "x.zip"), "no-such-file.wav"},
		} {
			if code, _, _ := runEnv(t, env, args...); code != ExitUsage {
				t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
			}
		}
	})
}
