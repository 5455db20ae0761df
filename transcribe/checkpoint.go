package transcribe

import (
	"context"
	"time"
)

// Stage names one step of transcribing a file. Stages run in order; a
// Checkpoint records how far a file got.
type Stage string

// The stages, in order.
const (
	StageUpload Stage = "upload" // send local bytes to /v2/upload (skipped for URLs)
	StageCreate Stage = "create" // POST /v2/transcript (with reconciliation of ambiguous outcomes)
	StageWait   Stage = "wait"   // poll GET /v2/transcript/{id} until completed or error
	StageDone   Stage = "done"   // the transcript is completed
)

// Checkpoint is the durable progress of one file. The orchestrator hands every
// new Checkpoint to a SaveFunc before it acts on it, so a process that crashes
// and resumes from the last saved Checkpoint never re-uploads a file whose
// upload_url was saved and never creates a second transcript without first
// reconciling the first one.
//
// The zero value (with Source set) starts at the upload stage. Checkpoint is a
// plain value, encoded as JSON by durable stores.
type Checkpoint struct {
	// Source is the local path or the http(s) URL being transcribed.
	Source string `json:"source"`
	// Stage is the next stage to run.
	Stage Stage `json:"stage,omitempty"`
	// AudioDuration is the audio's duration when known (from pre-flight);
	// it times the first poll.
	AudioDuration time.Duration `json:"audio_duration,omitempty"`

	// UploadURL is the upload_url returned by /v2/upload (or Source for URL
	// inputs), and UploadedAt when it was obtained. An upload URL older than
	// Config.UploadMaxAge is not reused: AssemblyAI deletes untranscribed
	// uploads after 24 hours.
	UploadURL  string    `json:"upload_url,omitempty"`
	UploadedAt time.Time `json:"uploaded_at,omitzero"`

	// IntentAt is set (and saved) just before POST /v2/transcript is sent and
	// cleared when TranscriptID is saved. An IntentAt with no TranscriptID after
	// a crash or an ambiguous failure means "a transcript may exist or may
	// still appear": the list endpoint is searched for our upload URL, and
	// until the create's horizon (IntentAt + the client's request timeout,
	// or IntentAnsweredAt if earlier, + Config.CreateLandingMargin) nothing
	// is sent again, however often the
	// search comes back empty (a *CreatePendingError says when to look next).
	// From the horizon on, one more empty search allows a new create.
	IntentAt time.Time `json:"intent_at,omitzero"`
	// IntentAnsweredAt is when the API answered that create ambiguously (a
	// 5xx, a garbled 2xx): the server was done with it then, so the horizon
	// runs from here rather than from IntentAt + the request timeout.
	IntentAnsweredAt time.Time `json:"intent_answered_at,omitzero"`

	// TranscriptID is the transcript being waited for, and CreatedAt when it
	// was created (or adopted by reconciliation).
	TranscriptID string    `json:"transcript_id,omitempty"`
	CreatedAt    time.Time `json:"created_at,omitzero"`

	// TranscriptFailed is set when TranscriptID ended with status "error"
	// for good: a retry of the file needs a new transcript. Otherwise a
	// file that failed with a TranscriptID (a completed transcript whose
	// fetch failed) is retried by fetching that transcript again.
	TranscriptFailed bool `json:"transcript_failed,omitempty"`

	// Resubmits counts new transcripts created for the same upload after a
	// transcript ended with a transient error. Beyond Config.MaxResubmits,
	// each further resubmit waits for the caller's backoff.
	Resubmits int `json:"resubmits,omitempty"`
	// TranscriptIDs lists every transcript id this file has had, oldest first,
	// for support requests.
	TranscriptIDs []string `json:"transcript_ids,omitempty"`

	// Attempts counts API attempts per stage, across process restarts.
	Attempts map[Stage]int `json:"attempts,omitempty"`
	// Polls counts status polls of the current transcript.
	Polls int `json:"polls,omitempty"`

	// LastError is the most recent error message, verbatim, and LastErrorAt
	// when it happened.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// SaveFunc durably records a Checkpoint. The orchestrator calls it before each
// action whose effect must survive a crash (after an upload, before and after a
// create), with a context that is not cancelled with the step's: a result
// already obtained (an upload URL, a transcript id) is saved even when the
// caller is stopping. If it returns an error the orchestrator stops and returns
// that error without acting. It should return promptly.
type SaveFunc func(ctx context.Context, cp Checkpoint) error
