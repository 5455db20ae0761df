package preflight

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ffmpeg not on PATH with CI=true")
		}
		t.Skip("ffmpeg not on PATH")
	}
}

// TestCheckAllMatchesCheck checks the whole corpus in one CheckAll call,
// where the damaged files make shared ffmpeg runs fail and be split, and
// wants every report exactly as a Check of that file alone gives it. (The
// auto engine uses the same batches; TestCorpus covers its choices.)
func TestCheckAllMatchesCheck(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, fixture(e.Name()))
	}
	paths = append(paths, fixture("missing.wav"), fixture("speech.wav")) // a duplicate too
	c, err := New(Config{Engine: EngineFFmpeg})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.CheckAll(t.Context(), paths)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(paths) {
		t.Fatalf("%d reports for %d paths", len(all), len(paths))
	}
	for i, p := range paths {
		one, err := c.Check(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(all[i], one) {
			t.Errorf("%s:\nCheckAll %+v\nCheck    %+v", filepath.Base(p), all[i], one)
		}
	}
}

// TestFFmpegAwkwardNames: names with a colon or a leading dash are files,
// not protocols or options.
func TestFFmpegAwkwardNames(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	dir := t.TempDir()
	data, err := os.ReadFile(fixture("speech.m4a"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, name := range []string{"-y.m4a", "http:x.m4a", "a b'c.m4a"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	paths = append(paths, "-i.m4a") // relative, does not exist
	c, err := New(Config{Engine: EngineFFmpeg})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.CheckAll(t.Context(), paths)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[:3] {
		if r.Verdict != VerdictOK || r.Codec != "aac" || r.Engine != EngineFFmpeg {
			t.Errorf("%s: %s %s %s %v", r.Source, r.Verdict, r.Engine, r.Codec, codes(r))
		}
	}
	if !rs[3].Has(CodeNotFound) {
		t.Errorf("-i.m4a: %v, want not_found", codes(rs[3]))
	}
}

// TestFFmpegRunFailures: when ffmpeg cannot run or times out, files get a
// not_verified warning, never a pass or a rejection.
func TestFFmpegRunFailures(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	for name, cfg := range map[string]Config{
		"missing binary": {Engine: EngineFFmpeg, FFmpegPath: filepath.Join(t.TempDir(), "ffmpeg")},
		"timeout":        {Engine: EngineFFmpeg, FFmpegTimeout: time.Nanosecond},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := c.CheckAll(t.Context(), []string{fixture("speech.m4a"), fixture("speech.webm"), fixture("speech.wav")})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				if r.Verdict != VerdictWarn || !r.Has(CodeNotVerified) {
					t.Errorf("%s: %s %v, want warn not_verified", r.Source, r.Verdict, codes(r))
				}
			}
		})
	}
}

func TestParseAudioStream(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc     string
		codec    string
		rate, ch int
	}{
		{"pcm_s16le ([1][0][0][0] / 0x0001), 16000 Hz, mono, s16, 256 kb/s", "pcm_s16le", 16000, 1},
		{"aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 33 kb/s (default)", "aac", 44100, 2},
		{"opus, 48000 Hz, 5.1(side), fltp", "opus", 48000, 6},
		{"flac, 96000 Hz, 7.1, s32 (24 bit)", "flac", 96000, 8},
		{"pcm_s16le, 8000 Hz, 3 channels, s16", "pcm_s16le", 8000, 3},
		{"pcm_s24le, 48000 Hz, FL+FR+LFE, s32", "pcm_s24le", 48000, 3},
		{"wmav2 (a[1][0][0] / 0x0161), 22050 Hz, 22.2, fltp", "wmav2", 22050, 24},
		{"mp3, 0 channels", "mp3", 0, 0},
		{"amr_nb (samr / 0x726D6173), 8000 Hz, mono, flt", "amr_nb", 8000, 1},
		{"ac3, 48000 Hz, quad(side), fltp, 384 kb/s", "ac3", 48000, 4},
	} {
		codec, rate, ch := parseAudioStream(tt.desc)
		if codec != tt.codec || rate != tt.rate || ch != tt.ch {
			t.Errorf("%q: %s %d %d, want %s %d %d", tt.desc, codec, rate, ch, tt.codec, tt.rate, tt.ch)
		}
	}
}

