package transcribe

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a minimal AssemblyAI v2 server for orchestrator tests, with hooks
// to inject exactly the fault a test needs. It is a fake of the external API,
// not of our code; the full emulator is exercised by the batch tests.
type fakeAPI struct {
	key string

	mu          sync.Mutex
	uploads     map[string][]byte // upload_url → bytes received
	uploadBods  [][]byte          // every upload body received, in order
	transcripts []*fakeTranscript // oldest first
	creates     int               // POST /v2/transcript requests
	gets        int               // GET /v2/transcript/{id} requests
	lists       int
	requests    int

	// Hooks. Each returns true when it wrote the response itself.
	onUpload func(n int, w http.ResponseWriter) bool
	// onCreate runs before (created == nil) and after (created != nil) the
	// transcript is recorded; returning true after recording is "act, then
	// fail".
	onCreate func(n int, w http.ResponseWriter, created *fakeTranscript) bool
	onGet    func(n int, w http.ResponseWriter) bool
	// outcome decides how the nth transcript (1-based) ends.
	outcome func(n int) (status, message string)
	// pollsToFinish is how many GETs a transcript stays "processing".
	pollsToFinish int
	// createLatency is how long a create takes before the transcript
	// exists; the server goes on when the client gives up earlier.
	createLatency time.Duration
	// listLag hides transcripts younger than this from the list.
	listLag time.Duration
	// clockOffset is the server's clock less ours: created times and the
	// list's Date header are on the server's clock.
	clockOffset time.Duration
}

type fakeTranscript struct {
	ID       string
	AudioURL string
	Created  time.Time // on the server's clock
	landed   time.Time // on ours
	Status   string
	Error    string
	polls    int
	n        int
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{key: "fake-secret-key-0123456789", uploads: map[string][]byte{}, pollsToFinish: 1}
}

func (f *fakeAPI) server(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fakeAPI) counts() (uploads, creates, gets, transcripts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.uploadBods), f.creates, f.gets, len(f.transcripts)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if r.Header.Get("Authorization") != f.key {
		writeJSON(w, 401, map[string]string{"error": "Authentication error, API token missing/invalid"})
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v2/upload":
		f.upload(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v2/transcript":
		f.create(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v2/transcript":
		f.list(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v2/transcript/"):
		f.get(w, strings.TrimPrefix(r.URL.Path, "/v2/transcript/"))
	default:
		writeJSON(w, 404, map[string]string{"error": "Not found"})
	}
}

func (f *fakeAPI) upload(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.uploadBods = append(f.uploadBods, body)
	n := len(f.uploadBods)
	hook := f.onUpload
	f.mu.Unlock()
	if hook != nil && hook(n, w) {
		return
	}
	url := "https://cdn.example.test/upload/" + newID()
	f.mu.Lock()
	f.uploads[url] = body
	f.mu.Unlock()
	writeJSON(w, 200, map[string]string{"upload_url": url})
}

func (f *fakeAPI) create(w http.ResponseWriter, r *http.Request) {
	var p struct {
		AudioURL string `json:"audio_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil || p.AudioURL == "" {
		writeJSON(w, 400, map[string]string{"error": "Transcript creation error, audio_url not found"})
		return
	}
	f.mu.Lock()
	f.creates++
	n := f.creates
	hook := f.onCreate
	f.mu.Unlock()
	if hook != nil && hook(n, w, nil) {
		return
	}
	f.mu.Lock()
	latency, offset := f.createLatency, f.clockOffset
	f.mu.Unlock()
	time.Sleep(latency)
	tr := &fakeTranscript{ID: newID(), AudioURL: p.AudioURL, Created: time.Now().Add(offset).UTC(), landed: time.Now(), Status: "queued"}
	f.mu.Lock()
	f.transcripts = append(f.transcripts, tr)
	tr.n = len(f.transcripts)
	f.mu.Unlock()
	if hook != nil && hook(n, w, tr) {
		return
	}
	f.mu.Lock()
	v := f.view(tr)
	f.mu.Unlock()
	writeJSON(w, 200, v)
}

func (f *fakeAPI) view(tr *fakeTranscript) map[string]any {
	v := map[string]any{"id": tr.ID, "status": tr.Status, "audio_url": tr.AudioURL}
	if tr.Status == "completed" {
		v["text"] = "hello from " + tr.ID
	}
	if tr.Status == "error" {
		v["error"] = tr.Error
	}
	return v
}

func (f *fakeAPI) get(w http.ResponseWriter, id string) {
	f.mu.Lock()
	f.gets++
	n := f.gets
	hook := f.onGet
	f.mu.Unlock()
	if hook != nil && hook(n, w) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tr := range f.transcripts {
		if tr.ID != id {
			continue
		}
		if tr.Status == "queued" || tr.Status == "processing" {
			tr.polls++
			tr.Status = "processing"
			if tr.polls >= f.pollsToFinish {
				tr.Status = "completed"
				if f.outcome != nil {
					tr.Status, tr.Error = f.outcome(tr.n)
				}
			}
		}
		writeJSON(w, 200, f.view(tr))
		return
	}
	writeJSON(w, 400, map[string]string{"error": "Transcript lookup error, transcript id not found"})
}

func (f *fakeAPI) list(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lists++
	items := []map[string]any{}
	for i := len(f.transcripts) - 1; i >= 0; i-- {
		tr := f.transcripts[i]
		if !tr.landed.IsZero() && time.Since(tr.landed) < f.listLag {
			continue
		}
		items = append(items, map[string]any{
			"id": tr.ID, "resource_url": "http://" + r.Host + "/v2/transcript/" + tr.ID,
			"status": tr.Status, "created": tr.Created.Format("2006-01-02T15:04:05.000000"),
			"completed": nil, "audio_url": tr.AudioURL, "error": nil,
		})
	}
	w.Header().Set("Date", time.Now().Add(f.clockOffset).UTC().Format(http.TimeFormat))
	writeJSON(w, 200, map[string]any{
		"page_details": map[string]any{
			"limit": 200, "result_count": len(items),
			"current_url": fmt.Sprintf("http://%s/v2/transcript?limit=200", r.Host),
			"prev_url":    nil, "next_url": nil,
		},
		"transcripts": items,
	})
}

// dropConnection closes the client connection without a response: what a
// client sees when a proxy or the network drops it after the request arrived.
func dropConnection(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("response writer cannot hijack")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
	return true
}

func apiError(status int, msg string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		writeJSON(w, status, map[string]string{"error": msg})
		return true
	}
}
