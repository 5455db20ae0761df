package preflight

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gabriel-vasile/mimetype"
)

// sniffLen is how much of a file is read to sniff its type (mimetype's default).
const sniffLen = 3072

// Format families. A family groups the extensions and MIME types of one
// container so that .m4a, .mp4 and .mov compare equal.
const (
	famWAV   = "wav"
	famMP3   = "mp3"
	famFLAC  = "flac"
	famOgg   = "ogg"
	famMP4   = "mp4"
	famWebM  = "webm"
	famMKV   = "mkv"
	famAAC   = "aac"
	famAMR   = "amr"
	famASF   = "asf"
	famAIFF  = "aiff"
	famAU    = "au"
	famAPE   = "ape"
	famVOC   = "voc"
	famQCP   = "qcp"
	famFLV   = "flv"
	famAVI   = "avi"
	famOther = "other" // listed by AssemblyAI but not sniffable here (AC3, DSS, TTA, WavPack, MPEG-TS, MXF, 8SVX)
)

// extFamily maps the extensions AssemblyAI lists (plus .mkv and .avi, which it
// does not) to a family.
var extFamily = map[string]string{
	"wav": famWAV, "mp3": famMP3, "mpga": famMP3, "mp2": famMP3,
	"flac": famFLAC, "ogg": famOgg, "oga": famOgg, "mogg": famOgg, "opus": famOgg,
	"m4a": famMP4, "m4b": famMP4, "m4p": famMP4, "m4r": famMP4, "mp4": famMP4, "m4v": famMP4,
	"mov": famMP4, "3ga": famMP4, "alac": famMP4,
	"webm": famWebM, "mkv": famMKV, "aac": famAAC, "amr": famAMR, "wma": famASF,
	"aif": famAIFF, "aiff": famAIFF, "au": famAU, "ape": famAPE, "voc": famVOC, "qcp": famQCP,
	"flv": famFLV, "avi": famAVI,
	"ac3": famOther, "dss": famOther, "tta": famOther, "wv": famOther, "8svx": famOther,
	"mts": famOther, "m2ts": famOther, "ts": famOther, "mxf": famOther,
}

// unlisted families are media AssemblyAI does not list; they usually work.
var unlisted = map[string]bool{famMKV: true, famAVI: true}

// mimeFamily maps sniffed MIME types (mimetype v1.4 names) to a family.
var mimeFamily = map[string]string{
	"audio/wav": famWAV, "audio/mpeg": famMP3, "audio/flac": famFLAC,
	"audio/ogg": famOgg, "video/ogg": famOgg, "application/ogg": famOgg,
	"audio/x-m4a": famMP4, "audio/mp4": famMP4, "video/mp4": famMP4, "video/quicktime": famMP4,
	"video/x-m4v": famMP4, "video/3gpp": famMP4, "video/3gpp2": famMP4, "audio/x-m4b": famMP4,
	"video/webm": famWebM, "audio/webm": famWebM, "video/x-matroska": famMKV, "video/matroska": famMKV,
	"audio/aac": famAAC, "audio/amr": famAMR, "video/x-ms-asf": famASF, "audio/aiff": famAIFF,
	"audio/basic": famAU, "audio/ape": famAPE, "audio/x-unknown": famVOC, "audio/qcelp": famQCP,
	"video/x-flv": famFLV, "video/x-msvideo": famAVI,
}

// FormatName returns the family of a file name's extension ("" when the
// extension is not an audio or video format AssemblyAI lists, or .mkv/.avi).
// Directory walks use it to pick media files.
func FormatName(name string) string {
	return extFamily[strings.TrimPrefix(strings.ToLower(filepath.Ext(name)), ".")]
}

// sniff returns the MIME type and family of head (the first bytes of a file).
func sniff(head []byte) (mime, family string) {
	var d *mimetype.MIME
	if contain(func() { d = mimetype.Detect(head) }) != nil {
		// no name for the content: the extension and the decoder decide
		return "application/octet-stream", ""
	}
	for m := d; m != nil; m = m.Parent() {
		if f, ok := mimeFamily[m.String()]; ok {
			return d.String(), f
		}
	}
	return d.String(), ""
}

