package batch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/durascribe/durascribe/transcribe"
)

// slots limits transcripts in flight at the API. The store is the source of
// truth (files waiting for a transcript, in every process); local counts
// creates of this process that the store does not show yet. Across processes
// the limit can be overshot by at most the creates racing each other, which
// the API absorbs by queueing (throttled), never by failing.
//
// Jobs (at most maxWaiters) may wait in-process for a slot instead of
// snoozing, so that a slot freed by this process is taken at once rather than
// when some snoozed job next comes back: the handoff latency otherwise adds to
// every transcript of a long batch. Waiters take freed slots lowest job id
// first: the queue's order, largest file first (see largestFirst).
type slots struct {
	max        int
	maxWaiters int
	// recheck is how often a waiter asks the store again: a slot freed by
	// another process sharing it sends no wake-up here.
	recheck time.Duration
	mu      sync.Mutex
	local   int
	waiting map[int64]struct{} // job ids waiting in-process
	// freed is closed and replaced whenever a slot may have been freed.
	freed chan struct{}
}

func newSlots(max, waiters int, recheck time.Duration) *slots {
	return &slots{max: max, maxWaiters: waiters, recheck: recheck, waiting: map[int64]struct{}{}, freed: make(chan struct{})}
}

// notify wakes the jobs waiting for a slot.
func (sl *slots) notify() {
	sl.mu.Lock()
	close(sl.freed)
	sl.freed = make(chan struct{})
	sl.mu.Unlock()
}

func (sl *slots) freedCh() <-chan struct{} {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.freed
}

// acquire takes a transcript slot for job id, waiting up to patience for
// this process to free one when there is room among the waiters; otherwise
// it tries once, and only if no lower job id waits.
func (sl *slots) acquire(ctx context.Context, st *Store, id int64, patience time.Duration) (bool, error) {
	sl.mu.Lock()
	if len(sl.waiting) >= sl.maxWaiters {
		lower := sl.lowerWaitingLocked(id)
		sl.mu.Unlock()
		if lower {
			return false, nil
		}
		return sl.tryAcquire(ctx, st)
	}
	sl.waiting[id] = struct{}{}
	sl.mu.Unlock()
	defer func() {
		sl.mu.Lock()
		delete(sl.waiting, id)
		sl.mu.Unlock()
		sl.notify() // the next waiter's turn
	}()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	tick := time.NewTicker(sl.recheck)
	defer tick.Stop()
	for {
		ch := sl.freedCh() // before trying, so that no wake-up is lost
		sl.mu.Lock()
		lower := sl.lowerWaitingLocked(id)
		sl.mu.Unlock()
		if !lower {
			ok, err := sl.tryAcquire(ctx, st)
			if err != nil || ok {
				return ok, err
			}
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			return false, nil
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
}

// lowerWaitingLocked reports whether a job with a lower id than id waits.
// Requires sl.mu.
func (sl *slots) lowerWaitingLocked(id int64) bool {
	for w := range sl.waiting {
		if w < id {
			return true
		}
	}
	return false
}

// stageCounts returns working files per stage.
func (s *Store) stageCounts(ctx context.Context) (map[transcribe.Stage]int, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT stage, COUNT(*) FROM durascribe_file WHERE state = 'working' GROUP BY stage`)
	if err != nil {
		return nil, fmt.Errorf("count working files: %w", err)
	}
	defer rows.Close()
	m := map[transcribe.Stage]int{}
	for rows.Next() {
		var (
			st transcribe.Stage
			n  int
		)
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count working files: %w", err)
		}
		m[st] = n
	}
	return m, rows.Err()
}

// tryAcquire takes a transcript slot if one is free.
func (sl *slots) tryAcquire(ctx context.Context, st *Store) (bool, error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	m, err := st.stageCounts(ctx)
	if err != nil {
		return false, err
	}
	if m[transcribe.StageWait]+sl.local >= sl.max {
		return false, nil
	}
	sl.local++
	return true, nil
}

func (sl *slots) release() {
	sl.mu.Lock()
	sl.local--
	sl.mu.Unlock()
	sl.notify()
}

// uploadAhead reports whether another file may be uploaded: uploads run ahead
// of free transcript slots by at most max files, so that upload_urls do not
// age while they wait. uploading is the number of other uploads of this
// process in progress, which count as ahead already: uploads take
// milliseconds, and a batch's first pass over its jobs would otherwise
// upload most of them before the first saves its upload_url.
func (sl *slots) uploadAhead(ctx context.Context, st *Store, uploading int) (bool, error) {
	m, err := st.stageCounts(ctx)
	if err != nil {
		return false, err
	}
	return m[transcribe.StageCreate]+uploading < sl.max, nil
}
