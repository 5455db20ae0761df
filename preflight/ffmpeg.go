package preflight

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Batching: files checked together share one ffmpeg process, because
// starting ffmpeg (about 60 ms of CPU to load its 200 shared libraries) costs
// far more than decoding a small file.
const (
	maxBatchFiles = 32
	maxBatchBytes = 16 << 20
)

// ffmpegBatch analyses the files of rs in one ffmpeg process. -xerror stops
// the whole run at the first damaged file, so a batch that fails is split
// until each damaged file runs alone (the file ffmpeg could not open or found
// no audio in at once, else by halves); every report ends up as if its file
// had been checked by itself.
func (c *Checker) ffmpegBatch(ctx context.Context, rs []*Report) error {
	if len(rs) == 0 {
		return nil
	}
	run, err := c.runFFmpeg(ctx, rs)
	if len(rs) == 1 {
		if err != nil {
			return c.runFailed(ctx, rs[0], err)
		}
		run.apply(0, rs[0])
		return nil
	}
	if err == nil && run.rc == 0 && run.complete(len(rs)) {
		for k, r := range rs {
			run.apply(k, r)
		}
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if k := run.culprit(); err == nil && k >= 0 {
		// ffmpeg names this file's failure for sure: judge it alone and
		// rerun the others together.
		if err := c.ffmpegBatch(ctx, rs[k:k+1]); err != nil {
			return err
		}
		return c.ffmpegBatch(ctx, slices.Concat(rs[:k], rs[k+1:]))
	}
	half := len(rs) / 2
	if err := c.ffmpegBatch(ctx, rs[:half]); err != nil {
		return err
	}
	return c.ffmpegBatch(ctx, rs[half:])
}

// runFFmpeg runs one decoding pass over the files of rs (reference §2.2):
// input k goes through its own volumedetect@vK into its own null output.
func (c *Checker) runFFmpeg(ctx context.Context, rs []*Report) (*ffRun, error) {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-v", "info", "-xerror"}
	var graph strings.Builder
	for k, r := range rs {
		args = append(args, "-i", ffInputName(r.Source))
		if k > 0 {
			graph.WriteByte(';')
		}
		fmt.Fprintf(&graph, "[%d:a:0]volumedetect@v%d[o%d]", k, k, k)
	}
	args = append(args, "-filter_complex", graph.String())
	for k := range rs {
		args = append(args, "-map", "[o"+strconv.Itoa(k)+"]", "-f", "null", "-")
	}
	run := &ffRun{inputs: make([]ffInput, len(rs)), current: -1}
	if len(rs) == 1 {
		run.in = ffInputName(rs[0].Source)
	}
	rc, err := c.run(ctx, &lineWriter{fn: run.line}, c.cfg.FFmpegPath, args...)
	run.rc = rc
	return run, err
}

// ffInputName prefixes "file:" so that names with a colon or a leading dash
// are not read as protocols or options.
func ffInputName(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return "file:" + abs
	}
	return "file:" + filepath.Clean(path)
}

// ffInput is what one run learns about one input.
type ffInput struct {
	opened   bool    // ffmpeg printed its description
	format   string  // demuxer names, "wav", "mov,mp4,m4a,3gp,3g2,mj2", ...
	declared float64 // container duration in seconds; 0 when N/A
	streams  int
	audio    bool // a first audio stream was found
	codec    string
	rate     int
	channels int
	vol      volumeResult
}

// volumeResult is what volumedetect reports for one input.
type volumeResult struct {
	seen     bool  // an n_samples line was printed
	nSamples int64 // samples of all channels
	meanDB   float64
	maxDB    float64
	haveMean bool
	haveMax  bool
}

// ffRun parses ffmpeg's stderr line by line as it is written, so that memory
// stays flat however much ffmpeg prints.
type ffRun struct {
	rc       int
	inputs   []ffInput
	current  int      // input whose description is being printed, or -1
	in       string   // the input name of a single-file run, cut from messages
	errLines []string // complaints, first few; used for single-file runs
}

var (
	reInput  = regexp.MustCompile(`^Input #(\d+), (.*?), from '`)
	reStream = regexp.MustCompile(`^\s*Stream #(\d+):\d+[^:]*: (\w+): (.*)$`)
	reVolume = regexp.MustCompile(`^\[volumedetect@v(\d+) @ [^\]]*\] (\w+): (.*)$`)
)

