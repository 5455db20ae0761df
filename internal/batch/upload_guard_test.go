package batch

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/durascribe/durascribe/transcribe"
)

// TestEnqueueUploadNeverOverwritesAWorkersProgress: a worker started during
// `enqueue --upload` may take a file over and create its transcript; the
// enqueue's upload-only checkpoint, saved after that, must not replace the
// worker's (it would drop the transcript id and the file would be created
// again).
func TestEnqueueUploadNeverOverwritesAWorkersProgress(t *testing.T) {
	ctx := t.Context()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "guard.db"), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	files, _, err := st.addFiles(ctx, []Input{{Key: "k", Source: "/nowhere/a.wav", OutName: "a"}}, time.Now())
	if err != nil || len(files) != 1 {
		t.Fatalf("add: %v, %d files", err, len(files))
	}
	id := files[0].ID

	// Before any worker: the enqueue's upload checkpoint is saved.
	up := transcribe.Checkpoint{Source: "/nowhere/a.wav", Stage: transcribe.StageCreate, UploadURL: "https://up/enqueue"}
	if err := st.saveUploadCheckpoint(ctx, id, up, time.Now()); err != nil {
		t.Fatalf("first upload save: %v", err)
	}
	// A worker created the transcript.
	worker := up
	worker.Stage, worker.TranscriptID = transcribe.StageWait, "t-worker"
	if err := st.saveCheckpoint(ctx, id, worker, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A second, late upload save of the enqueue is refused.
	late := up
	late.UploadURL = "https://up/late"
	if err := st.saveUploadCheckpoint(ctx, id, late, time.Now()); !errors.Is(err, errTakenOver) {
		t.Fatalf("late upload save: %v, want errTakenOver", err)
	}
	f, err := st.File(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if f.Checkpoint.TranscriptID != "t-worker" || f.Checkpoint.UploadURL != "https://up/enqueue" {
		t.Fatalf("checkpoint %+v: the worker's progress was overwritten", f.Checkpoint)
	}
}
