package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if benchDirPath != "" {
			_ = os.RemoveAll(benchDirPath)
		}
	}))
}

const corpus = "../testdata/audio"

func fixture(name string) string { return filepath.Join(corpus, name) }

// engines returns a checker per engine. The Go engine always runs; the
// ffmpeg and auto engines run when ffmpeg is on PATH, and its absence fails
// the test when CI=true.
func engines(t *testing.T) map[string]*Checker {
	t.Helper()
	out := map[string]*Checker{}
	c, err := New(Config{DisableFFmpeg: true})
	if err != nil {
		t.Fatal(err)
	}
	out["go"] = c
	_, e := exec.LookPath("ffmpeg")
	switch {
	case e == nil:
		for _, name := range []string{EngineFFmpeg, EngineAuto} {
			c, err := New(Config{Engine: name})
			if err != nil {
				t.Fatal(err)
			}
			if c.Engine() != name {
				t.Fatalf("Engine() = %q with ffmpeg on PATH, want %q", c.Engine(), name)
			}
			out[name] = c
		}
	case os.Getenv("CI") == "true":
		t.Fatal("ffmpeg not on PATH with CI=true: the ffmpeg engine must be tested in CI")
	default:
		t.Log("ffmpeg not on PATH: ffmpeg and auto engines not tested")
	}
	return out
}

func codes(r Report) []Code {
	var cs []Code
	for _, x := range r.Reasons {
		cs = append(cs, x.Code)
	}
	return cs
}

