package transcribe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testProfile retries fast so tests take milliseconds.
func testProfile() resilience.Profile {
	return resilience.Profile{
		Name:          "test",
		Backoff:       resilience.Backoff{Base: time.Millisecond, Cap: 4 * time.Millisecond, Multiplier: 2, MaxAttempts: 5},
		RetryAfterCap: 2 * time.Second,
		PollInitial:   time.Millisecond,
		PollMax:       4 * time.Millisecond,
	}
}

type harness struct {
	api  *fakeAPI
	tr   *Transcriber
	logs *syncBuffer
	file string
	data []byte
}

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

func newHarness(t *testing.T, api *fakeAPI, mutate ...func(*Config)) *harness {
	t.Helper()
	srv := api.server(t)
	client, err := assemblyai.New(assemblyai.Config{APIKey: assemblyai.APIKey(api.key), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.CloseIdleConnections)
	logs := &syncBuffer{}
	cfg := Config{
		Client:   client,
		Profile:  testProfile(),
		Breakers: resilience.NewBreakers(resilience.BreakerConfig{MinRequests: 1000}),
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("RIFF-not-really-audio-but-bytes "), 4096) // 128 KiB
	file := filepath.Join(t.TempDir(), "talk.wav")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &harness{api: api, tr: tr, logs: logs, file: file, data: data}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), api.key) {
			t.Errorf("the API key appears in the log output")
		}
	})
	return h
}

func TestTranscribeHappyPath(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.pollsToFinish = 3
	h := newHarness(t, api)

	var saved []Checkpoint
	tr, cp, err := h.tr.Resume(t.Context(), Checkpoint{Source: h.file}, assemblyai.TranscriptParams{}, func(_ context.Context, cp Checkpoint) error {
		saved = append(saved, cp)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != assemblyai.StatusCompleted {
		t.Fatalf("status = %s", tr.Status)
	}
	uploads, creates, _, _ := api.counts()
	if uploads != 1 || creates != 1 {
		t.Fatalf("uploads=%d creates=%d, want 1 and 1", uploads, creates)
	}
	if !bytes.Equal(api.uploadBods[0], h.data) {
		t.Fatal("uploaded bytes differ from the file")
	}
	if cp.Stage != StageDone || cp.TranscriptID != tr.ID || cp.UploadURL == "" {
		t.Fatalf("final checkpoint %+v", cp)
	}
	// The intent was saved before the create, and the upload URL before that.
	var sawIntent bool
	for _, c := range saved {
		if !c.IntentAt.IsZero() && c.TranscriptID == "" {
			sawIntent = true
			if c.UploadURL == "" {
				t.Fatal("intent saved before the upload URL")
			}
		}
	}
	if !sawIntent {
		t.Fatal("no checkpoint with a create intent was saved before the create")
	}
}

func TestUploadStopsBeforeCreateAndResumeUsesItsURL(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onUpload = func(n int, w http.ResponseWriter) bool {
		if n == 1 {
			writeJSON(w, 503, map[string]string{"error": "busy"})
			return true
		}
		return false
	}
	h := newHarness(t, api)
	var saved []Checkpoint
	save := func(_ context.Context, cp Checkpoint) error {
		saved = append(saved, cp)
		return nil
	}
	cp, err := h.tr.Upload(t.Context(), Checkpoint{Source: h.file}, save)
	if err != nil {
		t.Fatal(err)
	}
	uploads, creates, gets, _ := api.counts()
	if uploads != 2 || creates != 0 || gets != 0 {
		t.Fatalf("uploads=%d creates=%d gets=%d, want 2 (one retried in-process), 0, 0", uploads, creates, gets)
	}
	if cp.Stage != StageCreate || cp.UploadURL == "" || cp.UploadedAt.IsZero() || !cp.IntentAt.IsZero() {
		t.Fatalf("checkpoint after Upload = %+v, want stage create with an upload_url and no intent", cp)
	}
	if len(saved) == 0 || saved[len(saved)-1].UploadURL != cp.UploadURL {
		t.Fatalf("the upload_url was not saved: %+v", saved)
	}
	// Uploading again is a no-op; the rest runs without the file.
	if again, err := h.tr.Upload(t.Context(), cp, save); err != nil || again.UploadURL != cp.UploadURL {
		t.Fatalf("second Upload = %+v, %v; want the same checkpoint", again, err)
	}
	if err := os.Remove(h.file); err != nil {
		t.Fatal(err)
	}
	tr, _, err := h.tr.Resume(t.Context(), cp, assemblyai.TranscriptParams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads, creates, _, _ = api.counts()
	if tr.Status != assemblyai.StatusCompleted || uploads != 2 || creates != 1 {
		t.Fatalf("status %s, uploads=%d creates=%d; want completed, 2 and 1", tr.Status, uploads, creates)
	}
	// A file that cannot be uploaded fails with an input error, saved.
	bad, err := h.tr.Upload(t.Context(), Checkpoint{Source: h.file}, save)
	if action, _ := Decide(err); action != ActionFail || bad.LastError == "" {
		t.Fatalf("Upload of a missing file = %v (action %v, last error %q), want a permanent failure", err, action, bad.LastError)
	}
}

func TestUploadRetriedAfter422ReplaysBodyFromStart(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onUpload = func(n int, w http.ResponseWriter) bool {
		if n <= 2 {
			writeJSON(w, 422, map[string]string{"error": "Upload failed"})
			return true
		}
		return false
	}
	h := newHarness(t, api)
	if _, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{}); err != nil {
		t.Fatal(err)
	}
	uploads, creates, _, _ := api.counts()
	if uploads != 3 || creates != 1 {
		t.Fatalf("uploads=%d creates=%d, want 3 and 1", uploads, creates)
	}
	for i, b := range api.uploadBods {
		if !bytes.Equal(b, h.data) {
			t.Fatalf("upload %d sent %d bytes that differ from the file (%d bytes)", i+1, len(b), len(h.data))
		}
	}
}

func TestAmbiguousCreateIsReconciledWithoutDuplicate(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	// Act, then drop: the transcript is created but the client sees the
	// connection close.
	api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
		return n == 1 && created != nil && dropConnection(w)
	}
	h := newHarness(t, api)
	tr, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{})
	if err != nil {
		t.Fatal(err)
	}
	_, creates, _, transcripts := api.counts()
	if creates != 1 || transcripts != 1 {
		t.Fatalf("creates=%d transcripts=%d, want 1 and 1 (reconciled, not resubmitted)", creates, transcripts)
	}
	if tr.ID != api.transcripts[0].ID {
		t.Fatalf("adopted %s, want %s", tr.ID, api.transcripts[0].ID)
	}
	if api.lists == 0 {
		t.Fatal("the list endpoint was never consulted")
	}
}

