package batch

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// EnqueueResult says what Enqueue did.
type EnqueueResult struct {
	// Added is the number of inputs new to the store.
	Added int
	// Known is the number of inputs already in the store (any state).
	Known int
	// Files are the store rows of all inputs, in input order.
	Files []*File
}

// Enqueue records inputs and queues a transcribe_file job for each one that
// is not finished. Inputs already in the store are left as they are, so
// running the same command twice is a no-op for them.
func (s *Store) Enqueue(ctx context.Context, inputs []Input) (EnqueueResult, error) {
	now := time.Now()
	files, added, err := s.addFiles(ctx, largestFirst(inputs), now)
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("enqueue: %w", err)
	}
	res := EnqueueResult{Files: files, Added: added, Known: len(files) - added}
	var todo []*File
	for _, f := range files {
		if f.State == StatePending || f.State == StateWorking {
			todo = append(todo, f)
		}
	}
	if err := s.insertJobs(ctx, todo); err != nil {
		return res, err
	}
	return res, nil
}

// ensureJobs inserts jobs for every unfinished file (unique: a no-op for
// files that already have one), so that a file whose job was lost — a crash
// between recording a file and queueing it — is still worked.
func (s *Store) ensureJobs(ctx context.Context) error {
	files, err := s.Files(ctx, StatePending, StateWorking)
	if err != nil {
		return err
	}
	return s.insertJobs(ctx, files)
}

func (s *Store) insertJobs(ctx context.Context, files []*File) error {
	if len(files) == 0 {
		return nil
	}
	client, err := s.queue.newClient(&river.Config{Logger: riverLogger(s.logger), SkipUnknownJobCheck: true})
	if err != nil {
		return fmt.Errorf("create queue client: %w", err)
	}
	const chunk = 500
	for i := 0; i < len(files); i += chunk {
		batch := files[i:min(i+chunk, len(files))]
		params := make([]river.InsertManyParams, len(batch))
		for j, f := range batch {
			params[j] = river.InsertManyParams{Args: TranscribeArgs{FileID: f.ID, Gen: f.Gen}}
		}
		if _, err := client.InsertMany(ctx, params); err != nil {
			return fmt.Errorf("queue jobs: %w", err)
		}
	}
	return nil
}

// RetrySelector chooses the files Requeue makes pending again.
type RetrySelector struct {
	// Failed selects every failed file.
	Failed bool
	// Stuck selects pending and working files too (their jobs are
	// re-inserted if lost, and their retry clock restarts).
	Stuck bool
	// IDs selects these files (failed, pending or working; done files are
	// not re-transcribed).
	IDs []int64
}

// Requeue makes the selected files pending again under a new job, after the
// user fixed what made them fail. It returns the requeued files.
func (s *Store) Requeue(ctx context.Context, sel RetrySelector) ([]*File, error) {
	var cands []*File
	switch {
	case len(sel.IDs) > 0:
		for _, id := range sel.IDs {
			f, err := s.File(ctx, id)
			if err != nil {
				return nil, err
			}
			cands = append(cands, f)
		}
	default:
		var states []State
		if sel.Failed {
			states = append(states, StateFailed)
		}
		if sel.Stuck {
			states = append(states, StatePending, StateWorking)
		}
		if len(states) == 0 {
			return nil, nil
		}
		fs, err := s.Files(ctx, states...)
		if err != nil {
			return nil, err
		}
		cands = fs
	}
	now := time.Now()
	var out []*File
	for _, f := range cands {
		switch f.State {
		case StateDone:
			continue
		case StatePending, StateWorking:
			// Not bumped: a job of this generation may be running somewhere,
			// and two jobs must never step one file at once.
			out = append(out, f)
			continue
		}
		nf, err := s.requeue(ctx, f, now)
		if err != nil {
			return out, err
		}
		out = append(out, nf)
	}
	return out, s.insertJobs(ctx, out)
}
