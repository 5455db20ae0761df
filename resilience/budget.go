package resilience

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// BudgetConfig configures a [Budget]. A zero field means its default.
type BudgetConfig struct {
	// Ratio is the number of retries allowed per request (first attempt)
	// over Window. Defaults to 0.2, so a full outage costs at most about
	// 1.2× the request load (plus the MinRetriesPerSecond floor).
	Ratio float64
	// Window is how long a request's retry allowance lasts, and how long a
	// spent retry counts against the budget. Defaults to 10s (Finagle).
	Window time.Duration
	// MinRetriesPerSecond is a floor that lets a quiet process retry even
	// with few requests in the window: Window·MinRetriesPerSecond retries
	// are always available per Window. Defaults to 1; a negative value
	// means no floor. (Finagle's default of 10 suits servers, not a CLI.)
	MinRetriesPerSecond float64
	// Clock returns the current time. Defaults to time.Now.
	Clock func() time.Time
}

// Defaults of BudgetConfig.
const (
	DefaultBudgetRatio               = 0.2
	DefaultBudgetWindow              = 10 * time.Second
	DefaultBudgetMinRetriesPerSecond = 1.0
)

// WithDefaults returns c with zero fields set to their defaults.
func (c BudgetConfig) WithDefaults() BudgetConfig {
	if c.Ratio == 0 {
		c.Ratio = DefaultBudgetRatio
	}
	if c.Window == 0 {
		c.Window = DefaultBudgetWindow
	}
	if c.MinRetriesPerSecond == 0 {
		c.MinRetriesPerSecond = DefaultBudgetMinRetriesPerSecond
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}

// Validate reports a configuration that cannot work, after defaults apply.
func (c BudgetConfig) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if c.Ratio <= 0 || math.IsInf(c.Ratio, 0) || math.IsNaN(c.Ratio) {
		errs = append(errs, fmt.Errorf("ratio %v is not a positive number", c.Ratio))
	}
	if c.Window < budgetSlots {
		errs = append(errs, fmt.Errorf("window %v is too short", c.Window))
	}
	if len(errs) > 0 {
		return fmt.Errorf("validate budget config: %w", errors.Join(errs...))
	}
	return nil
}

// budgetSlots is the number of buckets the sliding window is divided into.
const budgetSlots = 10

// tokenScale turns fractional token amounts into exact integers.
const tokenScale = 1000

// Budget is a process-wide retry budget in the style of Finagle's RetryBudget
// and the SRE book's per-client budget: over any Window, retries may not exceed
// Ratio × requests, plus a small floor for quiet processes. Unlike a per-call
// attempt limit, it caps the total load a fleet of callers adds during an
// outage.
//
// Every attempt calls RecordRequest, which deposits one token that expires
// after Window. TryRetry needs 1/Ratio tokens and withdraws 1/Ratio + 1: the
// extra one cancels the deposit the retry's own attempt makes, so retries are
// budgeted against first attempts only ("for every 5 calls, 1 retry" at Ratio
// 0.2). Withdrawals expire after Window too. A caller that records only first
// attempts gets a slightly stricter budget.
//
// A Budget is safe for concurrent use. Share one per process (or per API).
type Budget struct {
	cfg      BudgetConfig
	slotDur  time.Duration
	reserve  int64 // floor, in scaled tokens
	withdraw int64 // cost of one retry, in scaled tokens

	mu    sync.Mutex
	slots [budgetSlots]budgetSlot
}

type budgetSlot struct {
	index  int64 // absolute slot number (time / slotDur)
	tokens int64 // net scaled tokens deposited in this slot
}

// NewBudget returns a Budget. Invalid configurations are corrected to the
// defaults of the offending fields; call [BudgetConfig.Validate] to reject them.
func NewBudget(cfg BudgetConfig) *Budget {
	cfg = cfg.WithDefaults()
	if cfg.Ratio <= 0 || math.IsInf(cfg.Ratio, 0) || math.IsNaN(cfg.Ratio) {
		cfg.Ratio = DefaultBudgetRatio
	}
	if cfg.Window < budgetSlots {
		cfg.Window = DefaultBudgetWindow
	}
	b := &Budget{
		cfg:      cfg,
		slotDur:  cfg.Window / budgetSlots,
		withdraw: int64(math.Round(tokenScale/cfg.Ratio)) + tokenScale,
	}
	if cfg.MinRetriesPerSecond > 0 {
		b.reserve = int64(math.Round(cfg.MinRetriesPerSecond * cfg.Window.Seconds() * float64(b.withdraw-tokenScale)))
	}
	return b
}

// RecordRequest records one attempt (first or retry) about to be sent.
func (b *Budget) RecordRequest() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.current().tokens += tokenScale
}

// TryRetry reports whether a retry may be sent, and if so spends it.
func (b *Budget) TryRetry() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.current()
	if b.balance() < b.withdraw-tokenScale {
		return false
	}
	s.tokens -= b.withdraw
	return true
}

// Available returns how many retries TryRetry would grant now, if each retry
// records its attempt.
func (b *Budget) Available() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.current()
	return int(max(b.balance(), 0) / (b.withdraw - tokenScale))
}

// current expires old slots and returns the slot for now. Requires b.mu.
func (b *Budget) current() *budgetSlot {
	idx := b.cfg.Clock().UnixNano() / int64(b.slotDur)
	s := &b.slots[((idx%budgetSlots)+budgetSlots)%budgetSlots]
	if s.index != idx {
		*s = budgetSlot{index: idx}
	}
	for i := range b.slots {
		if o := &b.slots[i]; idx-o.index >= budgetSlots || o.index > idx {
			*o = budgetSlot{index: idx}
		}
	}
	return s
}

// balance is the reserve plus all live slots. Requires b.mu and current().
func (b *Budget) balance() int64 {
	sum := b.reserve
	for _, s := range b.slots {
		sum += s.tokens
	}
	return sum
}