// checkFiles runs the local-file pipeline on each path: stat, size, sniff,
// the engine, the rules. Files for ffmpeg are analysed last, in batches that
// share one ffmpeg process.
func (c *Checker) checkFiles(ctx context.Context, paths []string) ([]Report, error) {
	engine := c.Engine()
	rs := make([]Report, len(paths))
	var ff []*Report
	for i, path := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := &rs[i]
		*r = Report{Source: path, Size: -1, Engine: engine}
		if engine == EngineAuto {
			r.Engine = EngineGo // until ffmpeg is needed
		}
		f, family, head, ok := c.open(r)
		if !ok {
			continue
		}
		if engine == EngineFFmpeg || engine == EngineAuto && !goDecodes(family) {
			_ = f.Close() // opened read-only
			r.Engine = EngineFFmpeg
			ff = append(ff, r)
			continue
		}
		classified := len(r.Reasons)
		err := c.nativeAnalyze(ctx, r, f, family, head)
		_ = f.Close() // opened read-only
		if err != nil {
			return nil, err
		}
		c.applyRules(r)
		if engine == EngineAuto && len(r.Reasons) > classified {
			// A problem found in Go: ffmpeg, which decodes more, decides.
			*r = Report{Source: r.Source, Size: r.Size, MIME: r.MIME, Container: r.Container,
				Engine: EngineFFmpeg, Reasons: slices.Clone(r.Reasons[:classified])}
			ff = append(ff, r)
		}
	}
	for len(ff) > 0 {
		n, size := 0, int64(0)
		for n < len(ff) && n < maxBatchFiles && (n == 0 || size+ff[n].Size <= maxBatchBytes) {
			size += ff[n].Size
			n++
		}
		if err := c.ffmpegBatch(ctx, ff[:n]); err != nil {
			return nil, err
		}
		for _, r := range ff[:n] {
			c.applyRules(r)
		}
		ff = ff[n:]
	}
	return rs, nil
}

// goDecodes reports whether the Go engine decodes a family in full, so that
// EngineAuto needs ffmpeg for it only when Go finds a problem.
func goDecodes(family string) bool {
	switch family {
	case famWAV, famMP3, famFLAC, famOgg:
		return true
	}
	return false
}

// open runs the checks every engine shares: the path is a readable regular
// file of an acceptable size, and its content is a supported format. It
// returns the open file, its family and its first bytes, or ok false when r
// is rejected already.
func (c *Checker) open(r *Report) (f *os.File, family string, head []byte, ok bool) {
	fi, err := os.Stat(r.Source)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.add(CodeNotFound, VerdictReject, "The file does not exist; check the path.")
		return nil, "", nil, false
	case err != nil:
		r.add(CodeUnreadable, VerdictReject, "The file cannot be read (%s); check its permissions.", errText(err))
		return nil, "", nil, false
	case !fi.Mode().IsRegular():
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		r.add(CodeNotRegular, VerdictReject, "This is %s, not an audio file; name the audio file itself.", what)
		return nil, "", nil, false
	}
	r.Size = fi.Size()
	if r.Size == 0 {
		r.add(CodeEmpty, VerdictReject, "The file is empty (0 bytes); the recording was not saved, so re-export or re-copy it.")
		return nil, "", nil, false
	}
	if r.Size > c.cfg.MaxLocalSize {
		r.add(CodeTooLarge, VerdictReject,
			"The file is %s, above the %s upload limit; split it or compress it (for example to MP3 or Opus) and check the parts.",
			humanBytes(r.Size), humanBytes(c.cfg.MaxLocalSize))
		return nil, "", nil, false
	}
	f, err = os.Open(r.Source)
	if err != nil {
		r.add(CodeUnreadable, VerdictReject, "The file cannot be opened (%s); check its permissions.", errText(err))
		return nil, "", nil, false
	}
	head = make([]byte, min(sniffLen, r.Size))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		_ = f.Close() // opened read-only
		r.add(CodeUnreadable, VerdictReject, "The file cannot be read (%s); copy it again from its source.", errText(err))
		return nil, "", nil, false
	}
	head = head[:n]
	family, ok = c.classify(r, r.Source, head)
	if !ok {
		_ = f.Close() // opened read-only
		return nil, "", nil, false
	}
	return f, family, head, true
}

