package preflight

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// The fuzz targets feed arbitrary bytes to the Go engine, one target per
// format family, plus the type sniffer. Run one with
//
//	go test -run '^$' -fuzz '^FuzzAnalyzeMP3$' -fuzztime 60s ./preflight/
//
// or all briefly with `make fuzz`. Their seeds (the corpus files of the family,
// the crafted files of issue 18, and testdata/fuzz/FuzzXxx) run in every
// `go test` as regression tests.
//
// The invariant they share: our own code never panics, whatever the bytes.
// A panic inside a third-party decoder is tolerated, because nativeAnalyze
// contains it; the target then checks that the file is rejected as corrupt.

// seedFiles adds the corpus files with the given extensions as seeds, cut to
// 8 KB so that each execution (and the minimizing of new inputs, which
// tries them byte by byte) stays fast, then the extra seeds.
func seedFiles(f *testing.F, exts []string, extra ...[]byte) {
	f.Helper()
	ents, err := os.ReadDir(corpus)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range ents {
		if !slices.Contains(exts, strings.TrimPrefix(filepath.Ext(e.Name()), ".")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 8<<10)], false)
		f.Add(b[:min(len(b), 8<<10)], true)
	}
	for _, b := range extra {
		f.Add(b, false)
	}
}

// fuzzChecker is the Go engine; sampled makes it sample files longer than
// 0.2 s in short windows, so that the seek paths get fuzzed too.
func fuzzChecker(t *testing.T, sampled bool) *Checker {
	c, err := New(Config{DisableFFmpeg: true})
	if err != nil {
		t.Fatal(err)
	}
	if sampled {
		c.tune = tuning{fullDecodeSeconds: map[string]float64{"mp3": 0.2, "flac": 0.2, "vorbis": 0.2}, windows: 2, windowSeconds: 0.1}
	}
	return c
}

// panicSite runs fn and, when it panics, returns the function the panic
// happened in and the stack.
func panicSite(fn func()) (site string, stack []byte) {
	defer func() {
		if recover() == nil {
			return
		}
		stack = debug.Stack()
		pcs := make([]uintptr, 64)
		frames := runtime.CallersFrames(pcs[:runtime.Callers(0, pcs)])
		inPanic := false
		for {
			fr, more := frames.Next()
			switch {
			case fr.Function == "runtime.gopanic":
				inPanic = true
			case inPanic && !strings.HasPrefix(fr.Function, "runtime."):
				site = fr.Function
				return
			}
			if !more {
				site = "unknown"
				return
			}
		}
	}()
	fn()
	return "", nil
}

const ourPackage = "github.com/durascribe/durascribe/preflight."

// fuzzHang is how long one input may take. The fuzzer has no limit of its
// own: a decoder loop that never ends stalls the worker silently. Crashing
// the worker process instead makes the fuzzer save the input, and the
// traceback shows where it looped. Inputs are kilobytes, checked in
// milliseconds; the limit is generous for a loaded machine.
const fuzzHang = 10 * time.Second

// watchdog crashes the process unless the returned stop is called within
// fuzzHang.
func watchdog(what string) (stop func() bool) {
	return time.AfterFunc(fuzzHang, func() {
		debug.SetTraceback("all")
		panic(fmt.Sprintf("%s still running after %v: a decoder loops", what, fuzzHang))
	}).Stop
}

// fuzzAnalyze runs the Go engine for family over data and checks the report.
func fuzzAnalyze(t *testing.T, family string, data []byte, sampled bool) Report {
	defer watchdog("analysis of " + family)()
	c := fuzzChecker(t, sampled)
	ctx := context.Background()
	head := data[:min(len(data), sniffLen)]
	r := Report{Source: "fuzz." + family, Size: int64(len(data)), Engine: EngineGo, Container: family}
	var err error
	site, stack := panicSite(func() { err = c.decode(ctx, &r, bytes.NewReader(data), family, head) })
	switch {
	case site == "":
	case strings.HasPrefix(site, ourPackage):
		t.Fatalf("panic in our code, %s:\n%s", site, stack)
	default:
		// A third-party decoder crashed: contain must turn that into a
		// corrupt rejection.
		r = Report{Source: r.Source, Size: r.Size, Engine: EngineGo, Container: family}
		if err := c.nativeAnalyze(ctx, &r, bytes.NewReader(data), family, head); err != nil {
			t.Fatalf("nativeAnalyze after a panic in %s: %v", site, err)
		}
		if !r.Has(CodeCorrupt) {
			t.Fatalf("panic in %s not rejected as corrupt: %+v", site, r.Reasons)
		}
	}
	if err != nil {
		t.Fatalf("decode returned %v; only a cancelled context may end it with an error", err)
	}
	c.applyRules(&r)
	r.finish()
	checkReport(t, r)
	return r
}

