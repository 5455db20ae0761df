package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	aai "github.com/AssemblyAI/assemblyai-go-sdk"

	"github.com/durascribe/durascribe/assemblyai"
	"github.com/durascribe/durascribe/resilience"
)

// The official Go SDK v1.3.0's Wait: cenkalti/backoff v2.2.1
// ExponentialBackOff with InitialInterval 3 s and the library's defaults
// (multiplier 1.5, randomization ±50 %, MaxInterval 60 s, MaxElapsedTime
// 15 min), driven by a ticker that ticks at once. After MaxElapsedTime the
// ticker's channel is closed and Wait polls with no delay at all.
const (
	sdkPollInitial     = 3 * time.Second
	sdkPollMultiplier  = 1.5
	sdkPollRandomize   = 0.5
	sdkPollMax         = 60 * time.Second
	sdkPollMaxElapsed  = 15 * time.Minute
	seedMaxAttempts    = 5
	seedWaitMin        = 2 * time.Second
	seedWaitMax        = 60 * time.Second
	seedWaitMultiplier = 1.0
)

// sdkContender is the official SDK used per file, either as is (naive) or
// wrapped in the seed's tenacity recipe.
type sdkContender struct {
	client *aai.Client
	scale  float64
	retry  bool
}

// newSDKContender returns the naive-sdk contender, or seed-recipe when retry
// is set. The SDK's http.Client is the default (no timeout) with a
// transport that only observes responses, to tell transient causes apart.
func newSDKContender(o childOptions, key assemblyai.APIKey, retry bool) contenderFunc {
	hc := &http.Client{Transport: &tracingTransport{base: http.DefaultTransport}}
	c := &sdkContender{
		client: aai.NewClientWithOptions(aai.WithAPIKey(key.Reveal()), aai.WithBaseURL(o.BaseURL), aai.WithHTTPClient(hc)),
		scale:  o.TimeScale,
		retry:  retry,
	}
	return c.transcribe
}

func (c *sdkContender) transcribe(ctx context.Context, path string) fileOutcome {
	transient := true
	var last error
	for attempt := 1; ; attempt++ {
		tr := &trace{}
		err := c.once(withTrace(ctx, tr), path)
		if err == nil {
			return fileOutcome{OK: true}
		}
		cause := tr.cause(err)
		last = cause
		transient = transient && isTransient(cause)
		if !c.retry || attempt >= seedMaxAttempts || !seedRetries(cause) {
			break
		}
		if resilience.Sleep(ctx, scaled(tenacityWait(attempt), c.scale)) != nil {
			break
		}
	}
	return fileOutcome{TransientOnly: transient, Error: last.Error()}
}

// once is TranscribeFromReader: upload, create, then the SDK's Wait (see
// sdkWait).
func (c *sdkContender) once(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open input: %w", err)
	}
	defer f.Close() //nolint:errcheck // opened read-only
	tr, err := c.client.Transcripts.SubmitFromReader(ctx, f, nil)
	if err != nil {
		return err
	}
	if tr.ID == nil {
		return errors.New("submit: no transcript id")
	}
	tr, err = c.wait(ctx, *tr.ID)
	if err != nil {
		return err
	}
	if tr.Status == aai.TranscriptStatusError {
		msg := ""
		if tr.Error != nil {
			msg = *tr.Error
		}
		return &transcriptFailed{message: msg}
	}
	return nil
}

// wait is the SDK's Wait at the SDK's cadence multiplied by the time scale:
// a Get at once, then after each randomized exponential interval; the
// first Get error ends it. The SDK's own Wait cannot be scaled from outside.
func (c *sdkContender) wait(ctx context.Context, id string) (aai.Transcript, error) {
	start := time.Now()
	interval := float64(sdkPollInitial)
	for {
		tr, err := c.client.Transcripts.Get(ctx, id)
		if err != nil {
			return tr, err
		}
		if tr.Status == aai.TranscriptStatusCompleted || tr.Status == aai.TranscriptStatusError {
			return tr, nil
		}
		var d time.Duration
		if time.Since(start) < scaled(sdkPollMaxElapsed, c.scale) {
			// cenkalti: interval·(1 ± randomization), then grow by the multiplier.
			delta := sdkPollRandomize * interval
			d = time.Duration(interval - delta + rand.Float64()*(2*delta+1)) //nolint:gosec // jitter
			interval = math.Min(interval*sdkPollMultiplier, float64(sdkPollMax))
		} // else: the closed-ticker bug, polls back to back.
		if err := resilience.Sleep(ctx, scaled(d, c.scale)); err != nil {
			return aai.Transcript{}, err
		}
	}
}

