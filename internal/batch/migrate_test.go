package batch_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/durascribe/durascribe/internal/batch"
)

// TestConcurrentOpenOfANewSQLiteStore (issue 18 hole 12): processes that
// open a new store at the same moment race in migrations; each must open it.
func TestConcurrentOpenOfANewSQLiteStore(t *testing.T) {
	t.Parallel()
	for round := range 20 {
		dsn := filepath.Join(t.TempDir(), fmt.Sprintf("new%d.db", round))
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				st, err := batch.Open(context.Background(), dsn, batch.OpenOptions{})
				if err != nil {
					errs <- err
					return
				}
				errs <- st.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
