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
	// After is the wait the server or breaker asked for.
	After time.Duration
	// Err is the last error (or the *BreakerOpenError).
	Err error
}

// Error returns "retry after 2m30s: <err>".
func (e *RetryLaterError) Error() string {
	return fmt.Sprintf("retry after %v: %v", e.After, e.Err)
}

// Unwrap returns Err.
func (e *RetryLaterError) Unwrap() error { return e.Err }