// tenacityWait is wait_exponential(multiplier=1, min=2, max=60) after the
// attempt-th failure: max(min, min(multiplier·2^(attempt−1), max)), no jitter.
func tenacityWait(attempt int) time.Duration {
	w := seedWaitMultiplier * math.Pow(2, float64(attempt-1)) * float64(time.Second)
	return max(seedWaitMin, min(time.Duration(w), seedWaitMax))
}

// seedRetries is the seed's retry predicate: server errors (HTTP 5xx on any
// call) and upload errors (any failure of POST /v2/upload). 4xx, 429,
// connection errors after the upload and transcripts that end with status
// "error" are not retried.
func seedRetries(cause error) bool {
	var ae *assemblyai.APIError
	if errors.As(cause, &ae) {
		return ae.StatusCode >= 500 || ae.Endpoint == assemblyai.EndpointUpload
	}
	var te *assemblyai.TransportError
	if errors.As(cause, &te) {
		return te.Endpoint == assemblyai.EndpointUpload
	}
	var re *assemblyai.ResponseError
	if errors.As(cause, &re) {
		return re.Endpoint == assemblyai.EndpointUpload
	}
	return false
}

// transcriptFailed is a transcript that ended with status "error".
type transcriptFailed struct{ message string }

func (e *transcriptFailed) Error() string { return "transcript error: " + e.message }

// isTransient reports whether a failure cause is one a patient client would
// have survived, by durascribe's classifier (the one place that reads status
// codes and messages).
func isTransient(cause error) bool {
	var tf *transcriptFailed
	if errors.As(cause, &tf) {
		return assemblyai.ClassifyTranscriptError(tf.message) == assemblyai.ClassRetryable
	}
	if errors.Is(cause, errRunTimeout) {
		return false
	}
	switch assemblyai.Classify(cause) {
	case assemblyai.ClassRetryable, assemblyai.ClassThrottled, assemblyai.ClassAmbiguous:
		return true
	}
	return false
}

// trace records the last response (or transport failure) of one attempt, so
// that an SDK error, which loses the status code, can be classified.
type trace struct {
	mu       sync.Mutex
	method   string
	endpoint string
	status   int
	message  string
	err      error
}

type traceKey struct{}

func withTrace(ctx context.Context, t *trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// cause turns the SDK's error into durascribe's error types, from what the
// transport saw last.
func (t *trace) cause(sdkErr error) error {
	var tf *transcriptFailed
	if errors.As(sdkErr, &tf) || errors.Is(sdkErr, context.Canceled) || errors.Is(sdkErr, context.DeadlineExceeded) {
		return sdkErr
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.method == "":
		return sdkErr
	case t.err != nil:
		return &assemblyai.TransportError{Method: t.method, Endpoint: t.endpoint, Sent: true, Err: t.err}
	case t.status != http.StatusOK:
		return &assemblyai.APIError{StatusCode: t.status, Message: t.message, Method: t.method, Endpoint: t.endpoint}
	}
	return &assemblyai.ResponseError{Method: t.method, Endpoint: t.endpoint, StatusCode: t.status, Err: sdkErr}
}

// tracingTransport records each response's status and error message in the
// request's trace. It changes nothing the SDK sees.
type tracingTransport struct{ base http.RoundTripper }

func (rt *tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t, _ := req.Context().Value(traceKey{}).(*trace)
	resp, err := rt.base.RoundTrip(req)
	if t == nil {
		return resp, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.method, t.endpoint, t.status, t.message, t.err = req.Method, endpointOf(req.Method, req.URL.Path), 0, "", err
	if err != nil {
		return resp, err
	}
	t.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{rerr}))
		var body struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &body) == nil {
			t.message = body.Error
		}
	}
	return resp, nil
}

// errReader returns err (io.EOF when nil) at the end of a replayed body.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	return 0, io.EOF
}

// endpointOf maps a request path to durascribe's route template.
func endpointOf(method, path string) string {
	switch {
	case path == assemblyai.EndpointUpload:
		return assemblyai.EndpointUpload
	case path == assemblyai.EndpointTranscripts:
		return assemblyai.EndpointTranscripts
	case strings.HasPrefix(path, assemblyai.EndpointTranscripts+"/"):
		return assemblyai.EndpointTranscript
	}
	return method + " " + path
}

// scaled multiplies d by the time scale.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) * scale)
}
