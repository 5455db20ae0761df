package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/durascribe/durascribe/emulator"
)

// TestMain doubles as the child process: the runner re-executes the test
// binary with --contender, as it re-executes the bench binary.
func TestMain(m *testing.M) {
	if slices.Contains(os.Args[1:], "--contender") {
		if err := childMain(context.Background(), os.Args[1:], os.Stdout); err != nil {
			_, _ = os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestRunJSONShape(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	args := []string{"--scenario", "clean", "--files", "5", "--concurrency", "3", "--time-scale", "0.01",
		"--contenders", "naive-sdk,seed-recipe,durascribe-api", "--timeout", "20s", "--json"}
	if err := run(ctx, args, &out, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}

	// The exact field names of issue 7, item 6: scripts depend on them.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &raw); err != nil {
		t.Fatalf("decode: %v\n%s", err, out.Bytes())
	}
	for _, k := range []string{"scenario", "files", "concurrency", "time_scale", "ideal_seconds", "rows"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("document has no %q", k)
		}
	}
	var rows []map[string]json.RawMessage
	if err := json.Unmarshal(raw["rows"], &rows); err != nil {
		t.Fatalf("decode rows: %v", err)
	}
	for _, r := range rows {
		for _, k := range []string{"contender", "completed", "failed", "failed_transient_only", "makespan_seconds",
			"requests", "requests_per_file", "requests_during_outage", "duplicate_transcripts", "reuploads", "peak_rss_bytes"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row has no %q", k)
			}
		}
		if len(r) != 11 {
			t.Errorf("row has %d fields, want 11", len(r))
		}
	}

	var doc Doc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Scenario != "clean" || doc.Files != 5 || doc.Concurrency != 3 || doc.TimeScale != 0.01 || doc.IdealSeconds <= 0 {
		t.Errorf("header = %+v", doc)
	}
	var names []string
	for _, r := range doc.Rows {
		names = append(names, r.Contender)
		if r.PeakRSSBytes <= 0 || r.MakespanSeconds <= 0 || r.Requests < 3*doc.Files {
			t.Errorf("%s: implausible row %+v", r.Contender, r)
		}
		if r.Contender != contenderAPI {
			continue
		}
		if r.Completed != doc.Files || r.Failed != 0 || r.DuplicateTranscripts != 0 || r.Reuploads != 0 {
			t.Errorf("durascribe-api in clean: %+v, want every file done, no duplicates, no re-uploads", r)
		}
	}
	if !slices.Equal(names, []string{contenderNaive, contenderSeed, contenderAPI}) {
		t.Errorf("contenders = %v", names)
	}
}

