package cli

import (
	"context"
	"errors"

	"github.com/durascribe/durascribe/internal/batch"
)

// Exit codes of the durascribe binary. They are part of its interface:
// scripts branch on them.
const (
	ExitOK          = 0   // everything asked for is done
	ExitFailed      = 1   // some inputs failed permanently (or were rejected)
	ExitUsage       = 2   // bad flags or arguments
	ExitConfig      = 3   // authentication or configuration problem: fix and re-run
	ExitInterrupted = 130 // stopped by a signal; state is saved, re-run resumes
)

// usageError is a mistake in how the command was called.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// configError is a problem with the API key, the account or the configuration:
// nothing will work until the user fixes it.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// failedError reports that the command ran to the end but some inputs failed
// permanently. Its message is a summary; details were already printed.
type failedError struct{ err error }

func (e *failedError) Error() string { return e.err.Error() }
func (e *failedError) Unwrap() error { return e.err }

func usageErrorf(err error) error  { return &usageError{err} }
func configErrorf(err error) error { return &configError{err} }
func failedErrorf(err error) error { return &failedError{err} }

// exitCode maps an error returned by a command to the process exit code. This
// is the only place that decides exit codes.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		ue *usageError
		ce *configError
		fe *failedError
	)
	// An interrupted command exits 130 whatever the error it stopped with
	// (a store migration cut short is not a configuration problem).
	switch {
	case errors.As(err, &ue), errors.Is(err, batch.ErrOutputCollision):
		// Two inputs with one output name: the arguments need changing.
		return ExitUsage
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return ExitInterrupted
	case errors.As(err, &ce):
		return ExitConfig
	case errors.As(err, &fe):
		return ExitFailed
	default:
		return ExitFailed
	}
}