func (p *ffRun) line(line string) {
	if m := reVolume.FindStringSubmatch(line); m != nil {
		k, _ := strconv.Atoi(m[1])
		if k < len(p.inputs) {
			p.inputs[k].vol.set(m[2], strings.TrimSuffix(strings.TrimSpace(m[3]), " dB"))
		}
		return
	}
	if m := reInput.FindStringSubmatch(line); m != nil {
		k, _ := strconv.Atoi(m[1])
		p.current = -1
		if k < len(p.inputs) {
			p.current = k
			p.inputs[k].opened, p.inputs[k].format = true, m[2]
		}
		return
	}
	if strings.HasPrefix(line, "Stream mapping:") || strings.HasPrefix(line, "Output #") {
		p.current = -1
		return
	}
	if p.current >= 0 {
		in := &p.inputs[p.current]
		if d, ok := strings.CutPrefix(strings.TrimSpace(line), "Duration: "); ok {
			d, _, _ = strings.Cut(d, ",")
			in.declared = parseClock(d)
			return
		}
		if m := reStream.FindStringSubmatch(line); m != nil {
			in.streams++
			if m[2] == "Audio" && !in.audio {
				in.audio = true
				in.codec, in.rate, in.channels = parseAudioStream(m[3])
			}
			return
		}
		if strings.HasPrefix(line, " ") {
			return // metadata of the description, never a complaint
		}
	}
	if isErrLine(line) && len(p.errLines) < 3 && !strings.HasPrefix(line, "Conversion failed") {
		p.errLines = append(p.errLines, cleanLine(line, p.in))
	}
}

// set records one "key: value" line of volumedetect. The filter prints
// n_samples first, and also prints a zero count when ffmpeg configures the
// graph before the run, so n_samples starts a new set of values.
func (v *volumeResult) set(key, val string) {
	switch key {
	case "n_samples":
		*v = volumeResult{seen: true}
		v.nSamples, _ = strconv.ParseInt(val, 10, 64)
	case "mean_volume":
		v.meanDB, v.haveMean = parseDB(val)
	case "max_volume":
		v.maxDB, v.haveMax = parseDB(val)
	}
}

// complete reports whether the run described and measured each of n inputs,
// so that every report can be filled from it.
func (p *ffRun) complete(n int) bool {
	for k := range n {
		in := p.inputs[k]
		if !in.opened || !in.audio || !in.vol.seen {
			return false
		}
	}
	return true
}

// culprit returns the input that certainly made a failed run fail, or -1:
// ffmpeg opens inputs in order and stops at the first it cannot open, and an
// input without audio makes the filter graph fail.
func (p *ffRun) culprit() int {
	for k, in := range p.inputs {
		if !in.opened || !in.audio {
			return k
		}
	}
	return -1
}

// apply fills r from input k of the run, with the verdict rules of a
// single-file run (reference §2.1-2.3).
func (p *ffRun) apply(k int, r *Report) {
	in := p.inputs[k]
	detail := strings.Join(p.errLines, "; ")
	switch {
	case !in.opened:
		r.add(CodeCorrupt, VerdictReject, "The file cannot be read as audio (ffmpeg: %s); re-export it from the original recording.",
			orText(detail, "invalid data"))
		return
	case !in.audio:
		r.add(CodeNoAudioStream, VerdictReject, "The file has no audio track (a video without sound, or an empty container); export it again with its audio.")
		return
	}
	r.Codec, r.SampleRate, r.Channels = in.codec, in.rate, in.channels
	if r.SampleRate <= 0 || r.Channels <= 0 {
		// ffmpeg opens random bytes named .mp3 as a stream with no sample
		// rate or channels (reference §2.1).
		r.add(CodeCorrupt, VerdictReject, "The file claims to be %s audio but has no valid audio frames (%s); re-export it from the original recording.",
			codecOr(r.Codec), orText(detail, "no sample rate or channels"))
		return
	}
	declared := in.declared
	r.Duration = secondsToDuration(declared)
	vol := in.vol
	decoded := 0.0
	if vol.nSamples > 0 {
		decoded = float64(vol.nSamples) / float64(r.Channels) / float64(r.SampleRate)
		r.Duration = secondsToDuration(decoded)
	}
	if vol.haveMean && vol.haveMax && vol.nSamples > 0 {
		pk, m := math.Max(FloorDBFS, vol.maxDB), math.Max(FloorDBFS, vol.meanDB)
		r.PeakDBFS, r.RMSDBFS = &pk, &m
	}
	switch {
	case p.rc != 0 && decoded == 0:
		r.add(CodeCorrupt, VerdictReject, "The audio cannot be decoded (ffmpeg: %s); re-export it from the original recording.", orText(detail, "decoding failed"))
	case p.rc != 0:
		r.add(CodeTruncated, VerdictReject, "Decoding stops with an error after %s%s (ffmpeg: %s): the file is cut short or damaged; copy or export it again.",
			fmtDur(secondsToDuration(decoded)), ofDeclared(declared), orText(detail, "decoding failed"))
	case decoded == 0:
		r.add(CodeTruncated, VerdictReject, "The file has a header but no audio data; the recording was cut off, so copy or export it again.")
	case exactHeader(r.Codec) && in.audioOnly() && declared-decoded > math.Max(0.5, declared*0.02):
		r.add(CodeTruncated, VerdictReject, "Only %s of audio decode%s: the file is cut short; copy or export it again.",
			fmtDur(secondsToDuration(decoded)), ofDeclared(declared))
	}
}

// audioOnly reports whether the container duration is the audio's: the
// container holds one stream, or is one whose duration comes from the audio
// header (FLAC with cover art has a picture stream).
func (in ffInput) audioOnly() bool {
	switch in.format {
	case "wav", "flac", "aiff", "w64":
		return true
	}
	return in.streams == 1
}

