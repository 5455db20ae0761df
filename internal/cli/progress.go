package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// isTerminal reports whether w is an *os.File on a terminal: only then does a
// working command draw a live progress bar (pipes, files and the buffers of
// tests get plain timestamped lines).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// barRefresh is how often the bar is redrawn, and barProgressEvery how often
// the run reads the counts for it (one GROUP BY on the store).
const (
	barRefresh       = 200 * time.Millisecond
	barProgressEvery = 500 * time.Millisecond
)

// progressView shows a run's progress: timestamped lines, or on a terminal a
// live bar (done, failed, in flight, retrying, ETA and the breaker while it
// is not closed) with the per-file lines printed above it. Its methods are
// safe for concurrent use; finish must be called once, after the run.
type progressView struct {
	// lines receives the per-file lines: the bar's container when there is
	// a bar (it prints them above the bar), else a lockedWriter on Out.
	lines io.Writer
	out   io.Writer // Out itself, for the summary after the bar is gone
	p     *mpb.Progress
	bar   *mpb.Bar
	// openDelay is the breaker's mean open delay: the next probe is about
	// that long after it opened (the breaker jitters it).
	openDelay time.Duration

	// mu guards the fields below; it is never held while calling the bar
	// or writing, since the bar's goroutines take it to draw.
	mu       sync.Mutex
	last     batch.Progress
	seen     bool
	start    time.Time
	ended0   int // files done or failed at the first snapshot (for the ETA)
	retrying map[string]bool
	breaker  resilience.BreakerState
	openedAt time.Time
	stopping bool // interrupted: running attempts are saving their state
}

// newPlainView returns a view that prints timestamped lines to out.
func newPlainView(out io.Writer) *progressView {
	lw := &lockedWriter{w: out}
	return &progressView{lines: lw, out: lw}
}

// newBarView returns a view that draws a bar on out. out is expected to be a
// terminal; any other writer (tests) gets the bar's escape sequences at a
// fixed width of width columns.
func newBarView(out io.Writer, width int, openDelay time.Duration) *progressView {
	v := &progressView{out: out, openDelay: openDelay, start: time.Now(), retrying: map[string]bool{}}
	opts := []mpb.ContainerOption{mpb.WithOutput(out), mpb.WithRefreshRate(barRefresh)}
	if !isTerminal(out) {
		opts = append(opts, mpb.ForceTTY(), mpb.WithAutoRefresh(), mpb.WithWidth(width))
	}
	v.p = mpb.New(opts...)
	v.lines = v.p
	// Total 0 means "no total yet": the bar never completes by itself (a
	// worker's queue can grow again), only in finish.
	v.bar = v.p.New(0, mpb.BarStyle(),
		mpb.PrependDecorators(decor.Any(v.countDecor, decor.WC{W: 14, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(v.etaDecor)),
		mpb.BarBtmExtender(mpb.BarFillerFunc(v.statesLine), mpb.BarFillerFunc(v.breakerLine)),
	)
	return v
}

// fileEnded prints a file's outcome (RunConfig.OnFileEnd).
func (v *progressView) fileEnded(f *batch.File, outErr error) {
	if v.bar != nil {
		v.mu.Lock()
		delete(v.retrying, f.Source)
		v.mu.Unlock()
	}
	switch {
	case f.State == batch.StateFailed:
		progressf(v.lines, "failed  %s: %s", logging.Source(f.Source), shownText(f.Reason))
	case outErr != nil:
		progressf(v.lines, "done    %s (output not written: %s)", logging.Source(f.Source), shownErr(outErr))
	default:
		progressf(v.lines, "done    %s", logging.Source(f.Source))
	}
}

// update takes a snapshot of the counts (RunConfig.OnProgress).
func (v *progressView) update(p batch.Progress) {
	if v.bar == nil {
		line := fmt.Sprintf("progress %d/%d done, %d failed, %d in flight, %d queued",
			p.Done, p.Total(), p.Failed, p.Working, p.Pending)
		if p.Breaker != "" {
			line += ", circuit breaker " + p.Breaker
		}
		progressf(v.lines, "%s", line)
		return
	}
	v.mu.Lock()
	if !v.seen {
		v.seen, v.ended0 = true, p.Done+p.Failed
	}
	v.last = p
	v.mu.Unlock()
	v.bar.SetTotal(int64(p.Total()), false)
	v.bar.SetCurrent(int64(p.Done + p.Failed))
}

// event notes whether a file's latest API attempt failed: such a file is
// retrying (in process or rescheduled) until an attempt succeeds or it ends.
func (v *progressView) event(ev transcribe.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if ev.Error != "" {
		v.retrying[ev.Source] = true
	} else {
		delete(v.retrying, ev.Source)
	}
}

// breakerChanged follows the API's circuit breaker.
func (v *progressView) breakerChanged(_ string, _, to resilience.BreakerState) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if to == resilience.BreakerOpen && v.breaker != resilience.BreakerOpen {
		v.openedAt = time.Now()
	}
	v.breaker = to
}

// watchInterrupt, when ctx ends, shows "stopping" instead of the ETA (the
// graceful stop takes seconds) and returns to the first column: the terminal
// echoes ^C where the cursor is, and the bar's next redraw (cursor up, erase)
// would start two columns in and wrap. It returns a stop function, to call
// when the run has returned.
func (v *progressView) watchInterrupt(ctx context.Context) (stop func() bool) {
	if v.bar == nil {
		return func() bool { return false }
	}
	return context.AfterFunc(ctx, func() {
		v.mu.Lock()
		v.stopping = true
		v.mu.Unlock()
		_, _ = v.p.Write([]byte("\r"))
	})
}

// finish ends the bar (complete when the run ended with every file done or
// failed, left as it was otherwise) and prints the summary table after it.
func (v *progressView) finish(sum batch.Summary, runErr error) {
	if v.bar != nil {
		v.update(sum.Progress)
		if runErr == nil && sum.Pending == 0 && sum.Working == 0 {
			v.bar.SetTotal(int64(sum.Total()), true)
		} else {
			v.bar.Abort(false)
		}
		v.p.Wait()
	}
	printSummary(v.out, sum)
}

// hookRun installs the view's callbacks in cfg, after (and calling) the ones
// already there (metrics).
func (v *progressView) hookRun(cfg *batch.RunConfig) {
	cfg.OnFileEnd = v.fileEnded
	cfg.OnProgress = v.update
	if v.bar == nil {
		return
	}
	cfg.ProgressEvery = barProgressEvery
	if prev := cfg.Transcribe.OnEvent; prev != nil {
		cfg.Transcribe.OnEvent = func(ev transcribe.Event) { v.event(ev); prev(ev) }
	} else {
		cfg.Transcribe.OnEvent = v.event
	}
	if prev := cfg.Breaker.OnStateChange; prev != nil {
		cfg.Breaker.OnStateChange = func(host string, from, to resilience.BreakerState) {
			v.breakerChanged(host, from, to)
			prev(host, from, to)
		}
	} else {
		cfg.Breaker.OnStateChange = v.breakerChanged
	}
}

// progressOfCounts sums the store's counts by state as the run's snapshots
// do (Waiting: files at the wait stage).
func progressOfCounts(counts []batch.Count) batch.Progress {
	var p batch.Progress
	for _, c := range counts {
		switch c.State {
		case batch.StatePending:
			p.Pending += c.N
		case batch.StateWorking:
			p.Working += c.N
			if c.Stage == transcribe.StageWait {
				p.Waiting += c.N
			}
		case batch.StateDone:
			p.Done += c.N
		case batch.StateFailed:
			p.Failed += c.N
		}
	}
	return p
}

func (v *progressView) countDecor(decor.Statistics) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.seen {
		return "starting"
	}
	return fmt.Sprintf("%d/%d files", v.last.Done+v.last.Failed, v.last.Total())
}

