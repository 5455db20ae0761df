package batch_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// webhookRun queues n files and runs them against a fresh emulator with
// webhooks served on a loopback listener (URL: url, or the listener's own
// address when empty). The processing-time estimate is a hundredth of the
// emulator's, so that polling alone would ask many times per transcript.
func webhookRun(t *testing.T, dsn string, n int, url string, logs *syncBuffer) ([]*batch.File, emulator.Stats) {
	t.Helper()
	const scale = 0.1
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	st := queuedStore(t, ctx, dsn, n)
	em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: scale})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	cfg.Concurrency, cfg.UploadConcurrency = 4, 2
	cfg.RequestsPerSecond = 5000
	cfg.Transcribe.ProcessingBase = 20 * time.Millisecond
	cfg.Transcribe.ProcessingFactor = 0.001
	if cfg.Webhook.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	cfg.Webhook.URL = url
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sum, err := st.Run(ctx, cfg)
	if err != nil || sum.Done != n {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return files, em.Emulator.Stats()
}

// With webhooks, each transcript is fetched once, when its notification
// comes: no status poll at all, although the processing-time estimate is far
// too short (polling alone sends 4-6 GETs per transcript here).
func TestWebhooksReplacePolling(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		const n = 12
		files, stats := webhookRun(t, dsn, n, "", nil)
		// Processing takes 0.235 s here; the fallback poll comes 1.5 s
		// after the create. Done well before it: the notification woke
		// the job.
		for _, f := range files {
			if took := f.FinishedAt.Sub(f.Checkpoint.CreatedAt); took > 1200*time.Millisecond {
				t.Errorf("%s: done %v after its create: not woken by its notification", filepath.Base(f.Source), took)
			}
		}
		if got := stats.Requests["get"][200]; got != n {
			t.Errorf("GET /v2/transcript/{id}: %d requests for %d transcripts, want one each (%v)", got, n, stats.Requests)
		}
		if stats.WebhookDeliveries != n || stats.WebhookFailures != 0 {
			t.Errorf("webhooks: %d delivered, %d failed, want %d and 0", stats.WebhookDeliveries, stats.WebhookFailures, n)
		}
		if stats.DuplicateTranscripts != 0 {
			t.Errorf("%d duplicate transcripts", stats.DuplicateTranscripts)
		}
	})
}

// A webhook URL that does not reach the listener loses every notification:
// polling finishes the batch anyway, and the run says what is wrong.
func TestWebhooksLostFallBackToPolling(t *testing.T) {
	t.Parallel()
	// A loopback port with nobody listening.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/hook"
	_ = ln.Close()
	var logs syncBuffer
	const n = 8
	_, stats := webhookRun(t, filepath.Join(t.TempDir(), "hook.db"), n, dead, &logs)
	if stats.WebhookDeliveries != 0 {
		t.Errorf("%d webhooks delivered to a closed port", stats.WebhookDeliveries)
	}
	if got := stats.Requests["get"][200]; got < n {
		t.Errorf("%d GETs for %d transcripts", got, n)
	}
	if !strings.Contains(logs.String(), "no webhook notification arrives") {
		t.Errorf("no warning about the unreachable webhook URL in the logs:\n%s", logs.String())
	}
}

