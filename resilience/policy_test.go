package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

var (
	errTransient = errors.New("503 service unavailable")
	errThrottled = errors.New("429 too many requests")
	errBad       = errors.New("400 bad request")
)

// classifyTest is the test classifier: 503 is a retryable host failure, 429
// is retryable (with the Retry-After in raErr) but not a host failure, 400 is
// permanent.
func classifyTest(err error) Outcome {
	var ra raErr
	switch {
	case errors.As(err, &ra):
		return Outcome{Retry: true, RetryAfter: ra.after}
	case errors.Is(err, errTransient):
		return Outcome{Retry: true, BreakerFailure: true}
	case errors.Is(err, errThrottled):
		return Outcome{Retry: true}
	}
	return Outcome{}
}

type raErr struct{ after time.Duration }

func (e raErr) Error() string { return fmt.Sprintf("429 retry after %v", e.after) }
func (e raErr) Unwrap() error { return errThrottled }

// failN returns an op that fails with err n times, then succeeds, and logs
// each attempt's start time.
func failN(n int, err error, starts *[]time.Time) func(context.Context, int) error {
	return func(_ context.Context, attempt int) error {
		*starts = append(*starts, time.Now())
		if attempt <= n {
			return err
		}
		return nil
	}
}

func TestDoSuccessAndPermanent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var attempts []Attempt
		p := Policy{OnAttempt: func(a Attempt) { attempts = append(attempts, a) }}
		var starts []time.Time
		if err := p.Do(t.Context(), failN(0, nil, &starts), classifyTest); err != nil {
			t.Fatalf("Do() = %v", err)
		}
		if len(attempts) != 1 || attempts[0].Number != 1 || attempts[0].Err != nil || attempts[0].Delay != 0 {
			t.Errorf("attempts = %+v", attempts)
		}

		attempts = nil
		err := p.Do(t.Context(), failN(5, errBad, &starts), classifyTest)
		if err != errBad { //nolint:errorlint // identity on purpose: a permanent error must come back unwrapped
			t.Errorf("Do() = %v, want errBad unchanged", err)
		}
		if len(attempts) != 1 {
			t.Errorf("%d attempts for a permanent error, want 1", len(attempts))
		}
	})
}

func TestDoBackoffAndExhaustion(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var attempts []Attempt
		p := Policy{
			Backoff:   Backoff{Base: time.Second, Cap: 3 * time.Second, MaxAttempts: 4},
			Rand:      func() float64 { return 0.5 },
			OnAttempt: func(a Attempt) { attempts = append(attempts, a) },
		}
		var starts []time.Time
		err := p.Do(t.Context(), failN(10, errTransient, &starts), classifyTest)
		if !errors.Is(err, ErrRetriesExhausted) || !errors.Is(err, errTransient) {
			t.Fatalf("Do() = %v, want ErrRetriesExhausted wrapping the last error", err)
		}
		if len(starts) != 4 || len(attempts) != 4 {
			t.Fatalf("%d attempts (%d reported), want 4", len(starts), len(attempts))
		}
		// Delays are U(0, min(3s, 1s·2^n)) at rnd 0.5: 0.5s, 1s, 1.5s, none.
		want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 0}
		for i, a := range attempts {
			if a.Number != i+1 || a.Delay != want[i] || a.Err != errTransient { //nolint:errorlint // identity on purpose: Attempt.Err is the attempt's own error, unwrapped
				t.Errorf("attempt %d = %+v, want delay %v", i+1, a, want[i])
			}
			if i > 0 {
				if gap := starts[i].Sub(starts[i-1]); gap != want[i-1] {
					t.Errorf("gap before attempt %d = %v, want %v", i+1, gap, want[i-1])
				}
			}
		}

		starts = nil
		if err := p.Do(t.Context(), failN(3, errTransient, &starts), classifyTest); err != nil || len(starts) != 4 {
			t.Errorf("Do() = %v after %d attempts, want success on the 4th", err, len(starts))
		}
	})
}

func TestDoRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	for _, ra := range []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 119 * time.Second} {
		for _, rnd := range []float64{0, 0.5, 0.99999} {
			t.Run(fmt.Sprintf("%v/rnd=%v", ra, rnd), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					p := Policy{
						Backoff: Backoff{Base: 10 * time.Minute, Cap: 10 * time.Minute, MaxAttempts: 3},
						Rand:    func() float64 { return rnd },
					}
					var starts []time.Time
					if err := p.Do(t.Context(), failN(2, raErr{ra}, &starts), classifyTest); err != nil {
						t.Fatal(err)
					}
					jitter := min(ra/10, time.Second)
					for i := 1; i < len(starts); i++ {
						gap := starts[i].Sub(starts[i-1])
						if gap < ra || gap > ra+jitter {
							t.Errorf("waited %v for Retry-After %v, want in [%v, %v]", gap, ra, ra, ra+jitter)
						}
					}
				})
			})
		}
	}
}

func TestDoRetryAfterAboveCap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := Policy{RetryAfterCap: 2 * time.Minute}
		var starts []time.Time
		start := time.Now()
		err := p.Do(t.Context(), failN(5, raErr{150 * time.Second}, &starts), classifyTest)
		var rl *RetryLaterError
		if !errors.As(err, &rl) || rl.After != 150*time.Second || !errors.Is(err, errThrottled) {
			t.Fatalf("Do() = %v, want *RetryLaterError{2m30s} wrapping the 429", err)
		}
		if got, want := err.Error(), "retry after 2m30s: 429 retry after 2m30s"; got != want {
			t.Errorf("Error() = %q, want %q", got, want)
		}
		if slept := time.Since(start); slept != 0 || len(starts) != 1 {
			t.Errorf("slept %v over %d attempts, want no sleep", slept, len(starts))
		}
	})
}

// A Retry-After beyond RetryAfterMax is honoured only up to that, whatever
// RetryAfterCap says, and the error says what the server asked: a far-future
// date once parked a batch file until 2100.
func TestDoRetryAfterAboveMax(t *testing.T) {
	t.Parallel()
	far := time.Duration(1<<63 - 1) // what the parser gives for a huge value
	tests := []struct {
		name      string
		policy    Policy
		ra        time.Duration
		wantAfter time.Duration
		wantMsg   string
	}{
		{"default max", Policy{}, 999999 * time.Second, DefaultRetryAfterMax,
			"the server asked to retry after 2000-01-12T13:46:39Z (in 11.6 days); waiting 10m0s at most (the Retry-After maximum): 429 retry after 277h46m39s"},
		{"far future", Policy{RetryAfterCap: 10 * time.Minute}, 75 * 366 * 24 * time.Hour, DefaultRetryAfterMax,
			"the server asked to retry after 2075-02-26T00:00:00Z (in 75 years); waiting 10m0s at most (the Retry-After maximum): 429 retry after 658800h0m0s"},
		{"saturated", Policy{}, far, DefaultRetryAfterMax, ""},
		{"max above cap", Policy{RetryAfterMax: time.Hour}, 2 * time.Hour, time.Hour, ""},
		// The maximum wins over a larger in-process cap: no 20 min sleep.
		{"cap above max", Policy{RetryAfterCap: time.Hour, RetryAfterMax: 10 * time.Minute}, 20 * time.Minute, 10 * time.Minute,
			"the server asked to retry after 2000-01-01T00:20:00Z (in 20m0s); waiting 10m0s at most (the Retry-After maximum): 429 retry after 20m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var starts []time.Time
				start := time.Now()
				err := tt.policy.Do(t.Context(), failN(5, raErr{tt.ra}, &starts), classifyTest)
				var rl *RetryLaterError
				if !errors.As(err, &rl) || !errors.Is(err, errThrottled) {
					t.Fatalf("Do() = %v, want a *RetryLaterError wrapping the 429", err)
				}
				if rl.After != tt.wantAfter || rl.Asked != tt.ra || !rl.Until.Equal(start.Add(tt.ra)) {
					t.Errorf("RetryLaterError{After: %v, Asked: %v, Until: %v}, want {%v, %v, %v}",
						rl.After, rl.Asked, rl.Until, tt.wantAfter, tt.ra, start.Add(tt.ra))
				}
				if tt.wantMsg != "" && err.Error() != tt.wantMsg {
					t.Errorf("Error() = %q\nwant      %q", err.Error(), tt.wantMsg)
				}
				if slept := time.Since(start); slept != 0 || len(starts) != 1 {
					t.Errorf("slept %v over %d attempts, want no sleep", slept, len(starts))
				}
			})
		})
	}
}

func TestDoElapsedFromFirstFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Backoff: Backoff{Base: 10 * time.Second, Cap: 10 * time.Second, MaxAttempts: -1, MaxElapsed: time.Minute}}
		var starts []time.Time
		var firstFailure time.Time
		op := func(_ context.Context, attempt int) error {
			starts = append(starts, time.Now())
			if attempt == 1 {
				time.Sleep(10 * time.Minute) // a long upload, far beyond MaxElapsed
				firstFailure = time.Now()
			}
			return errTransient
		}
		err := p.Do(t.Context(), op, classifyTest)
		if !errors.Is(err, ErrRetriesExhausted) || !errors.Is(err, errTransient) {
			t.Fatalf("Do() = %v, want ErrRetriesExhausted", err)
		}
		if len(starts) < 6 {
			t.Errorf("%d attempts: the long first attempt used up MaxElapsed", len(starts))
		}
		if last := starts[len(starts)-1].Sub(firstFailure); last > time.Minute {
			t.Errorf("last attempt started %v after the first failure, want ≤ 1m", last)
		}
	})
}

func TestDoBudgetUnderSustainedFailure(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		budget := NewBudget(BudgetConfig{Ratio: 0.2, MinRetriesPerSecond: -1})
		p := Policy{Backoff: Backoff{Base: 100 * time.Millisecond, Cap: time.Second, MaxAttempts: 4}, Budget: budget}
		const ops = 2000
		var attempts, rejected atomic.Int64
		op := func(context.Context, int) error { attempts.Add(1); return errTransient }
		var wg sync.WaitGroup
		// Ten operations start every 100 ms for 20 s, every one failing.
		for i := range ops {
			if i%10 == 0 {
				time.Sleep(100 * time.Millisecond)
			}
			wg.Go(func() {
				err := p.Do(t.Context(), op, classifyTest)
				if errors.Is(err, ErrBudgetExhausted) {
					rejected.Add(1)
					if !errors.Is(err, errTransient) {
						t.Errorf("Do() = %v, want it to wrap the last error", err)
					}
				}
			})
		}
		wg.Wait()
		ratio := float64(attempts.Load()) / ops
		t.Logf("%d ops, %d attempts (%.3f×), %d budget rejections", ops, attempts.Load(), ratio, rejected.Load())
		if ratio > 1.2 {
			t.Errorf("attempts = %.3f× ops, want ≤ 1.2× (without the budget: 4×)", ratio)
		}
		if rejected.Load() == 0 {
			t.Error("no budget rejections under 100% failure")
		}
	})
}

func TestDoBreaker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		bs := NewBreakers(BreakerConfig{MinRequests: 4, OpenDelay: 10 * time.Second, Rand: func() float64 { return 0.5 }})
		b := bs.For("api.example")
		p := Policy{Backoff: Backoff{Base: time.Millisecond, Cap: time.Millisecond, MaxAttempts: 2}, Breaker: b}
		var starts []time.Time

		// Outcomes that are not host failures never open it.
		for range 50 {
			_ = p.Do(t.Context(), failN(1, errThrottled, &starts), classifyTest)
			_ = p.Do(t.Context(), failN(1, errBad, &starts), classifyTest)
		}
		if s := b.State(); s != BreakerClosed {
			t.Fatalf("State() = %v after 429s and 400s, want closed", s)
		}

		// Once the window (with the retried 429s' 50 successes) has slid
		// past, two calls × two attempts of 503 open it.
		time.Sleep(31 * time.Second)
		for range 2 {
			if err := p.Do(t.Context(), failN(5, errTransient, &starts), classifyTest); !errors.Is(err, ErrRetriesExhausted) {
				t.Fatalf("Do() = %v", err)
			}
		}
		if s := b.State(); s != BreakerOpen {
			t.Fatalf("State() = %v after 4 failures, want open", s)
		}

		// The next call waits the open delay, then is the probe; its success
		// closes the breaker.
		var attempts []Attempt
		p.OnAttempt = func(a Attempt) { attempts = append(attempts, a) }
		start := time.Now()
		starts = nil
		if err := p.Do(t.Context(), failN(0, nil, &starts), classifyTest); err != nil {
			t.Fatal(err)
		}
		if waited := starts[0].Sub(start); waited != 10*time.Second {
			t.Errorf("first attempt after %v, want the 10s open delay", waited)
		}
		if attempts[0].BreakerState != BreakerHalfOpen || b.State() != BreakerClosed {
			t.Errorf("probe state %v, breaker %v; want half-open, closed", attempts[0].BreakerState, b.State())
		}
	})
}

