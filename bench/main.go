// Command bench runs a batch of generated WAV files through each contender
// (the official AssemblyAI Go SDK used naively, the SDK wrapped in the
// seed's retry recipe, durascribe's transcribe package, and durascribe's
// durable batch pipeline) against a fresh local emulator per contender under
// a named fault scenario, and prints a Markdown table or, with --json, one
// JSON document per scenario. It only talks to 127.0.0.1.
//
// Usage:
//
//	go run ./bench --scenario all --files 50 --concurrency 10 --time-scale 0.05
//	go run ./bench --scenario outage --files 50 --json
//
// Every duration of a scenario (processing, outages, Retry-After) and every
// contender's retry and poll delays are multiplied by --time-scale, so a run
// takes minutes and the comparison stays fair. Each contender runs in its own
// child process (the bench binary re-executed with a hidden --contender
// flag, or the durascribe binary) so that its peak RSS is its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/durascribe/durascribe/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// run is main without the exit: child mode when --contender is given,
// otherwise the whole comparison.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if slices.ContainsFunc(args, func(a string) bool { return a == "--contender" || strings.HasPrefix(a, "--contender=") }) {
		return childMain(ctx, args, stdout)
	}
	var (
		o          runOptions
		scenario   string
		contenders string
		asJSON     bool
		keep       bool
		batchFlags string
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&scenario, "scenario", "all", "scenario name ("+strings.Join(emulator.ScenarioNames(), ", ")+"), a scenario file, or all")
	fs.IntVar(&o.Files, "files", 50, "number of generated input files")
	fs.IntVar(&o.Concurrency, "concurrency", 10, "files in flight, for every contender")
	fs.Float64Var(&o.TimeScale, "time-scale", 0.05, "multiplier of every scenario duration and contender delay")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the corpus and of the emulator's fault draws")
	fs.StringVar(&contenders, "contenders", strings.Join(allContenders, ","), "comma-separated contenders to run")
	fs.BoolVar(&asJSON, "json", false, "print JSON instead of Markdown")
	fs.DurationVar(&o.Timeout, "timeout", defaultTimeout, "hard timeout of each contender run")
	fs.StringVar(&o.Durascribe, "durascribe", "", "durascribe binary for durascribe-batch (default: go build ./cmd/durascribe)")
	fs.StringVar(&batchFlags, "batch-flags", "", "extra flags for `durascribe transcribe` in durascribe-batch, space-separated (e.g. --no-preflight)")
	fs.StringVar(&o.WorkDir, "work-dir", "", "directory for corpora, databases and outputs (default: a temporary directory, removed)")
	fs.BoolVar(&keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.Files < 1 || o.Concurrency < 1 || o.TimeScale <= 0 || o.Timeout <= 0 {
		return errors.New("--files, --concurrency, --time-scale and --timeout must be positive")
	}
	o.BatchFlags = strings.Fields(batchFlags)
	o.Scenarios = []string{scenario}
	if scenario == "all" {
		o.Scenarios = emulator.ScenarioNames()
	}
	for c := range strings.SplitSeq(contenders, ",") {
		if c = strings.TrimSpace(c); c == "" {
			continue
		}
		if !slices.Contains(allContenders, c) {
			return fmt.Errorf("unknown contender %q (want %s)", c, strings.Join(allContenders, ", "))
		}
		o.Contenders = append(o.Contenders, c)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	o.Self, o.Log = self, stderr
	if o.WorkDir == "" {
		dir, err := os.MkdirTemp("", "durascribe-bench-")
		if err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		o.WorkDir = dir
		if !keep {
			defer os.RemoveAll(dir) //nolint:errcheck // best-effort removal of a temp dir
		}
	}
	if slices.ContainsFunc(o.Contenders, runsBatch) && o.Durascribe == "" {
		if o.Durascribe, err = buildDurascribe(ctx, o.WorkDir); err != nil {
			return err
		}
	}
	var docs []Doc
	for _, sc := range o.Scenarios {
		doc, err := runScenario(ctx, o, sc)
		if err != nil {
			return err
		}
		docs = append(docs, doc)
	}
	if asJSON {
		return writeJSON(stdout, docs)
	}
	return writeMarkdown(stdout, docs)
}
