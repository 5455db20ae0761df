package batch

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/durascribe/durascribe/transcribe"
)

// slots limits transcripts in flight at the API. The store is the source of
// truth (files waiting for a transcript, in every process); local counts
// creates of this process that the store does not show yet. Across processes
// the limit can be overshot by at most the creates racing each other, which
// the API absorbs by queueing (throttled), never by failing.
type slots struct {
	max   int
	mu    sync.Mutex
	local int
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
