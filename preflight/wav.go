package preflight

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strconv"
	"sync"
)

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavALaw       = 6
	wavMuLaw      = 7
	wavExtensible = 0xFFFE
)

type wavInfo struct {
	format     int
	channels   int
	rate       int
	blockAlign int
	bits       int
	dataOff    int64
	dataSize   int64 // as declared
	haveFmt    bool
	haveData   bool
}

// parseWAV walks the RIFF chunks with ReadAt, never reading sample data.
// go-audio/wav is not used: it trusts the header's data size (so header-only
// and truncated files pass) and misreads float and µ-law data (reference §1.3).
func parseWAV(f io.ReaderAt, size int64) (wavInfo, error) {
	var w wavInfo
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return w, errors.New("no RIFF header")
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		if string(hdr[0:4]) == "RF64" {
			return w, errRF64
		}
		return w, errors.New("not a RIFF/WAVE file")
	}
	off := int64(12)
	for i := 0; i < 1000 && off+8 <= size && (!w.haveFmt || !w.haveData); i++ {
		var ch [8]byte
		if _, err := f.ReadAt(ch[:], off); err != nil {
			return w, errors.New("chunk header cut off")
		}
		id, n := string(ch[0:4]), int64(binary.LittleEndian.Uint32(ch[4:8]))
		switch id {
		case "fmt ":
			var b [40]byte
			m, _ := f.ReadAt(b[:min(n, 40)], off+8)
			if m < 16 {
				return w, errors.New("fmt chunk cut off")
			}
			w.format = int(binary.LittleEndian.Uint16(b[0:2]))
			w.channels = int(binary.LittleEndian.Uint16(b[2:4]))
			w.rate = int(binary.LittleEndian.Uint32(b[4:8]))
			w.blockAlign = int(binary.LittleEndian.Uint16(b[12:14]))
			w.bits = int(binary.LittleEndian.Uint16(b[14:16]))
			if w.format == wavExtensible && m >= 26 {
				w.format = int(binary.LittleEndian.Uint16(b[24:26])) // first bytes of SubFormat GUID
			}
			w.haveFmt = true
		case "data":
			w.dataOff, w.dataSize, w.haveData = off+8, n, true
			if n == 0xFFFFFFFF || n == 0 {
				// streamed writers leave the size unset; the data runs to the end
				w.dataSize = size - w.dataOff
			}
		}
		off += 8 + n + n&1
	}
	switch {
	case !w.haveFmt:
		return w, errors.New("no fmt chunk")
	case !w.haveData:
		return w, errNoData
	case w.channels <= 0 || w.rate <= 0 || w.blockAlign <= 0:
		return w, errors.New("fmt chunk has zero channels, sample rate or block size")
	}
	return w, nil
}

// wavBufs holds the 1 MB read buffers of analyzeWAV, so that checking many
// small files does not allocate a megabyte each.
var wavBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

var (
	errRF64   = errors.New("RF64 WAV")
	errNoData = errors.New("no data chunk")
)

