package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// Verdict is the outcome of a check, and the severity of a single reason.
type Verdict string

// Verdicts, from best to worst.
const (
	VerdictOK     Verdict = "ok"     // nothing wrong found
	VerdictWarn   Verdict = "warn"   // uploadable, but look at the reasons
	VerdictReject Verdict = "reject" // do not upload: it will fail or waste a transcript
)

func (v Verdict) rank() int {
	switch v {
	case VerdictWarn:
		return 1
	case VerdictReject:
		return 2
	default:
		return 0
	}
}

// Code is a stable, machine-readable reason code. Codes are part of the
// package's interface: scripts and the batch pipeline branch on them.
type Code string

// Reason codes.
const (
	CodeNotFound          Code = "not_found"          // the path does not exist
	CodeNotRegular        Code = "not_regular"        // a directory, device, socket or pipe
	CodeUnreadable        Code = "unreadable"         // exists but cannot be opened or read
	CodeEmpty             Code = "empty"              // zero bytes
	CodeTooLarge          Code = "too_large"          // above the upload (2.2 GB) or URL (5 GB) limit
	CodeUnsupportedFormat Code = "unsupported_format" // not an audio or video format AssemblyAI accepts
	CodeUnlistedFormat    Code = "unlisted_format"    // a media format missing from AssemblyAI's list (MKV)
	CodeExtensionMismatch Code = "extension_mismatch" // the name says one format, the content another
	CodeNoAudioStream     Code = "no_audio_stream"    // a video (or container) without any audio track
	CodeCorrupt           Code = "corrupt"            // the audio cannot be decoded
	CodeTruncated         Code = "truncated"          // the file ends before its audio does
	CodeTooShort          Code = "too_short"          // shorter than AssemblyAI's 160 ms minimum
	CodeTooLong           Code = "too_long"           // longer than AssemblyAI's 10 hour maximum
	CodeSilent            Code = "silent"             // no signal above the silence threshold anywhere
	CodeQuiet             Code = "quiet"              // a signal, but very low on average
	CodeNotVerified       Code = "not_verified"       // the audio could not be decoded here to verify it
	CodeURLUnreachable    Code = "url_unreachable"    // a URL source did not answer with success
	CodeURLRedirect       Code = "url_redirect"       // a URL source redirects; the target was not checked
	CodeURLPrivate        Code = "url_private"        // a URL source resolves to a non-public address
	CodeUnknownDuration   Code = "unknown_duration"   // the length of the audio could not be determined
)

// Reason is one finding about a source.
type Reason struct {
	Code     Code    `json:"code"`
	Severity Verdict `json:"severity"`
	// Message is a sentence a person understands, including what to do.
	Message string `json:"message"`
}

// Report is the result of checking one source. Level fields are nil when no
// audio was decoded.
type Report struct {
	Source     string        `json:"source"`
	Size       int64         `json:"size"` // bytes; -1 when unknown (a URL without Content-Length)
	MIME       string        `json:"mime,omitempty"`
	Container  string        `json:"container,omitempty"`
	Codec      string        `json:"codec,omitempty"`
	Duration   time.Duration `json:"-"` // in JSON as duration_seconds
	SampleRate int           `json:"sample_rate,omitempty"`
	Channels   int           `json:"channels,omitempty"`
	// PeakDBFS and RMSDBFS are the peak and RMS levels of the decoded audio in
	// dB relative to full scale, floored at [FloorDBFS] (digital zero).
	PeakDBFS *float64 `json:"peak_dbfs,omitempty"`
	RMSDBFS  *float64 `json:"rms_dbfs,omitempty"`
	Engine   string   `json:"engine"` // "ffmpeg", "go" or "url"
	Verdict  Verdict  `json:"verdict"`
	Reasons  []Reason `json:"reasons"`
}

// FloorDBFS is the level reported for digital silence, which is -Inf dBFS and
// cannot be written in JSON.
const FloorDBFS = -120.0

type reportJSON Report

type reportWire struct {
	reportJSON
	DurationSeconds float64 `json:"duration_seconds"`
}

