package batch_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
	"github.com/durascribe/durascribe/internal/batch"
)

// A file touched or edited between runs continues its unfinished record:
// re-queueing it must not add a second record that would be transcribed (and
// paid for) next to the first.
func TestChangedFileContinuesUnfinishedRecord(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dir := t.TempDir()
		paths := writeWAVs(t, dir, 6)
		st := enqueueDir(t, ctx, dsn, dir)
		before, err := st.Files(ctx)
		if err != nil {
			t.Fatal(err)
		}

		// touch every file; edit one (new size).
		later := time.Now().Add(time.Hour)
		for _, p := range paths {
			if err := os.Chtimes(p, later, later); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(paths[0], wavSamples(99, 5000), 0o644); err != nil {
			t.Fatal(err)
		}
		inputs, err := batch.ResolveInputs([]string{dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Enqueue(ctx, inputs)
		if err != nil {
			t.Fatal(err)
		}
		if res.Added != 0 {
			t.Errorf("re-queue after touch added %d records, want 0", res.Added)
		}
		after, err := st.Files(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("%d records after touch, want %d", len(after), len(before))
		}
		keys := map[string]bool{}
		for _, in := range inputs {
			keys[in.Key] = true
		}
		for i, f := range after {
			if f.ID != before[i].ID || f.Source != before[i].Source {
				t.Errorf("record %d is %d %s, was %d %s", i, f.ID, f.Source, before[i].ID, before[i].Source)
			}
			if !keys[f.InputKey] {
				t.Errorf("record %d kept its old key %s", f.ID, f.InputKey)
			}
		}

	})
}

// A queued file replaced by a symbolic link before its upload is not
// uploaded (with no pre-flight check either): it fails, saying why.
func TestQueuedFileReplacedByLinkFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, elsewhere := t.TempDir(), t.TempDir()
	paths := writeWAVs(t, dir, 3)
	st := enqueueDir(t, ctx, filepath.Join(t.TempDir(), "ds.db"), dir)
	target := filepath.Join(elsewhere, "secret.wav")
	if err := os.WriteFile(target, wav(42), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(paths[1]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, paths[1]); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	em := emulatortest.New(t, emulator.Config{Seed: 3, TimeScale: 0.01})
	sum, err := st.Run(ctx, runConfig(t, em.URL, em.APIKey, 0.01, ""))
	if err != nil || sum.Done != 2 || sum.Failed != 1 {
		t.Fatalf("run: %v, %+v; want 2 done, 1 failed", err, sum)
	}
	failed, err := st.Files(ctx, batch.StateFailed)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Source != paths[1] || !strings.Contains(failed[0].Reason, "replaced by a symbolic link") {
		t.Errorf("failed files %+v, want %s, replaced by a symbolic link", failed, paths[1])
	}
}
