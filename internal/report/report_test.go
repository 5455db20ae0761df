package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// fixture is a small batch: file 1 clean, file 2 retried uploads (422 then
// a transport error), file 3 throttled create, file 4 failed permanently at
// wait, file 5 hit an outage that opened the breaker, file 6 still pending.
func fixture() Input {
	a := func(file int64, stage, ep string, n int, start float64, dur int, code int, class, msg string) Attempt {
		return Attempt{FileID: file, Stage: stage, Endpoint: ep, Attempt: n, Start: at(start), Duration: ms(dur),
			StatusCode: code, Class: class, Error: msg, BreakerState: "closed"}
	}
	up, cr, get := "/v2/upload", "/v2/transcript", "/v2/transcript/{id}"
	atts := []Attempt{
		a(1, "upload", up, 1, 0, 800, 0, "none", ""),
		a(1, "create", cr, 1, 1, 120, 0, "none", ""),
		a(1, "wait", get, 1, 4, 40, 0, "none", ""),
		a(2, "upload", up, 1, 0.5, 300, 422, "retryable", "Upload failed, please try again"),
		a(2, "upload", up, 2, 2, 500, 0, "retryable", "read tcp 127.0.0.1:1->127.0.0.1:2: connection reset by peer"),
		a(2, "upload", up, 3, 5, 900, 0, "none", ""),
		a(2, "create", cr, 1, 6, 100, 0, "none", ""),
		a(2, "wait", get, 1, 9, 50, 0, "none", ""),
		a(3, "upload", up, 1, 1, 700, 0, "none", ""),
		a(3, "create", cr, 1, 2, 90, 429, "throttled", "Too many requests"),
		a(3, "create", cr, 2, 12, 110, 0, "none", ""),
		a(3, "wait", get, 1, 15, 60, 0, "none", ""),
		a(4, "upload", up, 1, 2, 600, 0, "none", ""),
		a(4, "create", cr, 1, 3, 100, 0, "none", ""),
		a(4, "wait", get, 1, 8, 45, 0, "permanent", "Transcoding failed: file does not appear to contain audio"),
		a(5, "upload", up, 1, 20, 400, 503, "retryable", "Service Unavailable"),
		a(5, "upload", up, 2, 21, 400, 503, "retryable", "Service Unavailable"),
		a(5, "upload", up, 3, 23, 400, 503, "retryable", "Service Unavailable"),
		a(5, "upload", up, 4, 60, 800, 0, "none", ""),
		a(5, "create", cr, 1, 62, 150, 0, "ambiguous", "POST /v2/transcript: connection reset after request was sent"),
		a(5, "create", cr, 2, 63, 130, 0, "none", ""),
		a(5, "wait", get, 1, 70, 55, 0, "none", ""),
	}
	atts[3].Delay = ms(1200)
	atts[4].Delay = ms(2500)
	atts[9].Delay, atts[9].RetryAfter = 10*time.Second, 10*time.Second
	atts[15].Delay, atts[16].Delay, atts[17].Delay = ms(800), ms(1700), 36*time.Second
	atts[17].BreakerState = "open"
	atts[14].TranscriptID = "tr_4"
	return Input{
		Files: []File{
			{ID: 1, Source: "/audio/a.wav", State: "done", Stage: "done", TranscriptID: "tr_1", Bytes: 1000,
				StartedAt: at(0), FinishedAt: at(5)},
			{ID: 2, Source: "/audio/b.mp3", State: "done", Stage: "done", TranscriptID: "tr_2", Bytes: 2000,
				StartedAt: at(0.5), FinishedAt: at(10)},
			{ID: 3, Source: "/audio/c.flac", State: "done", Stage: "done", TranscriptID: "tr_3", Bytes: 3000,
				StartedAt: at(1), FinishedAt: at(16)},
			{ID: 4, Source: "/audio/d.ogg", State: "failed", Stage: "wait", TranscriptID: "tr_4", Bytes: 4000,
				Reason:    "transcript error: Transcoding failed: file does not appear to contain audio",
				LastError: "Transcoding failed: file does not appear to contain audio", StartedAt: at(2), FinishedAt: at(9)},
			{ID: 5, Source: "https://example.invalid/e.m4a", State: "done", Stage: "done", TranscriptID: "tr_5",
				StartedAt: at(20), FinishedAt: at(71)},
			{ID: 6, Source: "/audio/<f>.wav", State: "pending"},
		},
		Attempts: atts,
		BreakerEvents: []BreakerEvent{
			{Host: "api.assemblyai.com", Time: at(23.4), From: "closed", To: "open"},
			{Host: "api.assemblyai.com", Time: at(45), From: "open", To: "half-open"},
			{Host: "api.assemblyai.com", Time: at(45.5), From: "half-open", To: "open"},
			{Host: "api.assemblyai.com", Time: at(59), From: "open", To: "half-open"},
			{Host: "api.assemblyai.com", Time: at(60.8), From: "half-open", To: "closed"},
		},
	}
}

