package resilience

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type stateLog struct {
	mu sync.Mutex
	s  []string
}

func (l *stateLog) record(host string, from, to BreakerState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s = append(l.s, fmt.Sprintf("%s: %v→%v", host, from, to))
}

func (l *stateLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.s)
}

func testBreaker(clock *fakeClock, log *stateLog, rnd float64) *Breaker {
	cfg := BreakerConfig{
		FailureRateThreshold: 0.5, MinRequests: 10, Window: 30 * time.Second,
		OpenDelay: 20 * time.Second, JitterFactor: 0.25,
		Rand: func() float64 { return rnd },
	}
	if clock != nil {
		cfg.Clock = clock.Now
	}
	if log != nil {
		cfg.OnStateChange = log.record
	}
	return NewBreakers(cfg).For("api.example")
}

// call makes one call through b and records the outcome.
func call(t *testing.T, b *Breaker, success bool) {
	t.Helper()
	p, err := b.Acquire()
	if err != nil {
		t.Fatalf("Acquire() = %v, want a permit", err)
	}
	p.Record(success)
}

func TestBreakerOpensOnFailureRate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	log := &stateLog{}
	b := testBreaker(clock, log, 0.5)
	for range 9 {
		call(t, b, false)
	}
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("State() = %v after 9 failures with MinRequests 10, want closed", s)
	}
	call(t, b, false)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("State() = %v after 10 failures, want open", s)
	}
	_, err := b.Acquire()
	var oe *BreakerOpenError
	if !errors.As(err, &oe) || !errors.Is(err, ErrBreakerOpen) || oe.Host != "api.example" || oe.RetryIn != 20*time.Second {
		t.Errorf("Acquire() = %v, want *BreakerOpenError{api.example, 20s} wrapping ErrBreakerOpen", err)
	}
	if got, want := log.get(), []string{"api.example: closed→open"}; !slices.Equal(got, want) {
		t.Errorf("state changes = %q, want %q", got, want)
	}
}

func TestBreakerSuccessesDilute(t *testing.T) {
	t.Parallel()
	b := testBreaker(newFakeClock(), nil, 0.5)
	for range 6 {
		call(t, b, true)
	}
	for range 5 {
		call(t, b, false)
	}
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("State() = %v at 5/11 failures, want closed", s)
	}
	call(t, b, false)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("State() = %v at 6/12 failures, want open", s)
	}
}

func TestBreakerOpensOnConsecutiveFailures(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBreakers(BreakerConfig{
		MinRequests: 10, Window: 30 * time.Second, OpenDelay: 20 * time.Second,
		ConsecutiveFailures: 3, Clock: clock.Now,
	}).For("api.example")
	// A healthy host: its window is full of successes, so the failure rate
	// alone would need 40 failures.
	for range 40 {
		call(t, b, true)
	}
	call(t, b, false)
	call(t, b, false)
	call(t, b, true) // a success breaks the streak
	call(t, b, false)
	call(t, b, false)
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("State() = %v after two failures in a row, want closed", s)
	}
	call(t, b, false)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("State() = %v after three failures in a row, want open", s)
	}
	// Neutral outcomes neither count nor break a streak; a reopened and
	// closed breaker starts a new one.
	clock.Advance(time.Minute)
	call(t, b, true) // the probe closes it
	for range 2 {
		call(t, b, false)
		p, _ := b.Acquire()
		p.Release()
	}
	if s := b.State(); s != BreakerClosed {
		t.Fatalf("State() = %v after two failures and two releases, want closed", s)
	}
	call(t, b, false)
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("State() = %v after the third failure around releases, want open", s)
	}
	if err := (BreakerConfig{ConsecutiveFailures: -1}).Validate(); err == nil {
		t.Error("Validate() accepted ConsecutiveFailures -1")
	}
}

func TestBreakerWindowSlides(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := testBreaker(clock, nil, 0.5)
	for range 9 {
		call(t, b, false)
	}
	clock.Advance(31 * time.Second)
	if calls, _ := b.Counts(); calls != 0 {
		t.Errorf("Counts() = %d calls after the window passed, want 0", calls)
	}
	call(t, b, false)
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v: failures older than the window counted", s)
	}
}

