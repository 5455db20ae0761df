package preflight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ffprobeResult is the part of `ffprobe -of json` output used here.
type ffprobeResult struct {
	Streams []struct {
		CodecName  string `json:"codec_name"`
		CodecType  string `json:"codec_type"`
		SampleRate string `json:"sample_rate"`
		Channels   int    `json:"channels"`
		Duration   string `json:"duration"`
	} `json:"streams"`
	Format *struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
}

// volumeResult is what one decoding pass with volumedetect reports.
type volumeResult struct {
	nSamples  int64 // samples of all channels
	meanDB    float64
	maxDB     float64
	hasLevels bool
	errLines  []string // decoder and demuxer complaints, first few
}

// ffmpegAnalyze probes path once and decodes its first audio stream once
// (reference §2.1 and §2.2), filling r.
func (c *Checker) ffmpegAnalyze(ctx context.Context, r *Report, path string) error {
	// "file:" keeps names with a colon or a leading dash from being read as
	// protocols or options.
	in := "file:" + filepath.Clean(path)
	if !filepath.IsAbs(path) {
		if abs, err := filepath.Abs(path); err == nil {
			in = "file:" + abs
		}
	}
	stdout, stderr, rc, err := c.run(ctx, c.cfg.FFprobePath, "-v", "error", "-select_streams", "a:0",
		"-show_entries", "stream=codec_name,codec_type,sample_rate,channels,duration:format=format_name,duration,size,bit_rate",
		"-of", "json", in)
	if err != nil {
		return c.runFailed(ctx, r, "ffprobe", err)
	}
	var pr ffprobeResult
	if rc != 0 || json.Unmarshal(stdout, &pr) != nil || pr.Format == nil {
		r.add(CodeCorrupt, VerdictReject, "The file cannot be read as audio (ffprobe: %s); re-export it from the original recording.",
			firstLine(stderr, "invalid data"))
		return nil
	}
	if len(pr.Streams) == 0 {
		r.add(CodeNoAudioStream, VerdictReject, "The file has no audio track (a video without sound, or an empty container); export it again with its audio.")
		return nil
	}
	st := pr.Streams[0]
	r.Codec = st.CodecName
	r.SampleRate, _ = strconv.Atoi(st.SampleRate)
	r.Channels = st.Channels
	if r.SampleRate <= 0 || r.Channels <= 0 {
		// ffprobe exits 0 for random bytes named .mp3 (reference §2.1).
		r.add(CodeCorrupt, VerdictReject, "The file claims to be %s audio but has no valid audio frames (%s); re-export it from the original recording.",
			codecOr(r.Codec), firstLine(stderr, "no sample rate or channels"))
		return nil
	}
	declared := parseSeconds(st.Duration)
	if declared == 0 {
		declared = parseSeconds(pr.Format.Duration)
	}
	r.Duration = secondsToDuration(declared)

	vol, rc, err := c.volumedetect(ctx, in)
	if err != nil {
		return c.runFailed(ctx, r, "ffmpeg", err)
	}
	decoded := 0.0
	if vol.nSamples > 0 {
		decoded = float64(vol.nSamples) / float64(r.Channels) / float64(r.SampleRate)
	}
	if decoded > 0 {
		r.Duration = secondsToDuration(decoded)
	}
	if vol.hasLevels {
		p, m := math.Max(FloorDBFS, vol.maxDB), math.Max(FloorDBFS, vol.meanDB)
		r.PeakDBFS, r.RMSDBFS = &p, &m
	}
	detail := strings.Join(vol.errLines, "; ")
	switch {
	case rc != 0 && decoded == 0:
		r.add(CodeCorrupt, VerdictReject, "The audio cannot be decoded (ffmpeg: %s); re-export it from the original recording.", orText(detail, "decoding failed"))
	case rc != 0:
		r.add(CodeTruncated, VerdictReject, "Decoding stops with an error after %s%s (ffmpeg: %s): the file is cut short or damaged; copy or export it again.",
			fmtDur(secondsToDuration(decoded)), ofDeclared(declared), orText(detail, "decoding failed"))
	case decoded == 0:
		r.add(CodeTruncated, VerdictReject, "The file has a header but no audio data; the recording was cut off, so copy or export it again.")
	case exactHeader(r.Codec) && declared-decoded > math.Max(0.5, declared*0.02):
		r.add(CodeTruncated, VerdictReject, "Only %s of audio decode%s: the file is cut short; copy or export it again.",
			fmtDur(secondsToDuration(decoded)), ofDeclared(declared))
	}
	return nil
}

