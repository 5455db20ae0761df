package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Outcome is the caller's verdict on one failed attempt. Policy.Do knows
// nothing about HTTP; the caller's classifier maps errors to outcomes.
type Outcome struct {
	// Retry reports that the error is worth retrying (retryable or
	// throttled). False ends Do at once with the error unchanged.
	Retry bool
	// BreakerFailure reports that the error says the host is unhealthy: 5xx
	// and transport errors. 4xx, 429 and cancellation are not: a 429 means
	// the host is up and metering us, which Retry-After and the budget
	// handle; counting it would open the breaker on our own burst.
	BreakerFailure bool
	// RetryAfter is the wait the server asked for; 0 means none.
	RetryAfter time.Duration
}

// Attempt describes one attempt, reported to Policy.OnAttempt after the
// policy decided what follows it.
type Attempt struct {
	// Number counts attempts from 1.
	Number int
	// Start is when the attempt began.
	Start time.Time
	// Duration is how long op ran.
	Duration time.Duration
	// Err is op's error; nil on success.
	Err error
	// Delay is the wait chosen before the next attempt; 0 if none follows.
	Delay time.Duration
	// RetryAfter is the wait the server asked for; 0 if none.
	RetryAfter time.Duration
	// BreakerState is the host breaker's state when the attempt was allowed
	// (half-open means this attempt was the probe); closed without a breaker.
	BreakerState BreakerState
	// BudgetRejected reports that the retry budget denied the next attempt.
	BudgetRejected bool
}

// Policy is the retry loop's configuration. The zero value retries 3 times
// with the default Backoff and no budget or breaker. A Policy is a plain value;
// one can serve many concurrent calls to Do if OnAttempt is safe for that.
type Policy struct {
	// Backoff sets delays and limits; zero fields take Backoff's defaults.
	Backoff Backoff
	// RetryAfterCap is the longest Retry-After (or open breaker) Do waits
	// in-process; above it Do returns a *RetryLaterError at once so a durable
	// queue can take over. Defaults to 2m.
	RetryAfterCap time.Duration
	// RetryAfterMax is the longest wait a server's Retry-After is honoured
	// for, in-process or by a durable queue: a longer one makes Do return a
	// *RetryLaterError whose After is RetryAfterMax and whose message says
	// what the server asked. Defaults to DefaultRetryAfterMax.
	RetryAfterMax time.Duration
	// Budget, if set, is the process-wide retry budget to draw retries from.
	Budget *Budget
	// Breaker, if set, guards the host this call goes to.
	Breaker *Breaker
	// Rand returns values in [0, 1) for jitter. Defaults to math/rand/v2.
	Rand func() float64
	// OnAttempt, if set, is called once per attempt, for logs and metrics.
	OnAttempt func(Attempt)
}

// DefaultRetryAfterCap is the default of Policy.RetryAfterCap.
const DefaultRetryAfterCap = 2 * time.Minute

// DefaultRetryAfterMax is the default of Policy.RetryAfterMax: the longest
// wait a Retry-After can impose. A server that asked for "Fri, 31 Dec 2100"
// or 999999 s once scheduled a batch file for 2100 or 11.5 days, holding its
// run open that long. 10 minutes is the longest wait the most patient
// profile (batch) chooses by itself, between two attempts or in-process
// (its Backoff.Cap and RetryAfterCap); every plausible throttle fits in it,
// and a bogus far-future value costs one request per file every 10 minutes
// until the caller's overall limit (MaxElapsed, a queue's RetryFor) or a
// human ends it.
const DefaultRetryAfterMax = 10 * time.Minute

// maxRetryAfterJitter bounds the positive jitter added to a Retry-After.
const maxRetryAfterJitter = time.Second

