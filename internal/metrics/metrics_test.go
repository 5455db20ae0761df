package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scrape serves m over loopback HTTP and parses the exposition text.
func scrape(t *testing.T, m *Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	if f.GetType() != typ {
		t.Fatalf("%s is a %v, want %v", name, f.GetType(), typ)
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s with labels %v", name, want)
	return nil
}

func TestScrape(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	// A 503, a transport error, then success at attempt 3 of an upload.
	m.ObserveAttempt(Attempt{Stage: "upload", Endpoint: "/v2/upload", Number: 1, StatusCode: 503, Class: "retryable",
		Duration: 200 * time.Millisecond, Failed: true})
	m.ObserveAttempt(Attempt{Stage: "upload", Endpoint: "/v2/upload", Number: 2, Class: "retryable",
		Duration: 50 * time.Millisecond, Failed: true})
	m.ObserveAttempt(Attempt{Stage: "upload", Endpoint: "/v2/upload", Number: 3, Duration: 3 * time.Second})
	m.ObserveAttempt(Attempt{Stage: "create", Endpoint: "/v2/transcript", Number: 1, StatusCode: 200,
		Duration: 100 * time.Millisecond})
	m.AddBudgetRejection()
	m.ObserveBreakerTransition("api.assemblyai.com", "closed", "open")
	m.ObserveBreakerTransition("api.assemblyai.com", "open", "half-open")
	m.SetBreakerState("other.invalid", "bogus") // ignored
	m.SetJobs(map[string]int{"pending": 3, "working": 2})
	m.SetJobs(map[string]int{"working": 1, "done": 4})
	m.SetInFlight(2)
	m.AddInFlight(-1)
	m.AddUploadBytes(1 << 20)
	m.AddUploadBytes(-5) // ignored
	m.AddWebhook("accepted")
	m.AddWebhook("accepted")
	m.AddWebhook("unauthorized")

	fams := scrape(t, m)
	counter := dto.MetricType_COUNTER
	gauge := dto.MetricType_GAUGE
	hist := dto.MetricType_HISTOGRAM
	for _, tc := range []struct {
		name   string
		typ    dto.MetricType
		labels map[string]string
		want   float64
	}{
		{"durascribe_requests_total", counter, map[string]string{"endpoint": "/v2/upload", "code": "503"}, 1},
		{"durascribe_requests_total", counter, map[string]string{"endpoint": "/v2/upload", "code": "none"}, 1},
		{"durascribe_requests_total", counter, map[string]string{"endpoint": "/v2/upload", "code": "2xx"}, 1},
		{"durascribe_requests_total", counter, map[string]string{"endpoint": "/v2/transcript", "code": "200"}, 1},
		{"durascribe_retries_total", counter, map[string]string{"stage": "upload"}, 2},
		{"durascribe_attempt_failures_total", counter, map[string]string{"stage": "upload", "class": "retryable"}, 2},
		{"durascribe_retry_budget_rejections_total", counter, nil, 1},
		{"durascribe_breaker_state", gauge, map[string]string{"host": "api.assemblyai.com"}, 1},
		{"durascribe_breaker_transitions_total", counter, map[string]string{"host": "api.assemblyai.com", "from": "closed", "to": "open"}, 1},
		{"durascribe_jobs", gauge, map[string]string{"state": "pending"}, 0},
		{"durascribe_jobs", gauge, map[string]string{"state": "working"}, 1},
		{"durascribe_jobs", gauge, map[string]string{"state": "done"}, 4},
		{"durascribe_transcripts_in_flight", gauge, nil, 1},
		{"durascribe_upload_bytes_total", counter, nil, 1 << 20},
		{"durascribe_webhook_notifications_total", counter, map[string]string{"result": "accepted"}, 2},
		{"durascribe_webhook_notifications_total", counter, map[string]string{"result": "unauthorized"}, 1},
	} {
		m := find(t, fams, tc.name, tc.typ, tc.labels)
		got := m.GetCounter().GetValue()
		if tc.typ == gauge {
			got = m.GetGauge().GetValue()
		}
		if got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if f := fams["durascribe_breaker_state"]; len(f.GetMetric()) != 1 {
		t.Errorf("breaker_state has %d series, want 1 (unknown state ignored)", len(f.GetMetric()))
	}

	h := find(t, fams, "durascribe_request_duration_seconds", hist, map[string]string{"endpoint": "/v2/upload"}).GetHistogram()
	if h.GetSampleCount() != 3 || h.GetSampleSum() != 3.25 {
		t.Errorf("upload duration: count %d sum %v, want 3 and 3.25", h.GetSampleCount(), h.GetSampleSum())
	}
	h = find(t, fams, "durascribe_attempts_until_success", hist, map[string]string{"stage": "upload"}).GetHistogram()
	if h.GetSampleCount() != 1 || h.GetSampleSum() != 3 {
		t.Errorf("upload attempts until success: count %d sum %v, want 1 and 3", h.GetSampleCount(), h.GetSampleSum())
	}
	for _, b := range h.GetBucket() {
		if want := map[bool]uint64{true: 1, false: 0}[b.GetUpperBound() >= 3]; b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v has %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

func TestRegisterTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := New(reg); err != nil {
		t.Fatal(err)
	}
	_, err := New(reg)
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("second New = %v, want AlreadyRegisteredError", err)
	}
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.ObserveAttempt(Attempt{Stage: "upload", Number: 2})
	m.AddBudgetRejection()
	m.SetBreakerState("h", "open")
	m.ObserveBreakerTransition("h", "closed", "open")
	m.SetJobs(map[string]int{"done": 1})
	m.SetInFlight(1)
	m.AddInFlight(1)
	m.AddUploadBytes(1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("nil handler status = %d, want 500", rec.Code)
	}
}

// registererOnly hides the Gatherer side of a registry.
type registererOnly struct{ prometheus.Registerer }

func TestHandlerNotGatherer(t *testing.T) {
	t.Parallel()
	m, err := New(registererOnly{prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", rec.Code)
	}
}

func BenchmarkObserveAttempt(b *testing.B) {
	m, err := New(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	a := Attempt{Stage: "upload", Endpoint: "/v2/upload", Number: 2, StatusCode: 503, Class: "retryable",
		Duration: time.Second, Failed: true}
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveAttempt(a)
	}
}
