package assemblyai

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinel errors. Compare with errors.Is; most are returned wrapped with
// detail.
var (
	// ErrNoAPIKey is returned by New and Config.Validate when neither
	// Config.APIKey nor $ASSEMBLYAI_API_KEY is set.
	ErrNoAPIKey = errors.New("no API key: set ASSEMBLYAI_API_KEY or --api-key")
	// ErrInvalidAPIKey means the key contains characters that cannot be sent
	// in an HTTP header (the key itself is never included in the message).
	ErrInvalidAPIKey = errors.New("invalid API key: contains whitespace or control characters")
	// ErrInvalidBaseURL means Config.BaseURL is not an absolute http(s) URL.
	ErrInvalidBaseURL = errors.New("invalid base url")
	// ErrInsecureURL means Config.BaseURL uses plain http to a host that is
	// not loopback and Config.AllowInsecureHTTP is false.
	ErrInsecureURL = errors.New("insecure base url: plain http to a non-loopback host")
	// ErrInvalidArgument means a method argument was rejected before any
	// request was sent (bad list parameters, subtitle format, word list...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrEmptyID means a transcript id argument was empty.
	ErrEmptyID = errors.New("empty transcript id")
	// ErrNoAudioURL means TranscriptParams.AudioURL was empty.
	ErrNoAudioURL = errors.New("no audio_url")
	// ErrExtraKeyConflict means TranscriptParams.Extra names a key that a
	// typed field of TranscriptParams also sets.
	ErrExtraKeyConflict = errors.New("extra key conflicts with a typed field")
	// ErrEmptyUpload means the upload source has size 0: AssemblyAI answers
	// 422 for empty files, so it is refused before sending.
	ErrEmptyUpload = errors.New("empty upload: file has no bytes")
	// ErrUploadTooLarge means the upload source exceeds Config.MaxUploadBytes.
	ErrUploadTooLarge = errors.New("upload too large")
	// ErrForeignPageURL means a pagination URL given to ListTranscriptsPage is
	// not on the client's base URL (scheme, host and /v2/transcript path).
	ErrForeignPageURL = errors.New("page url is not on the API host")
	// ErrResponseTooLarge means a response body exceeded
	// Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response body too large")
	// ErrIncompleteResponse means a 2xx response decoded but lacked a
	// required field (upload_url, id).
	ErrIncompleteResponse = errors.New("incomplete response")
	// ErrRequestTimeout is the cause of a JSON request cut off by
	// Config.RequestTimeout (not by the caller's context).
	ErrRequestTimeout = errors.New("request timed out")
	// ErrUploadStalled is the cause of an upload cancelled because the
	// transport read no body bytes (or got no response) for
	// Config.UploadStallTimeout.
	ErrUploadStalled = errors.New("upload stalled")
)

// APIError is a non-2xx HTTP response from the API. Use Classify to decide
// what to do about it rather than reading StatusCode or Message directly.
type APIError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Message is the body's "error" field verbatim. For a body that is not
	// JSON (an HTML page from a load balancer, plain text) it is a short,
	// single-line excerpt of the body, or http.StatusText when the body is
	// empty.
	Message string
	// Method is the HTTP method ("POST").
	Method string
	// Endpoint is the route template, e.g. "/v2/transcript/{id}".
	Endpoint string
	// TranscriptID is the id in the route, when it has one.
	TranscriptID string
	// RetryAfter is the parsed Retry-After header; 0 when absent or invalid.
	RetryAfter time.Duration
}

// Error returns e.g.
// "POST /v2/transcript: 400 Bad Request: Transcript creation error, audio_url not found".
func (e *APIError) Error() string {
	var b strings.Builder
	writeRoute(&b, e.Method, e.Endpoint, e.TranscriptID)
	fmt.Fprintf(&b, ": %d", e.StatusCode)
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteString(" " + t)
	}
	if e.Message != "" && e.Message != http.StatusText(e.StatusCode) {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// TransportError is a request that got no HTTP response: a refused or reset
// connection, a timeout, a cancelled context. Sent reports whether the whole
// request (headers and body) had been written when it failed: a sent
// POST /v2/transcript may have created a transcript.
type TransportError struct {
	Method       string
	Endpoint     string
	TranscriptID string
	// Sent reports whether the request was fully written to the connection.
	Sent bool
	// Err is the cause: a net error, ErrRequestTimeout, ErrUploadStalled, or
	// the caller's context error.
	Err error
}

// Error returns e.g. "POST /v2/transcript: request sent, no response: EOF".
func (e *TransportError) Error() string {
	var b strings.Builder
	writeRoute(&b, e.Method, e.Endpoint, e.TranscriptID)
	if e.Sent {
		b.WriteString(": request sent, no response: ")
	} else {
		b.WriteString(": no response: ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns Err.
func (e *TransportError) Unwrap() error { return e.Err }

// ResponseError is a 2xx response whose body could not be read in full or
// decoded. On POST /v2/transcript it means the transcript was probably created
// but its id is unknown (ClassAmbiguous).
type ResponseError struct {
	Method       string
	Endpoint     string
	TranscriptID string
	StatusCode   int
	// Err is the read or decode error, ErrResponseTooLarge or
	// ErrIncompleteResponse.
	Err error
}

// Error returns e.g. "GET /v2/transcript/{id}: bad 200 response: unexpected EOF".
func (e *ResponseError) Error() string {
	var b strings.Builder
	writeRoute(&b, e.Method, e.Endpoint, e.TranscriptID)
	fmt.Fprintf(&b, ": bad %d response: %v", e.StatusCode, e.Err)
	return b.String()
}

// Unwrap returns Err.
func (e *ResponseError) Unwrap() error { return e.Err }

func writeRoute(b *strings.Builder, method, endpoint, id string) {
	b.WriteString(method + " " + endpoint)
	if id != "" {
		b.WriteString(" (transcript " + id + ")")
	}
}
