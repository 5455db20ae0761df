package batch

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/durascribe/durascribe/transcribe"
)

// A job waiting in-process for a transcript slot takes one freed by another
// process sharing the store (no wake-up reaches it from there) at its next
// recheck, not when its patience runs out.
func TestSlotWaiterSeesSlotsFreedElsewhere(t *testing.T) {
	ctx := t.Context()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "slots.db"), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	files, _, err := st.addFiles(ctx, []Input{{Key: "k", Source: "/elsewhere/a.wav", OutName: "a"}}, time.Now())
	if err != nil || len(files) != 1 {
		t.Fatalf("add: %v, %d files", err, len(files))
	}
	// Another process's transcript holds the only slot.
	cp := transcribe.Checkpoint{Source: "/elsewhere/a.wav", Stage: transcribe.StageWait, UploadURL: "https://up/a", TranscriptID: "t-a"}
	if err := st.saveCheckpoint(ctx, files[0].ID, cp, time.Now()); err != nil {
		t.Fatal(err)
	}
	sl := newSlots(1, 2, 20*time.Millisecond)
	if ok, err := sl.tryAcquire(ctx, st); err != nil || ok {
		t.Fatalf("tryAcquire with the slot taken elsewhere: %v, %v", ok, err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		cp.Stage = transcribe.StageDone
		_ = st.markDone(ctx, files[0].ID, cp, []byte(`{}`), time.Now())
	}()
	const patience = 20 * time.Second
	start := time.Now()
	ok, err := sl.acquire(ctx, st, 7, patience)
	if err != nil || !ok {
		t.Fatalf("acquire: %v, %v", ok, err)
	}
	if took := time.Since(start); took > patience/2 {
		t.Errorf("slot freed elsewhere taken after %v: the waiter did not ask the store again", took)
	}
}