// MarshalJSON writes Duration as duration_seconds, a float.
func (r Report) MarshalJSON() ([]byte, error) {
	w := reportWire{reportJSON: reportJSON(r), DurationSeconds: r.Duration.Seconds()}
	if w.Reasons == nil {
		w.Reasons = []Reason{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Report) UnmarshalJSON(b []byte) error {
	var w reportWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*r = Report(w.reportJSON)
	r.Duration = time.Duration(w.DurationSeconds * float64(time.Second))
	return nil
}

// Has reports whether r contains a reason with code c.
func (r Report) Has(c Code) bool {
	for _, x := range r.Reasons {
		if x.Code == c {
			return true
		}
	}
	return false
}

// Err returns nil unless r is rejected; then it returns a *RejectError whose
// message lists the reason codes and messages.
func (r Report) Err() error {
	if r.Verdict != VerdictReject {
		return nil
	}
	return &RejectError{Report: r}
}

// RejectError is a rejected report as an error. It matches ErrRejected with
// errors.Is.
type RejectError struct {
	Report Report
}

func (e *RejectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s rejected:", e.Report.Source)
	first := true
	for _, x := range e.Report.Reasons {
		if x.Severity != VerdictReject {
			continue
		}
		if !first {
			b.WriteString(";")
		}
		first = false
		fmt.Fprintf(&b, " %s: %s", x.Code, x.Message)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrRejected) true for every RejectError.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// Errors returned by this package.
var (
	// ErrRejected matches every *RejectError.
	ErrRejected = errors.New("preflight rejected")
	// ErrInvalidConfig is wrapped by Config.Validate errors.
	ErrInvalidConfig = errors.New("invalid preflight config")
)

// Engines for local files, as named in [Config].Engine and returned by
// [Checker.Engine]. A [Report] names the engine that produced it: "go",
// "ffmpeg", or "url" for URL sources.
const (
	// EngineAuto decodes WAV, MP3, FLAC, Ogg Vorbis and Ogg Opus in pure Go
	// and hands every other format to ffmpeg, and also each file in which the
	// Go engine finds a problem, so that ffmpeg has the last word on it.
	EngineAuto = "auto"
	// EngineFFmpeg decodes every file with ffmpeg.
	EngineFFmpeg = "ffmpeg"
	// EngineGo never runs ffmpeg; formats it cannot decode get not_verified.
	EngineGo = "go"
)

// Config configures a Checker. The zero value is ready to use.
type Config struct {
	// Engine is EngineAuto, EngineFFmpeg or EngineGo. Defaults to EngineAuto.
	// Without ffmpeg every engine is EngineGo.
	Engine string
	// FFmpegPath names the ffmpeg binary. Defaults to looking it up on PATH;
	// when it is not found the pure-Go engine is used.
	FFmpegPath string
	// DisableFFmpeg forces EngineGo whatever Engine says. Defaults to false.
	DisableFFmpeg bool
	// HTTPClient is used for URL sources (one HEAD, or a ranged GET when HEAD
	// is not allowed). The checker uses a copy that follows no redirect and,
	// unless AllowPrivateURLs, whose *http.Transport refuses non-public
	// addresses when dialling (see IsPublicAddr); a Transport of another type
	// is trusted as given. Defaults to a client with a 15 s timeout.
	HTTPClient *http.Client
	// AllowPrivateURLs lets URL sources reach loopback, private, link-local
	// and other non-public addresses. Off, such a URL is rejected without a
	// request: a pre-flight of a hostile list must not probe the local
	// network or cloud metadata (169.254.169.254). AssemblyAI cannot fetch
	// those addresses either, so turning it on is for tests and emulators on
	// the local machine. Defaults to false.
	AllowPrivateURLs bool
	// MaxLocalSize is the largest local file accepted, in bytes. Defaults to
	// 2.2e9, AssemblyAI's /v2/upload limit.
	MaxLocalSize int64
	// MaxURLSize is the largest URL source accepted, in bytes, when its size is
	// known. Defaults to 5e9, AssemblyAI's /v2/transcript limit.
	MaxURLSize int64
	// MinDuration and MaxDuration bound the audio length. Default to 160 ms
	// and 10 h, AssemblyAI's limits.
	MinDuration time.Duration
	MaxDuration time.Duration
	// SilenceDBFS is the peak level below which a file is silent (rejected).
	// Defaults to -60.
	SilenceDBFS float64
	// QuietRMSDBFS is the RMS level below which a file with a normal peak gets
	// a quiet warning. Defaults to -55.
	QuietRMSDBFS float64
	// FFmpegTimeout bounds each ffmpeg run. Defaults to 10 minutes.
	FFmpegTimeout time.Duration
}

// WithDefaults returns cfg with every zero field set to its default.
func (cfg Config) WithDefaults() Config {
	if cfg.MaxLocalSize == 0 {
		cfg.MaxLocalSize = 2_200_000_000
	}
	if cfg.MaxURLSize == 0 {
		cfg.MaxURLSize = 5_000_000_000
	}
	if cfg.MinDuration == 0 {
		cfg.MinDuration = 160 * time.Millisecond
	}
	if cfg.MaxDuration == 0 {
		cfg.MaxDuration = 10 * time.Hour
	}
	if cfg.SilenceDBFS == 0 {
		cfg.SilenceDBFS = -60
	}
	if cfg.QuietRMSDBFS == 0 {
		cfg.QuietRMSDBFS = -55
	}
	if cfg.FFmpegTimeout == 0 {
		cfg.FFmpegTimeout = 10 * time.Minute
	}
	if cfg.Engine == "" {
		cfg.Engine = EngineAuto
	}
	if !cfg.DisableFFmpeg && cfg.Engine != EngineGo && cfg.FFmpegPath == "" {
		cfg.FFmpegPath, _ = exec.LookPath("ffmpeg")
	}
	return cfg
}

// Validate reports a configuration that cannot work.
func (cfg Config) Validate() error {
	switch {
	case cfg.MaxLocalSize < 0 || cfg.MaxURLSize < 0:
		return fmt.Errorf("%w: negative size limit", ErrInvalidConfig)
	case cfg.MinDuration < 0 || cfg.MaxDuration < 0 || (cfg.MaxDuration > 0 && cfg.MinDuration > cfg.MaxDuration):
		return fmt.Errorf("%w: duration limits %v..%v", ErrInvalidConfig, cfg.MinDuration, cfg.MaxDuration)
	case cfg.SilenceDBFS > 0 || cfg.QuietRMSDBFS > 0:
		return fmt.Errorf("%w: levels must be negative dBFS", ErrInvalidConfig)
	case cfg.FFmpegTimeout < 0:
		return fmt.Errorf("%w: negative ffmpeg timeout", ErrInvalidConfig)
	case cfg.Engine != "" && cfg.Engine != EngineAuto && cfg.Engine != EngineFFmpeg && cfg.Engine != EngineGo:
		return fmt.Errorf("%w: engine %q is not auto, ffmpeg or go", ErrInvalidConfig, cfg.Engine)
	}
	return nil
}

// Checker checks sources. It is safe for concurrent use.
type Checker struct {
	cfg Config
	// client fetches URL sources: cfg.HTTPClient, guarded (see urlClient).
	client *http.Client
	// tuning of the Go engine; tests lower these to exercise sampling.
	tune tuning
}

// tuning holds the Go engine's sampling knobs.
type tuning struct {
	// fullDecodeSeconds: files up to this much audio are decoded in full by
	// the slow decoders; longer ones are sampled.
	fullDecodeSeconds map[string]float64
	windows           int     // windows spread over the file
	windowSeconds     float64 // length of each window
}

func defaultTuning() tuning {
	return tuning{
		// about one second of decoding each on one core (reference §1.4)
		fullDecodeSeconds: map[string]float64{"mp3": 60, "flac": 300, "vorbis": 1200},
		windows:           6,
		windowSeconds:     10,
	}
}

// New returns a Checker for cfg after applying defaults and validating it.
func New(cfg Config) (*Checker, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Checker{cfg: cfg, tune: defaultTuning(), client: urlClient(cfg.HTTPClient, cfg.AllowPrivateURLs)}, nil
}

// Engine names the engine used for local files: EngineAuto, EngineFFmpeg,
// or EngineGo (also when ffmpeg was asked for but not found).
func (c *Checker) Engine() string {
	if c.cfg.DisableFFmpeg || c.cfg.FFmpegPath == "" {
		return EngineGo
	}
	return c.cfg.Engine
}

// Check checks one source with a Checker built from the zero Config.
func Check(ctx context.Context, source string) (Report, error) {
	c, err := New(Config{})
	if err != nil {
		return Report{}, err
	}
	return c.Check(ctx, source)
}

// Check checks a local path or an http(s) URL. Problems with the source are
// reasons in the report; the error is non-nil only when ctx ends or the
// checker itself fails.
func (c *Checker) Check(ctx context.Context, source string) (Report, error) {
	rs, err := c.CheckAll(ctx, []string{source})
	if err != nil {
		return Report{Source: source, Size: -1}, err
	}
	return rs[0], nil
}

// CheckAll checks sources one after the other and returns their reports in
// the same order, each the same as Check would give. Files that need ffmpeg
// share ffmpeg processes (up to 32 files or 16 MB each), which makes a
// directory of small files many times faster to check than calling Check
// per file. Run several CheckAll calls at once for parallelism.
func (c *Checker) CheckAll(ctx context.Context, sources []string) ([]Report, error) {
	rs := make([]Report, len(sources))
	var local []int
	for i, s := range sources {
		if !IsURL(s) {
			local = append(local, i)
			continue
		}
		r, err := c.checkURL(ctx, s)
		if err != nil {
			return nil, err
		}
		rs[i] = r
	}
	if len(local) > 0 {
		paths := make([]string, len(local))
		for k, i := range local {
			paths[k] = sources[i]
		}
		lr, err := c.checkFiles(ctx, paths)
		if err != nil {
			return nil, err
		}
		for k, i := range local {
			rs[i] = lr[k]
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].finish()
	}
	return rs, nil
}

// add appends a reason.
func (r *Report) add(code Code, sev Verdict, format string, args ...any) {
	r.Reasons = append(r.Reasons, Reason{Code: code, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// finish computes the verdict from the reasons.
func (r *Report) finish() {
	r.Verdict = VerdictOK
	for _, x := range r.Reasons {
		if x.Severity.rank() > r.Verdict.rank() {
			r.Verdict = x.Severity
		}
	}
	if r.Reasons == nil {
		r.Reasons = []Reason{}
	}
}

// setLevels stores peak and RMS (linear, 0..1 of full scale) in dBFS.
func (r *Report) setLevels(peak, rms float64) {
	p, q := dbfs(peak), dbfs(rms)
	r.PeakDBFS, r.RMSDBFS = &p, &q
}

func dbfs(lin float64) float64 {
	if lin <= 0 || math.IsNaN(lin) {
		return FloorDBFS
	}
	return math.Max(FloorDBFS, math.Round(20*math.Log10(lin)*10)/10)
}
