package batch

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/transcribe"
)

// Error texts are stored for display with URL credentials redacted
// (AssemblyAI quotes an audio_url it could not download), while the source
// itself, which is sent as audio_url, stays whole (issue 18, #14).
func TestRecordedErrorsRedactURLs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "ds.db"), OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close() //nolint:errcheck // test teardown
	src := "https://cdn.example/a.mp3?X-Amz-Signature=sig1"
	inputs, err := ResolveInputs([]string{src}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enqueue(ctx, inputs); err != nil {
		t.Fatal(err)
	}
	files, err := st.Files(ctx)
	if err != nil || len(files) != 1 {
		t.Fatalf("%v %v", files, err)
	}
	id, now := files[0].ID, time.Now()
	msg := "Download error, unable to download " + src
	if err := st.saveCheckpoint(ctx, id, transcribe.Checkpoint{Stage: transcribe.StageCreate, LastError: msg}, now); err != nil {
		t.Fatal(err)
	}
	if err := st.setLastError(ctx, id, msg, now); err != nil {
		t.Fatal(err)
	}
	if err := st.recordAttempt(ctx, Attempt{FileID: id, Stage: "wait", Start: now, Error: msg}); err != nil {
		t.Fatal(err)
	}
	if err := st.markFailed(ctx, id, "transcript error: "+msg, now); err != nil {
		t.Fatal(err)
	}
	files, err = st.Files(ctx)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := st.Attempts(ctx, id)
	if err != nil || len(atts) != 1 {
		t.Fatalf("%v %v", atts, err)
	}
	f := files[0]
	for what, s := range map[string]string{"reason": f.Reason, "last_error": f.LastError, "attempt error": atts[0].Error} {
		if strings.Contains(s, "sig1") || !strings.Contains(s, "X-Amz-Signature=REDACTED") {
			t.Errorf("%s = %q, want the signature redacted", what, s)
		}
	}
	if f.Source != src {
		t.Errorf("source = %q, want it whole: it is the audio_url", f.Source)
	}
}
