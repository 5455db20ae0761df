package batch

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// ErrStopRun is returned (wrapped with the cause) by Run when the account or
// key cannot work (401, 403, negative balance): everything stays queued and a
// re-run after the fix resumes.
var ErrStopRun = errors.New("run stopped: account or API key problem")

// RunConfig configures Run. A zero field means the documented default.
type RunConfig struct {
	// Transcribe is the per-file orchestrator's configuration (Client,
	// Profile, Preflight, Logger...). Run wraps OnEvent (the attempts log
	// first, then yours), sets Limiter (the rate cap), and creates Breakers
	// (from Breaker) and Budget when nil.
	Transcribe transcribe.Config
	// Preflight checks each local file or URL before its upload; its report
	// is kept with the file (status shows it) and a reject fails the file.
	// Defaults to nil: no check.
	Preflight *preflight.Checker
	// Breaker configures the per-host circuit breakers when
	// Transcribe.Breakers is nil; Run wraps OnStateChange to pause the
	// queue (yours is called after that).
	// Defaults to resilience defaults (scaled by TimeScale), except that
	// ConsecutiveFailures defaults to DefaultConsecutiveFailures, 5
	// (negative: off), so that an outage
	// costs a few requests rather than as many failures as the window holds
	// successes.
	Breaker resilience.BreakerConfig
	// Output says where finished transcripts are written. Defaults to
	// nowhere (export later).
	Output OutputConfig
	// Concurrency is the number of transcripts in flight at the API.
	// Defaults to DefaultConcurrency (5), the free-account limit.
	Concurrency int
	// UploadConcurrency is the number of uploads in flight in this process.
	// Defaults to DefaultUploadConcurrency (2).
	UploadConcurrency int
	// RequestsPerSecond caps API requests of this process. Defaults to
	// DefaultRequestsPerSecond, 50 (15,000 per 5 minutes: 75 % of the API's 20,000, leaving room for other
	// clients of the account) per second of API time, that is 50/TimeScale
	// per real second, so that a time-scaled run keeps the proportions of a
	// real one. A value set here is per real second.
	RequestsPerSecond float64
	// Retry is River's schedule after an attempt whose in-process retries
	// were exhausted. Defaults to the "batch" profile's backoff (delays in
	// [30 s, 60 s] growing to [30 s, 10 min], jittered), scaled by TimeScale.
	Retry resilience.Backoff
	// RetryFor is how long a file may keep failing transiently, from its
	// first attempt, before it fails permanently. Defaults to
	// DefaultRetryFor (24 h).
	RetryFor time.Duration
	// JobTimeout bounds one attempt (an upload). Defaults to
	// DefaultJobTimeout (10 min).
	JobTimeout time.Duration
	// RescueAfter is when a job left running by a killed process is run
	// again. Defaults to JobTimeout + DefaultRescueMargin (2 min).
	RescueAfter time.Duration
	// TimeScale multiplies the durations of this package and of the
	// transcribe profile (for tests and demos). Defaults to 1.
	TimeScale float64
	// UntilDone stops Run when no file is pending or working. Defaults to
	// false: work until ctx is cancelled (the worker command).
	UntilDone bool
	// Logger receives the runner's and River's logs. Defaults to discard.
	Logger *slog.Logger
	// OnFileEnd is called when a file ends (done or failed) in this process,
	// with the output error if writing outputs failed. It is called from the
	// worker goroutines, concurrently. Defaults to nil.
	OnFileEnd func(f *File, outputErr error)
	// OnProgress is called every ProgressEvery with the counts. Defaults to
	// nil.
	OnProgress func(Progress)
	// ProgressEvery is the period of OnProgress. Defaults to
	// DefaultProgressEvery (2 s).
	ProgressEvery time.Duration
	// OwnerRecheck is how often a run waiting for another process to stop
	// working its SQLite store tries to take over. Defaults to
	// DefaultOwnerRecheck.
	OwnerRecheck time.Duration
	// OwnerLease is how long a worker of a PostgreSQL store may miss its
	// heartbeats before its running jobs go to the other workers (see
	// heartbeat). Defaults to DefaultOwnerLease.
	OwnerLease time.Duration
	// StopGrace bounds how long a stop waits for the attempts it cancelled
	// to return and for their results to be recorded. A stop cancels every
	// running attempt at once: each step is abandoned at a safe point with
	// its checkpoint saved (an interrupted create is reconciled by the next
	// run), so nothing is gained by letting them run on. Defaults to 4 s, so
	// that a stop ends within 5 s.
	StopGrace time.Duration
	// Webhook, when its Listener is set, has AssemblyAI notify this run
	// when transcripts end, so that jobs poll when told rather than at
	// their estimated end (see WebhookConfig). Defaults to off: polling
	// only, which needs no address reachable from the internet.
	Webhook WebhookConfig
}

// DefaultStopGrace is the default RunConfig.StopGrace: a stop must end within
// 5 s wherever the run is; a cancelled attempt returns in milliseconds, and
// the rest is left to River's completer and the store.
const DefaultStopGrace = 4 * time.Second

