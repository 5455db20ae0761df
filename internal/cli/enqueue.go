package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/batch"
)

type enqueueOptions struct {
	transcribeOptions
}

func newEnqueueCmd(s *streams) *cobra.Command {
	opts := &enqueueOptions{}
	cmd := &cobra.Command{
		Use:   "enqueue PATH|DIR|URL|@list.txt ... --db postgres://...",
		Short: "Record inputs in the job store for workers to transcribe",
		Long: `enqueue records inputs and queues one job per new input, without working
them: 'durascribe worker' processes on one or more machines do. Re-enqueueing
the same inputs is a no-op. Local paths must be readable by the workers.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			params, err := opts.params(cmd)
			if err != nil {
				return usageErrorf(err)
			}
			return runEnqueue(cmd.Context(), s, opts, params)
		},
	}
	f := cmd.Flags()
	addDBFlag(f, &opts.DB)
	f.StringVar(&opts.ParamsFile, "params", "", "transcript parameters as a JSON file (flags override it)")
	f.StringSliceVar(&opts.SpeechModels, "speech-model", nil, "speech models in order of preference")
	f.StringVar(&opts.Language, "language", "", "language code, e.g. en_us")
	f.BoolVar(&opts.LanguageDetection, "language-detection", false, "detect the language")
	f.BoolVar(&opts.SpeakerLabels, "speaker-labels", false, "label speakers")
	f.BoolVar(&opts.Punctuate, "punctuate", true, "add punctuation")
	return cmd
}

func runEnqueue(ctx context.Context, st *streams, opts *enqueueOptions, params json.RawMessage) error {
	inputs, err := batch.ResolveInputs(opts.Inputs, params)
	if err != nil {
		return usageErrorf(err)
	}
	store, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer store.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	res, err := store.Enqueue(ctx, inputs)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(st.Out, "queued %d new files (%d already known) in %s\n", res.Added, res.Known, opts.DB)
	return err
}