func TestSummarize(t *testing.T) {
	t.Parallel()
	s := Summarize(fixture())
	if s.Attempts != 22 || s.FailedAttempts != 8 {
		t.Errorf("attempts = %d (%d failed), want 22 (8 failed)", s.Attempts, s.FailedAttempts)
	}
	if !s.Start.Equal(at(0)) || !s.End.Equal(at(71)) {
		t.Errorf("range = %v .. %v", s.Start, s.End)
	}
	var stages []string
	for _, st := range s.Stages {
		stages = append(stages, st.Stage)
	}
	if want := []string{"upload", "create", "wait"}; !slices.Equal(stages, want) {
		t.Fatalf("stages = %v, want %v", stages, want)
	}
	up := s.Stages[0]
	wantUp := StageStats{Stage: "upload", Calls: 5, Attempts: 10, Retries: 5, RetriedCalls: 2, RetryRate: 0.4,
		SucceededCalls: 5, SucceededAt: []AttemptCount{{1, 3}, {3, 1}, {4, 1}}, MaxAttempt: 4}
	if !reflect.DeepEqual(up, wantUp) {
		t.Errorf("upload stats =\n%+v\nwant\n%+v", up, wantUp)
	}
	wait := s.Stages[2]
	if wait.FailedCalls != 1 || wait.SucceededCalls != 4 {
		t.Errorf("wait stats = %+v", wait)
	}
	want := Waste{FailedAttemptSeconds: 2.285, BackoffSeconds: 52.2, FailedUploads: 5, ReUploadedBytes: 4000,
		Resubmits: 2}
	if s.Waste != want {
		t.Errorf("waste = %+v, want %+v", s.Waste, want)
	}
	wantBr := []BreakerInterval{{Host: "api.assemblyai.com", Start: at(23.4), End: at(60.8), DurationSeconds: 37.4, Opens: 2}}
	if !reflect.DeepEqual(s.Breaker, wantBr) {
		t.Errorf("breaker = %+v, want %+v", s.Breaker, wantBr)
	}
	if got := s.Files.ByState; !reflect.DeepEqual(got, []Count{{"done", 4}, {"failed", 1}, {"pending", 1}}) {
		t.Errorf("by state = %v", got)
	}
	if len(s.Files.NotDone) != 2 || s.Files.NotDone[0].ID != 4 || s.Files.NotDone[1].ID != 6 {
		t.Errorf("not done = %+v", s.Files.NotDone)
	}
	// 71 s span: 2 s buckets.
	if s.BucketSeconds != 2 || len(s.Timeline) != 36 {
		t.Errorf("timeline = %d buckets of %vs", len(s.Timeline), s.BucketSeconds)
	}
	var classes, codes = map[string]int{}, map[string]int{}
	done := 0
	for _, b := range s.Timeline {
		for k, v := range b.ErrorsByClass {
			classes[k] += v
		}
		for k, v := range b.ErrorsByStatus {
			codes[k] += v
		}
		done += b.FilesDone
	}
	if !reflect.DeepEqual(classes, map[string]int{"retryable": 5, "throttled": 1, "permanent": 1, "ambiguous": 1}) {
		t.Errorf("classes = %v", classes)
	}
	if !reflect.DeepEqual(codes, map[string]int{"422": 1, "429": 1, "503": 3, "none": 3}) {
		t.Errorf("codes = %v", codes)
	}
	if done != 4 {
		t.Errorf("files done in timeline = %d, want 4", done)
	}
	for _, l := range s.Latency {
		if l.Endpoint == "/v2/upload" && (l.Count != 10 || l.P50Seconds != 0.5 || l.P90Seconds != 0.8 || l.MaxSeconds != 0.9) {
			t.Errorf("upload latency = %+v", l)
		}
	}
}

