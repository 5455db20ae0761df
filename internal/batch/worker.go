package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// worker works transcribe_file jobs: one short attempt per job run (an upload,
// a create, or one status poll), with progress saved in our files table.
type worker struct {
	river.WorkerDefaults[TranscribeArgs]
	r *Runner
}

// Timeout is the longest single attempt: an upload of a large file.
func (w *worker) Timeout(*river.Job[TranscribeArgs]) time.Duration { return w.r.cfg.JobTimeout }

// Work advances one file by one step.
func (w *worker) Work(ctx context.Context, job *river.Job[TranscribeArgs]) (err error) {
	r := w.r
	st := r.store
	// A run that ends in River's retry schedule (an API failure or a store
	// error) is parked, so that an open breaker's close wakes it; if the
	// breaker closed while it ran, that wake-up may have missed it, and it
	// goes again at once instead.
	r.unpark(job.ID)
	r.deferred.remove(job.Args.FileID)
	r.pump.ran(job.ID)
	began := time.Now().UnixNano()
	defer func() {
		if isStoreFull(err) {
			r.storeFull(err)
			err = river.JobSnooze(0) // kept for the next run
			return
		}
		switch {
		case !retried(err):
		case r.closedAt.Load() > began:
			err = river.JobSnooze(0)
		default:
			r.park(job.ID)
		}
	}()
	// A waiting job runs a little before its poll is due (snoozePoll).
	if err := r.awaitPoll(ctx, job.ID); err != nil {
		return err
	}
	f, err := st.File(ctx, job.Args.FileID)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if f.Gen != job.Args.Gen || f.State == StateDone || f.State == StateFailed {
		return nil // a stale job: the file was requeued or finished elsewhere
	}
	if r.stopping.Load() {
		return river.JobSnooze(DefaultStopSnooze)
	}
	now := r.now()
	if !f.StartedAt.IsZero() && now.Sub(f.StartedAt) > r.cfg.RetryFor {
		reason := fmt.Sprintf("gave up after %s of retries", r.cfg.RetryFor)
		if f.LastError != "" {
			reason += "; last error: " + f.LastError
		}
		return r.fail(ctx, f, reason)
	}
	params, err := decodeParams(f.Params)
	if err != nil {
		return r.fail(ctx, f, err.Error())
	}
	cp := f.Checkpoint
	if cp.Source == "" {
		cp.Source = f.Source
	}

	// Limits: transcripts in flight (--concurrency, counted in the store so
	// that it holds across processes) and uploads (--upload-concurrency).
	holding, uploading := false, false
	releaseSlot := func() {
		if holding {
			holding = false
			r.slots.release()
		}
	}
	defer releaseSlot()
	// endUpload frees the upload slot as soon as the upload is over, so
	// that the next file uploads while this one waits for a transcript slot
	// or its transcript: held to the end of the job run, the upload slots
	// would cap the files uploaded ahead at --upload-concurrency.
	endUpload := func() {
		if uploading {
			uploading = false
			r.uploads.release()
			r.pump.signal()
		}
	}
	defer endUpload()
	needsTranscript := cp.TranscriptID == "" && cp.Stage != transcribe.StageDone
	// takeSlot holds a transcript slot before a create: false means the job
	// snoozes (returned as err) with its checkpoint as saved.
	takeSlot := func() (bool, error) {
		ok, err := r.slots.acquire(ctx, st, job.ID, r.slotPatience(ctx))
		switch {
		case err != nil:
			return false, stopWait(ctx, err)
		case !ok:
			return false, river.JobSnooze(r.gateDelay(true))
		}
		holding = true
		r.pump.signal()
		if r.stopping.Load() { // stopped while this job waited
			return false, river.JobSnooze(DefaultStopSnooze)
		}
		return true, nil
	}
	if needsTranscript && cp.Stage == transcribe.StageCreate {
		if ok, err := takeSlot(); !ok {
			return err
		}
	}
	if needsTranscript && (cp.Stage == "" || cp.Stage == transcribe.StageUpload) && !preflight.IsURL(cp.Source) {
		ok, err := r.slots.uploadAhead(ctx, st, r.uploads.running())
		if err != nil {
			return err
		}
		if !ok {
			r.pump.gate(job.ID)
			return river.JobSnooze(r.gateDelay(false))
		}
		ok, err = r.uploads.acquire(ctx, job.ID, r.slotPatience(ctx))
		if err != nil {
			return stopWait(ctx, err)
		}
		if !ok {
			r.pump.gate(job.ID)
			return river.JobSnooze(r.gateDelay(false))
		}
		uploading = true
		// The run may have stopped while this job waited (a 401 on
		// another upload): send nothing more.
		if r.stopping.Load() {
			return river.JobSnooze(DefaultStopSnooze)
		}
		// Again with the upload slot held: others may have filled the
		// files uploaded ahead while this job waited for it.
		if ok, err = r.slots.uploadAhead(ctx, st, r.uploads.running()-1); err != nil || !ok {
			endUpload()
			if err != nil {
				return err
			}
			r.pump.gate(job.ID)
			return river.JobSnooze(r.gateDelay(false))
		}
	}
	if f.StartedAt.IsZero() {
		if err := st.markStarted(ctx, f.ID, now); err != nil {
			return err
		}
	}

	tcfg := r.tcfg
	tcfg.ProcessingBase, tcfg.ProcessingFactor = r.calibrated()
	tcfg.OnEvent = func(ev transcribe.Event) {
		r.onEvent(context.WithoutCancel(ctx), f.ID, ev)
	}
	if r.cfg.Preflight != nil {
		tcfg.Preflight = st.preflightFunc(r.cfg.Preflight, f.ID)
	}
	t, err := transcribe.New(tcfg)
	if err != nil {
		return fmt.Errorf("create transcriber: %w", err)
	}
	save := func(ctx context.Context, cp transcribe.Checkpoint) error {
		return st.saveCheckpoint(ctx, f.ID, cp, r.now())
	}
	// Upload, then (with a transcript slot) create and wait: a file that
	// finished its upload hands its upload slot on before it waits for a
	// transcript slot.
	if cp.Stage == "" || cp.Stage == transcribe.StageUpload {
		cp, err = t.Upload(ctx, cp, save)
		endUpload()
		if err != nil {
			return r.handleError(ctx, job.ID, f, err)
		}
		if cp.Stage == transcribe.StageCreate && !holding {
			if ok, err := takeSlot(); !ok {
				return err
			}
		}
	}
	if r.hooks != nil {
		r.hooks.forget(job.ID) // this run polls first: older notices are moot
		r.hooks.apply(&params, job.ID)
	}
	res, err := t.Step(ctx, cp, params, save)
	// A poll due within DefaultInProcessPoll (a transcript just past its
	// expected end) is sent from here, when due, rather than whenever River
	// fetches the snoozed job back: a late poll holds the transcript's slot for nothing.
	// With webhooks, the job waits here for its notification (up to
	// webhookWait) and polls when it comes. Waiting here costs no
	// throughput: at most --concurrency jobs have a transcript in flight,
	// and the queue has a worker for each.
	var next time.Duration // the snooze until the next poll
	for err == nil && res.Transcript == nil {
		due := r.pollDelay(res.PollAfter)
		next = due
		if r.stopping.Load() {
			break
		}
		var notice <-chan struct{}
		wait := due
		if r.hooks != nil {
			next = r.webhookFallback(due)
			wait = min(next, within(ctx, r.webhookWait()))
			notice = r.hooks.watch(job.ID)
		} else if due > within(ctx, max(r.pollLead(), DefaultInProcessPoll)) {
			break
		}
		releaseSlot() // the store counts the transcript from here
		endUpload()
		waitFrom := time.Now()
		notified, werr := r.awaitNotice(ctx, wait, notice)
		if r.hooks != nil {
			r.hooks.unwatch(job.ID)
		}
		if werr != nil {
			// Stopping: notifications to this process end with it, so
			// the next run polls when it would have without them.
			return river.JobSnooze(max(due-time.Since(waitFrom), 0))
		}
		if !notified && wait < next {
			next -= wait // wait the rest snoozed; a notification wakes it
			break
		}
		res, err = t.Step(ctx, res.Checkpoint, params, save)
	}
	if err == nil && res.Transcript != nil {
		if r.hooks != nil {
			r.hooks.ended(job.ID)
		}
		return r.complete(ctx, f, res)
	}
	if err == nil {
		return r.snoozePoll(job.ID, next)
	}
	return r.handleError(ctx, job.ID, f, err)
}

