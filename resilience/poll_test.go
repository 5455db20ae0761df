package resilience

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestPollDelay(t *testing.T) {
	t.Parallel()
	prof := Profile{PollInitial: 3 * time.Second, PollMax: 15 * time.Second}
	tests := []struct {
		name     string
		poll     int
		expected time.Duration
		slow     bool
		lo, hi   time.Duration
	}{
		{"first poll near expected", 0, time.Minute, false, 54 * time.Second, 66 * time.Second},
		{"first poll never before PollInitial", 0, time.Second, false, 3 * time.Second, 3 * time.Second},
		{"unknown expected", 0, 0, false, 3 * time.Second, 3 * time.Second},
		{"second poll", 1, time.Minute, false, 2400 * time.Millisecond, 3 * time.Second},
		{"third poll grows", 2, time.Minute, false, 4800 * time.Millisecond, 6 * time.Second},
		{"fourth poll grows", 3, time.Minute, false, 9600 * time.Millisecond, 12 * time.Second},
		{"capped", 4, time.Minute, false, 12 * time.Second, 15 * time.Second},
		{"capped late", 1000, time.Minute, false, 12 * time.Second, 15 * time.Second},
		{"slow goes to PollMax", 1, time.Minute, true, 12 * time.Second, 15 * time.Second},
		{"slow first poll", 0, time.Minute, true, 12 * time.Second, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rnd := rand.New(rand.NewPCG(3, 4))
			for _, r := range []func() float64{func() float64 { return 0 }, func() float64 { return 0.99999 }, rnd.Float64, nil} {
				for range 50 {
					if d := PollDelay(prof, tt.poll, tt.expected, tt.slow, r); d < tt.lo || d > tt.hi {
						t.Fatalf("PollDelay = %v, want in [%v, %v]", d, tt.lo, tt.hi)
					}
				}
			}
		})
	}
}
