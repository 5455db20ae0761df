package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/durascribe/durascribe/internal/atomicfile"
	"github.com/durascribe/durascribe/internal/batch"
	"github.com/durascribe/durascribe/internal/bundle"
)

// errNoMatch is returned by bundle when an argument names no file.
var errNoMatch = errors.New("no such file in the job store")

type bundleOptions struct {
	DB       string
	Output   string
	Failed   bool
	NoFFmpeg bool
	Args     []string
	Out      io.Writer
	Getenv   func(string) string
}

func newBundleCmd(s *streams) *cobra.Command {
	opts := &bundleOptions{Out: s.Out, Getenv: s.Getenv}
	cmd := &cobra.Command{
		Use:   "bundle [FILE|ID ...|--failed] -o bundle.zip",
		Short: "Write a support bundle (zip) for failed files: transcript ids, exact errors, attempts, audio sample",
		Long: `bundle writes a zip with what AssemblyAI support asks for about each file
named (by path, URL or id from 'durascribe status') or, with --failed, about
every failed file: transcript ids, the exact error messages with UTC
timestamps, the attempts log, the pre-flight report, the parameters sent
(credentials removed), the durascribe version and OS, and the first 30 s of
the audio (cut with ffmpeg when it is installed). README.txt inside says
what to send. The API key ($ASSEMBLYAI_API_KEY) never appears in it.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			if len(args) == 0 && !opts.Failed {
				return usageErrorf(errors.New("name files (path, URL or id) or pass --failed"))
			}
			if opts.Output == "" {
				return usageErrorf(errors.New("-o must name the zip to write"))
			}
			return runBundle(cmd.Context(), opts)
		},
	}
	addDBFlag(cmd.Flags(), &opts.DB)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "durascribe-bundle.zip", "zip file to write")
	cmd.Flags().BoolVar(&opts.Failed, "failed", false, "include every failed file")
	cmd.Flags().BoolVar(&opts.NoFFmpeg, "no-ffmpeg", false, "do not cut samples with ffmpeg (small files are included whole)")
	return cmd
}

func runBundle(ctx context.Context, opts *bundleOptions) error {
	st, err := batch.Open(ctx, opts.DB, batch.OpenOptions{})
	if err != nil {
		return configErrorf(fmt.Errorf("open job store: %w", err))
	}
	defer st.Close() //nolint:errcheck // every write is already committed: a close error loses nothing
	files, err := bundleFiles(ctx, st, opts)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		_, err := fmt.Fprintln(opts.Out, "No failed files: nothing to bundle.")
		return err
	}
	v := currentVersion()
	in := bundle.Input{Version: v.Version, OS: v.OS + "/" + v.Arch, NoFFmpeg: opts.NoFFmpeg}
	if key := strings.TrimSpace(opts.Getenv("ASSEMBLYAI_API_KEY")); key != "" {
		in.Secrets = append(in.Secrets, key)
	}
	for _, f := range files {
		atts, err := st.Attempts(ctx, f.ID)
		if err != nil {
			return err
		}
		bf := bundle.File{ID: f.ID, Source: f.Source, State: string(f.State), Stage: string(f.Stage), Reason: f.Reason,
			LastError: f.LastError, TranscriptID: f.TranscriptID, TranscriptIDs: f.Checkpoint.TranscriptIDs,
			Preflight: f.Preflight, Params: f.Params}
		for _, a := range atts {
			bf.Attempts = append(bf.Attempts, reportAttempt(a))
		}
		in.Files = append(in.Files, bf)
		in.Secrets = append(in.Secrets, paramSecrets(f.Params)...)
	}
	var zip bytes.Buffer
	if err := bundle.Write(ctx, &zip, in); err != nil {
		return err
	}
	if err := atomicfile.Write(opts.Output, zip.Bytes(), atomicfile.Options{Overwrite: true, Perm: 0o600}); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	_, err = fmt.Fprintf(opts.Out, "Wrote %s (%d files, %d bytes). Its README.txt lists what to send to %s.\n",
		opts.Output, len(files), zip.Len(), bundle.SupportEmail)
	return err
}

// bundleFiles resolves the arguments (ids, paths, URLs) and --failed to
// files, each once, in the order named.
func bundleFiles(ctx context.Context, st *batch.Store, opts *bundleOptions) ([]*batch.File, error) {
	var out []*batch.File
	seen := map[int64]bool{}
	add := func(f *batch.File) {
		if !seen[f.ID] {
			seen[f.ID] = true
			out = append(out, f)
		}
	}
	if opts.Failed {
		failed, err := st.Files(ctx, batch.StateFailed)
		if err != nil {
			return nil, err
		}
		for _, f := range failed {
			add(f)
		}
	}
	if len(opts.Args) == 0 {
		return out, nil
	}
	all, err := st.Files(ctx)
	if err != nil {
		return nil, err
	}
	for _, arg := range opts.Args {
		want := []string{arg}
		if abs, err := filepath.Abs(arg); err == nil && !strings.Contains(arg, "://") {
			want = append(want, abs)
		}
		id, idErr := strconv.ParseInt(arg, 10, 64)
		n := 0
		for _, f := range all {
			if (idErr == nil && f.ID == id) || f.Source == want[0] || f.Source == want[len(want)-1] {
				add(f)
				n++
			}
		}
		if n == 0 {
			return nil, usageErrorf(fmt.Errorf("%q: %w", arg, errNoMatch))
		}
	}
	return out, nil
}

// paramSecrets returns credential values found in transcript parameters
// (webhook auth header values), so they are scrubbed everywhere, not only
// dropped from params.json.
func paramSecrets(params json.RawMessage) []string {
	var p map[string]any
	if json.Unmarshal(params, &p) != nil {
		return nil
	}
	if v, ok := p["webhook_auth_header_value"].(string); ok && v != "" {
		return []string{v}
	}
	return nil
}