// stopWait is what a job returns when waiting in-process for a slot ended
// in err: a snooze when the run is stopping (ctx done), so that nothing
// counts as a failed attempt and a re-run takes the file at once.
func stopWait(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return river.JobSnooze(DefaultStopSnooze)
	}
	return err
}

// retried reports whether River puts a job that returned err in its retry
// schedule: any error but a snooze or a cancel.
func retried(err error) bool {
	var (
		se *rivertype.JobSnoozeError
		ce *rivertype.JobCancelError
	)
	return err != nil && !errors.As(err, &se) && !errors.As(err, &ce)
}

// preflightFunc adapts the checker for transcribe and keeps each report with
// its file.
func (s *Store) preflightFunc(c *preflight.Checker, id int64) func(context.Context, string) (time.Duration, error) {
	return func(ctx context.Context, src string) (time.Duration, error) {
		rep, err := c.Check(ctx, src)
		if err != nil {
			return 0, err
		}
		if b, err := json.Marshal(rep); err == nil {
			if err := s.setPreflight(context.WithoutCancel(ctx), id, b); err != nil {
				return 0, err
			}
		}
		return rep.Duration, rep.Err()
	}
}

// complete stores the transcript, writes the outputs and ends the file.
func (r *Runner) complete(ctx context.Context, f *File, res transcribe.StepResult) error {
	raw := []byte(res.Transcript.Raw)
	if len(raw) == 0 {
		b, err := json.Marshal(res.Transcript)
		if err != nil {
			return fmt.Errorf("encode transcript: %w", err)
		}
		raw = b
	}
	ctx = context.WithoutCancel(ctx)
	r.calibrate(res.Checkpoint.TranscriptID, res.Checkpoint.AudioDuration)
	if err := r.store.markDone(ctx, f.ID, res.Checkpoint, raw, r.now()); err != nil {
		if errors.Is(err, errNotActive) {
			return nil
		}
		return err
	}
	// The transcript's slot is free from here: hand it to a waiting file
	// now rather than after the outputs' fsyncs.
	r.slots.notify()
	_, werr := r.store.writeOutputsOf(ctx, r.cfg.Output, f, raw)
	if werr != nil {
		r.outputErrors.Add(1)
		_ = r.store.setLastError(ctx, f.ID, "write output: "+werr.Error(), r.now())
	}
	r.fileEnded(ctx, f.ID, werr)
	return nil
}

