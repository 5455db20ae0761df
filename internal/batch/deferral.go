package batch

import (
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
	files map[int64]time.Time // file ID → the end of the wait the API asked for
}

// add notes that the API asked file id to wait until until.
func (d *deferrals) add(id int64, until time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.files == nil {
		d.files = map[int64]time.Time{}
	}
	d.files[id] = until
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
	for _, until := range d.files {
		if first.IsZero() || until.Before(first) {
			first = until
		}
	}
	return fmt.Errorf("%w: %d file(s) asked to wait until %s at the earliest stay queued "+
		"(`durascribe status` shows why); re-run the same command to try them again", ErrDeferred, len(d.files),
		first.UTC().Truncate(time.Second).Format(time.RFC3339))
}
