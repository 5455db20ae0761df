package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/atomicfile"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/internal/report"
)

type reportOptions struct {
	DB   string
	HTML string
	JSON bool
	Out  io.Writer
}

func newReportCmd(s *streams) *cobra.Command {
	opts := &reportOptions{Out: s.Out}
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Summarize retry patterns of the job store: retries per stage, errors over time, latency, breaker",
		Long: `report reads the attempts log of the job store and prints how often retries
were needed per stage, the attempt at which calls finally succeeded, error
classes and status codes over time, circuit-breaker open intervals, latency
percentiles per endpoint, files by final state with reasons, and an estimate
of wasted work. --html also writes a single self-contained page with charts
that works offline.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runReport(cmd.Context(), opts)
		},
	}
	addDBFlag(cmd.Flags(), &opts.DB)
	cmd.Flags().StringVar(&opts.HTML, "html", "", "also write the report as a self-contained HTML page to this file")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print as JSON (stable field names, for scripts)")
	return cmd
}

func runReport(ctx context.Context, opts *reportOptions) error {
	st, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer st.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	in, err := reportInput(ctx, st)
	if err != nil {
		return err
	}
	sum := report.Summarize(in)
	if opts.HTML != "" {
		var page bytes.Buffer
		if err := report.WriteHTML(&page, sum); err != nil {
			return err
		}
		if err := atomicfile.Write(opts.HTML, page.Bytes(), atomicfile.Options{Overwrite: true}); err != nil {
			return fmt.Errorf("write html report: %w", err)
		}
	}
	if opts.JSON {
		return report.WriteJSON(opts.Out, sum)
	}
	return report.WriteText(opts.Out, sum)
}

// reportInput reads every file and the whole attempts log of the store as
// the plain values the report package takes.
func reportInput(ctx context.Context, st *batch.Store) (report.Input, error) {
	files, err := st.Files(ctx)
	if err != nil {
		return report.Input{}, err
	}
	atts, err := st.Attempts(ctx, 0)
	if err != nil {
		return report.Input{}, err
	}
	in := report.Input{Files: make([]report.File, 0, len(files)), Attempts: make([]report.Attempt, 0, len(atts))}
	for _, f := range files {
		in.Files = append(in.Files, reportFile(f))
	}
	for _, a := range atts {
		in.Attempts = append(in.Attempts, reportAttempt(a))
	}
	return in, nil
}

func reportFile(f *batch.File) report.File {
	// The report is for display (terminal, HTML, the ui): URL secrets are
	// redacted and control characters escaped; the store keeps the real values.
	rf := report.File{ID: f.ID, Source: logging.Source(f.Source), State: string(f.State), Stage: string(f.Stage),
		Reason: shownText(f.Reason), LastError: shownText(f.LastError), TranscriptID: f.TranscriptID, StartedAt: f.StartedAt, FinishedAt: f.FinishedAt}
	if !strings.Contains(f.Source, "://") {
		if fi, err := os.Stat(f.Source); err == nil {
			rf.Bytes = fi.Size() // for the re-uploaded bytes estimate; unknown if the file moved
		}
	}
	return rf
}

func reportAttempt(a batch.Attempt) report.Attempt {
	return report.Attempt{FileID: a.FileID, Stage: a.Stage, Endpoint: a.Endpoint, Attempt: a.Attempt, Start: a.Start,
		Duration: a.Duration, StatusCode: a.StatusCode, Class: a.Class, Error: shownText(a.Error), Delay: a.Delay,
		RetryAfter: a.RetryAfter, BreakerState: a.BreakerState, TranscriptID: a.TranscriptID}
}