func TestDoBreakerOneProbe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := NewBreakers(BreakerConfig{MinRequests: 1, OpenDelay: 10 * time.Second}).For("api.example")
		call(t, b, false)
		p := Policy{Breaker: b}
		var inflight, most atomic.Int32
		release := make(chan struct{})
		op := func(context.Context, int) error {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			<-release
			return nil
		}
		var wg sync.WaitGroup
		for range 5 {
			wg.Go(func() {
				if err := p.Do(t.Context(), op, classifyTest); err != nil {
					t.Error(err)
				}
			})
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := inflight.Load(); got != 1 {
			t.Errorf("%d calls in flight in half-open, want exactly 1 probe", got)
		}
		close(release)
		wg.Wait()
		if most.Load() < 1 || b.State() != BreakerClosed {
			t.Errorf("breaker %v, want closed after the probe succeeded", b.State())
		}
	})
}

func TestDoBreakerOpenTooLong(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		b := NewBreakers(BreakerConfig{MinRequests: 1, OpenDelay: 10 * time.Minute, JitterFactor: 0.1}).For("api.example")
		call(t, b, false)
		p := Policy{Breaker: b, RetryAfterCap: 2 * time.Minute}
		start := time.Now()
		err := p.Do(t.Context(), func(context.Context, int) error { t.Error("op ran"); return nil }, classifyTest)
		var rl *RetryLaterError
		if !errors.As(err, &rl) || !errors.Is(err, ErrBreakerOpen) || rl.After < 9*time.Minute {
			t.Fatalf("Do() = %v, want *RetryLaterError wrapping ErrBreakerOpen", err)
		}
		if time.Since(start) != 0 {
			t.Error("Do slept before handing off")
		}
	})
}

func TestDoCancelMidBackoff(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"backoff", "retry-after", "breaker"} {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				p := Policy{Backoff: Backoff{Base: time.Hour, Cap: time.Hour, MaxAttempts: -1}, Rand: func() float64 { return 0.9 }}
				err := errTransient
				if where == "retry-after" {
					err = raErr{time.Minute}
				}
				if where == "breaker" {
					p.Breaker = NewBreakers(BreakerConfig{MinRequests: 1, OpenDelay: time.Minute}).For("h")
				}
				ctx, cancel := context.WithCancelCause(t.Context())
				cause := errors.New("user pressed ctrl-c")
				var canceledAt time.Time
				time.AfterFunc(10*time.Second, func() { canceledAt = time.Now(); cancel(cause) })
				var starts []time.Time
				got := p.Do(ctx, failN(100, err, &starts), classifyTest)
				if lag := time.Since(canceledAt); lag > 50*time.Millisecond {
					t.Errorf("Do returned %v after cancel, want ≤ 50ms", lag)
				}
				if !errors.Is(got, cause) || !errors.Is(got, context.Canceled) || !errors.Is(got, errThrottled) && !errors.Is(got, errTransient) {
					t.Errorf("Do() = %v, want the cause, context.Canceled and the last error", got)
				}
			})
		})
	}
}

