package resilience

import (
	"fmt"
	"strings"
	"time"
)

// Profile is a named set of retry and polling parameters for one kind of
// caller. Profiles are plain values; copy one and change fields to tune it.
type Profile struct {
	// Name is the name LookupProfile knows the profile by.
	Name string
	// Backoff is the retry schedule and its limits.
	Backoff Backoff
	// RetryAfterCap is the longest in-process wait; above it the work is
	// handed to the durable queue (see Policy.RetryAfterCap).
	RetryAfterCap time.Duration
	// RetryAfterMax is the longest wait a Retry-After is honoured for (see
	// Policy.RetryAfterMax). Defaults to DefaultRetryAfterMax.
	RetryAfterMax time.Duration
	// PollInitial is the shortest wait between polls of a transcript.
	PollInitial time.Duration
	// PollMax is the longest wait between polls of a transcript.
	PollMax time.Duration
}

// Policy returns a Policy with the profile's Backoff, RetryAfterCap and
// RetryAfterMax.
func (p Profile) Policy() Policy {
	return Policy{Backoff: p.Backoff, RetryAfterCap: p.RetryAfterCap, RetryAfterMax: p.RetryAfterMax}
}

// Scaled returns p with every delay multiplied by f, for a clock that runs at
// f times real time (tests, demos and benchmarks against an emulator); f of 0
// or 1 returns p unchanged. RetryAfterMax is not scaled: an emulator's
// Retry-After is whole seconds (at least 1) at any scale, so a scaled maximum
// would cut its ordinary throttles and defer work it means only to slow down.
func (p Profile) Scaled(f float64) Profile {
	if f == 1 || f == 0 {
		return p
	}
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * f) }
	p.Backoff.Base, p.Backoff.Cap = s(p.Backoff.Base), s(p.Backoff.Cap)
	p.Backoff.MaxElapsed, p.Backoff.MinDelay = s(p.Backoff.MaxElapsed), s(p.Backoff.MinDelay)
	p.RetryAfterCap, p.PollInitial, p.PollMax = s(p.RetryAfterCap), s(p.PollInitial), s(p.PollMax)
	return p
}

// The profiles, in order of patience. Each comment says why its numbers.
var profiles = []Profile{
	{
		// realtime: a person is waiting at a terminal. Four attempts with
		// delays of at most 1, 2 and 4 s (mean total 3.5 s) ride out a
		// connection reset or a rolling deploy; anything longer is an outage
		// that the user should hear about within 30 s. A Retry-After above
		// 10 s is returned to the caller rather than slept.
		Name: "realtime",
		Backoff: Backoff{
			Base: time.Second, Cap: 8 * time.Second, Multiplier: 2,
			MaxAttempts: 4, MaxElapsed: 30 * time.Second,
		},
		RetryAfterCap: 10 * time.Second,
		PollInitial:   time.Second,
		PollMax:       5 * time.Second,
	},
	{
		// default: a CLI run over a few files. Seven attempts with ceilings
		// of 1, 2, 4, 8, 16, 32 s (mean total 31.5 s; 63 s at worst) outlast
		// a typical 502/503 burst, and 5 minutes from the first failure
		// bounds the wait. The first retries come within 1 and 2 s, as
		// gRPC's and AWS's do: a lone 5xx or reset, the common case, costs
		// about half a second rather than holding a transcript slot for
		// seconds (a 5 s base made a flaky run 1.3-1.7x as long as a clean
		// one in the bench). A longer burst trips the breaker, which then
		// paces everything. Retry-After up to 2 minutes is honoured
		// in-process.
		Name: "default",
		Backoff: Backoff{
			Base: time.Second, Cap: time.Minute, Multiplier: 2,
			MaxAttempts: 7, MaxElapsed: 5 * time.Minute,
		},
		RetryAfterCap: 2 * time.Minute,
		PollInitial:   3 * time.Second,
		PollMax:       15 * time.Second,
	},
	{
		// batch: unattended runs over thousands of files behind a durable
		// queue. Delays start in [30 s, 60 s] and grow to [30 s, 10 min], so
		// a fleet of workers never retries in lockstep or faster than twice a
		// minute per file; attempts are unlimited within 24 h of the first
		// failure so a file survives an outage of several hours. Retry-After
		// up to 10 minutes is slept; longer ones go back to the queue.
		Name: "batch",
		Backoff: Backoff{
			Base: time.Minute, Cap: 10 * time.Minute, Multiplier: 2,
			MaxAttempts: -1, MaxElapsed: 24 * time.Hour, MinDelay: 30 * time.Second,
		},
		RetryAfterCap: 10 * time.Minute,
		PollInitial:   10 * time.Second,
		PollMax:       time.Minute,
	},
}

// Profiles returns every profile, from the least to the most patient.
func Profiles() []Profile {
	return append([]Profile(nil), profiles...)
}

// LookupProfile returns the profile called name ("realtime", "default" or
// "batch"). An unknown name gives an error that lists the valid names.
func LookupProfile(name string) (Profile, error) {
	names := make([]string, 0, len(profiles))
	for _, p := range profiles {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return Profile{}, fmt.Errorf("look up profile: unknown profile %q (valid: %s)", name, strings.Join(names, ", "))
}
