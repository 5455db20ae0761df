// Package metrics defines durascribe's Prometheus collectors on an injected
// registry and serves them at /metrics. Its methods take plain values, so
// callers need not import Prometheus; it decides nothing about retries.
package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "durascribe"

// ErrNotGatherer means the registerer given to New cannot be scraped.
var ErrNotGatherer = errors.New("registerer is not a gatherer")

// Metrics holds the collectors. A nil *Metrics is valid and records
// nothing, so metrics can be optional. Methods are safe for concurrent use.
type Metrics struct {
	gatherer prometheus.Gatherer

	requests         *prometheus.CounterVec
	requestDuration  *prometheus.HistogramVec
	untilSuccess     *prometheus.HistogramVec
	retries          *prometheus.CounterVec
	failures         *prometheus.CounterVec
	budgetRejections prometheus.Counter
	breakerState     *prometheus.GaugeVec
	breakerChanges   *prometheus.CounterVec
	jobs             *prometheus.GaugeVec
	inFlight         prometheus.Gauge
	uploadBytes      prometheus.Counter
	webhooks         *prometheus.CounterVec

	mu        sync.Mutex
	jobStates map[string]bool // states ever set, so absent ones drop to 0
}

// New creates the collectors and registers them on reg. Registering twice
// on one registry fails. When reg is also a prometheus.Gatherer (a
// *prometheus.Registry is), Handler serves it.
func New(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_total",
			Help: `API requests by endpoint and HTTP status code ("2xx" for a success without a recorded code, "none" when no response arrived).`},
			[]string{"endpoint", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "request_duration_seconds", Help: "Duration of API requests by endpoint.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}}, []string{"endpoint"}),
		untilSuccess: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace,
			Name: "attempts_until_success", Help: "Attempt number at which calls succeeded, by stage.",
			Buckets: []float64{1, 2, 3, 4, 5, 6, 8, 10, 15, 20}}, []string{"stage"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "retries_total",
			Help: "Attempts beyond the first of a call, by stage."}, []string{"stage"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "attempt_failures_total", Help: "Failed attempts by stage and error class."}, []string{"stage", "class"}),
		budgetRejections: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace,
			Name: "retry_budget_rejections_total", Help: "Retries refused because the retry budget was spent."}),
		breakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "breaker_state",
			Help: "Circuit breaker state by host: 0 closed, 1 half-open, 2 open."}, []string{"host"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace,
			Name: "breaker_transitions_total", Help: "Circuit breaker state changes by host."},
			[]string{"host", "from", "to"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "jobs",
			Help: "Files of the batch by state."}, []string{"state"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "transcripts_in_flight",
			Help: "Transcripts created and not yet completed or failed."}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "upload_bytes_total",
			Help: "Audio bytes sent to the upload endpoint, including re-sends."}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_notifications_total",
			Help: `Completion webhooks received, by result: "accepted", "ignored" (not about a transcript's end), "unauthorized", "invalid".`},
			[]string{"result"}),
		jobStates: map[string]bool{},
	}
	for _, c := range []prometheus.Collector{m.requests, m.requestDuration, m.untilSuccess, m.retries, m.failures,
		m.budgetRejections, m.breakerState, m.breakerChanges, m.jobs, m.inFlight, m.uploadBytes, m.webhooks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	m.gatherer, _ = reg.(prometheus.Gatherer)
	return m, nil
}

// Handler serves the registry in the Prometheus exposition format. If the
// registerer given to New is not a Gatherer, it answers 500 with
// ErrNotGatherer.
func (m *Metrics) Handler() http.Handler {
	if m == nil || m.gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, ErrNotGatherer.Error(), http.StatusInternalServerError)
		})
	}
	return promhttp.HandlerFor(m.gatherer, promhttp.HandlerOpts{})
}

// Attempt is one API attempt as metrics sees it.
type Attempt struct {
	// Stage is "upload", "create", "wait", ...
	Stage string
	// Endpoint is the endpoint template, e.g. "/v2/transcript/{id}"
	// (never a path with an id in it: that would explode cardinality).
	Endpoint string
	// Number is the attempt number within its call, from 1.
	Number int
	// StatusCode is the HTTP status, 0 when none was recorded.
	StatusCode int
	// Class is the error class; ignored when Failed is false.
	Class    string
	Duration time.Duration
	Failed   bool
}

// ObserveAttempt records one attempt: the request counter and duration, a
// retry when Number > 1, the failure class, or (on success) the attempt
// number at which the call succeeded.
func (m *Metrics) ObserveAttempt(a Attempt) {
	if m == nil {
		return
	}
	code := "2xx"
	switch {
	case a.StatusCode > 0:
		code = strconv.Itoa(a.StatusCode)
	case a.Failed:
		code = "none"
	}
	m.requests.WithLabelValues(a.Endpoint, code).Inc()
	m.requestDuration.WithLabelValues(a.Endpoint).Observe(a.Duration.Seconds())
	if a.Number > 1 {
		m.retries.WithLabelValues(a.Stage).Inc()
	}
	if a.Failed {
		m.failures.WithLabelValues(a.Stage, a.Class).Inc()
		return
	}
	m.untilSuccess.WithLabelValues(a.Stage).Observe(float64(max(a.Number, 1)))
}

// AddWebhook counts one webhook notification received, by result.
func (m *Metrics) AddWebhook(result string) {
	if m != nil {
		m.webhooks.WithLabelValues(result).Inc()
	}
}

// AddBudgetRejection counts a retry refused by the retry budget.
func (m *Metrics) AddBudgetRejection() {
	if m != nil {
		m.budgetRejections.Inc()
	}
}

// breakerValue maps a breaker state name to the gauge value; ok is false
// for an unknown name.
func breakerValue(state string) (v float64, ok bool) {
	switch state {
	case "closed":
		return 0, true
	case "half-open":
		return 1, true
	case "open":
		return 2, true
	}
	return 0, false
}

// SetBreakerState sets the breaker gauge of host to state ("closed",
// "half-open" or "open"); unknown states are ignored.
func (m *Metrics) SetBreakerState(host, state string) {
	if m == nil {
		return
	}
	if v, ok := breakerValue(state); ok {
		m.breakerState.WithLabelValues(host).Set(v)
	}
}

// ObserveBreakerTransition counts a breaker state change of host and sets
// its state gauge to "to".
func (m *Metrics) ObserveBreakerTransition(host, from, to string) {
	if m == nil {
		return
	}
	m.breakerChanges.WithLabelValues(host, from, to).Inc()
	m.SetBreakerState(host, to)
}

// SetJobs sets the number of files per state. States set before and absent
// from byState drop to 0, so a state that emptied does not keep its count.
func (m *Metrics) SetJobs(byState map[string]int) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for st := range m.jobStates {
		if _, ok := byState[st]; !ok {
			m.jobs.WithLabelValues(st).Set(0)
		}
	}
	for st, n := range byState {
		m.jobStates[st] = true
		m.jobs.WithLabelValues(st).Set(float64(n))
	}
}

// SetInFlight sets the number of transcripts in flight.
func (m *Metrics) SetInFlight(n int) {
	if m != nil {
		m.inFlight.Set(float64(n))
	}
}

// AddInFlight adds delta (which may be negative) to the transcripts in
// flight.
func (m *Metrics) AddInFlight(delta int) {
	if m != nil {
		m.inFlight.Add(float64(delta))
	}
}

// AddUploadBytes counts n bytes sent to the upload endpoint.
func (m *Metrics) AddUploadBytes(n int64) {
	if m != nil && n > 0 {
		m.uploadBytes.Add(float64(n))
	}
}