// TestDoCancelWallClock checks the cancellation latency on the real clock.
func TestDoCancelWallClock(t *testing.T) {
	t.Parallel()
	p := Policy{Backoff: Backoff{Base: time.Hour, Cap: time.Hour, MaxAttempts: -1}}
	ctx, cancel := context.WithCancel(t.Context())
	var canceledAt atomic.Int64
	time.AfterFunc(20*time.Millisecond, func() { canceledAt.Store(time.Now().UnixNano()); cancel() })
	var starts []time.Time
	err := p.Do(ctx, failN(100, errTransient, &starts), classifyTest)
	lag := time.Duration(time.Now().UnixNano() - canceledAt.Load())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Do() = %v, want context.Canceled", err)
	}
	if lag > 50*time.Millisecond {
		t.Errorf("Do returned %v after cancel, want ≤ 50ms", lag)
	}
}

func TestDoCanceledOpDoesNotCountAgainstBreaker(t *testing.T) {
	t.Parallel()
	b := NewBreakers(BreakerConfig{MinRequests: 1}).For("h")
	p := Policy{Breaker: b}
	for range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		err := p.Do(ctx, func(ctx context.Context, _ int) error { cancel(); return fmt.Errorf("read: %w", errTransient) }, classifyTest)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do() = %v", err)
		}
	}
	if s := b.State(); s != BreakerClosed {
		t.Errorf("State() = %v after canceled calls, want closed", s)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("Validate() = %v for the zero policy", err)
	}
	if err := (Policy{RetryAfterCap: -1}).Validate(); err == nil {
		t.Error("Validate() accepted a negative cap")
	}
	if err := (Policy{Backoff: Backoff{Multiplier: 0.1}}).Validate(); err == nil {
		t.Error("Validate() accepted a bad backoff")
	}
}

// BenchmarkPolicyDo measures the loop's overhead on the success path with a
// budget and a breaker, the common case for every API call.
func BenchmarkPolicyDo(b *testing.B) {
	p := Policy{
		Budget:  NewBudget(BudgetConfig{}),
		Breaker: NewBreakers(BreakerConfig{}).For("api.example"),
	}
	op := func(context.Context, int) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Do(ctx, op, classifyTest); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDoBackoffEndsWhenBreakerCloses checks that a retry backing off while
// the breaker is open goes as soon as another caller's probe closes it,
// rather than at the end of its backoff; and that a Retry-After is still
// waited in full.
func TestDoBackoffEndsWhenBreakerCloses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fail      error
		wantRetry time.Duration // from the first attempt to the second
	}{
		{"backoff", errTransient, 10 * time.Second},
		{"retry-after", raErr{after: time.Minute}, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				b := NewBreakers(BreakerConfig{
					MinRequests: 1, OpenDelay: 10 * time.Second, JitterFactor: 0.0001,
					Rand: func() float64 { return 0.5 },
				}).For("api.example")
				if tc.name == "retry-after" {
					call(t, b, false) // open it: a 429 alone does not
				}
				p := Policy{
					Breaker: b,
					Backoff: Backoff{Base: time.Minute, Cap: time.Minute, MinDelay: time.Minute, MaxAttempts: 2},
					Rand:    func() float64 { return 0.5 },
				}
				start := time.Now()
				var starts []time.Duration
				op := func(context.Context, int) error {
					starts = append(starts, time.Since(start))
					if len(starts) == 1 {
						return tc.fail
					}
					return nil
				}
				done := make(chan error, 1)
				go func() { done <- p.Do(t.Context(), op, classifyTest) }()
				// Another caller probes when the breaker half-opens, and
				// the host is back.
				time.Sleep(10 * time.Second)
				call(t, b, true)
				if got := b.State(); got != BreakerClosed {
					t.Fatalf("breaker %v after a successful probe, want closed", got)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if len(starts) != 2 {
					t.Fatalf("%d attempts, want 2", len(starts))
				}
				if got := starts[1] - starts[0]; got < tc.wantRetry || got > tc.wantRetry+2*time.Second {
					t.Errorf("second attempt %v after the first, want %v", got, tc.wantRetry)
				}
			})
		})
	}
}