func TestTenacityWait(t *testing.T) {
	t.Parallel()
	// wait_exponential(multiplier=1, min=2, max=60): 1 s is raised to the min.
	want := []time.Duration{2, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range want {
		if got := tenacityWait(i + 1); got != w*time.Second {
			t.Errorf("tenacityWait(%d) = %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestWAVDuration(t *testing.T) {
	t.Parallel()
	b := wavBytes(3*time.Second, 440)
	if len(b) != 44+3*sampleRate*2 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("bad WAV: %d bytes, header %q", len(b), b[:12])
	}
	d1, d2 := audioDurations(10, 7), audioDurations(10, 7)
	if !slices.Equal(d1, d2) {
		t.Errorf("durations are not deterministic")
	}
	for _, d := range d1 {
		if d < minAudioSec*time.Second || d > maxAudioSec*time.Second {
			t.Errorf("duration %v out of range", d)
		}
	}
}

func TestIdealSeconds(t *testing.T) {
	t.Parallel()
	files := []corpusFile{{Duration: 10 * time.Second}, {Duration: 30 * time.Second}}
	outage := emulator.Scenario{Outages: []emulator.Outage{{Start: emulator.Duration(2 * time.Second), End: emulator.Duration(47 * time.Second)}}}
	tests := []struct {
		name string
		cfg  emulator.Config
		conc int
		want float64
	}{
		// (0.3 + 2 + 1) + (0.3 + 2 + 3) = 8.6 s of server time.
		{"one at a time", emulator.Config{}, 1, 8.6},
		{"two at once", emulator.Config{}, 2, 4.3},
		{"scaled", emulator.Config{TimeScale: 0.5}, 2, 2.15},
		// The account's limit of 1 wins; start delays overlap processing.
		{"account limit", emulator.Config{Scenario: emulator.Scenario{Concurrency: 1}}, 2, 8},
		{"work overlaps the outage", emulator.Config{Scenario: outage}, 2, 49.3},
		{"work ends before the outage", emulator.Config{Scenario: outage}, 2 * 100, 0.043},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := idealSeconds(tt.cfg, files, tt.conc); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("idealSeconds = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExactRetryAfter(t *testing.T) {
	t.Parallel()
	h := exactRetryAfter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		if r.URL.Path == "/scaled" {
			w.Header().Set("X-Emulator-Retry-After-Ms", "150")
		}
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	for path, want := range map[string]string{"/scaled": "0.150", "/plain": "1"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("Retry-After"); got != want || rec.Code != http.StatusTooManyRequests {
			t.Errorf("%s: Retry-After %q (status %d), want %q", path, got, rec.Code, want)
		}
	}
}

func TestRecoveryAfter(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	samples := []sample{
		{at: ms(10), inFlight: 10}, {at: ms(20), inFlight: 0}, {at: ms(30), inFlight: 4},
		{at: ms(40), inFlight: 10, completed: 20}, {at: ms(50), inFlight: 3, completed: 47},
	}
	tests := []struct {
		name  string
		end   time.Duration
		files int
		want  time.Duration
		ok    bool
	}{
		{"back at full concurrency", ms(15), 50, ms(25), true},
		{"fewer files left than slots", ms(45), 50, ms(5), true},
		{"run ended first", ms(60), 50, 0, false},
	}
	for _, tt := range tests {
		got, ok := recoveryAfter(samples, tt.end, 10, tt.files)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: recoveryAfter = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestInOrderSeconds(t *testing.T) {
	t.Parallel()
	secs := func(ns ...int) []corpusFile {
		var fs []corpusFile
		for _, n := range ns {
			fs = append(fs, corpusFile{Duration: time.Duration(n) * time.Second})
		}
		return fs
	}
	tests := []struct {
		name  string
		cfg   emulator.Config
		files []corpusFile
		conc  int
		want  float64
	}{
		// 3.3 s and 5.3 s of server time: one slot runs both.
		{"one slot", emulator.Config{}, secs(10, 30), 1, 8.6},
		// The long file alone sets the makespan, not the even spread (4.3 s).
		{"tail of a long file", emulator.Config{}, secs(10, 30), 2, 5.3},
		// The third file takes the slot freed first: 3.3 + 3.3.
		{"next file to the first free slot", emulator.Config{}, secs(10, 30, 10), 2, 6.6},
		{"account limit hides start delays", emulator.Config{Scenario: emulator.Scenario{Concurrency: 1}}, secs(10, 30), 2, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := inOrderSeconds(tt.cfg, tt.files, tt.conc); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("inOrderSeconds = %v, want %v", got, tt.want)
			}
			if ideal := idealSeconds(tt.cfg, tt.files, tt.conc); ideal > inOrderSeconds(tt.cfg, tt.files, tt.conc)+1e-9 {
				t.Errorf("ideal %v exceeds the in-order bound", ideal)
			}
		})
	}
}

func TestNoteOutageSplitsTripFromProbes(t *testing.T) {
	t.Parallel()
	s := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	cfg := emulator.Config{TimeScale: 1, Scenario: emulator.Scenario{
		Outages: []emulator.Outage{{Start: emulator.Duration(10 * time.Second), End: emulator.Duration(55 * time.Second)}},
	}}
	// The breaker interval is 4 s: [10, 14) is the first, [14, 55) 10.25 more.
	arr := &arrivals{at: []time.Duration{s(9), s(10.5), s(11), s(12), s(30), s(50), s(56)}}
	row := Row{RequestsDuringOutage: 5}
	samples := []sample{{at: s(54), inFlight: 10}, {at: s(58), inFlight: 2}, {at: s(60), inFlight: 10}}
	noteOutage(&row, cfg, samples, arr, 10, 50)
	want := "0.4 requests per breaker interval (4s) of the outage; 3 in its first interval, then 2 in the 10 intervals after it (0.2 per interval); full throughput 5.0 scaled s after the outage ended"
	if row.note != want {
		t.Errorf("note = %q\nwant   %q", row.note, want)
	}
	if row.recoveredScaled != 5 {
		t.Errorf("recoveredScaled = %v, want 5", row.recoveredScaled)
	}
}
