package batch

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/durascribe/durascribe/internal/atomicfile"
)

// Output formats.
const (
	FormatTXT  = "txt"
	FormatJSON = "json"
	FormatSRT  = "srt"
	FormatVTT  = "vtt"
)

// Formats lists the output formats, in the order they are written.
var Formats = []string{FormatTXT, FormatJSON, FormatSRT, FormatVTT}

// ErrOutputExists is returned (wrapped) when an output file exists with
// different content and Force is off.
var ErrOutputExists = atomicfile.ErrExists

// OutputConfig says where and how transcripts are written.
type OutputConfig struct {
	// Dir is the output root; the input tree is mirrored below it (see
	// ResolveInputs for the names). Empty
	// means no files are written (results stay in the store for export).
	Dir string
	// Formats to write. Defaults to txt and json.
	Formats []string
	// Force overwrites existing outputs with different content, never those
	// of another input. Defaults to false.
	Force bool
}

// WithDefaults fills in the default formats.
func (c OutputConfig) WithDefaults() OutputConfig {
	if len(c.Formats) == 0 {
		c.Formats = []string{FormatTXT, FormatJSON}
	}
	return c
}

// Validate rejects unknown formats.
func (c OutputConfig) Validate() error {
	for _, f := range c.Formats {
		if !slices.Contains(Formats, f) {
			return fmt.Errorf("unknown output format %q (want %s)", f, strings.Join(Formats, ", "))
		}
	}
	return nil
}

// storedTranscript is the part of a transcript body the outputs need.
type storedTranscript struct {
	ID    string `json:"id"`
	Text  string `json:"text"`
	Words []struct {
		Text  string `json:"text"`
		Start int64  `json:"start"`
		End   int64  `json:"end"`
	} `json:"words"`
}

// writeOutputs writes the transcript of f (raw JSON body) in every format.
// Names are sanitised and checked to stay below Dir.
func writeOutputs(cfg OutputConfig, outName string, raw []byte) ([]string, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	cfg = cfg.WithDefaults()
	var tr storedTranscript
	if err := json.Unmarshal(raw, &tr); err != nil {
		return nil, fmt.Errorf("decode stored transcript: %w", err)
	}
	base, err := outputBase(cfg.Dir, outName)
	if err != nil {
		return nil, err
	}
	var (
		written []string
		errs    []error
	)
	for _, format := range cfg.Formats {
		var data []byte
		switch format {
		case FormatTXT:
			data = []byte(tr.Text + "\n")
		case FormatJSON:
			data = append(slices.Clone(raw), '\n')
		case FormatSRT, FormatVTT:
			data = []byte(subtitles(tr, format))
		}
		path := base + "." + format
		if err := atomicfile.Write(path, data, atomicfile.Options{Overwrite: cfg.Force}); err != nil {
			errs = append(errs, err)
			continue
		}
		written = append(written, path)
	}
	return written, errors.Join(errs...)
}

// writeOutputsOf writes f's outputs unless another source owns its output
// name: a store queued before names were checked for collisions may hold
// two sources with one name, and the second must not replace the first
// one's outputs, not even with Force.
func (s *Store) writeOutputsOf(ctx context.Context, cfg OutputConfig, f *File, raw []byte) ([]string, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	var owner string
	err := s.db.QueryRowContext(ctx, `SELECT source FROM durascribe_file
		WHERE lower(out_name) = lower($1) AND source <> $2 AND id < $3 ORDER BY id LIMIT 1`,
		f.OutName, f.Source, f.ID).Scan(&owner)
	switch {
	case err == nil:
		return nil, outputOwnedError(f, owner)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("look up output owner: %w", err)
	}
	return writeOutputs(cfg, f.OutName, raw)
}

func outputOwnedError(f *File, owner string) error {
	return fmt.Errorf("%w: the outputs %s.* belong to %q, so %q's were not written: "+
		"its transcript stays in the store (durascribe export writes it elsewhere)",
		ErrOutputCollision, sanitizeRel(f.OutName), owner, f.Source)
}

// outputBase joins dir and the sanitised relative name and makes sure the
// result stays below dir.
func outputBase(dir, outName string) (string, error) {
	rel := sanitizeRel(outName)
	if rel == "" {
		return "", fmt.Errorf("output name %q is empty after sanitising", outName)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve output dir: %w", err)
	}
	p := filepath.Join(abs, rel)
	if r, err := filepath.Rel(abs, p); err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("output name %q escapes the output directory", outName)
	}
	return p, nil
}

// sanitizeRel turns a slash-separated relative name into a safe relative
// path: no absolute paths, no "." or ".." elements, no control characters or
// characters that are invalid on common file systems.
func sanitizeRel(name string) string {
	var parts []string
	for _, el := range strings.Split(filepath.ToSlash(name), "/") {
		el = strings.Map(func(r rune) rune {
			switch {
			case r < 0x20 || r == 0x7f:
				return -1
			case strings.ContainsRune(`<>:"\|?*`, r):
				return '_'
			}
			return r
		}, el)
		el = strings.TrimSpace(el)
		if el == "" || el == "." || el == ".." {
			continue
		}
		if len(el) > 200 {
			el = el[:200]
		}
		parts = append(parts, el)
	}
	return filepath.Join(parts...)
}
