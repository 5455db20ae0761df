package preflight

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Crafted files that crash the third-party decoders (issue 18): each must be
// rejected as corrupt, not panic. They also seed the fuzz targets.
var (
	// crashMP3 is one MPEG-2 layer III frame (32 kbit/s, 16 kHz: 144 bytes)
	// whose side information sends go-mp3 v0.3.4 past the end of a
	// scale-factor table: "index out of range [38] with length 38".
	crashMP3 = []byte("\xff\xf3H" + strings.Repeat("0", 14) + "1\xb0" + strings.Repeat("0", 125))
	// crashOgg is a lone 27-byte Ogg page header that declares no segments;
	// oggvorbis v1.0.5 reads the last lacing value at PageSegments-1, which
	// wraps to 255: "index out of range [255] with length 0".
	crashOgg = []byte("OggS\x0000\x01vorbis000000000000\x00")
)

func TestCraftedFilesRejectedAsCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string][]byte{"crash.mp3": crashMP3, "crash.ogg": crashOgg}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for engine, c := range engines(t) {
		for name := range files {
			t.Run(engine+"/"+name, func(t *testing.T) {
				t.Parallel()
				r, err := c.Check(t.Context(), filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if r.Verdict != VerdictReject {
					t.Fatalf("verdict %s, want reject; reasons %+v", r.Verdict, r.Reasons)
				}
				if engine != EngineGo {
					return // ffmpeg has the last word; it may call the stub too short instead
				}
				if !r.Has(CodeCorrupt) {
					t.Fatalf("codes %v, want corrupt; reasons %+v", codes(r), r.Reasons)
				}
				for _, x := range r.Reasons {
					if x.Code == CodeCorrupt && !strings.Contains(x.Message, "index out of range") {
						t.Errorf("corrupt message %q does not quote the decoder's panic", x.Message)
					}
				}
			})
		}
	}
}

// TestFloatWAVBeyondFullScale: float samples above full scale or infinite
// gave an RMS above 0 dBFS, or +Inf, which broke `check --json` for the
// whole run ("json: unsupported value: +Inf"). Found by FuzzAnalyzeWAV.
func TestFloatWAVBeyondFullScale(t *testing.T) {
	t.Parallel()
	c, err := New(Config{DisableFFmpeg: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		"loud.wav": floatWAV(slices.Repeat([]float32{2, -3}, 4000)...),
		"inf.wav":  floatWAV(slices.Repeat([]float32{0.5, float32(math.Inf(1))}, 4000)...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := c.Check(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			if r.PeakDBFS == nil || r.RMSDBFS == nil {
				t.Fatalf("no levels: %+v", r)
			}
			if *r.PeakDBFS != 0 || *r.RMSDBFS != 0 {
				t.Errorf("peak %v, RMS %v dBFS; want both capped at 0", *r.PeakDBFS, *r.RMSDBFS)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Errorf("report does not marshal: %v", err)
			}
		})
	}
}

// floatWAV is a mono 16 kHz WAV of 32-bit float samples.
func floatWAV(samples ...float32) []byte {
	data := make([]byte, 4*len(samples))
	for i, v := range samples {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(v))
	}
	b := []byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00")
	b = binary.LittleEndian.AppendUint16(b, wavFloat)
	b = binary.LittleEndian.AppendUint16(b, 1)     // channels
	b = binary.LittleEndian.AppendUint32(b, 16000) // rate
	b = binary.LittleEndian.AppendUint32(b, 64000) // bytes per second
	b = binary.LittleEndian.AppendUint16(b, 4)     // block align
	b = binary.LittleEndian.AppendUint16(b, 32)    // bits
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// TestSecondsToDuration: container headers declare any length; one past
// what a Duration holds wrapped to a negative duration (FuzzAnalyzeMatroska).
func TestSecondsToDuration(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    float64
		want time.Duration
	}{
		{1.5, 1500 * time.Millisecond},
		{0, 0},
		{-1, 0},
		{math.NaN(), 0},
		{math.Inf(-1), 0},
		{math.Inf(1), math.MaxInt64},
		{1e300, math.MaxInt64},
		{math.MaxInt64 / float64(time.Second), math.MaxInt64},
		{9e9, 9e9 * time.Second},
	} {
		if got := secondsToDuration(tt.s); got != tt.want {
			t.Errorf("secondsToDuration(%v) = %v, want %v", tt.s, got, tt.want)
		}
	}
}
