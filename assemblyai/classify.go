package assemblyai

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// Class is what a caller should do about an error. Classify is the one place
// in durascribe that reads status codes and error messages.
type Class int

// The classes.
const (
	// ClassNone is the class of a nil error.
	ClassNone Class = iota
	// ClassRetryable: transient; retry the same request after a backoff.
	ClassRetryable
	// ClassThrottled: rate-limited; retry after Retry-After (or a longer
	// backoff) and slow down.
	ClassThrottled
	// ClassAmbiguous: the request may have taken effect (a transcript may
	// have been created). Reconcile before retrying; never blind-retry.
	ClassAmbiguous
	// ClassPermanent: retrying the same request will fail the same way.
	ClassPermanent
	// ClassCanceled: the caller's context was cancelled or expired.
	ClassCanceled
)

var classNames = [...]string{"none", "retryable", "throttled", "ambiguous", "permanent", "canceled"}

// String returns the lower-case name of the class ("retryable", ...).
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return "class(" + strconv.Itoa(int(c)) + ")"
	}
	return classNames[c]
}

// MarshalText returns String.
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Classify tells what to do about an error returned by a Client method:
//
//   - nil: ClassNone.
//   - The caller's context cancelled or expired (errors.Is context.Canceled or
//     context.DeadlineExceeded): ClassCanceled. This wins over everything
//     else, but a *TransportError with Sent set on POST /v2/transcript still
//     means a transcript may exist. Our own Config timeouts are not context
//     errors: they are *TransportError (ErrRequestTimeout, ErrUploadStalled).
//   - *APIError: 429, and 403 with a rate-limit message, are ClassThrottled.
//     408 and 5xx (except 501 and 505) are ClassRetryable, but
//     ClassAmbiguous on POST /v2/transcript (the job may have been created).
//     422 on /v2/upload is ClassRetryable (the caller should bound it to a
//     few attempts: a persisting 422 usually means an empty file). Every
//     other status is ClassPermanent.
//   - *TransportError: ClassAmbiguous when Sent on POST /v2/transcript,
//     ClassRetryable otherwise.
//   - *ResponseError (a 2xx with an unreadable body): ClassAmbiguous on
//     POST /v2/transcript; ClassPermanent for ErrResponseTooLarge elsewhere
//     (it would recur); ClassRetryable otherwise.
//   - Anything else (bad arguments, configuration, unknown errors):
//     ClassPermanent, so that an unexpected error stops instead of looping.
func Classify(err error) Class {
	if err == nil {
		return ClassNone
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassCanceled
	}
	if e, ok := errors.AsType[*APIError](err); ok {
		return classifyAPIError(e)
	}
	if e, ok := errors.AsType[*TransportError](err); ok {
		if e.Sent && isCreate(e.Method, e.Endpoint) {
			return ClassAmbiguous
		}
		return ClassRetryable
	}
	if e, ok := errors.AsType[*ResponseError](err); ok {
		switch {
		case isCreate(e.Method, e.Endpoint):
			return ClassAmbiguous
		case errors.Is(e.Err, ErrResponseTooLarge):
			return ClassPermanent
		}
		return ClassRetryable
	}
	return ClassPermanent
}

func isCreate(method, endpoint string) bool {
	return method == http.MethodPost && endpoint == EndpointTranscripts
}

func classifyAPIError(e *APIError) Class {
	code := e.StatusCode
	switch {
	case code == http.StatusTooManyRequests:
		return ClassThrottled
	case code == http.StatusForbidden && looksRateLimited(e.Message):
		return ClassThrottled
	case code == http.StatusRequestTimeout || (code >= 500 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported):
		if isCreate(e.Method, e.Endpoint) {
			return ClassAmbiguous
		}
		return ClassRetryable
	case code == http.StatusUnprocessableEntity && e.Endpoint == EndpointUpload:
		return ClassRetryable
	}
	return ClassPermanent
}

func looksRateLimited(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"rate limit", "rate-limit", "ratelimit", "too many requests", "throttl", "requests per"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// IsAccountError reports whether err means the account cannot be used at all
// (401: bad key, disabled account; 400 "Your current account balance is
// negative..."), so a whole batch must stop rather than only this file.
func IsAccountError(err error) bool {
	e, ok := errors.AsType[*APIError](err)
	if !ok {
		return false
	}
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return true
	case http.StatusBadRequest, http.StatusPaymentRequired, http.StatusForbidden:
		return strings.Contains(strings.ToLower(e.Message), "account balance is negative")
	}
	return false
}

// transientTranscriptErrors are the documented "resubmit" messages, matched
// as a case-insensitive prefix after trimming a trailing ".", like AssemblyAI's
// retry-server-error guide.
var transientTranscriptErrors = []string{
	"Internal server error. Please retry your request. If the error persists, please contact support@assemblyai.com for more information.",
	"Internal server error",
	"Server error, developers have been alerted.",
}

var (
	urlPattern        = regexp.MustCompile(`https?://\S+`)
	serverErrorStatus = regexp.MustCompile(`\b5\d\d\b`)
)

// ClassifyTranscriptError classifies the error message of a transcript that
// ended with status "error" (HTTP 200). ClassRetryable means resubmitting the
// same audio may succeed: the documented server errors ("Internal server
// error. Please retry...", legacy "Server error, developers have been
// alerted"), "the operation timed out", and download errors caused by the
// origin's 5xx, a timeout or a connection failure. Everything else
// ("Transcoding failed...", "Audio duration is too short.", a 4xx download
// error, language detection or threshold failures...) is ClassPermanent.
func ClassifyTranscriptError(message string) Class {
	msg := strings.ToLower(strings.TrimSpace(message))
	if msg == "" {
		return ClassPermanent
	}
	for _, t := range transientTranscriptErrors {
		if strings.HasPrefix(msg, strings.ToLower(strings.TrimRight(t, "."))) {
			return ClassRetryable
		}
	}
	if strings.Contains(msg, "the operation timed out") {
		return ClassRetryable
	}
	if strings.HasPrefix(msg, "download error") {
		// URLs may contain anything ("/500.mp3"): look at the rest only.
		rest := urlPattern.ReplaceAllString(msg, "<url>")
		if strings.Contains(rest, "client error") {
			return ClassPermanent
		}
		for _, s := range []string{"server error", "timeout", "timed out", "connection_failure", "connection failure", "connection error", "connection reset", "connection refused"} {
			if strings.Contains(rest, s) {
				return ClassRetryable
			}
		}
		if serverErrorStatus.MatchString(rest) {
			return ClassRetryable
		}
	}
	return ClassPermanent
}
