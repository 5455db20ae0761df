package batch

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultOwnerLease is how long a worker process of a PostgreSQL store may
// go without a heartbeat before the jobs it was running are given to the
// others. It must be well above the heartbeat period (a third of it) plus a
// slow database round trip, and is the delay before a killed worker's files
// move on: 30 s keeps that within about a minute, as against River's own
// rescuer, which waits for RescueAfter (12 min by default) because it
// cannot tell a dead worker from a long upload.
const DefaultOwnerLease = 30 * time.Second

// heartbeat keeps this process's row of durascribe_worker fresh (on the
// database's clock, so worker clocks may differ) and, at each beat, makes
// available the running jobs whose last attempt belongs to a worker whose
// lease has run out: it died (a clean stop leaves no running job). SQLite
// stores have one worker, and need none of this (see claimSQLite).
type heartbeat struct {
	store  *Store
	id     string // the River client id, as River writes it in attempted_by
	lease  time.Duration
	logger *slog.Logger
}

// beat records this worker as alive and rescues the jobs of dead ones.
func (h *heartbeat) beat(ctx context.Context) (rescued int64, err error) {
	if _, err := h.store.db.ExecContext(ctx, `INSERT INTO durascribe_worker (id, seen_at) VALUES ($1, now())
		ON CONFLICT (id) DO UPDATE SET seen_at = now()`, h.id); err != nil {
		return 0, fmt.Errorf("worker heartbeat: %w", err)
	}
	res, err := h.store.db.ExecContext(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE state = 'running' AND kind = 'transcribe_file'
		AND attempted_by[array_upper(attempted_by, 1)] NOT IN (
			SELECT id FROM durascribe_worker WHERE seen_at > now() - make_interval(secs => $1))`,
		h.lease.Seconds())
	if err != nil {
		return 0, fmt.Errorf("rescue jobs of dead workers: %w", err)
	}
	rescued, _ = res.RowsAffected()
	if _, err := h.store.db.ExecContext(ctx, `DELETE FROM durascribe_worker
		WHERE seen_at < now() - make_interval(secs => $1)`, (10 * h.lease).Seconds()); err != nil {
		return rescued, fmt.Errorf("forget dead workers: %w", err)
	}
	return rescued, nil
}

// run beats DefaultHeartbeatsPerLease times per lease until ctx ends, then
// removes this worker's row.
func (h *heartbeat) run(ctx context.Context) {
	defer func() {
		_, _ = h.store.db.ExecContext(context.WithoutCancel(ctx), `DELETE FROM durascribe_worker WHERE id = $1`, h.id)
	}()
	tick := time.NewTicker(h.lease / DefaultHeartbeatsPerLease)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := h.beat(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			h.logger.Warn("worker heartbeat", slog.Any("error", err))
		case n > 0:
			h.logger.Info("rescued jobs of a worker that stopped answering", slog.Int64("jobs", n))
		}
	}
}
