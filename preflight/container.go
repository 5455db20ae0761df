package preflight

import (
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/abema/go-mp4"
	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// mp4Track is what the box walk learns about one trak.
type mp4Track struct {
	handler   string // "soun", "vide", ...
	codec     string // sample entry type: "mp4a", "avc1", "Opus", ...
	timescale uint32
	duration  uint64
	channels  int
	rate      int
}

// analyzeMP4 reads the box structure of MP4/M4A/MOV (moov, traks, sample
// entries) without reading sample tables, so memory does not grow with the
// file. AAC is not decodable in pure Go, so the audio itself is not verified.
func (c *Checker) analyzeMP4(ctx context.Context, r *Report, f io.ReaderAt) error {
	var (
		tracks  []mp4Track
		hasMoov bool
		cut     bool
	)
	sr := io.NewSectionReader(f, 0, r.Size)
	_, err := mp4.ReadBoxStructure(sr, func(h *mp4.ReadHandle) (interface{}, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		bi := h.BoxInfo
		if bi.Offset+bi.Size > uint64(r.Size) {
			cut = true
			return nil, nil
		}
		switch bi.Type {
		case mp4.BoxTypeMoov():
			hasMoov = true
			return h.Expand()
		case mp4.BoxTypeTrak():
			tracks = append(tracks, mp4Track{})
			return h.Expand()
		case mp4.BoxTypeMdia(), mp4.BoxTypeMinf(), mp4.BoxTypeStbl(), mp4.BoxTypeStsd():
			return h.Expand()
		}
		if len(tracks) == 0 || len(h.Path) < 3 {
			return nil, nil
		}
		t := &tracks[len(tracks)-1]
		switch bi.Type {
		case mp4.BoxTypeMdhd():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			if m, ok := box.(*mp4.Mdhd); ok {
				t.timescale = m.Timescale
				t.duration = uint64(m.DurationV0)
				if m.GetVersion() == 1 {
					t.duration = m.DurationV1
				}
			}
		case mp4.BoxTypeHdlr():
			box, _, err := h.ReadPayload()
			if err != nil {
				return nil, err
			}
			if hd, ok := box.(*mp4.Hdlr); ok {
				t.handler = string(hd.HandlerType[:])
			}
		default:
			if len(h.Path) >= 2 && h.Path[len(h.Path)-2] == mp4.BoxTypeStsd() && t.codec == "" {
				t.codec = strings.TrimSpace(bi.Type.String())
				if box, _, err := h.ReadPayload(); err == nil {
					if a, ok := box.(*mp4.AudioSampleEntry); ok {
						t.channels, t.rate = int(a.ChannelCount), int(a.SampleRate>>16)
					}
				}
			}
		}
		return nil, nil
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if !hasMoov {
		if cut {
			r.add(CodeTruncated, VerdictReject, "The file is cut short: its index (the moov box) is missing, so no player can read it; copy or export it again.")
		} else {
			r.add(CodeCorrupt, VerdictReject, "The file has no index (moov box)%s; re-export it from the original recording.", errSuffix(err))
		}
		return nil
	}
	var audio *mp4Track
	for i := range tracks {
		if tracks[i].handler == "soun" {
			audio = &tracks[i]
			break
		}
	}
	if audio == nil {
		r.add(CodeNoAudioStream, VerdictReject, "The file has no audio track (a video without sound); export it again with its audio.")
		return nil
	}
	r.Codec = mp4CodecName(audio.codec)
	r.Channels, r.SampleRate = audio.channels, audio.rate
	if r.SampleRate == 0 {
		r.SampleRate = int(audio.timescale)
	}
	if audio.timescale > 0 {
		r.Duration = secondsToDuration(float64(audio.duration) / float64(audio.timescale))
	}
	if cut {
		r.add(CodeTruncated, VerdictReject, "The file is cut short: its media data ends before the size its header declares; copy or export it again.")
		return nil
	}
	if err != nil {
		r.add(CodeCorrupt, VerdictReject, "The MP4 structure is damaged (%v); re-export the file.", err)
		return nil
	}
	notVerified(r, strings.ToUpper(r.Codec))
	return nil
}

func mp4CodecName(entry string) string {
	switch entry {
	case "mp4a":
		return "aac"
	case "Opus":
		return "opus"
	case "fLaC":
		return "flac"
	case "alac":
		return "alac"
	case "ac-3":
		return "ac3"
	case "":
		return "unknown"
	}
	return entry
}

func errSuffix(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// analyzeMatroska reads the EBML header, Info and Tracks of WebM/MKV and
// stops before the first cluster.
func (c *Checker) analyzeMatroska(_ context.Context, r *Report, f io.ReaderAt) error {
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment struct {
			Info   webm.Info   `ebml:"Info"`
			Tracks webm.Tracks `ebml:"Tracks,stop"`
		} `ebml:"Segment"`
	}
	err := ebml.Unmarshal(io.NewSectionReader(f, 0, r.Size), &doc,
		ebml.WithIgnoreUnknown(true), ebml.WithMaxLeafElementSize(16<<20))
	if err != nil && !errors.Is(err, ebml.ErrReadStopped) {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			r.add(CodeTruncated, VerdictReject, "The file ends inside its header; it was cut short, so copy or export it again.")
		} else {
			r.add(CodeCorrupt, VerdictReject, "The Matroska/WebM structure is damaged (%v); re-export the file.", err)
		}
		return nil
	}
	var audio *webm.TrackEntry
	for i, t := range doc.Segment.Tracks.TrackEntry {
		if t.TrackType == 2 {
			audio = &doc.Segment.Tracks.TrackEntry[i]
			break
		}
	}
	if audio == nil {
		r.add(CodeNoAudioStream, VerdictReject, "The file has no audio track (a video without sound); export it again with its audio.")
		return nil
	}
	r.Codec = strings.ToLower(strings.TrimPrefix(audio.CodecID, "A_"))
	if audio.Audio != nil {
		r.SampleRate, r.Channels = headerCount(audio.Audio.SamplingFrequency), headerCount(float64(audio.Audio.Channels))
	}
	scale := doc.Segment.Info.TimecodeScale
	if scale == 0 {
		scale = 1_000_000
	}
	r.Duration = secondsToDuration(doc.Segment.Info.Duration * float64(scale) / float64(time.Second))
	notVerified(r, strings.ToUpper(r.Codec)+" in "+sniffedName(r.Container))
	return nil
}

// headerCount converts a rate or channel count from a Matroska header (a
// float, or a uint64 that int may not hold) to an int: 0 when it is not a
// positive number that fits, as a damaged header's may not.
func headerCount(v float64) int {
	if v >= 1 && v <= math.MaxInt32 {
		return int(v)
	}
	return 0
}