// WithDefaults returns c with zero fields set to their defaults.
func (c RunConfig) WithDefaults() RunConfig {
	if c.TimeScale == 0 {
		c.TimeScale = 1
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * c.TimeScale) }
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.UploadConcurrency == 0 {
		c.UploadConcurrency = DefaultUploadConcurrency
	}
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = DefaultRequestsPerSecond / c.TimeScale
	}
	if c.Retry.Base == 0 {
		p, _ := resilience.LookupProfile("batch")
		c.Retry = p.Backoff
		c.Retry.Base, c.Retry.Cap, c.Retry.MinDelay = scale(c.Retry.Base), scale(c.Retry.Cap), scale(c.Retry.MinDelay)
	}
	if c.RetryFor == 0 {
		c.RetryFor = DefaultRetryFor
	}
	if c.JobTimeout == 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.RescueAfter == 0 {
		c.RescueAfter = c.JobTimeout + DefaultRescueMargin
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ProgressEvery == 0 {
		c.ProgressEvery = DefaultProgressEvery
	}
	if c.StopGrace == 0 {
		c.StopGrace = DefaultStopGrace
	}
	if c.OwnerRecheck == 0 {
		c.OwnerRecheck = DefaultOwnerRecheck
	}
	if c.OwnerLease == 0 {
		c.OwnerLease = DefaultOwnerLease
	}
	if c.Breaker.ConsecutiveFailures == 0 {
		c.Breaker.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.Breaker.OpenDelay == 0 {
		c.Breaker.OpenDelay = scale(resilience.DefaultBreakerOpenDelay)
		c.Breaker.Window = scale(resilience.DefaultBreakerWindow)
	}
	if c.Breaker.MaxOpenDelay == 0 {
		c.Breaker.MaxOpenDelay = scale(resilience.DefaultBreakerMaxOpenDelay)
	}
	c.Output = c.Output.WithDefaults()
	return c
}

// Validate reports whether c (after WithDefaults) can run.
func (c RunConfig) Validate() error {
	switch {
	case c.Transcribe.Client == nil:
		return errors.New("run batch: config needs Transcribe.Client")
	case c.Concurrency < 1 || c.UploadConcurrency < 1:
		return errors.New("run batch: concurrency must be at least 1")
	case c.RescueAfter < c.JobTimeout:
		return errors.New("run batch: RescueAfter must not be less than JobTimeout")
	case c.TimeScale < 0 || c.RequestsPerSecond < 0:
		return errors.New("run batch: negative TimeScale or RequestsPerSecond")
	}
	return c.Output.Validate()
}

// Progress is a snapshot of the store for progress displays.
type Progress struct {
	Pending, Working, Done, Failed int
	// Waiting is the number of transcripts in flight at the API.
	Waiting int
	// Breaker is "open" or "half-open" while the API's breaker is not closed.
	Breaker string
}

// Total is the number of files.
func (p Progress) Total() int { return p.Pending + p.Working + p.Done + p.Failed }

// Runner works the queue of one Store. Create it with Store.Run.
type Runner struct {
	store   *Store
	cfg     RunConfig
	tcfg    transcribe.Config
	client  riverClient
	slots   *slots
	pump    *uploadPump
	polls   dueTimes
	uploads *uploadGate
	logger  *slog.Logger

	stopping  atomic.Bool
	stopOnce  sync.Once
	stopCause error
	stopCh    chan struct{}
	// halt is closed when the run ends: in-process waits for a webhook
	// notification end at once rather than holding the stop for StopGrace.
	halt         chan struct{}
	haltOnce     sync.Once
	hooks        *webhooks     // nil without RunConfig.Webhook
	calib        *calibration  // measured scale of the processing estimate
	ended        chan struct{} // a file ended: re-check UntilDone now
	deferred     deferrals     // files told to wait beyond RetryAfterMax
	outputErrors atomic.Int64
	// Files waiting for an upload slot and for a transcript slot, refreshed
	// about every second from the store.
	uploadBacklog, slotBacklog atomic.Int64

	breakerMu    sync.Mutex
	breakerState resilience.BreakerState
	resumeTimer  *time.Timer
	// parked holds the jobs waiting for a transient reason; they are made
	// available again as soon as the breaker closes (see wakeParked).
	parked map[int64]struct{}
	// closedAt is when (Unix ns) the breaker last closed after being open.
	closedAt atomic.Int64
	// wakes tracks wakeParked goroutines; wakeCtx ends them at stop.
	wakes      sync.WaitGroup
	wakeCtx    context.Context
	cancelWake context.CancelFunc
}

func (r *Runner) now() time.Time { return time.Now() }

func (r *Runner) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * r.cfg.TimeScale)
}

// scaleFloor is d in API time (scaled), but at least floor.
func (r *Runner) scaleFloor(d, floor time.Duration) time.Duration {
	return max(r.scale(d), floor)
}

