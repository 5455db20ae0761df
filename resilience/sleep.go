package resilience

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done: then it returns context.Cause(ctx). A
// d of zero or less does not wait and returns ctx.Err(): nil unless ctx is
// already done. It is the one wait of this module's retry loops, pollers and
// rate limits (rule: no bare time.Sleep, every wait ends with its context).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
