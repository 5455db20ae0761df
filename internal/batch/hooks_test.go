package batch

import (
	"context"
	"fmt"
)

// LimitPages caps a SQLite store at its current size plus extra pages (a
// full disk, for tests), or lifts the cap when extra < 0.
func LimitPages(ctx context.Context, st *Store, extra int64) error {
	if extra < 0 {
		_, err := st.db.ExecContext(ctx, "PRAGMA max_page_count = 1073741823")
		return err
	}
	var pages int64
	if err := st.db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return err
	}
	_, err := st.db.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+extra))
	return err
}
