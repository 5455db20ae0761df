// Package cli is the durascribe command line: one file per subcommand, flags
// parsed here and work delegated to the library packages. It is the only
// user of cobra, and nothing imports it but main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// streams are the injected standard streams and environment of one
// invocation, so that tests can run commands in-process.
type streams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// Getenv reads the environment. Defaults to os.Getenv.
	Getenv func(string) string
	// terminal reports whether a stream is a terminal (progress bar rather
	// than plain lines). Defaults to isTerminal; tests force it.
	terminal func(io.Writer) bool
}

// isTerminal reports whether w is a terminal that can draw a progress bar.
func (s *streams) isTerminal(w io.Writer) bool {
	if s.Getenv != nil && s.Getenv("TERM") == "dumb" {
		return false
	}
	if s.terminal != nil {
		return s.terminal(w)
	}
	return isTerminal(w)
}

// Main runs the durascribe command line with args (without the program name)
// and returns the process exit code. ctx is cancelled on the first interrupt.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{In: stdin, Out: stdout, ErrOut: stderr, Getenv: os.Getenv}
	return run(ctx, s, args)
}

func run(ctx context.Context, s *streams, args []string) int {
	root := newRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) || !isReported(err) {
			fmt.Fprintf(s.ErrOut, "durascribe: %s\n", shownLines(err.Error()))
		}
		if errors.As(err, &ue) {
			fmt.Fprintln(s.ErrOut, "Run 'durascribe --help' for usage.")
		}
	}
	return exitCode(ctx, err)
}

// reportedError marks an error whose details the command already printed.
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

func isReported(err error) bool {
	var re *reportedError
	return errors.As(err, &re)
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "durascribe",
		Short: "Transcribe audio through AssemblyAI, surviving whatever the API and the network do",
		Long: `durascribe transcribes audio files through the AssemblyAI async API
(upload -> create transcript -> poll) and survives 5xx, 429, dropped
connections, outages and crashes: every input ends as a transcript or as a
clear, permanent, explained failure, and no transcript is paid for twice.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf(err) })
	root.AddCommand(
		newVersionCmd(s),
		newTranscribeCmd(s),
		newStatusCmd(s),
		newRetryCmd(s),
		newExportCmd(s),
		newEnqueueCmd(s),
		newWorkerCmd(s),
		newCheckCmd(s),
		newEmulatorCmd(s),
		newReportCmd(s),
		newBundleCmd(s),
		newUICmd(s),
	)
	return root
}
