package resilience

import (
	"math/rand/v2"
	"time"
)

// DefaultPollInitial is the PollInitial that PollDelay uses for a profile
// without one: the "realtime" profile's, a second, the shortest wait between
// polls that a person watching would not notice. Round.
const DefaultPollInitial = time.Second

// PollDelay returns how long to wait before poll number poll (0 for the first)
// of a job expected to take expected in total (0 means unknown). It is a
// cadence, not a backoff:
//
//   - The first poll of a job of known duration comes just after its expected
//     completion: expected·U(1.0, 1.1), so that most jobs are done when first
//     asked and a clean job costs one poll. Never sooner than PollInitial/10;
//     PollInitial when the duration is unknown.
//   - Later polls (the job was not done yet) wait step·2^(poll−1), capped at
//     PollMax, where step is a tenth of the expected duration (at least
//     PollInitial/10) when known, else PollInitial; up to 20% is taken off at
//     random so a batch of jobs does not poll in lockstep. A job that was
//     not done at its expected time is nearly done: a late second poll
//     holds its transcript slot (and the slot's next file) for nothing.
//   - slow (queued, throttled or overdue) goes to PollMax at once.
//
// rnd returns values in [0, 1); nil means math/rand/v2.
func PollDelay(prof Profile, poll int, expected time.Duration, slow bool, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	initial, most := prof.PollInitial, prof.PollMax
	if initial <= 0 {
		initial = DefaultPollInitial
	}
	most = max(most, initial)
	floor := initial / 10
	if poll <= 0 && !slow {
		if expected <= 0 {
			return initial
		}
		return max(floor, time.Duration(float64(expected)*(1+0.1*rnd())))
	}
	ceiling := most
	if !slow {
		ceiling = initial
		if expected > 0 {
			ceiling = max(floor, expected/10)
		}
		for i := 1; i < poll && ceiling < most; i++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, most)
	}
	return time.Duration(float64(ceiling) * (1 - 0.2*rnd()))
}
