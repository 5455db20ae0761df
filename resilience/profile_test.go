package resilience

import (
	"strings"
	"testing"
	"time"
)

func TestLookupProfile(t *testing.T) {
	t.Parallel()
	for _, p := range Profiles() {
		got, err := LookupProfile(p.Name)
		if err != nil || got.Name != p.Name {
			t.Errorf("LookupProfile(%q) = %v, %v", p.Name, got.Name, err)
		}
		if err := p.Policy().Validate(); err != nil {
			t.Errorf("profile %s: %v", p.Name, err)
		}
		if p.PollInitial <= 0 || p.PollMax < p.PollInitial || p.RetryAfterCap <= 0 {
			t.Errorf("profile %s: bad poll or cap bounds: %+v", p.Name, p)
		}
		if pol := p.Policy().WithDefaults(); pol.RetryAfterMax < pol.RetryAfterCap {
			t.Errorf("profile %s: RetryAfterMax %v below RetryAfterCap %v", p.Name, pol.RetryAfterMax, pol.RetryAfterCap)
		}
		if p.Backoff.MaxAttempts < 0 && p.Backoff.MaxElapsed == 0 {
			t.Errorf("profile %s retries forever", p.Name)
		}
	}
	_, err := LookupProfile("turbo")
	if err == nil || !strings.Contains(err.Error(), "realtime, default, batch") {
		t.Errorf("LookupProfile(turbo) = %v, want an error listing the valid names", err)
	}
	// Profiles returns a copy.
	Profiles()[0].Name = "changed"
	if Profiles()[0].Name != "realtime" {
		t.Error("Profiles() exposes the package's slice")
	}
}

func TestProfileSchedules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		first, last time.Duration // ceiling of the first and of a late retry
		min         time.Duration
	}{
		{"realtime", time.Second, 8 * time.Second, 0},
		{"default", time.Second, time.Minute, 0},
		{"batch", time.Minute, 10 * time.Minute, 30 * time.Second},
	}
	for _, tt := range tests {
		p, err := LookupProfile(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		b := p.Backoff
		if got := b.Delay(0, func() float64 { return 1 }); got != tt.first {
			t.Errorf("%s: first retry ceiling = %v, want %v", tt.name, got, tt.first)
		}
		if got := b.Delay(20, func() float64 { return 1 }); got != tt.last {
			t.Errorf("%s: late retry ceiling = %v, want %v", tt.name, got, tt.last)
		}
		if got := b.Delay(0, func() float64 { return 0 }); got != tt.min {
			t.Errorf("%s: shortest delay = %v, want %v", tt.name, got, tt.min)
		}
	}
}