func TestCorpus(t *testing.T) {
	t.Parallel()
	type want struct {
		verdict Verdict
		codes   []Code // each must be present (one of, when separated by |)
	}
	ok := want{VerdictOK, nil}
	tests := []struct {
		file string
		want want
		// per engine override
		engine map[string]want
		// audio expectations when decoded
		seconds float64 // approx duration, 0: not checked
		speech  bool    // peak near -8 dBFS
	}{
		{file: "speech.wav", want: ok, seconds: 2.77, speech: true},
		{file: "speech.mp3", want: ok, seconds: 2.84, speech: true},
		{file: "speech.flac", want: ok, seconds: 2.77, speech: true},
		{file: "speech.ogg", want: ok, seconds: 2.77, speech: true},
		{file: "speech.opus", want: ok, seconds: 2.77, speech: true},
		{file: "speech.m4a", want: ok, seconds: 2.8, speech: true,
			engine: map[string]want{"go": {VerdictWarn, []Code{CodeNotVerified}}}},
		{file: "speech.webm", want: ok, seconds: 2.77, speech: true,
			engine: map[string]want{"go": {VerdictWarn, []Code{CodeNotVerified}}}},
		{file: "piped.webm", want: ok, speech: true, // no Duration element: ffmpeg measures it, Go cannot
			engine: map[string]want{"go": {VerdictWarn, []Code{CodeNotVerified, CodeUnknownDuration}}}},
		{file: "speech_video.mp4", want: ok, seconds: 2.8, speech: true,
			engine: map[string]want{"go": {VerdictWarn, []Code{CodeNotVerified}}}},
		{file: "speech_leadsil.flac", want: ok, seconds: 38.5},
		{file: "tone.wav", want: ok, seconds: 1},
		{file: "tone_as.mp3", want: want{VerdictWarn, []Code{CodeExtensionMismatch}}, seconds: 1},
		{file: "noise_quiet.wav", want: want{VerdictWarn, []Code{CodeQuiet}}, seconds: 1},
		{file: "speech_quiet.flac", want: want{VerdictWarn, []Code{CodeQuiet}}, seconds: 3},
		{file: "silence.wav", want: want{VerdictReject, []Code{CodeSilent}}, seconds: 1},
		{file: "silence.mp3", want: want{VerdictReject, []Code{CodeSilent}}, seconds: 2.09},
		{file: "trunc.wav", want: want{VerdictReject, []Code{CodeTruncated}}},
		{file: "trunc.flac", want: want{VerdictReject, []Code{CodeTruncated}}},
		// a cut MP3 is a valid shorter MP3 to ffmpeg; the Go frame scan sees the cut last frame
		{file: "trunc.mp3", want: ok, seconds: 1.42,
			engine: map[string]want{"go": {VerdictWarn, []Code{CodeTruncated}}}},
		{file: "trunc.m4a", want: want{VerdictReject, []Code{CodeCorrupt + "|" + CodeTruncated}}},
		{file: "header_only.wav", want: want{VerdictReject, []Code{CodeTruncated}}},
		{file: "corrupt.mp3", want: want{VerdictReject, []Code{CodeCorrupt}}},
		{file: "corrupt.wav", want: want{VerdictReject, []Code{CodeCorrupt}}},
		{file: "empty.mp3", want: want{VerdictReject, []Code{CodeEmpty}}},
		{file: "text_as.mp3", want: want{VerdictReject, []Code{CodeUnsupportedFormat}}},
		{file: "speech.txt", want: want{VerdictReject, []Code{CodeUnsupportedFormat}}},
		{file: "video_noaudio.mp4", want: want{VerdictReject, []Code{CodeNoAudioStream}}},
	}
	autoInGo := []string{"speech.wav", "speech.mp3", "speech.flac", "speech.ogg", "speech.opus", "speech_leadsil.flac",
		"tone.wav", "tone_as.mp3", "empty.mp3", "text_as.mp3", "speech.txt"}
	for name, c := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.file, func(t *testing.T) {
					t.Parallel()
					r, err := c.Check(t.Context(), fixture(tt.file))
					if err != nil {
						t.Fatalf("Check: %v", err)
					}
					w := tt.want
					if ew, ok := tt.engine[name]; ok {
						w = ew
					}
					if r.Verdict != w.verdict {
						t.Errorf("verdict = %s, want %s; reasons %+v", r.Verdict, w.verdict, r.Reasons)
					}
					for _, wc := range w.codes {
						alts := strings.Split(string(wc), "|")
						if !slices.ContainsFunc(alts, func(a string) bool { return r.Has(Code(a)) }) {
							t.Errorf("codes = %v, want %s", codes(r), wc)
						}
					}
					if w.verdict == VerdictOK && len(r.Reasons) != 0 {
						t.Errorf("ok report has reasons %+v", r.Reasons)
					}
					for _, x := range r.Reasons {
						if x.Message == "" || x.Severity == VerdictOK || !strings.HasSuffix(x.Message, ".") {
							t.Errorf("reason %+v: want a sentence and a severity", x)
						}
					}
					wantEngine := name
					if name == EngineAuto {
						// Go keeps the files it decodes without finding a
						// problem; ffmpeg gets the rest.
						wantEngine = EngineFFmpeg
						if slices.Contains(autoInGo, tt.file) {
							wantEngine = EngineGo
						}
					}
					if r.Engine != wantEngine {
						t.Errorf("engine = %q, want %q", r.Engine, wantEngine)
					}
					if tt.seconds > 0 {
						if got := r.Duration.Seconds(); got < tt.seconds*0.95-0.05 || got > tt.seconds*1.05+0.05 {
							t.Errorf("duration = %.3fs, want about %.2fs", got, tt.seconds)
						}
					}
					if tt.speech && r.PeakDBFS != nil {
						if p := *r.PeakDBFS; p < -10 || p > -6 {
							t.Errorf("peak = %.1f dBFS, want about -8", p)
						}
						if q := *r.RMSDBFS; q < -32 || q > -26 {
							t.Errorf("rms = %.1f dBFS, want about -29", q)
						}
					}
					if tt.speech && name != "go" && (r.SampleRate == 0 || r.Channels != 1 || r.Codec == "") {
						t.Errorf("stream info = %s %d Hz %d ch, want a codec, a rate and mono", r.Codec, r.SampleRate, r.Channels)
					}
				})
			}
		})
	}
}

func TestPathProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.wav")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// sparse: 2.3 GB that takes no disk
	if err := f.Truncate(2_300_000_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "small.wav")
	data, err := os.ReadFile(fixture("speech.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(small, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range []struct {
				path string
				want Code
			}{
				{filepath.Join(dir, "missing.wav"), CodeNotFound},
				{dir, CodeNotRegular},
				{huge, CodeTooLarge},
			} {
				r, err := c.Check(t.Context(), tt.path)
				if err != nil {
					t.Fatal(err)
				}
				if r.Verdict != VerdictReject || !r.Has(tt.want) {
					t.Errorf("%s: %s %v, want reject %s", filepath.Base(tt.path), r.Verdict, codes(r), tt.want)
				}
			}
		})
	}
	// a lower limit applies to ordinary files too
	c, err := New(Config{DisableFFmpeg: true, MaxLocalSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := c.Check(t.Context(), small)
	if !r.Has(CodeTooLarge) {
		t.Errorf("MaxLocalSize 1000: codes %v, want too_large", codes(r))
	}
}

func TestUnreadable(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	p := filepath.Join(t.TempDir(), "locked.wav")
	if err := os.WriteFile(p, []byte("RIFF"), 0o000); err != nil {
		t.Fatal(err)
	}
	r, err := Check(t.Context(), p)
	if err != nil || !r.Has(CodeUnreadable) {
		t.Fatalf("Check = %v %v, want unreadable", codes(r), err)
	}
}

func TestDurationLimits(t *testing.T) {
	t.Parallel()
	for name := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Engine: name}
			cfg.MinDuration = 5 * time.Second
			short, _ := New(cfg)
			cfg.MinDuration, cfg.MaxDuration = 0, 2*time.Second
			long, _ := New(cfg)
			r, err := short.Check(t.Context(), fixture("speech.wav"))
			if err != nil || !r.Has(CodeTooShort) || r.Verdict != VerdictReject {
				t.Errorf("min 5s: %s %v %v, want reject too_short", r.Verdict, codes(r), err)
			}
			r, err = long.Check(t.Context(), fixture("speech.wav"))
			if err != nil || !r.Has(CodeTooLong) || r.Verdict != VerdictReject {
				t.Errorf("max 2s: %s %v %v, want reject too_long", r.Verdict, codes(r), err)
			}
		})
	}
}

// TestSampledWindows lowers the full-decode limits so that the small fixtures
// are sampled, as hour-long files are.
func TestSampledWindows(t *testing.T) {
	t.Parallel()
	c, err := New(Config{DisableFFmpeg: true})
	if err != nil {
		t.Fatal(err)
	}
	c.tune = tuning{fullDecodeSeconds: map[string]float64{"mp3": 0.5, "flac": 0.5, "vorbis": 0.5}, windows: 2, windowSeconds: 0.5}

	t.Run("leading silence is confirmed by a full pass", func(t *testing.T) {
		t.Parallel()
		f, err := os.Open(fixture("speech_leadsil.flac"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() //nolint:errcheck // opened read-only
		fi, _ := f.Stat()
		lv, _, err := c.flacWindows(t.Context(), f, fi.Size(), 38.5)
		if err != nil {
			t.Fatal(err)
		}
		if !c.silent(lv) {
			t.Fatalf("windows found peak %.1f dBFS; the fixture must put every window in silence", dbfs(lv.peak))
		}
		r, err := c.Check(t.Context(), fixture("speech_leadsil.flac"))
		if err != nil || r.Verdict != VerdictOK {
			t.Fatalf("Check = %s %v %v, want ok after the full pass", r.Verdict, codes(r), err)
		}
	})
	for _, tt := range []struct {
		file    string
		verdict Verdict
		code    Code
	}{
		{"speech.mp3", VerdictOK, ""},
		{"speech.flac", VerdictOK, ""},
		{"speech.ogg", VerdictOK, ""},
		{"silence.mp3", VerdictReject, CodeSilent},
		{"trunc.flac", VerdictReject, CodeTruncated},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			r, err := c.Check(t.Context(), fixture(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tt.verdict || tt.code != "" && !r.Has(tt.code) {
				t.Errorf("Check = %s %v, want %s %s", r.Verdict, codes(r), tt.verdict, tt.code)
			}
		})
	}
}

func TestCanceled(t *testing.T) {
	t.Parallel()
	for name, c := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := c.Check(ctx, fixture("speech.flac"))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Check on a cancelled ctx = %v, want context.Canceled", err)
			}
		})
	}
}

