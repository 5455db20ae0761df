package preflight

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/hajimehoshi/go-mp3"
)

// mp3Header is one parsed MPEG audio frame header.
type mp3Header struct {
	version  int // 1, 2 or 25 (MPEG-2.5)
	layer    int // 1, 2 or 3
	rate     int
	channels int
	length   int // frame length in bytes, header included
	samples  int // samples per channel in the frame
}

var (
	mp3Bitrates = [2][3][15]int{ // [v1, v2/2.5][layer-1][index], kbit/s
		{
			{0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},
			{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		},
		{
			{0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
			{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
		},
	}
	mp3Rates = map[int][3]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 25: {11025, 12000, 8000}}
)

// parseMP3Header parses 4 bytes; ok is false for anything that is not a
// usable frame header (free-format bitrate included).
func parseMP3Header(b []byte) (h mp3Header, ok bool) {
	if len(b) < 4 || b[0] != 0xFF || b[1]&0xE0 != 0xE0 {
		return h, false
	}
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = 25
	case 2:
		h.version = 2
	case 3:
		h.version = 1
	default:
		return h, false
	}
	h.layer = 4 - int((b[1]>>1)&3)
	bi, si, pad := int(b[2]>>4), int((b[2]>>2)&3), int((b[2]>>1)&1)
	if h.layer == 4 || bi == 0 || bi == 15 || si == 3 {
		return h, false
	}
	vi := 0
	if h.version != 1 {
		vi = 1
	}
	br := mp3Bitrates[vi][h.layer-1][bi] * 1000
	h.rate = mp3Rates[h.version][si]
	h.channels = 2
	if b[3]>>6 == 3 {
		h.channels = 1
	}
	switch {
	case h.layer == 1:
		h.samples = 384
		h.length = (12*br/h.rate + pad) * 4
	case h.layer == 3 && h.version != 1:
		h.samples = 576
		h.length = 72*br/h.rate + pad
	default:
		h.samples = 1152
		h.length = 144*br/h.rate + pad
	}
	return h, h.length > 4
}

// mp3Scan is the result of walking every frame header of an MP3 file.
type mp3Scan struct {
	first     mp3Header
	frames    int64
	samples   int64 // per channel
	audioOff  int64 // first frame
	audioEnd  int64 // end of the last complete frame
	junk      int64 // bytes between frames that are not frames or tags
	cutFrame  bool  // the last frame runs past the end of the file
	marks     []int64
	markEvery int64 // marks[i] is the offset of frame i*markEvery
}

const maxMarks = 4096

// scanMP3 walks the frame headers without decoding (about 0.05 s for an
// hour), giving the exact duration and any damage to the frame chain. It
// keeps the offset of every markEvery-th frame (at most maxMarks, so memory
// is flat) for windowed decoding.
func scanMP3(ctx context.Context, f io.ReaderAt, size int64) (mp3Scan, error) {
	s := mp3Scan{markEvery: 1}
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, size), readBufSize(size, 256<<10))
	pos := int64(0)
	// ID3v2 tag at the start
	if b, _ := br.Peek(10); len(b) == 10 && string(b[:3]) == "ID3" {
		n := int64(b[6]&0x7f)<<21 | int64(b[7]&0x7f)<<14 | int64(b[8]&0x7f)<<7 | int64(b[9]&0x7f) + 10
		if b[5]&0x10 != 0 {
			n += 10
		}
		if d, _ := br.Discard(int(min(n, size))); int64(d) < n {
			return s, nil
		}
		pos = n
	}
	ce := ctxEvery{ctx: ctx}
	for {
		if err := ce.err(); err != nil {
			return s, err
		}
		b, _ := br.Peek(4)
		if len(b) < 4 {
			s.junk += int64(len(b))
			break
		}
		h, ok := parseMP3Header(b)
		if ok && s.frames == 0 {
			// Guard against a false sync in random data: the next frame
			// must follow (or the file must end).
			nb, _ := br.Peek(h.length + 4)
			if len(nb) == h.length+4 {
				if h2, ok2 := parseMP3Header(nb[h.length:]); !ok2 || h2.rate != h.rate || h2.layer != h.layer {
					ok = false
				}
			}
		}
		if ok && s.frames > 0 && (h.rate != s.first.rate || h.layer != s.first.layer) {
			ok = false
		}
		if !ok {
			if string(b[:3]) == "TAG" && size-pos <= 128+227 || string(b[:4]) == "APET" || string(b[:3]) == "ID3" && s.frames > 0 {
				break // trailing ID3v1, APE or ID3v2 tag
			}
			_, _ = br.Discard(1) // the Peek above buffered 4 bytes
			pos++
			s.junk++
			if s.junk > 1<<20 && s.junk > (pos-s.junk)/10 {
				// a megabyte of garbage: no point resyncing through the rest
				s.junk += size - pos
				break
			}
			continue
		}
		if pos+int64(h.length) > size {
			s.cutFrame = true
			s.junk += size - pos
			break
		}
		if s.frames == 0 {
			s.first, s.audioOff = h, pos
		}
		if s.frames%s.markEvery == 0 {
			if len(s.marks) == maxMarks {
				for i := 0; i < maxMarks/2; i++ {
					s.marks[i] = s.marks[2*i]
				}
				s.marks = s.marks[:maxMarks/2]
				s.markEvery *= 2
			}
			if s.frames%s.markEvery == 0 {
				s.marks = append(s.marks, pos)
			}
		}
		s.frames++
		s.samples += int64(h.samples)
		_, _ = br.Discard(h.length) // the frame fits in the file (checked above); a read error recurs at the next Peek
		pos += int64(h.length)
		s.audioEnd = pos
	}
	return s, nil
}

