package preflight

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"time"
)

// nativeAnalyze is the pure-Go engine: it decodes what it can and says
// not_verified about the rest. A panic in a decoder rejects the file as
// corrupt (see [contain]).
func (c *Checker) nativeAnalyze(ctx context.Context, r *Report, f io.ReaderAt, family string, head []byte) (err error) {
	if p := contain(func() { err = c.decode(ctx, r, f, family, head) }); p != nil {
		r.add(CodeCorrupt, VerdictReject, "The file crashed the %s decoder (%s); it is damaged or malformed, so re-export it from the original recording.",
			sniffedName(family), panicText(p))
		return nil
	}
	return err
}

// contain runs fn and returns the value of a panic in it, or nil. Every call
// into a third-party parser or decoder runs under it: crafted or damaged
// files crash some of them (go-mp3 and oggvorbis index past their tables),
// and one bad file must get a verdict like any other, not take down a whole
// check or be retried as if the crash were transient.
func contain(fn func()) (panicked any) {
	defer func() { panicked = recover() }()
	fn()
	return nil
}

// panicText shortens a panic value for a reason message.
func panicText(p any) string {
	s := fmt.Sprint(p)
	if r := []rune(s); len(r) > 120 {
		s = string(r[:117]) + "..."
	}
	return "panic: " + s
}

// decode runs the analyzer for the family.
func (c *Checker) decode(ctx context.Context, r *Report, f io.ReaderAt, family string, head []byte) error {
	switch family {
	case famWAV:
		return c.analyzeWAV(ctx, r, f)
	case famMP3:
		return c.analyzeMP3(ctx, r, f)
	case famFLAC:
		return c.analyzeFLAC(ctx, r, f)
	case famOgg:
		switch {
		case bytes.Contains(head, []byte("OpusHead")):
			return c.analyzeOpus(ctx, r, f)
		case bytes.Contains(head, []byte("\x01vorbis")):
			return c.analyzeVorbis(ctx, r, f)
		}
		r.Codec = "unknown"
		notVerified(r, "Ogg with a codec other than Vorbis or Opus")
		return nil
	case famMP4:
		return c.analyzeMP4(ctx, r, f)
	case famWebM, famMKV:
		return c.analyzeMatroska(ctx, r, f)
	}
	notVerified(r, sniffedName(family))
	return nil
}

// notVerified adds the warning for audio the Go engine cannot decode.
func notVerified(r *Report, what string) {
	r.add(CodeNotVerified, VerdictWarn,
		"%s audio cannot be decoded without ffmpeg, so it was not verified to play to the end or to contain sound; install ffmpeg for a full check.", what)
}

// levels accumulates peak and mean square of samples in [-1, 1].
type levels struct {
	peak  float64
	sumsq float64
	n     int64 // samples of all channels
}

func (l *levels) addFloat32(s []float32) {
	peak, sum := l.peak, 0.0
	for _, v := range s {
		x := float64(v)
		sum += x * x
		if x < 0 {
			x = -x
		}
		if x > peak {
			peak = x
		}
	}
	l.peak, l.sumsq, l.n = peak, l.sumsq+sum, l.n+int64(len(s))
}

func (l *levels) merge(o levels) {
	l.peak = math.Max(l.peak, o.peak)
	l.sumsq += o.sumsq
	l.n += o.n
}

func (l *levels) rms() float64 {
	if l.n == 0 {
		return 0
	}
	return math.Sqrt(l.sumsq / float64(l.n))
}

// set stores the levels in r when any samples were decoded. Both are capped
// at full scale: float WAV samples can exceed it, even be infinite, and an
// infinite RMS cannot be written in JSON.
func (l *levels) set(r *Report) {
	if l.n > 0 {
		r.setLevels(math.Min(l.peak, 1), math.Min(l.rms(), 1))
	}
}

// silent reports whether the peak is below the silence threshold.
func (c *Checker) silent(l levels) bool {
	return dbfs(l.peak) < c.cfg.SilenceDBFS
}

// window is a stretch of audio to decode, in seconds.
type window struct{ start, length float64 }

// windows spreads the sample windows over total seconds: the start, evenly
// spaced windows, and the last window, which always runs to the end so that a
// cut-off tail is decoded.
func (t tuning) windowsFor(total float64) []window {
	w := t.windowSeconds
	ws := []window{{0, w}}
	for i := 1; i <= t.windows; i++ {
		start := total * float64(i) / float64(t.windows+1)
		ws = append(ws, window{start - w/2, w})
	}
	ws = append(ws, window{math.Max(0, total-w), math.Inf(1)})
	return ws
}

// sampled reports whether a file of seconds of the given codec is long
// enough to be sampled instead of decoded in full.
func (t tuning) sampled(codec string, seconds float64) bool {
	lim, ok := t.fullDecodeSeconds[codec]
	return ok && seconds > lim
}

// decodeFailed words a decoder error after some audio was decoded.
func decodeFailed(r *Report, decoded, declared float64, err error) {
	if decoded > 0 {
		r.add(CodeTruncated, VerdictReject, "Decoding stops with an error after %s%s (%v): the file is cut short or damaged; copy or export it again.",
			fmtDur(secondsToDuration(decoded)), ofDeclared(declared), err)
		return
	}
	r.add(CodeCorrupt, VerdictReject, "The audio cannot be decoded (%v); re-export it from the original recording.", err)
}

// ctxEvery checks ctx every so often inside decode loops.
type ctxEvery struct {
	ctx context.Context
	n   int
}

func (c *ctxEvery) err() error {
	c.n++
	if c.n%64 != 0 {
		return nil
	}
	return c.ctx.Err()
}

func seconds(samples int64, rate int) float64 {
	if rate <= 0 {
		return 0
	}
	return float64(samples) / float64(rate)
}

func dur(samples int64, rate int) time.Duration { return secondsToDuration(seconds(samples, rate)) }

// readBufSize sizes a read buffer for a file (or part) of size bytes: the
// preferred size, or less for a small file, but never below 4 KB, which holds
// any MPEG audio frame and any Ogg page header.
func readBufSize(size int64, preferred int) int {
	return int(max(min(size, int64(preferred)), 4096))
}