func TestSummarizeBreakerFromAttempts(t *testing.T) {
	t.Parallel()
	in := fixture()
	in.BreakerEvents = nil
	s := Summarize(in)
	want := []BreakerInterval{{Host: "api", Start: at(23), End: at(60), DurationSeconds: 37, Opens: 1}}
	if !reflect.DeepEqual(s.Breaker, want) {
		t.Errorf("breaker = %+v, want %+v", s.Breaker, want)
	}
}

func TestSummarizeOngoingBreaker(t *testing.T) {
	t.Parallel()
	s := Summarize(Input{End: at(100), BreakerEvents: []BreakerEvent{{Host: "h", Time: at(90), From: "closed", To: "open"}}})
	if len(s.Breaker) != 1 || !s.Breaker[0].Ongoing || s.Breaker[0].DurationSeconds != 10 {
		t.Errorf("breaker = %+v", s.Breaker)
	}
}

func TestSummarizeExtraTranscripts(t *testing.T) {
	t.Parallel()
	s := Summarize(Input{Attempts: []Attempt{
		{FileID: 1, Stage: "create", Endpoint: "/v2/transcript", Attempt: 1, Start: at(0)},
		{FileID: 1, Stage: "create", Endpoint: "/v2/transcript", Attempt: 1, Start: at(5)},
	}})
	if s.Waste.ExtraTranscripts != 1 || s.Waste.Resubmits != 1 || s.Stages[0].Calls != 2 {
		t.Errorf("waste = %+v, stages = %+v", s.Waste, s.Stages)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ds := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i + 1)
		}
		return out
	}
	for _, tc := range []struct {
		n, p int
		want time.Duration
	}{{1, 50, 1}, {1, 99, 1}, {2, 50, 1}, {2, 90, 2}, {10, 50, 5}, {10, 90, 9}, {10, 99, 10}, {100, 99, 99}, {1000, 99, 990}} {
		if got := percentile(ds(tc.n), tc.p); got != tc.want {
			t.Errorf("percentile(1..%d, %d) = %d, want %d", tc.n, tc.p, got, tc.want)
		}
	}
}

func TestBucketWidth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ span, want time.Duration }{
		{0, time.Second}, {59 * time.Second, time.Second}, {60 * time.Second, 2 * time.Second},
		{time.Hour, time.Minute + time.Minute}, {48 * time.Hour, time.Hour}, {100 * 24 * time.Hour, 48 * time.Hour},
	} {
		if got := bucketWidth(tc.span); got != tc.want {
			t.Errorf("bucketWidth(%v) = %v, want %v", tc.span, got, tc.want)
		}
	}
}

func TestNiceScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		max       float64
		ints      bool
		top, step float64
	}{
		{0, false, 1, 0.25}, {1, false, 1, 0.25}, {3, false, 3, 1}, {7, false, 8, 2}, {10, false, 10, 2.5},
		{37, false, 40, 10}, {0.9, false, 1, 0.25}, {0, true, 1, 1}, {1, true, 1, 1}, {2, true, 2, 1},
		{10, true, 10, 5}, {37, true, 40, 10}, {1500, true, 1500, 500},
	} {
		if top, step := niceScale(tc.max, tc.ints); top != tc.top || step != tc.step {
			t.Errorf("niceScale(%v, %v) = %v, %v; want %v, %v", tc.max, tc.ints, top, step, tc.top, tc.step)
		}
	}
}

func TestEmptyInput(t *testing.T) {
	t.Parallel()
	s := Summarize(Input{})
	for name, write := range map[string]func(*bytes.Buffer) error{
		"text": func(b *bytes.Buffer) error { return WriteText(b, s) },
		"json": func(b *bytes.Buffer) error { return WriteJSON(b, s) },
		"html": func(b *bytes.Buffer) error { return WriteHTML(b, s) },
	} {
		var b bytes.Buffer
		if err := write(&b); err != nil || b.Len() == 0 {
			t.Errorf("%s: %d bytes, err %v", name, b.Len(), err)
		}
	}
	var b bytes.Buffer
	_ = WriteJSON(&b, s)
	if strings.Contains(b.String(), "null") {
		t.Errorf("empty report JSON has nulls (lists must be []):\n%s", b.String())
	}
}

// TestJSONFieldNames pins the top-level JSON schema that scripts rely on.
func TestJSONFieldNames(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteJSON(&b, Summarize(fixture())); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"attempts", "breaker", "bucket_seconds", "end", "failed_attempts", "files", "latency", "stages",
		"start", "timeline", "waste"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %v, want %v", keys, want)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	s := Summarize(fixture())
	for _, tc := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"report.txt", func(b *bytes.Buffer) error { return WriteText(b, s) }},
		{"report.json", func(b *bytes.Buffer) error { return WriteJSON(b, s) }},
		{"report.html", func(b *bytes.Buffer) error { return WriteHTML(b, s) }},
	} {
		var b bytes.Buffer
		if err := tc.write(&b); err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		golden(t, tc.file, b.Bytes())
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from golden; rerun with -update and review the diff:\n%s", name, firstDiff(got, want))
	}
}

func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n got: " + gl + "\nwant: " + wl
		}
	}
	return ""
}

// bigInput is a 10,000-file batch with 50,000 attempts over six hours.
func bigInput() Input {
	var in Input
	stages := []struct{ stage, ep string }{{"upload", "POST /v2/upload"}, {"create", "POST /v2/transcript"},
		{"wait", "GET /v2/transcript/{id}"}}
	for f := range int64(10000) {
		start := t0.Add(time.Duration(f) * 2 * time.Second)
		in.Files = append(in.Files, File{ID: f, Source: "/a/" + strconv.FormatInt(f, 10) + ".wav", State: "done",
			StartedAt: start, FinishedAt: start.Add(time.Minute), Bytes: 1 << 20})
		for i := range 5 {
			st := stages[min(i, 2)]
			a := Attempt{FileID: f, Stage: st.stage, Endpoint: st.ep, Attempt: 1, Start: start.Add(time.Duration(i) * time.Second),
				Duration: time.Duration(100+f%900) * time.Millisecond, Class: "none"}
			if i == 0 && f%7 == 0 {
				a.StatusCode, a.Class, a.Error = 503, "retryable", "Service Unavailable"
			}
			if i == 1 && f%7 == 0 {
				a.Attempt = 2
			}
			in.Attempts = append(in.Attempts, a)
		}
	}
	return in
}

func BenchmarkSummarize(b *testing.B) {
	in := bigInput()
	b.ReportAllocs()
	for b.Loop() {
		Summarize(in)
	}
}

func BenchmarkWriteHTML(b *testing.B) {
	s := Summarize(bigInput())
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := WriteHTML(&buf, s); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}
