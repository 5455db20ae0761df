package batch

import (
	"context"
	"fmt"
	"os"
)

// claimSQLite takes the exclusive worker lock of a SQLite store (a lock file
// next to it) and, when it gets it, returns every transcribe_file job left
// running to available at once: no other worker process is alive, so they
// were orphaned by a crash. Without this a kill -9 would leave them stuck
// until River's rescuer (RescueAfter, on the elected leader, which itself
// waits out the dead leader's 15 s lease). The lock is held until release is
// called; a second worker on the same file simply does not get it and leaves
// rescue to River. PostgreSQL stores always rely on River's rescuer.
func (s *Store) claimSQLite(ctx context.Context) (release func(), rescued int64, err error) {
	release = func() {}
	if s.dialect != dialectSQLite {
		return release, 0, nil
	}
	f, err := os.OpenFile(s.path+".worker-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return release, 0, fmt.Errorf("open worker lock: %w", err)
	}
	if !tryLock(f) {
		_ = f.Close() // never written: nothing to lose
		return release, 0, nil
	}
	release = func() { _ = f.Close() } // closing releases the lock
	res, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND kind = 'transcribe_file'`)
	if err != nil {
		release()
		return func() {}, 0, fmt.Errorf("rescue orphaned jobs: %w", err)
	}
	rescued, _ = res.RowsAffected()
	return release, rescued, nil
}
