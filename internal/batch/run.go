package batch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// Summary is the state of the store when Run returns.
type Summary struct {
	Progress
	// OutputErrors counts files done in this run whose outputs could not be
	// written (for example an existing different file without Force).
	OutputErrors int
}

// Run works the store's queue until every file is done or failed
// (RunConfig.UntilDone), or until ctx is cancelled (graceful stop: running
// attempts are cancelled at a safe point, their checkpoints saved, and no
// file fails because of it), or until the
// account cannot work (ErrStopRun). It returns the counts at the end.
func (s *Store) Run(ctx context.Context, cfg RunConfig) (Summary, error) {
	cfg = cfg.WithDefaults()
	if cfg.Webhook.Listener != nil {
		defer func() { _ = cfg.Webhook.Listener.Close() }()
	}
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	r := &Runner{
		store:   s,
		cfg:     cfg,
		pump:    newUploadPump(),
		uploads: newUploadGate(cfg.UploadConcurrency, uploadWaiters(cfg)),
		logger:  cfg.Logger,
		stopCh:  make(chan struct{}),
		halt:    make(chan struct{}),
		calib:   newCalibration(),
		ended:   make(chan struct{}, 1),
		parked:  map[int64]struct{}{},
	}
	r.slots = newSlots(cfg.Concurrency, slotWaiters(cfg.Concurrency), r.scaleFloor(DefaultSlotRecheck, DefaultSlotRecheckFloor))
	r.wakeCtx, r.cancelWake = context.WithCancel(context.WithoutCancel(ctx))
	defer r.cancelWake()
	r.tcfg = cfg.Transcribe
	if r.tcfg.Profile.Name == "" {
		r.tcfg.Profile, _ = resilience.LookupProfile("default")
	}
	r.tcfg.Profile = r.tcfg.Profile.Scaled(cfg.TimeScale)
	// The processing-time estimate is given in API time, like every other
	// duration, and scaled here with them.
	if r.tcfg.ProcessingBase == 0 {
		r.tcfg.ProcessingBase = transcribe.DefaultProcessingBase
	}
	if r.tcfg.ProcessingFactor == 0 {
		r.tcfg.ProcessingFactor = transcribe.DefaultProcessingFactor
	}
	if r.tcfg.CreateLandingMargin == 0 {
		r.tcfg.CreateLandingMargin = transcribe.DefaultCreateLandingMargin
	}
	r.tcfg.CreateLandingMargin = r.scale(r.tcfg.CreateLandingMargin)
	r.tcfg.ProcessingBase = r.scale(r.tcfg.ProcessingBase)
	r.tcfg.ProcessingFactor *= cfg.TimeScale
	bc := cfg.Breaker
	bc.OnStateChange = r.onBreaker
	r.tcfg = r.tcfg.WithSharedDefaults(bc)
	r.tcfg.Limiter = newRateLimiter(cfg.RequestsPerSecond, max(int(cfg.RequestsPerSecond), 1))
	if _, err := transcribe.New(r.tcfg); err != nil {
		return Summary{}, fmt.Errorf("run batch: %w", err)
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, &worker{r: r})
	client, err := s.queue.newClient(&river.Config{
		Logger:               r.runLogger(),
		Workers:              workers,
		Queues:               map[string]river.QueueConfig{QueueName: {MaxWorkers: cfg.Concurrency + cfg.UploadConcurrency + slotWaiters(cfg.Concurrency) + uploadWaiters(cfg)}},
		RetryPolicy:          retryPolicy{backoff: cfg.Retry},
		MaxAttempts:          jobMaxAttempts,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        r.fetchCooldown(),
		FetchPollInterval:    r.fetchPollInterval(),
		SoftStopTimeout:      cfg.StopGrace,
	})
	if err != nil {
		return Summary{}, fmt.Errorf("create queue client: %w", err)
	}
	r.client = client
	if v, err := s.setting(ctx, calibrationSetting); err == nil && v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			r.calib.start(f)
		}
	}
	if cfg.Webhook.Listener != nil {
		secret, err := s.webhookSecret(ctx)
		if err != nil {
			return Summary{}, err
		}
		if r.hooks, err = newWebhooks(cfg.Webhook, secret, r.wakeNotified, r.logger); err != nil {
			return Summary{}, fmt.Errorf("run batch: %w", err)
		}
		defer r.hooks.close()
	}

	// One worker per SQLite store: wait for any other to stop first.
	release, held, err := r.own(ctx)
	if err != nil || !held {
		sum, serr := r.summary(context.WithoutCancel(ctx))
		return sum, cmp.Or(err, serr)
	}
	defer release()

	// Jobs for every unfinished file (a no-op for those that have one), and
	// the queue un-paused in case a previous run died with its breaker open.
	if err := s.ensureJobs(ctx); err != nil {
		return Summary{}, err
	}
	if q, err := client.QueueGet(ctx, QueueName); err == nil && q.PausedAt != nil {
		if err := client.QueueResume(ctx, QueueName, nil); err != nil {
			return Summary{}, fmt.Errorf("resume queue: %w", err)
		}
	}
	if s.dialect == dialectPostgres {
		hb := &heartbeat{store: s, id: client.ID(), lease: cfg.OwnerLease, logger: r.logger}
		n, err := hb.beat(ctx)
		if err != nil {
			return Summary{}, err
		}
		if n > 0 {
			r.logger.Info("rescued jobs of a worker that stopped answering", slog.Int64("jobs", n))
		}
		r.wakes.Add(1)
		go func() {
			defer r.wakes.Done()
			hb.run(r.wakeCtx)
		}()
	}
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		return Summary{}, fmt.Errorf("start queue: %w", err)
	}
	if r.hooks != nil {
		r.hooks.start()
	}
	r.wakes.Add(1)
	go func() {
		defer r.wakes.Done()
		r.runPump(r.wakeCtx)
	}()
	r.refreshBacklog(ctx)
	runErr := r.wait(ctx)
	r.stop(ctx)
	if errors.Is(runErr, ErrDeferred) {
		r.deferred.release(context.WithoutCancel(ctx), r.client)
	}
	sum, err := r.summary(context.WithoutCancel(ctx))
	if err != nil && runErr == nil {
		runErr = err
	}
	return sum, runErr
}