func TestBreakerNeutralNeverOpens(t *testing.T) {
	t.Parallel()
	b := testBreaker(newFakeClock(), nil, 0.5)
	for range 1000 {
		p, err := b.Acquire()
		if err != nil {
			t.Fatal(err)
		}
		p.Release()
	}
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v after 1000 released permits, want closed", s)
	}
	if calls, _ := b.Counts(); calls != 0 {
		t.Errorf("Counts() = %d calls, want 0: releases are not recorded", calls)
	}
}

func open(t *testing.T, b *Breaker) {
	t.Helper()
	for range 10 {
		call(t, b, false)
	}
	if s := b.State(); s != BreakerOpen {
		t.Fatalf("State() = %v, want open", s)
	}
}

func TestBreakerHalfOpenOneProbe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		success bool
		want    BreakerState
	}{
		{"probe success closes", true, BreakerClosed},
		{"probe failure reopens", false, BreakerOpen},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			log := &stateLog{}
			b := testBreaker(clock, log, 0.5)
			open(t, b)
			clock.Advance(19 * time.Second)
			if in := b.RetryIn(); in != time.Second {
				t.Errorf("RetryIn() = %v, want 1s", in)
			}
			clock.Advance(time.Second)
			probe, err := b.Acquire()
			if err != nil {
				t.Fatalf("Acquire() after the open delay = %v, want the probe", err)
			}
			for range 5 {
				if _, err := b.Acquire(); !errors.Is(err, ErrBreakerOpen) {
					t.Fatalf("second Acquire() in half-open = %v, want ErrBreakerOpen", err)
				}
			}
			if s := b.State(); s != BreakerHalfOpen {
				t.Errorf("State() = %v, want half-open", s)
			}
			probe.Record(tt.success)
			probe.Record(!tt.success) // later calls are no-ops
			if s := b.State(); s != tt.want {
				t.Errorf("State() after probe = %v, want %v", s, tt.want)
			}
			want := []string{"api.example: closed→open", "api.example: open→half-open", "api.example: half-open→" + tt.want.String()}
			if got := log.get(); !slices.Equal(got, want) {
				t.Errorf("state changes = %q, want %q", got, want)
			}
			if tt.success {
				if calls, _ := b.Counts(); calls != 0 {
					t.Errorf("Counts() = %d calls after closing, want a fresh window", calls)
				}
			}
		})
	}
}

func TestBreakerReleasedProbePassesOn(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := testBreaker(clock, nil, 0.5)
	open(t, b)
	clock.Advance(time.Minute)
	probe, err := b.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	probe.Release() // e.g. the probe got a 404 or was canceled
	if s := b.State(); s != BreakerHalfOpen {
		t.Errorf("State() after a released probe = %v, want half-open", s)
	}
	next, err := b.Acquire()
	if err != nil {
		t.Fatalf("Acquire() after release = %v, want the probe", err)
	}
	if _, err := b.Acquire(); err == nil {
		t.Error("two probes granted")
	}
	next.Record(true)
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v, want closed", s)
	}
}

func TestBreakerAllowAndRelease(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := testBreaker(clock, nil, 0.5)
	for range 10 {
		done, err := b.Allow()
		if err != nil {
			t.Fatal(err)
		}
		done(false)
	}
	clock.Advance(time.Minute)
	if _, err := b.Allow(); err != nil {
		t.Fatalf("Allow() = %v, want the probe", err)
	}
	b.Release()
	done, err := b.Allow()
	if err != nil {
		t.Fatalf("Allow() after Release = %v, want the probe", err)
	}
	done(true)
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v, want closed", s)
	}
	b.Release() // no-op when closed
}

func TestBreakerStalePermitsIgnored(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := testBreaker(clock, nil, 0.5)
	var slow []*Permit
	for range 20 {
		p, _ := b.Acquire()
		slow = append(slow, p)
	}
	open(t, b)
	clock.Advance(time.Minute)
	call(t, b, true) // probe closes it
	for _, p := range slow {
		p.Record(false) // results from before the outage
	}
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v: stale results reopened the breaker", s)
	}
}

func TestBreakerJitter(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rnd  float64
		want time.Duration
	}{{0, 15 * time.Second}, {0.5, 20 * time.Second}, {0.99999, 25 * time.Second}} {
		b := testBreaker(newFakeClock(), nil, tt.rnd)
		open(t, b)
		if got := b.RetryIn(); got < tt.want-time.Millisecond || got > tt.want {
			t.Errorf("rnd %v: RetryIn() = %v, want %v", tt.rnd, got, tt.want)
		}
	}
}

