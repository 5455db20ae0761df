package batch

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// uploadGate limits uploads in flight (--upload-concurrency) and hands a
// freed upload slot to the waiting job with the lowest id: the queue's order,
// largest file first (see largestFirst). A few jobs (maxWaiters) wait
// in-process; the rest are turned away and come back later (the upload
// pump). Without the in-process order, the slot goes to whichever job River
// happens to be running when it frees, which in a batch's first pass over its
// jobs is close to random.
type uploadGate struct {
	mu         sync.Mutex
	slots      int
	free       int // slots - uploads in flight
	maxWaiters int
	waiters    idHeap
	waiting    map[int64]*upWaiter
}

type upWaiter struct {
	granted chan struct{} // closed when the slot is handed over
	gone    bool          // gave up: skip when handing over
}

func newUploadGate(slots, maxWaiters int) *uploadGate {
	return &uploadGate{slots: slots, free: slots, maxWaiters: maxWaiters, waiting: map[int64]*upWaiter{}}
}

// acquire takes an upload slot for job id, waiting up to patience when it
// may wait; false means turned away.
func (g *uploadGate) acquire(ctx context.Context, id int64, patience time.Duration) (bool, error) {
	g.mu.Lock()
	if g.free > 0 && g.lowestWaiter() > id {
		g.free--
		g.mu.Unlock()
		return true, nil
	}
	if len(g.waiting) >= g.maxWaiters || g.waiting[id] != nil {
		g.mu.Unlock()
		return false, nil
	}
	w := &upWaiter{granted: make(chan struct{})}
	g.waiting[id] = w
	heap.Push(&g.waiters, id)
	g.mu.Unlock()

	timer := time.NewTimer(patience)
	defer timer.Stop()
	var err error
	select {
	case <-w.granted:
		return true, nil
	case <-timer.C:
	case <-ctx.Done():
		err = context.Cause(ctx)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.granted: // handed over while giving up: keep it
		return true, nil
	default:
	}
	w.gone = true
	delete(g.waiting, id)
	return false, err
}

// lowestWaiter is the lowest id still waiting, or the largest int64.
// Requires g.mu.
func (g *uploadGate) lowestWaiter() int64 {
	for len(g.waiters) > 0 {
		id := g.waiters[0]
		if w := g.waiting[id]; w != nil && !w.gone {
			return id
		}
		heap.Pop(&g.waiters)
	}
	return 1<<63 - 1
}

// release frees an upload slot, handing it to the lowest waiting job.
func (g *uploadGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for len(g.waiters) > 0 {
		id := heap.Pop(&g.waiters).(int64)
		w := g.waiting[id]
		if w == nil || w.gone {
			continue
		}
		delete(g.waiting, id) // the slot passes to it: free is unchanged
		close(w.granted)
		return
	}
	g.free++
}

// running is the number of uploads in flight.
func (g *uploadGate) running() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.slots - g.free
}
