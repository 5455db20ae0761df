package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/durascribe/durascribe/internal/report"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startCmd runs a long-lived command in the background; stop cancels it and
// returns its exit code.
func startCmd(t *testing.T, args ...string) (out, errOut *syncBuffer, stop func() int) {
	t.Helper()
	out, errOut = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(t.Context())
	s := &streams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(string) string { return "" }}
	code := make(chan int, 1)
	go func() { code <- run(ctx, s, args) }()
	var once sync.Once
	var c int
	stop = func() int {
		once.Do(func() { cancel(); c = <-code })
		return c
	}
	t.Cleanup(func() { stop() })
	return out, errOut, stop
}

// waitFor polls until re matches w's text and returns the first group.
func waitFor(t *testing.T, w *syncBuffer, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m[1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no match for %s in:\n%s", re, w.String())
	return ""
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := httpGet(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", url, code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, body)
	}
	return fams
}

// sumWhere adds the values of fam's series whose labels include want.
func sumWhere(fam *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range fam.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestWorkerMetrics works a batch on the flaky and outage emulators with
// --metrics-addr and scrapes /metrics while the worker runs.
func TestWorkerMetrics(t *testing.T) {
	t.Parallel()
	// An outage from the emulator's start, 2 s long at this time scale, so
	// that it is still on when the worker's first requests arrive however
	// slowly it starts (the named "outage" begins 0.1 s in and may be over);
	// ten uploads at once fail within the breaker's window and open it.
	outage := filepath.Join(t.TempDir(), "outage.json")
	if err := os.WriteFile(outage, []byte(`{"name": "outage", "outages": [{"start": 0, "end": 200}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, scenario := range []string{"flaky", outage} {
		t.Run(strings.TrimSuffix(filepath.Base(scenario), ".json"), func(t *testing.T) {
			t.Parallel()
			testWorkerMetrics(t, scenario)
		})
	}
}

func testWorkerMetrics(t *testing.T, scenario string) {
	const n = 10
	dir, tmp := t.TempDir(), t.TempDir()
	db := filepath.Join(tmp, "ds.db")
	writeClips(t, dir, n)
	if code, out, errOut := runArgs(t, "enqueue", dir, "--db", db); code != ExitOK {
		t.Fatalf("enqueue: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, stop := startCmd(t, "worker", "--db", db, "--emulator="+scenario, "--time-scale", "0.01",
		"--metrics-addr", "127.0.0.1:0", "--upload-concurrency", "10")
	url := waitFor(t, errOut, regexp.MustCompile(`metrics: serving (http://\S+/metrics)`))
	rebound, _ := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	rebound.Host = "attacker.example" // a page whose name was rebound to 127.0.0.1
	if resp, err := http.DefaultClient.Do(rebound); err != nil {
		t.Fatal(err)
	} else if _ = resp.Body.Close(); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("metrics for a rebound Host: %s, want 421", resp.Status)
	}

	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(60 * time.Second)
	for {
		fams = scrape(t, url)
		jobs := fams["durascribe_jobs"]
		if jobs != nil && sumWhere(jobs, map[string]string{"state": "done"})+
			sumWhere(jobs, map[string]string{"state": "failed"}) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("files not finished in time; stderr:\n%s", errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	req := fams["durascribe_requests_total"]
	if req == nil {
		t.Fatal("no durascribe_requests_total")
	}
	for _, ep := range []string{"POST /v2/upload", "POST /v2/transcript", "GET /v2/transcript/{id}"} {
		if v := sumWhere(req, map[string]string{"endpoint": ep}); v == 0 {
			t.Errorf("durascribe_requests_total{endpoint=%q} = 0", ep)
		}
	}
	h := fams["durascribe_attempts_until_success"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM || sumWhere(h, map[string]string{"stage": "upload"}) == 0 {
		t.Errorf("attempts_until_success histogram missing or empty: %v", h)
	}
	if fams["durascribe_request_duration_seconds"] == nil {
		t.Error("no durascribe_request_duration_seconds")
	}
	if up := fams["durascribe_upload_bytes_total"]; up == nil || sumWhere(up, nil) < n*8000 {
		t.Errorf("upload bytes = %v, want at least %d", sumWhere(up, nil), n*8000)
	}
	if fams["durascribe_transcripts_in_flight"] == nil {
		t.Error("no durascribe_transcripts_in_flight")
	}
	t.Logf("requests: %v, retries: %v, failures: %v, breaker transitions: %v, 503s: %v", sumWhere(req, nil),
		sumWhere(fams["durascribe_retries_total"], nil), sumWhere(fams["durascribe_attempt_failures_total"], nil),
		sumWhere(fams["durascribe_breaker_transitions_total"], nil), sumWhere(req, map[string]string{"code": "503"}))
	if scenario != "flaky" {
		if v := sumWhere(req, map[string]string{"code": "503"}); v == 0 {
			t.Error("no 503 counted during the outage")
		}
		if v := sumWhere(fams["durascribe_breaker_transitions_total"], map[string]string{"to": "open"}); v == 0 {
			t.Error("the breaker never opened during the outage")
		}
		if v := sumWhere(fams["durascribe_attempt_failures_total"], map[string]string{"class": "retryable"}); v == 0 {
			t.Error("no retryable failure counted during the outage")
		}
		if fams["durascribe_breaker_state"] == nil {
			t.Error("no durascribe_breaker_state")
		}
	}
	if code := stop(); code != ExitOK {
		t.Errorf("worker stopped by a signal: exit %d, want %d", code, ExitOK)
	}
}

// TestIdleWorkerStopsWithZero: a worker with nothing to do, stopped as
// systemd or Kubernetes stop it (SIGTERM), exits 0.
func TestIdleWorkerStopsWithZero(t *testing.T) {
	t.Parallel()
	db, dir := filepath.Join(t.TempDir(), "ds.db"), t.TempDir()
	writeClips(t, dir, 1)
	if code, out, errOut := runArgs(t, "enqueue", dir, "--db", db); code != ExitOK {
		t.Fatalf("enqueue: exit %d\n%s%s", code, out, errOut)
	}
	out, _, stop := startCmd(t, "worker", "--db", db, "--emulator", "--time-scale", "0.01")
	waitFor(t, out, regexp.MustCompile(`(done) `))
	if code := stop(); code != ExitOK {
		t.Fatalf("idle worker stopped: exit %d, want %d\n%s", code, ExitOK, out.String())
	}
}

func TestMetricsAddrRemoteNeedsFlag(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 1)
	db := filepath.Join(tmp, "ds.db")
	code, _, stderr := runArgs(t, "transcribe", dir, "--db", db, "--emulator", "--metrics-addr", "0.0.0.0:9999")
	if code != ExitUsage || !strings.Contains(stderr, "--allow-remote") {
		t.Fatalf("exit %d, want %d: %s", code, ExitUsage, stderr)
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("the job store was created before the address was checked")
	}
	if code, _, _ := runArgs(t, "ui", "--db", db, "--addr", "0.0.0.0:9999"); code != ExitUsage {
		t.Errorf("ui on 0.0.0.0: exit %d, want %d", code, ExitUsage)
	}
	if code, _, _ := runArgs(t, "transcribe", dir, "--db", db, "--emulator", "--keep-attempts", "-1h"); code != ExitUsage {
		t.Errorf("negative --keep-attempts: exit %d, want %d", code, ExitUsage)
	}
}

func TestTranscribeKeepAttemptsPrunesDoneFiles(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 2)
	db := filepath.Join(tmp, "ds.db")
	args := []string{"transcribe", dir, "--db", db, "--emulator", "--time-scale", "0.01"}
	if code, out, errOut := runArgs(t, args...); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// A week's retention keeps a run of a moment ago.
	code, out, _ := runArgs(t, append(args, "--keep-attempts", "168h")...)
	if code != ExitOK || strings.Contains(out, "pruned") {
		t.Fatalf("168h: exit %d\n%s", code, out)
	}
	time.Sleep(1100 * time.Millisecond) // finished_at is compared to the second
	code, out, _ = runArgs(t, append(args, "--keep-attempts", "1s")...)
	if code != ExitOK || !regexp.MustCompile(`pruned \d+ attempt rows`).MatchString(out) {
		t.Fatalf("1s: exit %d\n%s", code, out)
	}
	code, out, _ = runArgs(t, "report", "--db", db, "--json")
	if code != ExitOK || !strings.Contains(out, `"done"`) {
		t.Fatalf("report after pruning: exit %d\n%s", code, out)
	}
}

func TestUICommand(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	writeClips(t, dir, 2)
	db := filepath.Join(tmp, "ds.db")
	if code, out, errOut := runArgs(t, "transcribe", dir, "--db", db, "--emulator", "--time-scale", "0.01"); code != ExitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, stop := startCmd(t, "ui", "--db", db, "--addr", "127.0.0.1:0")
	login := waitFor(t, out, regexp.MustCompile(`(http://\S+)\n`))
	base, token, ok := strings.Cut(login, "/?token=")
	if !ok || len(token) < 32 {
		t.Fatalf("ui printed %q, want http://ADDR/?token=TOKEN", login)
	}
	if code, _ := httpGet(t, base+"/report"); code != http.StatusUnauthorized {
		t.Errorf("/report without the token: %d, want 401", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/metrics", nil)
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("rebound Host: %s, want 421", resp.Status)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	httpGet := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := browser.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close() //nolint:errcheck // response body, read only
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := httpGet(t, login); code != http.StatusOK {
		t.Fatalf("open %s: %d", login, code)
	}

	code, body := httpGet(t, base+"/report")
	if code != http.StatusOK {
		t.Fatalf("/report: %d", code)
	}
	for _, id := range report.ChartIDs {
		if !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("/report lacks chart %s", id)
		}
	}
	if code, body := httpGet(t, base+"/riverui/"); code != http.StatusOK || !strings.Contains(body, "<script") {
		t.Errorf("/riverui/: %d %.200s", code, body)
	}
	if code, body := httpGet(t, base+"/riverui/api/jobs?state=completed"); code != http.StatusOK ||
		strings.Count(body, `"transcribe_file"`) != 2 {
		t.Errorf("/riverui/api/jobs: %d %s", code, body)
	}
	fams := scrape(t, base+"/metrics")
	if v := sumWhere(fams["durascribe_jobs"], map[string]string{"state": "done"}); v != 2 {
		t.Errorf("durascribe_jobs{state=done} = %v, want 2", v)
	}
	if code := stop(); code != ExitOK {
		t.Errorf("ui exit %d\n%s", code, errOut.String())
	}
}
