package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
)

type exportOptions struct {
	DB      string
	Out     string
	Formats []string
	Force   bool
	Stdout  io.Writer
	ErrOut  io.Writer
}

func newExportCmd(s *streams) *cobra.Command {
	opts := &exportOptions{Stdout: s.Out, ErrOut: s.ErrOut}
	cmd := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write the transcripts kept in the job store (no API request)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Out == "" {
				return usageErrorf(errors.New("--out DIR is required"))
			}
			cfg := batch.OutputConfig{Dir: opts.Out, Formats: opts.Formats, Force: opts.Force}
			if err := cfg.Validate(); err != nil {
				return usageErrorf(err)
			}
			return runExport(cmd.Context(), opts, cfg)
		},
	}
	addDBFlag(cmd.Flags(), &opts.DB)
	cmd.Flags().StringVar(&opts.Out, "out", "", "output directory")
	cmd.Flags().StringSliceVar(&opts.Formats, "format", []string{"txt", "json"}, "output formats: txt, json, srt, vtt")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite existing outputs that differ")
	return cmd
}

func runExport(ctx context.Context, opts *exportOptions, cfg batch.OutputConfig) error {
	st, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer st.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	res, err := st.Export(ctx, cfg)
	if err != nil {
		return err
	}
	exists := false
	for src, err := range res.Errors {
		fmt.Fprintf(opts.ErrOut, "durascribe: %s: %s\n", logging.Source(src), shownErr(err))
		exists = exists || errors.Is(err, batch.ErrOutputExists)
	}
	fmt.Fprintf(opts.Stdout, "exported %d of %d files (%d outputs) to %s\n",
		res.Files-len(res.Errors), res.Files, len(res.Written), opts.Out)
	if len(res.Errors) > 0 {
		hint := ""
		if exists && !cfg.Force {
			hint = " (use --force to overwrite outputs that differ)"
		}
		return &reportedError{failedErrorf(fmt.Errorf("%d files not exported%s", len(res.Errors), hint))}
	}
	return nil
}