// wait blocks until the run should end and says why.
func (r *Runner) wait(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.ProgressEvery)
	defer tick.Stop()
	check := time.NewTicker(r.scaleFloor(DefaultBacklogRefresh, DefaultBacklogRefreshFloor))
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-r.stopCh:
			if errors.Is(r.stopCause, ErrStoreFull) {
				return r.stopCause
			}
			return fmt.Errorf("%w: %w", ErrStopRun, r.stopCause)
		case <-tick.C:
			if r.cfg.OnProgress != nil {
				if p, err := r.progress(ctx); err == nil {
					r.cfg.OnProgress(p)
				}
			}
			continue
		case <-r.ended:
		case <-check.C:
			r.refreshBacklog(ctx)
		}
		if !r.cfg.UntilDone {
			continue
		}
		p, err := r.progress(ctx)
		if err != nil {
			return err
		}
		if p.Pending == 0 && p.Working == 0 || !r.liveJobs(ctx) {
			return nil
		}
		if err := r.deferred.covers(p.Pending + p.Working); err != nil {
			return err
		}
	}
}

// liveJobs reports whether any transcribe_file job may still run: files
// left unfinished without one (cancelled in the dashboard) do not hold a
// run open; the next run queues them again.
func (r *Runner) liveJobs(ctx context.Context) bool {
	res, err := r.client.JobList(ctx, river.NewJobListParams().Kinds(TranscribeArgs{}.Kind()).First(1).States(
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
		rivertype.JobStateRunning, rivertype.JobStateScheduled))
	return err != nil || len(res.Jobs) > 0
}

// refreshBacklog counts the files waiting for an upload or a transcript
// slot, for gateDelay.
func (r *Runner) refreshBacklog(ctx context.Context) {
	counts, err := r.store.Counts(ctx)
	if err != nil {
		return
	}
	var up, slot int64
	for _, c := range counts {
		switch {
		case c.State == StatePending || c.State == StateWorking && (c.Stage == transcribe.StageUpload || c.Stage == ""):
			up += int64(c.N)
		case c.State == StateWorking && c.Stage == transcribe.StageCreate:
			slot += int64(c.N)
		}
	}
	r.uploadBacklog.Store(up)
	r.pump.signal()
	r.slotBacklog.Store(slot)
}

// stop stops the River client: running attempts are cancelled at once (they
// end at a safe point with their checkpoints saved; see interrupted) and get
// StopGrace to return.
func (r *Runner) stop(ctx context.Context) {
	r.stopping.Store(true)
	r.haltOnce.Do(func() { close(r.halt) })
	r.breakerMu.Lock()
	if r.resumeTimer != nil {
		r.resumeTimer.Stop()
	}
	r.cancelWake()
	r.breakerMu.Unlock()
	r.wakes.Wait()
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.StopGrace)
	defer cancel()
	if err := r.client.StopAndCancel(stopCtx); err != nil {
		r.logger.Warn("stop queue", slog.Any("error", err))
	}
}

// stopRun stops the whole run because the account or key cannot work.
func (r *Runner) stopRun(err error) {
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		r.stopCause = err
		close(r.stopCh)
	})
}

func (r *Runner) fileEnded(ctx context.Context, id int64, outputErr error) {
	r.slots.notify()
	select {
	case r.ended <- struct{}{}:
	default:
	}
	if r.cfg.OnFileEnd == nil {
		return
	}
	if f, err := r.store.File(ctx, id); err == nil {
		r.cfg.OnFileEnd(f, outputErr)
	}
}

