package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
)

type retryOptions struct {
	DB     string
	Failed bool
	All    bool
	IDs    []int64
	Out    io.Writer
}

func newRetryCmd(s *streams) *cobra.Command {
	opts := &retryOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "retry [--failed | --all | ID ...]",
		Short: "Queue failed files again after fixing what made them fail",
		Long: `retry makes failed files pending again (a new transcript is created for
them; an upload younger than 20 h is reused). --all also re-queues files left
pending or working whose job was lost. Done files are never re-transcribed.
Run 'durascribe transcribe' or 'durascribe worker' afterwards to work them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil {
					return usageErrorf(fmt.Errorf("file id %q is not a number (see `durascribe status`)", a))
				}
				opts.IDs = append(opts.IDs, id)
			}
			if len(opts.IDs) > 0 && (opts.Failed || opts.All) {
				return usageErrorf(errors.New("give file ids or --failed/--all, not both"))
			}
			if len(opts.IDs) == 0 && !opts.All {
				opts.Failed = true
			}
			return runRetry(cmd.Context(), opts)
		},
	}
	addDBFlag(cmd.Flags(), &opts.DB)
	cmd.Flags().BoolVar(&opts.Failed, "failed", false, "retry every failed file (the default)")
	cmd.Flags().BoolVar(&opts.All, "all", false, "retry failed files and re-queue unfinished ones")
	return cmd
}

func runRetry(ctx context.Context, opts *retryOptions) error {
	st, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer st.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	files, err := st.Requeue(ctx, batch.RetrySelector{Failed: opts.Failed || opts.All, Stuck: opts.All, IDs: opts.IDs})
	if errors.Is(err, batch.ErrNotFound) {
		return usageErrorf(err)
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Out, "queued %d files again\n", len(files))
	return err
}