// gateDelay is how long a job waits before checking for a free upload slot
// (uploaded false) or transcript slot (uploaded true) again: a uniform
// random share of backlog/rate (see DefaultUploadGateRate).
func (r *Runner) gateDelay(uploaded bool) time.Duration {
	n, rate := r.uploadBacklog.Load(), float64(DefaultUploadGateRate)
	if uploaded {
		n, rate = r.slotBacklog.Load(), DefaultSlotGateRate
	}
	spread := float64(n+1) / rate * float64(time.Second)
	return max(time.Duration(rand.Float64()*spread), DefaultGateDelayMin)
}

// uploadWaiters is how many jobs may wait in-process for an upload slot:
// enough to fill the files uploaded ahead of free transcript slots, so that
// the first pass of River over the queue, which meets every job in a
// fraction of a second, uploads them in queue order rather than whichever
// it meets when an upload slot frees.
func uploadWaiters(cfg RunConfig) int { return cfg.Concurrency + cfg.UploadConcurrency }

// slotWaiters is how many jobs may wait in-process for a transcript slot
// (each holds a River worker while it waits; the queue has this many extra):
// as many as files may be uploaded ahead of free slots, so that every
// uploaded file waits here, and the largest of them takes the next freed
// slot at once. A freed slot with no waiter would stay idle until a snoozed
// file came back through River's fetch, and a snoozed file would lose its
// turn to files uploaded after it.
func slotWaiters(concurrency int) int { return max(DefaultMinSlotWaiters, concurrency) }

// slotPatience is how long a job waits in-process for a slot before it
// snoozes (see DefaultSlotPatience). Waiters are bounded (slotWaiters,
// uploadWaiters) and ask the store again every DefaultSlotRecheck for slots
// freed by other processes.
func (r *Runner) slotPatience(ctx context.Context) time.Duration {
	return within(ctx, r.scaleFloor(DefaultSlotPatience, DefaultSlotPatienceFloor))
}

// within bounds an in-process wait of a job run to half the time its
// context has left (River's JobTimeout), so that the wait ends in a snooze
// rather than in a timed-out attempt, which River would retry only after the
// durable backoff (30-60 s).
func within(ctx context.Context, d time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(min(d, time.Until(dl)/2), 0)
	}
	return d
}

// fetchCooldown and fetchPollInterval are River's fetch timings: a job
// whose snooze ended is picked up at the next fetch poll. Scaled, but never
// slower than at TimeScale 1 (see DefaultFetchPollInterval).
func (r *Runner) fetchCooldown() time.Duration {
	return min(DefaultFetchCooldown, r.scaleFloor(DefaultFetchCooldown, DefaultFetchCooldownFloor))
}

func (r *Runner) fetchPollInterval() time.Duration {
	return min(DefaultFetchPollInterval, r.scaleFloor(DefaultFetchPollInterval, DefaultFetchPollIntervalFloor))
}

// pollLead is how much earlier than its poll is due a waiting job snoozes
// until: River picks it up within a fetch poll interval (plus a cooldown)
// after that, and the job waits in-process for the rest, so that the poll is
// sent when due rather than up to a fetch interval late, which every
// transcript would otherwise hold its slot longer for.
func (r *Runner) pollLead() time.Duration {
	return r.fetchPollInterval() + r.fetchCooldown()
}

// snoozePoll snoozes a waiting job until its next poll is due (see pollLead).
func (r *Runner) snoozePoll(jobID int64, d time.Duration) error {
	lead := r.pollLead()
	if d <= lead {
		return river.JobSnooze(d)
	}
	r.polls.set(jobID, time.Now().Add(d))
	return river.JobSnooze(d - lead)
}

// awaitPoll waits, in-process, until the poll of a job snoozed by snoozePoll
// is due; at most pollLead, so that a late-running job never waits long.
func (r *Runner) awaitPoll(ctx context.Context, jobID int64) error {
	due, ok := r.polls.take(jobID)
	if !ok {
		return nil
	}
	d := min(time.Until(due), r.pollLead())
	if d <= 0 {
		return nil
	}
	return resilience.Sleep(ctx, d)
}

// dueTimes maps job ids to when their next poll is due.
type dueTimes struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

func (d *dueTimes) set(id int64, at time.Time) {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[int64]time.Time{}
	}
	d.m[id] = at
	d.mu.Unlock()
}

func (d *dueTimes) take(id int64) (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	at, ok := d.m[id]
	delete(d.m, id)
	return at, ok
}

// pollDelay adapts the transcribe poll cadence (already time-scaled through
// the profile) to the rate cap: polls of all transcripts in flight may use at
// most DefaultPollRateShare of it.
func (r *Runner) pollDelay(d time.Duration) time.Duration {
	floor := time.Duration(float64(r.cfg.Concurrency) / (r.cfg.RequestsPerSecond * DefaultPollRateShare) * float64(time.Second))
	return max(d, floor)
}