func (v *progressView) etaDecor(decor.Statistics) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	ended := v.last.Done + v.last.Failed - v.ended0
	left := v.last.Pending + v.last.Working
	switch {
	case v.stopping:
		return "stopping, saving state"
	case !v.seen:
		return "ETA --"
	case left == 0:
		return "ETA 0s"
	case ended <= 0:
		return "ETA --"
	}
	// The average rate of this run: files finished before it (a resumed
	// batch) say nothing about how fast this one goes.
	eta := time.Duration(float64(time.Since(v.start)) / float64(ended) * float64(left))
	if eta < time.Second {
		return "ETA <1s"
	}
	return "ETA " + eta.Round(time.Second).String()
}

// statesLine writes the counts under the bar.
func (v *progressView) statesLine(w io.Writer, _ decor.Statistics) error {
	v.mu.Lock()
	p, retrying, seen := v.last, len(v.retrying), v.seen
	v.mu.Unlock()
	if !seen {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  done %d · failed %d · in flight %d (%d at the API", p.Done, p.Failed, p.Working, p.Waiting)
	if retrying > 0 {
		fmt.Fprintf(&b, ", %d retrying", retrying)
	}
	fmt.Fprintf(&b, ") · queued %d\n", p.Pending)
	_, err := io.WriteString(w, b.String())
	return err
}

// breakerLine writes the breaker's state under the counts while it is not
// closed, and nothing (no line) otherwise.
func (v *progressView) breakerLine(w io.Writer, _ decor.Statistics) error {
	v.mu.Lock()
	state, openedAt := v.breaker, v.openedAt
	v.mu.Unlock()
	var line string
	switch state {
	case resilience.BreakerOpen:
		if next := time.Until(openedAt.Add(v.openDelay)); next > 0 {
			line = fmt.Sprintf("  API paused: circuit breaker open, next probe in ~%s\n", roundWait(next))
		} else {
			line = "  API paused: circuit breaker open, probing now\n"
		}
	case resilience.BreakerHalfOpen:
		line = "  API paused: circuit breaker half-open, probing\n"
	default:
		return nil
	}
	_, err := io.WriteString(w, line)
	return err
}

// subSecondWait is the display precision of a wait under a second
// (scaled-down demo runs): tenths, as a person reads them.
const subSecondWait = 100 * time.Millisecond

// roundWait rounds a wait for display: to the second, or to subSecondWait
// under a second.
func roundWait(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(subSecondWait)
}

// swapWriter forwards writes to a writer that can be replaced while in use:
// the logger writes to stderr, or above the bar while one is drawn on the
// same terminal (a log line written past the bar would tear it). A write the
// replacement refuses (the bar has ended) goes to the original writer.
type swapWriter struct {
	orig io.Writer
	mu   sync.Mutex
	cur  io.Writer
}

func (s *swapWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	w := s.cur
	s.mu.Unlock()
	if w != nil {
		if n, err := w.Write(p); err == nil {
			return n, nil
		}
	}
	return s.orig.Write(p)
}

// swap sends the writes to w until swap(nil).
func (s *swapWriter) swap(w io.Writer) {
	s.mu.Lock()
	s.cur = w
	s.mu.Unlock()
}
