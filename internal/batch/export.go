package batch

import (
	"context"
	"errors"
	"fmt"
)

// ExportResult says what Export wrote.
type ExportResult struct {
	// Files is the number of done files exported.
	Files int
	// Written lists the paths written (or already identical).
	Written []string
	// Errors maps a file's source to why its outputs were not all written.
	Errors map[string]error
}

// Export writes the outputs of every done file from the transcripts kept in
// the store, with no API request: later, or on another machine.
func (s *Store) Export(ctx context.Context, cfg OutputConfig) (ExportResult, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return ExportResult{}, err
	}
	if cfg.Dir == "" {
		return ExportResult{}, errors.New("export: no output directory")
	}
	files, err := s.Files(ctx, StateDone)
	if err != nil {
		return ExportResult{}, fmt.Errorf("export: %w", err)
	}
	// A source transcribed again after an edit has several done records:
	// only its newest is exported. An output name is written for the first
	// source that has it; another source with the same name (a store queued
	// before names were checked for collisions) is refused, even with Force.
	newest := map[string]int64{}
	for _, f := range files {
		newest[f.Source] = f.ID
	}
	owners := map[string]string{}
	res := ExportResult{Errors: map[string]error{}}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if newest[f.Source] != f.ID {
			continue
		}
		res.Files++
		k := outKey(f.OutName)
		if owner, ok := owners[k]; ok && owner != f.Source {
			res.Errors[f.Source] = outputOwnedError(f, owner)
			continue
		}
		owners[k] = f.Source
		tr, err := s.Transcript(ctx, f.ID)
		if err != nil {
			return res, fmt.Errorf("export: %w", err)
		}
		written, err := writeOutputs(cfg, f.OutName, tr)
		res.Written = append(res.Written, written...)
		if err != nil {
			res.Errors[f.Source] = err
		}
	}
	return res, nil
}
