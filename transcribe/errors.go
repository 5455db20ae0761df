package transcribe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// StagePreflight names the pre-flight check in a StageError; it runs before
// the upload stage and is not a stage of its own in a Checkpoint.
const StagePreflight Stage = "preflight"

// StageError is the error of a stage: which stage, after how many attempts,
// the transcript concerned (if any), and the cause, with AssemblyAI's message
// verbatim inside it.
type StageError struct {
	Stage        Stage
	Attempt      int
	TranscriptID string
	Err          error
}

func (e *StageError) Error() string {
	s := string(e.Stage)
	if e.Attempt > 0 {
		s = fmt.Sprintf("%s (attempt %d)", s, e.Attempt)
	}
	if e.TranscriptID != "" {
		s += " transcript " + e.TranscriptID
	}
	return s + ": " + e.Err.Error()
}

func (e *StageError) Unwrap() error { return e.Err }

// TranscriptError is a transcript that ended with status "error". Message is
// AssemblyAI's message verbatim.
type TranscriptError struct {
	TranscriptID string
	Message      string
}

func (e *TranscriptError) Error() string {
	return "transcript " + e.TranscriptID + " failed: " + e.Message
}

// Transient reports whether the message says the failure was on AssemblyAI's
// side and a resubmit may succeed.
func (e *TranscriptError) Transient() bool {
	return assemblyai.ClassifyTranscriptError(e.Message) == assemblyai.ClassRetryable
}

// CreatePendingError says that a create of unknown outcome (a crash, a
// timeout or a dropped connection after POST /v2/transcript was sent) may
// still land: the list does not show its transcript yet, and sending another
// create before Until could pay twice. Decide maps it to ActionRetryLater
// after Wait, when the next Step looks again (adopting the transcript if it
// has appeared) and creates only from Until on.
type CreatePendingError struct {
	// IntentAt is when the earlier create was sent (our clock).
	IntentAt time.Time
	// Until is when it can no longer land: IntentAt + the client's request
	// timeout + Config.CreateLandingMargin.
	Until time.Time
	// Wait is how long until the next look: at most Until less the time of
	// the check.
	Wait time.Duration
}

func (e *CreatePendingError) Error() string {
	return fmt.Sprintf("a create sent at %s may still land until %s; looking for it again in %s, not sending another before then",
		e.IntentAt.UTC().Format(time.TimeOnly), e.Until.UTC().Format(time.TimeOnly), e.Wait.Round(time.Millisecond))
}

// Action is what a durable queue should do with an error from Step.
type Action int

// The actions Decide returns.
const (
	// ActionRetryLater: reschedule the file after the returned delay (or the
	// queue's own backoff when it is 0); its progress is kept.
	ActionRetryLater Action = iota
	// ActionFail: the file failed permanently; the error is the reason.
	ActionFail
	// ActionStopRun: the account or key is unusable (401, negative balance):
	// stop the whole run, keep everything queued, tell the user what to fix.
	ActionStopRun
	// ActionCanceled: the caller's context was cancelled.
	ActionCanceled
)

func (a Action) String() string {
	switch a {
	case ActionRetryLater:
		return "retry-later"
	case ActionFail:
		return "fail"
	case ActionStopRun:
		return "stop-run"
	case ActionCanceled:
		return "canceled"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decide tells a durable queue what to do with err, an error returned by
// Step, and how long to wait before retrying when the action is
// ActionRetryLater (0: use the queue's backoff). The wait is never more than
// the profile's RetryAfterMax: the retry policy cuts a longer Retry-After to
// that, and the error's message says what the server asked.
func Decide(err error) (Action, time.Duration) {
	if err == nil {
		return ActionRetryLater, 0
	}
	var (
		rle *resilience.RetryLaterError
		te  *TranscriptError
		cpe *CreatePendingError
	)
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !isAPIError(err):
		return ActionCanceled, 0
	case errors.Is(err, ErrInput):
		return ActionFail, 0
	case assemblyai.IsAccountError(err):
		return ActionStopRun, 0
	case errors.As(err, &te):
		if te.Transient() {
			return ActionRetryLater, 0
		}
		return ActionFail, 0
	case errors.As(err, &rle):
		return ActionRetryLater, rle.After
	case errors.As(err, &cpe):
		return ActionRetryLater, max(cpe.Wait, time.Nanosecond)
	}
	switch assemblyai.Classify(err) {
	case assemblyai.ClassPermanent:
		return ActionFail, 0
	case assemblyai.ClassCanceled:
		return ActionCanceled, 0
	}
	// Retryable, throttled, ambiguous, exhausted retries or budget, open
	// breaker, a failed save: all worth trying again later, progress kept.
	return ActionRetryLater, 0
}

func isAPIError(err error) bool {
	var ae *assemblyai.APIError
	var tpe *assemblyai.TransportError
	return errors.As(err, &ae) || errors.As(err, &tpe)
}

// ErrInput marks a problem with the input itself (a missing or empty file)
// found before any request.
var ErrInput = errors.New("bad input")

// inputError marks err as a problem with the input (ErrInput) without
// repeating that in its message.
type inputError struct{ err error }

func (e *inputError) Error() string        { return e.err.Error() }
func (e *inputError) Unwrap() error        { return e.err }
func (e *inputError) Is(target error) bool { return target == ErrInput }
