package batch_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/preflight"
)

// BenchmarkBatch500 runs 500 files through the clean scenario at concurrency
// 32 on SQLite and reports the makespan against the ideal (Σ processing /
// concurrency) and the API calls per file. The emulator clock runs at
// 0.2x real durations (a 2.35 s transcript takes 0.47 s).
//
// Two runs: "poll" (the default: polls timed from the expected processing
// time) and "webhook" (completion webhooks to a loopback listener, polls
// only as a fallback).
//
// DURASCRIBE_BENCH_DEFAULT_ESTIMATE=1 leaves the processing-time estimate at
// its defaults for the real API instead of the emulator's model.
//
// DURASCRIBE_BENCH_SCALE sets another time scale: 1 runs the emulator's
// processing model in real time (a 2.35 s transcript takes 2.35 s), where
// the pipeline's own per-file costs weigh 5 times less against the ideal.
//
//	go test -run '^$' -bench Batch500 -benchtime 1x ./internal/batch/
//	DURASCRIBE_BENCH_SCALE=1 go test -run '^$' -bench Batch500 -benchtime 1x ./internal/batch/
func BenchmarkBatch500(b *testing.B) {
	scale := 0.2
	if v := os.Getenv("DURASCRIBE_BENCH_SCALE"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			b.Fatalf("DURASCRIBE_BENCH_SCALE=%q: want a positive number such as 0.2 or 1", v)
		}
		scale = f
	}
	b.Run("poll", func(b *testing.B) { benchBatch500(b, scale, false) })
	b.Run("webhook", func(b *testing.B) { benchBatch500(b, scale, true) })
}

func benchBatch500(b *testing.B, scale float64, webhook bool) {
	const n, conc = 500, 32
	for b.Loop() {
		b.StopTimer()
		// Processing per transcript: start delay 0.3 s + base 2 s + 0.1 x 0.5 s
		// of audio, scaled; jitter averages out.
		perFile := time.Duration(float64(300*time.Millisecond+2*time.Second+50*time.Millisecond) * scale)
		em := emulatortest.New(b, emulator.Config{Seed: 11, TimeScale: scale})
		dir := b.TempDir()
		writeWAVs(b, dir, n)
		ctx := context.Background()
		dbPath := filepath.Join(b.TempDir(), "bench.db")
		if keep := os.Getenv("DURASCRIBE_BENCH_DB"); keep != "" {
			dbPath = keep // kept for analysis of the attempts log
		}
		st, err := batch.Open(ctx, dbPath, batch.OpenOptions{})
		if err != nil {
			b.Fatal(err)
		}
		inputs, _ := batch.ResolveInputs([]string{dir}, nil)
		b.StartTimer()
		start := time.Now()
		if _, err := st.Enqueue(ctx, inputs); err != nil {
			b.Fatal(err)
		}
		cfg := runConfig(b, em.URL, em.APIKey, scale, "")
		cfg.Concurrency, cfg.UploadConcurrency = conc, 4
		cfg.RequestsPerSecond = 500
		// The first poll is timed from the expected processing time; tell
		// it the emulator's (AssemblyAI's is longer, hence the default 3 s).
		// The pre-flight duration lets transcribe time the first poll near
		// the expected completion.
		// The emulator's processing model, in API time (the run scales it).
		cfg.Transcribe.ProcessingBase = 2300 * time.Millisecond
		cfg.Transcribe.ProcessingFactor = 0.1
		if os.Getenv("DURASCRIBE_BENCH_DEFAULT_ESTIMATE") != "" {
			// The defaults for the real API (3 s + 0.15 x audio): 30 %
			// longer than the emulator; the run must measure the truth.
			cfg.Transcribe.ProcessingBase, cfg.Transcribe.ProcessingFactor = 0, 0
		}
		if cfg.Preflight, err = preflight.New(preflight.Config{DisableFFmpeg: true}); err != nil {
			b.Fatal(err)
		}
		if webhook {
			if cfg.Webhook.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				b.Fatal(err)
			}
		}
		if os.Getenv("DURASCRIBE_BENCH_TRACE") != "" {
			cfg.ProgressEvery = 500 * time.Millisecond
			cfg.OnProgress = func(p batch.Progress) { b.Logf("%v %+v", time.Since(start).Round(time.Millisecond), p) }
		}
		sum, err := st.Run(ctx, cfg)
		makespan := time.Since(start)
		b.StopTimer()
		if err != nil || sum.Done != n {
			b.Fatalf("run: %v, %+v", err, sum)
		}
		stats := em.Emulator.Stats()
		calls := 0
		for _, byStatus := range stats.Requests {
			for _, c := range byStatus {
				calls += c
			}
		}
		ideal := perFile * n / conc
		b.ReportMetric(makespan.Seconds(), "makespan_s")
		b.ReportMetric(ideal.Seconds(), "ideal_s")
		b.ReportMetric(makespan.Seconds()/ideal.Seconds(), "x_ideal")
		b.ReportMetric(float64(calls)/n, "calls/file")
		b.ReportMetric(float64(stats.DuplicateTranscripts), "duplicates")
		_ = st.Close()
		b.StartTimer()
	}
}
