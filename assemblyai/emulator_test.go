package assemblyai_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

const audioFixture = "../testdata/audio/noise_quiet.wav"

func newEmulatorClient(t *testing.T, sc emulator.Scenario) *assemblyai.Client {
	t.Helper()
	srv := emulatortest.New(t, emulator.Config{Scenario: sc, TimeScale: 0.001})
	c, err := assemblyai.New(assemblyai.Config{APIKey: assemblyai.APIKey(srv.APIKey), BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestEmulatorRoundTrip runs every endpoint against the independent emulator,
// so that drift between the client and the wire contract shows up.
func TestEmulatorRoundTrip(t *testing.T) {
	t.Parallel()
	c := newEmulatorClient(t, emulator.Scenario{})
	ctx := t.Context()
	up, err := c.UploadFile(ctx, audioFixture)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := c.CreateTranscript(ctx, assemblyai.TranscriptParams{AudioURL: up, SpeakerLabels: assemblyai.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	tr = waitDone(t, c, tr.ID)
	if tr.Status != assemblyai.StatusCompleted || tr.Text == "" || len(tr.Words) == 0 || tr.AudioDuration == nil {
		t.Fatalf("transcript %s: status %s error %q, %d words", tr.ID, tr.Status, tr.Error, len(tr.Words))
	}
	if _, err := c.Sentences(ctx, tr.ID); err != nil {
		t.Error(err)
	}
	if _, err := c.Paragraphs(ctx, tr.ID); err != nil {
		t.Error(err)
	}
	for _, f := range []assemblyai.SubtitleFormat{assemblyai.SubtitleSRT, assemblyai.SubtitleVTT} {
		if s, err := c.Subtitles(ctx, tr.ID, f, 32); err != nil || s == "" {
			t.Errorf("%s: %q, %v", f, s, err)
		}
	}
	if _, err := c.WordSearch(ctx, tr.ID, []string{tr.Words[0].Text}); err != nil {
		t.Error(err)
	}
	l, err := c.ListTranscripts(ctx, assemblyai.ListParams{Limit: 1})
	if err != nil || len(l.Transcripts) != 1 || l.Transcripts[0].ID != tr.ID || l.Transcripts[0].Created.IsZero() {
		t.Fatalf("list = %+v, %v", l, err)
	}
	if u := l.PageDetails.PrevURL; u != nil && *u != "" {
		if _, err := c.ListTranscriptsPage(ctx, *u); err != nil {
			t.Errorf("prev page: %v", err)
		}
	}
	if _, err := c.DeleteTranscript(ctx, tr.ID); err != nil {
		t.Error(err)
	}
	_, err = c.GetTranscript(ctx, "no-such-id")
	if assemblyai.Classify(err) != assemblyai.ClassPermanent {
		t.Errorf("unknown id: %v (class %v), want permanent", err, assemblyai.Classify(err))
	}
}

func waitDone(t *testing.T, c *assemblyai.Client, id string) *assemblyai.Transcript {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr, err := c.GetTranscript(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Status.Terminal() || time.Now().After(deadline) {
			return tr
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEmulatorFaults checks the classes of the emulator's injected faults.
func TestEmulatorFaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		route string
		fault emulator.Fault
		want  assemblyai.Class
	}{
		{"create", emulator.Fault{Kind: emulator.KindActThenReset}, assemblyai.ClassAmbiguous},
		{"create", emulator.Fault{Kind: emulator.KindActThenStatus, Status: 500}, assemblyai.ClassAmbiguous},
		{"create", emulator.Fault{Kind: emulator.KindMalformedJSON}, assemblyai.ClassAmbiguous},
		{"create", emulator.Fault{Kind: emulator.KindTruncate}, assemblyai.ClassAmbiguous},
		{"create", emulator.Fault{Kind: emulator.KindStatus, Status: 503, Body: "html"}, assemblyai.ClassAmbiguous},
		{"create", emulator.Fault{Kind: emulator.KindRateLimit}, assemblyai.ClassThrottled},
		{"create", emulator.Fault{Kind: emulator.KindStatus, Status: 400, Message: "format_text must be a Boolean"}, assemblyai.ClassPermanent},
		{"get", emulator.Fault{Kind: emulator.KindReset}, assemblyai.ClassRetryable},
		{"get", emulator.Fault{Kind: emulator.KindMalformedJSON}, assemblyai.ClassRetryable},
		{"get", emulator.Fault{Kind: emulator.KindTruncate}, assemblyai.ClassRetryable},
		{"get", emulator.Fault{Kind: emulator.KindStatus, Status: 502, Body: "empty"}, assemblyai.ClassRetryable},
		{"upload", emulator.Fault{Kind: emulator.KindStatus, Status: 422}, assemblyai.ClassRetryable},
		{"upload", emulator.Fault{Kind: emulator.KindReset}, assemblyai.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(tt.route+" "+tt.fault.Kind+" "+tt.fault.Body), func(t *testing.T) {
			t.Parallel()
			f := tt.fault
			f.P = 1
			c := newEmulatorClient(t, emulator.Scenario{Routes: map[string][]emulator.Fault{tt.route: {f}}})
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var err error
			switch tt.route {
			case "upload":
				_, err = c.UploadFile(ctx, audioFixture)
			case "create":
				_, err = c.CreateTranscript(ctx, assemblyai.TranscriptParams{AudioURL: "http://127.0.0.1:9/a.wav"})
			case "get":
				tr, cerr := c.CreateTranscript(ctx, assemblyai.TranscriptParams{AudioURL: "http://127.0.0.1:9/a.wav"})
				if cerr != nil {
					t.Fatal(cerr)
				}
				_, err = c.GetTranscript(ctx, tr.ID)
			}
			if got := assemblyai.Classify(err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", err, got, tt.want)
			}
			if tt.fault.Kind == emulator.KindRateLimit {
				if ae, ok := errors.AsType[*assemblyai.APIError](err); !ok || ae.StatusCode != 429 {
					t.Errorf("rate limit error = %#v", err)
				}
			}
		})
	}
}
