package transcribe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// Config configures a Transcriber. A zero field means the documented default.
type Config struct {
	// Client is the AssemblyAI client. Required.
	Client *assemblyai.Client
	// Profile is the retry profile. Defaults to resilience profile "default".
	Profile resilience.Profile
	// Budget is the process-wide retry budget, shared by every Transcriber of
	// a process. Defaults to a new budget with default settings.
	Budget *resilience.Budget
	// Breakers holds a circuit breaker per API host, shared process-wide.
	// Defaults to new breakers with default settings.
	Breakers *resilience.Breakers
	// Preflight, when set, checks each source before its upload and returns
	// its audio duration (0 when unknown), which times the first poll. A
	// non-nil error other than a cancellation rejects the file permanently,
	// before any request. Adapt a *preflight.Checker with
	//
	//	func(ctx context.Context, src string) (time.Duration, error) {
	//		rep, err := checker.Check(ctx, src)
	//		if err != nil {
	//			return 0, err
	//		}
	//		return rep.Duration, rep.Err()
	//	}
	//
	// A local file is opened once, before the check, without following a
	// symbolic link in its last element; after the check the path must still
	// name that open file with the same size and mtime, or it is opened and
	// checked again, so that the bytes uploaded are the bytes checked.
	//
	// Defaults to nil: no check.
	Preflight func(ctx context.Context, source string) (time.Duration, error)
	// ProcessingBase and ProcessingFactor estimate how long AssemblyAI takes
	// to transcribe audio of a known duration (base + factor × duration), so
	// that the first poll comes when the transcript is probably done rather
	// than seconds after the create (see ExpectedProcessing). Default to
	// DefaultProcessingBase and DefaultProcessingFactor; unknown durations
	// use the profile's PollInitial.
	ProcessingBase   time.Duration
	ProcessingFactor float64
	// Limiter, when set, is waited on before every API request: the global
	// request-rate cap. Defaults to nil: no cap.
	Limiter Limiter
	// Logger receives one structured line per API attempt. Defaults to a
	// logger that discards.
	Logger *slog.Logger
	// OnEvent is called once per API attempt (after the attempt), for
	// attempts logs and metrics. Defaults to nil.
	OnEvent func(Event)
	// MaxResubmits bounds how many new transcripts are created at once for
	// one upload after transcripts that ended with a transient error; further
	// resubmits wait for the caller's backoff (Step returns an error that
	// Decide maps to ActionRetryLater, with the checkpoint ready to
	// resubmit). Defaults to DefaultMaxResubmits.
	MaxResubmits int
	// MaxUpload422 bounds attempts of an upload answered 422 in one step.
	// Defaults to DefaultMaxUpload422.
	MaxUpload422 int
	// UploadMaxAge is the age after which a saved upload_url is not reused
	// for a new transcript (AssemblyAI deletes unused uploads after 24 h).
	// Defaults to DefaultUploadMaxAge.
	UploadMaxAge time.Duration
	// GiveUpAfter bounds Transcribe and Resume (not Step) when the API keeps
	// asking to retry later: after this long, the last error is returned.
	// Defaults to DefaultGiveUpAfter.
	GiveUpAfter time.Duration
	// CreateLandingMargin is how long after the client gave up on a create
	// (Client.RequestTimeout after it was sent) that create may still land
	// or first appear in the list endpoint. Until IntentAt + RequestTimeout +
	// CreateLandingMargin a create of unknown outcome is only looked for,
	// never sent again (see Checkpoint.IntentAt). Defaults to
	// DefaultCreateLandingMargin.
	CreateLandingMargin time.Duration
	// Clock returns the current time. Defaults to time.Now.
	Clock func() time.Time
	// Rand returns a uniform float in [0,1). Defaults to math/rand/v2.
	Rand func() float64
}

// DefaultCreateLandingMargin is the default Config.CreateLandingMargin: how
// long a create may still land, or first show in the list, after its client
// (our request timeout, or a gateway that answered 5xx) gave up on it. Seen:
// a create answered 2 s past a 30 s timeout, and a list 2 s behind its
// creates; 10 s is five times that. It is waited out only by a file whose
// create had an unknown outcome and whose transcript the list does not
// show, so it sets what a 5xx on create costs that file: a judgement between
// that delay and the risk of a server slower than anything seen.
const DefaultCreateLandingMargin = 10 * time.Second

// DefaultCreateRelookMin is the shortest wait between two looks for a
// create of unknown outcome. Looks are spaced by the intent's age (see
// CreatePendingError), which is tiny right after a crash; a second keeps
// that from becoming a burst of list requests, and is short next to the
// seconds a create takes to land.
const DefaultCreateRelookMin = time.Second

