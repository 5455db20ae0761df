package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/durascribe/durascribe/emulator"
)

// sampleEvery is the period of the in-flight sampler.
const sampleEvery = 10 * time.Millisecond

// sample is the emulator's view at one instant.
type sample struct {
	at        time.Duration // since the emulator started
	inFlight  int           // transcripts queued or processing
	completed int           // transcripts completed so far
}

// sampleInFlight records the emulator's in-flight transcripts every
// sampleEvery until ctx is done, and returns the samples.
func sampleInFlight(ctx context.Context, em *emulator.Server, start time.Time) []sample {
	var out []sample
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case <-t.C:
			st := em.Stats()
			out = append(out, sample{
				at:        time.Since(start),
				inFlight:  st.Transcripts["queued"] + st.Transcripts["processing"],
				completed: st.TranscriptsCompleted,
			})
		}
	}
}

// recoveryAfter returns how long after end the emulator had full throughput
// again: as many transcripts in flight as the concurrency allows (or as
// files remain). ok is false when the run ended before the outage did, or
// never got back to full throughput.
func recoveryAfter(samples []sample, end time.Duration, conc, files int) (time.Duration, bool) {
	for _, s := range samples {
		if s.at < end {
			continue
		}
		if s.inFlight >= min(conc, files-s.completed) {
			return s.at - end, true
		}
	}
	return 0, false
}

// arrivals records when requests reached the bench's server, relative to
// the emulator's start, so that requests into an outage can be told apart
// by when they came (the breaker's trip, then its probes).
type arrivals struct {
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

// wrap returns h recording each request's arrival first.
func (a *arrivals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := time.Since(a.start)
		a.mu.Lock()
		a.at = append(a.at, d)
		a.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// in counts the arrivals in [from, to).
func (a *arrivals) in(from, to time.Duration) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, d := range a.at {
		if d >= from && d < to {
			n++
		}
	}
	return n
}
