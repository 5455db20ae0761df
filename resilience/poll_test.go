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
		{"first poll just after expected", 0, time.Minute, false, 60 * time.Second, 66 * time.Second},
		{"first poll of a short job", 0, time.Second, false, time.Second, 1100 * time.Millisecond},
		{"first poll never before PollInitial/10", 0, 100 * time.Millisecond, false, 300 * time.Millisecond, 300 * time.Millisecond},
		{"unknown expected", 0, 0, false, 3 * time.Second, 3 * time.Second},
		{"second poll: a tenth of expected", 1, time.Minute, false, 4800 * time.Millisecond, 6 * time.Second},
		{"third poll grows", 2, time.Minute, false, 9600 * time.Millisecond, 12 * time.Second},
		{"capped", 3, time.Minute, false, 12 * time.Second, 15 * time.Second},
		{"second poll of a short job: a tenth of expected", 1, 5 * time.Second, false, 400 * time.Millisecond, 500 * time.Millisecond},
		{"second poll of a short job floors at PollInitial/10", 1, 2 * time.Second, false, 240 * time.Millisecond, 300 * time.Millisecond},
		{"second poll, unknown expected", 1, 0, false, 2400 * time.Millisecond, 3 * time.Second},
		{"third poll, unknown expected", 2, 0, false, 4800 * time.Millisecond, 6 * time.Second},
		{"fourth poll, unknown expected", 3, 0, false, 9600 * time.Millisecond, 12 * time.Second},
		{"capped, unknown expected", 4, 0, false, 12 * time.Second, 15 * time.Second},
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
