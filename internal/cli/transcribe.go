package cli

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// workOptions are the flags of the commands that work the queue (transcribe,
// worker) and the store flag shared by every batch command.
type workOptions struct {
	DB                string
	APIKey            string
	BaseURL           string
	Profile           string
	Concurrency       int
	UploadConcurrency int
	Emulator          string
	TimeScale         float64
	NoPreflight       bool
	AllowPrivateURLs  bool
	Out               string
	Formats           []string
	Force             bool
	LogLevel          string
	LogFormat         string
	LogFile           string
	ExpectBase        time.Duration
	ExpectFactor      float64
	MetricsAddr       string
	AllowRemote       bool
	KeepAttempts      time.Duration
	NoProgress        bool
	WebhookListen     string
	WebhookURL        string
	// sidecarDirs are folders of inputs whose NAME.txt files give the
	// in-process emulator the text of NAME.EXT (the sample corpus has them).
	sidecarDirs []string
}

func addDBFlag(fs *pflag.FlagSet, db *string) {
	fs.StringVar(db, "db", batch.DefaultDSN, "job store: a SQLite file or a postgres:// URL")
}

func (o *workOptions) addFlags(fs *pflag.FlagSet) {
	addDBFlag(fs, &o.DB)
	fs.StringVar(&o.APIKey, "api-key", "", "AssemblyAI API key (default $ASSEMBLYAI_API_KEY)")
	fs.StringVar(&o.BaseURL, "base-url", "", "API base URL (default "+assemblyai.DefaultBaseURL+")")
	fs.StringVar(&o.Profile, "profile", "default", "in-process retry profile: realtime, default or batch")
	fs.IntVar(&o.Concurrency, "concurrency", 5, "transcripts in flight at the API (free accounts: 5)")
	fs.IntVar(&o.UploadConcurrency, "upload-concurrency", 2, "uploads in flight")
	fs.StringVar(&o.Emulator, "emulator", "", "run against an in-process emulator with this scenario (no API key needed)")
	fs.Lookup("emulator").NoOptDefVal = "clean"
	fs.Float64Var(&o.TimeScale, "time-scale", 1, "multiply every delay (and the emulator's clock) by this factor")
	fs.BoolVar(&o.NoPreflight, "no-preflight", false, "skip the audio checks before upload")
	fs.BoolVar(&o.AllowPrivateURLs, "allow-private-urls", false, "let URL pre-flight connect to loopback, private and link-local addresses (off: such URLs are rejected; AssemblyAI cannot fetch them either)")
	fs.StringVar(&o.Out, "out", "", "output directory (mirrors the input tree)")
	fs.StringSliceVar(&o.Formats, "format", []string{"txt", "json"}, "output formats: txt, json, srt, vtt")
	fs.BoolVar(&o.Force, "force", false, "overwrite existing outputs that differ")
	fs.StringVar(&o.LogLevel, "log-level", "warn", "log level: debug, info, warn, error")
	fs.StringVar(&o.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.LogFile, "log-file", "", "write logs to this file instead of stderr")
	fs.DurationVar(&o.ExpectBase, "expect-processing-base", 0,
		fmt.Sprintf("estimated fixed part of AssemblyAI's processing time, which times the first poll (default %s; the emulator's model with --emulator; scaled during the run by the measured times)", transcribe.DefaultProcessingBase))
	fs.Float64Var(&o.ExpectFactor, "expect-processing-factor", 0,
		fmt.Sprintf("estimated processing time per second of audio (default %g; the emulator's model with --emulator)", transcribe.DefaultProcessingFactor))
	fs.StringVar(&o.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (loopback unless --allow-remote)")
	fs.BoolVar(&o.AllowRemote, "allow-remote", false, "allow --metrics-addr on a non-loopback address")
	fs.DurationVar(&o.KeepAttempts, "keep-attempts", 0,
		"prune the attempts log of files done more than this long ago, e.g. 168h (failed files keep theirs; 0 keeps all)")
	fs.BoolVar(&o.NoProgress, "no-progress", false, "print timestamped lines even on a terminal (no progress bar)")
	fs.StringVar(&o.WebhookListen, "webhook-listen", "",
		"receive AssemblyAI's completion webhooks on ADDR (host:port) and poll only as a fallback")
	fs.StringVar(&o.WebhookURL, "webhook-url", "",
		"the public URL that reaches --webhook-listen (default http://ADDR/, enough for --emulator and a loopback --base-url)")
}

// webhookConfig checks the webhook flags and listens on --webhook-listen.
// Without --webhook-url, the listener's own address is the URL: only an API
// on this machine (the emulator) can reach that.
func (o *workOptions) webhookConfig(ctx context.Context, baseURL string) (batch.WebhookConfig, error) {
	if o.WebhookListen == "" {
		if o.WebhookURL != "" {
			return batch.WebhookConfig{}, usageErrorf(errors.New("--webhook-url needs --webhook-listen, the address it reaches"))
		}
		return batch.WebhookConfig{}, nil
	}
	host, _, err := net.SplitHostPort(o.WebhookListen)
	if err != nil {
		return batch.WebhookConfig{}, usageErrorf(fmt.Errorf("parse --webhook-listen: %w (want host:port, e.g. 0.0.0.0:8080)", err))
	}
	if o.WebhookURL == "" {
		apiHost := ""
		if u, err := url.Parse(baseURL); err == nil {
			apiHost = u.Hostname()
		}
		if !isLoopback(host) || (o.Emulator == "" && !isLoopback(apiHost)) {
			return batch.WebhookConfig{}, usageErrorf(errors.New(
				"--webhook-url is needed: AssemblyAI cannot reach --webhook-listen " + o.WebhookListen +
					" by itself; give the public https URL (proxy or tunnel) that forwards to it"))
		}
	} else if u, err := url.Parse(o.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return batch.WebhookConfig{}, usageErrorf(fmt.Errorf("--webhook-url %q is not an absolute http(s) URL", o.WebhookURL))
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", o.WebhookListen)
	if err != nil {
		return batch.WebhookConfig{}, configErrorf(fmt.Errorf("listen for webhooks on %s: %w", o.WebhookListen, err))
	}
	return batch.WebhookConfig{Listener: ln, URL: o.WebhookURL}, nil
}

// session is what a working command needs: a store, a run config and the
// cleanups of what was started for them.
type session struct {
	store    *batch.Store
	cfg      batch.RunConfig
	logger   *slog.Logger
	cleanups []func()
	// logOut is the logger's stream when it logs to stderr (not --log-file),
	// so that the bar can take its lines while it is drawn.
	logOut     *swapWriter
	noProgress bool
}

func (s *session) close() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
}

// openSession validates the API settings before opening anything, so that a
// missing key fails before any request or database file.
func openSession(ctx context.Context, st *streams, o *workOptions) (_ *session, err error) {
	if o.TimeScale <= 0 {
		return nil, usageErrorf(errors.New("--time-scale must be positive"))
	}
	if o.Concurrency < 1 || o.UploadConcurrency < 1 {
		return nil, usageErrorf(errors.New("--concurrency and --upload-concurrency must be at least 1"))
	}
	if o.KeepAttempts < 0 {
		return nil, usageErrorf(errors.New("--keep-attempts must not be negative"))
	}
	if o.MetricsAddr != "" {
		if err := checkListenAddr(o.MetricsAddr, "--metrics-addr", o.AllowRemote); err != nil {
			return nil, err
		}
	}
	out := batch.OutputConfig{Dir: o.Out, Formats: o.Formats, Force: o.Force}
	if err := out.Validate(); err != nil {
		return nil, usageErrorf(err)
	}
	prof, err := resilience.LookupProfile(o.Profile)
	if err != nil {
		return nil, usageErrorf(err)
	}
	if o.ExpectBase < 0 || o.ExpectFactor < 0 {
		return nil, usageErrorf(errors.New("--expect-processing-base and --expect-processing-factor must not be negative"))
	}
	logOut := &swapWriter{orig: st.ErrOut}
	logger, closeLog, err := logging.New(logging.Options{Format: o.LogFormat, Level: o.LogLevel, File: o.LogFile}, logOut)
	if err != nil {
		return nil, usageErrorf(err)
	}
	s := &session{logger: logger, cleanups: []func(){func() { _ = closeLog() }}, noProgress: o.NoProgress}
	if o.LogFile == "" {
		s.logOut = logOut
	}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	key, baseURL := o.APIKey, o.BaseURL
	if key == "" {
		key = strings.TrimSpace(st.Getenv("ASSEMBLYAI_API_KEY"))
	}
	expectBase, expectFactor := o.ExpectBase, o.ExpectFactor
	if o.Emulator != "" {
		var model emulator.Config
		key, baseURL, model, err = s.startEmulator(o.Emulator, o.TimeScale, o.sidecarDirs)
		if err != nil {
			return nil, err
		}
		// The emulator's processing model is known exactly: time the first
		// poll by it (in API time; the run scales it).
		if expectBase == 0 {
			expectBase = max(model.StartDelay, 0) + max(model.ProcessingBase, 0)
		}
		if expectFactor == 0 {
			expectFactor = max(model.ProcessingFactor, 0)
		}
	}
	if key == "" {
		return nil, configErrorf(errors.New("no API key: set ASSEMBLYAI_API_KEY or --api-key (or try --emulator)"))
	}
	client, err := newAPIClient(st, key, baseURL, o.TimeScale)
	if err != nil {
		return nil, err
	}
	var checker *preflight.Checker
	if !o.NoPreflight {
		if checker, err = preflight.New(preflight.Config{AllowPrivateURLs: o.AllowPrivateURLs}); err != nil {
			return nil, configErrorf(fmt.Errorf("configure pre-flight: %w", err))
		}
	}
	hook, err := o.webhookConfig(ctx, cmp.Or(baseURL, assemblyai.DefaultBaseURL))
	if err != nil {
		return nil, err
	}
	if hook.Listener != nil {
		s.cleanups = append(s.cleanups, func() { _ = hook.Listener.Close() })
	}
	s.store, err = batch.Open(ctx, o.DB, batch.OpenOptions{Logger: logger})
	if err != nil {
		return nil, configErrorf(fmt.Errorf("open job store: %w", err))
	}
	s.cleanups = append(s.cleanups, func() { _ = s.store.Close() })
	if err := s.startPruning(ctx, st, o.KeepAttempts); err != nil {
		return nil, err
	}
	s.cfg = batch.RunConfig{
		Transcribe: transcribe.Config{
			Client: client, Profile: prof, Logger: logger,
			ProcessingBase: expectBase, ProcessingFactor: expectFactor,
		},
		Preflight:         checker,
		Output:            out,
		Concurrency:       o.Concurrency,
		UploadConcurrency: o.UploadConcurrency,
		TimeScale:         o.TimeScale,
		Logger:            logger,
		Webhook:           hook,
	}
	if err := s.serveMetrics(ctx, st, o); err != nil {
		return nil, err
	}
	return s, nil
}

// minScaledTimeout is the floor under the CLI's time-scaled request
// timeouts (see assemblyai.Config.WithTimeScale): 2 s, enough for a request
// to a local emulator on a loaded test machine. Chosen by hand, not measured;
// at --time-scale 1 it never applies.
const minScaledTimeout = 2 * time.Second

// newAPIClient is the AssemblyAI client of every command that calls the API.
// Its request timeouts scale with the clock like every other duration (a
// time-scaled run must not wait out a stalled request at full length), with
// a floor for loaded test machines.
func newAPIClient(st *streams, key, baseURL string, timeScale float64) (*assemblyai.Client, error) {
	client, err := assemblyai.New(assemblyai.Config{
		APIKey: assemblyai.APIKey(key), BaseURL: baseURL, Getenv: st.Getenv,
	}.WithTimeScale(timeScale, minScaledTimeout))
	if err != nil {
		return nil, configErrorf(fmt.Errorf("configure API client: %w", err))
	}
	return client, nil
}

// startEmulator serves an emulator on a loopback port with a generated key.
// It returns the emulator's configuration with defaults applied (in
// unscaled time), so that the caller can time polls by its processing model.
func (s *session) startEmulator(scenario string, scale float64, sidecarDirs []string) (key, baseURL string, cfg emulator.Config, err error) {
	sc, err := emulator.LookupScenario(scenario)
	if err != nil {
		return "", "", cfg, usageErrorf(err)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	key = hex.EncodeToString(b[:])
	cfg = emulator.Config{APIKeys: []string{key}, Scenario: sc, TimeScale: scale, Logger: s.logger, Sidecars: map[string]string{}}
	for _, dir := range sidecarDirs {
		m, err := emulator.LoadSidecars(dir)
		if err != nil {
			continue // sidecars only make the demo nicer; never fail a run for them
		}
		maps.Copy(cfg.Sidecars, m)
	}
	em, err := emulator.New(cfg)
	if err != nil {
		return "", "", cfg, configErrorf(fmt.Errorf("start emulator: %w", err))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = em.Close()
		return "", "", cfg, fmt.Errorf("start emulator: %w", err)
	}
	srv := &http.Server{Handler: em, ReadHeaderTimeout: readHeaderTimeout}
	go func() { _ = srv.Serve(ln) }()
	s.cleanups = append(s.cleanups, func() { _ = srv.Close(); _ = em.Close() })
	return key, "http://" + ln.Addr().String(), cfg.WithDefaults(), nil
}

// run works the queue and turns the outcome into the command's error. On a
// terminal (unless --no-progress) it draws a progress bar, else it prints
// timestamped lines; the summary table comes last either way.
func (s *session) run(ctx context.Context, st *streams, untilDone bool) error {
	s.cfg.UntilDone = untilDone
	view := newPlainView(st.Out)
	barLogs := false
	if !s.noProgress && st.isTerminal(st.Out) {
		view = newBarView(st.Out, 100, s.cfg.WithDefaults().Breaker.OpenDelay)
		// The first frame, and the ETA's baseline, from the store as it is
		// before the run (the run's first snapshot comes a tick later).
		if counts, err := s.store.Counts(ctx); err == nil {
			view.update(progressOfCounts(counts))
		}
		if barLogs = s.logOut != nil && st.isTerminal(st.ErrOut); barLogs {
			s.logOut.swap(view.lines)
		}
	}
	view.hookRun(&s.cfg)
	stopWatch := view.watchInterrupt(ctx)
	sum, err := s.store.Run(ctx, s.cfg)
	stopWatch()
	if barLogs {
		s.logOut.swap(nil) // before the bar ends: lines written after it would be lost
	}
	view.finish(sum, err)
	if !untilDone && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// A worker's end is a stop: systemd and Kubernetes stop it with
		// SIGTERM and count any other exit code as a failure.
		progressf(st.Out, "worker stopped; progress is saved and unfinished files stay queued")
		return nil
	}
	if err := stoppedError(ctx, st, err, "every file is still queued", "progress is saved"); err != nil {
		return err
	}
	if sum.Failed > 0 || sum.OutputErrors > 0 {
		return &reportedError{failedErrorf(fmt.Errorf("%d files failed, %d outputs not written (see `durascribe status`)",
			sum.Failed, sum.OutputErrors))}
	}
	return nil
}

// stoppedError turns the error that ended a queue-working command into the
// command's error: a run stopped for the key or the account (exit 3, with
// what to fix) or an interrupt (exit 130). queued and saved say what
// survives, for the message. It returns err unchanged otherwise (nil too).
func stoppedError(ctx context.Context, st *streams, err error, queued, saved string) error {
	switch {
	case errors.Is(err, batch.ErrStoreFull):
		return configErrorf(fmt.Errorf("%w\nFix: free space on the store's disk, then re-run the same command: %s", err, queued))
	case errors.Is(err, batch.ErrStopRun):
		return configErrorf(fmt.Errorf("%w\nFix: check the API key (ASSEMBLYAI_API_KEY or --api-key) and the account balance "+
			"at https://www.assemblyai.com/app, then re-run the same command: %s", err, queued))
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(st.ErrOut, "durascribe: interrupted; %s, re-run the same command to resume\n", saved)
		return &reportedError{ctx.Err()}
	}
	return err
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func progressf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func printSummary(w io.Writer, s batch.Summary) {
	fmt.Fprintf(w, "\n%-10s %6s\n", "STATE", "FILES")
	for _, r := range []struct {
		name string
		n    int
	}{{"done", s.Done}, {"failed", s.Failed}, {"working", s.Working}, {"pending", s.Pending}} {
		fmt.Fprintf(w, "%-10s %6d\n", r.name, r.n)
	}
	fmt.Fprintf(w, "%-10s %6d\n", "total", s.Total())
}

type transcribeOptions struct {
	workOptions
	Inputs            []string
	ParamsFile        string
	SpeechModels      []string
	Language          string
	LanguageDetection bool
	SpeakerLabels     bool
	Punctuate         bool
}

func newTranscribeCmd(s *streams) *cobra.Command {
	opts := &transcribeOptions{}
	cmd := &cobra.Command{
		Use:   "transcribe PATH|DIR|URL|@list.txt ... --out DIR",
		Short: "Transcribe files, folders and URLs durably (resumable, never paying twice)",
		Long: `transcribe records every input in the job store (--db), then works the queue
until every file is done or has failed permanently. Re-running the same command
resumes: finished files are skipped, interrupted ones continue where they were.

Exit status: 0 all done, 1 some failed, 3 API key/account problem, 130 interrupted.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			params, err := opts.params(cmd)
			if err != nil {
				return usageErrorf(err)
			}
			return runTranscribe(cmd.Context(), s, opts, params)
		},
	}
	opts.addFlags(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&opts.ParamsFile, "params", "", "transcript parameters as a JSON file (flags override it)")
	f.StringSliceVar(&opts.SpeechModels, "speech-model", nil, "speech models in order of preference")
	f.StringVar(&opts.Language, "language", "", "language code, e.g. en_us")
	f.BoolVar(&opts.LanguageDetection, "language-detection", false, "detect the language")
	f.BoolVar(&opts.SpeakerLabels, "speaker-labels", false, "label speakers")
	f.BoolVar(&opts.Punctuate, "punctuate", true, "add punctuation")
	return cmd
}

// params builds the transcript parameters: --params first, flags on top.
func (o *transcribeOptions) params(cmd *cobra.Command) (json.RawMessage, error) {
	var p assemblyai.TranscriptParams
	if o.ParamsFile != "" {
		b, err := os.ReadFile(o.ParamsFile)
		if err != nil {
			return nil, fmt.Errorf("read --params: %w", err)
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, fmt.Errorf("parse --params %s: %w", o.ParamsFile, err)
		}
		var extra map[string]json.RawMessage
		_ = json.Unmarshal(b, &extra)
		typed, _ := json.Marshal(p)
		var known map[string]json.RawMessage
		_ = json.Unmarshal(typed, &known)
		for k, v := range extra {
			if _, ok := known[k]; !ok && k != "audio_url" {
				if p.Extra == nil {
					p.Extra = map[string]json.RawMessage{}
				}
				p.Extra[k] = v
			}
		}
	}
	fs := cmd.Flags()
	if fs.Changed("speech-model") {
		p.SpeechModels = o.SpeechModels
	}
	if fs.Changed("language") {
		p.LanguageCode = assemblyai.String(o.Language)
	}
	if fs.Changed("language-detection") {
		p.LanguageDetection = assemblyai.Bool(o.LanguageDetection)
	}
	if fs.Changed("speaker-labels") {
		p.SpeakerLabels = assemblyai.Bool(o.SpeakerLabels)
	}
	if fs.Changed("punctuate") {
		p.Punctuate = assemblyai.Bool(o.Punctuate)
	}
	p.AudioURL = ""
	return json.Marshal(p)
}

func runTranscribe(ctx context.Context, st *streams, opts *transcribeOptions, params json.RawMessage) error {
	if opts.WebhookListen != "" {
		var p assemblyai.TranscriptParams
		if json.Unmarshal(params, &p) == nil && p.WebhookURL != nil {
			return usageErrorf(errors.New("--params sets webhook_url and --webhook-listen would replace it: use one of them"))
		}
	}
	inputs, err := batch.ResolveInputs(opts.Inputs, params)
	if err != nil {
		return usageErrorf(err)
	}
	if opts.Emulator != "" {
		opts.sidecarDirs = sidecarDirs(opts.Inputs)
	}
	s, err := openSession(ctx, st, &opts.workOptions)
	if err != nil {
		return err
	}
	defer s.close()
	res, err := s.store.Enqueue(ctx, inputs)
	if err != nil {
		return err
	}
	progressf(st.Out, "queued %d new files (%d already known) in %s", res.Added, res.Known, opts.DB)
	return s.run(ctx, st, true)
}

// sidecarDirs returns the folders named as inputs, and those of files named
// as inputs, without repeats.
func sidecarDirs(args []string) []string {
	var dirs []string
	for _, a := range args {
		fi, err := os.Stat(a)
		switch {
		case err != nil:
			continue
		case !fi.IsDir():
			a = filepath.Dir(a)
		}
		if !slices.Contains(dirs, a) {
			dirs = append(dirs, a)
		}
	}
	return dirs
}
