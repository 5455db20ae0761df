package transcribe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
)

// Endpoint labels used in events (route templates, never full URLs).
const (
	endpointUpload = "POST /v2/upload"
	endpointCreate = "POST /v2/transcript"
	endpointGet    = "GET /v2/transcript/{id}"
	endpointList   = "GET /v2/transcript"
)

// step is the state of one Step call.
type step struct {
	t      *Transcriber
	cp     Checkpoint
	params assemblyai.TranscriptParams
	save   SaveFunc
	// created is set when this step created the transcript: the first poll
	// then waits for the expected processing time instead of asking at once.
	created bool
}

func (s *step) run(ctx context.Context) (StepResult, error) {
	for {
		var err error
		switch s.cp.Stage {
		case StageUpload:
			err = s.upload(ctx)
		case StageCreate:
			err = s.create(ctx)
		case StageWait:
			if s.created {
				return StepResult{PollAfter: s.firstPoll()}, nil
			}
			return s.wait(ctx)
		case StageDone:
			// A completed checkpoint: fetch the transcript once more.
			return s.wait(ctx)
		default:
			return StepResult{}, fmt.Errorf("transcribe: unknown stage %q in checkpoint", s.cp.Stage)
		}
		if err != nil {
			s.recordError(ctx, err)
			return StepResult{}, err
		}
	}
}

