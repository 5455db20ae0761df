package emulator

import (
	"maps"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is the emulator's ground truth, served as JSON at GET
// /emulator/stats. Counters only grow.
type Stats struct {
	// Scenario and Seed identify the fault plan.
	Scenario string `json:"scenario"`
	Seed     int64  `json:"seed"`
	// Requests counts /v2 requests by route name and response status; status
	// 0 means the connection was dropped without a response.
	Requests map[string]map[int]int `json:"requests"`
	// Uploads counts stored uploads and UploadBytes their size. ReUploads
	// counts uploads of bytes already uploaded before.
	Uploads     int   `json:"uploads"`
	UploadBytes int64 `json:"upload_bytes"`
	ReUploads   int   `json:"re_uploads"`
	// TranscriptsCreated counts transcripts created (what would be billed,
	// before errors); Completed, Errored and Deleted count what became of
	// them.
	TranscriptsCreated   int `json:"transcripts_created"`
	TranscriptsCompleted int `json:"transcripts_completed"`
	TranscriptsErrored   int `json:"transcripts_errored"`
	TranscriptsDeleted   int `json:"transcripts_deleted"`
	// Transcripts counts current transcripts by status.
	Transcripts map[string]int `json:"transcripts"`
	// DuplicateTranscripts counts transcripts created for audio (same bytes,
	// or same external URL) that already had a transcript queued, processing
	// or completed: what would be billed twice.
	DuplicateTranscripts int `json:"duplicate_transcripts"`
	// ResubmitsAfterError counts transcripts created for audio whose earlier
	// transcripts all ended in error.
	ResubmitsAfterError int `json:"resubmits_after_error"`
	// WebhookAttempts counts webhook POSTs, WebhookDeliveries those answered
	// 2xx, and WebhookFailures deliveries given up.
	WebhookAttempts   int `json:"webhook_attempts"`
	WebhookDeliveries int `json:"webhook_deliveries"`
	WebhookFailures   int `json:"webhook_failures"`
	// Faults counts injected faults by kind (e.g. "status_503", "reset",
	// "act_then_reset", "latency", "rate_limit", "outage",
	// "outcome_server_error").
	Faults map[string]int `json:"faults"`
	// RequestsDuringOutage counts requests answered 503 by an outage window.
	RequestsDuringOutage int `json:"requests_during_outage"`
}

func newStats() Stats {
	return Stats{Requests: map[string]map[int]int{}, Faults: map[string]int{}}
}

// Stats returns a copy of the current statistics.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	s.advanceLocked(s.now())
	byStatus := map[string]int{statusQueued: 0, statusProcessing: 0, statusCompleted: 0, statusError: 0}
	for _, t := range s.state.order {
		byStatus[t.status]++
	}
	s.mu.Unlock()
	s.smu.Lock()
	defer s.smu.Unlock()
	out := s.stats
	out.Scenario, out.Seed = s.cfg.Scenario.Name, s.cfg.Seed
	out.Requests = make(map[string]map[int]int, len(s.stats.Requests))
	for r, m := range s.stats.Requests {
		out.Requests[r] = maps.Clone(m)
	}
	out.Faults = maps.Clone(s.stats.Faults)
	out.Transcripts = byStatus
	return out
}

func (s *Server) addStat(f func(*Stats)) {
	s.smu.Lock()
	f(&s.stats)
	s.smu.Unlock()
}

func (s *Server) countRequest(route string, status int) {
	s.smu.Lock()
	m := s.stats.Requests[route]
	if m == nil {
		m = map[int]int{}
		s.stats.Requests[route] = m
	}
	m[status]++
	s.smu.Unlock()
}

func (s *Server) countFault(kind string) {
	s.smu.Lock()
	s.stats.Faults[kind]++
	s.smu.Unlock()
	s.log.Debug("fault injected", "kind", kind)
}

// collector exposes Stats as Prometheus metrics on the server's registry.
type collector struct{ s *Server }

var (
	descRequests    = prometheus.NewDesc("emulator_requests_total", "Requests by route and status (0: dropped).", []string{"route", "status"}, nil)
	descFaults      = prometheus.NewDesc("emulator_faults_total", "Injected faults by kind.", []string{"kind"}, nil)
	descTranscripts = prometheus.NewDesc("emulator_transcripts", "Current transcripts by status.", []string{"status"}, nil)
	descCounters    = map[string]*prometheus.Desc{}
	counterNames    = []string{"uploads", "upload_bytes", "re_uploads", "transcripts_created",
		"transcripts_completed", "transcripts_errored", "transcripts_deleted", "duplicate_transcripts",
		"resubmits_after_error", "webhook_attempts", "webhook_deliveries", "webhook_failures",
		"requests_during_outage"}
)

func init() {
	for _, n := range counterNames {
		descCounters[n] = prometheus.NewDesc("emulator_"+n+"_total", "See Stats."+n+" in package emulator.", nil, nil)
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRequests
	ch <- descFaults
	ch <- descTranscripts
	for _, d := range descCounters {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for route, m := range st.Requests {
		for code, n := range m {
			ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), route, strconv.Itoa(code))
		}
	}
	for kind, n := range st.Faults {
		ch <- prometheus.MustNewConstMetric(descFaults, prometheus.CounterValue, float64(n), kind)
	}
	for status, n := range st.Transcripts {
		ch <- prometheus.MustNewConstMetric(descTranscripts, prometheus.GaugeValue, float64(n), status)
	}
	vals := map[string]float64{
		"uploads": float64(st.Uploads), "upload_bytes": float64(st.UploadBytes), "re_uploads": float64(st.ReUploads),
		"transcripts_created": float64(st.TranscriptsCreated), "transcripts_completed": float64(st.TranscriptsCompleted),
		"transcripts_errored": float64(st.TranscriptsErrored), "transcripts_deleted": float64(st.TranscriptsDeleted),
		"duplicate_transcripts": float64(st.DuplicateTranscripts), "resubmits_after_error": float64(st.ResubmitsAfterError),
		"webhook_attempts": float64(st.WebhookAttempts), "webhook_deliveries": float64(st.WebhookDeliveries),
		"webhook_failures": float64(st.WebhookFailures), "requests_during_outage": float64(st.RequestsDuringOutage),
	}
	for n, d := range descCounters {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, vals[n])
	}
}
