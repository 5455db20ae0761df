package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

// UploadConfig configures EnqueueUploaded. A zero field means the documented
// default.
type UploadConfig struct {
	// Transcribe is the orchestrator's configuration (Client, Profile,
	// Budget, Breakers...); only its upload stage runs. Client is required.
	Transcribe transcribe.Config
	// Preflight checks each local file or URL before its upload; its report
	// is kept with the file and a reject fails the file. Defaults to nil: no
	// check.
	Preflight *preflight.Checker
	// Concurrency is the number of uploads in flight. Defaults to
	// DefaultUploadConcurrency (2).
	Concurrency int
	// OnFile is called after each file's upload (or its failure), from
	// several goroutines at once. Defaults to nil.
	OnFile func(f *File, err error)
}

// UploadResult counts what EnqueueUploaded did with the files it uploaded.
type UploadResult struct {
	EnqueueResult
	// Uploaded is the number of files uploaded now (their upload_url is saved).
	Uploaded int
	// Rejected is the number of files that failed permanently (pre-flight
	// reject, unreadable file, permanent API error); their reasons are saved.
	Rejected int
	// Deferred is the number of files whose upload failed for a transient
	// reason: a worker uploads them later, so it needs their local file.
	Deferred int
}

// EnqueueUploaded is Enqueue for workers on other machines: it records the
// inputs, pre-flights and uploads every local file not uploaded yet on this
// machine (saving each upload_url in its checkpoint), and only then queues
// the jobs, so that no worker starts a file while it is being uploaded here.
// A worker then creates and waits for the transcript from the saved
// upload_url and never opens the file; an upload_url older than
// transcribe.Config.UploadMaxAge (20 h) makes the worker upload again, which
// needs the file. A 401/403 or negative balance stops at once with the error
// (everything recorded stays queued).
func (s *Store) EnqueueUploaded(ctx context.Context, inputs []Input, cfg UploadConfig) (UploadResult, error) {
	if cfg.Transcribe.Client == nil {
		return UploadResult{}, errors.New("enqueue uploaded: config needs Transcribe.Client")
	}
	if cfg.Concurrency < 1 {
		cfg.Concurrency = DefaultUploadConcurrency
	}
	// One budget and set of breakers for the uploads of every file.
	cfg.Transcribe = cfg.Transcribe.WithSharedDefaults(resilience.BreakerConfig{})
	files, added, err := s.addFiles(ctx, largestFirst(inputs), time.Now())
	if err != nil {
		return UploadResult{}, fmt.Errorf("enqueue: %w", err)
	}
	res := UploadResult{EnqueueResult: EnqueueResult{Files: files, Added: added, Known: len(files) - added}}

	var (
		mu      sync.Mutex
		stopErr error
		wg      sync.WaitGroup
		sem     = make(chan struct{}, cfg.Concurrency)
	)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	for _, f := range files {
		if f.State != StatePending && f.State != StateWorking ||
			f.Checkpoint.Stage != "" && f.Checkpoint.Stage != transcribe.StageUpload {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			outcome, err := s.uploadOne(ctx, cfg, f)
			mu.Lock()
			defer mu.Unlock()
			switch outcome {
			case uploadDone:
				res.Uploaded++
			case uploadFailed:
				res.Rejected++
			case uploadDeferred:
				res.Deferred++
			case uploadStop:
				if stopErr == nil {
					stopErr = err
					cancel(err)
				}
			}
			if cfg.OnFile != nil {
				if nf, ferr := s.File(context.WithoutCancel(ctx), f.ID); ferr == nil {
					cfg.OnFile(nf, err)
				}
			}
		}()
	}
	wg.Wait()
	if stopErr != nil {
		return res, fmt.Errorf("%w: %w", ErrStopRun, stopErr)
	}
	if err := context.Cause(ctx); err != nil {
		return res, err
	}
	// Every unfinished file gets its job, uploaded or not: a deferred one is
	// uploaded by the worker.
	var todo []*File
	for _, f := range files {
		if nf, err := s.File(ctx, f.ID); err == nil && (nf.State == StatePending || nf.State == StateWorking) {
			todo = append(todo, nf)
		}
	}
	return res, s.insertJobs(ctx, todo)
}

type uploadOutcome int

const (
	uploadDone uploadOutcome = iota
	uploadFailed
	uploadDeferred
	uploadStop
)

// uploadOne pre-flights and uploads one file, saving its checkpoint.
func (s *Store) uploadOne(ctx context.Context, cfg UploadConfig, f *File) (uploadOutcome, error) {
	tcfg := cfg.Transcribe
	if cfg.Preflight != nil {
		tcfg.Preflight = s.preflightFunc(cfg.Preflight, f.ID)
	}
	t, err := transcribe.New(tcfg)
	if err != nil {
		return uploadStop, fmt.Errorf("create transcriber: %w", err)
	}
	cp := f.Checkpoint
	if cp.Source == "" {
		cp.Source = f.Source
	}
	save := func(ctx context.Context, cp transcribe.Checkpoint) error {
		return s.saveUploadCheckpoint(ctx, f.ID, cp, time.Now())
	}
	_, err = t.Upload(ctx, cp, save)
	if err == nil {
		return uploadDone, nil
	}
	if errors.Is(err, errTakenOver) {
		return uploadDeferred, err
	}
	switch action, _, serr := s.settle(ctx, f.ID, err, time.Now()); action {
	case transcribe.ActionFail:
		if serr != nil {
			return uploadStop, serr
		}
		return uploadFailed, err
	case transcribe.ActionStopRun:
		return uploadStop, err
	case transcribe.ActionCanceled:
		return uploadDeferred, err // the caller returns ctx's cause
	}
	return uploadDeferred, err
}