// persist saves the checkpoint; nothing is acted on until it is saved.
func (s *step) persist(ctx context.Context) error {
	if err := s.save(context.WithoutCancel(ctx), s.cp); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// recordError notes err in the checkpoint and saves it, best effort: the
// error itself is what the caller acts on.
func (s *step) recordError(ctx context.Context, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	s.cp.LastError = err.Error()
	s.cp.LastErrorAt = s.t.cfg.Clock().UTC()
	_ = s.save(context.WithoutCancel(ctx), s.cp)
}

// policy returns the retry policy for one stage.
func (s *step) policy(stage Stage, endpoint string) resilience.Policy {
	prof := s.t.cfg.Profile
	return resilience.Policy{
		Backoff:       prof.Backoff,
		RetryAfterCap: prof.RetryAfterCap,
		RetryAfterMax: prof.RetryAfterMax,
		Budget:        s.t.cfg.Budget,
		Breaker:       s.t.cfg.Breakers.For(s.t.cfg.Client.Host()),
		Rand:          s.t.cfg.Rand,
		OnAttempt:     func(a resilience.Attempt) { s.emit(stage, endpoint, a) },
	}
}

// outcome maps an API error to what the retry loop needs, through the one
// classifier.
func outcome(err error) resilience.Outcome {
	o := resilience.Outcome{}
	var ae *assemblyai.APIError
	if errors.As(err, &ae) {
		o.RetryAfter = ae.RetryAfter
	}
	switch assemblyai.Classify(err) {
	case assemblyai.ClassRetryable, assemblyai.ClassAmbiguous:
		o.Retry = true
		o.BreakerFailure = true
	case assemblyai.ClassThrottled:
		o.Retry = true
	}
	return o
}

// limit waits for the global request-rate cap, if any.
func (s *step) limit(ctx context.Context) error {
	if s.t.cfg.Limiter == nil {
		return nil
	}
	return s.t.cfg.Limiter.Wait(ctx)
}

// preflight runs the configured check, if any.
func (s *step) preflight(ctx context.Context) error {
	if s.t.cfg.Preflight == nil {
		return nil
	}
	d, err := s.t.cfg.Preflight(ctx, s.cp.Source)
	switch {
	case err == nil:
		if d > 0 {
			s.cp.AudioDuration = d
		}
		return nil
	case ctx.Err() != nil:
		return context.Cause(ctx)
	}
	return &StageError{Stage: StagePreflight, Err: &inputError{err}}
}

// maxRechecks bounds how many times the upload checks a local file again
// because it changed while it was checked; a file still changing after that
// is being written, and fails.
const maxRechecks = 3

// openChecked opens the local source once, without following a symbolic link
// put in its place, and pre-flights it, so that the bytes uploaded are the
// bytes checked: after the check, the path must still name the open file,
// unchanged (size and mtime). A file that changed during its check is opened
// and checked again. It returns the open file and its Stat, taken from the
// open descriptor.
func (s *step) openChecked(ctx context.Context) (*os.File, os.FileInfo, error) {
	src := s.cp.Source
	inputErr := func(format string, args ...any) error {
		return &StageError{Stage: StageUpload, Err: fmt.Errorf("%w: "+format, append([]any{ErrInput}, args...)...)}
	}
	linked := func() bool {
		lfi, err := os.Lstat(src)
		return err == nil && lfi.Mode()&fs.ModeSymlink != 0
	}
	errLinked := func() error {
		return inputErr("%s was replaced by a symbolic link after it was queued, so it was not uploaded: "+
			"re-queue it, by its own path or by the link's (the link's target is recorded)", src)
	}
	for range maxRechecks {
		// Lstat first: opening a FIFO put there would block, and a
		// directory is no audio.
		lfi, err := os.Lstat(src)
		switch {
		case err != nil:
			return nil, nil, inputErr("%w: check the path", err)
		case lfi.Mode()&fs.ModeSymlink != 0:
			return nil, nil, errLinked()
		case !lfi.Mode().IsRegular():
			return nil, nil, inputErr("%s is not a regular file", src)
		}
		f, err := openNoFollow(src)
		if err != nil {
			if linked() {
				return nil, nil, errLinked()
			}
			return nil, nil, inputErr("%w", err)
		}
		fi, err := f.Stat()
		switch {
		case err != nil:
			_ = f.Close() // opened read-only
			return nil, nil, inputErr("%w", err)
		case !fi.Mode().IsRegular():
			_ = f.Close()
			return nil, nil, inputErr("%s is not a regular file", src)
		case fi.Size() == 0:
			_ = f.Close()
			return nil, nil, inputErr("%s is empty (0 bytes): nothing to transcribe", src)
		}
		if err := s.preflight(ctx); err != nil {
			_ = f.Close()
			return nil, nil, err
		}
		if s.t.cfg.Preflight == nil {
			return f, fi, nil
		}
		// The check read the path: it must still be the open file, as it was.
		lfi, lerr := os.Lstat(src)
		now, ferr := f.Stat()
		if lerr == nil && ferr == nil && os.SameFile(lfi, now) &&
			now.Size() == fi.Size() && now.ModTime().Equal(fi.ModTime()) {
			return f, fi, nil
		}
		_ = f.Close()
		if linked() {
			return nil, nil, errLinked()
		}
	}
	return nil, nil, inputErr("%s kept changing while it was checked: re-queue it when it is complete", src)
}

func (s *step) upload(ctx context.Context) error {
	now := s.t.cfg.Clock().UTC()
	if preflight.IsURL(s.cp.Source) {
		if err := s.preflight(ctx); err != nil {
			return err
		}
		s.cp.UploadURL, s.cp.UploadedAt = s.cp.Source, now
		s.cp.Stage = StageCreate
		return s.persist(ctx)
	}
	f, fi, err := s.openChecked(ctx)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // opened read-only: a close error loses nothing

	var (
		url      string
		n422     int
		attempts int
	)
	pol := s.policy(StageUpload, endpointUpload)
	err = pol.Do(ctx, func(ctx context.Context, attempt int) error {
		attempts = attempt
		if err := s.limit(ctx); err != nil {
			return err
		}
		u, err := s.t.cfg.Client.Upload(ctx, f, fi.Size())
		if err != nil {
			var ae *assemblyai.APIError
			if errors.As(err, &ae) && ae.StatusCode == 422 {
				n422++
			}
			return err
		}
		url = u
		return nil
	}, func(err error) resilience.Outcome {
		o := outcome(err)
		if n422 >= s.t.cfg.MaxUpload422 {
			o.Retry = false
		}
		return o
	})
	if err != nil {
		return &StageError{Stage: StageUpload, Attempt: attempts, Err: err}
	}
	// Bytes written while they were sent may have reached the upload torn:
	// drop it (uploads are free) and let the next step check and send the
	// file again.
	if now, err := f.Stat(); err != nil || now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
		return &StageError{Stage: StageUpload, Attempt: attempts, Err: &resilience.RetryLaterError{
			Err: fmt.Errorf("%s changed while it was uploaded: it will be checked and uploaded again", s.cp.Source)}}
	}
	s.cp.UploadURL, s.cp.UploadedAt = url, s.t.cfg.Clock().UTC()
	s.cp.Stage = StageCreate
	return s.persist(ctx)
}

