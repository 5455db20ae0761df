package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8/decor"
	"go.uber.org/goleak"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// runOnTerminal runs args with Out and ErrOut taken for terminals, so that
// the progress bar is drawn into buffers.
func runOnTerminal(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	out, errOut := &syncBuffer{}, &syncBuffer{}
	s := &streams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(string) string { return "" },
		terminal: func(io.Writer) bool { return true }}
	code = run(ctx, s, args)
	return code, out.String(), errOut.String()
}

func TestTranscribeProgressBarOnTerminal(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 3)
	if err := os.WriteFile(filepath.Join(dir, "empty.wav"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runOnTerminal(t.Context(), "transcribe", dir, "--db", filepath.Join(tmp, "ds.db"),
		"--emulator", "--time-scale", "0.01")
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%q\nstderr:\n%s", code, ExitFailed, stdout, stderr)
	}
	// How many frames the bar drew depends on how long the run took; each
	// frame after the first must redraw it in place, not print another.
	if frames := strings.Count(stdout, "/4 files "); frames > 1 && !strings.Contains(stdout, "\x1b[") {
		t.Errorf("%d bar frames printed one after the other, want redraws in place:\n%q", frames, stdout)
	}
	for _, want := range []string{
		"4/4 files",         // final count on the bar
		"done 3 · failed 1", // final states under it
		"failed  " + dir,    // per-file lines above it
		"empty.wav",         // with the failure's file
		"ETA 0s",            // nothing left
		"total           4", // the summary table
		"queued 4 new files (0 already known)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%q", want, stdout)
		}
	}
	if bar, table := strings.LastIndex(stdout, "4/4 files"), strings.Index(stdout, "STATE"); table < bar {
		t.Errorf("the summary table (at %d) should follow the last bar frame (at %d):\n%q", table, bar, stdout)
	}
}

func TestTranscribeNoProgressKeepsPlainLinesOnTerminal(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 2)
	code, stdout, stderr := runOnTerminal(t.Context(), "transcribe", dir, "--db", filepath.Join(tmp, "ds.db"),
		"--emulator", "--time-scale", "0.01", "--no-progress")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "\x1b") || strings.Count(stdout, " done    ") != 2 || !strings.Contains(stdout, "total") {
		t.Errorf("want two timestamped done lines and the summary, no escape sequences:\n%q", stdout)
	}
}

func TestTranscribeProgressBarInterrupted(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 3)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	s := &streams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(string) string { return "" },
		terminal: func(io.Writer) bool { return true }}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, s, []string{"transcribe", dir, "--db", filepath.Join(tmp, "ds.db"), "--emulator"})
	}()
	// At time scale 1 a transcript takes seconds: interrupting once the bar
	// is drawn stops the run mid-way, and the bar must end without a hang,
	// the table after it.
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "/3 files") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	code := <-done
	stdout, stderr := out.String(), errOut.String()
	if code != ExitInterrupted || !strings.Contains(stderr, "re-run") {
		t.Fatalf("exit %d, want %d\n%q\n%s", code, ExitInterrupted, stdout, stderr)
	}
	// "\r": back to the first column after the terminal echoed ^C.
	for _, want := range []string{"/3 files", "stopping, saving state", "\r", "total           3"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%q", want, stdout)
		}
	}
}

// TestProgressViewBreakerAndRetrying drives the bar by hand: it is not
// parallel, so that goleak sees only its own goroutines.
func TestProgressViewBreakerAndRetrying(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var out bytes.Buffer
	v := newBarView(&out, 120, 10*time.Second)
	var cfg batch.RunConfig
	v.hookRun(&cfg)
	cfg.OnProgress(batch.Progress{Pending: 5, Working: 3, Waiting: 1, Done: 2})
	cfg.Transcribe.OnEvent(transcribe.Event{Source: "/a.wav", Error: "HTTP 503"})
	cfg.Transcribe.OnEvent(transcribe.Event{Source: "/b.wav", Error: "HTTP 503"})
	cfg.Transcribe.OnEvent(transcribe.Event{Source: "/b.wav"}) // b's retry succeeded
	cfg.Breaker.OnStateChange("api", resilience.BreakerClosed, resilience.BreakerOpen)
	cfg.OnFileEnd(&batch.File{Source: "/c.wav", State: batch.StateDone}, nil)
	// Interrupted: the bar stays as it was, with the breaker line.
	v.finish(batch.Summary{Progress: batch.Progress{Pending: 5, Working: 3, Waiting: 1, Done: 2}}, context.Canceled)
	got := out.String()
	for _, want := range []string{
		"2/10 files", "ETA --", "done 2 · failed 0 · in flight 3 (1 at the API, 1 retrying) · queued 5",
		"API paused: circuit breaker open, next probe in ~", "done    /c.wav", "total          10",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
}

func TestProgressViewHalfOpenAndClosed(t *testing.T) {
	t.Parallel()
	v := &progressView{openDelay: time.Second}
	for _, tt := range []struct {
		state resilience.BreakerState
		want  string
	}{
		{resilience.BreakerOpen, "probing now"}, // openedAt is long past
		{resilience.BreakerHalfOpen, "half-open, probing"},
		{resilience.BreakerClosed, ""},
	} {
		v.breaker = tt.state
		var b bytes.Buffer
		if err := v.breakerLine(&b, decor.Statistics{}); err != nil || !strings.Contains(b.String(), tt.want) ||
			tt.want == "" && b.Len() != 0 {
			t.Errorf("%v: %q, %v; want %q", tt.state, b.String(), err, tt.want)
		}
	}
}

func TestSwapWriterFallsBackWhenTheBarIsGone(t *testing.T) {
	t.Parallel()
	var orig, bar bytes.Buffer
	s := &swapWriter{orig: &orig}
	_, _ = s.Write([]byte("a"))
	s.swap(&bar)
	_, _ = s.Write([]byte("b"))
	s.swap(failWriter{})
	_, _ = s.Write([]byte("c"))
	s.swap(nil)
	_, _ = s.Write([]byte("d"))
	if orig.String() != "acd" || bar.String() != "b" {
		t.Errorf("orig %q, bar %q", orig.String(), bar.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }
