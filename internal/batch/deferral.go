package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrDeferred is returned (wrapped with what the API asked) by Run with
// UntilDone when every file left unfinished waits for a Retry-After longer
// than the profile's RetryAfterMax: rather than hold the run open while they
// retry every RetryAfterMax until RetryFor gives up (a day), the run ends and
// they stay queued for a re-run.
var ErrDeferred = errors.New("run ended early: the API asked to wait longer than the Retry-After maximum")

// deferrals remembers the files of this process whose last attempt the API
// answered with a Retry-After above RetryAfterMax, and until when it asked
// them to wait. A file leaves the set when its job runs again. It is safe
// for concurrent use.
type deferrals struct {
	mu    sync.Mutex
	files map[int64]deferral // by file ID
}

type deferral struct {
	jobID int64
	until time.Time // the end of the wait the API asked for
}

// add notes that the API asked file id (job jobID) to wait until until.
func (d *deferrals) add(id, jobID int64, until time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.files == nil {
		d.files = map[int64]deferral{}
	}
	d.files[id] = deferral{jobID: jobID, until: until}
}

// release makes the jobs of the deferred files available at once, after a
// run ended with ErrDeferred, so that a re-run (the next step the error
// suggests) tries them when it starts rather than after the rest of their
// RetryAfterMax snooze (up to 10 min of a seemingly hung run against an API
// that has recovered). A job that cannot be released keeps its snooze.
func (d *deferrals) release(ctx context.Context, client riverClient) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range d.files {
		_, _ = client.JobRetry(ctx, f.jobID)
	}
}

// remove forgets file id: its job runs again.
func (d *deferrals) remove(id int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.files, id)
}

// covers returns an ErrDeferred error when the deferred files are all of
// the unfinished ones (unfinished > 0), and nil otherwise.
func (d *deferrals) covers(unfinished int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if unfinished == 0 || len(d.files) != unfinished {
		return nil
	}
	var first time.Time
	for _, f := range d.files {
		if first.IsZero() || f.until.Before(first) {
			first = f.until
		}
	}
	return fmt.Errorf("%w: %d file(s) asked to wait until %s at the earliest stay queued "+
		"(`durascribe status` shows why); re-run the same command to try them again", ErrDeferred, len(d.files),
		first.UTC().Truncate(time.Second).Format(time.RFC3339))
}
