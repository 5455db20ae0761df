package assemblyai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Upload streams size bytes of r to POST /v2/upload and returns the
// upload_url. Each call (and each transport-level replay through GetBody)
// reads from offset 0 through a fresh io.SectionReader, so r is never shared
// between attempts and nothing is buffered in memory. The request carries
// Content-Length: size.
//
// There is no total timeout: the upload is cancelled with ErrUploadStalled
// when the transport reads no body bytes (and, once the body is sent, gets no
// response) for Config.UploadStallTimeout. A duplicate upload is harmless (it
// costs bandwidth only), so every failure except a bad argument or a 4xx is
// safe to retry; see Classify.
func (c *Client) Upload(ctx context.Context, r io.ReaderAt, size int64) (string, error) {
	return c.UploadWithProgress(ctx, r, size, nil)
}

// UploadWithProgress is Upload with a progress hook. progress, when not nil,
// is called from the transport's goroutine with the number of body bytes
// read so far in the current attempt (it restarts from 0 if the transport
// replays the body). It must be fast and safe for concurrent use with the
// caller; it is not called after UploadWithProgress returns.
func (c *Client) UploadWithProgress(ctx context.Context, r io.ReaderAt, size int64, progress func(sent int64)) (string, error) {
	switch {
	case size == 0:
		return "", fmt.Errorf("upload audio: %w", ErrEmptyUpload)
	case size < 0:
		return "", fmt.Errorf("upload audio: %w: negative size %d", ErrInvalidArgument, size)
	case c.cfg.MaxUploadBytes >= 0 && size > c.cfg.MaxUploadBytes:
		return "", fmt.Errorf("upload audio: %w: %d bytes, limit %d", ErrUploadTooLarge, size, c.cfg.MaxUploadBytes)
	}
	k := call{method: http.MethodPost, endpoint: EndpointUpload, path: EndpointUpload}

	reqCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := newStallWatch(c.cfg.UploadStallTimeout, func() {
		cancel(fmt.Errorf("%w: no progress for %s", ErrUploadStalled, c.cfg.UploadStallTimeout))
	}, progress)
	defer watch.stop()

	var sent atomic.Bool
	reqCtx = httptrace.WithClientTrace(reqCtx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			sent.Store(i.Err == nil)
			watch.touch(-1) // body sent: now waiting for the response
		},
	})
	newBody := func() io.ReadCloser {
		watch.touch(0)
		return io.NopCloser(&countingReader{r: io.NewSectionReader(r, 0, size), watch: watch})
	}
	u := *c.base
	u.Path = k.path
	req, err := http.NewRequestWithContext(reqCtx, k.method, u.String(), newBody())
	if err != nil {
		return "", fmt.Errorf("build upload request: %w", err)
	}
	req.ContentLength = size
	req.GetBody = func() (io.ReadCloser, error) { return newBody(), nil }
	c.setHeaders(req, "application/octet-stream")

	resp, err := c.hc.Do(req) //nolint:bodyclose // closed by the deferred drainClose just below, in every path
	if err != nil {
		return "", c.transportError(ctx, reqCtx, k, sent.Load(), err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", c.apiError(k, resp)
	}
	b, err := c.readBody(resp.Body)
	if err == nil {
		var up struct {
			UploadURL string `json:"upload_url"`
		}
		if err = json.Unmarshal(b, &up); err == nil {
			if up.UploadURL != "" {
				return up.UploadURL, nil
			}
			err = fmt.Errorf("%w: no upload_url", ErrIncompleteResponse)
		} else {
			err = fmt.Errorf("decode body: %w", err)
		}
	} else if ctx.Err() != nil {
		err = contextError(ctx)
	} else if reqCtx.Err() != nil {
		err = context.Cause(reqCtx)
	}
	return "", &ResponseError{Method: k.method, Endpoint: k.endpoint, StatusCode: resp.StatusCode, Err: err}
}

// UploadFile opens path, checks that it is a non-empty regular file, uploads
// it with Upload and closes it.
func (c *Client) UploadFile(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("upload file: %w", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only: a close error loses nothing
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("upload file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("upload file: %w: %s is not a regular file", ErrInvalidArgument, path)
	}
	if fi.Size() == 0 {
		return "", fmt.Errorf("upload file %s: %w", path, ErrEmptyUpload)
	}
	return c.Upload(ctx, f, fi.Size())
}

// countingReader reports every read to a stallWatch. It lives inside the
// per-attempt SectionReader chain, so it never hides ReaderAt from anyone.
type countingReader struct {
	r     io.Reader
	n     int64
	watch *stallWatch
}

func (cr *countingReader) Read(p []byte) (int, error) {
	n, err := cr.r.Read(p)
	if n > 0 {
		cr.n += int64(n)
		cr.watch.touch(cr.n)
	}
	return n, err
}

// stallWatch calls fire when touch has not been called for d. It uses a
// time.AfterFunc timer, so it owns no goroutine; after stop it does nothing.
type stallWatch struct {
	mu       sync.Mutex
	d        time.Duration
	t        *time.Timer
	progress func(int64)
	stopped  bool
}

func newStallWatch(d time.Duration, fire func(), progress func(int64)) *stallWatch {
	return &stallWatch{d: d, t: time.AfterFunc(d, fire), progress: progress}
}

// touch records progress: n is the bytes read so far in this attempt, or -1
// when the body is fully sent.
func (w *stallWatch) touch(n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.t.Reset(w.d)
	if w.progress != nil && n >= 0 {
		w.progress(n)
	}
}

func (w *stallWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.t.Stop()
}
