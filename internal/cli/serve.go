package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/durascribe/durascribe/internal/metrics"
	"github.com/durascribe/durascribe/internal/ui"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// checkListenAddr accepts addr if it is a loopback address, or if
// allowRemote. flag names the address flag in messages.
func checkListenAddr(addr, flag string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf(fmt.Errorf("parse %s: %w", flag, err))
	}
	if !isLoopback(host) && !allowRemote {
		return usageErrorf(fmt.Errorf("%s %s is not a loopback address; add --allow-remote to serve it anyway", flag, addr))
	}
	return nil
}

// listenLocal listens on addr after checkListenAddr; a remote address is
// served with a warning on errOut.
func listenLocal(ctx context.Context, addr, flag string, allowRemote bool, errOut io.Writer) (net.Listener, error) {
	if err := checkListenAddr(addr, flag, allowRemote); err != nil {
		return nil, err
	}
	if host, _, _ := net.SplitHostPort(addr); !isLoopback(host) {
		fmt.Fprintf(errOut, "warning: serving on %s without authentication: anyone who can reach it can use it\n", addr)
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ln, nil
}

// The CLI's own HTTP servers (metrics, dashboard, the emulator a run starts).
const (
	// readHeaderTimeout keeps a client that never finishes its headers from
	// holding a connection (and quiets gosec's Slowloris warning); the
	// clients are local tools sending a few bytes, so ten seconds is ample.
	// Round.
	readHeaderTimeout = 10 * time.Second
	// shutdownTimeout bounds how long a stopping server waits for requests
	// in progress (a scrape, a page) before it closes them: they take
	// milliseconds, and a stop must not hang. Round.
	shutdownTimeout = 5 * time.Second
)

// serveHTTP serves h on ln until stop is called; stop waits up to
// shutdownTimeout for requests in progress.
func serveHTTP(ln net.Listener, h http.Handler) (stop func()) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
		}
		<-done
	}
}

// serveMetrics serves /metrics for a working session on a fresh registry and
// wires the run's attempts and breaker changes into it. Files by state and
// transcripts in flight are read from the store at each scrape, so they
// count every worker sharing it; the other series count this process.
func (s *session) serveMetrics(ctx context.Context, st *streams, o *workOptions) error {
	if o.MetricsAddr == "" {
		return nil
	}
	ln, err := listenLocal(ctx, o.MetricsAddr, "--metrics-addr", o.AllowRemote, st.ErrOut)
	if err != nil {
		return err
	}
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		_ = ln.Close()
		return err
	}
	s.cfg.Transcribe.OnEvent = func(ev transcribe.Event) { observeEvent(m, ev) }
	s.cfg.Breaker.OnStateChange = func(host string, from, to resilience.BreakerState) {
		m.ObserveBreakerTransition(host, from.String(), to.String())
	}
	s.cfg.Webhook.OnNotification = m.AddWebhook
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", ui.MetricsHandler(s.store, m))
	// Metrics are counts, read-only, and scraped without cookies: no token,
	// but no DNS-rebound page may read them either.
	s.cleanups = append(s.cleanups, serveHTTP(ln, ui.LocalOnly(mux, o.AllowRemote)))
	fmt.Fprintf(st.ErrOut, "metrics: serving http://%s/metrics\n", ln.Addr())
	return nil
}

// observeEvent records one API attempt in m. Upload bytes are counted as the
// file's size when the upload endpoint accepted it (a re-upload counts
// again); bytes of failed uploads are not known and not counted.
func observeEvent(m *metrics.Metrics, ev transcribe.Event) {
	failed := ev.Error != ""
	m.ObserveAttempt(metrics.Attempt{Stage: string(ev.Stage), Endpoint: ev.Endpoint, Number: ev.Attempt,
		StatusCode: ev.StatusCode, Class: ev.Class, Duration: ev.Duration, Failed: failed})
	if ev.BudgetRejected {
		m.AddBudgetRejection()
	}
	if ev.Stage == transcribe.StageUpload && !failed && !strings.Contains(ev.Source, "://") {
		if fi, err := os.Stat(ev.Source); err == nil {
			m.AddUploadBytes(fi.Size())
		}
	}
}

// startPruning deletes the attempts log of files done more than keep ago,
// now and then every hour until the session closes (failed files keep
// theirs: see batch.Store.PruneAttempts).
func (s *session) startPruning(ctx context.Context, st *streams, keep time.Duration) error {
	if keep <= 0 {
		return nil
	}
	prune := func(ctx context.Context) error {
		n, err := s.store.PruneAttempts(ctx, time.Now().Add(-keep))
		if err == nil && n > 0 {
			progressf(st.Out, "pruned %d attempt rows of files done more than %s ago", n, keep)
		}
		return err
	}
	if err := prune(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if err := prune(ctx); err != nil && ctx.Err() == nil {
					s.logger.Warn("prune attempts", slog.Any("error", err))
				}
			}
		}
	}()
	s.cleanups = append(s.cleanups, func() { cancel(); <-done })
	return nil
}
