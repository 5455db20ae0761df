package preflight

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// benchDir holds generated benchmark inputs for the whole run; TestMain
// removes it.
var (
	benchDirOnce sync.Once
	benchDirPath string
)

func benchDir(b *testing.B) string {
	benchDirOnce.Do(func() {
		var err error
		benchDirPath, err = os.MkdirTemp("", "preflight-bench-")
		if err != nil {
			b.Fatal(err)
		}
	})
	return benchDirPath
}

// writeWAV writes seconds of 44.1 kHz stereo s16 tone-plus-noise.
func writeWAV(b *testing.B, path string, seconds int) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	const rate, ch = 44100, 2
	n := uint32(seconds * rate * ch * 2)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], 36+n)
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[22:], ch)
	binary.LittleEndian.PutUint32(hdr[24:], rate)
	binary.LittleEndian.PutUint32(hdr[28:], rate*ch*2)
	binary.LittleEndian.PutUint16(hdr[32:], ch*2)
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], n)
	_, _ = w.Write(hdr) // a bufio.Writer's error sticks: Flush reports it
	var s [4]byte
	seed := uint32(1)
	for i := 0; i < seconds*rate; i++ {
		seed = seed*1664525 + 1013904223
		v := int16(8000*math.Sin(float64(i)*2*math.Pi*440/rate)) + int16(seed>>20) - 2048
		binary.LittleEndian.PutUint16(s[0:], uint16(v))
		binary.LittleEndian.PutUint16(s[2:], uint16(v))
		_, _ = w.Write(s[:])
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return int64(44 + n)
}

func benchEngine(b *testing.B, name string) *Checker {
	cfg := Config{Engine: name}
	c, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if c.Engine() != name {
		b.Skipf("engine %s not available", name)
	}
	return c
}

// BenchmarkWAV reports MB/s (target >= 500 MB/s for the Go engine) and B/op,
// which stays flat as the file grows.
func BenchmarkWAV(b *testing.B) {
	for _, engine := range []string{"go", "ffmpeg"} {
		for _, minutes := range []int{1, 10} {
			b.Run(engine+"/"+strconv.Itoa(minutes)+"min", func(b *testing.B) {
				c := benchEngine(b, engine)
				path := filepath.Join(benchDir(b), "bench"+strconv.Itoa(minutes)+".wav")
				size := writeWAV(b, path, minutes*60)
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					r, err := c.Check(b.Context(), path)
					if err != nil || r.Verdict != VerdictOK {
						b.Fatalf("%v %+v", err, r.Reasons)
					}
				}
			})
		}
	}
}

// hourMP3 makes a one-hour MP3 by concatenating the frames of a short clip:
// 44.1 kHz stereo 128 kbit/s when ffmpeg can encode one, else the 16 kHz
// mono fixture.
func hourMP3(b *testing.B) string {
	dir := benchDir(b)
	out := filepath.Join(dir, "hour.mp3")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	clip, clipSeconds := fixture("speech.mp3"), 2.844
	if ff, err := exec.LookPath("ffmpeg"); err == nil {
		clip, clipSeconds = filepath.Join(dir, "clip.mp3"), 20
		cmd := exec.Command(ff, "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", fixture("speech.wav"),
			"-t", "20", "-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0", "-id3v2_version", "0", clip)
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("encode clip: %v %s", err, msg)
		}
	}
	data, err := os.ReadFile(clip)
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < int(math.Ceil(3600/clipSeconds)); i++ {
		if _, err := f.Write(data); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkMP3Hour checks a one-hour MP3 (target <= 4 s per check).
func BenchmarkMP3Hour(b *testing.B) {
	for _, engine := range []string{"go", "ffmpeg"} {
		b.Run(engine, func(b *testing.B) {
			c := benchEngine(b, engine)
			path := hourMP3(b)
			fi, _ := os.Stat(path)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				r, err := c.Check(b.Context(), path)
				if err != nil || r.Verdict == VerdictReject || r.Duration.Minutes() < 59 {
					b.Fatalf("%v %s %v %+v", err, r.Verdict, r.Duration, r.Reasons)
				}
			}
		})
	}
}