// DefaultProcessingBase and DefaultProcessingFactor are the defaults of
// Config.ProcessingBase and ProcessingFactor: AssemblyAI's processing time
// taken as 3 s plus 0.15 × the audio's duration, a rough reading of the
// times seen for the default model, not a measured fit. A first poll a
// little early costs one request and a later poll; one late holds the
// transcript's slot, so a guess near the middle is what matters, and the
// batch engine rescales it by the times it measures (internal/batch
// calibration).
const (
	DefaultProcessingBase   = 3 * time.Second
	DefaultProcessingFactor = 0.15
)

// Defaults of Config's limits.
const (
	// DefaultMaxResubmits is the default Config.MaxResubmits: the same
	// upload goes to another server at once twice, which rides out one sick
	// backend; from then on each resubmit waits for the caller's backoff, so
	// that a sick service is not fed resubmits in a tight loop. A judgement.
	DefaultMaxResubmits = 2
	// DefaultMaxUpload422 is the default Config.MaxUpload422: AssemblyAI
	// answers 422 "Upload failed, please try again" for uploads that a
	// retry usually gets through; three attempts ride out a bad moment, and
	// a file that keeps failing is handed to the caller's backoff. Round.
	DefaultMaxUpload422 = 3
	// DefaultUploadMaxAge is the default Config.UploadMaxAge: AssemblyAI
	// deletes unused uploads after 24 h; 20 h leaves 4 h for a create sent
	// near the limit to be queued and started. The margin is a judgement.
	DefaultUploadMaxAge = 20 * time.Hour
	// DefaultGiveUpAfter is the default Config.GiveUpAfter: a program
	// calling Transcribe waits out an outage of up to an hour before it is
	// told; a durable queue (Step) has its own limit. Round, not derived.
	DefaultGiveUpAfter = time.Hour
)

// ExpectedProcessing is the estimate of how long AssemblyAI takes to
// transcribe audio of the given duration: ProcessingBase + ProcessingFactor
// × audio. It is the one writing of the formula.
func (c Config) ExpectedProcessing(audio time.Duration) time.Duration {
	return c.ProcessingBase + time.Duration(c.ProcessingFactor*float64(audio))
}

// Limiter is a request-rate limiter such as *rate.Limiter from
// golang.org/x/time/rate.
type Limiter interface {
	Wait(ctx context.Context) error
}