// checkReport asserts what every report promises.
func checkReport(t *testing.T, r Report) {
	t.Helper()
	if r.Duration < 0 || r.SampleRate < 0 || r.Channels < 0 {
		t.Errorf("negative duration %v, rate %d or channels %d", r.Duration, r.SampleRate, r.Channels)
	}
	if (r.PeakDBFS == nil) != (r.RMSDBFS == nil) {
		t.Errorf("peak %v and RMS %v: one without the other", r.PeakDBFS, r.RMSDBFS)
	}
	for _, l := range []*float64{r.PeakDBFS, r.RMSDBFS} {
		if l != nil && (math.IsNaN(*l) || *l < FloorDBFS || *l > 0) {
			t.Errorf("level %v dBFS outside [%v, 0]", *l, FloorDBFS)
		}
	}
	if len(r.Reasons) == 0 && r.Verdict != VerdictOK {
		t.Errorf("verdict %s without reasons", r.Verdict)
	}
	for _, x := range r.Reasons {
		if x.Message == "" || x.Severity.rank() > r.Verdict.rank() {
			t.Errorf("reason %+v under verdict %s", x, r.Verdict)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("report does not marshal: %v", err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("report JSON does not unmarshal: %v\n%s", err, b)
	}
}

func FuzzSniff(f *testing.F) {
	seedFiles(f, []string{"wav", "mp3", "flac", "ogg", "opus", "m4a", "mp4", "webm", "txt"}, crashMP3, crashOgg)
	f.Fuzz(func(t *testing.T, head []byte, named bool) {
		head = head[:min(len(head), sniffLen)]
		name := "fuzz"
		if named {
			name = "fuzz.mp3" // an extension lets unnamed binary content through to a decoder
		}
		r := Report{Source: name}
		family, ok := (&Checker{}).classify(&r, name, head)
		if ok != (family != "") || ok && r.Container != family {
			t.Fatalf("classify = %q, %v with container %q", family, ok, r.Container)
		}
		if ok && FormatName("x."+family) == "" && family != famOther {
			t.Fatalf("classify picked family %q, which no extension names", family)
		}
		if !ok && !r.Has(CodeUnsupportedFormat) {
			t.Fatalf("refused without unsupported_format: %+v", r.Reasons)
		}
	})
}

func FuzzAnalyzeMP3(f *testing.F) {
	seedFiles(f, []string{"mp3"}, crashMP3)
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		defer watchdog("scanMP3")()
		s, err := scanMP3(context.Background(), bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatalf("scanMP3: %v", err)
		}
		size := int64(len(data))
		if s.junk < 0 || s.junk > size {
			t.Fatalf("junk %d of %d bytes", s.junk, size)
		}
		if s.frames > 0 {
			if s.audioOff < 0 || s.audioOff >= s.audioEnd || s.audioEnd > size {
				t.Fatalf("audio at [%d, %d) in %d bytes", s.audioOff, s.audioEnd, size)
			}
			if len(s.marks) == 0 || s.marks[0] != s.audioOff || !slices.IsSorted(s.marks) {
				t.Fatalf("marks %v, audio from %d", s.marks, s.audioOff)
			}
		}
		fuzzAnalyze(t, famMP3, data, sampled)
	})
}

func FuzzAnalyzeOgg(f *testing.F) {
	seedFiles(f, []string{"ogg", "opus"}, crashOgg)
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		// the packet reader of the Opus path, over any bytes: it must end
		stop := watchdog("oggPager")
		p := &oggPager{r: bufio.NewReader(bytes.NewReader(data))}
		for n := 0; ; n++ {
			_, err := p.next()
			if err != nil {
				break
			}
			if n > len(data) {
				t.Fatalf("%d packets from %d bytes", n, len(data))
			}
		}
		stop()
		fuzzAnalyze(t, famOgg, data, sampled)
	})
}

func FuzzAnalyzeFLAC(f *testing.F) {
	seedFiles(f, []string{"flac"})
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		fuzzAnalyze(t, famFLAC, data, sampled)
	})
}

func FuzzAnalyzeWAV(f *testing.F) {
	seedFiles(f, []string{"wav"})
	// float samples beyond full scale, infinite and NaN
	f.Add(floatWAV(0.5, -2, 1), false)
	f.Add(floatWAV(0.5, float32(math.Inf(1)), 0.25), false)
	f.Add(floatWAV(float32(math.NaN()), 0.5), false)
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		size := int64(len(data))
		w, err := parseWAV(bytes.NewReader(data), size)
		if err == nil && (w.channels <= 0 || w.rate <= 0 || w.blockAlign <= 0 || w.dataOff < 12 || w.dataOff > size) {
			t.Fatalf("parseWAV accepted %+v of a %d byte file", w, size)
		}
		r := fuzzAnalyze(t, famWAV, data, sampled)
		if err != nil && !errors.Is(err, errRF64) && r.Verdict != VerdictReject {
			t.Fatalf("header error %v but verdict %s", err, r.Verdict)
		}
	})
}

func FuzzAnalyzeMP4(f *testing.F) {
	seedFiles(f, []string{"m4a", "mp4"})
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		fuzzAnalyze(t, famMP4, data, sampled)
	})
}

func FuzzAnalyzeMatroska(f *testing.F) {
	seedFiles(f, []string{"webm"})
	f.Fuzz(func(t *testing.T, data []byte, sampled bool) {
		fuzzAnalyze(t, famWebM, data, sampled)
	})
}

// TestPanicSite checks the helper the fuzz targets rely on to tell our
// panics from a third-party decoder's.
func TestPanicSite(t *testing.T) {
	t.Parallel()
	if site, _ := panicSite(func() {}); site != "" {
		t.Errorf("no panic: site %q, want none", site)
	}
	var table []int
	if site, _ := panicSite(func() { _ = table[len(table)] }); !strings.HasPrefix(site, ourPackage) {
		t.Errorf("index out of range here: site %q, want in %s", site, ourPackage)
	}
	n := -1
	if site, _ := panicSite(func() { _ = strings.Repeat("x", n) }); site != "strings.Repeat" {
		t.Errorf("panic in the standard library: site %q, want strings.Repeat", site)
	}
}