func TestResumeWithSavedIntentAdoptsExistingTranscript(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	h := newHarness(t, api)
	// A previous process uploaded, saved its intent, sent the create and
	// crashed before saving the id.
	url := "https://cdn.example.test/upload/crashed"
	api.transcripts = append(api.transcripts, &fakeTranscript{ID: "t-before-crash", AudioURL: url, Created: time.Now().UTC(), Status: "processing", n: 1})
	cp := Checkpoint{Source: h.file, Stage: StageCreate, UploadURL: url, UploadedAt: time.Now().UTC(), IntentAt: time.Now().UTC().Add(-time.Second)}
	tr, cp, err := h.tr.Resume(t.Context(), cp, assemblyai.TranscriptParams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads, creates, _, _ := api.counts()
	if uploads != 0 || creates != 0 {
		t.Fatalf("uploads=%d creates=%d after resume, want 0 and 0", uploads, creates)
	}
	if tr.ID != "t-before-crash" || cp.TranscriptID != "t-before-crash" {
		t.Fatalf("adopted %q, want t-before-crash", tr.ID)
	}
}

func TestPollErrorsRetryTheGetOnly(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onGet = func(n int, w http.ResponseWriter) bool {
		switch n {
		case 1:
			return apiError(503, "Service Unavailable")(w)
		case 2:
			return dropConnection(w)
		case 3:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(504)
			_, _ = w.Write([]byte("<html>gateway timeout</html>"))
			return true
		}
		return false
	}
	h := newHarness(t, api)
	if _, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{}); err != nil {
		t.Fatal(err)
	}
	uploads, creates, gets, _ := api.counts()
	if uploads != 1 || creates != 1 || gets < 4 {
		t.Fatalf("uploads=%d creates=%d gets=%d, want 1, 1, ≥4", uploads, creates, gets)
	}
}

const (
	transientMsg = "Internal server error. Please retry your request. If the error persists, please contact support@assemblyai.com for more information."
	permanentMsg = "Transcoding failed. File does not appear to contain audio. File type is text/plain (ASCII text)."
)

