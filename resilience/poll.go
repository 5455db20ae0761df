package resilience

import (
	"math/rand/v2"
	"time"
)

// PollDelay returns how long to wait before poll number poll (0 for the first)
// of a job expected to take expected in total. It is a cadence, not a backoff:
//
//   - The first poll comes near the expected completion time: expected·U(0.9,
//     1.1), but never sooner than PollInitial (expected 0 means unknown).
//   - Later polls wait PollInitial·2^(poll−1) capped at PollMax, or PollMax at
//     once when slow is set (the job is overdue), with up to 20% taken off
//     at random so a batch of jobs does not poll in lockstep.
//
// Every result lies in [0.8·PollInitial, max(PollMax, first-poll delay)].
// rnd returns values in [0, 1); nil means math/rand/v2.
func PollDelay(prof Profile, poll int, expected time.Duration, slow bool, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	initial, most := prof.PollInitial, prof.PollMax
	if initial <= 0 {
		initial = time.Second
	}
	most = max(most, initial)
	if poll <= 0 && !slow {
		return max(initial, time.Duration(float64(expected)*(0.9+0.2*rnd())))
	}
	ceiling := most
	if !slow {
		ceiling = initial
		for i := 1; i < poll && ceiling < most; i++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, most)
	}
	return time.Duration(float64(ceiling) * (1 - 0.2*rnd()))
}
