package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"
)

// splitmix is a tiny deterministic generator (SplitMix64).
type splitmix struct{ x uint64 }

func newRand(seed uint64) *splitmix { return &splitmix{x: seed} }

func (r *splitmix) next() uint64 {
	r.x += 0x9e3779b97f4a7c15
	z := r.x
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *splitmix) float() float64 { return float64(r.next()>>11) / (1 << 53) }
func (r *splitmix) intn(n int) int { return int(r.next() % uint64(n)) }

// draw is a uniform number in [0, 1) fixed by (seed, key, n, k): the n-th
// request of a route always sees the same faults for the same seed.
func draw(seed int64, key string, n, k uint64) float64 {
	h := uint64(seed) ^ 0x6a09e667f3bcc909
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * 0x100000001b3
	}
	r := newRand(h ^ n*0x9e3779b97f4a7c15 ^ k*0xc2b2ae3d27d4eb4f)
	r.next()
	return r.float()
}

// plan is the faults drawn for one request.
type plan struct {
	latency time.Duration
	pre     *Fault // replaces the action
	after   *Fault // applied to the action's response
}

// drawFaults draws the faults of the next request on route.
func (s *Server) drawFaults(route string) plan {
	sc := &s.cfg.Scenario
	if len(sc.Routes) == 0 {
		return plan{}
	}
	s.smu.Lock()
	n := s.routeN[route]
	s.routeN[route]++
	s.smu.Unlock()
	var p plan
	u := draw(s.cfg.Seed, route, n, 0)
	cum := 0.0
	k := uint64(1)
	for _, rules := range [][]Fault{sc.Routes[route], sc.Routes[scenarioWildcard]} {
		for i := range rules {
			f := &rules[i]
			k++
			if f.Kind == KindLatency {
				if draw(s.cfg.Seed, route, n, k) < f.P {
					v := draw(s.cfg.Seed, route, n, k+1000)
					p.latency += s.scale(f.Min.D() + time.Duration(v*float64(f.Max.D()-f.Min.D())))
				}
				continue
			}
			if p.pre != nil || p.after != nil {
				continue
			}
			cum += f.P
			if u < cum {
				switch f.Kind {
				case KindStatus, KindRateLimit, KindReset:
					p.pre = f
				default:
					p.after = f
				}
			}
		}
	}
	return p
}

// before applies latency and the faults that replace the action. It
// reports whether the response has been dealt with.
func (p plan) before(s *Server, w *statusWriter, r *http.Request) bool {
	if p.latency > 0 {
		s.countFault(KindLatency)
		if !sleep(r, p.latency) {
			return true
		}
	}
	if p.pre == nil {
		return false
	}
	f := p.pre
	s.countFault(faultName(f))
	switch f.Kind {
	case KindRateLimit:
		ra := f.RetryAfter.D()
		if ra == 0 {
			ra = defaultRetryAfter
		}
		writeRetryAfter(w, s.scale(ra))
		writeError(w, http.StatusTooManyRequests, "Too Many Requests")
	case KindReset:
		resetConn(w)
	default:
		writeFaultStatus(w, f.Status, f.Body, f.Message)
	}
	return true
}

// apply sends the recorded response of the action, spoiled by p.after.
func (p plan) apply(s *Server, w *statusWriter, r *http.Request, rec *recorder) {
	f := p.after
	s.countFault(faultName(f))
	switch f.Kind {
	case KindActThenStatus:
		writeFaultStatus(w, f.Status, f.Body, f.Message)
	case KindActThenReset:
		resetConn(w)
	case KindActThenStall:
		d := f.Delay.D()
		if d == 0 {
			d = defaultStallDelay
		}
		if sleep(r, s.scale(d)) {
			resetConn(w)
		}
	case KindTruncate:
		writeTruncated(w, rec)
	case KindMalformedJSON:
		body := rec.body.Bytes()
		broken := append(append([]byte{}, body[:len(body)/2]...), []byte(`,"status":"comp`)...)
		writeRaw(w, http.StatusOK, "application/json", broken)
	}
}

func faultName(f *Fault) string {
	if f.Kind == KindStatus || f.Kind == KindActThenStatus {
		return f.Kind + "_" + strconv.Itoa(f.Status)
	}
	return f.Kind
}