// A graceful stop does not wait for transcripts waiting in-process for their
// notification: they snooze at once and a re-run polls them.
func TestStopEndsWebhookWaits(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	st := queuedStore(t, ctx, filepath.Join(t.TempDir(), "stop.db"), 3)
	// Transcripts that take an hour: every job ends up waiting for its
	// notification.
	em := emulatortest.New(t, emulator.Config{Seed: 5, ProcessingBase: time.Hour})
	cfg := runConfig(t, em.URL, em.APIKey, 1, "")
	cfg.Concurrency = 3
	cfg.StopGrace = 30 * time.Second
	cfg.JobTimeout, cfg.RescueAfter = 10*time.Minute, 12*time.Minute // in-process waits of 2 min
	cfg.ProgressEvery = 50 * time.Millisecond
	if cfg.Webhook.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var stopAt time.Time
	cfg.OnProgress = func(p batch.Progress) {
		if p.Waiting == 3 {
			once.Do(func() { stopAt = time.Now(); cancel() })
		}
	}
	_, err = st.Run(ctx, cfg)
	if stopAt.IsZero() {
		t.Fatalf("run ended (%v) before all 3 transcripts were waiting", err)
	}
	// Without the halt, River's soft stop waits StopGrace (30 s) for them.
	if took := time.Since(stopAt); took > 10*time.Second {
		t.Errorf("stop took %v with StopGrace 30s: the webhook waits held it", took)
	}
	files, err := st.Files(context.Background(), batch.StateWorking)
	if err != nil || len(files) != 3 {
		t.Fatalf("after the stop: %d files working, err %v; want 3 waiting for their transcripts", len(files), err)
	}
	for _, f := range files {
		if f.Checkpoint.TranscriptID == "" {
			t.Errorf("%s lost its transcript id", f.Source)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (a log sink).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A file waiting in-process for a transcript slot longer than a job run may
// last (JobTimeout) snoozes before its run times out: a timed-out run is a
// failed attempt, which River retries only after the durable backoff (30-60
// s of API time; it held files a minute each in the 500-file benchmark).
func TestSlotWaitsEndBeforeTheJobTimeout(t *testing.T) {
	t.Parallel()
	const scale = 0.05
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var err error
	st := queuedStore(t, ctx, filepath.Join(t.TempDir(), "timeout.db"), 3)
	// Transcripts of 3 s against runs of at most 2 s: the next file waits
	// for its slot longer than a run may last.
	em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: scale, ProcessingBase: time.Minute})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	cfg.Concurrency = 1
	cfg.JobTimeout, cfg.RescueAfter = 2*time.Second, 20*time.Second
	cfg.RequestsPerSecond = 5000
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != 3 {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Waiting for a slot is no error either: it used to be recorded as one
	// ("save checkpoint: waiting for a free transcript slot"), and recording
	// it saved the checkpoint again, which waited for a slot a second time,
	// past the job's timeout ("save checkpoint: context deadline exceeded").
	// (A poll slowed past the deadline on a loaded machine is a transient
	// error like any other, and not what this test is about.)
	for _, f := range files {
		if strings.Contains(f.LastError, "save checkpoint") || strings.Contains(f.LastError, "slot") {
			t.Errorf("%s: last error %q", filepath.Base(f.Source), f.LastError)
		}
	}
}

// A job that stopped waiting in-process (its run may last only so long) and
// snoozed until its fallback poll is woken through River by its
// notification, and fetches its transcript well before that poll. River
// keeps a snooze of 5 s or more as "scheduled", a shorter one as
// "available" with a later scheduled_at: both are woken.
func TestWebhookWakesSnoozedJobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		scale          float64
		base, doneWith time.Duration
	}{
		// Transcripts of 3.6-4.4 s, fallback poll 6 s after the create
		// (15 s of API time, the estimate being tiny): a 5.5 s snooze.
		{"scheduled", 0.4, 10 * time.Second, 5200 * time.Millisecond},
		// Transcripts of 1.44-1.76 s, fallback 3 s: a 2.5 s snooze.
		{"available", 0.2, 8 * time.Second, 2400 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wakeSnoozed(t, tc.scale, tc.base, tc.doneWith)
		})
	}
}

func wakeSnoozed(t *testing.T, scale float64, base, doneWithin time.Duration) {
	const n = 6
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var err error
	st := queuedStore(t, ctx, filepath.Join(t.TempDir(), "wake.db"), n)
	em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: scale, ProcessingBase: base})
	cfg := runConfig(t, em.URL, em.APIKey, scale, "")
	cfg.Concurrency, cfg.UploadConcurrency = n, 2
	// Runs of at most 2 s wait in-process for a notification 0.5 s at most.
	cfg.JobTimeout, cfg.RescueAfter = 2*time.Second, 20*time.Second
	cfg.RequestsPerSecond = 5000
	cfg.Transcribe.ProcessingBase = 20 * time.Millisecond
	cfg.Transcribe.ProcessingFactor = 0.001
	if cfg.Webhook.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if sum, err := st.Run(ctx, cfg); err != nil || sum.Done != n {
		t.Fatalf("run: %v, %+v", err, sum)
	}
	files, err := st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if took := f.FinishedAt.Sub(f.Checkpoint.CreatedAt); took > doneWithin {
			t.Errorf("%s: done %v after its create: its notification did not wake it", filepath.Base(f.Source), took)
		}
	}
	if stats := em.Emulator.Stats(); stats.Requests["get"][200] != n || stats.WebhookDeliveries != n {
		t.Errorf("%d GETs, %d webhooks for %d files: want one each", stats.Requests["get"][200], stats.WebhookDeliveries, n)
	}
}
