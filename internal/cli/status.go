package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
)

type statusOptions struct {
	DB   string
	JSON bool
	Out  io.Writer
}

func newStatusCmd(s *streams) *cobra.Command {
	opts := &statusOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the files of the job store by state and stage, with why they failed or still wait",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), opts)
		},
	}
	addDBFlag(cmd.Flags(), &opts.DB)
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print as JSON")
	return cmd
}

// statusReport is the JSON form of status.
type statusReport struct {
	Counts   []batch.Count  `json:"counts"`
	Total    int            `json:"total"`
	Failures []statusFailed `json:"failures"`
	// Unfinished lists the pending and working files that have a last
	// error: why a file is still waiting (a Retry-After, an outage).
	Unfinished []statusUnfinished `json:"unfinished"`
}

type statusUnfinished struct {
	ID        int64  `json:"id"`
	Source    string `json:"source"`
	State     string `json:"state"`
	Stage     string `json:"stage"`
	LastError string `json:"last_error"`
}

type statusFailed struct {
	ID     int64  `json:"id"`
	Source string `json:"source"`
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	st, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer st.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	counts, err := st.Counts(ctx)
	if err != nil {
		return err
	}
	failed, err := st.Files(ctx, batch.StateFailed)
	if err != nil {
		return err
	}
	unfinished, err := st.Files(ctx, batch.StatePending, batch.StateWorking)
	if err != nil {
		return err
	}
	rep := statusReport{Counts: counts, Failures: []statusFailed{}, Unfinished: []statusUnfinished{}}
	for _, c := range counts {
		rep.Total += c.N
	}
	for _, f := range failed {
		rep.Failures = append(rep.Failures, statusFailed{ID: f.ID, Source: f.Source, Stage: string(f.Stage), Reason: f.Reason})
	}
	for _, f := range unfinished {
		if f.LastError != "" {
			rep.Unfinished = append(rep.Unfinished, statusUnfinished{ID: f.ID, Source: f.Source, State: string(f.State),
				Stage: string(f.Stage), LastError: f.LastError})
		}
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	tw := tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tSTAGE\tFILES")
	for _, c := range counts {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", c.State, c.Stage, c.N)
	}
	fmt.Fprintf(tw, "total\t\t%d\n", rep.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rep.Unfinished) > 0 {
		fmt.Fprintln(opts.Out, "\nNot finished, with their last error:")
		tw = tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSOURCE\tSTAGE\tLAST ERROR")
		for _, f := range rep.Unfinished {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", f.ID, f.Source, f.Stage, f.LastError)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		fmt.Fprintln(opts.Out, "\nFailed (retry with `durascribe retry --failed` after fixing the cause):")
		tw = tabwriter.NewWriter(opts.Out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSOURCE\tREASON")
		for _, f := range rep.Failures {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", f.ID, logging.Source(f.Source), shownText(f.Reason))
		}
		return tw.Flush()
	}
	return nil
}