// sleep waits d or until the client goes away; it reports whether d passed.
// It is not resilience.Sleep on purpose: the emulator imports nothing of
// this module (it implements the API's contract independently), and its
// waits end with the request rather than with a caller's context.
func sleep(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

var statusMessages = map[int]string{
	400: "Bad Request", 403: "Forbidden", 404: "Not found", 422: "Upload failed, please try again",
	429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
	503: "Service Unavailable", 504: "Gateway Timeout",
}

// writeFaultStatus answers status with a JSON error, a load balancer's HTML
// page, plain text or an empty body.
func writeFaultStatus(w http.ResponseWriter, status int, body, msg string) {
	if msg == "" {
		msg = statusMessages[status]
		if msg == "" {
			msg = http.StatusText(status)
		}
	}
	text := strconv.Itoa(status) + " " + http.StatusText(status)
	switch body {
	case "html":
		writeRaw(w, status, "text/html", []byte("<html>\r\n<head><title>"+text+"</title></head>\r\n<body>\r\n<center><h1>"+text+"</h1></center>\r\n</body>\r\n</html>\r\n"))
	case "empty":
		writeRaw(w, status, "text/plain", nil)
	case "text":
		writeRaw(w, status, "text/plain", []byte("upstream connect error or disconnect/reset before headers. reset reason: connection termination"))
	default:
		writeError(w, status, msg)
	}
}

// writeOutage answers a request during an outage window.
func (s *Server) writeOutage(w http.ResponseWriter) {
	body := s.cfg.Scenario.OutageBody
	if body == "" {
		body = defaultOutageBody
	}
	writeFaultStatus(w, http.StatusServiceUnavailable, body, "")
}

// resetConn drops the connection with a TCP reset, so the client sees
// "connection reset by peer" and no response.
func resetConn(w http.ResponseWriter) {
	if sw, ok := w.(*statusWriter); ok {
		sw.status = 0
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// writeTruncated sends the status line, headers with the full length, half
// the body, and closes the connection.
func writeTruncated(w *statusWriter, rec *recorder) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer conn.Close() //nolint:errcheck // the point is to cut the connection; nothing to report to
	w.status = rec.code
	body := rec.body.Bytes()
	ct := rec.header.Get("Content-Type")
	bw := bufio.NewWriter(conn)
	_, _ = fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		rec.code, http.StatusText(rec.code), ct, len(body))
	_, _ = bw.Write(body[:len(body)/2])
	_ = bw.Flush()
}

// recorder captures a handler's response for act-then faults.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, code: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(code int)        { r.code = code }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// inOutage reports whether now falls in a scheduled outage window.
func (s *Server) inOutage(now time.Time) bool {
	el := now.Sub(s.started)
	for _, o := range s.cfg.Scenario.Outages {
		if el >= s.scale(o.Start.D()) && el < s.scale(o.End.D()) {
			return true
		}
	}
	return false
}

// rateLimited counts a request against the fixed-window rate limit; when
// over it, it returns the time until the window resets.
func (s *Server) rateLimited(now time.Time) (time.Duration, bool) {
	if s.cfg.RateLimit < 0 {
		return 0, true
	}
	win := s.scale(s.cfg.RateWindow)
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.rateStart.IsZero() || now.Sub(s.rateStart) >= win {
		s.rateStart, s.rateCount = now, 0
	}
	s.rateCount++
	if s.rateCount > s.cfg.RateLimit {
		return max(s.rateStart.Add(win).Sub(now), 0), false
	}
	return 0, true
}

// drawOutcome picks the error a healthy transcript ends with, if any.
func (s *Server) drawOutcome(t *transcript) string {
	u := draw(s.cfg.Seed, "outcome", uint64(t.seq), 0)
	cum := 0.0
	for _, o := range s.cfg.Scenario.Outcomes {
		cum += o.P
		if u < cum {
			s.countFault("outcome_" + outcomeName(o.Message))
			switch o.Message {
			case "server_error":
				return msgServerError
			case "legacy_server_error":
				return msgLegacyServerError
			case "download_error":
				return downloadError(t.audioURL)
			}
			return o.Message
		}
	}
	return ""
}

func outcomeName(msg string) string {
	switch msg {
	case "server_error", "legacy_server_error", "download_error":
		return msg
	}
	return "permanent"
}