// frameOffset returns the offset of the marked frame at or before frame i
// and that frame's index.
func (s mp3Scan) frameOffset(i int64) (int64, int64) {
	k := min(max(i/s.markEvery, 0), int64(len(s.marks)-1))
	return s.marks[k], k * s.markEvery
}

func (c *Checker) analyzeMP3(ctx context.Context, r *Report, f io.ReaderAt) error {
	s, err := scanMP3(ctx, f, r.Size)
	if err != nil {
		return err
	}
	if s.frames == 0 {
		r.add(CodeCorrupt, VerdictReject, "No MPEG audio frames were found; the file is damaged or is not an MP3, so re-export it.")
		return nil
	}
	h := s.first
	r.Codec, r.SampleRate, r.Channels = mp3CodecName(h), h.rate, h.channels
	total := seconds(s.samples, h.rate)
	r.Duration = secondsToDuration(total)
	audioBytes := s.audioEnd - s.audioOff
	switch {
	case s.junk > audioBytes/10 && s.junk > 4096:
		r.add(CodeCorrupt, VerdictReject, "%s of the file is not valid MP3 frames; the file is damaged, so re-export it.", humanBytes(s.junk))
		return nil
	case s.cutFrame:
		r.add(CodeTruncated, VerdictWarn, "The last MP3 frame is cut off, so the file was probably truncated while copying or downloading; the %s that remain can be transcribed, but check the end.",
			fmtDur(r.Duration))
	}
	if h.layer != 3 || h.version == 25 {
		notVerified(r, "MPEG-"+map[int]string{1: "1", 2: "2", 25: "2.5"}[h.version]+" layer "+strconv.Itoa(h.layer))
		return nil
	}
	lv, err := c.decodeMP3(ctx, f, s, c.tune.sampled("mp3", total))
	if err == nil && c.tune.sampled("mp3", total) && c.silent(lv) {
		lv, err = c.decodeMP3(ctx, f, s, false) // confirm silence with a full pass
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.add(CodeNotVerified, VerdictWarn, "The frames are intact but the pure-Go decoder failed (%v); install ffmpeg for a full check.", err)
	}
	lv.set(r)
	return nil
}

