package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
)

// apiKeyEnv carries the emulator's key to child processes; it never appears
// on a command line.
const apiKeyEnv = "ASSEMBLYAI_API_KEY"

// childOptions are the hidden flags of a contender's child process.
type childOptions struct {
	Contender   string
	BaseURL     string
	Dir         string
	Concurrency int
	TimeScale   float64
	Timeout     time.Duration
	// ExpectBase and ExpectFactor are the emulator's mean processing model
	// in API time (unscaled): what a durascribe user would give as the
	// expected processing time, which times the first poll.
	ExpectBase   time.Duration
	ExpectFactor float64
}

// fileOutcome is what happened to one input file in a contender run.
type fileOutcome struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// TransientOnly reports, for a failed file, that every cause of its
	// failure was transient (5xx, 429, timeouts, dropped connections,
	// transient transcript errors): a patient client would have finished it.
	TransientOnly bool `json:"transient_only,omitempty"`
	// Unfinished reports a file still running when the run's hard timeout
	// expired.
	Unfinished bool   `json:"unfinished,omitempty"`
	Error      string `json:"error,omitempty"`
}

// childResult is what a child prints on stdout as JSON.
type childResult struct {
	Files           []fileOutcome `json:"files"`
	MakespanSeconds float64       `json:"makespan_seconds"`
}

// contenderFunc transcribes one file and reports its outcome.
type contenderFunc func(ctx context.Context, path string) fileOutcome

// childMain runs one contender over the corpus and prints a childResult. It
// is the hidden --contender mode of the bench binary.
func childMain(ctx context.Context, args []string, stdout io.Writer) error {
	var o childOptions
	fs := flag.NewFlagSet("bench --contender", flag.ContinueOnError)
	fs.StringVar(&o.Contender, "contender", "", "contender to run")
	fs.StringVar(&o.BaseURL, "base-url", "", "emulator base URL")
	fs.StringVar(&o.Dir, "dir", "", "corpus directory")
	fs.IntVar(&o.Concurrency, "concurrency", 10, "files in flight")
	fs.Float64Var(&o.TimeScale, "time-scale", 1, "time scale of every delay")
	fs.DurationVar(&o.Timeout, "timeout", defaultTimeout, "hard timeout")
	fs.DurationVar(&o.ExpectBase, "expect-processing-base", 0, "expected processing time, fixed part (API time)")
	fs.Float64Var(&o.ExpectFactor, "expect-processing-factor", 0, "expected processing time per second of audio")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := assemblyai.APIKey(os.Getenv(apiKeyEnv))
	var fn contenderFunc
	switch o.Contender {
	case contenderNaive:
		fn = newSDKContender(o, key, false)
	case contenderSeed:
		fn = newSDKContender(o, key, true)
	case contenderAPI:
		f, err := newAPIContender(o, key)
		if err != nil {
			return err
		}
		fn = f
	default:
		return fmt.Errorf("run contender: unknown contender %q", o.Contender)
	}
	paths, err := filepath.Glob(filepath.Join(o.Dir, "*.wav"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("list corpus: no .wav files in %s", o.Dir)
	}
	slices.Sort(paths)
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, errRunTimeout)
	defer cancel()
	start := time.Now()
	res := childResult{Files: runPool(ctx, paths, o.Concurrency, fn)}
	res.MakespanSeconds = time.Since(start).Seconds()
	return json.NewEncoder(stdout).Encode(res)
}

// errRunTimeout is the cause of a run cut off by its hard timeout.
var errRunTimeout = errors.New("bench run timeout")

// runPool runs fn over paths with at most conc in flight, in order of paths.
func runPool(ctx context.Context, paths []string, conc int, fn contenderFunc) []fileOutcome {
	out := make([]fileOutcome, len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(conc, 1) {
		wg.Go(func() {
			for i := range next {
				o := fn(ctx, paths[i])
				o.Name = filepath.Base(paths[i])
				if !o.OK && ctx.Err() != nil {
					o.Unfinished, o.TransientOnly = true, false
				}
				out[i] = o
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}
