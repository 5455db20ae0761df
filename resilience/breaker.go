package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// BreakerState is the state of a [Breaker].
type BreakerState int

// The states of a Breaker.
const (
	// BreakerClosed lets every call through and watches the failure rate.
	BreakerClosed BreakerState = iota
	// BreakerOpen rejects every call until its jittered open delay passes.
	BreakerOpen
	// BreakerHalfOpen lets exactly one probe through; its outcome closes or
	// reopens the breaker.
	BreakerHalfOpen
)

// String returns "closed", "open" or "half-open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half-open"
	default:
		return fmt.Sprintf("BreakerState(%d)", int(s))
	}
}

// BreakerOpenError is returned when a Breaker has no permit to give. It wraps
// [ErrBreakerOpen].
type BreakerOpenError struct {
	// Host is the breaker's host.
	Host string
	// RetryIn estimates when a permit may be available: the rest of the open
	// delay, or, while another caller's probe is in flight, the open delay.
	RetryIn time.Duration
}

// Error returns "circuit breaker open for HOST (retry in D)".
func (e *BreakerOpenError) Error() string {
	return fmt.Sprintf("%v for %s (retry in %v)", ErrBreakerOpen, e.Host, e.RetryIn)
}

// Unwrap returns ErrBreakerOpen.
func (e *BreakerOpenError) Unwrap() error { return ErrBreakerOpen }

// BreakerConfig configures the breakers of [Breakers]. A zero field means its
// default.
type BreakerConfig struct {
	// FailureRateThreshold opens the breaker when failures/calls in Window
	// reach it. Defaults to 0.5.
	FailureRateThreshold float64
	// MinRequests is the number of recorded calls in Window below which the
	// breaker never opens. Defaults to 10.
	MinRequests int
	// ConsecutiveFailures, when positive, also opens the breaker after this
	// many failures recorded in a row (no success between them), whatever
	// the window holds: a host that was healthy a moment ago has a window
	// full of successes, and the failure rate alone would let dozens of
	// requests reach it after it went down. Defaults to 0: only the failure
	// rate opens the breaker.
	ConsecutiveFailures int
	// Window is the sliding window of the failure rate, kept in 10 slices
	// that expire one by one. Defaults to 30s.
	Window time.Duration
	// OpenDelay is the mean time an open breaker waits before half-opening,
	// at the start of an outage. Defaults to 4s, so that with the jitter
	// the API is found back within 5 s of its recovery, at the cost of one
	// probe per 3–5 s while it is down (Hystrix, Polly and .NET's standard
	// resilience handler break for 5 s).
	OpenDelay time.Duration
	// MaxOpenDelay bounds how far the open delay grows while an outage
	// lasts: a fifteenth of the time since the breaker first opened, when
	// that is longer than OpenDelay. A 45 s outage is probed every ~4 s; an
	// hour-long one costs ~100 probes instead of 900, and its end is still
	// noticed within a fifteenth of its length. Defaults to 60s.
	MaxOpenDelay time.Duration
	// JitterFactor spreads each open delay uniformly over
	// OpenDelay·[1−JitterFactor, 1+JitterFactor], so breakers that opened
	// together do not probe together. Defaults to 0.25.
	JitterFactor float64
	// Clock returns the current time. Defaults to time.Now. Wait uses real
	// timers, so tests of waiting use testing/synctest rather than Clock.
	Clock func() time.Time
	// Rand returns values in [0, 1) for the jitter. Defaults to math/rand/v2.
	Rand func() float64
	// OnStateChange, if set, is called after every state change, outside the
	// breaker's lock. Calls for one breaker may arrive out of order when
	// several goroutines change its state at once.
	OnStateChange func(host string, from, to BreakerState)
}

// Defaults of BreakerConfig.
const (
	DefaultBreakerFailureRateThreshold = 0.5
	DefaultBreakerMinRequests          = 10
	DefaultBreakerWindow               = 30 * time.Second
	DefaultBreakerOpenDelay            = 4 * time.Second
	DefaultBreakerMaxOpenDelay         = time.Minute
	DefaultBreakerJitterFactor         = 0.25
)

