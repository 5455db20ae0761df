package assemblyai

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// uploadServer records what each upload request carried.
type uploadServer struct {
	mu       sync.Mutex
	bodies   [][]byte
	lengths  []int64
	chunked  []bool
	ctypes   []string
	authHdrs []string
}

func (s *uploadServer) handle(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.lengths = append(s.lengths, r.ContentLength)
	s.chunked = append(s.chunked, len(r.TransferEncoding) > 0)
	s.ctypes = append(s.ctypes, r.Header.Get("Content-Type"))
	s.authHdrs = append(s.authHdrs, r.Header.Get("Authorization"))
	n := len(s.bodies)
	s.mu.Unlock()
	writeJSON(w, 200, `{"upload_url":"https://cdn.assemblyai.test/upload/`+strconv.Itoa(n)+`"}`)
}

func TestUploadStreamsExactBytes(t *testing.T) {
	t.Parallel()
	var s uploadServer
	c, _ := newTestClient(t, s.handle)
	data := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 KB
	r := bytes.NewReader(data)
	for i := range 2 { // the same ReaderAt twice: each call starts at offset 0
		u, err := c.Upload(t.Context(), r, int64(len(data)))
		if err != nil {
			t.Fatalf("Upload %d: %v", i, err)
		}
		if want := "https://cdn.assemblyai.test/upload/" + strconv.Itoa(i+1); u != want {
			t.Errorf("upload_url = %q, want %q", u, want)
		}
	}
	for i := range 2 {
		if !bytes.Equal(s.bodies[i], data) {
			t.Errorf("upload %d: server got %d bytes that differ from the %d sent", i, len(s.bodies[i]), len(data))
		}
		if s.lengths[i] != int64(len(data)) || s.chunked[i] {
			t.Errorf("upload %d: Content-Length %d chunked %v, want %d and not chunked", i, s.lengths[i], s.chunked[i], len(data))
		}
		if s.ctypes[i] != "application/octet-stream" || s.authHdrs[i] != string(testKey) {
			t.Errorf("upload %d: Content-Type %q Authorization ok=%v", i, s.ctypes[i], s.authHdrs[i] == string(testKey))
		}
	}
}