func TestReportJSONAndErr(t *testing.T) {
	t.Parallel()
	c, _ := New(Config{DisableFFmpeg: true})
	r, err := c.Check(t.Context(), fixture("silence.wav"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"source", "size", "duration_seconds", "sample_rate", "peak_dbfs", "rms_dbfs", "engine", "verdict", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Duration != r.Duration || back.Verdict != r.Verdict || *back.PeakDBFS != *r.PeakDBFS {
		t.Errorf("round trip: %+v, want %+v", back, r)
	}
	rerr := r.Err()
	var re *RejectError
	if !errors.As(rerr, &re) || !errors.Is(rerr, ErrRejected) || !strings.Contains(rerr.Error(), "silent:") {
		t.Errorf("Err() = %v, want a *RejectError naming the silent code", rerr)
	}
	ok, _ := c.Check(t.Context(), fixture("speech.wav"))
	if ok.Err() != nil {
		t.Errorf("ok report Err() = %v", ok.Err())
	}
	// digital zero has no finite dBFS; it must still marshal
	z := Report{}
	z.setLevels(0, 0)
	if _, err := json.Marshal(z); err != nil || *z.PeakDBFS != FloorDBFS {
		t.Errorf("zero levels: %v %v", err, *z.PeakDBFS)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero", Config{}, true},
		{"negative size", Config{MaxLocalSize: -1}, false},
		{"min above max", Config{MinDuration: time.Hour, MaxDuration: time.Minute}, false},
		{"positive silence", Config{SilenceDBFS: 3}, false},
	} {
		_, err := New(tt.cfg)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	d := Config{}.WithDefaults()
	if d.MaxLocalSize != 2_200_000_000 || d.MaxURLSize != 5_000_000_000 || d.MinDuration != 160*time.Millisecond ||
		d.MaxDuration != 10*time.Hour || d.SilenceDBFS != -60 {
		t.Errorf("defaults = %+v", d)
	}
}

func TestParseMP3Header(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		b    []byte
		ok   bool
		want mp3Header
	}{
		{"mpeg1 128k 44.1k stereo", []byte{0xFF, 0xFB, 0x90, 0x00}, true, mp3Header{1, 3, 44100, 2, 417, 1152}},
		{"mpeg2 32k 16k mono", []byte{0xFF, 0xF3, 0x48, 0xC0}, true, mp3Header{2, 3, 16000, 1, 144, 576}},
		{"no sync", []byte{0x00, 0xFB, 0x90, 0x00}, false, mp3Header{}},
		{"bad bitrate", []byte{0xFF, 0xFB, 0xF0, 0x00}, false, mp3Header{}},
		{"free format", []byte{0xFF, 0xFB, 0x00, 0x00}, false, mp3Header{}},
		{"reserved rate", []byte{0xFF, 0xFB, 0x9C, 0x00}, false, mp3Header{}},
	} {
		h, ok := parseMP3Header(tt.b)
		if ok != tt.ok || ok && h != tt.want {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, h, ok, tt.want, tt.ok)
		}
	}
}

func ExampleChecker_Check() {
	c, err := New(Config{DisableFFmpeg: true})
	if err != nil {
		panic(err)
	}
	r, err := c.Check(context.Background(), "../testdata/audio/silence.wav")
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Verdict, r.Codec, r.Duration)
	for _, x := range r.Reasons {
		fmt.Println(x.Code, x.Severity)
	}
	// Output:
	// reject pcm_s16le 1s
	// silent reject
}
