// Package resilience is the retry policy layer: capped exponential backoff with
// full jitter, Retry-After handling, a process-wide retry budget, per-host
// circuit breakers, named profiles and a retry loop ([Policy.Do]) that ties them
// together. It knows nothing about HTTP or AssemblyAI: callers classify errors.
//
// # Semantics in one place
//
//   - [Backoff.Delay] is AWS "full jitter": retry n waits U(0, min(Cap, Base·Multiplier^n)).
//   - A server's Retry-After is never shortened: [Policy.Do] waits at least the
//     requested time plus a small positive jitter (at most 10% and at most 1 s).
//     A Retry-After above [Policy.RetryAfterCap] is not slept at all: Do returns
//     a [*RetryLaterError] so a durable queue can take over. None is honoured
//     beyond [Policy.RetryAfterMax] (default [DefaultRetryAfterMax]): the
//     [*RetryLaterError] then asks for that long and says what the server
//     asked, so that a far-future date cannot park work for years.
//   - MaxElapsed is counted from the first failure, not from the first attempt,
//     so a long first attempt (a 2 GB upload) does not use up the retry window.
//   - The [Budget] allows retries up to a ratio of requests over a sliding window
//     (Finagle's RetryBudget), so a fleet-wide outage costs about 1.2× the load
//     instead of MaxAttempts×.
//   - A [Breaker] opens on a failure rate over a time window, waits a jittered
//     delay, lets exactly one probe through, and closes or reopens on its result.
//     Only outcomes the caller marks as [Outcome.BreakerFailure] count against it.
//
// # Why not failsafe-go
//
// failsafe-go's retry policy jitters Retry-After in both directions and has no
// full jitter; its budget limits concurrent retries rather than retries per
// request; its breaker cannot hand back a half-open permit without recording an
// outcome (a canceled probe would either wedge the breaker half-open or count as
// a failure) and its clock cannot be injected. Each piece here is small enough
// to state its exact semantics in its doc comment.
package resilience
