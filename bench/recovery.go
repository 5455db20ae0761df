package main

import (
	"context"
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