// parseAudioStream reads "pcm_s16le ([1][0][0][0] / 0x0001), 16000 Hz, mono,
// s16, 256 kb/s" into codec, sample rate and channel count.
func parseAudioStream(desc string) (codec string, rate, channels int) {
	parts := strings.Split(desc, ", ")
	codec, _, _ = strings.Cut(parts[0], " ")
	for i, part := range parts {
		if hz, ok := strings.CutSuffix(part, " Hz"); ok {
			rate, _ = strconv.Atoi(hz)
			if i+1 < len(parts) {
				channels = layoutChannels(parts[i+1])
			}
			break
		}
	}
	return codec, rate, channels
}

// namedLayouts are the channel layout names ffmpeg prints that do not say
// their channel count.
var namedLayouts = map[string]int{
	"mono": 1, "stereo": 2, "downmix": 2, "quad": 4, "hexagonal": 6, "octagonal": 8, "cube": 8, "hexadecagonal": 16,
}

// layoutChannels returns the channel count of a layout as ffmpeg describes
// it: "mono", "5.1(side)", "22.2", "3 channels", "FL+FR+LFE"; 0 when unknown.
func layoutChannels(layout string) int {
	name, _, _ := strings.Cut(layout, "(")
	if n, ok := namedLayouts[name]; ok {
		return n
	}
	if n, ok := strings.CutSuffix(layout, " channels"); ok {
		v, _ := strconv.Atoi(n)
		return max(v, 0)
	}
	if front, lfe, ok := strings.Cut(name, "."); ok {
		a, err1 := strconv.Atoi(front)
		b, err2 := strconv.Atoi(lfe)
		if err1 == nil && err2 == nil && a >= 0 && b >= 0 {
			return a + b
		}
	}
	if strings.Contains(layout, "+") {
		return strings.Count(layout, "+") + 1
	}
	return 0
}

// parseClock reads ffmpeg's "HH:MM:SS.cc" duration; "N/A" and anything else
// give 0.
func parseClock(s string) float64 {
	h, rest, ok1 := strings.Cut(s, ":")
	m, sec, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 {
		return 0
	}
	hv, err1 := strconv.Atoi(h)
	mv, err2 := strconv.Atoi(m)
	sv, err3 := strconv.ParseFloat(sec, 64)
	if err1 != nil || err2 != nil || err3 != nil || hv < 0 || mv < 0 || sv < 0 {
		return 0
	}
	return float64(hv)*3600 + float64(mv)*60 + sv
}

// ffmpegWaitDelay is how long a cancelled ffmpeg's output pipes may stay
// open before they are closed and Run returns (exec.Cmd.WaitDelay): ffmpeg
// exits on its signal in milliseconds; two seconds covers a loaded machine.
// Round.
const ffmpegWaitDelay = 2 * time.Second

// run runs one ffmpeg command bounded by FFmpegTimeout, writing its stderr
// to stderr. A non-zero exit is returned as rc with a nil error; err is for
// failing to run at all, a timeout, or ctx ending.
func (c *Checker) run(ctx context.Context, stderr *lineWriter, bin string, args ...string) (rc int, err error) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.FFmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(rctx, bin, args...)
	cmd.Stderr = stderr
	cmd.WaitDelay = ffmpegWaitDelay
	err = cmd.Run()
	stderr.flush()
	var ee *exec.ExitError
	switch {
	case rctx.Err() != nil:
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("run %s: timed out after %v", filepath.Base(bin), c.cfg.FFmpegTimeout)
	case errors.As(err, &ee):
		return ee.ExitCode(), nil
	case err != nil:
		return -1, fmt.Errorf("run %s: %w", filepath.Base(bin), err)
	}
	return 0, nil
}

// runFailed turns a failure to run ffmpeg into a not_verified warning, unless
// ctx ended, which is the caller's error.
func (c *Checker) runFailed(ctx context.Context, r *Report, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.add(CodeNotVerified, VerdictWarn, "The audio could not be verified (%v); check it by hand or rerun the check.", err)
	return nil
}

// maxLine bounds one line kept by lineWriter; the rest of a longer line is
// dropped.
const maxLine = 64 << 10

// lineWriter calls fn for each line written to it ("\n" or "\r" ends a
// line), holding at most one partial line.
type lineWriter struct {
	buf []byte
	fn  func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := strings.IndexAny(string(p), "\r\n")
		if i < 0 {
			w.buf = append(w.buf, p[:min(len(p), max(maxLine-len(w.buf), 0))]...)
			break
		}
		w.buf = append(w.buf, p[:min(i, max(maxLine-len(w.buf), 0))]...)
		w.flush()
		p = p[i+1:]
	}
	return n, nil
}

// flush passes on a pending partial line.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.fn(string(w.buf))
		w.buf = w.buf[:0]
	}
}

func isErrLine(line string) bool {
	l := strings.ToLower(line)
	for _, k := range []string{"error", "invalid", "corrupt", "missing", "failed", "truncat", "not found", "matches no streams"} {
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
	if in != "" {
		line = strings.TrimPrefix(line, in+": ")
	}
	return line
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
