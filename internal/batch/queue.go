package batch

import (
	"context"
	"database/sql"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui/uiendpoints"
)

// QueueName is the River queue of transcribe_file jobs.
const QueueName = "transcribe"

// jobMaxAttempts is River's attempt limit for our jobs. It is deliberately
// out of reach: the durable retry limit is a duration (RunConfig.RetryFor),
// enforced by the worker, which ends the file with a reason.
const jobMaxAttempts = 10000

// TranscribeArgs are the arguments of a transcribe_file job: one file of the
// store. Gen changes when the user requeues a failed file, so a new job may be
// inserted while the old one is still retained; inserting the same (file, gen)
// again is a no-op.
type TranscribeArgs struct {
	FileID int64 `json:"file_id" river:"unique"`
	Gen    int64 `json:"gen" river:"unique"`
}

// Kind is the River job kind.
func (TranscribeArgs) Kind() string { return "transcribe_file" }

// InsertOpts puts the job on QueueName, unique by args.
func (TranscribeArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{
		Queue:       QueueName,
		MaxAttempts: jobMaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true},
	}
}

type (
	sqlTx = *sql.Tx
	pgxTx = pgx.Tx
)

// queue hides River's transaction type parameter from the rest of the
// package: the methods we use outside transactions have the same signature
// for every driver.
type queue interface {
	migrate(ctx context.Context, logger *slog.Logger) error
	newClient(cfg *river.Config) (riverClient, error)
	uiEndpoints(logger *slog.Logger) (uiendpoints.Bundle, error)
}

// riverClient is the part of *river.Client[TTx] we use.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Stopped() <-chan struct{}
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	QueuePause(ctx context.Context, name string, opts *river.QueuePauseOpts) error
	QueueResume(ctx context.Context, name string, opts *river.QueuePauseOpts) error
	QueueGet(ctx context.Context, name string) (*rivertype.Queue, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	ID() string
}

type riverQueue[TTx any] struct {
	driver riverdriver.Driver[TTx]
}

func (q *riverQueue[TTx]) migrate(ctx context.Context, logger *slog.Logger) error {
	m, err := rivermigrate.New(q.driver, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return err
	}
	return migrateRiver(ctx, m)
}

func (q *riverQueue[TTx]) newClient(cfg *river.Config) (riverClient, error) {
	return river.NewClient(q.driver, cfg)
}
