package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/resilience"
)

// benchAPIKey is the key the bench's emulators accept; it is not a secret.
const benchAPIKey = "bench-local-key"

// emulatorReadHeaderTimeout is the bench emulator server's ReadHeaderTimeout:
// the clients are the contenders on this machine; ten seconds only bounds a
// stuck one. Round.
const emulatorReadHeaderTimeout = 10 * time.Second

// childWaitDelay is how long an interrupted child's output pipes may stay
// open before they are closed (exec.Cmd.WaitDelay): room for the child to
// print its result after the interrupt. Round.
const childWaitDelay = 10 * time.Second

// defaultTimeout is the default of the bench's -timeout flags: the hard
// bound on one contender's run, far above a scaled run's usual minute or
// two, so that only a hang hits it. Round.
const defaultTimeout = 5 * time.Minute

// killGrace is how long a child gets after its hard timeout to exit before it
// is interrupted, and then killed.
const killGrace = 15 * time.Second

// runOptions configure one bench run.
type runOptions struct {
	Scenarios   []string
	Files       int
	Concurrency int
	TimeScale   float64
	Seed        int64
	Contenders  []string
	Timeout     time.Duration
	// Self is the bench executable re-run with --contender.
	Self string
	// Durascribe is the durascribe binary for durascribe-batch.
	Durascribe string
	// BatchFlags are extra flags for `durascribe transcribe`.
	BatchFlags []string
	// WorkDir holds corpora, databases and outputs.
	WorkDir string
	// Log receives progress lines (stderr).
	Log io.Writer
}

// runScenario runs every contender against a fresh emulator for scenario.
func runScenario(ctx context.Context, o runOptions, scenario string) (Doc, error) {
	sc, err := emulator.LookupScenario(scenario)
	if err != nil {
		return Doc{}, err
	}
	dir := filepath.Join(o.WorkDir, sc.Name)
	files, err := writeCorpus(filepath.Join(dir, "corpus"), o.Files, o.Seed)
	if err != nil {
		return Doc{}, err
	}
	cfg := emulator.Config{APIKeys: []string{benchAPIKey}, Scenario: sc, Seed: o.Seed, TimeScale: o.TimeScale}
	doc := Doc{
		Scenario:     sc.Name,
		Files:        o.Files,
		Concurrency:  o.Concurrency,
		TimeScale:    o.TimeScale,
		IdealSeconds: round3(idealSeconds(cfg, files, o.Concurrency)),
		inOrder:      round3(inOrderSeconds(cfg, files, o.Concurrency)),
	}
	for _, c := range o.Contenders {
		_, _ = fmt.Fprintf(o.Log, "bench: scenario %s: %s ...\n", sc.Name, c)
		row, err := runContender(ctx, o, cfg, c, filepath.Join(dir, "corpus"), filepath.Join(dir, c))
		if err != nil {
			return Doc{}, fmt.Errorf("run %s in %s: %w", c, sc.Name, err)
		}
		_, _ = fmt.Fprintf(o.Log, "bench: scenario %s: %s: %d/%d done in %.2fs\n", sc.Name, c, row.Completed, o.Files, row.MakespanSeconds)
		doc.Rows = append(doc.Rows, row)
	}
	return doc, nil
}

// idealSeconds is the makespan of a perfect client: the emulator's mean
// server time per file (start delay plus processing) summed over the
// corpus and divided by the concurrency (the account's, when lower, with
// start delays then hidden behind processing), plus every outage window
// the work overlaps.
func idealSeconds(cfg emulator.Config, files []corpusFile, conc int) float64 {
	return boundSeconds(cfg, files, conc, false)
}

// inOrderSeconds is the makespan of a perfect client that, like every
// contender, starts the files in input order, each as soon as a slot is
// free: the same server times as idealSeconds, list-scheduled instead of
// spread evenly, so that it includes the tail of the last long files that
// no client taking files in order avoids.
func inOrderSeconds(cfg emulator.Config, files []corpusFile, conc int) float64 {
	return boundSeconds(cfg, files, conc, true)
}

