package transcribe

import (
	"context"
	"slices"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

const (
	// reconcileSlack widens the part of the list read when reconciling: the
	// API's Date header has whole seconds, and the list request itself takes
	// time. It only bounds how far back the list is read (transcripts are
	// matched by upload URL, never by time), so a generous value costs at
	// most a page more.
	reconcileSlack = 5 * time.Minute
	// reconcileMaxPages bounds the list pages read when reconciling.
	reconcileMaxPages = 10
)

// reconcile looks for a transcript created from our upload URL that this
// checkpoint does not know yet (TranscriptIDs holds the transcripts of
// earlier resubmits of the same upload). It returns nil when there is none
// yet. pol retries the list.
//
// The list is newest first and read back to the saved intent, measured on
// the API's clock: the intent's age on our clock is subtracted from the
// response's Date, so that a server clock minutes off ours neither hides
// our transcript nor makes us read the whole history.
func (s *step) reconcile(ctx context.Context, pol resilience.Policy) (*assemblyai.TranscriptListItem, error) {
	var found *assemblyai.TranscriptListItem
	err := pol.Do(ctx, func(ctx context.Context, _ int) error {
		found = nil
		if err := s.limit(ctx); err != nil {
			return err
		}
		list, err := s.t.cfg.Client.ListTranscripts(ctx, assemblyai.ListParams{Limit: 200})
		for page := 1; err == nil; page++ {
			since := s.intentOnServer(list.ServerDate).Add(-reconcileSlack)
			oldest := false
			for i := range list.Transcripts {
				it := list.Transcripts[i]
				if it.AudioURL == s.cp.UploadURL && !slices.Contains(s.cp.TranscriptIDs, it.ID) {
					found = &it
					return nil
				}
				if it.Created.Before(since) {
					oldest = true
				}
			}
			if oldest || list.PageDetails.PrevURL == nil || *list.PageDetails.PrevURL == "" || page >= reconcileMaxPages {
				return nil
			}
			if err := s.limit(ctx); err != nil {
				return err
			}
			list, err = s.t.cfg.Client.ListTranscriptsPage(ctx, *list.PageDetails.PrevURL)
		}
		return err
	}, outcome)
	return found, err
}

// intentOnServer is the saved intent's time on the API's clock, given the
// API's Date of a response received now (our clock's IntentAt when the
// response had no Date).
func (s *step) intentOnServer(serverDate time.Time) time.Time {
	if serverDate.IsZero() {
		return s.cp.IntentAt
	}
	return serverDate.Add(-s.t.cfg.Clock().Sub(s.cp.IntentAt))
}

// wait polls the transcript once and decides what comes next.
func (s *step) wait(ctx context.Context) (StepResult, error) {
	var tr *assemblyai.Transcript
	attempts := 0
	pol := s.policy(StageWait, endpointGet)
	err := pol.Do(ctx, func(ctx context.Context, attempt int) error {
		attempts = attempt
		if err := s.limit(ctx); err != nil {
			return err
		}
		t, err := s.t.cfg.Client.GetTranscript(ctx, s.cp.TranscriptID)
		tr = t
		return err
	}, outcome)
	if err != nil {
		err = &StageError{Stage: StageWait, Attempt: attempts, TranscriptID: s.cp.TranscriptID, Err: err}
		s.recordError(ctx, err)
		return StepResult{}, err
	}
	s.cp.Polls++
	switch tr.Status {
	case assemblyai.StatusCompleted:
		s.cp.Stage = StageDone
		if err := s.persist(ctx); err != nil {
			return StepResult{}, err
		}
		return StepResult{Transcript: tr}, nil
	case assemblyai.StatusError:
		terr := &TranscriptError{TranscriptID: tr.ID, Message: tr.Error}
		s.cp.LastError, s.cp.LastErrorAt = terr.Error(), s.t.cfg.Clock().UTC()
		if !terr.Transient() {
			s.cp.TranscriptFailed = true
			err := &StageError{Stage: StageWait, Attempt: s.cp.Resubmits + 1, TranscriptID: tr.ID, Err: terr}
			_ = s.save(context.WithoutCancel(ctx), s.cp)
			return StepResult{}, err
		}
		// Transient: the same upload goes to another server, at once for the
		// first MaxResubmits times, after the caller's backoff (Decide says
		// retry later) from then on, so a sick backend is not fed resubmits in
		// a tight loop and the file is still never given up early.
		s.cp.Resubmits++
		s.cp.TranscriptID = ""
		s.cp.Stage = StageCreate
		if err := s.persist(ctx); err != nil {
			return StepResult{}, err
		}
		if s.cp.Resubmits > s.t.cfg.MaxResubmits {
			return StepResult{}, &StageError{Stage: StageWait, Attempt: s.cp.Resubmits, TranscriptID: tr.ID, Err: terr}
		}
		return s.run(ctx)
	}
	slow := tr.Status == assemblyai.StatusQueued || (tr.Throttled != nil && *tr.Throttled)
	if err := s.persist(ctx); err != nil {
		return StepResult{}, err
	}
	return StepResult{PollAfter: resilience.PollDelay(s.t.cfg.Profile, s.cp.Polls, s.expected(), slow, s.t.cfg.Rand)}, nil
}
