package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/internal/report"
	"github.com/durascribe/durascribe/internal/ui"
)

type uiOptions struct {
	DB          string
	Addr        string
	AllowRemote bool
	LogLevel    string

	Out    io.Writer
	ErrOut io.Writer
}

func newUICmd(s *streams) *cobra.Command {
	opts := &uiOptions{Out: s.Out, ErrOut: s.ErrOut}
	cmd := &cobra.Command{
		Use:   "ui [--db ...] [--addr 127.0.0.1:8081]",
		Short: "Serve a local dashboard: the queue (riverui), the live retry report and Prometheus metrics",
		Long: `ui serves a dashboard over the job store until interrupted:

  /            files by state and links
  /report      the retry-pattern report, recomputed on each load (?refresh=10 reloads it)
  /report.json the same as JSON
  /metrics     Prometheus metrics: files by state, transcripts in flight
  /riverui/    riverui: every job, its attempts and errors; retry, cancel, pause

It works no job itself: run it next to 'durascribe transcribe' or 'worker'.
riverui can cancel and retry jobs and the report names files and errors, so
the dashboard listens on loopback only unless --allow-remote is given, and
wants a token made at start: open the printed address (it ends in
?token=...) and the browser keeps the token in a cookie for this address.
Scripts may send "Authorization: Bearer TOKEN" instead; /metrics needs no
token. Requests naming another host than localhost, 127.0.0.1 or [::1]
(DNS rebinding) and changes from other origins (CSRF) are refused.`,
		Example: `  durascribe ui --db ./durascribe.db
  durascribe ui --db postgres://user@db/durascribe --addr 127.0.0.1:9000`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return usageErrorf(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runUI(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	addDBFlag(f, &opts.DB)
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8081", "listen address (loopback unless --allow-remote)")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow listening on a non-loopback address")
	f.StringVar(&opts.LogLevel, "log-level", "warn", "log level: debug, info, warn, error")
	return cmd
}

// runUI serves the dashboard until ctx is cancelled.
func runUI(ctx context.Context, opts *uiOptions) error {
	logger, closeLog, err := logging.New(logging.Options{Level: opts.LogLevel}, opts.ErrOut)
	if err != nil {
		return usageErrorf(err)
	}
	defer closeLog() //nolint:errcheck // stderr
	ln, err := listenLocal(ctx, opts.Addr, "--addr", opts.AllowRemote, opts.ErrOut)
	if err != nil {
		return err
	}
	defer ln.Close() //nolint:errcheck // already closed by stop() on the normal path; this covers early returns
	store, err := batch.Open(ctx, opts.DB, batch.OpenOptions{Logger: logger})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer store.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	token, err := ui.NewToken()
	if err != nil {
		return fmt.Errorf("make dashboard token: %w", err)
	}
	h, err := ui.New(ui.Config{Store: store, Logger: logger, Token: token, AnyHost: opts.AllowRemote,
		ReportInput: func(ctx context.Context) (report.Input, error) { return reportInput(ctx, store) }})
	if err != nil {
		return err
	}
	uiCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if err := h.Start(uiCtx); err != nil {
		return err
	}
	stop := serveHTTP(ln, h)
	url := "http://" + ln.Addr().String()
	fmt.Fprintf(opts.Out, "%s/?%s=%s\n", url, ui.TokenParam, token)
	fmt.Fprintf(opts.ErrOut, "ui: serving %s/ (report /report, queue /riverui/, metrics %s/metrics); open the address above, which carries the access token; Ctrl-C to stop\n",
		url, url)
	<-ctx.Done()
	stop()
	fmt.Fprintln(opts.ErrOut, "ui: stopped")
	return nil
}
