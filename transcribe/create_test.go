package transcribe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// serverTransport serves requests in-process like handlerTransport, but as a
// server would: the client gives up when its context ends while the handler
// goes on, and the request counts as sent (so that a create given up on is
// ambiguous, as over a real connection).
type serverTransport struct{ h http.Handler }

func (t serverTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		_ = r.Body.Close()
	}
	if trace := httptrace.ContextClientTrace(r.Context()); trace != nil && trace.WroteRequest != nil {
		trace.WroteRequest(httptrace.WroteRequestInfo{})
	}
	sr := r.Clone(context.WithoutCancel(r.Context()))
	sr.Body = io.NopCloser(bytes.NewReader(body))
	done := make(chan *http.Response, 1)
	go func() {
		rec := httptest.NewRecorder()
		t.h.ServeHTTP(rec, sr)
		done <- rec.Result()
	}()
	select {
	case resp := <-done:
		resp.Request = r
		return resp, nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// createWorld is a transcriber on api under synctest's clock, with a 30 s
// request timeout (the default) and the default landing margin.
func createWorld(t *testing.T, api *fakeAPI) (*Transcriber, string) {
	t.Helper()
	client, err := assemblyai.New(assemblyai.Config{
		APIKey: assemblyai.APIKey(api.key), BaseURL: "http://127.0.0.1:1",
		HTTPClient: &http.Client{Transport: serverTransport{api}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(Config{Client: client, Profile: testProfile(), Breakers: resilience.NewBreakers(resilience.BreakerConfig{MinRequests: 1000})})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "a.wav")
	if err := os.WriteFile(file, []byte("some audio bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	return tr, file
}

// saver keeps the last saved checkpoint, as a durable store would.
type saver struct {
	mu   sync.Mutex
	last Checkpoint
}

func (s *saver) save(_ context.Context, cp Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = cp
	return nil
}

func (s *saver) get() Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func wantOneTranscript(t *testing.T, api *fakeAPI, got *assemblyai.Transcript) {
	t.Helper()
	_, creates, _, transcripts := api.counts()
	if transcripts != 1 {
		t.Fatalf("%d transcripts after %d creates, want 1: paid twice", transcripts, creates)
	}
	if got == nil || got.ID != api.transcripts[0].ID {
		t.Fatalf("finished with %v, want the one transcript %s", got, api.transcripts[0].ID)
	}
}

// TestCreateInFlightAtACrashIsWaitedFor: the process dies while its create
// is still at the server (1.5 s to land, killed at 0.8 s). The next process
// must not create again before that create's horizon; the transcript that
// lands is adopted.
func TestCreateInFlightAtACrashIsWaitedFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.createLatency = 1500 * time.Millisecond
		tr, file := createWorld(t, api)
		var st saver
		ctx, kill := context.WithCancel(t.Context())
		time.AfterFunc(800*time.Millisecond, kill)
		if _, _, err := tr.Resume(ctx, Checkpoint{Source: file}, assemblyai.TranscriptParams{}, st.save); err == nil {
			t.Fatal("the first process finished before it was killed")
		}
		cp := st.get()
		if cp.IntentAt.IsZero() || cp.TranscriptID != "" {
			t.Fatalf("saved checkpoint at the kill = %+v, want an intent without an id", cp)
		}
		start := time.Now()
		got, _, err := tr.Resume(t.Context(), cp, assemblyai.TranscriptParams{}, st.save)
		if err != nil {
			t.Fatal(err)
		}
		wantOneTranscript(t, api, got)
		// The create lands 0.7 s into the resume: it is found at the next
		// look (about 1 s in), long before the horizon (~90 s).
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the resumed file took %s, want it found soon after it landed", d)
		}
	})
}

// TestCreateSlowerThanTheClientTimeout: the server answers a create after
// 32 s, the client gives up at 30 s. The transcript lands after the first
// reconciling list; no second create may go out before the horizon.
func TestCreateSlowerThanTheClientTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.createLatency = 32 * time.Second
		tr, file := createWorld(t, api)
		got, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{})
		if err != nil {
			t.Fatal(err)
		}
		wantOneTranscript(t, api, got)
	})
}

