// Package bundle writes support bundles: one zip with, per failed file, what
// AssemblyAI support asks for (transcript ids, exact errors with UTC times, an
// audio sample) plus the attempts log, pre-flight report and parameters sent.
// It takes plain values; secrets are scrubbed from every byte it writes.
package bundle

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/durascribe/durascribe/internal/report"
)

// Defaults of Input.
const (
	DefaultSampleSeconds = 30
	DefaultMaxRawSample  = 5 << 20
)

var (
	// ErrSecretInOutput means a secret survived redaction (for example a
	// secret made only of mask characters); the bundle is refused.
	ErrSecretInOutput = errors.New("secret would appear in bundle")
	// ErrNoFiles means there is nothing to bundle.
	ErrNoFiles = errors.New("no files to bundle")
)

// Input is what goes into a bundle.
type Input struct {
	// Version is the durascribe version. Defaults to "dev".
	Version string
	// OS is the operating system and architecture. Defaults to
	// runtime.GOOS/runtime.GOARCH.
	OS string
	// Created stamps the bundle and its zip entries. Defaults to now.
	Created time.Time
	// Files are the files to describe, usually the failed ones.
	Files []File
	// Secrets are strings that must never appear in the bundle (the API
	// key, webhook auth values). Every entry name and byte is scrubbed.
	Secrets []string
	// FFmpeg is the ffmpeg binary used to cut audio samples. Defaults to
	// "ffmpeg" looked up on PATH; when it is missing, samples are the
	// whole file if it is small.
	FFmpeg string
	// NoFFmpeg disables ffmpeg even when it is on PATH.
	NoFFmpeg bool
	// SampleSeconds is the length of the cut sample. Defaults to 30.
	SampleSeconds int
	// MaxRawSample is the largest file included whole when no cut sample
	// could be made. Defaults to 5 MiB.
	MaxRawSample int64
}

// File is one file and everything recorded about it.
type File struct {
	ID     int64
	Source string
	// State is the file's state ("failed", ...); Stage where it stopped.
	State, Stage string
	Reason       string
	LastError    string
	TranscriptID string
	// TranscriptIDs are every transcript id the file has had, oldest first
	// (resubmits create new ones); merged with TranscriptID and the ids in
	// Attempts.
	TranscriptIDs []string
	// Preflight is the pre-flight report as JSON, if one was made.
	Preflight json.RawMessage
	// Params are the transcript parameters sent, as JSON. Credential
	// fields are removed before writing.
	Params json.RawMessage
	// Attempts is the file's attempts log.
	Attempts []report.Attempt
}

// WithDefaults returns in with zero fields set to their defaults.
func (in Input) WithDefaults() Input {
	if in.Version == "" {
		in.Version = "dev"
	}
	if in.OS == "" {
		in.OS = runtime.GOOS + "/" + runtime.GOARCH
	}
	if in.Created.IsZero() {
		in.Created = time.Now()
	}
	in.Created = in.Created.UTC()
	if in.FFmpeg == "" {
		in.FFmpeg = "ffmpeg"
	}
	if in.SampleSeconds <= 0 {
		in.SampleSeconds = DefaultSampleSeconds
	}
	if in.MaxRawSample <= 0 {
		in.MaxRawSample = DefaultMaxRawSample
	}
	return in
}

// Root is the directory all entries of a bundle are under.
const Root = "durascribe-bundle/"

