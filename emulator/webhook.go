package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// Webhook delivery policy of the real API (scaled by TimeScale).
const (
	webhookAttempts = 10
	webhookSpacing  = 10 * time.Second
	webhookTimeout  = 10 * time.Second
	// webhookMinTimeout is a floor under the scaled webhookTimeout: a
	// loopback receiver on a loaded machine needs real time to answer
	// whatever the time scale. Chosen by hand.
	webhookMinTimeout = 100 * time.Millisecond
)

// The loopback client's transport: a dial to a loopback address is instant
// or refused, so five seconds only bounds a stuck one; idle connections
// are kept about as long as a test run. Both round.
const (
	loopbackDialTimeout = 5 * time.Second
	loopbackIdleTimeout = 30 * time.Second
)

// errNotLoopback refuses connections to non-loopback addresses.
var errNotLoopback = errors.New("emulator: only loopback addresses are allowed")

// isLoopbackHost reports whether host names the local machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newLoopbackClient returns a client whose dialer refuses non-loopback
// addresses (after name resolution) unless anywhere is true.
func newLoopbackClient(anywhere bool) *http.Client {
	d := &net.Dialer{Timeout: loopbackDialTimeout}
	if !anywhere {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return fmt.Errorf("dial %s: %w", address, err)
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return errNotLoopback
			}
			return nil
		}
	}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 16, IdleConnTimeout: loopbackIdleTimeout}
	return &http.Client{Transport: tr}
}

// startWebhook delivers t's completion notification in the background: up to
// 10 attempts 10 s apart, stopping at the first 2xx or 4xx answer, and
// records the last status code in webhook_status_code. Called with s.mu held.
func (s *Server) startWebhook(t *transcript) {
	body, _ := json.Marshal(map[string]string{"transcript_id": t.id, "status": t.status})
	target := *t.params.WebhookURL
	var hname, hvalue string
	if t.params.WebhookAuthHeaderName != nil && t.params.WebhookAuthHeaderValue != nil {
		hname, hvalue = *t.params.WebhookAuthHeaderName, *t.params.WebhookAuthHeaderValue
	}
	if u, err := url.Parse(target); err != nil || (!s.cfg.AllowNonLoopbackWebhooks && !isLoopbackHost(u.Hostname())) {
		s.log.Debug("webhook refused: not a loopback address")
		s.addStat(func(st *Stats) { st.WebhookFailures++ })
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			select {
			case <-s.done:
				cancel()
			case <-ctx.Done():
			}
		}()
		for attempt := 1; attempt <= webhookAttempts; attempt++ {
			if attempt > 1 {
				timer := time.NewTimer(s.scale(webhookSpacing))
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
			code := s.deliver(ctx, target, hname, hvalue, body)
			s.addStat(func(st *Stats) {
				st.WebhookAttempts++
				if code >= 200 && code < 300 {
					st.WebhookDeliveries++
				}
			})
			if code != 0 {
				s.mu.Lock()
				t.webhookStatus = &code
				t.invalidate()
				s.mu.Unlock()
			}
			if code >= 200 && code < 500 && (code < 300 || code >= 400) {
				if code >= 400 {
					s.addStat(func(st *Stats) { st.WebhookFailures++ })
				}
				return
			}
		}
		s.addStat(func(st *Stats) { st.WebhookFailures++ })
	}()
}

// deliver makes one attempt and returns the status code, or 0 if there was
// no answer.
func (s *Server) deliver(ctx context.Context, target, hname, hvalue string, body []byte) int {
	ctx, cancel := context.WithTimeout(ctx, max(s.scale(webhookTimeout), webhookMinTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "durascribe-emulator")
	if hname != "" {
		req.Header.Set(hname, hvalue)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Debug("webhook attempt", "err", err)
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}
