package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Errors returned by [New] and [Config.Validate].
var (
	// ErrInvalidConfig is wrapped by every configuration error.
	ErrInvalidConfig = errors.New("invalid emulator config")
)

// Config configures a [Server]. The zero value is a clean, fast-enough
// emulator; each field documents its default.
type Config struct {
	// APIKeys are the keys accepted in the "Authorization: <key>" header. A
	// missing or other key gets the real 401. With several keys, each is its
	// own project: an upload made with one key and transcribed with another
	// gets the real 403. Empty means any non-empty key is accepted. Defaults
	// to empty.
	APIKeys []string
	// Scenario is the fault plan. Defaults to the zero Scenario: no faults.
	Scenario Scenario
	// Seed seeds every fault draw and the synthetic transcripts: the same seed
	// and request order give the same faults. Defaults to 0.
	Seed int64
	// TimeScale multiplies every duration (processing, delays, outage windows,
	// latency, webhook retries, Retry-After). Defaults to 1.
	TimeScale float64
	// DataDir is where uploads are streamed. Defaults to a temporary
	// directory removed by Close.
	DataDir string
	// Concurrency is the account's concurrency limit: beyond it, transcripts
	// stay queued FIFO with throttled: true. A negative value means unlimited.
	// Scenario.Concurrency overrides it when set. Defaults to 200 (a paid
	// account; free accounts have 5).
	Concurrency int
	// StartDelay is how long a transcript stays queued before processing when
	// a slot is free. A negative value means none. Defaults to 300ms.
	StartDelay time.Duration
	// ProcessingBase is the fixed part of the processing time. Defaults to 2s.
	ProcessingBase time.Duration
	// ProcessingFactor is the processing time per second of audio. A
	// negative value means none. Defaults to 0.1.
	ProcessingFactor float64
	// ProcessingJitter is the relative jitter of the processing time, below
	// 1. A negative value means none. Defaults to 0.1.
	ProcessingJitter float64
	// RateLimit is the number of /v2 requests allowed per RateWindow; beyond
	// it requests get 429 with Retry-After. A negative value disables it.
	// Scenario.RateLimit overrides it when set. Defaults to 20000.
	RateLimit int
	// RateWindow is the rate-limit window. Defaults to 5m.
	RateWindow time.Duration
	// MaxUploadBytes is the largest accepted upload. Defaults to 2.2e9.
	MaxUploadBytes int64
	// Sidecars maps the hex SHA-256 of audio bytes to its transcript text.
	// Defaults to none.
	Sidecars map[string]string
	// SidecarDir holds fixtures: every NAME.txt beside an audio file NAME.EXT
	// becomes a sidecar for that audio. Defaults to none.
	SidecarDir string
	// Clock tells the time. Defaults to time.Now.
	Clock func() time.Time
	// Logger receives debug logs of requests and faults. Defaults to a
	// logger that discards everything.
	Logger *slog.Logger
	// AllowNonLoopbackWebhooks allows webhook deliveries to any host.
	// Defaults to false: loopback addresses only.
	AllowNonLoopbackWebhooks bool
	// HTTPClient fetches external audio_url values and delivers webhooks; its
	// dialer is restricted to loopback addresses unless webhooks are allowed
	// elsewhere. Defaults to a client with such a dialer.
	HTTPClient *http.Client
}

// WithDefaults returns a copy of cfg with every zero field set to its
// documented default.
func (cfg Config) WithDefaults() Config {
	if cfg.TimeScale == 0 {
		cfg.TimeScale = 1
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 200
	}
	if cfg.Scenario.Concurrency != 0 {
		cfg.Concurrency = cfg.Scenario.Concurrency
	}
	if cfg.StartDelay == 0 {
		cfg.StartDelay = 300 * time.Millisecond
	}
	if cfg.ProcessingBase == 0 {
		cfg.ProcessingBase = 2 * time.Second
	}
	if cfg.ProcessingFactor == 0 {
		cfg.ProcessingFactor = 0.1
	}
	if cfg.ProcessingJitter == 0 {
		cfg.ProcessingJitter = 0.1
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 20000
	}
	if cfg.Scenario.RateLimit != 0 {
		cfg.RateLimit = cfg.Scenario.RateLimit
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = 5 * time.Minute
	}
	if cfg.Scenario.RateWindow != 0 {
		cfg.RateWindow = cfg.Scenario.RateWindow.D()
	}
	if cfg.MaxUploadBytes == 0 {
		cfg.MaxUploadBytes = 2_200_000_000
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Validate reports whether cfg (after WithDefaults) is usable.
func (cfg Config) Validate() error {
	switch {
	case cfg.TimeScale <= 0 || math.IsInf(cfg.TimeScale, 0) || math.IsNaN(cfg.TimeScale):
		return fmt.Errorf("%w: time scale must be positive, got %v", ErrInvalidConfig, cfg.TimeScale)
	case cfg.ProcessingBase < 0:
		return fmt.Errorf("%w: processing base must not be negative", ErrInvalidConfig)
	case cfg.ProcessingJitter >= 1:
		return fmt.Errorf("%w: processing jitter must be below 1, got %v", ErrInvalidConfig, cfg.ProcessingJitter)
	case cfg.RateWindow < 0 || cfg.MaxUploadBytes < 0:
		return fmt.Errorf("%w: rate window and upload limit must not be negative", ErrInvalidConfig)
	}
	for _, k := range cfg.APIKeys {
		if k == "" {
			return fmt.Errorf("%w: empty API key", ErrInvalidConfig)
		}
	}
	if err := cfg.Scenario.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// Server is the emulated API. It is safe for concurrent use; Close it when
// done.
type Server struct {
	cfg      Config
	log      *slog.Logger
	mux      *http.ServeMux
	started  time.Time
	dataDir  string
	ownDir   bool
	client   *http.Client
	registry *prometheus.Registry
	metrics  http.Handler
	sidecars map[string]string

	// mu guards the transcript and upload state below.
	mu    sync.Mutex
	state state

	// smu guards stats, fault draw counters and the rate window.
	smu       sync.Mutex
	stats     Stats
	routeN    map[string]uint64
	rateStart time.Time
	rateCount int

	wake      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a running emulator for cfg (defaults applied). It starts one
// background goroutine; Close stops it.
func New(cfg Config) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		started: cfg.Clock(),
		dataDir: cfg.DataDir,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	if s.dataDir == "" {
		dir, err := os.MkdirTemp("", "durascribe-emulator-")
		if err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		s.dataDir, s.ownDir = dir, true
	} else if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	sidecars, err := loadSidecars(cfg.Sidecars, cfg.SidecarDir)
	if err != nil {
		s.removeDir()
		return nil, err
	}
	s.sidecars = sidecars
	s.client = cfg.HTTPClient
	if s.client == nil {
		s.client = newLoopbackClient(cfg.AllowNonLoopbackWebhooks)
	}
	s.state.init()
	s.stats = newStats()
	s.routeN = make(map[string]uint64)
	s.registry = prometheus.NewRegistry()
	s.registry.MustRegister(&collector{s: s})
	s.metrics = promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{})
	s.routes()
	s.wg.Add(1)
	go s.drive()
	return s, nil
}

// Close stops the background goroutine and pending webhook deliveries, and
// removes the data directory if New created it. It is safe to call twice.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		s.wg.Wait()
		s.removeDir()
	})
	return nil
}

