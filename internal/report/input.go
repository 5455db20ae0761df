// Package report turns the attempts log and final file states of a batch into
// a retry-pattern summary and renders it as text, JSON or a self-contained HTML
// page with server-side SVG charts. It takes plain values: it never reads the
// store or imports River.
package report

import "time"

// Input is everything a report is computed from. The caller (the CLI) reads
// it from the batch store; Summarize never mutates it.
type Input struct {
	// Files are the files of the batch with their final (or current) state.
	Files []File
	// Attempts is the attempts log, in any order.
	Attempts []Attempt
	// BreakerEvents are circuit-breaker state changes. When empty, open
	// intervals are derived from Attempt.BreakerState instead.
	BreakerEvents []BreakerEvent
	// Start and End bound the time axis. Zero values are derived from the
	// earliest and latest timestamps in Files, Attempts and BreakerEvents.
	Start, End time.Time
}

// File is one input of the batch and how it ended.
type File struct {
	ID     int64
	Source string
	// State is "pending", "working", "done" or "failed".
	State string
	// Stage is the stage the file is in (or failed in).
	Stage        string
	Reason       string
	LastError    string
	TranscriptID string
	// Bytes is the size of the audio, when known; used to estimate
	// re-uploaded bytes.
	Bytes      int64
	StartedAt  time.Time
	FinishedAt time.Time
}

// Attempt is one API attempt, mirroring a row of the attempts log.
type Attempt struct {
	FileID int64
	Stage  string
	// Endpoint names the call, e.g. "POST /v2/transcript". A create-stage
	// attempt whose endpoint starts "GET " is a reconciliation lookup, not
	// a submit.
	Endpoint   string
	Attempt    int
	Start      time.Time
	Duration   time.Duration
	StatusCode int
	// Class is the classifier's verdict: "none" (or empty) for success,
	// else "retryable", "throttled", "ambiguous", "permanent" or "canceled".
	Class string
	// Error is the error message verbatim; empty for a successful attempt.
	Error        string
	Delay        time.Duration
	RetryAfter   time.Duration
	BreakerState string
	TranscriptID string
}

// OK reports whether the attempt succeeded: no error and no failure class.
func (a Attempt) OK() bool { return a.Error == "" && (a.Class == "" || a.Class == "none") }

// BreakerEvent is a circuit-breaker state change for one host.
type BreakerEvent struct {
	Host string
	Time time.Time
	// From and To are "closed", "open" or "half-open".
	From, To string
}
