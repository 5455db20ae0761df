package batch

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/durascribe/durascribe/transcribe"
)

// BenchmarkStoreOverheadPerFile measures the job-store writes of one file's
// life on SQLite (synchronous=FULL): record + queue, four checkpoint saves
// (uploaded, intent, transcript id, one poll), three attempt rows and the
// final transcript. River's own per-attempt updates are not included.
//
//	go test -run '^$' -bench StoreOverhead ./internal/batch/
func BenchmarkStoreOverheadPerFile(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"), OpenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	transcript := []byte(`{"id":"t","status":"completed","text":"hello world"}`)
	i := 0
	for b.Loop() {
		i++
		now := time.Now()
		src := fmt.Sprintf("/audio/%d.wav", i)
		files, _, err := st.addFiles(ctx, []Input{{Key: src, Source: src, OutName: src}}, now)
		if err != nil {
			b.Fatal(err)
		}
		f := files[0]
		if err := st.insertJobs(ctx, files); err != nil {
			b.Fatal(err)
		}
		cp := transcribe.Checkpoint{Source: src, Stage: transcribe.StageCreate, UploadURL: "u", UploadedAt: now}
		for _, step := range []func(){
			func() {},
			func() { cp.IntentAt = now },
			func() { cp.TranscriptID, cp.Stage, cp.IntentAt = "t", transcribe.StageWait, time.Time{} },
			func() { cp.Polls++ },
		} {
			step()
			if err := st.saveCheckpoint(ctx, f.ID, cp, now); err != nil {
				b.Fatal(err)
			}
		}
		for range 3 {
			if err := st.recordAttempt(ctx, Attempt{FileID: f.ID, Stage: "wait", Start: now}); err != nil {
				b.Fatal(err)
			}
		}
		if err := st.markDone(ctx, f.ID, cp, transcript, now); err != nil {
			b.Fatal(err)
		}
	}
}
