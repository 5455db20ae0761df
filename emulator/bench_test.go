package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/durascribe/durascribe/emulator"
	"github.com/durascribe/durascribe/emulator/emulatortest"
)

func benchClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func mustDo(b *testing.B, c *http.Client, method, url string, body io.Reader, v any) {
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Authorization", "k")
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	if resp.StatusCode != 200 {
		b.Fatalf("%s %s: %d", method, url, resp.StatusCode)
	}
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			b.Fatal(err)
		}
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
	}
}

// seed creates n transcripts of a 30 s WAV and waits until all completed.
func seed(b *testing.B, srv *emulatortest.Server, c *http.Client, n int) []string {
	var up struct {
		UploadURL string `json:"upload_url"`
	}
	mustDo(b, c, "POST", srv.URL+"/v2/upload", bytes.NewReader(makeWAV(30)), &up)
	body := `{"audio_url":"` + up.UploadURL + `"}`
	ids := make([]string, n)
	for i := range ids {
		var tr struct{ ID string }
		mustDo(b, c, "POST", srv.URL+"/v2/transcript", strings.NewReader(body), &tr)
		ids[i] = tr.ID
	}
	for srv.Emulator.Stats().Transcripts["completed"] < n {
		mustDo(b, c, "GET", srv.URL+"/v2/transcript/"+ids[0], nil, nil)
	}
	return ids
}

// BenchmarkGetTranscript measures GET /v2/transcript/{id} on loopback
// (client and server share the machine). Target: >= 5,000/s on 2 cores.
func BenchmarkGetTranscript(b *testing.B) {
	srv := emulatortest.New(b, emulator.Config{TimeScale: 1e-6, Concurrency: -1})
	c := benchClient(b)
	ids := seed(b, srv, c, 100)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			mustDo(b, c, "GET", srv.URL+"/v2/transcript/"+ids[i%len(ids)], nil, nil)
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkTranscriptsInMemory checks that get and list stay fast with
// 10,000 transcripts held in memory.
func BenchmarkTranscriptsInMemory(b *testing.B) {
	for _, n := range []int{100, 10000} {
		srv := emulatortest.New(b, emulator.Config{TimeScale: 1e-6, Concurrency: -1, RateLimit: -1})
		c := benchClient(b)
		ids := seed(b, srv, c, n)
		b.Run(fmt.Sprintf("get/%d", n), func(b *testing.B) {
			for i := range b.N {
				mustDo(b, c, "GET", srv.URL+"/v2/transcript/"+ids[i%len(ids)], nil, nil)
			}
		})
		b.Run(fmt.Sprintf("list/%d", n), func(b *testing.B) {
			for range b.N {
				mustDo(b, c, "GET", srv.URL+"/v2/transcript?limit=100&status=completed", nil, nil)
			}
		})
	}
}

// pattern is an endless reader of non-trivial bytes that holds no memory.
type pattern struct{ n byte }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = p.n
		p.n += 7
	}
	return len(b), nil
}

// BenchmarkUpload streams one upload of EMULATOR_BENCH_UPLOAD_BYTES (default
// 256 MiB; set 2200000000 for the 2.2 GB case) per iteration, chunked, and
// reports throughput and the growth of the process's peak RSS (client and
// server together). Targets: >= 200 MB/s; <= 32 MiB RSS growth at 2.2 GB.
func BenchmarkUpload(b *testing.B) {
	size := int64(256 << 20)
	if v := os.Getenv("EMULATOR_BENCH_UPLOAD_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	srv := emulatortest.New(b, emulator.Config{DataDir: b.TempDir()})
	c := benchClient(b)
	rssBefore := procStatusKiB("VmRSS")
	resetPeakRSS()
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		// Wrapping hides the reader's type, so the body is sent chunked.
		mustDo(b, c, "POST", srv.URL+"/v2/upload", struct{ io.Reader }{io.LimitReader(&pattern{}, size)}, nil)
	}
	b.StopTimer()
	if peak := procStatusKiB("VmHWM"); peak > 0 && rssBefore > 0 {
		b.ReportMetric(float64(peak-rssBefore)/1024, "peak-rss-growth-MiB")
	}
}

// procStatusKiB reads a "Name: N kB" line of /proc/self/status (Linux).
func procStatusKiB(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux >= 4.0).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }
