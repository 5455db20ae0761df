package batch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"
)

// DefaultOwnerRecheck is how often a process waiting for a SQLite store's
// worker lock tries to take it again. The lock is a kernel advisory lock
// that a waiter cannot be woken by portably without blocking a thread it
// could not cancel; a second costs one failed flock call and delays a
// take-over by at most that much.
const DefaultOwnerRecheck = time.Second

// claimSQLite tries to take the exclusive worker lock of a SQLite store (a
// lock file next to it, which names the holder's pid). The lock is what
// makes a process the store's one worker: only its holder runs jobs, so
// every transcribe_file job left running when it takes the lock was
// orphaned by a process that died (the kernel drops a dead process's lock,
// however it died), and is made available at once. Without this a kill -9
// would leave them stuck until River's rescuer.
//
// held is false when another live process holds the lock; the caller waits
// (see Run). PostgreSQL stores need no lock: their workers share the queue
// and a dead one's jobs are rescued by its missing heartbeat (see
// heartbeat.go).
func (s *Store) claimSQLite(ctx context.Context) (release func(), rescued int64, held bool, err error) {
	release = func() {}
	if s.dialect != dialectSQLite {
		return release, 0, true, nil
	}
	f, err := os.OpenFile(s.path+".worker-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return release, 0, false, fmt.Errorf("open worker lock: %w", err)
	}
	if !tryLock(f) {
		_ = f.Close() // never written: nothing to lose
		return release, 0, false, nil
	}
	// Name the holder for the processes that wait (best effort: the lock,
	// not this text, is what counts).
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	release = func() { _ = f.Close() } // closing releases the lock
	res, err := s.db.ExecContext(ctx, `UPDATE river_job SET state = 'available'
		WHERE state = 'running' AND kind = 'transcribe_file'`)
	if err != nil {
		release()
		return func() {}, 0, false, fmt.Errorf("rescue orphaned jobs: %w", err)
	}
	rescued, _ = res.RowsAffected()
	return release, rescued, true, nil
}

// lockHolder returns the pid written in the worker lock file, or "".
func (s *Store) lockHolder() string {
	b, err := os.ReadFile(s.path + ".worker-lock")
	if err != nil || len(b) == 0 {
		return ""
	}
	if _, err := strconv.Atoi(string(b[:len(b)-1])); err != nil {
		return ""
	}
	return string(b[:len(b)-1])
}

// own waits until this process is the store's worker (see claimSQLite),
// telling the user once what it waits for. It returns held=false without an
// error when cfg.UntilDone and the files were all finished by the process
// that holds the lock, and the context's cause when ctx ends first.
func (r *Runner) own(ctx context.Context) (release func(), held bool, err error) {
	var tick *time.Ticker
	for {
		release, rescued, held, err := r.store.claimSQLite(ctx)
		if err != nil {
			return nil, false, err
		}
		if held {
			if rescued > 0 {
				r.logger.Info("rescued jobs orphaned by a crash", slog.Int64("jobs", rescued))
			}
			if tick != nil {
				r.logger.Info("the other process stopped: working the store")
			}
			return release, true, nil
		}
		if tick == nil {
			pid := r.store.lockHolder()
			r.logger.Warn("another durascribe process is working this store; waiting for it to finish or stop (one worker per SQLite store: use PostgreSQL to run several)",
				slog.String("store", r.store.path), slog.String("pid", pid))
			tick = time.NewTicker(r.cfg.OwnerRecheck)
			defer tick.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, false, context.Cause(ctx)
		case <-tick.C:
		}
		p, err := r.progress(ctx)
		if err != nil {
			return nil, false, err
		}
		if r.cfg.OnProgress != nil {
			r.cfg.OnProgress(p)
		}
		if r.cfg.UntilDone && p.Pending == 0 && p.Working == 0 {
			return nil, false, nil
		}
	}
}