func TestParseClock(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{
		"00:00:02.77": 2.77, "01:00:06.26": 3606.26, "10:00:00.00": 36000, "N/A": 0, "": 0, "1:2": 0, "aa:00:01.00": 0,
	} {
		if got := parseClock(in); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("parseClock(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFFRunParse(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		"Input #0, wav, from 'file:/a, from 'x.wav':",
		"  Duration: 00:00:02.77, bitrate: 256 kb/s",
		"  Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 16000 Hz, mono, s16, 256 kb/s",
		"Input #1, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/b.mp4':",
		"  Metadata:",
		"    title           : recording error take 2",
		"  Duration: 00:00:23.27, start: 0.000000, bitrate: 36 kb/s",
		"  Stream #1:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 320x240, 15 fps (default)",
		"  Stream #1:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 16000 Hz, mono, fltp, 33 kb/s (default)",
		"  Stream #1:2[0x3](eng): Audio: aac (LC), 48000 Hz, stereo, fltp",
		"[volumedetect@v0 @ 0x1] n_samples: 0",
		"Stream mapping:",
		"  Stream #0:0 (pcm_s16le) -> volumedetect:default",
		"Output #0, null, to 'pipe:':",
		"  Stream #0:0: Audio: pcm_s16le, 8000 Hz, stereo, s16, 256 kb/s",
		"[volumedetect@v0 @ 0x2] n_samples: 44262",
		"[volumedetect@v0 @ 0x2] mean_volume: -28.8 dB",
		"[volumedetect@v0 @ 0x2] max_volume: -7.9 dB",
		"[volumedetect@v0 @ 0x2] histogram_7db: 1",
		"[volumedetect@v1 @ 0x3] n_samples: 0",
	}, "\r\n")
	run := &ffRun{inputs: make([]ffInput, 2), current: -1}
	w := &lineWriter{fn: run.line}
	for i := 0; i < len(log); i += 7 { // in pieces, as a pipe delivers it
		_, _ = w.Write([]byte(log[i:min(i+7, len(log))]))
	}
	w.flush()
	want := []ffInput{
		{opened: true, format: "wav", declared: 2.77, streams: 1, audio: true, codec: "pcm_s16le", rate: 16000, channels: 1,
			vol: volumeResult{seen: true, nSamples: 44262, meanDB: -28.8, maxDB: -7.9, haveMean: true, haveMax: true}},
		{opened: true, format: "mov,mp4,m4a,3gp,3g2,mj2", declared: 23.27, streams: 3, audio: true, codec: "aac", rate: 16000, channels: 1,
			vol: volumeResult{seen: true}},
	}
	if !reflect.DeepEqual(run.inputs, want) {
		t.Errorf("inputs =\n%+v\nwant\n%+v", run.inputs, want)
	}
	if len(run.errLines) != 0 {
		t.Errorf("errLines = %q, want none (metadata is not a complaint)", run.errLines)
	}
	if !run.complete(2) || run.inputs[1].audioOnly() || !run.inputs[0].audioOnly() {
		t.Errorf("complete = %v, audioOnly = %v %v", run.complete(2), run.inputs[0].audioOnly(), run.inputs[1].audioOnly())
	}
}

func TestLineWriterBoundsLines(t *testing.T) {
	t.Parallel()
	var got []int
	w := &lineWriter{fn: func(s string) { got = append(got, len(s)) }}
	_, _ = w.Write([]byte(strings.Repeat("x", 3*maxLine)))
	_, _ = w.Write([]byte("yy\nzzz"))
	w.flush()
	if !reflect.DeepEqual(got, []int{maxLine, 3}) {
		t.Errorf("line lengths = %v, want [%d 3]", got, maxLine)
	}
}
