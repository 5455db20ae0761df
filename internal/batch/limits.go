package batch

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/durascribe/durascribe/resilience"
)

// rateLimiter is a token bucket shared by every request of a process: the
// global request-rate cap. It is safe for concurrent use.
type rateLimiter struct {
	mu       sync.Mutex
	interval time.Duration // one token per interval
	burst    int
	next     time.Time // when the bucket is empty, the time of the next token
}

func newRateLimiter(perSecond float64, burst int) *rateLimiter {
	return &rateLimiter{interval: time.Duration(float64(time.Second) / perSecond), burst: max(burst, 1)}
}

// Wait blocks until a request may be sent.
func (l *rateLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := time.Now()
	// A full bucket holds burst tokens: next may lag now by burst intervals.
	if earliest := now.Add(-time.Duration(l.burst-1) * l.interval); l.next.Before(earliest) {
		l.next = earliest
	}
	at := l.next
	l.next = l.next.Add(l.interval)
	l.mu.Unlock()
	return resilience.Sleep(ctx, at.Sub(now))
}

// retryPolicy is River's schedule for files whose in-process retries are
// exhausted: the batch backoff, jittered, so thousands of files do not come
// back at the same instant.
type retryPolicy struct {
	backoff resilience.Backoff
}

// NextRetry implements river.ClientRetryPolicy.
func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(p.backoff.Delay(max(len(job.Errors)-1, 0), rand.Float64))
}
