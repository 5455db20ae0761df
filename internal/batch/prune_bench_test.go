package batch

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPruneAttempts prunes a SQLite attempts log of 50,000 rows: 1,000
// files done two days ago with 50 attempts each, next to 100 failed files
// whose 5,000 rows stay. The timer covers PruneAttempts only.
//
//	go test -run '^$' -bench PruneAttempts ./internal/batch/
func BenchmarkPruneAttempts(b *testing.B) {
	const files, perFile, failedFiles = 1000, 50, 100
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	old := time.Now().Add(-48 * time.Hour)
	for i := range files + failedFiles {
		state := "done"
		if i >= files {
			state = "failed"
		}
		if _, err := st.db.ExecContext(ctx, `INSERT INTO durascribe_file (id, input_key, source, out_name, state,
			created_at, updated_at, finished_at) VALUES ($1, $2, $2, $2, $3, $4, $4, $4)`,
			i+1, fmt.Sprintf("f%d", i), state, formatTime(old)); err != nil {
			b.Fatal(err)
		}
	}
	fill := func() {
		tx, err := st.db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck // no-op after commit
		for i := range files + failedFiles {
			for n := range perFile {
				if _, err := tx.ExecContext(ctx, `INSERT INTO durascribe_attempt (file_id, stage, endpoint, attempt,
					started_at, duration_ms, status_code, class, error, delay_ms, retry_after_ms, breaker_state,
					transcript_id) VALUES ($1, 'wait', 'GET /v2/transcript/{id}', $2, $3, 120, 200, 'none', '', 0, 0,
					'closed', 't')`, i+1, n+1, formatTime(old)); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if _, err := st.db.ExecContext(ctx, `DELETE FROM durascribe_attempt`); err != nil {
			b.Fatal(err)
		}
		fill()
		b.StartTimer()
		n, err := st.PruneAttempts(ctx, time.Now().Add(-24*time.Hour))
		if err != nil || n != files*perFile {
			b.Fatalf("pruned %d, %v; want %d", n, err, files*perFile)
		}
	}
	b.ReportMetric(float64(files*perFile), "rows/op")
}
