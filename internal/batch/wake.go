package batch

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/resilience"
)

// park remembers a job that waits for a transient reason (the breaker was
// open, or its in-process retries were exhausted), so that it is woken when
// the breaker closes rather than when its snooze or retry delay ends.
func (r *Runner) park(jobID int64) {
	r.breakerMu.Lock()
	r.parked[jobID] = struct{}{}
	r.breakerMu.Unlock()
}

// unpark forgets a job when it runs again.
func (r *Runner) unpark(jobID int64) {
	r.breakerMu.Lock()
	delete(r.parked, jobID)
	r.breakerMu.Unlock()
}

// wakeParkedLocked starts making available at once, after the breaker of
// host closed again, every job that waits out the outage: those this
// process parked, and every job in River's retry schedule (state retryable:
// in-process retries exhausted, 30–60 s and growing), also those of other
// processes sharing a PostgreSQL store. Without it a file would wait its
// full durable delay after the API came back. Other jobs are left alone: a
// snoozed poll keeps its schedule, and a job waiting for a slot its place.
// Requires r.breakerMu.
func (r *Runner) wakeParkedLocked(host string) {
	ids := slices.Collect(maps.Keys(r.parked))
	clear(r.parked)
	if r.wakeCtx.Err() != nil {
		return
	}
	r.wakes.Add(1)
	go func() {
		defer r.wakes.Done()
		// A job that failed just before the breaker closed may still be
		// "running" in the store while River's completer has its result in
		// a batch not yet written: JobRetry leaves it alone, and it lands
		// in the retry schedule a moment later. Passes after the first catch
		// those (the retryable jobs of every process are listed each time),
		// soon: each such job holds a transcript slot, or its file, back
		// from the recovered API until it is woken (see DefaultWakePasses).
		for i, after := range DefaultWakePasses() {
			if i > 0 && resilience.Sleep(r.wakeCtx, after) != nil {
				return
			}
			n, err := r.wakeParked(r.wakeCtx, ids)
			if err != nil && r.wakeCtx.Err() == nil {
				r.logger.Warn("wake jobs after the breaker closed", slog.String("host", host), slog.Any("error", err))
			}
			if n > 0 {
				r.logger.Info("circuit breaker closed: jobs waiting out the outage retried now",
					slog.String("host", host), slog.Int("jobs", n))
			}
		}
	}()
}

// wakeParked retries (River's JobRetry: available now, attempts kept) the
// retryable transcribe_file jobs and those of parked still waiting. A wait
// shorter than River's scheduler interval (5 s) leaves a job available with
// a future scheduled_at rather than scheduled or retryable, hence the
// states asked for parked jobs. It returns how many it woke.
func (r *Runner) wakeParked(ctx context.Context, parked []int64) (int, error) {
	var ids []int64
	list := func(p *river.JobListParams) error {
		p = p.Kinds(TranscribeArgs{}.Kind()).Queues(QueueName).First(DefaultWakePage)
		for {
			res, err := r.client.JobList(ctx, p)
			if err != nil {
				return err
			}
			for _, j := range res.Jobs {
				ids = append(ids, j.ID)
			}
			if len(res.Jobs) < DefaultWakePage {
				return nil
			}
			p = p.After(res.LastCursor)
		}
	}
	if err := list(river.NewJobListParams().States(rivertype.JobStateRetryable)); err != nil {
		return 0, err
	}
	for chunk := range slices.Chunk(parked, DefaultWakePage) {
		p := river.NewJobListParams().IDs(chunk...).
			States(rivertype.JobStateAvailable, rivertype.JobStateScheduled, rivertype.JobStateRetryable)
		if err := list(p); err != nil {
			return 0, err
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	n := 0
	for _, id := range ids {
		// A job that ran in between is running (left alone by JobRetry) or
		// finished; a finished one that runs again finds its file done or
		// failed and ends at once.
		if _, err := r.client.JobRetry(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
