package emulator

import (
	"container/heap"
	"time"
)

// state is the emulator's mutable world; Server.mu guards it.
type state struct {
	transcripts map[string]*transcript
	order       []*transcript // creation order; seq indexes it
	uploads     map[string]*upload
	byAudio     map[string][]*transcript // audio key → transcripts of that audio
	hashes      map[string]int           // sha256 → uploads of those bytes

	queue     []*transcript // waiting to process, FIFO
	running   runningHeap   // processing, earliest end first
	simTime   time.Time     // time of the last processed event
	nextEvent time.Time     // zero: nothing scheduled

}

func (st *state) init() {
	st.transcripts = make(map[string]*transcript)
	st.uploads = make(map[string]*upload)
	st.byAudio = make(map[string][]*transcript)
	st.hashes = make(map[string]int)
}

// runningHeap orders processing transcripts by their end time.
type runningHeap []*transcript

func (h runningHeap) Len() int           { return len(h) }
func (h runningHeap) Less(i, j int) bool { return h[i].doneAt.Before(h[j].doneAt) }
func (h runningHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runningHeap) Push(x any)        { *h = append(*h, x.(*transcript)) }
func (h *runningHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// slotsFree reports whether another transcript may start processing.
func (s *Server) slotsFreeLocked() bool {
	return s.cfg.Concurrency < 0 || len(s.state.running) < s.cfg.Concurrency
}

// enqueueLocked puts a new transcript in the queue. A transcript created while
// the account is at its concurrency limit is throttled until it starts.
func (s *Server) enqueueLocked(t *transcript) {
	st := &s.state
	if s.cfg.Concurrency >= 0 && len(st.running)+len(st.queue) >= s.cfg.Concurrency {
		t.throttled = true
	}
	st.queue = append(st.queue, t)
	if !t.readyAt.IsZero() && (st.nextEvent.IsZero() || t.readyAt.Before(st.nextEvent)) {
		st.nextEvent = t.readyAt
	}
	s.kick()
}

// markReadyLocked records that t's audio is known (after a fetch) and that t
// may start at readyAt.
func (s *Server) markReadyLocked(t *transcript, readyAt time.Time) {
	t.readyAt = readyAt
	st := &s.state
	if st.nextEvent.IsZero() || readyAt.Before(st.nextEvent) {
		st.nextEvent = readyAt
	}
	s.kick()
}

// kick wakes the background driver so that it recomputes its timer.
func (s *Server) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// advanceLocked runs every start and end event due by now, in time order. It
// is cheap when nothing is due, so every request calls it.
func (s *Server) advanceLocked(now time.Time) {
	st := &s.state
	if st.nextEvent.IsZero() || now.Before(st.nextEvent) {
		return
	}
	for {
		var startAt, endAt time.Time
		head := -1
		if s.slotsFreeLocked() {
			for i, t := range st.queue {
				if !t.readyAt.IsZero() {
					head = i
					startAt = t.readyAt
					if startAt.Before(st.simTime) {
						startAt = st.simTime
					}
					break
				}
			}
		}
		if len(st.running) > 0 {
			endAt = st.running[0].doneAt
		}
		switch {
		case !endAt.IsZero() && !endAt.After(now) && (head < 0 || !endAt.After(startAt)):
			t := heap.Pop(&st.running).(*transcript)
			st.simTime = endAt
			s.finishLocked(t)
		case head >= 0 && !startAt.After(now):
			t := st.queue[head]
			st.queue = append(st.queue[:head], st.queue[head+1:]...)
			st.simTime = startAt
			t.status = statusProcessing
			t.throttled = false
			t.startAt = startAt
			t.doneAt = startAt.Add(t.procDur)
			t.invalidate()
			heap.Push(&st.running, t)
		default:
			st.nextEvent = time.Time{}
			if head >= 0 {
				st.nextEvent = startAt
			}
			if !endAt.IsZero() && (st.nextEvent.IsZero() || endAt.Before(st.nextEvent)) {
				st.nextEvent = endAt
			}
			return
		}
	}
}

// finishLocked ends t with its predetermined outcome.
func (s *Server) finishLocked(t *transcript) {
	t.completedAt = t.doneAt
	if t.outcome != "" {
		t.status = statusError
		t.errMsg = t.outcome
		s.addStat(func(st *Stats) { st.TranscriptsErrored++ })
	} else {
		t.status = statusCompleted
		t.content = s.buildContent(t)
		s.addStat(func(st *Stats) { st.TranscriptsCompleted++ })
	}
	t.invalidate()
	if t.params.WebhookURL != nil && *t.params.WebhookURL != "" {
		s.startWebhook(t)
	}
}

// drive advances the state when events are due, so that webhooks fire on
// time even when nobody polls.
func (s *Server) drive() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		now := s.now()
		s.advanceLocked(now)
		next := s.state.nextEvent
		s.mu.Unlock()
		d := time.Hour
		if !next.IsZero() {
			d = max(next.Sub(now), time.Millisecond)
		}
		timer.Reset(d)
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// processingTime is base + factor × audio duration, ± jitter, scaled.
// startDelay is the scaled time a transcript stays queued with a free slot.
func (s *Server) startDelay() time.Duration { return s.scale(max(s.cfg.StartDelay, 0)) }

func (s *Server) processingTime(seq int, audio time.Duration, full bool) time.Duration {
	d := float64(s.cfg.ProcessingBase)
	if full {
		d += max(s.cfg.ProcessingFactor, 0) * float64(audio)
	}
	u := draw(s.cfg.Seed, "processing", uint64(seq), 0)
	d *= 1 + max(s.cfg.ProcessingJitter, 0)*(2*u-1)
	return s.scale(time.Duration(d))
}