// WithDefaults returns c with zero fields set to their defaults.
func (c BreakerConfig) WithDefaults() BreakerConfig {
	if c.FailureRateThreshold == 0 {
		c.FailureRateThreshold = DefaultBreakerFailureRateThreshold
	}
	if c.MinRequests == 0 {
		c.MinRequests = DefaultBreakerMinRequests
	}
	if c.Window == 0 {
		c.Window = DefaultBreakerWindow
	}
	if c.OpenDelay == 0 {
		c.OpenDelay = DefaultBreakerOpenDelay
	}
	if c.MaxOpenDelay == 0 {
		c.MaxOpenDelay = DefaultBreakerMaxOpenDelay
	}
	if c.JitterFactor == 0 {
		c.JitterFactor = DefaultBreakerJitterFactor
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Validate reports a configuration that cannot work, after defaults apply.
func (c BreakerConfig) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if !(c.FailureRateThreshold > 0 && c.FailureRateThreshold <= 1) {
		errs = append(errs, fmt.Errorf("failure rate threshold %v is outside (0, 1]", c.FailureRateThreshold))
	}
	if c.MinRequests < 1 {
		errs = append(errs, fmt.Errorf("min requests %d is below 1", c.MinRequests))
	}
	if c.ConsecutiveFailures < 0 {
		errs = append(errs, fmt.Errorf("consecutive failures %d is negative", c.ConsecutiveFailures))
	}
	if c.Window < breakerSlots {
		errs = append(errs, fmt.Errorf("window %v is too short", c.Window))
	}
	if c.OpenDelay < 0 {
		errs = append(errs, fmt.Errorf("open delay %v is negative", c.OpenDelay))
	}
	if c.MaxOpenDelay < 0 {
		errs = append(errs, fmt.Errorf("max open delay %v is negative", c.MaxOpenDelay))
	}
	if !(c.JitterFactor >= 0 && c.JitterFactor <= 1) {
		errs = append(errs, fmt.Errorf("jitter factor %v is outside [0, 1]", c.JitterFactor))
	}
	if len(errs) > 0 {
		return fmt.Errorf("validate breaker config: %w", errors.Join(errs...))
	}
	return nil
}

// Breakers holds one [Breaker] per API host, created on first use. It is safe
// for concurrent use.
type Breakers struct {
	cfg BreakerConfig
	mu  sync.Mutex
	m   map[string]*Breaker
}

// NewBreakers returns an empty set of breakers that share cfg. Invalid values
// are replaced by their defaults; call [BreakerConfig.Validate] to reject them.
func NewBreakers(cfg BreakerConfig) *Breakers {
	cfg = cfg.WithDefaults()
	d := BreakerConfig{}.WithDefaults()
	if !(cfg.FailureRateThreshold > 0 && cfg.FailureRateThreshold <= 1) {
		cfg.FailureRateThreshold = d.FailureRateThreshold
	}
	if cfg.MinRequests < 1 {
		cfg.MinRequests = d.MinRequests
	}
	cfg.ConsecutiveFailures = max(cfg.ConsecutiveFailures, 0)
	if cfg.Window < breakerSlots {
		cfg.Window = d.Window
	}
	if cfg.OpenDelay < 0 {
		cfg.OpenDelay = d.OpenDelay
	}
	if cfg.MaxOpenDelay < 0 {
		cfg.MaxOpenDelay = d.MaxOpenDelay
	}
	if !(cfg.JitterFactor >= 0 && cfg.JitterFactor <= 1) {
		cfg.JitterFactor = d.JitterFactor
	}
	return &Breakers{cfg: cfg, m: make(map[string]*Breaker)}
}

// For returns the breaker of host, creating it closed on first use.
func (bs *Breakers) For(host string) *Breaker {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b, ok := bs.m[host]
	if !ok {
		b = newBreaker(host, bs.cfg)
		bs.m[host] = b
	}
	return b
}

// Hosts returns a snapshot of the state of every breaker created so far.
func (bs *Breakers) Hosts() map[string]BreakerState {
	bs.mu.Lock()
	list := make([]*Breaker, 0, len(bs.m))
	for _, b := range bs.m {
		list = append(list, b)
	}
	bs.mu.Unlock()
	out := make(map[string]BreakerState, len(list))
	for _, b := range list {
		out[b.host] = b.State()
	}
	return out
}

const breakerSlots = 10

// Breaker is a circuit breaker for one host. In the closed state it counts
// recorded successes and failures over a sliding window and opens when at
// least MinRequests calls were recorded and the failure rate reaches the
// threshold, or (when ConsecutiveFailures is set) after that many failures
// in a row. Open, it rejects calls for a jittered delay, then half-opens and
// grants exactly one probe permit: a success closes it (with a fresh window),
// a failure reopens it with a new delay, and a release (a neutral outcome such
// as a 4xx or a cancellation) hands the probe to the next caller.
//
// Results of permits granted before the breaker last changed state are
// ignored, so slow calls from before an outage cannot reopen a recovered host.
//
// A Breaker is safe for concurrent use.
type Breaker struct {
	host string
	cfg  BreakerConfig

	mu       sync.Mutex
	state    BreakerState
	gen      uint64 // incremented on every state change
	slotDur  time.Duration
	slots    [breakerSlots]breakerSlot
	openedAt time.Time
	// downSince is when the breaker opened after being closed: the start
	// of the outage, kept while probes fail.
	downSince time.Time
	delay     time.Duration // current open delay
	probing   bool          // half-open: the probe permit is taken
	streak    int           // closed: failures recorded since the last success
	changed   chan struct{} // closed and replaced when a permit may have become available
}

type breakerSlot struct {
	index           int64
	calls, failures int
}

func newBreaker(host string, cfg BreakerConfig) *Breaker {
	return &Breaker{
		host:    host,
		cfg:     cfg,
		slotDur: cfg.Window / breakerSlots,
		changed: make(chan struct{}),
	}
}

// Host returns the host the breaker guards.
func (b *Breaker) Host() string { return b.host }

// Permit is the right to make one call through a Breaker. Exactly one of
// Record or Release should be called; later calls are no-ops, as are calls on
// a nil *Permit. A half-open probe that is never ended keeps the breaker
// half-open, so end permits in a defer when the call can panic.
type Permit struct {
	b     *Breaker
	gen   uint64
	probe bool
	once  sync.Once
}

// Record records the outcome of the call: success false counts as a failure
// of the host (5xx, transport error), success true as a success.
func (p *Permit) Record(success bool) {
	if p == nil {
		return
	}
	p.once.Do(func() { p.b.record(p, success, false) })
}

// Release ends the permit without recording an outcome, for results that
// say nothing about the host's health: 4xx, 429, cancellation. A released
// half-open probe is handed to the next caller.
func (p *Permit) Release() {
	if p == nil {
		return
	}
	p.once.Do(func() { p.b.record(p, false, true) })
}

// transition is a state change to report after unlocking.
type transition struct{ from, to BreakerState }

// Acquire returns a permit, or a *BreakerOpenError wrapping ErrBreakerOpen.
func (b *Breaker) Acquire() (*Permit, error) {
	p, _, _, err := b.acquire()
	return p, err
}

// acquire also returns, for Wait, the channel closed when a permit may have
// become available and how long until the open delay ends (-1: not open).
func (b *Breaker) acquire() (*Permit, <-chan struct{}, time.Duration, error) {
	b.mu.Lock()
	ts := b.advance(nil)
	var p *Permit
	var err error
	switch {
	case b.state == BreakerClosed:
		p = &Permit{b: b, gen: b.gen}
	case b.state == BreakerHalfOpen && !b.probing:
		b.probing = true
		p = &Permit{b: b, gen: b.gen, probe: true}
	case b.state == BreakerHalfOpen:
		err = &BreakerOpenError{Host: b.host, RetryIn: b.cfg.OpenDelay}
	default:
		err = &BreakerOpenError{Host: b.host, RetryIn: b.remaining()}
	}
	changed := b.changed
	openFor := time.Duration(-1)
	if b.state == BreakerOpen {
		openFor = b.remaining()
	}
	b.mu.Unlock()
	b.emit(ts)
	return p, changed, openFor, err
}

// Allow is Acquire in the two-step style of gobreaker: done(success) records
// the outcome. To end a call without recording (4xx, cancellation), call
// Release instead of done.
func (b *Breaker) Allow() (done func(success bool), err error) {
	p, err := b.Acquire()
	if err != nil {
		return nil, err
	}
	return p.Record, nil
}

// Release hands back the half-open probe permit without recording an outcome.
// Only the caller holding the probe (from Allow) may call it, instead of done;
// in other states it does nothing. [Permit.Release] is the safer form: it
// cannot release another caller's probe.
func (b *Breaker) Release() {
	b.mu.Lock()
	if b.state == BreakerHalfOpen && b.probing {
		b.probing = false
		b.notify()
	}
	b.mu.Unlock()
}

// Wait blocks until the breaker grants a permit or ctx is done, in which case
// it returns context.Cause(ctx). It wakes when the open delay ends, when the
// breaker changes state and when a half-open probe is released.
func (b *Breaker) Wait(ctx context.Context) (*Permit, error) {
	for {
		p, changed, openFor, err := b.acquire()
		if err == nil {
			return p, nil
		}
		// Half-open with the probe taken: only a state change or a released
		// probe frees a permit, so wait on changed alone.
		var timer *time.Timer
		var fire <-chan time.Time
		if openFor >= 0 {
			timer = time.NewTimer(max(openFor, time.Millisecond))
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
	}
}

// SleepUnlessClosed waits d, or until ctx is done or the breaker is closed
// (at once if it is closed now); it reports whether ctx is still live. A
// retry that backs off while the host is down goes at once when a probe
// finds it back, rather than at the end of a backoff drawn when it was down:
// that wait would hold the caller's work (a transcript slot, say) from the
// recovered host. Do not use it for a server's Retry-After.
func (b *Breaker) SleepUnlessClosed(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		b.mu.Lock()
		closed, changed := b.state == BreakerClosed, b.changed
		b.mu.Unlock()
		if closed {
			return ctx.Err() == nil
		}
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		case <-changed:
		}
	}
}