func TestTransientTranscriptErrorIsResubmittedWithSameUpload(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.outcome = func(n int) (string, string) {
		if n == 1 {
			return "error", transientMsg
		}
		return "completed", ""
	}
	h := newHarness(t, api)
	tr, cp, err := h.tr.Resume(t.Context(), Checkpoint{Source: h.file}, assemblyai.TranscriptParams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	uploads, creates, _, transcripts := api.counts()
	if uploads != 1 || creates != 2 || transcripts != 2 {
		t.Fatalf("uploads=%d creates=%d transcripts=%d, want 1, 2, 2", uploads, creates, transcripts)
	}
	if api.transcripts[0].AudioURL != api.transcripts[1].AudioURL {
		t.Fatal("resubmit used a different upload_url")
	}
	if cp.Resubmits != 1 || len(cp.TranscriptIDs) != 2 || tr.ID != api.transcripts[1].ID {
		t.Fatalf("checkpoint %+v", cp)
	}
}

func TestResubmitsBeyondTheBoundWaitForTheCallersBackoff(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.outcome = func(int) (string, string) { return "error", "Server error, developers have been alerted." }
	h := newHarness(t, api, func(c *Config) { c.MaxResubmits = 2 })
	cp := Checkpoint{Source: h.file}
	step := func() (StepResult, error) {
		t.Helper()
		res, err := h.tr.Step(t.Context(), cp, assemblyai.TranscriptParams{}, nil)
		cp = res.Checkpoint
		return res, err
	}
	// Upload and create, then two transient errors resubmitted at once.
	for i := range 3 {
		if _, err := step(); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	if _, creates, _, _ := api.counts(); creates != 3 || cp.Resubmits != 2 {
		t.Fatalf("creates=%d resubmits=%d after 3 steps, want 3 and 2", creates, cp.Resubmits)
	}
	// The third transient error is not resubmitted in this step: the caller
	// is told to retry later, with the checkpoint ready to resubmit.
	_, err := step()
	var te *TranscriptError
	if a, _ := Decide(err); a != ActionRetryLater || !errors.As(err, &te) {
		t.Fatalf("step 4: Decide(%v) = %v, want retry-later with the transcript error", err, a)
	}
	if _, creates, _, _ := api.counts(); creates != 3 || cp.Stage != StageCreate || cp.TranscriptID != "" {
		t.Fatalf("after step 4: creates=%d stage=%s id=%q, want 3, create, none", creates, cp.Stage, cp.TranscriptID)
	}
	// After the backoff, the next step resubmits the same upload.
	if _, err := step(); err != nil {
		t.Fatal(err)
	}
	uploads, creates, _, _ := api.counts()
	if uploads != 1 || creates != 4 || len(cp.TranscriptIDs) != 4 {
		t.Fatalf("uploads=%d creates=%d ids=%d, want 1, 4, 4", uploads, creates, len(cp.TranscriptIDs))
	}
}

func TestPermanentTranscriptErrorReturnsVerbatimMessage(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.outcome = func(int) (string, string) { return "error", permanentMsg }
	h := newHarness(t, api)
	_, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{})
	var se *StageError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *StageError", err)
	}
	var te *TranscriptError
	if !errors.As(err, &te) || te.Message != permanentMsg {
		t.Fatalf("message = %v, want %q verbatim", err, permanentMsg)
	}
	if se.Stage != StageWait || se.TranscriptID == "" {
		t.Fatalf("stage error %+v", se)
	}
	if a, _ := Decide(err); a != ActionFail {
		t.Fatalf("Decide = %v, want fail", a)
	}
	_, creates, _, _ := api.counts()
	if creates != 1 {
		t.Fatalf("creates=%d, want 1: a permanent error is not resubmitted", creates)
	}
}

func TestUnauthorizedStopsAtOnce(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	srv := api.server(t)
	client, err := assemblyai.New(assemblyai.Config{APIKey: "wrong-key", BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	tr, err := New(Config{Client: client, Profile: testProfile()})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(file, []byte("some bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{})
	if a, _ := Decide(err); a != ActionStopRun {
		t.Fatalf("Decide(%v) = %v, want stop-run", err, a)
	}
	if api.requests != 1 {
		t.Fatalf("requests=%d, want exactly 1 (no retry of a 401)", api.requests)
	}
}

func TestBadInputFailsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	h := newHarness(t, api)
	empty := filepath.Join(t.TempDir(), "empty.mp3")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{empty, filepath.Join(t.TempDir(), "missing.mp3"), t.TempDir()} {
		_, err := h.tr.Transcribe(t.Context(), src, assemblyai.TranscriptParams{})
		if a, _ := Decide(err); a != ActionFail || !errors.Is(err, ErrInput) {
			t.Errorf("%s: Decide(%v) = %v, want fail with ErrInput", src, err, a)
		}
	}
	if api.requests != 0 {
		t.Fatalf("requests=%d, want 0", api.requests)
	}
}

func TestCancelMidUploadReturnsQuickly(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	started := make(chan struct{})
	api.onUpload = nil
	h := newHarness(t, api)
	// A server that reads the first bytes of the upload, then stalls.
	release := make(chan struct{})
	block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadFull(r.Body, make([]byte, 1024))
		close(started)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	srv := newBlockingServer(t, block)
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	client, err := assemblyai.New(assemblyai.Config{APIKey: "k", BaseURL: srv})
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	tr, _ := New(Config{Client: client, Profile: testProfile()})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan time.Time, 1)
	go func() {
		_, _ = tr.Transcribe(ctx, h.file, assemblyai.TranscriptParams{})
		done <- time.Now()
	}()
	<-started
	cancelled := time.Now()
	cancel()
	if d := (<-done).Sub(cancelled); d > 50*time.Millisecond {
		t.Fatalf("Transcribe returned %s after cancel, want ≤ 50ms", d)
	}
}

func TestCancelledCreateKeepsIntentForReconciliation(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	ctx, cancel := context.WithCancel(t.Context())
	// The API creates the transcript, then the caller gives up before the
	// answer arrives.
	api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
		if created != nil && n == 1 {
			cancel()
			<-time.After(20 * time.Millisecond)
		}
		return false
	}
	h := newHarness(t, api)
	var last Checkpoint
	save := func(_ context.Context, cp Checkpoint) error { last = cp; return nil }
	_, cp, err := h.tr.Resume(ctx, Checkpoint{Source: h.file}, assemblyai.TranscriptParams{}, save)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want cancellation", err)
	}
	if cp.IntentAt.IsZero() || last.IntentAt.IsZero() || cp.TranscriptID != "" {
		t.Fatalf("checkpoint after a cancelled create = %+v, want the intent kept", cp)
	}
	// The next run adopts the transcript instead of creating another.
	if _, _, err := h.tr.Resume(t.Context(), cp, assemblyai.TranscriptParams{}, save); err != nil {
		t.Fatal(err)
	}
	if _, creates, _, transcripts := api.counts(); creates != 1 || transcripts != 1 {
		t.Fatalf("creates=%d transcripts=%d, want 1 and 1", creates, transcripts)
	}
}

func TestPreflightRejectionFailsBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	reject := errors.New("silent: the audio is silent")
	h := newHarness(t, api, func(c *Config) {
		c.Preflight = func(context.Context, string) (time.Duration, error) { return 0, reject }
	})
	_, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{})
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StagePreflight || !errors.Is(err, reject) || !errors.Is(err, ErrInput) {
		t.Fatalf("error = %v, want a preflight StageError wrapping the rejection", err)
	}
	if a, _ := Decide(err); a != ActionFail {
		t.Fatalf("Decide = %v, want fail", a)
	}
	if got := err.Error(); got != "preflight: silent: the audio is silent" {
		t.Fatalf("message = %q", got)
	}
	if api.requests != 0 {
		t.Fatalf("requests = %d, want 0", api.requests)
	}
}

func TestFirstPollWaitsForExpectedProcessingTime(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	h := newHarness(t, api, func(c *Config) {
		c.Preflight = func(context.Context, string) (time.Duration, error) { return 60 * time.Second, nil }
		c.ProcessingBase, c.ProcessingFactor = 2*time.Second, 0.1
	})
	res, err := h.tr.Step(t.Context(), Checkpoint{Source: h.file}, assemblyai.TranscriptParams{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// expected = 2 s + 0.1 × 60 s = 8 s; the first poll comes just after it.
	if res.Transcript != nil || res.PollAfter < 8*time.Second || res.PollAfter > 8800*time.Millisecond {
		t.Fatalf("first step: transcript=%v pollAfter=%s, want no transcript and ~8s", res.Transcript, res.PollAfter)
	}
	if _, creates, gets, _ := api.counts(); creates != 1 || gets != 0 {
		t.Fatalf("creates=%d gets=%d after the first step, want 1 and 0", creates, gets)
	}
}

func TestRetriedFailuresLogAtInfoAndTheLastAtWarn(t *testing.T) {
	t.Parallel()
	api := newFakeAPI()
	api.onGet = func(n int, w http.ResponseWriter) bool {
		return n == 1 && apiError(503, "Service Unavailable")(w)
	}
	h := newHarness(t, api)
	if _, err := h.tr.Transcribe(t.Context(), h.file, assemblyai.TranscriptParams{}); err != nil {
		t.Fatal(err)
	}
	logs := h.logs.String()
	if strings.Contains(logs, `"level":"WARN"`) {
		t.Fatalf("a failure that was retried logged a warning:\n%s", logs)
	}
	if !strings.Contains(logs, `"level":"INFO"`) || !strings.Contains(logs, "Service Unavailable") {
		t.Fatalf("the retried failure is not in the log at info:\n%s", logs)
	}

	// A 401 ends the stage at once: that attempt is a warning.
	api2 := newFakeAPI()
	wrong, err := assemblyai.New(assemblyai.Config{APIKey: "wrong", BaseURL: api2.server(t).URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wrong.CloseIdleConnections)
	h2 := newHarness(t, api2, func(c *Config) { c.Client = wrong })
	_, _ = h2.tr.Transcribe(t.Context(), h2.file, assemblyai.TranscriptParams{})
	if !strings.Contains(h2.logs.String(), `"level":"WARN"`) {
		t.Fatalf("the final failure did not log a warning:\n%s", h2.logs.String())
	}
}