func (s *Server) removeDir() {
	if s.ownDir {
		_ = os.RemoveAll(s.dataDir)
	}
}

// Registry returns the server's own Prometheus registry (served at /metrics).
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// now is the server's clock.
func (s *Server) now() time.Time { return s.cfg.Clock() }

// scale applies the time scale to d.
func (s *Server) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.cfg.TimeScale)
}

// route registers one /v2 route under its short name.
type route struct {
	name    string
	pattern string
	h       http.HandlerFunc
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	for _, r := range []route{
		{"upload", "POST /v2/upload", s.handleUpload},
		{"create", "POST /v2/transcript", s.handleCreate},
		{"list", "GET /v2/transcript", s.handleList},
		{"get", "GET /v2/transcript/{id}", s.handleGet},
		{"delete", "DELETE /v2/transcript/{id}", s.handleDelete},
		{"sentences", "GET /v2/transcript/{id}/sentences", s.handleSentences},
		{"paragraphs", "GET /v2/transcript/{id}/paragraphs", s.handleParagraphs},
		{"subtitles", "GET /v2/transcript/{id}/{format}", s.handleSubtitles},
		{"word_search", "GET /v2/transcript/{id}/word-search", s.handleWordSearch},
		{"redacted", "GET /v2/transcript/{id}/redacted-audio", s.handleRedacted},
	} {
		s.mux.Handle(r.pattern, s.v2(r.name, r.h))
	}
	s.mux.HandleFunc("GET /emulator/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Stats())
	})
	s.mux.Handle("GET /metrics", s.metrics)
	s.mux.Handle("/v2/", s.v2("unknown", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	}))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "Not found")
	})
}

// ServeHTTP serves the emulated API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// v2 wraps a /v2 handler with accounting, outages, the rate limit, faults and
// authentication, in that order: a load balancer fails before auth runs.
func (s *Server) v2(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		defer func() { s.countRequest(name, sw.status) }()
		now := s.now()
		if s.inOutage(now) {
			s.countFault("outage")
			s.addStat(func(st *Stats) { st.RequestsDuringOutage++ })
			s.writeOutage(sw)
			return
		}
		if wait, ok := s.rateLimited(now); !ok {
			s.countFault("rate_limit")
			writeRetryAfter(sw, wait)
			writeError(sw, http.StatusTooManyRequests, "Too Many Requests")
			return
		}
		plan := s.drawFaults(name)
		if plan.before(s, sw, r) {
			return
		}
		if !s.authorized(r) {
			writeError(sw, http.StatusUnauthorized, "Authentication error, API token missing/invalid")
			return
		}
		if plan.after == nil {
			h(sw, r)
			return
		}
		rec := newRecorder()
		h(rec, r)
		plan.apply(s, sw, r, rec)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	key := r.Header.Get("Authorization")
	if key == "" {
		return false
	}
	if len(s.cfg.APIKeys) == 0 {
		return true
	}
	for _, k := range s.cfg.APIKeys {
		if k == key {
			return true
		}
	}
	return false
}

// statusWriter remembers the status written, for accounting.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (for faults).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errorBody is the API's error envelope (spec schema Error).
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeRaw(w, status, "application/json", errorJSON(msg))
}

func errorJSON(msg string) []byte {
	b, _ := json.Marshal(errorBody{Error: msg})
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"Internal Server Error"}`)
	}
	writeRaw(w, status, "application/json", b)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeRetryAfter sets Retry-After (whole seconds, rounded up, at least 1)
// and the exact scaled delay in X-Emulator-Retry-After-Ms.
func writeRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := int64(math.Ceil(d.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	w.Header().Set("X-Emulator-Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
}