// WithDefaults returns p with zero fields set to their defaults.
func (p Policy) WithDefaults() Policy {
	p.Backoff = p.Backoff.WithDefaults()
	if p.RetryAfterCap == 0 {
		p.RetryAfterCap = DefaultRetryAfterCap
	}
	if p.RetryAfterMax == 0 {
		p.RetryAfterMax = DefaultRetryAfterMax
	}
	if p.Rand == nil {
		p.Rand = rand.Float64
	}
	return p
}

// Validate reports a configuration that cannot work, after defaults apply.
func (p Policy) Validate() error {
	p = p.WithDefaults()
	if err := p.Backoff.Validate(); err != nil {
		return fmt.Errorf("validate policy: %w", err)
	}
	if p.RetryAfterCap < 0 {
		return fmt.Errorf("validate policy: retry-after cap %v is negative", p.RetryAfterCap)
	}
	if p.RetryAfterMax < 0 {
		return fmt.Errorf("validate policy: retry-after max %v is negative", p.RetryAfterMax)
	}
	return nil
}

// Do calls op until it succeeds, classify says its error is not worth
// retrying, or a limit is reached. attempt counts from 1. Do returns:
//
//   - nil on success;
//   - op's error unchanged when classify says Retry is false;
//   - an error wrapping ErrRetriesExhausted and the last error when
//     MaxAttempts is used up or the next attempt would start more than
//     MaxElapsed after the first failure;
//   - an error wrapping ErrBudgetExhausted and the last error when the budget
//     denies a retry;
//   - a *RetryLaterError when the server's Retry-After exceeds RetryAfterCap
//     and attempts remain (with After cut to RetryAfterMax, and Asked and
//     Until set, when it exceeds that too), or the breaker stays open longer than
//     RetryAfterCap (or than what is left of MaxElapsed);
//   - an error wrapping context.Cause(ctx) (and ctx.Err()) as soon as ctx is
//     done, from any wait or after an attempt.
//
// Between attempts Do waits Backoff.Delay(attempt−1), or, when the server
// sent a Retry-After, exactly that plus a positive jitter of at most
// min(10%, 1s): never less than asked. A backoff (without Retry-After) that
// begins while Breaker is open or half-open ends early if Breaker closes:
// its probe found the host back. Before each attempt Do takes a permit
// from Breaker, waiting for an open breaker when it allows. It records only
// outcomes marked BreakerFailure as failures, and successes as successes;
// other outcomes release the permit without a record.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context, attempt int) error, classify func(error) Outcome) error {
	p = p.WithDefaults()
	b := p.Backoff
	var firstFailure time.Time
	var lastErr error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return canceled(ctx, lastErr)
		}
		permit, state, err := p.admit(ctx, firstFailure, lastErr)
		if err != nil {
			return err
		}
		if p.Budget != nil {
			p.Budget.RecordRequest()
		}
		a := Attempt{Number: n, Start: time.Now(), BreakerState: state}
		err = op(ctx, n)
		a.Duration, a.Err = time.Since(a.Start), err
		if err == nil {
			permit.Record(true)
			p.report(a)
			return nil
		}
		if ctx.Err() != nil {
			permit.Release()
			p.report(a)
			return canceled(ctx, err)
		}
		out := classify(err)
		if out.BreakerFailure {
			permit.Record(false)
		} else {
			permit.Release()
		}
		a.RetryAfter = max(out.RetryAfter, 0)
		if !out.Retry {
			p.report(a)
			return err
		}
		now := time.Now()
		if firstFailure.IsZero() {
			firstFailure = now
		}
		lastErr = err
		if b.MaxAttempts > 0 && n >= b.MaxAttempts {
			p.report(a)
			return fmt.Errorf("%w after %d attempts: %w", ErrRetriesExhausted, n, err)
		}
		var delay time.Duration
		if a.RetryAfter > 0 {
			if a.RetryAfter > p.RetryAfterMax {
				p.report(a)
				return &RetryLaterError{After: p.RetryAfterMax, Asked: a.RetryAfter, Until: now.Add(a.RetryAfter), Err: err}
			}
			if a.RetryAfter > p.RetryAfterCap {
				p.report(a)
				return &RetryLaterError{After: a.RetryAfter, Err: err}
			}
			delay = a.RetryAfter + time.Duration(p.Rand()*float64(min(a.RetryAfter/10, maxRetryAfterJitter)))
		} else {
			delay = b.Delay(n-1, p.Rand)
		}
		if b.MaxElapsed > 0 && now.Add(delay).Sub(firstFailure) > b.MaxElapsed {
			p.report(a)
			return fmt.Errorf("%w after %d attempts in %v since the first failure: %w",
				ErrRetriesExhausted, n, now.Sub(firstFailure), err)
		}
		if p.Budget != nil && !p.Budget.TryRetry() {
			a.BudgetRejected = true
			p.report(a)
			return fmt.Errorf("%w after %d attempts: %w", ErrBudgetExhausted, n, err)
		}
		a.Delay = delay
		p.report(a)
		wait := sleep
		if p.Breaker != nil && a.RetryAfter == 0 && delay > 0 && p.Breaker.State() != BreakerClosed {
			wait = p.Breaker.SleepUnlessClosed
		}
		if !wait(ctx, delay) {
			return canceled(ctx, err)
		}
	}
}