// Write writes the bundle of in to w as a zip. ctx bounds the ffmpeg runs.
func Write(ctx context.Context, w io.Writer, in Input) error {
	in = in.WithDefaults()
	if len(in.Files) == 0 {
		return ErrNoFiles
	}
	zw := &zipWriter{zw: zip.NewWriter(w), red: newRedactor(in.Secrets), mod: in.Created}
	sys, err := json.MarshalIndent(map[string]string{
		"durascribe_version": in.Version, "os": in.OS, "go_version": runtime.Version(),
		"created": in.Created.Format(time.RFC3339),
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode system info: %w", err)
	}
	zw.put("system.json", append(sys, '\n'))
	var entries []fileEntry
	for i, f := range in.Files {
		// Name from the redacted source: a cut-off secret would escape redaction.
		label := safeName(string(zw.red.text([]byte(f.Source))))
		e := fileEntry{File: f, Dir: fmt.Sprintf("files/%03d-%s/", i+1, label)}
		e.TranscriptIDs = transcriptIDs(f)
		e.Errors = fileErrors(f)
		writeFile(ctx, zw, in, &e)
		entries = append(entries, e)
	}
	zw.put("README.txt", readme(in, entries))
	if zw.err != nil {
		return fmt.Errorf("write bundle: %w", zw.err)
	}
	if err := zw.zw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// fileEntry is a file with what the bundle derived for it.
type fileEntry struct {
	File
	Dir           string
	TranscriptIDs []string
	Errors        []errorLine
	Sample        string // entry name of the sample, or ""
	SampleNote    string // why there is no sample, or how it was made
}

// errorLine is one failure with its UTC time.
type errorLine struct {
	Time         time.Time `json:"time"`
	Stage        string    `json:"stage,omitempty"`
	Endpoint     string    `json:"endpoint,omitempty"`
	Attempt      int       `json:"attempt,omitempty"`
	StatusCode   int       `json:"status_code,omitempty"`
	Class        string    `json:"class,omitempty"`
	Message      string    `json:"message"`
	TranscriptID string    `json:"transcript_id,omitempty"`
}

func transcriptIDs(f File) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, id := range f.TranscriptIDs {
		add(id)
	}
	add(f.TranscriptID)
	for _, a := range f.Attempts {
		add(a.TranscriptID)
	}
	return ids
}

func fileErrors(f File) []errorLine {
	out := []errorLine{}
	for _, a := range f.Attempts {
		if a.OK() {
			continue
		}
		out = append(out, errorLine{Time: a.Start.UTC(), Stage: a.Stage, Endpoint: a.Endpoint, Attempt: a.Attempt,
			StatusCode: a.StatusCode, Class: a.Class, Message: a.Error, TranscriptID: a.TranscriptID})
	}
	return out
}

func writeFile(ctx context.Context, zw *zipWriter, in Input, e *fileEntry) {
	type attemptJSON struct {
		Stage        string    `json:"stage"`
		Endpoint     string    `json:"endpoint"`
		Attempt      int       `json:"attempt"`
		Start        time.Time `json:"start"`
		DurationMS   int64     `json:"duration_ms"`
		StatusCode   int       `json:"status_code,omitempty"`
		Class        string    `json:"class,omitempty"`
		Error        string    `json:"error,omitempty"`
		DelayMS      int64     `json:"delay_ms,omitempty"`
		RetryAfterMS int64     `json:"retry_after_ms,omitempty"`
		BreakerState string    `json:"breaker_state,omitempty"`
		TranscriptID string    `json:"transcript_id,omitempty"`
	}
	atts := make([]attemptJSON, 0, len(e.Attempts))
	for _, a := range e.Attempts {
		atts = append(atts, attemptJSON{Stage: a.Stage, Endpoint: a.Endpoint, Attempt: a.Attempt, Start: a.Start.UTC(),
			DurationMS: a.Duration.Milliseconds(), StatusCode: a.StatusCode, Class: a.Class, Error: a.Error,
			DelayMS: a.Delay.Milliseconds(), RetryAfterMS: a.RetryAfter.Milliseconds(), BreakerState: a.BreakerState,
			TranscriptID: a.TranscriptID})
	}
	zw.putJSON(e.Dir+"attempts.json", atts)
	zw.putJSON(e.Dir+"errors.json", e.Errors)
	if len(e.Preflight) > 0 {
		zw.putRaw(e.Dir+"preflight.json", e.Preflight)
	}
	if len(e.Params) > 0 {
		if p, err := redactParams(e.Params); err == nil {
			zw.putRaw(e.Dir+"params.json", p)
		} else {
			zw.put(e.Dir+"params-note.txt", []byte("The parameters were not valid JSON and are left out, "+
				"since credential fields could not be removed from them.\n"))
		}
	}
	name, data, note := sample(ctx, in, e.Source)
	e.SampleNote = note
	if data != nil {
		e.Sample = e.Dir + name
		zw.putBinary(e.Sample, data)
	}
	zw.put(e.Dir+"summary.txt", summary(e))
}

// safeName turns a source into a short file-name-safe label.
func safeName(source string) string {
	base := path.Base(strings.ReplaceAll(source, "\\", "/"))
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 || strings.Trim(b.String(), ".") == "" {
		return "file"
	}
	return b.String()
}

// zipWriter writes scrubbed entries and remembers the first error.
type zipWriter struct {
	zw  *zip.Writer
	red redactor
	mod time.Time
	err error
}

func (z *zipWriter) create(name string, method uint16) io.Writer {
	if z.err != nil {
		return nil
	}
	name = string(z.red.text([]byte(name)))
	w, err := z.zw.CreateHeader(&zip.FileHeader{Name: Root + name, Method: method, Modified: z.mod})
	if err != nil {
		z.err = err
		return nil
	}
	return w
}

func (z *zipWriter) write(name string, method uint16, data []byte) {
	if z.err != nil {
		return
	}
	if z.red.contains(data) || z.red.contains([]byte(name)) {
		z.err = ErrSecretInOutput
		return
	}
	if w := z.create(name, method); w != nil {
		_, z.err = w.Write(data)
	}
}

// put writes a text entry with secrets replaced by a marker.
func (z *zipWriter) put(name string, data []byte) { z.write(name, zip.Deflate, z.red.text(data)) }

// putBinary writes a binary entry with secrets overwritten in place, so
// offsets in the audio container stay valid.
func (z *zipWriter) putBinary(name string, data []byte) {
	z.write(name, zip.Deflate, z.red.binary(data))
}

// putRaw writes JSON text indented when it parses, as given otherwise.
func (z *zipWriter) putRaw(name string, raw json.RawMessage) {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		z.put(name, raw)
		return
	}
	b.WriteByte('\n')
	z.put(name, b.Bytes())
}

func (z *zipWriter) putJSON(name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		if z.err == nil {
			z.err = err
		}
		return
	}
	z.put(name, append(b, '\n'))
}