// onEvent writes one API attempt to the attempts log, then hands it to the
// caller's Transcribe.OnEvent (metrics).
func (r *Runner) onEvent(ctx context.Context, fileID int64, ev transcribe.Event) {
	if r.cfg.Transcribe.OnEvent != nil {
		defer r.cfg.Transcribe.OnEvent(ev)
	}
	if err := r.store.recordAttempt(ctx, attemptOf(fileID, ev)); err != nil {
		r.logger.Warn("record attempt", slog.Int64("file_id", fileID), slog.Any("error", err))
	}
}

// onBreaker pauses the queue when the API's breaker opens, so that no worker
// (in any process sharing the store) sends while it is open, and resumes it
// when the open delay has passed: the first job then is the half-open probe;
// if it fails the breaker reopens and the queue pauses again. The caller's
// Breaker.OnStateChange (metrics) is called after that, outside the lock.
func (r *Runner) onBreaker(host string, from, to resilience.BreakerState) {
	if r.cfg.Breaker.OnStateChange != nil {
		defer r.cfg.Breaker.OnStateChange(host, from, to)
	}
	r.breakerMu.Lock()
	defer r.breakerMu.Unlock()
	r.breakerState = to
	ctx := context.Background()
	switch to {
	case resilience.BreakerOpen:
		if err := r.client.QueuePause(ctx, QueueName, nil); err != nil {
			r.logger.Warn("pause queue", slog.Any("error", err))
		}
		wait := r.tcfg.Breakers.For(host).RetryIn()
		r.logger.Warn("circuit breaker open: queue paused", slog.String("host", host), slog.Duration("retry_in", wait))
		if r.resumeTimer != nil {
			r.resumeTimer.Stop()
		}
		r.resumeTimer = time.AfterFunc(wait, func() {
			if err := r.client.QueueResume(ctx, QueueName, nil); err != nil {
				r.logger.Warn("resume queue", slog.Any("error", err))
			}
		})
	case resilience.BreakerClosed:
		if r.resumeTimer != nil {
			r.resumeTimer.Stop()
		}
		if err := r.client.QueueResume(ctx, QueueName, nil); err != nil {
			r.logger.Warn("resume queue", slog.Any("error", err))
		}
		if from != resilience.BreakerClosed {
			r.closedAt.Store(time.Now().UnixNano())
			r.wakeParkedLocked(host)
		}
	}
}

func (r *Runner) progress(ctx context.Context) (Progress, error) {
	counts, err := r.store.Counts(ctx)
	if err != nil {
		return Progress{}, err
	}
	p := progressOf(counts)
	r.breakerMu.Lock()
	if r.breakerState != resilience.BreakerClosed {
		p.Breaker = r.breakerState.String()
	}
	r.breakerMu.Unlock()
	return p, nil
}

func progressOf(counts []Count) Progress {
	var p Progress
	for _, c := range counts {
		switch c.State {
		case StatePending:
			p.Pending += c.N
		case StateWorking:
			p.Working += c.N
			if c.Stage == transcribe.StageWait {
				p.Waiting += c.N
			}
		case StateDone:
			p.Done += c.N
		case StateFailed:
			p.Failed += c.N
		}
	}
	return p
}

func (r *Runner) summary(ctx context.Context) (Summary, error) {
	p, err := r.progress(ctx)
	return Summary{Progress: p, OutputErrors: int(r.outputErrors.Load())}, err
}

// riverLogger keeps River's own logs at warning level and above: its debug
// lines are per job and would drown ours.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{h: l.Handler(), min: slog.LevelWarn})
}

// runLogger is riverLogger for a run's client, which also stops the run
// when River reports that the store is full: its fetches fail before any
// job of ours could see the error.
func (r *Runner) runLogger() *slog.Logger {
	return slog.New(levelFilter{h: r.logger.Handler(), min: slog.LevelWarn, onError: func(rec slog.Record) {
		rec.Attrs(func(a slog.Attr) bool {
			// River logs errors as strings ("err": err.Error()).
			err, ok := a.Value.Any().(error)
			if !ok && a.Key == "err" {
				err = errors.New(a.Value.String())
			}
			if isStoreFull(err) {
				r.storeFull(err)
				return false
			}
			return true
		})
	}})
}

type levelFilter struct {
	h   slog.Handler
	min slog.Level
	// onError, if set, sees every record at error level.
	onError func(slog.Record)
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && (f.h.Enabled(ctx, l) || f.onError != nil && l >= slog.LevelError)
}

func (f levelFilter) Handle(ctx context.Context, r slog.Record) error {
	if f.onError != nil && r.Level >= slog.LevelError {
		f.onError(r)
	}
	if !f.h.Enabled(ctx, r.Level) {
		return nil
	}
	return f.h.Handle(ctx, r)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(a), min: f.min, onError: f.onError}
}

func (f levelFilter) WithGroup(n string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(n), min: f.min, onError: f.onError}
}
