package preflight

import (
	"context"
	"errors"
	"io"
	"math"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
)

func (c *Checker) analyzeFLAC(ctx context.Context, r *Report, f io.ReaderAt) error {
	stream, err := flac.New(io.NewSectionReader(f, 0, r.Size))
	if err != nil {
		r.add(CodeCorrupt, VerdictReject, "The FLAC header is damaged (%v); re-export the file.", err)
		return nil
	}
	info := stream.Info
	r.Codec, r.SampleRate, r.Channels = "flac", int(info.SampleRate), int(info.NChannels)
	declared := seconds(int64(info.NSamples), r.SampleRate)
	r.Duration = secondsToDuration(declared)
	if r.SampleRate <= 0 || r.Channels <= 0 {
		r.add(CodeCorrupt, VerdictReject, "The FLAC header declares no sample rate or channels; re-export the file.")
		return nil
	}
	sampled := info.NSamples > 0 && c.tune.sampled("flac", declared)
	var (
		lv  levels
		end int64 // sample number after the last one decoded
	)
	if sampled {
		lv, end, err = c.flacWindows(ctx, f, r.Size, declared)
		if err == nil && c.silent(lv) {
			sampled = false // confirm silence with a full pass
		}
		if err != nil && ctx.Err() == nil {
			sampled = false // no usable seek: decode it all
		}
	}
	if !sampled {
		stream, err = flac.New(io.NewSectionReader(f, 0, r.Size))
		if err == nil {
			lv, end, err = decodeFLAC(ctx, stream, 0, -1)
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	lv.set(r)
	got := seconds(end, r.SampleRate)
	if err != nil {
		decodeFailed(r, got, declared, err)
		if got > 0 {
			r.Duration = secondsToDuration(got)
		}
		return nil
	}
	if info.NSamples == 0 {
		r.Duration = secondsToDuration(got) // streamed FLAC: no length in STREAMINFO
	}
	if info.NSamples > 0 && uint64(end) < info.NSamples {
		r.Duration = secondsToDuration(got)
		r.add(CodeTruncated, VerdictReject, "The FLAC file holds only %s%s: it is cut short; copy or export it again.",
			fmtDur(r.Duration), ofDeclared(declared))
	}
	return nil
}

// decodeFLAC decodes frames until EOF or until limit samples per channel
// (limit < 0: no limit). end is the sample number after the last decoded.
// start is the sample number of the next frame (frame.SampleNumber is wrong
// for the short last frame of a fixed-blocksize stream).
func decodeFLAC(ctx context.Context, stream *flac.Stream, start, limit int64) (lv levels, end int64, err error) {
	ce := ctxEvery{ctx: ctx}
	var done int64
	end = start
	for limit < 0 || done < limit {
		if err := ce.err(); err != nil {
			return lv, end, err
		}
		fr, err := stream.ParseNext()
		if errors.Is(err, io.EOF) {
			return lv, end, nil
		}
		if err != nil {
			return lv, end, err
		}
		flacLevels(&lv, fr)
		done += int64(fr.BlockSize)
		end = start + done
	}
	return lv, end, nil
}

func flacLevels(lv *levels, fr *frame.Frame) {
	scale := math.Ldexp(1, -int(fr.BitsPerSample-1))
	var peak int64
	var sum float64
	n := 0
	for _, sf := range fr.Subframes {
		var s int64 // at most 2^46 per sample for <= 24 bits, 65535 samples
		for _, v := range sf.Samples {
			x := int64(v)
			if fr.BitsPerSample > 24 {
				sum += float64(x) * float64(x)
			} else {
				s += x * x
			}
			peak = max(peak, x, -x)
		}
		sum += float64(s)
		n += len(sf.Samples)
	}
	lv.sumsq += sum * scale * scale
	lv.n += int64(n)
	lv.peak = math.Max(lv.peak, float64(peak)*scale)
}

// flacWindows decodes the sample windows using the seek table (or a scan of
// frame headers when there is none).
func (c *Checker) flacWindows(ctx context.Context, f io.ReaderAt, size int64, total float64) (levels, int64, error) {
	stream, err := flac.NewSeek(io.NewSectionReader(f, 0, size))
	if err != nil {
		return levels{}, 0, err
	}
	rate := float64(stream.Info.SampleRate)
	var (
		lv  levels
		end int64
	)
	for _, w := range c.tune.windowsFor(total) {
		start := uint64(max(w.start, 0) * rate)
		if start >= stream.Info.NSamples {
			start = stream.Info.NSamples - 1
		}
		at, err := stream.Seek(start)
		if err != nil {
			return lv, end, err
		}
		limit := int64(-1)
		if !math.IsInf(w.length, 1) {
			limit = int64(w.length * rate)
		}
		wl, e, err := decodeFLAC(ctx, stream, int64(at), limit)
		lv.merge(wl)
		end = max(end, e)
		if err != nil {
			return lv, end, err
		}
	}
	return lv, end, nil
}
