package resilience_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/durascribe/durascribe/resilience"
)

var errUnavailable = errors.New("503 service unavailable")

func ExamplePolicy_Do() {
	breakers := resilience.NewBreakers(resilience.BreakerConfig{})
	policy := resilience.Policy{
		Backoff: resilience.Backoff{Base: time.Millisecond, Cap: 10 * time.Millisecond, MaxAttempts: 4},
		Budget:  resilience.NewBudget(resilience.BudgetConfig{}),
		Breaker: breakers.For("api.assemblyai.com"),
		OnAttempt: func(a resilience.Attempt) {
			fmt.Printf("attempt %d: err=%v breaker=%v\n", a.Number, a.Err, a.BreakerState)
		},
	}
	// The classifier is the caller's: here a 503 is retryable and counts
	// against the host's breaker.
	classify := func(err error) resilience.Outcome {
		if errors.Is(err, errUnavailable) {
			return resilience.Outcome{Retry: true, BreakerFailure: true}
		}
		return resilience.Outcome{}
	}
	err := policy.Do(context.Background(), func(ctx context.Context, attempt int) error {
		if attempt < 3 {
			return errUnavailable
		}
		return nil
	}, classify)
	fmt.Println("result:", err)
	// Output:
	// attempt 1: err=503 service unavailable breaker=closed
	// attempt 2: err=503 service unavailable breaker=closed
	// attempt 3: err=<nil> breaker=closed
	// result: <nil>
}

func ExampleLookupProfile() {
	for _, name := range []string{"realtime", "default", "batch", "turbo"} {
		p, err := resilience.LookupProfile(name)
		if err != nil {
			fmt.Println(err)
			continue
		}
		b := p.Backoff
		fmt.Printf("%s: base %v cap %v attempts %d elapsed %v; Retry-After cap %v; poll %v–%v\n",
			p.Name, b.Base, b.Cap, b.MaxAttempts, b.MaxElapsed, p.RetryAfterCap, p.PollInitial, p.PollMax)
	}
	// Output:
	// realtime: base 1s cap 8s attempts 4 elapsed 30s; Retry-After cap 10s; poll 1s–5s
	// default: base 1s cap 1m0s attempts 7 elapsed 5m0s; Retry-After cap 2m0s; poll 3s–15s
	// batch: base 1m0s cap 10m0s attempts -1 elapsed 24h0m0s; Retry-After cap 10m0s; poll 10s–1m0s
	// look up profile: unknown profile "turbo" (valid: realtime, default, batch)
}
