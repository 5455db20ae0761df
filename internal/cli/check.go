package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/preflight"
)

type checkOptions struct {
	Sources  []string
	JSON     bool
	Jobs     int
	Engine   string
	NoFFmpeg bool
	// AllowPrivateURLs: see preflight.Config.AllowPrivateURLs.
	AllowPrivateURLs bool
	Out              io.Writer
	ErrOut           io.Writer
}

func newCheckCmd(s *streams) *cobra.Command {
	opts := &checkOptions{Out: s.Out, ErrOut: s.ErrOut}
	cmd := &cobra.Command{
		Use:   "check PATH|DIR|URL ...",
		Short: "Check audio files before uploading them",
		Long: `check runs the pre-flight checks on each file, directory or URL and prints
one row per file with its verdict (ok, warn, reject) and the reasons:
missing or unreadable files, empty or oversized files, unsupported formats,
videos without audio, truncated or corrupt audio, too short or too long,
silent or very quiet recordings.

Directories are walked recursively. Hidden files and directories (names
starting with ".") are skipped, and so are files whose extension is not an
audio or video format AssemblyAI accepts (sidecar .txt, .json, ...); name a
file explicitly to check it whatever its name. URLs get one HEAD request.

With ffmpeg on PATH the default engine (--engine auto) decodes WAV, MP3,
FLAC, Ogg Vorbis and Opus in pure Go and sends other formats to ffmpeg, as
well as every file in which Go finds a problem, so ffmpeg has the last word
on each warning and rejection. --engine ffmpeg decodes every file with ffmpeg;
--engine go (or --no-ffmpeg) never runs it and marks the formats Go cannot
decode not_verified. Files going to ffmpeg share ffmpeg processes.

Exit status: 0 when nothing is rejected, 1 when some file is, 2 on usage
errors. With --json each file is one JSON object per line on stdout and the
summary goes to stderr.`,
		Example: `  durascribe check interview.mp3
  durascribe check --jobs 4 recordings/
  durascribe check --json recordings/ > preflight.jsonl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf(errors.New("check needs at least one file, directory or URL"))
			}
			if opts.Jobs < 1 {
				return usageErrorf(fmt.Errorf("--jobs must be at least 1, got %d", opts.Jobs))
			}
			switch opts.Engine {
			case preflight.EngineAuto, preflight.EngineFFmpeg, preflight.EngineGo:
			default:
				return usageErrorf(fmt.Errorf("--engine must be auto, ffmpeg or go, got %q", opts.Engine))
			}
			opts.Sources = args
			return runCheck(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print one JSON report per line")
	cmd.Flags().IntVar(&opts.Jobs, "jobs", runtime.GOMAXPROCS(0), "files checked at the same time")
	cmd.Flags().StringVar(&opts.Engine, "engine", preflight.EngineAuto, "auto, ffmpeg or go (see above)")
	cmd.Flags().BoolVar(&opts.NoFFmpeg, "no-ffmpeg", false, "use the pure-Go engine even when ffmpeg is installed (--engine go)")
	cmd.Flags().BoolVar(&opts.AllowPrivateURLs, "allow-private-urls", false, "let URL pre-flight connect to loopback, private and link-local addresses (off: such URLs are rejected; AssemblyAI cannot fetch them either)")
	return cmd
}

// checkSummary counts verdicts.
type checkSummary struct {
	Files    int     `json:"files"`
	OK       int     `json:"ok"`
	Warn     int     `json:"warn"`
	Rejected int     `json:"rejected"`
	Skipped  int     `json:"skipped"` // non-media files in walked directories
	Engine   string  `json:"engine"`
	Seconds  float64 `json:"seconds"`
}

func runCheck(ctx context.Context, opts *checkOptions) error {
	start := time.Now()
	checker, err := preflight.New(preflight.Config{Engine: opts.Engine, DisableFFmpeg: opts.NoFFmpeg,
		AllowPrivateURLs: opts.AllowPrivateURLs})
	if err != nil {
		return configErrorf(err)
	}
	targets, skipped, err := expandSources(opts.Sources)
	if err != nil {
		return err
	}
	sum := checkSummary{Files: len(targets), Skipped: skipped, Engine: checker.Engine()}
	if !opts.JSON {
		fmt.Fprintf(opts.Out, "%-7s %9s  %-14s %-13s %s\n", "VERDICT", "DURATION", "FORMAT", "PEAK/RMS dB", "FILE")
	}
	var printErr error
	err = checkAll(ctx, checker, targets, opts.Jobs, func(r preflight.Report) {
		switch r.Verdict {
		case preflight.VerdictOK:
			sum.OK++
		case preflight.VerdictWarn:
			sum.Warn++
		default:
			sum.Rejected++
		}
		if printErr == nil {
			printErr = printReport(opts, r)
		}
	})
	if err != nil {
		return err
	}
	if printErr != nil {
		return fmt.Errorf("write report: %w", printErr)
	}
	sum.Seconds = time.Since(start).Seconds()
	if opts.JSON {
		b, _ := json.Marshal(struct {
			Summary checkSummary `json:"summary"`
		}{sum})
		fmt.Fprintf(opts.ErrOut, "%s\n", b)
	} else {
		fmt.Fprintf(opts.Out, "%d files: %d ok, %d warn, %d rejected", sum.Files, sum.OK, sum.Warn, sum.Rejected)
		if sum.Skipped > 0 {
			fmt.Fprintf(opts.Out, "; %d non-media files skipped", sum.Skipped)
		}
		fmt.Fprintf(opts.Out, " (engine %s, %.1fs)\n", sum.Engine, sum.Seconds)
	}
	if sum.Rejected > 0 {
		return &reportedError{failedErrorf(fmt.Errorf("%d of %d files rejected", sum.Rejected, sum.Files))}
	}
	return nil
}

// expandSources turns arguments into the list of sources to check, walking
// directories. Arguments that do not exist are kept: their report says so.
func expandSources(args []string) (targets []string, skipped int, err error) {
	for _, a := range args {
		if preflight.IsURL(a) {
			targets = append(targets, a)
			continue
		}
		fi, err := os.Stat(a)
		if err != nil || !fi.IsDir() {
			targets = append(targets, a)
			continue
		}
		// The walk transcribe and enqueue use, so that check lists what
		// they would queue: symbolic links followed, hidden names skipped.
		err = batch.WalkFiles(a, func(p, _ string, fi fs.FileInfo, err error) error {
			switch {
			case err != nil && (fi != nil || preflight.FormatName(p) != ""):
				// an unreadable directory or a dangling link to media:
				// report it as a row rather than stop
				targets = append(targets, p)
			case err != nil || preflight.FormatName(p) == "":
				skipped++
			default:
				targets = append(targets, p)
			}
			return nil
		})
		if err != nil {
			return nil, 0, fmt.Errorf("walk %s: %w", a, err)
		}
	}
	return targets, skipped, nil
}

// checkAll checks targets with jobs workers and calls emit once per target,
// in input order, from one goroutine. Each worker takes a run of targets at a
// time so that the files needing ffmpeg in it share one ffmpeg process.
func checkAll(ctx context.Context, c *preflight.Checker, targets []string, jobs int, emit func(preflight.Report)) error {
	type result struct {
		start int
		rs    []preflight.Report
		err   error
	}
	// about four chunks per worker keeps the workers evenly loaded
	chunk := min(max((len(targets)+4*jobs-1)/(4*jobs), 1), maxCheckChunk)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	starts := make(chan int)
	results := make(chan result, jobs)
	var wg sync.WaitGroup
	for range min(jobs, max(len(targets), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range starts {
				rs, err := c.CheckAll(ctx, targets[start:min(start+chunk, len(targets))])
				results <- result{start, rs, err}
			}
		}()
	}
	go func() {
		defer close(starts)
		for start := 0; start < len(targets); start += chunk {
			select {
			case starts <- start:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	pending := map[int][]preflight.Report{}
	next := 0
	var firstErr error
	for res := range results {
		if res.err != nil {
			if firstErr == nil {
				firstErr = res.err
				cancel()
			}
			continue
		}
		pending[res.start] = res.rs
		for {
			rs, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			for _, r := range rs {
				emit(r)
			}
			next += len(rs)
		}
	}
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// maxCheckChunk is the most targets a check worker takes at a time.
const maxCheckChunk = 64

func printReport(opts *checkOptions, r preflight.Report) error {
	r.Source = logging.RedactURL(r.Source)
	for i := range r.Reasons {
		r.Reasons[i].Message = logging.RedactText(r.Reasons[i].Message)
	}
	if opts.JSON {
		b, err := json.Marshal(r) // escapes control characters itself
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(opts.Out, "%s\n", b)
		return err
	}
	d := "-"
	if r.Duration > 0 {
		d = formatDuration(r.Duration)
	}
	format := r.Container
	if r.Codec != "" {
		format += "/" + r.Codec
	}
	if format == "" {
		format = "-"
	}
	lvl := "-"
	if r.PeakDBFS != nil {
		lvl = fmt.Sprintf("%.0f/%.0f", *r.PeakDBFS, *r.RMSDBFS)
	}
	if _, err := fmt.Fprintf(opts.Out, "%-7s %9s  %-14s %-13s %s\n", r.Verdict, d, format, lvl, logging.Printable(r.Source)); err != nil {
		return err
	}
	for _, x := range r.Reasons {
		if _, err := fmt.Fprintf(opts.Out, "        %s %s: %s\n", severityMark(x.Severity), x.Code, logging.Printable(x.Message)); err != nil {
			return err
		}
	}
	return nil
}

func severityMark(v preflight.Verdict) string {
	if v == preflight.VerdictReject {
		return "x"
	}
	return "!"
}

func formatDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm%02ds", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
	}
}
