package assemblyai

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkUploadRSS uploads a sparse file (256 MiB by default; set
// DURASCRIBE_BENCH_UPLOAD_BYTES=2200000000 for the 2.2 GB limit) to a local
// server that discards the body, and reports the growth of the process's peak
// RSS (VmHWM). The upload streams, so the growth must stay far below the
// file size (target ≤ 32 MiB for 2.2 GB).
//
//	go test -run '^$' -bench UploadRSS -benchtime 1x ./assemblyai
func BenchmarkUploadRSS(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("DURASCRIBE_BENCH_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("DURASCRIBE_BENCH_UPLOAD_BYTES=%q: want a positive byte count", v)
		}
		size = n
	}
	path := filepath.Join(b.TempDir(), "sparse.wav")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	_ = f.Close()
	if err := os.Truncate(path, size); err != nil {
		b.Fatal(err)
	}
	c, _ := newTestClient(b, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if n != size {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		writeJSON(w, 200, `{"upload_url":"https://cdn.assemblyai.test/upload/x"}`)
	}, func(c *Config) { c.MaxUploadBytes = -1 })
	before := vmHWM(b)
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.UploadFile(b.Context(), path); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(vmHWM(b)-before)/(1<<20), "peak-RSS-growth-MiB")
}

// vmHWM returns the peak resident set size in bytes, from /proc/self/status.
func vmHWM(b *testing.B) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Skip("no VmHWM in /proc/self/status")
	return 0
}
