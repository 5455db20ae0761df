package batch

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/assemblyai"
)

// WebhookConfig turns on AssemblyAI's completion notifications: each
// transcript is created with a webhook_url, and the job waiting for it polls
// as soon as the notification arrives instead of at its estimated end. A
// transcript then costs no status poll beyond the one that fetches it, and
// holds its slot (and the next file) for no polling lag. Polling stays as the
// safety net, later than without webhooks (see webhookFallback): a
// notification can be lost, or go to a process that has since restarted.
type WebhookConfig struct {
	// Listener receives the notifications. Run serves it while it runs and
	// closes it when it returns.
	Listener net.Listener
	// URL is where AssemblyAI sends notifications: a URL that reaches
	// Listener from the internet (a proxy or a tunnel in front of it).
	// Defaults to http://<Listener's address>/, which only a local emulator
	// can reach. Run adds a query parameter naming the job.
	URL string
	// OnNotification, when set, is called for every request the listener
	// answers, with its result: "accepted", "ignored" (a notice that is not
	// about a transcript's end), "unauthorized" (no or a wrong secret) or
	// "invalid" (not a notification). Called concurrently.
	OnNotification func(result string)
}

// webhookHeader carries the store's webhook secret (AssemblyAI's
// webhook_auth_header_name/value; the value is never echoed by the API).
// There is no signature: the secret only keeps strangers from waking jobs,
// and a notification only makes a job poll sooner, never ends it.
const webhookHeader = "X-Durascribe-Webhook-Token"

// webhookJobParam is the webhook_url query parameter naming the River job.
const webhookJobParam = "durascribe_job"

// webhookSettingName names the store's webhook secret, shared by every
// process on the store so that a notification reaching any of them (behind
// one public URL) is accepted, and kept across restarts so that transcripts
// created before one are still accepted after it.
const webhookSettingName = "webhook_secret"

// webhookBodyLimit bounds a notification body (the real one is ~80 bytes).
const webhookBodyLimit = 64 << 10

// webhookSecret returns the store's webhook secret, creating it on first use.
func (s *Store) webhookSecret(ctx context.Context) (string, error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO durascribe_setting (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		webhookSettingName, hex.EncodeToString(b[:])); err != nil {
		return "", fmt.Errorf("save webhook secret: %w", err)
	}
	return s.setting(ctx, webhookSettingName)
}

// webhooks is a run's notification receiver: it hands a notification to the
// job waiting for it in this process, or wakes the job from its snooze.
type webhooks struct {
	base    *url.URL
	secret  []byte
	onNote  func(result string)
	srv     *http.Server
	ln      net.Listener
	wake    func(jobID int64) // makes a snoozed job available now
	logger  *slog.Logger
	serving sync.WaitGroup

	mu      sync.Mutex
	waiting map[int64]chan struct{}
	// early holds notices for jobs not waiting in-process when they came
	// (between a poll and the wait, or still running); the next wait of the
	// job takes it at once.
	early map[int64]time.Time

	// received counts authenticated notifications, ends transcripts that
	// ended; with many ends and no notification the URL is wrong. refused
	// counts requests without the secret: the first few are warned about,
	// the rest only logged at debug level (a stranger must not flood the
	// logs).
	received, ends, refused atomic.Int64
}

// ended forgets a job whose transcript ended, and warns once when
// transcripts end but no notification ever came.
func (h *webhooks) ended(jobID int64) {
	h.forget(jobID)
	if h.ends.Add(1) == DefaultWebhookUnreachedAfter && h.received.Load() == 0 {
		h.logger.Warn("transcripts end but no webhook notification arrives: check that the webhook URL reaches the listener; polling goes on as a fallback",
			slog.String("url", h.base.Redacted()), slog.String("listen", h.ln.Addr().String()))
	}
}

func newWebhooks(cfg WebhookConfig, secret string, wake func(int64), logger *slog.Logger) (*webhooks, error) {
	raw := cfg.URL
	if raw == "" {
		raw = "http://" + cfg.Listener.Addr().String() + "/"
	}
	base, err := url.Parse(raw)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("webhook URL %q: want an absolute http(s) URL", raw)
	}
	h := &webhooks{
		base: base, secret: []byte(secret), ln: cfg.Listener, wake: wake, logger: logger, onNote: cfg.OnNotification,
		waiting: map[int64]chan struct{}{}, early: map[int64]time.Time{},
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: DefaultWebhookReadTimeout, ReadTimeout: DefaultWebhookReadTimeout}
	return h, nil
}

// start serves the listener until close.
func (h *webhooks) start() {
	h.serving.Add(1)
	go func() {
		defer h.serving.Done()
		if err := h.srv.Serve(h.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.logger.Warn("webhook listener stopped", slog.Any("error", err))
		}
	}()
}

// close stops serving at once. Not a graceful Shutdown: the handler never
// blocks, the run is over, and Shutdown waits up to 5 s for connections the
// sender opened but has not sent on yet (it held runs 2 s past their end).
// A delivery cut off here is retried by the sender, and not needed.
func (h *webhooks) close() {
	_ = h.srv.Close()
	h.serving.Wait()
}

// urlFor is the webhook_url of job jobID's transcripts.
func (h *webhooks) urlFor(jobID int64) string {
	u := *h.base
	q := u.Query()
	q.Set(webhookJobParam, strconv.FormatInt(jobID, 10))
	u.RawQuery = q.Encode()
	return u.String()
}

// apply sets the webhook parameters of job jobID's transcripts on p.
func (h *webhooks) apply(p *assemblyai.TranscriptParams, jobID int64) {
	p.WebhookURL = assemblyai.String(h.urlFor(jobID))
	p.WebhookAuthHeaderName = assemblyai.String(webhookHeader)
	p.WebhookAuthHeaderValue = assemblyai.String(string(h.secret))
}

// watch returns a channel that receives job jobID's next notification;
// already full when one came since the job last waited. unwatch ends it.
func (h *webhooks) watch(jobID int64) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.early[jobID]; ok {
		delete(h.early, jobID)
		ch <- struct{}{}
	}
	h.waiting[jobID] = ch
	return ch
}

func (h *webhooks) unwatch(jobID int64) {
	h.mu.Lock()
	delete(h.waiting, jobID)
	h.mu.Unlock()
}

// forget drops a notice for a job that ended.
func (h *webhooks) forget(jobID int64) {
	h.mu.Lock()
	delete(h.early, jobID)
	h.mu.Unlock()
}

// notify hands a notification to job jobID: to its in-process wait, or else
// as a notice for its next wait, and it reports whether a wait took it.
func (h *webhooks) notify(jobID int64) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiting[jobID]; ok {
		select {
		case ch <- struct{}{}:
		default:
		}
		return true
	}
	for id, at := range h.early {
		if now.Sub(at) > DefaultWebhookNoticeTTL {
			delete(h.early, id)
		}
	}
	h.early[jobID] = now
	return false
}

// ServeHTTP receives one notification. It answers 2xx to every
// authenticated notification, also for jobs it does not know (AssemblyAI
// would retry anything else ten times), and 401 without the secret (a 4xx is
// not retried).
func (h *webhooks) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	result := "invalid"
	if h.onNote != nil {
		defer func() { h.onNote(result) }()
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "webhook notifications are POSTed", http.StatusMethodNotAllowed)
		return
	}
	if subtle.ConstantTimeCompare([]byte(req.Header.Get(webhookHeader)), h.secret) != 1 {
		level := slog.LevelWarn
		if h.refused.Add(1) > DefaultWebhookRefusedWarnings {
			level = slog.LevelDebug
		}
		h.logger.Log(req.Context(), level, "webhook notification refused: missing or wrong token", slog.String("remote", req.RemoteAddr))
		result = "unauthorized"
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var n struct {
		TranscriptID string `json:"transcript_id"`
		Status       string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(req.Body, webhookBodyLimit)).Decode(&n); err != nil {
		http.Error(w, "body is not a transcript notification", http.StatusBadRequest)
		return
	}
	jobID, err := strconv.ParseInt(req.URL.Query().Get(webhookJobParam), 10, 64)
	if err != nil || jobID <= 0 {
		http.Error(w, "no "+webhookJobParam+" in the URL", http.StatusBadRequest)
		return
	}
	h.received.Add(1)
	w.WriteHeader(http.StatusNoContent)
	// A redacted-audio notice says nothing about the transcript's state.
	if n.Status != "completed" && n.Status != "error" {
		result = "ignored"
		return
	}
	result = "accepted"
	h.logger.Debug("webhook notification", slog.Int64("job", jobID),
		slog.String("transcript_id", n.TranscriptID), slog.String("status", n.Status))
	if !h.notify(jobID) {
		h.wake(jobID)
	}
}

// webhookFallback is when a job with webhooks on polls without having been
// notified: half as late again as it would without them, plus
// DefaultWebhookRedelivery of API time (scaled by the run).
func (r *Runner) webhookFallback(d time.Duration) time.Duration {
	return d + d/2 + r.scale(DefaultWebhookRedelivery)
}

// webhookWait is the longest in-process wait for a notification; a job whose
// fallback poll is further away snoozes after it, and the notification wakes
// it through River (JobRetry). Well under JobTimeout and RescueAfter.
func (r *Runner) webhookWait() time.Duration {
	return min(r.cfg.JobTimeout/DefaultWebhookWaitDivisor, DefaultWebhookWait)
}

// wakeNotified makes a snoozed job available now, after its notification
// came: its poll is due at once. A parked job (waiting out an open breaker)
// is left to the breaker's close. Only a snoozed job is woken: scheduled, or
// available with a later scheduled_at (River's state for snoozes shorter than
// its scheduler interval); JobRetry would also run a completed job again (a
// late or repeated notification) and cut short another process's retry
// delay.
func (r *Runner) wakeNotified(jobID int64) {
	r.breakerMu.Lock()
	_, parked := r.parked[jobID]
	if parked || r.wakeCtx.Err() != nil { // stop cancels wakeCtx under breakerMu before wakes.Wait
		r.breakerMu.Unlock()
		return
	}
	r.wakes.Add(1)
	r.breakerMu.Unlock()
	r.polls.take(jobID)
	go func() {
		defer r.wakes.Done()
		ctx, cancel := context.WithTimeout(r.wakeCtx, DefaultWebhookWakeTimeout)
		defer cancel()
		row, err := r.client.JobGet(ctx, jobID)
		if err == nil && (row.State == rivertype.JobStateScheduled || row.State == rivertype.JobStateAvailable) {
			_, err = r.client.JobRetry(ctx, jobID)
		}
		if err != nil && ctx.Err() == nil {
			r.logger.Debug("wake notified job", slog.Int64("job", jobID), slog.Any("error", err))
		}
	}()
}

// awaitNotice waits up to d for notice (nil: none) or the run's stop. It
// reports whether the notice came.
func (r *Runner) awaitNotice(ctx context.Context, d time.Duration, notice <-chan struct{}) (bool, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-r.stopCh:
		return false, errStopping
	case <-r.halt:
		return false, errStopping
	case <-notice:
		return true, nil
	case <-timer.C:
		return false, nil
	}
}

// errStopping ends an in-process wait when the run stops.
var errStopping = errors.New("run stopping")
