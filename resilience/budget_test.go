package resilience

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// retries spends retries the way Policy.Do does (each granted retry records
// its attempt) and returns how many were granted.
func retries(b *Budget, want int) int {
	n := 0
	for range want {
		if !b.TryRetry() {
			break
		}
		b.RecordRequest()
		n++
	}
	return n
}

func TestBudgetRatio(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBudget(BudgetConfig{Ratio: 0.2, Window: 10 * time.Second, MinRetriesPerSecond: -1, Clock: clock.Now})
	if b.TryRetry() {
		t.Fatal("TryRetry() = true with no requests and no floor")
	}
	for range 10 {
		b.RecordRequest()
	}
	if got := b.Available(); got != 2 {
		t.Errorf("Available() = %d after 10 requests, want 2", got)
	}
	if got := retries(b, 10); got != 2 {
		t.Errorf("granted %d retries after 10 requests at ratio 0.2, want 2", got)
	}
	// Later requests inside the window add allowance.
	clock.Advance(5 * time.Second)
	for range 5 {
		b.RecordRequest()
	}
	if got := retries(b, 10); got != 1 {
		t.Errorf("granted %d retries after 5 more requests, want 1", got)
	}
}

func TestBudgetWindowExpires(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBudget(BudgetConfig{Ratio: 0.5, Window: 10 * time.Second, MinRetriesPerSecond: -1, Clock: clock.Now})
	for range 10 {
		b.RecordRequest()
	}
	clock.Advance(11 * time.Second)
	if b.TryRetry() {
		t.Error("TryRetry() = true after the requests' window passed")
	}
	// Spent retries expire too: a burst of retries does not block the next
	// window's requests.
	for range 4 {
		b.RecordRequest()
	}
	if got := retries(b, 10); got != 2 {
		t.Fatalf("granted %d retries, want 2", got)
	}
	clock.Advance(11 * time.Second)
	for range 2 {
		b.RecordRequest()
	}
	if got := retries(b, 10); got != 1 {
		t.Errorf("granted %d retries in a fresh window, want 1", got)
	}
}

func TestBudgetFloor(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBudget(BudgetConfig{Ratio: 0.2, Window: 10 * time.Second, MinRetriesPerSecond: 1, Clock: clock.Now})
	if got := retries(b, 100); got != 10 {
		t.Errorf("granted %d retries with no traffic, want MinRetriesPerSecond·Window = 10", got)
	}
	clock.Advance(10 * time.Second)
	if got := retries(b, 100); got != 10 {
		t.Errorf("granted %d retries in the next window, want 10", got)
	}
}

func TestBudgetDefaults(t *testing.T) {
	t.Parallel()
	c := BudgetConfig{}.WithDefaults()
	if c.Ratio != 0.2 || c.Window != 10*time.Second || c.MinRetriesPerSecond != 1 || c.Clock == nil {
		t.Errorf("defaults = %+v", c)
	}
	if err := (BudgetConfig{Ratio: -1}).Validate(); err == nil {
		t.Error("Validate() accepted a negative ratio")
	}
	if err := (BudgetConfig{}).Validate(); err != nil {
		t.Errorf("Validate() = %v for the zero config", err)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := NewBudget(BudgetConfig{Ratio: 0.1, MinRetriesPerSecond: -1, Clock: clock.Now})
	var granted atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				b.RecordRequest()
				if b.TryRetry() {
					granted.Add(1)
					b.RecordRequest()
				}
			}
		})
	}
	wg.Wait()
	if got := granted.Load(); got > 800 {
		t.Errorf("granted %d retries for 8000 requests at ratio 0.1, want ≤ 800", got)
	}
}
