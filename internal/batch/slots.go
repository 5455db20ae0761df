package batch

import (
	"context"
	"fmt"
	"strings"
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
// A few jobs (at most cap(waiters)) may wait in-process for a slot instead of
// snoozing, so that a slot freed by this process is taken at once rather than
// when some snoozed job next comes back: the handoff latency otherwise adds to
// every transcript of a long batch.
type slots struct {
	max   int
	mu    sync.Mutex
	local int
	// freed is closed and replaced whenever a slot may have been freed.
	freed   chan struct{}
	waiters chan struct{}
}

func newSlots(max, waiters int) *slots {
	return &slots{max: max, freed: make(chan struct{}), waiters: make(chan struct{}, waiters)}
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

// acquire takes a transcript slot, waiting up to patience for this process
// to free one when the caller may wait; otherwise it only tries once.
func (sl *slots) acquire(ctx context.Context, st *Store, patience time.Duration) (bool, error) {
	select {
	case sl.waiters <- struct{}{}:
		defer func() { <-sl.waiters }()
	default:
		return sl.tryAcquire(ctx, st)
	}
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		ch := sl.freedCh() // before trying, so that no wake-up is lost
		ok, err := sl.tryAcquire(ctx, st)
		if err != nil || ok {
			return ok, err
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false, nil
		case <-ctx.Done():
			return false, context.Cause(ctx)
		}
	}
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
// age while they wait.
func (sl *slots) uploadAhead(ctx context.Context, st *Store) (bool, error) {
	m, err := st.stageCounts(ctx)
	if err != nil {
		return false, err
	}
	return m[transcribe.StageCreate] < sl.max, nil
}

func isURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}
