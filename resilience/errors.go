package resilience

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned by [Policy.Do] and [Breaker]. Compare with errors.Is; the
// returned errors also wrap the last error of the operation.
var (
	// ErrRetriesExhausted means MaxAttempts or MaxElapsed ran out.
	ErrRetriesExhausted = errors.New("retries exhausted")
	// ErrBudgetExhausted means the process-wide retry budget denied a retry.
	ErrBudgetExhausted = errors.New("retry budget exhausted")
	// ErrBreakerOpen means the host's circuit breaker had no permit; it is
	// wrapped by *BreakerOpenError.
	ErrBreakerOpen = errors.New("circuit breaker open")
)

// RetryLaterError tells the caller to retry the whole operation after a delay
// instead of sleeping in-process: the server asked for a Retry-After above
// Policy.RetryAfterCap, or the host's breaker stays open longer than that. A
// durable queue should reschedule the work After from now.
type RetryLaterError struct {
	// After is the wait before the retry: what the server or breaker asked
	// for, at most Policy.RetryAfterMax.
	After time.Duration
	// Asked is the server's Retry-After when it exceeded
	// Policy.RetryAfterMax and After was cut to that; 0 otherwise.
	Asked time.Duration
	// Until is when Asked ends; zero when Asked is 0.
	Until time.Time
	// Err is the last error (or the *BreakerOpenError).
	Err error
}

// Error returns "retry after 2m30s: <err>", or, when the server's
// Retry-After was cut, "the server asked to retry after
// 2100-12-31T23:59:59Z (in 74 years); waiting 10m0s at most (the
// Retry-After maximum): <err>".
func (e *RetryLaterError) Error() string {
	if e.Asked > 0 {
		return fmt.Sprintf("the server asked to retry after %s (in %s); waiting %v at most (the Retry-After maximum): %v",
			e.Until.UTC().Truncate(time.Second).Format(time.RFC3339), roughly(e.Asked), e.After, e.Err)
	}
	return fmt.Sprintf("retry after %v: %v", e.After, e.Err)
}

// roughly prints a long wait in the unit a person would use: "74 years",
// "11.6 days", "5h0m0s".
func roughly(d time.Duration) string {
	const day = 24 * time.Hour
	const year = 365*day + day/4
	switch {
	case d >= 2*year:
		return fmt.Sprintf("%d years", d/year)
	case d >= 2*day:
		return fmt.Sprintf("%.1f days", float64(d)/float64(day))
	}
	return d.Round(time.Second).String()
}

// Unwrap returns Err.
func (e *RetryLaterError) Unwrap() error { return e.Err }
