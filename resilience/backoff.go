package resilience

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff with full jitter, plus the limits of one
// retry loop. The zero value is usable: every zero field means its default.
//
// Retry n (0 for the first retry) waits a uniformly random delay in
// [MinDelay, max(MinDelay, min(Cap, Base·Multiplier^n))]. With MinDelay zero this
// is exactly AWS "full jitter", which Brooker's simulation shows does the least
// work under contention (see occsim_test.go).
//
// Backoff is a plain value, safe to copy and to use from several goroutines.
type Backoff struct {
	// Base is the ceiling of the first retry's delay. Defaults to 1s.
	Base time.Duration
	// Cap bounds the ceiling of every delay. Defaults to 30s.
	Cap time.Duration
	// Multiplier grows the ceiling per retry. Defaults to 2.
	Multiplier float64
	// MaxAttempts is the total number of attempts including the first.
	// Defaults to 3; a negative value means unlimited (set MaxElapsed then).
	MaxAttempts int
	// MaxElapsed bounds the time from the first failure (not the first
	// attempt) to the start of the last attempt: no attempt starts later.
	// Defaults to 0, no limit.
	MaxElapsed time.Duration
	// MinDelay is a floor under every delay; the jitter then spreads delays
	// over [MinDelay, ceiling]. Defaults to 0 (pure full jitter).
	MinDelay time.Duration
}

// Defaults of Backoff.
const (
	DefaultBackoffBase        = time.Second
	DefaultBackoffCap         = 30 * time.Second
	DefaultBackoffMultiplier  = 2.0
	DefaultBackoffMaxAttempts = 3
)

// WithDefaults returns b with zero fields set to their defaults.
func (b Backoff) WithDefaults() Backoff {
	if b.Base == 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Cap == 0 {
		b.Cap = DefaultBackoffCap
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	if b.MaxAttempts == 0 {
		b.MaxAttempts = DefaultBackoffMaxAttempts
	}
	return b
}

// Validate reports a configuration that cannot work, after defaults apply.
func (b Backoff) Validate() error {
	b = b.WithDefaults()
	var errs []error
	if b.Base < 0 {
		errs = append(errs, fmt.Errorf("base %v is negative", b.Base))
	}
	if b.Cap < b.Base {
		errs = append(errs, fmt.Errorf("cap %v is below base %v", b.Cap, b.Base))
	}
	if b.Multiplier < 1 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0) {
		errs = append(errs, fmt.Errorf("multiplier %v is not a finite number ≥ 1", b.Multiplier))
	}
	if b.MaxElapsed < 0 {
		errs = append(errs, fmt.Errorf("max elapsed %v is negative", b.MaxElapsed))
	}
	if b.MinDelay < 0 || b.MinDelay > b.Cap {
		errs = append(errs, fmt.Errorf("min delay %v is outside [0, cap %v]", b.MinDelay, b.Cap))
	}
	if len(errs) > 0 {
		return fmt.Errorf("validate backoff: %w", errors.Join(errs...))
	}
	return nil
}

// Ceiling returns min(Cap, Base·Multiplier^retry), the upper bound of
// Delay(retry), before MinDelay applies. It never overflows.
func (b Backoff) Ceiling(retry int) time.Duration {
	b = b.WithDefaults()
	retry = max(retry, 0)
	c := float64(b.Base) * math.Pow(b.Multiplier, float64(retry))
	if c >= float64(b.Cap) || math.IsNaN(c) {
		return b.Cap
	}
	return time.Duration(c)
}

// Delay returns the wait before retry number retry (0 for the first retry):
// MinDelay + rnd()·(ceiling − MinDelay), where ceiling = max(MinDelay,
// Ceiling(retry)). rnd returns values in [0, 1); nil means math/rand/v2.
func (b Backoff) Delay(retry int, rnd func() float64) time.Duration {
	b = b.WithDefaults()
	if rnd == nil {
		rnd = rand.Float64
	}
	ceiling := max(b.Ceiling(retry), b.MinDelay)
	span := float64(ceiling - b.MinDelay)
	return b.MinDelay + time.Duration(rnd()*span)
}
