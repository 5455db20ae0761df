package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/emulator"
)

type emulatorOptions struct {
	Addr        string
	Scenario    string
	Seed        int64
	APIKeys     []string
	TimeScale   float64
	DataDir     string
	Concurrency int
	AllowRemote bool

	Out    io.Writer
	ErrOut io.Writer
}

// emulatorReadHeaderTimeout is the emulator command's ReadHeaderTimeout:
// 30 s, where the CLI's other servers use readHeaderTimeout (10 s). Both
// only bound a client that never finishes its headers; the difference has
// no recorded reason and is kept as it was.
const emulatorReadHeaderTimeout = 30 * time.Second

func newEmulatorCmd(s *streams) *cobra.Command {
	opts := &emulatorOptions{Out: s.Out, ErrOut: s.ErrOut}
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Serve a local AssemblyAI-compatible API that fails on command",
		Long: `Serve a local AssemblyAI v2 async API (upload, transcripts, list, srt/vtt,
sentences, paragraphs, word search, webhooks) with seeded fault injection.

Point any AssemblyAI client at the printed base URL. Ground truth (requests,
faults, duplicate transcripts) is at GET /emulator/stats, Prometheus metrics
at GET /metrics. Scenarios: ` + strings.Join(emulator.ScenarioNames(), ", ") + `, or a YAML/JSON file.`,
		Example: `  durascribe emulator --scenario flaky --seed 42 --time-scale 0.1
  durascribe emulator --addr 127.0.0.1:0 --api-key test-key --scenario ./my-faults.yaml`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return usageErrorf(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEmulator(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "listen address (loopback unless --allow-remote)")
	f.StringVar(&opts.Scenario, "scenario", "clean", "fault scenario: a name ("+strings.Join(emulator.ScenarioNames(), ", ")+") or a YAML/JSON file")
	f.Int64Var(&opts.Seed, "seed", 0, "seed for fault draws: the same seed gives the same faults")
	f.StringArrayVar(&opts.APIKeys, "api-key", nil, "accepted API key (repeatable; default: any non-empty key)")
	f.Float64Var(&opts.TimeScale, "time-scale", 1, "multiply every duration by this factor (0.01 = 100x faster)")
	f.StringVar(&opts.DataDir, "data-dir", "", "directory for uploads (default: a temporary directory removed on exit)")
	f.IntVar(&opts.Concurrency, "concurrency", 0, "account concurrency limit; -1 for unlimited (default: the scenario's, else 200)")
	f.BoolVar(&opts.AllowRemote, "allow-remote", false, "allow listening on a non-loopback address")
	return cmd
}

// runEmulator serves until ctx is cancelled, then shuts down gracefully.
func runEmulator(ctx context.Context, opts *emulatorOptions) error {
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return usageErrorf(fmt.Errorf("parse --addr: %w", err))
	}
	if !isLoopback(host) {
		if !opts.AllowRemote {
			return usageErrorf(fmt.Errorf("--addr %s is not a loopback address; add --allow-remote to serve it anyway", opts.Addr))
		}
		fmt.Fprintf(opts.ErrOut, "warning: serving the emulator on %s: anyone who can reach it can use it\n", opts.Addr)
	}
	if opts.TimeScale <= 0 {
		return usageErrorf(fmt.Errorf("--time-scale must be positive, got %v", opts.TimeScale))
	}
	sc, err := emulator.LookupScenario(opts.Scenario)
	if err != nil {
		return usageErrorf(err)
	}
	em, err := emulator.New(emulator.Config{
		APIKeys: opts.APIKeys, Scenario: sc, Seed: opts.Seed, TimeScale: opts.TimeScale,
		DataDir: opts.DataDir, Concurrency: opts.Concurrency,
	})
	if err != nil {
		return usageErrorf(err)
	}
	defer em.Close() //nolint:errcheck // Close always returns nil
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: em, ReadHeaderTimeout: emulatorReadHeaderTimeout}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	url := "http://" + ln.Addr().String()
	fmt.Fprintln(opts.Out, url)
	fmt.Fprintf(opts.ErrOut, "emulator: serving the AssemblyAI API at %s (scenario %s, seed %d, time scale %v); stats at %s/emulator/stats; Ctrl-C to stop\n",
		url, sc.Name, opts.Seed, opts.TimeScale, url)

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintln(opts.ErrOut, "emulator: stopped")
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