func TestBreakersPerHost(t *testing.T) {
	t.Parallel()
	bs := NewBreakers(BreakerConfig{MinRequests: 1})
	a, b := bs.For("a.example"), bs.For("b.example")
	if bs.For("a.example") != a {
		t.Error("For() created a second breaker for the same host")
	}
	call(t, a, false)
	if a.State() != BreakerOpen || b.State() != BreakerClosed {
		t.Errorf("states = %v, %v; want open, closed", a.State(), b.State())
	}
	want := map[string]BreakerState{"a.example": BreakerOpen, "b.example": BreakerClosed}
	if got := bs.Hosts(); len(got) != 2 || got["a.example"] != want["a.example"] || got["b.example"] != want["b.example"] {
		t.Errorf("Hosts() = %v, want %v", got, want)
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (BreakerConfig{}).Validate(); err != nil {
		t.Errorf("Validate() = %v for the zero config", err)
	}
	for _, c := range []BreakerConfig{
		{FailureRateThreshold: 1.5}, {MinRequests: -1}, {OpenDelay: -time.Second}, {JitterFactor: 2},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if s := BreakerState(7).String(); s != "BreakerState(7)" {
		t.Errorf("String() = %q", s)
	}
}

func TestBreakerWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := testBreaker(nil, nil, 0.5) // real (fake under synctest) clock
		open(t, b)
		start := time.Now()
		probe, err := b.Wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 20*time.Second {
			t.Errorf("Wait returned after %v, want the 20s open delay", waited)
		}

		// A second waiter blocks until the probe is released, then gets it.
		got := make(chan *Permit)
		go func() {
			p, err := b.Wait(t.Context())
			if err != nil {
				t.Error(err)
			}
			got <- p
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("second waiter got a permit while the probe was out")
		default:
		}
		time.Sleep(time.Hour)
		probe.Release()
		p := <-got
		p.Record(true)
		if s := b.State(); s != BreakerClosed {
			t.Errorf("State() = %v, want closed", s)
		}

		// Wait gives up with the context's cause.
		open(t, b)
		ctx, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("shutting down")
		time.AfterFunc(time.Second, func() { cancel(cause) })
		if _, err := b.Wait(ctx); !errors.Is(err, cause) {
			t.Errorf("Wait() = %v, want the cause", err)
		}
	})
}

// TestBreakerOpenDelayGrowsWithTheOutage checks the open delay: OpenDelay
// while an outage is young, a fifteenth of its age once that is longer, never
// above MaxOpenDelay, and OpenDelay again for the next outage.
func TestBreakerOpenDelayGrowsWithTheOutage(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBreakers(BreakerConfig{
		MinRequests: 1, OpenDelay: 4 * time.Second, MaxOpenDelay: time.Minute,
		Rand: func() float64 { return 0.5 }, Clock: clock.Now, // no jitter
	}).For("api.example")
	call(t, b, false) // opens
	start := clock.Now()
	var delays []time.Duration
	// Probes fail for 30 minutes.
	for clock.Now().Sub(start) < 30*time.Minute {
		d := b.RetryIn()
		delays = append(delays, d)
		clock.Advance(d)
		call(t, b, false)
	}
	for i, d := range delays {
		age := time.Duration(0)
		for _, p := range delays[:i] {
			age += p
		}
		want := min(max(4*time.Second, age/15), time.Minute)
		if d != want {
			t.Fatalf("open delay %d (outage %v old) = %v, want %v", i+1, age, d, want)
		}
	}
	// A 45 s outage sees one probe every 4 s; 30 minutes, far fewer than
	// one per 4 s (450).
	if delays[10] != 4*time.Second {
		t.Errorf("11th open delay = %v, want 4s", delays[10])
	}
	if len(delays) > 90 {
		t.Errorf("%d probes in a 30-minute outage, want at most 90", len(delays))
	}
	// Recovery, then a new outage starts from OpenDelay again.
	clock.Advance(b.RetryIn())
	call(t, b, true)
	if got := b.State(); got != BreakerClosed {
		t.Fatalf("state after a successful probe = %v, want closed", got)
	}
	call(t, b, false)
	if d := b.RetryIn(); d != 4*time.Second {
		t.Errorf("open delay of the next outage = %v, want 4s", d)
	}
}
