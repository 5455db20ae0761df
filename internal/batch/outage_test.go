package batch_test

import (
	"context"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/resilience"
)

// TestOutageRecovery runs a batch through a 45 s outage (API time) and
// checks the two promises of the breaker: while the API is down, only the
// failures that trip it and one probe per open interval reach it; when the
// probe succeeds, every file waiting out the outage goes again at once, not
// when its durable retry delay (here at least 5 minutes) ends.
func TestOutageRecovery(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		// Time scale 0.05: the outage lasts 2.25 s of real time. At 0.02
		// (0.9 s) a loaded machine running the whole suite under -race
		// sometimes started only 3 files inside it, too few to trip the
		// breaker, and those waited out their durable delay (by design
		// when failures are too few to be an outage).
		const (
			scale = 0.05
			n     = 25
		)
		// The outage starts with the emulator, just before the run, so that
		// at least the 5 failures in a row that trip the breaker meet it
		// however slowly a loaded machine starts the files (a window 10 s
		// in let only 3–4 requests meet it under -race: the breaker never
		// opened, and those files waited out their durable delay, as
		// designed when failures are too few to be an outage).
		outage := emulator.Outage{Start: 0, End: emulator.Duration(45 * time.Second)}
		sc := emulator.Scenario{Name: "outage-test", Outages: []emulator.Outage{outage}}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		st := queuedStore(t, ctx, dsn, n)
		// The emulator (and so the outage) starts only now, with the store
		// open and the files queued: on a loaded machine those take longer
		// than the whole scaled outage.
		started := time.Now()
		em := emulatortest.New(t, emulator.Config{Scenario: sc, Seed: 3, TimeScale: scale})
		outageEnd := time.Now().Add(time.Duration(float64(outage.End.D()) * scale))
		cfg := runConfig(t, em.URL, em.APIKey, scale, t.TempDir())
		cfg.Concurrency, cfg.UploadConcurrency = 5, 2
		// The rate cap is not time-scaled: lift it, or the poll cadence it
		// imposes (10 transcripts at 25 polls/s) would dwarf scaled time.
		cfg.RequestsPerSecond = 5000
		// No in-process retries, so that the failures that trip the breaker
		// put their files in the durable retry schedule, with a delay far
		// longer than the outage (30 min): only the wake-up on close can
		// finish them in time.
		cfg.Transcribe.Profile, _ = resilience.LookupProfile("realtime")
		cfg.Transcribe.Profile.Backoff.MaxAttempts = 1
		retry := time.Duration(float64(30*time.Minute) * scale)
		cfg.Retry = resilience.Backoff{Base: retry, Cap: retry, MinDelay: retry}
		sum, err := st.Run(ctx, cfg)
		if err != nil {
			t.Fatalf("run: %v (summary %+v)", err, sum)
		}
		finished := time.Now()
		if sum.Done != n {
			t.Fatalf("summary %+v: want all %d files done", sum, n)
		}
		stats := em.Emulator.Stats()
		if stats.DuplicateTranscripts != 0 {
			t.Errorf("duplicate transcripts = %d, want 0", stats.DuplicateTranscripts)
		}
		if stats.RequestsDuringOutage == 0 {
			t.Fatalf("no request met the outage: the batch finished before it (%v after start)", finished.Sub(started))
		}

		// While down: 5 failures in a row trip the breaker, then at most one
		// probe per open interval (4 s ± 25 %: at most 15 in 45 s), plus the
		// requests already on their way when the 5th failure came back (at
		// most one per other River worker, 8; 0–2 seen, 5 under -race). The
		// failure rate alone lets 17–20 through here: the window is full of
		// successes when the outage starts.
		const trip, probes, slack = 5, 15, 6
		if got := stats.RequestsDuringOutage; got > trip+probes+slack {
			t.Errorf("requests during the outage = %d, want at most %d (trip %d + probes %d + slack %d)",
				got, trip+probes+slack, trip, probes, slack)
		}
		// After: the next probe comes within one open interval (≤ 5 s),
		// then the remaining files take a few rounds of transcripts (~12 s
		// each at this time scale, ~50 s under -race on a busy machine: the
		// store's overheads are not scaled, and 4–5 min were seen with the
		// whole suite running); the durable retry delay (30 min) must play
		// no part, so the bound stays well below it.
		after := time.Duration(float64(finished.Sub(outageEnd)) / scale)
		if bound := 20 * time.Minute; after > bound {
			t.Errorf("last file done %v (API time) after the outage ended, want at most %v", after.Round(time.Second), bound)
		}
		t.Logf("requests during the outage %d; all done %v (API time) after it ended",
			stats.RequestsDuringOutage, after.Round(100*time.Millisecond))
	})
}
