package cli

import (
	"context"

	"github.com/spf13/cobra"
)

type workerOptions struct {
	workOptions
}

func newWorkerCmd(s *streams) *cobra.Command {
	opts := &workerOptions{}
	cmd := &cobra.Command{
		Use:   "worker --db postgres://... [--out DIR]",
		Short: "Work the job store's queue until stopped (several machines can share one PostgreSQL)",
		Long: `worker transcribes queued files until interrupted. Several workers, on one or
more machines, can share a PostgreSQL job store: each file is worked by one of
them at a time, and a worker that dies has its files taken over. Without --out,
transcripts stay in the store for 'durascribe export'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(cmd.Context(), s, opts)
		},
	}
	opts.addFlags(cmd.Flags())
	return cmd
}

func runWorker(ctx context.Context, st *streams, opts *workerOptions) error {
	s, err := openSession(ctx, st, &opts.workOptions)
	if err != nil {
		return err
	}
	defer s.close()
	progressf(st.Out, "worker started on %s", opts.DB)
	return s.run(ctx, st, false)
}