func boundSeconds(cfg emulator.Config, files []corpusFile, conc int, inOrder bool) float64 {
	cfg = cfg.WithDefaults()
	eff := conc
	perFile := cfg.StartDelay
	if cfg.Concurrency > 0 && cfg.Concurrency < conc {
		eff, perFile = cfg.Concurrency, 0
	}
	eff = max(eff, 1)
	var sum time.Duration
	slots := make([]time.Duration, eff)
	for _, f := range files {
		d := perFile + cfg.ProcessingBase + time.Duration(cfg.ProcessingFactor*float64(f.Duration))
		sum += d
		slots[0] += d
		slices.Sort(slots)
	}
	work := sum / time.Duration(eff)
	if inOrder {
		work = slots[eff-1]
	}
	work = scaled(work, cfg.TimeScale)
	outages := slices.Clone(cfg.Scenario.Outages)
	slices.SortFunc(outages, func(a, b emulator.Outage) int { return int(a.Start - b.Start) })
	for _, w := range outages {
		if work > scaled(w.Start.D(), cfg.TimeScale) {
			work += scaled(w.End.D()-w.Start.D(), cfg.TimeScale)
		}
	}
	return work.Seconds()
}

// expectModel is the processing time a durascribe user expects, in API
// time: Base + Factor × audio duration.
type expectModel struct {
	Base   time.Duration
	Factor float64
}

// emulatorModel is the emulator's mean processing model (queue delay plus
// processing), what `durascribe transcribe --emulator` expects too. Both
// durascribe contenders get it, so that their first poll comes when a
// transcript is probably done, as it would against the real API with the
// defaults (3 s + 0.15 × duration) that approximate AssemblyAI's times.
func emulatorModel(cfg emulator.Config) expectModel {
	cfg = cfg.WithDefaults()
	return expectModel{Base: max(cfg.StartDelay, 0) + max(cfg.ProcessingBase, 0), Factor: max(cfg.ProcessingFactor, 0)}
}

// runContender starts an emulator, runs one contender in a child process
// against it and turns the child's report and the emulator's ground truth
// into a Row.
func runContender(ctx context.Context, o runOptions, cfg emulator.Config, contender, corpus, work string) (Row, error) {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return Row{}, fmt.Errorf("create work dir: %w", err)
	}
	cfg.DataDir = filepath.Join(work, "emulator")
	em, err := emulator.New(cfg)
	if err != nil {
		return Row{}, err
	}
	defer em.Close() //nolint:errcheck // Close always returns nil
	emStart := time.Now()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Row{}, fmt.Errorf("listen: %w", err)
	}
	arr := &arrivals{start: emStart}
	srv := &http.Server{Handler: arr.wrap(exactRetryAfter(em)), ReadHeaderTimeout: emulatorReadHeaderTimeout}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close() //nolint:errcheck // teardown after the run: nothing left to report to
	baseURL := "http://" + ln.Addr().String()

	var cmd *exec.Cmd
	ctx, cancel := context.WithTimeout(ctx, o.Timeout+killGrace)
	defer cancel()
	m := emulatorModel(cfg)
	switch contender {
	case contenderBatch, contenderWebhook:
		cmd = batchCommand(ctx, o, m, baseURL, corpus, work, contender == contenderWebhook)
	default:
		cmd = exec.CommandContext(ctx, o.Self, "--contender", contender, "--base-url", baseURL, "--dir", corpus,
			"--concurrency", strconv.Itoa(o.Concurrency), "--time-scale", strconv.FormatFloat(o.TimeScale, 'g', -1, 64),
			"--timeout", o.Timeout.String(),
			"--expect-processing-base", m.Base.String(),
			"--expect-processing-factor", strconv.FormatFloat(m.Factor, 'g', -1, 64))
	}
	cmd.Env = append(os.Environ(), apiKeyEnv+"="+benchAPIKey)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = childWaitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &tailWriter{buf: &stderr, max: 8 << 10}
	sctx, stopSampling := context.WithCancel(ctx)
	samples := make(chan []sample, 1)
	go func() { samples <- sampleInFlight(sctx, em, emStart) }()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		stopSampling()
		return Row{}, fmt.Errorf("start child: %w", err)
	}
	rctx, stopRSS := context.WithCancel(ctx)
	peak := make(chan int64, 1)
	go func() { peak <- watchPeakRSS(rctx, cmd.Process.Pid) }()
	runErr := cmd.Wait()
	makespan := time.Since(start)
	stopSampling()
	stopRSS()

	row := Row{Contender: contender, MakespanSeconds: round3(makespan.Seconds())}
	row.PeakRSSBytes = <-peak
	var outcomes []fileOutcome
	switch contender {
	case contenderBatch, contenderWebhook:
		outcomes, err = batchOutcomes(ctx, o.Durascribe, work)
		// Exit status 1 means some files failed, which the row shows.
		if ee, ok := errors.AsType[*exec.ExitError](runErr); err == nil && runErr != nil && (!ok || ee.ExitCode() != 1) {
			row.note = fmt.Sprintf("durascribe exited with %v", runErr)
		}
	default:
		var res childResult
		if runErr != nil {
			err = fmt.Errorf("child: %w: %s", runErr, strings.TrimSpace(stderr.String()))
		} else if err = json.Unmarshal(stdout.Bytes(), &res); err != nil {
			err = fmt.Errorf("decode child result: %w", err)
		}
		outcomes = res.Files
	}
	if err != nil {
		return Row{}, err
	}
	tally(&row, outcomes, o.Files)

	st := em.Stats()
	for _, byStatus := range st.Requests {
		for _, n := range byStatus {
			row.Requests += n
		}
	}
	row.RequestsPerFile = round3(float64(row.Requests) / float64(max(o.Files, 1)))
	row.RequestsDuringOutage = st.RequestsDuringOutage
	row.DuplicateTranscripts = st.DuplicateTranscripts
	row.Reuploads = st.ReUploads
	if n := len(cfg.Scenario.Outages); n > 0 {
		noteOutage(&row, cfg, <-samples, arr, o.Concurrency, o.Files)
	}
	return row, nil
}

