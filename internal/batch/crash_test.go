package batch_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// The crash child is this test binary re-executed with these variables: it
// enqueues a directory and works it against an emulator running in the
// parent, until the parent kills it.
const (
	crashChildEnv     = "DURASCRIBE_BATCH_CRASH_CHILD" // the store DSN
	crashDirEnv       = "DURASCRIBE_BATCH_CRASH_DIR"
	crashURLEnv       = "DURASCRIBE_BATCH_CRASH_URL"
	crashKeyEnv       = "DURASCRIBE_BATCH_CRASH_KEY"
	crashNoEnqueueEnv = "DURASCRIBE_BATCH_CRASH_NO_ENQUEUE"
	crashWebhookEnv   = "DURASCRIBE_BATCH_CRASH_WEBHOOK" // serve webhooks on a loopback port
	crashScale        = 0.01
)

func crashChild() {
	ctx := context.Background()
	code := 0
	if err := crashChildRun(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		code = 1
	}
	os.Exit(code)
}

func crashChildRun(ctx context.Context) error {
	st, err := batch.Open(ctx, os.Getenv(crashChildEnv), batch.OpenOptions{})
	if err != nil {
		return err
	}
	defer st.Close() //nolint:errcheck // test teardown
	inputs, err := batch.ResolveInputs([]string{os.Getenv(crashDirEnv)}, nil)
	if err != nil {
		return err
	}
	if os.Getenv(crashNoEnqueueEnv) == "" {
		if _, err := st.Enqueue(ctx, inputs); err != nil {
			return err
		}
	}
	cfg := runConfig(nil, os.Getenv(crashURLEnv), os.Getenv(crashKeyEnv), crashScale, "")
	// On PostgreSQL, jobs running at a kill are stuck until River rescues
	// them (RescueAfter, then the next leader's rescuer run, up to ~20 s)
	// and hold their transcript slot: a high limit keeps the batch moving.
	cfg.Concurrency, cfg.UploadConcurrency = 40, 3
	cfg.JobTimeout, cfg.RescueAfter = 2*time.Second, 3*time.Second
	if os.Getenv(crashWebhookEnv) != "" {
		if cfg.Webhook.Listener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
	}
	if os.Getenv("DURASCRIBE_BATCH_CRASH_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		cfg.Transcribe.Logger = cfg.Logger
		cfg.ProgressEvery = 200 * time.Millisecond
		cfg.OnProgress = func(p batch.Progress) { fmt.Fprintf(os.Stderr, "progress %+v\n", p) }
	}
	_, err = st.Run(ctx, cfg)
	return err
}

// TestCrashRecovery kills a batch with SIGKILL at random instants, restarts
// it each time, and checks that every file ends done with no transcript paid
// twice.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("crash test runs ~1 min (and much longer under -race)")
	}
	t.Parallel()
	kills := 20
	if k, err := strconv.Atoi(os.Getenv("DURASCRIBE_BATCH_CRASH_KILLS")); err == nil {
		kills = k
	}
	forEachStore(t, func(t *testing.T, dsn string) { crashRecovery(t, dsn, 200, kills, false) })
}

// TestCrashRecoveryWebhooks is the crash test with webhooks: each process
// listens on a new port, so the notifications of transcripts created before
// a kill are lost, and their files finish through the fallback polls.
func TestCrashRecoveryWebhooks(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("crash test runs ~30 s (and much longer under -race)")
	}
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) { crashRecovery(t, dsn, 100, 10, true) })
}