// handleError turns a Step error into what River should do, per
// transcribe.Decide (applied to the file by Store.settle).
func (r *Runner) handleError(ctx context.Context, jobID int64, f *File, err error) error {
	if ctx.Err() != nil {
		return r.interrupted(ctx, f, err)
	}
	action, after, serr := r.store.settle(ctx, f.ID, err, r.now())
	switch action {
	case transcribe.ActionFail:
		if serr != nil {
			return serr
		}
		return r.failed(ctx, f, err.Error())
	case transcribe.ActionStopRun:
		r.stopRun(err)
		// Keep the file queued, untouched: the run stops and a re-run resumes.
		return river.JobSnooze(DefaultStopSnooze)
	case transcribe.ActionCanceled:
		return err
	}
	var boe *resilience.BreakerOpenError
	if errors.As(err, &boe) && boe.RetryIn > 0 {
		// Back when the breaker half-opens, or at once when it closes.
		r.park(jobID)
		return river.JobSnooze(boe.RetryIn)
	}
	if after > 0 {
		var rle *resilience.RetryLaterError
		if errors.As(err, &rle) && rle.Asked > 0 {
			// The API asked for longer than RetryAfterMax (after): the
			// file retries then, and a run UntilDone ends if it is all
			// that is left (wait).
			r.deferred.add(f.ID, jobID, rle.Until)
			select {
			case r.ended <- struct{}{}:
			default:
			}
		}
		return river.JobSnooze(after)
	}
	// River reschedules with the batch retry policy (30–60 s, growing),
	// or at once when an open breaker closes again (Work parks it).
	return err
}

