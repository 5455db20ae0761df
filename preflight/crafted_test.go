package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