func TestUploadFile(t *testing.T) {
	t.Parallel()
	var s uploadServer
	c, _ := newTestClient(t, s.handle)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.wav")
	data := []byte("RIFF....WAVEfmt some audio bytes")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var last atomic.Int64
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // opened read-only
	if _, err := c.UploadWithProgress(t.Context(), f, int64(len(data)), func(n int64) { last.Store(n) }); err != nil {
		t.Fatal(err)
	}
	if last.Load() != int64(len(data)) {
		t.Errorf("progress ended at %d, want %d", last.Load(), len(data))
	}
	if _, err := c.UploadFile(t.Context(), path); err != nil {
		t.Fatal(err)
	}
	if len(s.bodies) != 2 || !bytes.Equal(s.bodies[1], data) {
		t.Errorf("server bodies = %q", s.bodies)
	}

	empty := filepath.Join(dir, "empty.wav")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadFile(t.Context(), empty); !errors.Is(err, ErrEmptyUpload) {
		t.Errorf("empty file: %v, want ErrEmptyUpload", err)
	}
	if _, err := c.UploadFile(t.Context(), filepath.Join(dir, "missing.wav")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := c.UploadFile(t.Context(), dir); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("directory: %v, want ErrInvalidArgument", err)
	}
	if _, err := c.Upload(t.Context(), bytes.NewReader(data), MaxUploadBytes+1); !errors.Is(err, ErrUploadTooLarge) {
		t.Errorf("too large: %v, want ErrUploadTooLarge", err)
	}
	if len(s.bodies) != 2 {
		t.Errorf("bad inputs reached the server: %d uploads", len(s.bodies))
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.HandlerFunc
		want Class
	}{
		{"422", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 422, `{"error":"Upload failed"}`) }, ClassRetryable},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, ClassRetryable},
		{"413", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(413) }, ClassPermanent},
		{"429", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 429, `{"error":"Too Many Requests"}`) }, ClassThrottled},
		{"no upload_url", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{}`) }, ClassRetryable},
		{"garbled", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, `{"upload_url":`) }, ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestClient(t, tt.h)
			_, err := c.Upload(t.Context(), bytes.NewReader([]byte("audio")), 5)
			if got := Classify(err); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", err, got, tt.want)
			}
		})
	}
}

// zeros is an endless io.ReaderAt of zero bytes, so large uploads need no memory.
type zeros struct{}

func (zeros) ReadAt(p []byte, _ int64) (int, error) {
	clear(p)
	return len(p), nil
}

// TestUploadCancelMidway: cancelling the caller's context stops a large
// upload to a slow server promptly.
func TestUploadCancelMidway(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 1024)
		for { // a slow reader: 1 KiB per millisecond
			if _, err := r.Body.Read(buf); err != nil {
				return
			}
			once.Do(func() { close(started) })
			select {
			case <-done: // don't read out the socket buffers at this pace
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	t.Cleanup(func() { close(done) }) // runs before the server closes
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Upload(ctx, zeros{}, 1<<30)
		errc <- err
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	cancel()
	err := <-errc
	t.Logf("returned after %v", time.Since(t0))
	if d := time.Since(t0); d > 50*time.Millisecond {
		t.Errorf("Upload returned %v after cancel, want ≤ 50ms", d)
	}
	if Classify(err) != ClassCanceled {
		t.Errorf("Classify(%v) = %v, want canceled", err, Classify(err))
	}
}

// TestUploadStall uses an in-memory transport that stops reading the body.
func TestUploadStall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newFakeClient(t, func(r *http.Request) (*http.Response, error) {
			_, _ = io.CopyN(io.Discard, r.Body, 10)
			<-r.Context().Done()
			return nil, r.Context().Err()
		}, func(c *Config) { c.UploadStallTimeout = 10 * time.Second })
		start := time.Now()
		_, err := c.Upload(t.Context(), zeros{}, 1<<20)
		if !errors.Is(err, ErrUploadStalled) || Classify(err) != ClassRetryable {
			t.Fatalf("error = %v (class %v), want ErrUploadStalled, retryable", err, Classify(err))
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("stalled after %v, want 10s", d)
		}
	})
}

// TestUploadSlowButSteady: a stall timeout is not a total timeout. A body read
// one byte every 7s for 70s (limit 10s) completes.
func TestUploadSlowButSteady(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newFakeClient(t, func(r *http.Request) (*http.Response, error) {
			h := sha256.New()
			buf := make([]byte, 1)
			for {
				n, err := r.Body.Read(buf)
				h.Write(buf[:n])
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					return nil, err
				}
				time.Sleep(7 * time.Second)
			}
			return &http.Response{StatusCode: 200, Header: http.Header{},
				Body: io.NopCloser(bytes.NewReader([]byte(`{"upload_url":"https://cdn/u"}`)))}, nil
		}, func(c *Config) { c.UploadStallTimeout = 10 * time.Second })
		start := time.Now()
		u, err := c.Upload(t.Context(), bytes.NewReader([]byte("0123456789")), 10)
		if err != nil || u != "https://cdn/u" {
			t.Fatalf("Upload = %q, %v", u, err)
		}
		if d := time.Since(start); d < 70*time.Second {
			t.Errorf("took %v, want ≥ 70s (so the 10s stall limit was really exceeded in total)", d)
		}
	})
}

// TestUploadReplayUsesFreshReader: GetBody (used by the transport to replay a
// body) starts again from offset 0, independent of the first reader.
func TestUploadReplayUsesFreshReader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		data := []byte("hello, upload")
		c := newFakeClient(t, func(r *http.Request) (*http.Response, error) {
			first, _ := io.ReadAll(io.LimitReader(r.Body, 5))
			again, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			all, _ := io.ReadAll(again)
			if string(first) != "hello" || !bytes.Equal(all, data) || r.ContentLength != int64(len(data)) {
				t.Errorf("first %q, replay %q, length %d", first, all, r.ContentLength)
			}
			return &http.Response{StatusCode: 200, Header: http.Header{},
				Body: io.NopCloser(bytes.NewReader([]byte(`{"upload_url":"https://cdn/u"}`)))}, nil
		})
		if _, err := c.Upload(t.Context(), bytes.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	})
}
