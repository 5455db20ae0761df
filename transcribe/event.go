package transcribe

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// Event describes one API attempt. One is emitted (to Config.OnEvent and as a
// log line) per attempt; it never contains the API key. It is the
// resilience.Attempt of the retry loop (which knows nothing of HTTP or
// AssemblyAI) with what the orchestrator adds: the file, stage, endpoint,
// status, class and transcript, by one conversion (newEvent). An attempts
// log that stores events (internal/batch) derives its rows from Event in
// turn.
type Event struct {
	Source       string
	Stage        Stage
	Endpoint     string
	Attempt      int
	Start        time.Time
	Duration     time.Duration
	StatusCode   int
	Class        string
	Error        string
	TranscriptID string
	Delay        time.Duration // wait chosen before the next attempt
	RetryAfter   time.Duration // server-requested wait, if any
	BreakerState string
	// BudgetRejected reports that the retry budget refused the next attempt.
	BudgetRejected bool
}

// LogValue renders the event as a slog group.
func (e Event) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("stage", string(e.Stage)),
		slog.String("endpoint", e.Endpoint),
		slog.Int("attempt", e.Attempt),
		slog.Time("start", e.Start),
		slog.Duration("duration", e.Duration),
		slog.Int("status", e.StatusCode),
		slog.String("class", e.Class),
	}
	if e.Error != "" {
		attrs = append(attrs, slog.String("error", e.Error))
	}
	if e.TranscriptID != "" {
		attrs = append(attrs, slog.String("transcript_id", e.TranscriptID))
	}
	if e.Delay > 0 {
		attrs = append(attrs, slog.Duration("delay", e.Delay))
	}
	if e.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", e.RetryAfter))
	}
	if e.BreakerState != "" {
		attrs = append(attrs, slog.String("breaker", e.BreakerState))
	}
	return slog.GroupValue(attrs...)
}

// newEvent is the Event of attempt a, made at stage on endpoint for source
// (with transcriptID, if any, known then): a's error is classified, and an
// *assemblyai.APIError gives its status code and message; a success has
// status 200.
func newEvent(source string, stage Stage, endpoint, transcriptID string, a resilience.Attempt) Event {
	ev := Event{
		Source:         source,
		Stage:          stage,
		Endpoint:       endpoint,
		Attempt:        a.Number,
		Start:          a.Start,
		Duration:       a.Duration,
		Class:          assemblyai.Classify(a.Err).String(),
		TranscriptID:   transcriptID,
		Delay:          a.Delay,
		RetryAfter:     a.RetryAfter,
		BreakerState:   a.BreakerState.String(),
		BudgetRejected: a.BudgetRejected,
	}
	if a.Err != nil {
		ev.Error = a.Err.Error()
		var ae *assemblyai.APIError
		if errors.As(a.Err, &ae) {
			ev.StatusCode = ae.StatusCode
			ev.Error = ae.Message
		}
	} else {
		ev.StatusCode = 200
	}
	return ev
}

// emit turns a resilience attempt into an Event, logs it and hands it to
// OnEvent.
func (s *step) emit(stage Stage, endpoint string, a resilience.Attempt) {
	ev := newEvent(s.cp.Source, stage, endpoint, s.cp.TranscriptID, a)
	if s.cp.Attempts == nil {
		s.cp.Attempts = map[Stage]int{}
	}
	s.cp.Attempts[stage]++
	// A failed attempt that the policy retries is routine (Info); one that
	// ends the stage's in-process retries is worth a warning. Every attempt
	// also reaches OnEvent (the attempts log) whatever its level.
	level := slog.LevelInfo
	if a.Err != nil && a.Delay == 0 {
		level = slog.LevelWarn
	}
	s.t.cfg.Logger.LogAttrs(context.Background(), level, "api attempt",
		slog.String("source", ev.Source), slog.Any("attempt", ev))
	if s.t.cfg.OnEvent != nil {
		s.t.cfg.OnEvent(ev)
	}
}