// WithDefaults returns a copy of c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Profile.Name == "" {
		c.Profile, _ = resilience.LookupProfile("default")
	}
	c = c.WithSharedDefaults(resilience.BreakerConfig{})
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ProcessingBase == 0 {
		c.ProcessingBase = DefaultProcessingBase
	}
	if c.ProcessingFactor == 0 {
		c.ProcessingFactor = DefaultProcessingFactor
	}
	if c.MaxResubmits == 0 {
		c.MaxResubmits = DefaultMaxResubmits
	}
	if c.MaxUpload422 == 0 {
		c.MaxUpload422 = DefaultMaxUpload422
	}
	if c.UploadMaxAge == 0 {
		c.UploadMaxAge = DefaultUploadMaxAge
	}
	if c.GiveUpAfter == 0 {
		c.GiveUpAfter = DefaultGiveUpAfter
	}
	if c.CreateLandingMargin == 0 {
		c.CreateLandingMargin = DefaultCreateLandingMargin
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// WithSharedDefaults returns a copy of c whose nil Budget is a new budget with
// default settings and whose nil Breakers are new breakers configured by
// breakers. These two are process-wide: a caller that makes many
// Transcribers (one per file, say) calls it once and makes them all from the
// copy, so that they share one budget and one breaker per host. WithDefaults
// calls it with the default breaker configuration.
func (c Config) WithSharedDefaults(breakers resilience.BreakerConfig) Config {
	if c.Budget == nil {
		c.Budget = resilience.NewBudget(resilience.BudgetConfig{})
	}
	if c.Breakers == nil {
		c.Breakers = resilience.NewBreakers(breakers)
	}
	return c
}

// Validate reports whether c (after WithDefaults) is usable.
func (c Config) Validate() error {
	switch {
	case c.Client == nil:
		return errors.New("transcribe: config needs a Client")
	case c.MaxResubmits < 0:
		return errors.New("transcribe: MaxResubmits must not be negative")
	}
	return nil
}

// Transcriber runs the stages of transcribing files. It is safe for
// concurrent use: many goroutines may transcribe different files at once
// through one Transcriber, sharing its budget and breakers.
type Transcriber struct {
	cfg Config
}

// New returns a Transcriber for cfg.
func New(cfg Config) (*Transcriber, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Transcriber{cfg: cfg}, nil
}

// StepResult is what one Step achieved.
type StepResult struct {
	// Checkpoint is the progress after the step (already saved).
	Checkpoint Checkpoint
	// Transcript is the completed transcript, or nil if not done yet.
	Transcript *assemblyai.Transcript
	// PollAfter is how long to wait before the next Step when Transcript is
	// nil: the poll schedule.
	PollAfter time.Duration
}

// Transcribe transcribes source (a local path or an http(s) URL) with params
// and waits for the result. It retries in-process per the profile; for
// long outages it keeps trying until Config.GiveUpAfter.
func (t *Transcriber) Transcribe(ctx context.Context, source string, params assemblyai.TranscriptParams) (*assemblyai.Transcript, error) {
	tr, _, err := t.Resume(ctx, Checkpoint{Source: source}, params, nil)
	return tr, err
}

// Resume continues from cp (as saved by an earlier run) until the transcript
// is completed or fails, saving every new Checkpoint with save (which may be
// nil). It returns the last Checkpoint with the result.
func (t *Transcriber) Resume(ctx context.Context, cp Checkpoint, params assemblyai.TranscriptParams, save SaveFunc) (*assemblyai.Transcript, Checkpoint, error) {
	var giveUp time.Time
	for {
		res, err := t.Step(ctx, cp, params, save)
		cp = res.Checkpoint
		if err == nil && res.Transcript != nil {
			return res.Transcript, cp, nil
		}
		wait := res.PollAfter
		if err != nil {
			action, after := Decide(err)
			if action != ActionRetryLater {
				return nil, cp, err
			}
			now := t.cfg.Clock()
			if giveUp.IsZero() {
				giveUp = now.Add(t.cfg.GiveUpAfter)
			}
			if now.After(giveUp) {
				return nil, cp, fmt.Errorf("give up after %s: %w", t.cfg.GiveUpAfter, err)
			}
			// A wait of our own (a backoff, or the breaker's open delay) ends
			// early if another caller's probe finds the API back; a server's
			// Retry-After is waited in full.
			var boe *resilience.BreakerOpenError
			untilClosed := after <= 0 || errors.As(err, &boe)
			if after <= 0 {
				after = t.cfg.Profile.Backoff.Delay(cp.Attempts[cp.Stage], t.cfg.Rand)
			}
			wait = after
			if b := t.cfg.Breakers.For(t.cfg.Client.Host()); untilClosed && b.State() != resilience.BreakerClosed {
				if !b.SleepUnlessClosed(ctx, wait) {
					return nil, cp, context.Cause(ctx)
				}
				continue
			}
		} else {
			giveUp = time.Time{}
		}
		if err := resilience.Sleep(ctx, wait); err != nil {
			return nil, cp, err
		}
	}
}

// Step advances cp by at most one wait: it runs the upload and create stages
// as needed (each with bounded in-process retries), then one status poll. It
// returns when the transcript is completed, when the caller should poll again
// after PollAfter, or with an error; Decide says what a durable queue should
// do with that error. The returned Checkpoint is always the latest one, also
// on error.
func (t *Transcriber) Step(ctx context.Context, cp Checkpoint, params assemblyai.TranscriptParams, save SaveFunc) (StepResult, error) {
	if save == nil {
		save = func(context.Context, Checkpoint) error { return nil }
	}
	if cp.Source == "" {
		return StepResult{Checkpoint: cp}, errors.New("transcribe: checkpoint has no source")
	}
	if cp.Stage == "" {
		cp.Stage = StageUpload
	}
	s := &step{t: t, cp: cp, params: params, save: save}
	res, err := s.run(ctx)
	res.Checkpoint = s.cp
	return res, err
}

// Upload runs only the upload stage of cp: the pre-flight check (when
// configured) and the upload with in-process retries, saving the Checkpoint
// with its upload_url, and stops before the create. A machine that holds the
// files can so hand a store of uploaded checkpoints to workers that never see
// them. A checkpoint already past the upload stage is returned unchanged; a
// URL source needs no upload (its URL becomes the upload_url). Errors are
// those of Step; Decide says what to do with them.
func (t *Transcriber) Upload(ctx context.Context, cp Checkpoint, save SaveFunc) (Checkpoint, error) {
	if save == nil {
		save = func(context.Context, Checkpoint) error { return nil }
	}
	if cp.Source == "" {
		return cp, errors.New("transcribe: checkpoint has no source")
	}
	if cp.Stage == "" {
		cp.Stage = StageUpload
	}
	if cp.Stage != StageUpload {
		return cp, nil
	}
	s := &step{t: t, cp: cp, save: save}
	if err := s.upload(ctx); err != nil {
		s.recordError(ctx, err)
		return s.cp, err
	}
	return s.cp, nil
}
