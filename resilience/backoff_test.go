package resilience

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		b          Backoff
		retry      int
		min, bound time.Duration // Delay ∈ [min, bound]
	}{
		{"first retry is U(0, base)", Backoff{Base: time.Second, Cap: time.Minute}, 0, 0, time.Second},
		{"second doubles", Backoff{Base: time.Second, Cap: time.Minute}, 1, 0, 2 * time.Second},
		{"fifth", Backoff{Base: time.Second, Cap: time.Minute}, 4, 0, 16 * time.Second},
		{"capped", Backoff{Base: time.Second, Cap: time.Minute}, 6, 0, time.Minute},
		{"huge retry saturates", Backoff{Base: time.Second, Cap: time.Minute}, 1 << 20, 0, time.Minute},
		{"negative retry is the first", Backoff{Base: time.Second, Cap: time.Minute}, -3, 0, time.Second},
		{"multiplier 1.5", Backoff{Base: time.Second, Cap: time.Minute, Multiplier: 1.5}, 2, 0, 2250 * time.Millisecond},
		{"multiplier 3", Backoff{Base: 10 * time.Millisecond, Cap: time.Second, Multiplier: 3}, 3, 0, 270 * time.Millisecond},
		{"defaults", Backoff{}, 1, 0, 2 * DefaultBackoffBase},
		{"default cap", Backoff{}, 30, 0, DefaultBackoffCap},
		{"min delay floors", Backoff{Base: time.Minute, Cap: 10 * time.Minute, MinDelay: 30 * time.Second}, 0, 30 * time.Second, time.Minute},
		{"min delay grows", Backoff{Base: time.Minute, Cap: 10 * time.Minute, MinDelay: 30 * time.Second}, 2, 30 * time.Second, 4 * time.Minute},
		{"min delay above ceiling", Backoff{Base: time.Second, Cap: time.Minute, MinDelay: 5 * time.Second}, 0, 5 * time.Second, 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := max(tt.b.Ceiling(tt.retry), tt.b.MinDelay); got != tt.bound {
				t.Errorf("ceiling = %v, want %v", got, tt.bound)
			}
			if got := tt.b.Delay(tt.retry, func() float64 { return 0 }); got != tt.min {
				t.Errorf("Delay(rnd=0) = %v, want %v", got, tt.min)
			}
			if got := tt.b.Delay(tt.retry, func() float64 { return 1 }); got != tt.bound {
				t.Errorf("Delay(rnd=1) = %v, want %v", got, tt.bound)
			}
			rnd := rand.New(rand.NewPCG(1, 2))
			var sum time.Duration
			const n = 2000
			for range n {
				d := tt.b.Delay(tt.retry, rnd.Float64)
				if d < tt.min || d > tt.bound {
					t.Fatalf("Delay = %v, want in [%v, %v]", d, tt.min, tt.bound)
				}
				sum += d
			}
			// Full jitter is uniform: the mean is the middle of the range.
			mid := (tt.min + tt.bound) / 2
			if mean := sum / n; mean < mid-mid/10-1 || mean > mid+mid/10+1 {
				t.Errorf("mean Delay = %v, want about %v", mean, mid)
			}
		})
	}
}

func TestBackoffNilRand(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Cap: time.Minute}
	for range 100 {
		if d := b.Delay(2, nil); d < 0 || d > 4*time.Second {
			t.Fatalf("Delay = %v, want in [0, 4s]", d)
		}
	}
}

func TestBackoffValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		b    Backoff
		want string // substring of the error; "" means valid
	}{
		{"zero value", Backoff{}, ""},
		{"profiles' shape", Backoff{Base: time.Minute, Cap: 10 * time.Minute, MinDelay: 30 * time.Second, MaxAttempts: -1, MaxElapsed: 24 * time.Hour}, ""},
		{"negative base", Backoff{Base: -time.Second}, "base"},
		{"cap below base", Backoff{Base: time.Minute, Cap: time.Second}, "cap"},
		{"multiplier below 1", Backoff{Multiplier: 0.5}, "multiplier"},
		{"negative elapsed", Backoff{MaxElapsed: -time.Second}, "max elapsed"},
		{"min delay above cap", Backoff{Cap: time.Second, Base: time.Second, MinDelay: time.Minute}, "min delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.b.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
