package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/logging"
	"github.com/durascribe/durascribe/preflight"
	"github.com/durascribe/durascribe/resilience"
	"github.com/durascribe/durascribe/transcribe"
)

type enqueueOptions struct {
	transcribeOptions
	// Upload is "auto" (upload when an API key is known), "true" or "false".
	Upload string
}

func newEnqueueCmd(s *streams) *cobra.Command {
	opts := &enqueueOptions{}
	cmd := &cobra.Command{
		Use:   "enqueue PATH|DIR|URL|@list.txt ... --db postgres://...",
		Short: "Record inputs in the job store, pre-flighted and uploaded, for workers to transcribe",
		Long: `enqueue records inputs and queues one job per new input, without working
them: 'durascribe worker' processes on one or more machines do. Re-enqueueing
the same inputs is a no-op.

When an API key is known (--api-key or ASSEMBLYAI_API_KEY), enqueue also
pre-flights and uploads every local file on this machine and saves its
upload_url before queueing it, so that workers elsewhere never need the files
(unless a file waits more than 20 h, after which its upload is renewed by the
worker). Files whose upload fails transiently are left for the workers, which
then need them. --upload=false only records; --upload=true requires a key.`,
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
	f.StringVar(&opts.Upload, "upload", "auto", "pre-flight and upload local files here: auto (when an API key is known), true or false")
	f.Lookup("upload").NoOptDefVal = "true"
	f.StringVar(&opts.APIKey, "api-key", "", "AssemblyAI API key (default $ASSEMBLYAI_API_KEY)")
	f.StringVar(&opts.BaseURL, "base-url", "", "API base URL (default "+assemblyai.DefaultBaseURL+")")
	f.StringVar(&opts.Profile, "profile", "default", "in-process retry profile of the uploads: realtime, default or batch")
	f.IntVar(&opts.UploadConcurrency, "upload-concurrency", 2, "uploads in flight")
	f.BoolVar(&opts.NoPreflight, "no-preflight", false, "skip the audio checks before upload")
	f.BoolVar(&opts.AllowPrivateURLs, "allow-private-urls", false, "let URL pre-flight connect to loopback, private and link-local addresses (off: such URLs are rejected; AssemblyAI cannot fetch them either)")
	return cmd
}

func runEnqueue(ctx context.Context, st *streams, opts *enqueueOptions, params json.RawMessage) error {
	inputs, err := batch.ResolveInputs(opts.Inputs, params)
	if err != nil {
		return usageErrorf(err)
	}
	key := opts.APIKey
	if key == "" {
		key = strings.TrimSpace(st.Getenv("ASSEMBLYAI_API_KEY"))
	}
	var upload bool
	switch opts.Upload {
	case "auto":
		upload = key != ""
	case "true":
		upload = true
	case "false":
	default:
		return usageErrorf(fmt.Errorf("--upload must be auto, true or false, not %q", opts.Upload))
	}
	if opts.UploadConcurrency < 1 {
		return usageErrorf(errors.New("--upload-concurrency must be at least 1"))
	}
	var ucfg batch.UploadConfig
	if upload {
		if ucfg, err = uploadConfig(st, opts, key); err != nil {
			return err
		}
	}
	store, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer store.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	if !upload {
		res, err := store.Enqueue(ctx, inputs)
		if err != nil {
			return err
		}
		progressf(st.Out, "queued %d new files (%d already known) in %s; not uploaded: workers need the local files",
			res.Added, res.Known, opts.DB)
		return nil
	}
	out := &lockedWriter{w: st.Out}
	ucfg.OnFile = func(f *batch.File, err error) {
		switch {
		case f.State == batch.StateFailed:
			progressf(out, "failed   %s: %s", logging.Source(f.Source), shownText(f.Reason))
		case err != nil:
			progressf(out, "deferred %s: %s (a worker uploads it; it needs the file)", logging.Source(f.Source), shownErr(err))
		default:
			progressf(out, "uploaded %s", logging.Source(f.Source))
		}
	}
	res, err := store.EnqueueUploaded(ctx, inputs, ucfg)
	if err := stoppedError(ctx, st, err, "what was uploaded is kept", "uploads so far are saved"); err != nil {
		return err
	}
	progressf(out, "queued %d new files (%d already known) in %s: %d uploaded now, %d failed, %d left for the workers to upload",
		res.Added, res.Known, opts.DB, res.Uploaded, res.Rejected, res.Deferred)
	if res.Rejected > 0 {
		return &reportedError{failedErrorf(fmt.Errorf("%d files failed (see `durascribe status`)", res.Rejected))}
	}
	return nil
}

// uploadConfig builds the client, retry profile and pre-flight checker of
// enqueue's uploads.
func uploadConfig(st *streams, opts *enqueueOptions, key string) (batch.UploadConfig, error) {
	if key == "" {
		return batch.UploadConfig{}, configErrorf(errors.New("--upload needs an API key: set ASSEMBLYAI_API_KEY or --api-key"))
	}
	prof, err := resilience.LookupProfile(opts.Profile)
	if err != nil {
		return batch.UploadConfig{}, usageErrorf(err)
	}
	client, err := newAPIClient(st, key, opts.BaseURL, 1)
	if err != nil {
		return batch.UploadConfig{}, err
	}
	cfg := batch.UploadConfig{
		Transcribe:  transcribe.Config{Client: client, Profile: prof},
		Concurrency: opts.UploadConcurrency,
	}
	if !opts.NoPreflight {
		if cfg.Preflight, err = preflight.New(preflight.Config{AllowPrivateURLs: opts.AllowPrivateURLs}); err != nil {
			return batch.UploadConfig{}, configErrorf(fmt.Errorf("configure pre-flight: %w", err))
		}
	}
	return cfg, nil
}
