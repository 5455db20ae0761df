// Package ui is durascribe's local dashboard as one http.Handler: riverui
// over the job store's queue, the retry-pattern report rendered live from the
// store, and Prometheus metrics. It reads the store and starts no worker.
// The handler refuses foreign Host names and cross-origin changes
// (LocalOnly) and, given a token, every request without it; choosing the
// socket is the caller's business.
package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"riverqueue.com/riverui"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/metrics"
	"github.com/durascribe/durascribe/internal/report"
	"github.com/durascribe/durascribe/transcribe"
)

// RiverUIPrefix is where riverui is mounted.
const RiverUIPrefix = "/riverui"

// Errors returned by New.
var (
	// ErrNoStore means Config.Store is nil.
	ErrNoStore = errors.New("ui needs a store")
	// ErrNoReportInput means Config.ReportInput is nil.
	ErrNoReportInput = errors.New("ui needs a report input function")
)

// Config configures New.
type Config struct {
	// Store is the job store shown. Required.
	Store *batch.Store
	// ReportInput reads the report's input (files and attempts log) from
	// Store; it is called on every request of the report page. Required.
	ReportInput func(ctx context.Context) (report.Input, error)
	// Registerer receives the metrics collectors; /metrics serves it when it
	// is also a Gatherer. Defaults to a new prometheus.Registry (never the
	// global one).
	Registerer prometheus.Registerer
	// Logger receives riverui's and the handler's errors. Defaults to a
	// logger that discards everything.
	Logger *slog.Logger
	// Token, when set, is required on every request but /metrics: riverui
	// cancels and retries jobs, and the report names files and errors, so
	// another local user or a web page must not reach them (see tokenGate).
	// Defaults to "" (no token: for tests and embedding behind one's own
	// authentication).
	Token string
	// AnyHost accepts requests whatever their Host header names; for a
	// dashboard served on a remote address. Defaults to false: only
	// loopback names (see LocalOnly).
	AnyHost bool
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports whether c can serve.
func (c Config) Validate() error {
	switch {
	case c.Store == nil:
		return ErrNoStore
	case c.ReportInput == nil:
		return ErrNoReportInput
	}
	return nil
}

// Handler serves the dashboard:
//
//	/            an index linking the pages below
//	/report      the HTML report, computed from the store on each request
//	             (?refresh=N asks the browser to reload every N seconds)
//	/report.json the same summary as JSON
//	/metrics     Prometheus metrics: files by state, transcripts in flight
//	/riverui/    riverui: jobs, queues, retries, cancels
//
// It is safe for concurrent use. Start must be called before serving.
type Handler struct {
	cfg   Config
	mux   *http.ServeMux
	river *riverui.Handler
	// serve is mux behind the token gate and LocalOnly.
	serve http.Handler
}

// New builds the dashboard handler over cfg.Store.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := metrics.New(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	endpoints, err := cfg.Store.RiverUIEndpoints(cfg.Logger)
	if err != nil {
		return nil, err
	}
	rh, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: endpoints, Logger: cfg.Logger, Prefix: RiverUIPrefix})
	if err != nil {
		return nil, fmt.Errorf("create riverui handler: %w", err)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), river: rh}
	h.mux.HandleFunc("GET /{$}", h.index)
	h.mux.HandleFunc("GET /report", h.reportHTML)
	h.mux.HandleFunc("GET /report.json", h.reportJSON)
	h.mux.Handle("GET /metrics", MetricsHandler(cfg.Store, m))
	h.mux.Handle(RiverUIPrefix+"/", rh)
	h.mux.Handle(RiverUIPrefix, rh) // riverui redirects to the trailing slash
	h.serve = h.mux
	if cfg.Token != "" {
		h.serve = tokenGate(h.serve, cfg.Token)
	}
	h.serve = LocalOnly(h.serve, cfg.AnyHost)
	return h, nil
}

// Start starts riverui's background services; they stop when ctx is done.
func (h *Handler) Start(ctx context.Context) error {
	if err := h.river.Start(ctx); err != nil {
		return fmt.Errorf("start riverui: %w", err)
	}
	return nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serve.ServeHTTP(w, r) }

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>durascribe</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:40rem;color:#222}
td,th{padding:.2rem 1rem .2rem 0;text-align:left}</style></head>
<body><h1>durascribe</h1>
<table><tr><th>state</th><th>files</th></tr>
{{range .}}<tr><td>{{.State}}</td><td>{{.N}}</td></tr>{{else}}<tr><td colspan="2">no files yet</td></tr>{{end}}
</table>
<ul>
<li><a href="report">Retry-pattern report</a> (<a href="report?refresh=10">live</a>, <a href="report.json">JSON</a>)</li>
<li><a href="riverui/">Queue (riverui)</a></li>
<li><a href="metrics">Prometheus metrics</a></li>
</ul></body></html>
`))

func (h *Handler) index(w http.ResponseWriter, r *http.Request) {
	byState, _, err := jobCounts(r.Context(), h.cfg.Store)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	type row struct {
		State string
		N     int
	}
	var rows []row
	for _, st := range []batch.State{batch.StatePending, batch.StateWorking, batch.StateDone, batch.StateFailed} {
		if n, ok := byState[string(st)]; ok {
			rows = append(rows, row{string(st), n})
		}
	}
	var b bytes.Buffer
	if err := indexTmpl.Execute(&b, rows); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

func (h *Handler) summary(ctx context.Context) (report.Summary, error) {
	in, err := h.cfg.ReportInput(ctx)
	if err != nil {
		return report.Summary{}, err
	}
	return report.Summarize(in), nil
}

func (h *Handler) reportHTML(w http.ResponseWriter, r *http.Request) {
	s, err := h.summary(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := report.WriteHTML(&b, s); err != nil {
		h.fail(w, r, err)
		return
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("refresh")); err == nil && n > 0 {
		w.Header().Set("Refresh", strconv.Itoa(max(n, 2)))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

func (h *Handler) reportJSON(w http.ResponseWriter, r *http.Request) {
	s, err := h.summary(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var b bytes.Buffer
	if err := report.WriteJSON(&b, s); err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b.Bytes())
}

// fail logs err and answers 500 with a generic message: store errors may
// name paths or DSNs, which are not for whoever can reach the page.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.cfg.Logger.ErrorContext(r.Context(), "ui request", slog.String("path", r.URL.Path), slog.Any("error", err))
	http.Error(w, "internal error (see the durascribe ui log)", http.StatusInternalServerError)
}

// MetricsHandler serves m after setting its files-by-state and
// transcripts-in-flight gauges from st, so the figures are as fresh as the
// scrape and hold for every process sharing the store. When the store cannot
// be read, the previous figures are served.
func MetricsHandler(st *batch.Store, m *metrics.Metrics) http.Handler {
	next := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if byState, inFlight, err := jobCounts(r.Context(), st); err == nil {
			m.SetJobs(byState)
			m.SetInFlight(inFlight)
		}
		next.ServeHTTP(w, r)
	})
}

// jobCounts returns the files per state and the transcripts in flight (files
// working in the wait stage: created, not yet completed or failed).
func jobCounts(ctx context.Context, st *batch.Store) (byState map[string]int, inFlight int, err error) {
	counts, err := st.Counts(ctx)
	if err != nil {
		return nil, 0, err
	}
	byState = map[string]int{}
	for _, c := range counts {
		byState[string(c.State)] += c.N
		if c.State == batch.StateWorking && c.Stage == transcribe.StageWait {
			inFlight += c.N
		}
	}
	return byState, inFlight, nil
}
