package preflight

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/jfreymuth/oggvorbis"
	"github.com/pion/opus"
)

func (c *Checker) analyzeVorbis(ctx context.Context, r *Report, f io.ReaderAt) error {
	// a ReadSeeker lets oggvorbis read the length from the last page
	rd, err := oggvorbis.NewReader(io.NewSectionReader(f, 0, r.Size))
	if err != nil {
		r.add(CodeCorrupt, VerdictReject, "The Ogg Vorbis headers are damaged (%v); re-export the file.", err)
		return nil
	}
	r.Codec, r.SampleRate, r.Channels = "vorbis", rd.SampleRate(), rd.Channels()
	length := rd.Length()
	declared := seconds(length, r.SampleRate)
	r.Duration = secondsToDuration(declared)
	var lv levels
	var end int64
	full := func() error {
		rd, err := oggvorbis.NewReader(io.NewSectionReader(f, 0, r.Size))
		if err != nil {
			return err
		}
		lv, end, err = readVorbis(ctx, rd, -1)
		return err
	}
	if length > 0 && c.tune.sampled("vorbis", declared) {
		err = c.vorbisWindows(ctx, rd, declared, &lv, &end)
		if err == nil && c.silent(lv) || err != nil && ctx.Err() == nil {
			lv, end = levels{}, 0
			err = full() // confirm silence, or retry a failed seek, with a full pass
		}
	} else {
		err = full()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	lv.set(r)
	if err != nil {
		decodeFailed(r, seconds(end, r.SampleRate), declared, err)
		return nil
	}
	if length <= 0 {
		r.Duration = dur(end, r.SampleRate)
	}
	return nil
}

func (c *Checker) vorbisWindows(ctx context.Context, rd *oggvorbis.Reader, total float64, lv *levels, end *int64) error {
	rate := float64(rd.SampleRate())
	for _, w := range c.tune.windowsFor(total) {
		if err := rd.SetPosition(int64(max(w.start, 0) * rate)); err != nil {
			return err
		}
		limit := int64(-1)
		if !math.IsInf(w.length, 1) {
			limit = int64(w.length * rate)
		}
		wl, e, err := readVorbis(ctx, rd, limit)
		lv.merge(wl)
		*end = max(*end, e)
		if err != nil {
			return err
		}
	}
	return nil
}

// readVorbis reads up to limit samples per channel (limit < 0: to the end).
func readVorbis(ctx context.Context, rd *oggvorbis.Reader, limit int64) (lv levels, end int64, err error) {
	ch := int64(rd.Channels())
	buf := make([]float32, 8192*ch)
	ce := ctxEvery{ctx: ctx}
	var done int64
	for limit < 0 || done < limit {
		if err := ce.err(); err != nil {
			return lv, end, err
		}
		n, err := rd.Read(buf)
		n -= n % int(ch)
		if limit >= 0 {
			n = int(min(int64(n), (limit-done)*ch))
		}
		lv.addFloat32(buf[:n])
		done += int64(n) / ch
		end = rd.Position()
		if errors.Is(err, io.EOF) {
			return lv, end, nil
		}
		if err != nil {
			return lv, end, err
		}
	}
	return lv, end, nil
}

// oggPager reads the packets of one logical Ogg stream.
type oggPager struct {
	r        *bufio.Reader
	serial   uint32
	started  bool
	segs     []byte // lacing values left on the current page
	granule  uint64 // of the current page
	lastGran uint64 // of the last page that ended a packet
	body     []byte
	pending  []byte
}

var errOggCut = errors.New("the last Ogg page is cut off")

// next returns the next packet, io.EOF at a clean end, or errOggCut.
func (p *oggPager) next() ([]byte, error) {
	var pkt []byte
	for {
		for len(p.segs) > 0 {
			n := int(p.segs[0])
			p.segs = p.segs[1:]
			pkt = append(pkt, p.body[:n]...)
			p.body = p.body[n:]
			if n < 255 {
				if len(p.segs) == 0 {
					p.lastGran = p.granule
				}
				return pkt, nil
			}
		}
		if err := p.page(); err != nil {
			if errors.Is(err, io.EOF) && len(pkt) > 0 {
				return nil, errOggCut
			}
			return nil, err
		}
	}
}

// page reads the next page of the stream, skipping pages of other streams.
func (p *oggPager) page() error {
	for {
		var h [27]byte
		n, err := io.ReadFull(p.r, h[:])
		if n == 0 && errors.Is(err, io.EOF) {
			return io.EOF
		}
		if err != nil {
			return errOggCut
		}
		if string(h[:4]) != "OggS" {
			return fmt.Errorf("lost Ogg page sync")
		}
		nseg := int(h[26])
		segs := make([]byte, nseg)
		if _, err := io.ReadFull(p.r, segs); err != nil {
			return errOggCut
		}
		size := 0
		for _, s := range segs {
			size += int(s)
		}
		if cap(p.pending) < size {
			p.pending = make([]byte, size)
		}
		body := p.pending[:size]
		if _, err := io.ReadFull(p.r, body); err != nil {
			return errOggCut
		}
		serial := binary.LittleEndian.Uint32(h[14:18])
		if !p.started {
			p.serial, p.started = serial, true
		}
		if serial != p.serial {
			continue
		}
		p.segs, p.body = segs, body
		p.granule = binary.LittleEndian.Uint64(h[6:14])
		return nil
	}
}

func (c *Checker) analyzeOpus(ctx context.Context, r *Report, f io.ReaderAt) error {
	p := &oggPager{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, r.Size), readBufSize(r.Size, 64<<10))}
	head, err := p.next()
	if err != nil || len(head) < 19 || string(head[:8]) != "OpusHead" {
		r.add(CodeCorrupt, VerdictReject, "The Ogg Opus header is damaged; re-export the file.")
		return nil
	}
	channels, preSkip, mapping := int(head[9]), int64(binary.LittleEndian.Uint16(head[10:12])), head[18]
	r.Codec, r.SampleRate, r.Channels = "opus", 48000, channels
	if _, err := p.next(); err != nil { // OpusTags
		r.add(CodeTruncated, VerdictReject, "The Ogg Opus file ends after its header: there is no audio; copy or export it again.")
		return nil
	}
	if mapping != 0 || channels < 1 || channels > 2 {
		notVerified(r, "Multichannel Opus")
		return nil
	}
	dec, err := opus.NewDecoderWithOutput(48000, channels)
	if err != nil {
		return fmt.Errorf("create opus decoder: %w", err)
	}
	out := make([]float32, 5760*channels) // 120 ms, the longest packet
	var (
		lv      levels
		decoded int64
	)
	ce := ctxEvery{ctx: ctx}
	for {
		if err := ce.err(); err != nil {
			return err
		}
		pkt, err := p.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			lv.set(r)
			r.Duration = dur(decoded, 48000)
			decodeFailed(r, seconds(decoded, 48000), 0, err)
			return nil
		}
		n, err := dec.DecodeToFloat32(pkt, out)
		if err != nil {
			lv.set(r)
			r.Duration = dur(decoded, 48000)
			decodeFailed(r, seconds(decoded, 48000), 0, fmt.Errorf("opus packet: %w", err))
			return nil
		}
		lv.addFloat32(out[:n*channels])
		decoded += int64(n)
	}
	lv.set(r)
	total := decoded
	if g := int64(p.lastGran); g > preSkip {
		total = g // the granule of the last page is exact (it trims the last packet)
	}
	r.Duration = dur(max(total-preSkip, 0), 48000)
	if decoded == 0 {
		r.add(CodeTruncated, VerdictReject, "The Ogg Opus file has headers but no audio packets; copy or export it again.")
	}
	return nil
}