// interrupted is what a job whose context ended returns, whatever error
// that made its step return: a stop of the run, a cancellation in the
// dashboard or River's job timeout is never the file's failure. The
// checkpoint is as the step saved it; the file continues from it.
func (r *Runner) interrupted(ctx context.Context, f *File, err error) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, river.ErrJobCancelledRemotely):
		// River ends the job whatever we return; the file stays unfinished
		// and the next run queues it again.
		_ = r.store.setLastError(context.WithoutCancel(ctx), f.ID,
			"cancelled in the dashboard; the next run continues it from its checkpoint", r.now())
		r.fileEnded(context.WithoutCancel(ctx), f.ID, nil)
		return cause
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("job timeout: %w", err) // River's retry schedule
	}
	return river.JobSnooze(0) // stopping: available again to the next run
}

// fail ends a file permanently and cancels its job.
func (r *Runner) fail(ctx context.Context, f *File, reason string) error {
	if err := r.store.markFailed(context.WithoutCancel(ctx), f.ID, reason, r.now()); err != nil && !errors.Is(err, errNotActive) {
		return err
	}
	return r.failed(ctx, f, reason)
}

// failed ends the job of a file marked failed with reason.
func (r *Runner) failed(ctx context.Context, f *File, reason string) error {
	r.fileEnded(context.WithoutCancel(ctx), f.ID, nil)
	return river.JobCancel(errors.New(reason))
}

// settle applies transcribe.Decide's verdict on err, an error of file id's
// step, to the file's record, and returns the verdict: ActionFail marks the
// file failed with err as the reason, ActionRetryLater keeps err as its last
// error, ActionStopRun and ActionCanceled leave it as it is. It is the one
// mapping of the worker (handleError) and of EnqueueUploaded (uploadOne);
// what each then does with its job differs. The error is the store's, when
// the file could not be marked failed (never for a file no longer active).
func (s *Store) settle(ctx context.Context, id int64, err error, now time.Time) (transcribe.Action, time.Duration, error) {
	ctx = context.WithoutCancel(ctx)
	action, after := transcribe.Decide(err)
	switch action {
	case transcribe.ActionFail:
		if merr := s.markFailed(ctx, id, err.Error(), now); merr != nil && !errors.Is(merr, errNotActive) {
			return action, after, merr
		}
	case transcribe.ActionRetryLater:
		_ = s.setLastError(ctx, id, err.Error(), now)
	}
	return action, after, nil
}

// decodeParams decodes stored transcript parameters, keeping keys the typed
// struct does not know in Extra so that --params FILE.json passes them on.
func decodeParams(raw json.RawMessage) (assemblyai.TranscriptParams, error) {
	var p assemblyai.TranscriptParams
	if len(raw) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("decode transcript params: %w", err)
	}
	var all, typed map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return p, fmt.Errorf("decode transcript params: %w", err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return p, fmt.Errorf("encode transcript params: %w", err)
	}
	_ = json.Unmarshal(b, &typed)
	for k, v := range all {
		if _, ok := typed[k]; ok || k == "audio_url" {
			continue
		}
		if p.Extra == nil {
			p.Extra = map[string]json.RawMessage{}
		}
		p.Extra[k] = v
	}
	p.AudioURL = ""
	return p, nil
}