// noteOutage notes how many requests reached the outage per breaker
// interval, split into the outage's first interval (where a breaker trips)
// and the intervals after it (where a breaker only probes), and how long
// after the last outage full throughput was back.
func noteOutage(row *Row, cfg emulator.Config, samples []sample, arr *arrivals, conc, files int) {
	cfg = cfg.WithDefaults()
	interval := scaled(resilience.DefaultBreakerOpenDelay, cfg.TimeScale)
	var length time.Duration
	first, later, laterIntervals := 0, 0, 0.0
	for _, w := range cfg.Scenario.Outages {
		start, end := scaled(w.Start.D(), cfg.TimeScale), scaled(w.End.D(), cfg.TimeScale)
		length += w.End.D() - w.Start.D()
		split := min(start+interval, end)
		first += arr.in(start, split)
		later += arr.in(split, end)
		laterIntervals += float64(end-split) / float64(interval)
	}
	last := slices.MaxFunc(cfg.Scenario.Outages, func(a, b emulator.Outage) int { return int(a.End - b.End) })
	if cfg.Concurrency > 0 {
		conc = min(conc, cfg.Concurrency)
	}
	intervals := float64(length) / float64(resilience.DefaultBreakerOpenDelay)
	parts := []string{fmt.Sprintf("%.1f requests per breaker interval (%v) of the outage",
		float64(row.RequestsDuringOutage)/intervals, resilience.DefaultBreakerOpenDelay)}
	if laterIntervals > 0 {
		parts = append(parts, fmt.Sprintf("%d in its first interval, then %d in the %.2g intervals after it (%.1f per interval)",
			first, later, laterIntervals, float64(later)/laterIntervals))
	}
	if d, ok := recoveryAfter(samples, scaled(last.End.D(), cfg.TimeScale), conc, files); ok {
		row.recoveredScaled = d.Seconds() / cfg.TimeScale
		parts = append(parts, fmt.Sprintf("full throughput %.1f scaled s after the outage ended", row.recoveredScaled))
	} else {
		row.recoveredScaled = -1
		parts = append(parts, "never back to full throughput after the outage")
	}
	row.note = strings.TrimPrefix(row.note+"; "+strings.Join(parts, "; "), "; ")
}

// tally counts outcomes into row; files with no outcome count as failed.
func tally(row *Row, outcomes []fileOutcome, files int) {
	unfinished := 0
	for _, f := range outcomes {
		switch {
		case f.OK:
			row.Completed++
		case f.Unfinished:
			unfinished++
		case f.TransientOnly:
			row.FailedTransientOnly++
		}
	}
	row.Failed = files - row.Completed
	unfinished += files - len(outcomes)
	if unfinished > 0 {
		row.note = strings.TrimPrefix(row.note+fmt.Sprintf("; %d files unfinished at the hard timeout (counted as failed)", unfinished), "; ")
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	if over := w.buf.Len() - w.max; over > 0 {
		w.buf.Next(over)
	}
	return len(p), nil
}