// State returns the current state. An open breaker whose delay has passed
// reports (and becomes) half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	ts := b.advance(nil)
	s := b.state
	b.mu.Unlock()
	b.emit(ts)
	return s
}

// RetryIn returns the time until an open breaker half-opens, else 0.
func (b *Breaker) RetryIn() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != BreakerOpen {
		return 0
	}
	return b.remaining()
}

// Counts returns the calls and failures recorded in the current window.
func (b *Breaker) Counts() (calls, failures int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.slot()
	for _, s := range b.slots {
		calls += s.calls
		failures += s.failures
	}
	return calls, failures
}

func (b *Breaker) record(p *Permit, success, neutral bool) {
	b.mu.Lock()
	var ts []transition
	ts = b.advance(ts)
	switch {
	case p.gen != b.gen:
		// The breaker changed state since this permit was granted.
	case p.probe:
		switch {
		case neutral:
			b.probing = false
			b.notify()
		case success:
			ts = b.setState(BreakerClosed, ts)
		default:
			ts = b.setState(BreakerOpen, ts)
		}
	case neutral:
	default:
		s := b.slot()
		s.calls++
		b.streak++
		if success {
			b.streak = 0
		} else {
			s.failures++
			ts = b.checkOpen(ts)
		}
	}
	b.mu.Unlock()
	b.emit(ts)
}