func crashRecovery(t *testing.T, dsn string, n, kills int, webhook bool) {
	em := emulatortest.New(t, emulator.Config{Seed: 3, TimeScale: crashScale})
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	env := append(os.Environ(), crashChildEnv+"="+dsn, crashDirEnv+"="+dir, crashURLEnv+"="+em.URL, crashKeyEnv+"="+em.APIKey)
	if webhook {
		env = append(env, crashWebhookEnv+"=1")
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = env
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	for i := range kills {
		cmd := start()
		time.Sleep(time.Duration(100+rand.IntN(900)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("kill %d: emulator uploads %d, transcripts %d", i+1, em.Emulator.Stats().Uploads, em.Emulator.Stats().TranscriptsCreated)
	}
	// Let jobs left running by the last kill age past RescueAfter, then
	// run to the end.
	time.Sleep(3 * time.Second)
	cmd := start()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("final run: %v", err)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("final run did not finish")
	}

	ctx := context.Background()
	st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	all, _ := st.Files(ctx)
	done2, _ := st.Files(ctx, batch.StateDone)
	if len(all) != n || len(done2) != n {
		t.Fatalf("files %d, done %d: want %d done", len(all), len(done2), n)
	}
	stats := em.Emulator.Stats()
	t.Logf("after %d kills: uploads %d, re-uploads %d, transcripts %d, duplicates %d",
		kills, stats.Uploads, stats.ReUploads, stats.TranscriptsCreated, stats.DuplicateTranscripts)
	if stats.DuplicateTranscripts != 0 {
		t.Errorf("duplicate transcripts = %d, want 0", stats.DuplicateTranscripts)
	}
	// A kill between an upload's response and saving its upload_url may
	// repeat that upload (nothing was saved); repeating a saved one may not
	// happen. The window is microseconds wide, so allow one per kill.
	if stats.ReUploads > kills {
		t.Errorf("re-uploads = %d for %d kills", stats.ReUploads, kills)
	}
	if webhook && stats.WebhookDeliveries == 0 {
		t.Errorf("no webhook delivered in %d runs", kills+1)
	}
}

// TestWorkersSharePostgres runs three worker processes on one PostgreSQL
// store: every file is done once, none is transcribed or uploaded twice, and
// the work is spread over the processes; polling, and with webhooks (each
// worker its own listener).
func TestWorkersSharePostgres(t *testing.T) {
	if os.Getenv(pgURLEnv) == "" {
		t.Skip(pgURLEnv + " not set")
	}
	t.Parallel()
	t.Run("poll", func(t *testing.T) { workersSharePostgres(t, false) })
	t.Run("webhook", func(t *testing.T) { workersSharePostgres(t, true) })
}

func workersSharePostgres(t *testing.T, webhook bool) {
	const n = 150
	dsn := pgSchemaDSN(t)
	em := emulatortest.New(t, emulator.Config{Seed: 5, TimeScale: crashScale})
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	ctx := context.Background()
	st := enqueueDir(t, ctx, dsn, dir)
	env := append(os.Environ(), crashChildEnv+"="+dsn, crashDirEnv+"="+dir, crashURLEnv+"="+em.URL,
		crashKeyEnv+"="+em.APIKey, crashNoEnqueueEnv+"=1")
	if webhook {
		env = append(env, crashWebhookEnv+"=1")
	}
	var cmds []*exec.Cmd
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env, cmd.Stderr = env, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	done, _ := st.Files(ctx, batch.StateDone)
	if len(done) != n {
		t.Fatalf("done %d, want %d", len(done), n)
	}
	stats := em.Emulator.Stats()
	if stats.DuplicateTranscripts != 0 || stats.ReUploads != 0 || stats.TranscriptsCreated != n {
		t.Errorf("transcripts %d (duplicates %d), re-uploads %d: want %d, 0, 0",
			stats.TranscriptsCreated, stats.DuplicateTranscripts, stats.ReUploads, n)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx) //nolint:errcheck // test teardown
	var clients int
	if err := conn.QueryRow(ctx, `SELECT COUNT(DISTINCT c) FROM river_job, unnest(attempted_by) AS c`).Scan(&clients); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files over %d worker processes; emulator requests %v", n, clients, stats.Requests)
	if clients != 3 {
		t.Errorf("work spread over %d clients, want 3", clients)
	}
	if webhook && (stats.WebhookDeliveries != n || stats.Requests["get"][200] != n) {
		t.Errorf("%d webhooks delivered, %d GETs: want %d of each (a fetch per notification, no polls)",
			stats.WebhookDeliveries, stats.Requests["get"][200], n)
	}
}

// TestDeadWorkerJobsMoveOnPostgres (issue 18 hole 12): the jobs a worker
// was running when it was killed go to the surviving workers once its
// heartbeat lease runs out, not after River's RescueAfter (set to 10 min
// here, so that only the lease can finish the batch in time).
func TestDeadWorkerJobsMoveOnPostgres(t *testing.T) {
	if os.Getenv(pgURLEnv) == "" {
		t.Skip(pgURLEnv + " not set")
	}
	t.Parallel()
	const n = 60
	dsn := pgSchemaDSN(t)
	em := emulatortest.New(t, emulator.Config{Seed: 6, TimeScale: crashScale})
	dir := t.TempDir()
	writeWAVs(t, dir, n)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st := enqueueDir(t, ctx, dsn, dir)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dsn, crashDirEnv+"="+dir, crashURLEnv+"="+em.URL,
		crashKeyEnv+"="+em.APIKey, crashNoEnqueueEnv+"=1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, ctx, st, 5)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx) //nolint:errcheck // test teardown
	var running int
	if err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state = 'running'`).Scan(&running); err != nil {
		t.Fatal(err)
	}
	if running == 0 {
		t.Fatal("the killed worker left no running job: nothing to rescue")
	}
	cfg := runConfig(t, em.URL, em.APIKey, crashScale, "")
	cfg.JobTimeout, cfg.RescueAfter = 5*time.Minute, 10*time.Minute
	cfg.OwnerLease = time.Second
	start := time.Now()
	sum, err := st.Run(ctx, cfg)
	if err != nil || sum.Done != n {
		t.Fatalf("survivor: %v, %+v: want every file done", err, sum)
	}
	t.Logf("%d jobs left running by the killed worker; the survivor finished in %s", running, time.Since(start))
	if stats := em.Emulator.Stats(); stats.DuplicateTranscripts != 0 {
		t.Fatalf("%d duplicate transcripts", stats.DuplicateTranscripts)
	}
}
