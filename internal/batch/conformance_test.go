package batch_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	goleak.VerifyTestMain(m,
		// database/sql and pgx pools close their background goroutines
		// asynchronously after Close.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// scenarioCase says how many files a scenario may fail permanently and why.
type scenarioCase struct {
	name string
	// allowedFailure says whether a failure reason is one the scenario
	// injects on purpose; nil means no file may fail.
	allowedFailure func(reason string) bool
}

// permanentOutcome accepts only the permanent transcript error the flaky and
// hostile scenarios inject; every other fault they inject is transient, so a
// file that fails for it is a lost file.
func permanentOutcome(reason string) bool {
	return strings.Contains(reason, "no spoken audio")
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	n := 200
	if testing.Short() || raceEnabled {
		n = 40
	}
	cases := []scenarioCase{
		{name: "clean"},
		{name: "flaky", allowedFailure: permanentOutcome},
		{name: "outage"},
		{name: "throttled"},
		{name: "hostile", allowedFailure: permanentOutcome},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, dsn string) {
				runScenario(t, dsn, tc, n)
			})
		})
	}
}

func runScenario(t *testing.T, dsn string, tc scenarioCase, n int) {
	const scale = 0.01
	sc, err := emulator.LookupScenario(tc.name)
	if err != nil {
		t.Fatal(err)
	}
	em := emulatortest.New(t, emulator.Config{Scenario: sc, Seed: 7, TimeScale: scale})
	dir, out := t.TempDir(), t.TempDir()
	writeWAVs(t, dir, n)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	st, err := batch.Open(ctx, dsn, batch.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	inputs, err := batch.ResolveInputs([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Enqueue(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != n {
		t.Fatalf("added %d, want %d", res.Added, n)
	}
	cfg := runConfig(t, em.URL, em.APIKey, scale, out)
	cfg.Concurrency = 10
	sum, err := st.Run(ctx, cfg)
	if err != nil {
		// Say where the unfinished files are stuck.
		left, _ := st.Files(context.WithoutCancel(ctx), batch.StatePending, batch.StateWorking)
		for _, f := range left {
			cp, _ := json.Marshal(f.Checkpoint)
			t.Logf("unfinished %s: state %s, last error %q, checkpoint %s", filepath.Base(f.Source), f.State, f.LastError, cp)
		}
		t.Fatalf("run: %v (summary %+v)", err, sum)
	}
	if sum.Done+sum.Failed != n || sum.Pending+sum.Working != 0 {
		t.Fatalf("summary %+v: want all %d files finished", sum, n)
	}
	failed, err := st.Files(ctx, batch.StateFailed)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range failed {
		t.Logf("failed: %s: %s", filepath.Base(f.Source), f.Reason)
		if tc.allowedFailure == nil || !tc.allowedFailure(f.Reason) {
			t.Errorf("file %s failed: %s", f.Source, f.Reason)
		}
	}
	stats := em.Emulator.Stats()
	if stats.DuplicateTranscripts != 0 {
		t.Errorf("duplicate transcripts = %d, want 0", stats.DuplicateTranscripts)
	}
	t.Logf("%s: done %d failed %d; emulator: uploads %d (re-uploads %d), transcripts %d, requests %v",
		tc.name, sum.Done, sum.Failed, stats.Uploads, stats.ReUploads, stats.TranscriptsCreated, stats.Requests)

	// Outputs mirror the input tree.
	done, _ := st.Files(ctx, batch.StateDone)
	for _, f := range done[:min(3, len(done))] {
		for _, ext := range []string{".txt", ".json", ".srt", ".vtt"} {
			if _, err := os.Stat(filepath.Join(out, f.OutName+ext)); err != nil {
				t.Errorf("output: %v", err)
			}
		}
	}

	// Re-running the same command is a no-op.
	res, err = st.Enqueue(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Known != n {
		t.Fatalf("re-enqueue added %d known %d, want 0 and %d", res.Added, res.Known, n)
	}
	before := em.Emulator.Stats().TranscriptsCreated
	sum2, err := st.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.Done != sum.Done || em.Emulator.Stats().TranscriptsCreated != before {
		t.Fatalf("re-run changed something: %+v vs %+v", sum2, sum)
	}
}