// checkOpen opens a closed breaker whose window crossed the threshold.
// Requires b.mu.
func (b *Breaker) checkOpen(ts []transition) []transition {
	var calls, failures int
	for _, s := range b.slots {
		calls += s.calls
		failures += s.failures
	}
	rate := calls >= b.cfg.MinRequests && float64(failures) >= b.cfg.FailureRateThreshold*float64(calls)
	streak := b.cfg.ConsecutiveFailures > 0 && b.streak >= b.cfg.ConsecutiveFailures
	if rate || streak {
		ts = b.setState(BreakerOpen, ts)
	}
	return ts
}

// advance half-opens an open breaker whose delay has passed. Requires b.mu.
func (b *Breaker) advance(ts []transition) []transition {
	if b.state == BreakerOpen && b.remaining() <= 0 {
		ts = b.setState(BreakerHalfOpen, ts)
	}
	return ts
}

// setState changes state and resets what the new state needs. Requires b.mu.
func (b *Breaker) setState(to BreakerState, ts []transition) []transition {
	from := b.state
	b.state = to
	b.gen++
	b.probing = false
	b.streak = 0
	switch to {
	case BreakerOpen:
		b.openedAt = b.cfg.Clock()
		if from == BreakerClosed {
			b.downSince = b.openedAt
		}
		// Outage so far / 15, between OpenDelay and MaxOpenDelay.
		grown := min(b.openedAt.Sub(b.downSince)/15, b.cfg.MaxOpenDelay)
		j := b.cfg.JitterFactor * (2*b.cfg.Rand() - 1)
		b.delay = time.Duration(math.Round(float64(max(b.cfg.OpenDelay, grown)) * (1 + j)))
	case BreakerClosed:
		b.slots = [breakerSlots]breakerSlot{}
	}
	b.notify()
	return append(ts, transition{from, to})
}

// remaining is the rest of the open delay. Requires b.mu.
func (b *Breaker) remaining() time.Duration {
	return max(b.delay-b.cfg.Clock().Sub(b.openedAt), 0)
}

// notify wakes every Wait. Requires b.mu.
func (b *Breaker) notify() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// slot expires old slices and returns the one for now. Requires b.mu.
func (b *Breaker) slot() *breakerSlot {
	idx := b.cfg.Clock().UnixNano() / int64(b.slotDur)
	for i := range b.slots {
		if s := &b.slots[i]; idx-s.index >= breakerSlots || s.index > idx {
			*s = breakerSlot{index: idx}
		}
	}
	s := &b.slots[((idx%breakerSlots)+breakerSlots)%breakerSlots]
	if s.index != idx {
		*s = breakerSlot{index: idx}
	}
	return s
}

func (b *Breaker) emit(ts []transition) {
	if b.cfg.OnStateChange == nil {
		return
	}
	for _, t := range ts {
		b.cfg.OnStateChange(b.host, t.from, t.to)
	}
}