func (c *Checker) analyzeWAV(ctx context.Context, r *Report, f io.ReaderAt) error {
	w, err := parseWAV(f, r.Size)
	switch {
	case errors.Is(err, errRF64):
		r.Codec = "pcm"
		notVerified(r, "RF64 WAV")
		return nil
	case errors.Is(err, errNoData):
		r.add(CodeTruncated, VerdictReject, "The WAV file has a header but no audio data; the recording was cut off, so copy or export it again.")
		return nil
	case err != nil:
		r.add(CodeCorrupt, VerdictReject, "The WAV header is damaged (%v); re-export the file.", err)
		return nil
	}
	r.SampleRate, r.Channels = w.rate, w.channels
	r.Codec = wavCodecName(w)
	declared := seconds(w.dataSize/int64(w.blockAlign), w.rate)
	avail := min(w.dataSize, r.Size-w.dataOff)
	avail -= avail % int64(w.blockAlign)
	r.Duration = dur(avail/int64(w.blockAlign), w.rate)
	switch {
	case avail <= 0:
		r.add(CodeTruncated, VerdictReject, "The WAV file has a header but no audio data (%s declared); the recording was cut off, so copy or export it again.",
			fmtDur(secondsToDuration(declared)))
		return nil
	case avail < w.dataSize-int64(w.blockAlign):
		r.add(CodeTruncated, VerdictReject, "The WAV file holds only %s%s: it is cut short; copy or export it again.",
			fmtDur(r.Duration), ofDeclared(declared))
	}
	decode := wavDecoder(w)
	if decode == nil {
		notVerified(r, "WAV "+r.Codec)
		return nil
	}
	var lv levels
	pb := wavBufs.Get().(*[]byte)
	defer wavBufs.Put(pb)
	buf := (*pb)[:len(*pb)-len(*pb)%w.blockAlign]
	ce := ctxEvery{ctx: ctx}
	for off, end := w.dataOff, w.dataOff+avail; off < end; {
		if err := ce.err(); err != nil {
			return err
		}
		n := int(min(int64(len(buf)), end-off))
		m, err := f.ReadAt(buf[:n], off)
		if m < n {
			r.add(CodeUnreadable, VerdictReject, "Reading the file failed at byte %d (%v); copy it again from its source.", off+int64(m), err)
			return nil
		}
		decode(&lv, buf[:n])
		off += int64(n)
	}
	lv.set(r)
	return nil
}

func wavCodecName(w wavInfo) string {
	switch w.format {
	case wavPCM:
		if w.bits == 8 {
			return "pcm_u8"
		}
		return "pcm_s" + strconv.Itoa(w.bits) + "le"
	case wavFloat:
		return "pcm_f" + strconv.Itoa(w.bits) + "le"
	case wavALaw:
		return "pcm_alaw"
	case wavMuLaw:
		return "pcm_mulaw"
	}
	return "wav_format_" + strconv.Itoa(w.format)
}

// wavDecoder returns the level accumulator for the sample format, or nil.
func wavDecoder(w wavInfo) func(*levels, []byte) {
	bytesPer := w.blockAlign / w.channels
	switch {
	case w.format == wavPCM && w.bits == 16 && bytesPer == 2:
		return levelsS16
	case w.format == wavPCM && w.bits == 8 && bytesPer == 1:
		return func(l *levels, b []byte) {
			for _, v := range b {
				l.addInt(float64(int(v)-128) / 128)
			}
		}
	case w.format == wavPCM && bytesPer == 3:
		return func(l *levels, b []byte) {
			for i := 0; i+2 < len(b); i += 3 {
				v := int32(uint32(b[i])<<8|uint32(b[i+1])<<16|uint32(b[i+2])<<24) >> 8
				l.addInt(float64(v) / (1 << 23))
			}
		}
	case w.format == wavPCM && bytesPer == 4:
		return func(l *levels, b []byte) {
			for i := 0; i+3 < len(b); i += 4 {
				l.addInt(float64(int32(binary.LittleEndian.Uint32(b[i:]))) / (1 << 31))
			}
		}
	case w.format == wavFloat && bytesPer == 4:
		return func(l *levels, b []byte) {
			for i := 0; i+3 < len(b); i += 4 {
				l.addInt(float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
			}
		}
	case w.format == wavFloat && bytesPer == 8:
		return func(l *levels, b []byte) {
			for i := 0; i+7 < len(b); i += 8 {
				l.addInt(math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
			}
		}
	}
	return nil
}

// addInt adds one sample in [-1, 1] (slow path for the less common formats).
func (l *levels) addInt(x float64) {
	l.sumsq += x * x
	l.n++
	if x < 0 {
		x = -x
	}
	if x > l.peak {
		l.peak = x
	}
}

// levelsS16 is the hot loop for 16-bit PCM, the common case: integer maths
// per sample, one float conversion per buffer.
func levelsS16(l *levels, b []byte) {
	var sum uint64
	var peak int32
	n := len(b) / 2
	for i := 0; i < n; i++ {
		v := int32(int16(binary.LittleEndian.Uint16(b[2*i:])))
		sum += uint64(v * v)
		if v < 0 {
			v = -v
		}
		peak = max(peak, v)
	}
	l.sumsq += float64(sum) / (1 << 30)
	l.n += int64(n)
	l.peak = math.Max(l.peak, float64(peak)/(1<<15))
}