func (s *step) create(ctx context.Context) error {
	// An intent without an id: a crash or an ambiguous failure happened after
	// the POST may have been sent. Look before sending again.
	if !s.cp.IntentAt.IsZero() && s.cp.TranscriptID == "" {
		found, err := s.reconcile(ctx, s.policy(StageCreate, endpointList))
		if err != nil {
			return &StageError{Stage: StageCreate, Err: fmt.Errorf("reconcile earlier create: %w", err)}
		}
		if found != nil {
			return s.adopt(ctx, found.ID, found.Created.Time)
		}
		if err := s.pending(); err != nil {
			return &StageError{Stage: StageCreate, Err: err}
		}
		s.cp.IntentAt, s.cp.IntentAnsweredAt = time.Time{}, time.Time{}
	}
	// An old upload cannot be trusted to exist any more: upload again.
	if !preflight.IsURL(s.cp.Source) && s.t.cfg.Clock().Sub(s.cp.UploadedAt) > s.t.cfg.UploadMaxAge {
		s.cp.UploadURL, s.cp.UploadedAt = "", time.Time{}
		s.cp.Stage = StageUpload
		return s.persist(ctx)
	}

	params := s.params
	params.AudioURL = s.cp.UploadURL
	var (
		tr        *assemblyai.Transcript
		ambiguous bool
		attempts  int
	)
	pol := s.policy(StageCreate, endpointCreate)
	// Inside a create attempt, the reconciliation is one list request with
	// no retries of its own (the create's loop retries it) and no breaker
	// permit of its own: the attempt already holds the host's permit, which
	// may be the breaker's only half-open probe, so asking again would wait
	// for ourselves until the Retry-After cap.
	inner := s.policy(StageCreate, endpointList)
	inner.Breaker = nil
	inner.Backoff.MaxAttempts = 1
	err := pol.Do(ctx, func(ctx context.Context, attempt int) error {
		attempts = attempt
		if ambiguous {
			found, err := s.reconcile(ctx, inner)
			if err != nil {
				return err
			}
			if found != nil {
				tr = &assemblyai.Transcript{ID: found.ID}
				return nil
			}
			if err := s.pending(); err != nil {
				return err
			}
			ambiguous = false
		}
		if err := s.limit(ctx); err != nil {
			return err
		}
		s.cp.IntentAt, s.cp.IntentAnsweredAt = s.t.cfg.Clock().UTC(), time.Time{}
		if err := s.persist(ctx); err != nil {
			return err
		}
		t, err := s.t.cfg.Client.CreateTranscript(ctx, params)
		if err != nil {
			// Only an answer from the API that is not ambiguous proves that
			// no transcript was created; a dropped or cancelled request may
			// have created one.
			_, answered := errors.AsType[*assemblyai.APIError](err)
			if answered && assemblyai.Classify(err) != assemblyai.ClassAmbiguous {
				s.cp.IntentAt = time.Time{}
				return err
			}
			ambiguous = true
			if _, garbled := errors.AsType[*assemblyai.ResponseError](err); answered || garbled {
				// The server answered (a 5xx, a garbled 2xx): it is done
				// with the request, which brings the horizon forward.
				s.cp.IntentAnsweredAt = s.t.cfg.Clock().UTC()
				_ = s.persist(ctx) // best effort: without it the horizon is only later
			}
			return err
		}
		tr = t
		return nil
	}, func(err error) resilience.Outcome {
		if _, ok := errors.AsType[*CreatePendingError](err); ok {
			return resilience.Outcome{} // not a failure of the API: wait, don't retry
		}
		return outcome(err)
	})
	if err != nil {
		// The intent stays saved when the outcome is unknown, so that the
		// next step (or the next process) reconciles before resubmitting.
		return &StageError{Stage: StageCreate, Attempt: attempts, Err: err}
	}
	s.created = true
	return s.adopt(ctx, tr.ID, s.t.cfg.Clock().UTC())
}

// pending returns a *CreatePendingError while the saved intent's create may
// still land (see Config.CreateLandingMargin), nil from its horizon on.
// The next look comes when the intent's age has doubled (at least
// DefaultCreateRelookMin later, at most at the horizon): a create that is
// merely slow is found soon after it lands, at a cost of a few list
// requests per file however long the horizon.
func (s *step) pending() error {
	sent := s.cp.IntentAt.Add(s.t.cfg.Client.RequestTimeout()) // the client gave up by then
	if a := s.cp.IntentAnsweredAt; !a.IsZero() && a.Before(sent) {
		sent = a
	}
	until := sent.Add(s.t.cfg.CreateLandingMargin)
	now := s.t.cfg.Clock()
	if !now.Before(until) {
		return nil
	}
	wait := min(until.Sub(now), max(now.Sub(s.cp.IntentAt), DefaultCreateRelookMin))
	return &CreatePendingError{IntentAt: s.cp.IntentAt, Until: until, Wait: wait}
}

// firstPoll is the wait between creating a transcript and the first poll:
// near the expected completion time when the audio duration is known.
func (s *step) firstPoll() time.Duration {
	return resilience.PollDelay(s.t.cfg.Profile, 0, s.expected(), false, s.t.cfg.Rand)
}

// expected is the estimated processing time of the current transcript, or 0
// when the audio duration is unknown.
func (s *step) expected() time.Duration {
	if s.cp.AudioDuration <= 0 {
		return 0
	}
	return s.t.cfg.ExpectedProcessing(s.cp.AudioDuration)
}

// adopt records transcript id as the one to wait for.
func (s *step) adopt(ctx context.Context, id string, created time.Time) error {
	s.cp.TranscriptID = id
	s.cp.CreatedAt = created
	s.cp.IntentAt, s.cp.IntentAnsweredAt = time.Time{}, time.Time{}
	s.cp.TranscriptIDs = append(s.cp.TranscriptIDs, id)
	s.cp.Polls = 0
	s.cp.Stage = StageWait
	return s.persist(ctx)
}