// classify sniffs the content, compares it with the extension and decides
// which family to analyse. ok is false when the file is rejected already.
func (c *Checker) classify(r *Report, path string, head []byte) (family string, ok bool) {
	ext := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	extFam := extFamily[ext]
	mime, sniffed := sniff(head)
	r.MIME = mime
	switch {
	case sniffed != "":
		family = sniffed
		if extFam != "" && extFam != sniffed && extFam != famOther {
			r.add(CodeExtensionMismatch, VerdictWarn,
				"The name ends in .%s but the content is %s; it is checked as %s, and renaming it to match avoids confusion.",
				ext, sniffedName(sniffed), sniffedName(sniffed))
		}
	case mime == "application/octet-stream" && extFam != "":
		// Binary content mimetype cannot name (AC3, MPEG-TS, ...) or damaged
		// content: trust the extension and let the decoder decide.
		family = extFam
	default:
		r.add(CodeUnsupportedFormat, VerdictReject,
			"The content is %s, not audio or video that AssemblyAI accepts; convert it to a supported format such as MP3, WAV or M4A.",
			mimeName(mime))
		return "", false
	}
	if unlisted[family] {
		r.add(CodeUnlistedFormat, VerdictWarn,
			"%s is not on AssemblyAI's list of supported formats; it usually works, but convert it (for example to M4A or WebM) if transcription fails.",
			sniffedName(family))
	}
	r.Container = family
	return family, true
}

// applyRules turns the measured duration and levels into reasons.
func (c *Checker) applyRules(r *Report) {
	if r.Has(CodeCorrupt) || r.Has(CodeNoAudioStream) {
		return
	}
	switch {
	case r.Duration > 0 && r.Duration < c.cfg.MinDuration:
		r.add(CodeTooShort, VerdictReject, "The audio lasts %s, shorter than the %s minimum; AssemblyAI would fail it.",
			fmtDur(r.Duration), fmtDur(c.cfg.MinDuration))
	case r.Duration > c.cfg.MaxDuration:
		r.add(CodeTooLong, VerdictReject, "The audio lasts %s, longer than the %s maximum; split it into shorter files.",
			fmtDur(r.Duration), fmtDur(c.cfg.MaxDuration))
	case r.Duration == 0 && !r.Has(CodeTruncated):
		r.add(CodeUnknownDuration, VerdictWarn, "The length of the audio could not be determined here; AssemblyAI may still accept it.")
	}
	if r.PeakDBFS == nil || r.Has(CodeTruncated) && r.Duration == 0 {
		return
	}
	switch {
	case *r.PeakDBFS < c.cfg.SilenceDBFS:
		r.add(CodeSilent, VerdictReject,
			"The audio is silent (peak %.1f dBFS, below %.0f dBFS): check the microphone or the export settings, since there is nothing to transcribe.",
			*r.PeakDBFS, c.cfg.SilenceDBFS)
	case *r.RMSDBFS < c.cfg.QuietRMSDBFS:
		r.add(CodeQuiet, VerdictWarn,
			"The audio is very quiet (average %.1f dBFS, peak %.1f dBFS); it can be transcribed, but normalising the volume improves accuracy.",
			*r.RMSDBFS, *r.PeakDBFS)
	}
}

func sniffedName(family string) string {
	switch family {
	case famMP4:
		return "MP4/M4A/MOV"
	case famMKV:
		return "Matroska (MKV)"
	case famOgg:
		return "Ogg"
	case famASF:
		return "WMA/ASF"
	case famOther:
		return "audio"
	default:
		return strings.ToUpper(family)
	}
}

func mimeName(mime string) string {
	switch {
	case strings.HasPrefix(mime, "text/"):
		return "text (" + mime + ")"
	case mime == "application/octet-stream":
		return "unrecognised binary data"
	default:
		return mime
	}
}

// errText is an error message without the path, which the report names already.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// secondsToDuration converts seconds from a header, which may say anything:
// negative and NaN give 0, and lengths past what a Duration holds (about 292
// years) give the largest Duration instead of wrapping to a negative one.
func secondsToDuration(s float64) time.Duration {
	switch {
	case s <= 0 || s != s:
		return 0
	case s >= math.MaxInt64/float64(time.Second):
		return math.MaxInt64
	}
	return time.Duration(s * float64(time.Second))
}