// decodeMP3 decodes the whole stream or the sample windows with go-mp3.
func (c *Checker) decodeMP3(ctx context.Context, f io.ReaderAt, s mp3Scan, sampled bool) (levels, error) {
	spf := int64(s.first.samples)
	var bufs mp3Buffers // shared by the windows
	if !sampled {
		return decodeMP3Range(ctx, &bufs, f, s.audioOff, s.audioEnd, 0, -1, s.first.channels)
	}
	var lv levels
	for _, w := range c.tune.windowsFor(seconds(s.samples, s.first.rate)) {
		startFrame := int64(w.start*float64(s.first.rate)) / spf
		// start a few frames early: the bit reservoir of the first frames
		// decoded refers to frames before them
		off, at := s.frameOffset(max(startFrame-4, 0))
		skip := (startFrame - at) * spf
		frames := int64(-1)
		if w.length < 1e9 {
			frames = int64(w.length*float64(s.first.rate))/spf + 1
		}
		wl, err := decodeMP3Range(ctx, &bufs, f, off, s.audioEnd, skip, frames*spf, s.first.channels)
		if err != nil {
			return lv, err
		}
		lv.merge(wl)
	}
	return lv, nil
}

// mp3Buffers are the buffers of decodeMP3Range, kept from one window to the
// next. (go-mp3 itself allocates about 60 KB per frame decoded, which no
// caller can avoid: most of the garbage of an MP3 check.)
type mp3Buffers struct {
	br  *bufio.Reader
	pcm []byte
	fl  []float32
}

// decodeMP3Range decodes frames from byte off, ignoring the first skip
// samples per channel and stopping after n more (n < 0: to end).
func decodeMP3Range(ctx context.Context, bufs *mp3Buffers, f io.ReaderAt, off, end, skip, n int64, channels int) (levels, error) {
	var lv levels
	sr := io.NewSectionReader(f, off, end-off)
	if bufs.br == nil {
		bufs.br = bufio.NewReaderSize(sr, readBufSize(end-off, 64<<10))
		bufs.pcm = make([]byte, 4*1152*8) // go-mp3 always writes s16le stereo
		bufs.fl = make([]float32, len(bufs.pcm)/2)
	} else {
		bufs.br.Reset(sr)
	}
	// hide Seek: go-mp3 scans the whole file for its length when it can seek
	d, err := mp3.NewDecoder(struct{ io.Reader }{bufs.br})
	if err != nil {
		return lv, err
	}
	buf, fl := bufs.pcm, bufs.fl
	pos := int64(0) // samples per channel
	ce := ctxEvery{ctx: ctx}
	for n < 0 || pos < skip+n {
		if err := ce.err(); err != nil {
			return lv, err
		}
		m, err := io.ReadFull(d, buf)
		m -= m % 4
		frames := int64(m / 4)
		lo, hi := max(skip-pos, 0), frames
		if n >= 0 {
			hi = min(hi, skip+n-pos)
		}
		if lo < hi {
			k := 0
			for i := lo; i < hi; i++ {
				l := int16(uint16(buf[4*i]) | uint16(buf[4*i+1])<<8)
				fl[k] = float32(l) / 32768
				k++
				if channels == 2 {
					rr := int16(uint16(buf[4*i+2]) | uint16(buf[4*i+3])<<8)
					fl[k] = float32(rr) / 32768
					k++
				}
			}
			lv.addFloat32(fl[:k])
		}
		pos += frames
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return lv, nil
		}
		if err != nil {
			return lv, err
		}
	}
	return lv, nil
}

func mp3CodecName(h mp3Header) string {
	switch h.layer {
	case 1:
		return "mp1"
	case 2:
		return "mp2"
	}
	return "mp3"
}
