package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 11, 21, 29, 59, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type apiTranscript struct {
	ID            string  `json:"id"`
	Status        string  `json:"status"`
	Error         string  `json:"error"`
	Throttled     *bool   `json:"throttled"`
	AudioDuration *int    `json:"audio_duration"`
	Text          *string `json:"text"`
	WebhookStatus *int    `json:"webhook_status_code"`
}

// api is a small raw client for tests that need more than the SDK shows.
type api struct {
	t   *testing.T
	srv *emulatortest.Server
	c   *http.Client
}

func newAPI(t *testing.T, cfg emulator.Config) *api {
	srv := emulatortest.New(t, cfg)
	return &api{t: t, srv: srv, c: validatingClient(t)}
}

func (a *api) upload(body []byte) string {
	a.t.Helper()
	var out struct {
		UploadURL string `json:"upload_url"`
	}
	if code := doJSON(a.t, a.c, "POST", a.srv.URL+"/v2/upload", a.srv.APIKey, bytes.NewReader(body), &out); code != 200 {
		a.t.Fatalf("upload: status %d", code)
	}
	return out.UploadURL
}

func (a *api) create(params map[string]any) apiTranscript {
	a.t.Helper()
	b, _ := json.Marshal(params)
	var out apiTranscript
	if code := doJSON(a.t, a.c, "POST", a.srv.URL+"/v2/transcript", a.srv.APIKey, bytes.NewReader(b), &out); code != 200 {
		a.t.Fatalf("create: status %d", code)
	}
	return out
}

func (a *api) get(id string) apiTranscript {
	a.t.Helper()
	var out apiTranscript
	if code := doJSON(a.t, a.c, "GET", a.srv.URL+"/v2/transcript/"+id, a.srv.APIKey, nil, &out); code != 200 {
		a.t.Fatalf("get: status %d", code)
	}
	return out
}

func TestProcessingConcurrencyFIFO(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newAPI(t, emulator.Config{
		Clock: clock.Now, Concurrency: 2, StartDelay: time.Second,
		ProcessingBase: 10 * time.Second, ProcessingFactor: -1, ProcessingJitter: -1,
	})
	url := a.upload(makeWAV(1))
	var ids []string
	for range 3 {
		ids = append(ids, a.create(map[string]any{"audio_url": url}).ID)
	}
	want := func(at string, statuses ...string) {
		t.Helper()
		for i, id := range ids {
			tr := a.get(id)
			if tr.Status != statuses[i] {
				t.Errorf("%s: transcript %d is %s, want %s", at, i, tr.Status, statuses[i])
			}
			throttled := i == 2 && (statuses[i] == "queued")
			if tr.Throttled == nil || *tr.Throttled != throttled {
				t.Errorf("%s: transcript %d throttled %v, want %v", at, i, tr.Throttled, throttled)
			}
		}
	}
	want("t0", "queued", "queued", "queued")
	clock.Advance(time.Second)
	want("t1", "processing", "processing", "queued")
	clock.Advance(10 * time.Second)
	want("t11", "completed", "completed", "processing")
	clock.Advance(10 * time.Second)
	want("t21", "completed", "completed", "completed")
	if d := a.get(ids[0]).AudioDuration; d == nil || *d != 1 {
		t.Errorf("audio_duration %v, want 1", d)
	}
}

func TestStatsGroundTruth(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newAPI(t, emulator.Config{
		Clock: clock.Now, ProcessingBase: time.Second,
		Scenario: emulator.Scenario{Outcomes: []emulator.Outcome{{Message: "server_error", P: 1}}},
	})
	wav := makeWAV(1)
	u1, u2 := a.upload(wav), a.upload(wav)
	first := a.create(map[string]any{"audio_url": u1})
	clock.Advance(time.Minute)
	if tr := a.get(first.ID); tr.Status != "error" || !strings.HasPrefix(tr.Error, "Internal server error. Please retry") {
		t.Fatalf("got %s %q, want the transient server error", tr.Status, tr.Error)
	}
	a.create(map[string]any{"audio_url": u2}) // resubmit after error, via a re-upload
	a.create(map[string]any{"audio_url": u1}) // duplicate: the previous one is queued
	st := a.srv.Emulator.Stats()
	if st.Uploads != 2 || st.ReUploads != 1 || st.UploadBytes != int64(2*len(wav)) {
		t.Errorf("uploads %d re-uploads %d bytes %d", st.Uploads, st.ReUploads, st.UploadBytes)
	}
	if st.TranscriptsCreated != 3 || st.ResubmitsAfterError != 1 || st.DuplicateTranscripts != 1 {
		t.Errorf("created %d resubmits %d duplicates %d, want 3 1 1", st.TranscriptsCreated, st.ResubmitsAfterError, st.DuplicateTranscripts)
	}
	if st.Faults["outcome_server_error"] != 3 || st.Requests["upload"][200] != 2 {
		t.Errorf("faults %v requests %v", st.Faults, st.Requests)
	}
	var viaHTTP emulator.Stats
	doJSON(t, a.c, "GET", a.srv.URL+"/emulator/stats", "", nil, &viaHTTP)
	if viaHTTP.DuplicateTranscripts != 1 || viaHTTP.Requests["create"][200] != 3 {
		t.Errorf("GET /emulator/stats: %+v", viaHTTP)
	}
	resp, err := a.c.Get(a.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	for _, want := range []string{`emulator_requests_total{route="create",status="200"} 3`, "emulator_duplicate_transcripts_total 1"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestUploadVariants(t *testing.T) {
	t.Parallel()
	a := newAPI(t, emulator.Config{})
	wav := makeWAV(0.5)
	for name, mk := range map[string]func() *http.Request{
		"chunked, no content type": func() *http.Request {
			r, _ := http.NewRequest("POST", a.srv.URL+"/v2/upload", struct{ *bytes.Reader }{bytes.NewReader(wav)})
			return r
		},
		"content length, octet-stream": func() *http.Request {
			r, _ := http.NewRequest("POST", a.srv.URL+"/v2/upload", bytes.NewReader(wav))
			r.Header.Set("Content-Type", "application/octet-stream")
			return r
		},
	} {
		req := mk()
		req.Header.Set("Authorization", "any-key")
		resp, err := a.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
	}
	// A GET with a JSON body (the Go SDK's List) is fine.
	req, _ := http.NewRequest("GET", a.srv.URL+"/v2/transcript?limit=1", strings.NewReader(`{"AfterID":null}`))
	req.Header.Set("Authorization", "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("list with body: %d", resp.StatusCode)
	}
	var e struct{ Error string }
	if code := doJSON(t, a.c, "GET", a.srv.URL+"/v2/nope", "k", nil, &e); code != 404 || e.Error != "Not found" {
		t.Errorf("unknown route: %d %q", code, e.Error)
	}
	if code := doJSON(t, a.c, "GET", a.srv.URL+"/v2/transcript", "", nil, &e); code != 401 {
		t.Errorf("no key: %d", code)
	}
}
