package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

// writeClips writes n distinct 0.5 s WAV files into dir (one in a subdir).
func writeClips(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		sub := dir
		if i == 0 {
			sub = filepath.Join(dir, "sub")
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, 8000)
		x := uint32(i*2654435761 + 7)
		for j := 0; j < len(data); j += 2 {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			binary.LittleEndian.PutUint16(data[j:], uint16(x%3000))
		}
		h := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
		binary.LittleEndian.PutUint32(h[4:], uint32(36+len(data)))
		binary.LittleEndian.PutUint32(h[40:], uint32(len(data)))
		if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("clip%d.wav", i)), append(h, data...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTranscribeEmulatorResumeStatusExport(t *testing.T) {
	t.Parallel()
	dir, out, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	db := filepath.Join(tmp, "ds.db")
	writeClips(t, dir, 5)
	args := []string{"transcribe", dir, "--out", out, "--db", db, "--emulator", "--time-scale", "0.01", "--format", "txt,json,srt"}

	code, stdout, stderr := runArgs(t, args...)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, name := range []string{"sub/clip0.txt", "sub/clip0.srt", "clip1.json", "clip4.txt"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("output missing: %v", err)
		}
	}
	if !strings.Contains(stdout, "done") || !strings.Contains(stdout, "total") {
		t.Errorf("stdout lacks progress or summary:\n%s", stdout)
	}

	// Re-running the same command is a no-op.
	code, stdout, _ = runArgs(t, args...)
	if code != ExitOK || !strings.Contains(stdout, "queued 0 new files (5 already known)") {
		t.Fatalf("re-run: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = runArgs(t, "status", "--db", db, "--json")
	var rep statusReport
	if err := json.Unmarshal([]byte(stdout), &rep); code != ExitOK || err != nil {
		t.Fatalf("status: exit %d, %v\n%s", code, err, stdout)
	}
	if rep.Total != 5 || len(rep.Counts) != 1 || rep.Counts[0].State != "done" {
		t.Errorf("status = %+v", rep)
	}

	exp := t.TempDir()
	code, stdout, stderr = runArgs(t, "export", "--db", db, "--out", exp, "--format", "txt,vtt")
	if code != ExitOK {
		t.Fatalf("export: exit %d\n%s%s", code, stdout, stderr)
	}
	a, _ := os.ReadFile(filepath.Join(out, "clip1.txt"))
	b, _ := os.ReadFile(filepath.Join(exp, "clip1.txt"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("export differs from the run's output: %q vs %q", a, b)
	}
	vtt, _ := os.ReadFile(filepath.Join(exp, "sub", "clip0.vtt"))
	if !strings.HasPrefix(string(vtt), "WEBVTT") {
		t.Errorf("vtt = %q", vtt)
	}

	// A different existing output is not overwritten without --force.
	if err := os.WriteFile(filepath.Join(exp, "clip1.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ = runArgs(t, "export", "--db", db, "--out", exp); code != ExitFailed {
		t.Errorf("export over a changed file: exit %d, want %d", code, ExitFailed)
	}
	if code, _, _ = runArgs(t, "export", "--db", db, "--out", exp, "--force"); code != ExitOK {
		t.Errorf("export --force: exit %d", code)
	}
}

func TestTranscribeNoKeyExits3BeforeAnything(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 1)
	db := filepath.Join(tmp, "ds.db")
	code, _, stderr := runArgs(t, "transcribe", dir, "--db", db)
	if code != ExitConfig || !strings.Contains(stderr, "ASSEMBLYAI_API_KEY") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the job store was created before the key was checked")
	}
}

func TestTranscribeBadKeyStopsRunKeepsQueue(t *testing.T) {
	t.Parallel()
	em := emulatortest.New(t, emulator.Config{APIKeys: []string{"good-key"}, TimeScale: 0.01})
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 4)
	db := filepath.Join(tmp, "ds.db")
	code, stdout, stderr := runArgs(t, "transcribe", dir, "--db", db, "--base-url", em.URL, "--api-key", "bad-key",
		"--time-scale", "0.01")
	if code != ExitConfig {
		t.Fatalf("exit %d, want %d\n%s%s", code, ExitConfig, stdout, stderr)
	}
	if !strings.Contains(stderr, "API key") || strings.Contains(stderr+stdout, "bad-key") {
		t.Errorf("stderr should say what to fix and never print the key:\n%s", stderr)
	}
	if got := em.Emulator.Stats().Requests["upload"][401]; got > 3 {
		t.Errorf("%d uploads answered 401: the run did not stop promptly", got)
	}
	// Fixed key: the same command resumes and finishes.
	code, stdout, stderr = runArgs(t, "transcribe", dir, "--db", db, "--base-url", em.URL, "--api-key", "good-key",
		"--time-scale", "0.01")
	if code != ExitOK || !strings.Contains(stdout, "queued 0 new files (4 already known)") {
		t.Fatalf("resume: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestTranscribeEmptyFileFailsThenRetry(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 1)
	if err := os.WriteFile(filepath.Join(dir, "empty.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(tmp, "ds.db")
	code, stdout, _ := runArgs(t, "transcribe", dir, "--db", db, "--emulator", "--time-scale", "0.01")
	if code != ExitFailed || !strings.Contains(stdout, "empty") {
		t.Fatalf("exit %d, want %d\n%s", code, ExitFailed, stdout)
	}
	code, stdout, _ = runArgs(t, "status", "--db", db)
	if code != ExitOK || !strings.Contains(stdout, "empty.wav") || !strings.Contains(stdout, "0 bytes") {
		t.Errorf("status should list the failure with its reason:\n%s", stdout)
	}
	code, stdout, _ = runArgs(t, "retry", "--db", db)
	if code != ExitOK || !strings.Contains(stdout, "queued 1 files again") {
		t.Errorf("retry: exit %d\n%s", code, stdout)
	}
	if code, _, _ = runArgs(t, "retry", "--db", db, "x"); code != ExitUsage {
		t.Errorf("retry x: exit %d, want %d", code, ExitUsage)
	}
}

func TestTranscribeInterruptedExits130(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 3)
	db := filepath.Join(tmp, "ds.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	s := &streams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(string) string { return "" }}
	done := make(chan int, 1)
	go func() { done <- run(ctx, s, []string{"transcribe", dir, "--db", db, "--emulator"}) }()
	// Interrupt once the files are queued: at time scale 1 a transcript takes
	// seconds, so the run is mid-way.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "queued") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != ExitInterrupted || !strings.Contains(errOut.String(), "re-run") {
		t.Fatalf("exit %d, want %d\n%s", code, ExitInterrupted, errOut.String())
	}
}

func TestEmulatorUsesSidecarTextOfInputs(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	audio, err := os.ReadFile(filepath.Join("..", "..", "testdata", "audio", "speech.wav"))
	if err != nil {
		t.Fatal(err)
	}
	const sentence = "Sidecar text travels with the audio."
	if err := os.WriteFile(filepath.Join(dir, "talk.wav"), audio, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "talk.txt"), []byte(sentence), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	code, stdout, stderr := runArgs(t, "transcribe", filepath.Join(dir, "talk.wav"), "--emulator",
		"--db", filepath.Join(tmp, "ds.db"), "--out", out, "--time-scale", "0.01")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	got, err := os.ReadFile(filepath.Join(out, "talk.txt"))
	if err != nil || !strings.Contains(string(got), sentence) {
		t.Fatalf("talk.txt = %q (%v), want the sidecar sentence", got, err)
	}
}

// --webhook-listen on loopback with the in-process emulator: transcripts are
// created with the listener's URL and the store's secret (internal/batch
// tests the deliveries).
func TestTranscribeWebhooks(t *testing.T) {
	t.Parallel()
	dir, out, tmp := t.TempDir(), t.TempDir(), t.TempDir()
	writeClips(t, dir, 3)
	code, stdout, stderr := runArgs(t, "transcribe", dir, "--out", out, "--db", filepath.Join(tmp, "ds.db"),
		"--emulator", "--time-scale", "0.05", "--webhook-listen", "127.0.0.1:0")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var tr struct {
		WebhookURL  string `json:"webhook_url"`
		WebhookAuth bool   `json:"webhook_auth"`
	}
	b, err := os.ReadFile(filepath.Join(out, "clip1.json"))
	if err == nil {
		err = json.Unmarshal(b, &tr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tr.WebhookURL, "http://127.0.0.1:") || !tr.WebhookAuth {
		t.Errorf("transcript's webhook_url %q, webhook_auth %v: want a loopback URL with auth", tr.WebhookURL, tr.WebhookAuth)
	}
}

func TestTranscribeWebhookFlagsChecked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeClips(t, dir, 1)
	params := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(params, []byte(`{"webhook_url":"https://example.com/mine"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"url without listener", []string{"--emulator", "--webhook-url", "https://hooks.example.com/"}, "--webhook-url needs --webhook-listen"},
		{"public listener without url", []string{"--emulator", "--webhook-listen", "0.0.0.0:0"}, "--webhook-url is needed"},
		{"loopback listener, real API", []string{"--api-key", "k", "--webhook-listen", "127.0.0.1:0"}, "--webhook-url is needed"},
		{"bad url", []string{"--emulator", "--webhook-listen", "127.0.0.1:0", "--webhook-url", "hooks.example.com"}, "not an absolute http(s) URL"},
		{"params webhook too", []string{"--emulator", "--webhook-listen", "127.0.0.1:0", "--params", params}, "use one of them"},
	} {
		db := filepath.Join(t.TempDir(), "ds.db")
		args := append([]string{"transcribe", dir, "--db", db}, tc.args...)
		code, _, stderr := runArgs(t, args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr, ExitUsage, tc.want)
		}
		if _, err := os.Stat(db); err == nil {
			t.Errorf("%s: the store was created before the flags were checked", tc.name)
		}
	}
}