// TestListLagDoesNotHideALandedCreate: the create lands and its answer is
// lost; the list shows new transcripts only 2 s after they are made, so the
// first reconciling list sees nothing. The file waits and lists again.
func TestListLagDoesNotHideALandedCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		api.listLag = 2 * time.Second
		api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
			return n == 1 && created != nil && apiError(500, "Internal Server Error")(w)
		}
		tr, file := createWorld(t, api)
		got, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{})
		if err != nil {
			t.Fatal(err)
		}
		wantOneTranscript(t, api, got)
		if api.lists < 2 {
			t.Fatalf("lists=%d, want a second look after the lag", api.lists)
		}
	})
}

// TestServerClockBehindOursStillMatches: the API's clock is 6 minutes behind
// ours, so our transcript's created time is before our intent by our clock.
// It is matched by its upload URL all the same.
func TestServerClockBehindOursStillMatches(t *testing.T) {
	for _, offset := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
		t.Run(offset.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				api := newFakeAPI()
				api.clockOffset = offset
				api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
					return n == 1 && created != nil && apiError(502, "Bad Gateway")(w)
				}
				tr, file := createWorld(t, api)
				got, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{})
				if err != nil {
					t.Fatal(err)
				}
				wantOneTranscript(t, api, got)
			})
		})
	}
}

// TestCreateWithNothingCreatedWaitsForTheHorizon: a create answered 502
// that made nothing is sent again, but only once the first can no longer
// land (the landing margin after the answer), and the wait is reported as a
// CreatePendingError that Decide turns into a retry at the horizon.
func TestCreateWithNothingCreatedWaitsForTheHorizon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		var second time.Time
		start := time.Now()
		api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
			if created == nil && n == 1 {
				return apiError(502, "Bad Gateway")(w)
			}
			if created == nil && n == 2 {
				second = time.Now()
			}
			return false
		}
		tr, file := createWorld(t, api)
		var st saver
		res, err := tr.Step(t.Context(), Checkpoint{Source: file}, assemblyai.TranscriptParams{}, st.save)
		pe, ok := errors.AsType[*CreatePendingError](err)
		if !ok {
			t.Fatalf("first step: %v, want a *CreatePendingError", err)
		}
		// The 502 is an answer: the horizon runs from it, not from the
		// request timeout.
		horizon := DefaultCreateLandingMargin
		if pe.Until.Sub(res.Checkpoint.IntentAt) != horizon {
			t.Fatalf("pending until %s after the intent, want %s", pe.Until.Sub(res.Checkpoint.IntentAt), horizon)
		}
		if action, after := Decide(err); action != ActionRetryLater || after != pe.Wait || after <= 0 {
			t.Fatalf("Decide = %v %s, want retry later after %s", action, after, pe.Wait)
		}
		if _, _, err := tr.Resume(t.Context(), res.Checkpoint, assemblyai.TranscriptParams{}, st.save); err != nil {
			t.Fatal(err)
		}
		if _, creates, _, transcripts := api.counts(); creates != 2 || transcripts != 1 {
			t.Fatalf("creates=%d transcripts=%d, want 2 and 1", creates, transcripts)
		}
		if d := second.Sub(start); d < horizon {
			t.Fatalf("second create %s after the first, want ≥ %s", d, horizon)
		}
	})
}

// TestGatewayTimeoutWhileTheCreateGoesOn: a gateway answers 504 while the
// API behind it goes on and makes the transcript 5 s later. The answer
// brings the horizon forward, but not so far that the late transcript is
// missed: it is adopted, and no second create goes out.
func TestGatewayTimeoutWhileTheCreateGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		api := newFakeAPI()
		var wg sync.WaitGroup
		api.onCreate = func(n int, w http.ResponseWriter, created *fakeTranscript) bool {
			if n != 1 || created != nil {
				return false
			}
			wg.Go(func() {
				time.Sleep(5 * time.Second)
				api.mu.Lock()
				defer api.mu.Unlock()
				var url string
				for u := range api.uploads {
					url = u
				}
				api.transcripts = append(api.transcripts, &fakeTranscript{ID: "late", AudioURL: url,
					Created: time.Now().UTC(), landed: time.Now(), Status: "queued", n: 1})
			})
			return apiError(504, "Gateway Timeout")(w)
		}
		tr, file := createWorld(t, api)
		got, err := tr.Transcribe(t.Context(), file, assemblyai.TranscriptParams{})
		wg.Wait()
		if err != nil {
			t.Fatal(err)
		}
		if _, creates, _, transcripts := api.counts(); creates != 1 || transcripts != 1 || got.ID != "late" {
			t.Fatalf("creates=%d transcripts=%d adopted %q, want 1, 1, the late one", creates, transcripts, got.ID)
		}
	})
}
