package batch

import (
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
	"riverqueue.com/riverui/uiendpoints"
)

// RiverUIEndpoints returns riverui's API endpoints over the store's River
// tables, for riverui.NewHandler. They use an insert-only River client (never
// started, no workers), so serving the UI works no job; its actions (cancel,
// retry, pause a queue) act on the store as River's own API would.
func (s *Store) RiverUIEndpoints(logger *slog.Logger) (uiendpoints.Bundle, error) {
	if logger == nil {
		logger = s.logger
	}
	return s.queue.uiEndpoints(riverLogger(logger))
}

func (q *riverQueue[TTx]) uiEndpoints(logger *slog.Logger) (uiendpoints.Bundle, error) {
	client, err := river.NewClient(q.driver, &river.Config{Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("create river ui client: %w", err)
	}
	return riverui.NewEndpoints(client, nil), nil
}