// admit takes a breaker permit, waiting for an open breaker if it half-opens
// within RetryAfterCap and what is left of MaxElapsed.
func (p Policy) admit(ctx context.Context, firstFailure time.Time, lastErr error) (*Permit, BreakerState, error) {
	if p.Breaker == nil {
		return nil, BreakerClosed, nil
	}
	permit, err := p.Breaker.Acquire()
	if err == nil {
		return permit, permitState(permit), nil
	}
	var oe *BreakerOpenError
	if !errors.As(err, &oe) {
		return nil, 0, err
	}
	limit := p.RetryAfterCap
	if p.Backoff.MaxElapsed > 0 && !firstFailure.IsZero() {
		limit = min(limit, p.Backoff.MaxElapsed-time.Since(firstFailure))
	}
	if oe.RetryIn > limit {
		return nil, 0, &RetryLaterError{After: oe.RetryIn, Err: withLast(oe, lastErr)}
	}
	wctx, cancel := context.WithTimeout(ctx, max(limit, 0))
	defer cancel()
	permit, err = p.Breaker.Wait(wctx)
	switch {
	case err == nil:
		return permit, permitState(permit), nil
	case ctx.Err() != nil:
		return nil, 0, canceled(ctx, lastErr)
	}
	after := p.Breaker.RetryIn()
	if after == 0 {
		after = p.Breaker.cfg.OpenDelay
	}
	return nil, 0, &RetryLaterError{After: after, Err: withLast(&BreakerOpenError{Host: oe.Host, RetryIn: after}, lastErr)}
}

func permitState(p *Permit) BreakerState {
	if p.probe {
		return BreakerHalfOpen
	}
	return BreakerClosed
}

func (p Policy) report(a Attempt) {
	if p.OnAttempt != nil {
		p.OnAttempt(a)
	}
}

// sleep waits d or until ctx is done; it reports whether d passed. It has
// the signature of Breaker.SleepUnlessClosed, which Do picks instead of it
// while the breaker is not closed.
func sleep(ctx context.Context, d time.Duration) bool { return Sleep(ctx, d) == nil }

// canceled wraps the context's cause (and ctx.Err(), so errors.Is works for
// context.Canceled even with a custom cause) and the last error.
func canceled(ctx context.Context, last error) error {
	cause := context.Cause(ctx)
	if ce := ctx.Err(); cause == nil {
		cause = ce
	} else if !errors.Is(cause, ce) {
		cause = fmt.Errorf("%w: %w", ce, cause)
	}
	if last == nil {
		return fmt.Errorf("retry: %w", cause)
	}
	return fmt.Errorf("retry: %w; last error: %w", cause, last)
}

func withLast(err, last error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("%w; last error: %w", err, last)
}