// volumedetect runs the single decoding pass.
func (c *Checker) volumedetect(ctx context.Context, in string) (volumeResult, int, error) {
	var v volumeResult
	// volumedetect prints at info level; -nostats keeps progress lines out.
	_, stderr, rc, err := c.run(ctx, c.cfg.FFmpegPath, "-hide_banner", "-nostdin", "-nostats", "-v", "info", "-xerror",
		"-i", in, "-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-")
	if err != nil {
		return v, rc, err
	}
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var haveMean, haveMax bool
	for sc.Scan() {
		line := sc.Text()
		if i := strings.Index(line, "] "); strings.Contains(line, "volumedetect") && i >= 0 {
			key, val, ok := strings.Cut(line[i+2:], ": ")
			if !ok {
				continue
			}
			val = strings.TrimSuffix(strings.TrimSpace(val), " dB")
			switch key {
			case "n_samples":
				v.nSamples, _ = strconv.ParseInt(val, 10, 64)
			case "mean_volume":
				v.meanDB, haveMean = parseDB(val)
			case "max_volume":
				v.maxDB, haveMax = parseDB(val)
			}
			continue
		}
		if isErrLine(line) && len(v.errLines) < 3 && !strings.HasPrefix(line, "Conversion failed") {
			v.errLines = append(v.errLines, cleanLine(line, in))
		}
	}
	v.hasLevels = haveMean && haveMax && v.nSamples > 0
	return v, rc, nil
}

// maxOutput bounds what is kept of a child's stdout and stderr.
const maxOutput = 1 << 20

// run runs one ffprobe/ffmpeg command bounded by FFmpegTimeout. A non-zero
// exit is returned as rc with a nil error; err is for failing to run at all,
// a timeout, or ctx ending.
func (c *Checker) run(ctx context.Context, bin string, args ...string) (stdout, stderr []byte, rc int, err error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.FFmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin, args...)
	var out, errb limitedBuffer
	out.max, errb.max = maxOutput, maxOutput
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case rctx.Err() != nil:
		if ctx.Err() != nil {
			return nil, nil, -1, ctx.Err()
		}
		return nil, nil, -1, fmt.Errorf("run %s: timed out after %v", filepath.Base(bin), c.cfg.FFmpegTimeout)
	case errors.As(err, &ee):
		return out.Bytes(), errb.Bytes(), ee.ExitCode(), nil
	case err != nil:
		return nil, nil, -1, fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	return out.Bytes(), errb.Bytes(), 0, nil
}

// runFailed turns a failure to run ffmpeg into a not_verified warning, unless
// ctx ended, which is the caller's error.
func (c *Checker) runFailed(ctx context.Context, r *Report, _ string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.add(CodeNotVerified, VerdictWarn, "The audio could not be verified (%v); check it by hand or rerun the check.", err)
	return nil
}

// limitedBuffer keeps the first max bytes written and discards the rest, so a
// chatty child cannot grow memory.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

var _ io.Writer = (*limitedBuffer)(nil)

func isErrLine(line string) bool {
	l := strings.ToLower(line)
	for _, k := range []string{"error", "invalid", "corrupt", "missing", "failed", "truncat", "matches no streams"} {
		if strings.Contains(l, k) {
			return true
		}
	}
	return false
}

// cleanLine drops ffmpeg's "[demuxer @ 0x...] " prefix and the input name.
func cleanLine(line, in string) string {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "[") {
		if i := strings.Index(line, "] "); i >= 0 {
			line = line[i+2:]
		}
	}
	return strings.TrimPrefix(line, in+": ")
}

// firstLine returns the first complaint in stderr, without ffmpeg's
// "[demuxer @ 0x...]" prefix, or def.
func firstLine(stderr []byte, def string) string {
	for _, line := range strings.Split(string(stderr), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if i := strings.Index(line, "] "); i >= 0 {
				line = line[i+2:]
			}
		}
		return line
	}
	return def
}

func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return f
}

func parseDB(s string) (float64, bool) {
	if strings.HasPrefix(s, "-inf") {
		return FloorDBFS, true
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// exactHeader reports codecs whose header duration is exact, so a shortfall
// in decoded audio means truncation rather than an estimate.
func exactHeader(codec string) bool {
	return strings.HasPrefix(codec, "pcm_") || codec == "flac"
}

func ofDeclared(declared float64) string {
	if declared <= 0 {
		return ""
	}
	return " of the " + fmtDur(secondsToDuration(declared)) + " expected"
}

func codecOr(codec string) string {
	if codec == "" {
		return "its"
	}
	return codec
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
