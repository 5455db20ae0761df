package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/transcribe"
)

// Attempt is one API attempt of one file, for the attempts log: what was
// tried, how it ended (the error verbatim) and what the policy did next. It is
// a row of the store: the transcribe.Event it was made from (by attemptOf,
// the one conversion) with the file's id for its source, JSON names, and
// without what the log does not keep (the budget's verdict).
type Attempt struct {
	FileID       int64         `json:"file_id"`
	Stage        string        `json:"stage"`
	Endpoint     string        `json:"endpoint"`
	Attempt      int           `json:"attempt"`
	Start        time.Time     `json:"start"`
	Duration     time.Duration `json:"duration"`
	StatusCode   int           `json:"status_code,omitempty"`
	Class        string        `json:"class,omitempty"`
	Error        string        `json:"error,omitempty"`
	Delay        time.Duration `json:"delay,omitempty"`
	RetryAfter   time.Duration `json:"retry_after,omitempty"`
	BreakerState string        `json:"breaker_state,omitempty"`
	TranscriptID string        `json:"transcript_id,omitempty"`
}

// attemptOf is the attempts-log row of ev, an attempt of file fileID.
func attemptOf(fileID int64, ev transcribe.Event) Attempt {
	return Attempt{
		FileID: fileID, Stage: string(ev.Stage), Endpoint: ev.Endpoint, Attempt: ev.Attempt, Start: ev.Start,
		Duration: ev.Duration, StatusCode: ev.StatusCode, Class: ev.Class, Error: ev.Error, Delay: ev.Delay,
		RetryAfter: ev.RetryAfter, BreakerState: ev.BreakerState, TranscriptID: ev.TranscriptID,
	}
}

// recordAttempt appends one row to the attempts log.
func (s *Store) recordAttempt(ctx context.Context, a Attempt) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO durascribe_attempt
		(file_id, stage, endpoint, attempt, started_at, duration_ms, status_code, class, error, delay_ms,
		 retry_after_ms, breaker_state, transcript_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.FileID, a.Stage, a.Endpoint, int64(a.Attempt), formatTime(a.Start), a.Duration.Milliseconds(),
		int64(a.StatusCode), a.Class, logging.RedactText(a.Error), a.Delay.Milliseconds(), a.RetryAfter.Milliseconds(),
		a.BreakerState, a.TranscriptID)
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	return nil
}

// Attempts returns the attempts log of one file (all files when fileID is 0),
// oldest first.
func (s *Store) Attempts(ctx context.Context, fileID int64) ([]Attempt, error) {
	q := `SELECT file_id, stage, endpoint, attempt, started_at, duration_ms, status_code, class, error, delay_ms,
		retry_after_ms, breaker_state, transcript_id FROM durascribe_attempt`
	var args []any
	if fileID != 0 {
		q += ` WHERE file_id = $1`
		args = append(args, fileID)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var (
			a                       Attempt
			start                   string
			dur, delay, ra, n, code int64
		)
		if err := rows.Scan(&a.FileID, &a.Stage, &a.Endpoint, &n, &start, &dur, &code, &a.Class, &a.Error,
			&delay, &ra, &a.BreakerState, &a.TranscriptID); err != nil {
			return nil, fmt.Errorf("list attempts: %w", err)
		}
		a.Attempt, a.StatusCode, a.Start = int(n), int(code), parseTime(start)
		a.Duration = time.Duration(dur) * time.Millisecond
		a.Delay = time.Duration(delay) * time.Millisecond
		a.RetryAfter = time.Duration(ra) * time.Millisecond
		out = append(out, a)
	}
	return out, rows.Err()
}

// PruneAttempts deletes the attempts log of files that finished done before
// cutoff and returns how many rows went. Rows of failed, pending and working
// files are always kept: they are what a support request or a report of the
// failure needs. A done file's log goes all at once, never in part, so what
// remains of a file's attempts is always whole.
func (s *Store) PruneAttempts(ctx context.Context, cutoff time.Time) (int64, error) {
	// finished_at is RFC 3339 text in UTC: compared as text with a cutoff in
	// whole seconds, a file finished in the cutoff's own second may count as
	// before it, which is close enough for a retention measured in hours.
	res, err := s.db.ExecContext(ctx, `DELETE FROM durascribe_attempt WHERE file_id IN
		(SELECT id FROM durascribe_file WHERE state = 'done' AND finished_at <> '' AND finished_at < $1)`,
		cutoff.UTC().Truncate(time.Second).Format(time.RFC3339))
	if err != nil {
		return 0, fmt.Errorf("prune attempts: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune attempts: %w", err)
	}
	return n, nil
}
