package batch

import (
	"container/heap"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/transcribe"
)

// uploadPump keeps the files uploaded ahead of free transcript slots topped
// up. Jobs turned away at the upload gate snooze for a spread-out delay (so
// that 10,000 queued files cost a bounded number of job runs per second); left
// alone they come back at DefaultUploadGateRate per second, which is less than
// a fast batch creates transcripts. The pump wakes them in order, as many as
// the uploaded-ahead buffer lacks, whenever a slot is taken or an upload ends:
// demand-driven supply, without extra runs of jobs that would only be turned
// away again. Their snooze stays as the backstop (other processes, restarts).
// Jobs are woken lowest id first, which is the queue's order (largest file
// first, see largestFirst), not the order they were turned away in.
type uploadPump struct {
	mu     sync.Mutex
	gated  idHeap              // snoozed at the upload gate, lowest id on top (may hold stale ids)
	inHeap map[int64]struct{}  // the ids in gated, stale or not: each once
	isSet  map[int64]struct{}  // the ids of gated still waiting
	at     map[int64]time.Time // when each job was last gated
	woken  map[int64]time.Time // woken, not run yet: when
	kick   chan struct{}       // capacity 1: a pass is due
}

func newUploadPump() *uploadPump {
	return &uploadPump{
		inHeap: map[int64]struct{}{}, isSet: map[int64]struct{}{}, at: map[int64]time.Time{},
		woken: map[int64]time.Time{},
		kick:  make(chan struct{}, 1),
	}
}

// gate remembers a job snoozed at the upload gate.
func (p *uploadPump) gate(id int64) {
	p.mu.Lock()
	p.at[id] = time.Now()
	p.push(id)
	p.mu.Unlock()
}

// regate puts back a job that take returned but that could not be woken
// yet, when its running attempt began before it was gated: the attempt that
// snoozed it, whose snooze River has not written yet. A later attempt is a
// real run (the job came back by itself) and is left alone.
func (p *uploadPump) regate(id int64, attemptedAt *time.Time) {
	p.mu.Lock()
	delete(p.woken, id)
	gatedAt, ok := p.at[id]
	if !ok || attemptedAt == nil || !attemptedAt.Before(gatedAt) {
		p.mu.Unlock()
		return
	}
	p.push(id)
	p.mu.Unlock()
}

// push marks id as waiting and puts it in the heap unless it is there
// already (a job turned away again before the pump took it). Requires p.mu.
func (p *uploadPump) push(id int64) {
	p.isSet[id] = struct{}{}
	if _, ok := p.inHeap[id]; !ok {
		p.inHeap[id] = struct{}{}
		heap.Push(&p.gated, id)
	}
}

// pop takes the lowest id off the heap. Requires p.mu.
func (p *uploadPump) pop() int64 {
	id := heap.Pop(&p.gated).(int64)
	delete(p.inHeap, id)
	return id
}

// ran forgets a job when it runs again.
func (p *uploadPump) ran(id int64) {
	p.mu.Lock()
	delete(p.isSet, id)
	delete(p.at, id)
	delete(p.woken, id)
	p.mu.Unlock()
}

// signal asks for a pass soon; it never blocks.
func (p *uploadPump) signal() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// take returns up to n gated jobs to wake, lowest id first, counting them
// as woken.
func (p *uploadPump) take(n int, now time.Time) []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, at := range p.woken {
		if now.Sub(at) > DefaultWokenTTL {
			delete(p.woken, id)
		}
	}
	n -= len(p.woken)
	var ids []int64
	for n > 0 && len(p.gated) > 0 {
		id := p.pop()
		if _, ok := p.isSet[id]; !ok {
			continue
		}
		delete(p.isSet, id)
		p.woken[id] = now
		ids = append(ids, id)
		n--
	}
	return ids
}

// runPump wakes gated jobs while the uploaded-ahead buffer has room, until
// ctx ends.
func (r *Runner) runPump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.pump.kick:
		}
		if r.stopping.Load() {
			continue
		}
		m, err := r.store.stageCounts(ctx)
		if err != nil {
			continue
		}
		// Room in the buffer (as uploadAhead counts it), less the uploads
		// running; at most DefaultPumpWakeFactor times the upload
		// concurrency on its way at once, so that woken jobs find an upload
		// slot rather than snooze again.
		room := min(r.cfg.Concurrency-m[transcribe.StageCreate]-r.uploads.running(), DefaultPumpWakeFactor*r.cfg.UploadConcurrency)
		for _, id := range r.pump.take(room, time.Now()) {
			row, err := r.client.JobRetry(ctx, id)
			switch {
			case err != nil:
				r.pump.ran(id)
				if ctx.Err() == nil {
					r.logger.Debug("wake job for upload", slog.Int64("job_id", id), slog.Any("error", err))
				}
			case row.State == rivertype.JobStateRunning:
				// Its snooze is not written yet (River's completer batches
				// results), and JobRetry leaves running jobs alone: left
				// at that, it would wait out its whole snooze, which can be
				// many seconds, and finish long after the rest of the
				// batch. Keep it for the next pass.
				r.pump.regate(id, row.AttemptedAt)
			}
		}
	}
}

// idHeap is a min-heap of job ids (container/heap).
type idHeap []int64

func (h idHeap) Len() int           { return len(h) }
func (h idHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h idHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *idHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *idHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
