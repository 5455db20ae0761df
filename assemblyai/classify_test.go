package assemblyai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
)

// TestClassifyAPIError covers every row of reference §3.2 (verbatim strings)
// plus the status-only cases.
func TestClassifyAPIError(t *testing.T) {
	t.Parallel()
	const (
		post   = http.MethodPost
		get    = http.MethodGet
		create = EndpointTranscripts
		one    = EndpointTranscript
	)
	tests := []struct {
		code     int
		msg      string
		method   string
		endpoint string
		want     Class
		account  bool
	}{
		{400, "Transcript creation error, audio_url not found", post, create, ClassPermanent, false},
		{400, "Transcript creation error, audio_url should start with http", post, create, ClassPermanent, false},
		{400, `speech_model is deprecated. Use "speech_models" instead. See documentation: https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model`, post, create, ClassPermanent, false},
		{400, `"speech_models" must be a non-empty list containing one or more of: "universal-3-pro", "universal-2"`, post, create, ClassPermanent, false},
		{400, `The speech_model parameter is deprecated. Use speech_models: ["universal-3-pro", "universal-2"] for the best accuracy, …`, post, create, ClassPermanent, false},
		{400, "format_text must be a Boolean", post, create, ClassPermanent, false},
		{400, "The following models are not available in this language: speaker_labels", post, create, ClassPermanent, false},
		{400, "'🇸🇬' was included in the word boost list but contains unsupported characters", post, create, ClassPermanent, false},
		{400, "Your current account balance is negative. Please top up to continue using the API.", post, create, ClassPermanent, true},
		{400, "Your current account balance is negative. Please top up.", get, one, ClassPermanent, true},
		{400, "Transcript lookup error, transcript id not found", get, one, ClassPermanent, false},
		{400, "'after_id' must be a newer transcript than 'before_id'", get, EndpointTranscripts, ClassPermanent, false},
		{401, "Authentication error, API token missing/invalid", get, one, ClassPermanent, true},
		{401, "Authentication error, API token missing/invalid.", post, EndpointUpload, ClassPermanent, true},
		{403, "Cannot access uploaded file", post, create, ClassPermanent, false},
		{403, "Rate limit exceeded: 20000 requests per 5 minutes", get, one, ClassThrottled, false},
		{403, "Too Many Requests", post, create, ClassThrottled, false},
		{404, "Not found", get, one, ClassPermanent, false},
		{404, "Not found", post, "/v2/tts", ClassPermanent, false},
		{422, "", post, EndpointUpload, ClassRetryable, false},
		{422, "Unprocessable Entity", post, create, ClassPermanent, false},
		{429, "Too Many Requests", get, one, ClassThrottled, false},
		{429, "Too Many Requests", post, create, ClassThrottled, false},
		{500, "Server error, developers have been alerted.", get, one, ClassRetryable, false},
		{500, "Internal Server Error", post, EndpointUpload, ClassRetryable, false},
		{500, "Server error, developers have been alerted.", post, create, ClassAmbiguous, false},
		{500, "Internal Server Error", post, create, ClassAmbiguous, false},
		{502, "Bad Gateway", get, one, ClassRetryable, false},
		{503, "", get, one, ClassRetryable, false},
		{503, "<html><body>Service Unavailable</body></html>", post, create, ClassAmbiguous, false},
		{504, "", get, EndpointTranscripts, ClassRetryable, false},
		{504, "", post, create, ClassAmbiguous, false},
		{408, "Request Timeout", get, one, ClassRetryable, false},
		{408, "Request Timeout", post, create, ClassAmbiguous, false},
		{501, "Not Implemented", get, one, ClassPermanent, false},
		{302, "Found", get, one, ClassPermanent, false},
		{413, "Payload Too Large", post, EndpointUpload, ClassPermanent, false},
		{520, "", get, one, ClassRetryable, false},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s %d %.40s", tt.method, tt.endpoint, tt.code, tt.msg)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := &APIError{StatusCode: tt.code, Message: tt.msg, Method: tt.method, Endpoint: tt.endpoint}
			wrapped := fmt.Errorf("stage create: %w", e)
			if got := Classify(wrapped); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
			if got := IsAccountError(wrapped); got != tt.account {
				t.Errorf("IsAccountError = %v, want %v", got, tt.account)
			}
		})
	}
}

// TestClassifyTranscriptError covers every row of reference §3.3.
func TestClassifyTranscriptError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  string
		want Class
	}{
		{"Download error, unable to download https://storage.googleapis.com/client-docs-samples/nbc.oopsie. Please make sure the file exists and is accessible from the internet.", ClassPermanent},
		{"Download error to https://foo.bar, 403 Client Error: Forbidden for url: https://foo.bar", ClassPermanent},
		{"Download error, unable to access file at https://example.com/audio.mp3", ClassPermanent},
		{"Download Error: 404 Client Error: Not Found for url", ClassPermanent},
		{"Download error to https://foo.bar/500.mp3, 404 Client Error: Not Found for url: https://foo.bar/500.mp3", ClassPermanent},
		{"Download error to https://foo.bar, 503 Server Error: Service Unavailable for url: https://foo.bar", ClassRetryable},
		{"Download error, http_error: 502 Bad Gateway from https://foo.bar/a.mp3", ClassRetryable},
		{"Download error, http_error: 403 Forbidden from https://foo.bar/a.mp3", ClassPermanent},
		{"Download error, timeout while downloading https://foo.bar/a.mp3", ClassRetryable},
		{"Download error, connection_failure for https://foo.bar/a.mp3", ClassRetryable},
		{"File does not appear to contain audio. File type is text/html (HTML document, ASCII text, with very long lines (56754)).", ClassPermanent},
		{"Transcoding failed. File does not appear to contain audio. File type is application/octet-stream (data)", ClassPermanent},
		{"Transcoding failed. File does not appear to contain audio. File type is text/plain (ASCII text).", ClassPermanent},
		{"Transcoding failed. File does not appear to contain audio. File type is application/octet-stream (Audio file with ID3 version 2.4.0).", ClassPermanent},
		{"Transcoding failed. File type text/html", ClassPermanent},
		{"Transcoding failed. File type application/json", ClassPermanent},
		{"Transcoding failed. File type audio/mp4 (mp4) may be unsupported. Try a direct MP3/MP4 URL.", ClassPermanent},
		{"Audio duration is too short.", ClassPermanent},
		{"language_detection cannot be performed on files with no spoken audio.", ClassPermanent},
		{"detected language 'bg', confidence 0.2949, is below the requested confidence threshold value of '0.4'", ClassPermanent},
		{"Audio speech threshold 0.9461 is below the requested speech threshold value 1.0", ClassPermanent},
		{"Server error, developers have been alerted", ClassRetryable},
		{"Server error, developers have been alerted.", ClassRetryable},
		{"Internal server error. Please retry your request. If the error persists, please contact support@assemblyai.com for more information.", ClassRetryable},
		{"Internal server error. Please retry your request", ClassRetryable},
		{"the operation timed out", ClassRetryable},
		{"Transcoding failed", ClassPermanent},
		{"", ClassPermanent},
		{"something new and unknown", ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.50s", tt.msg), func(t *testing.T) {
			t.Parallel()
			if got := ClassifyTranscriptError(tt.msg); got != tt.want {
				t.Errorf("ClassifyTranscriptError(%q) = %v, want %v", tt.msg, got, tt.want)
			}
		})
	}
}

func TestClassifyOtherErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), ClassCanceled},
		{"deadline", context.DeadlineExceeded, ClassCanceled},
		{"canceled sent create", &TransportError{Method: "POST", Endpoint: EndpointTranscripts, Sent: true, Err: context.Canceled}, ClassCanceled},
		{"transport sent create", &TransportError{Method: "POST", Endpoint: EndpointTranscripts, Sent: true, Err: errors.New("EOF")}, ClassAmbiguous},
		{"transport unsent create", &TransportError{Method: "POST", Endpoint: EndpointTranscripts, Err: errors.New("refused")}, ClassRetryable},
		{"transport sent get", &TransportError{Method: "GET", Endpoint: EndpointTranscript, Sent: true, Err: errors.New("EOF")}, ClassRetryable},
		{"our timeout sent create", &TransportError{Method: "POST", Endpoint: EndpointTranscripts, Sent: true, Err: ErrRequestTimeout}, ClassAmbiguous},
		{"stalled upload", &TransportError{Method: "POST", Endpoint: EndpointUpload, Sent: false, Err: ErrUploadStalled}, ClassRetryable},
		{"garbled create", &ResponseError{Method: "POST", Endpoint: EndpointTranscripts, StatusCode: 200, Err: errors.New("unexpected EOF")}, ClassAmbiguous},
		{"garbled get", &ResponseError{Method: "GET", Endpoint: EndpointTranscript, StatusCode: 200, Err: errors.New("unexpected EOF")}, ClassRetryable},
		{"too large get", &ResponseError{Method: "GET", Endpoint: EndpointTranscript, StatusCode: 200, Err: ErrResponseTooLarge}, ClassPermanent},
		{"too large create", &ResponseError{Method: "POST", Endpoint: EndpointTranscripts, StatusCode: 200, Err: ErrResponseTooLarge}, ClassAmbiguous},
		{"bad argument", fmt.Errorf("get transcript: %w", ErrEmptyID), ClassPermanent},
		{"unknown", errors.New("boom"), ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassString(t *testing.T) {
	t.Parallel()
	want := map[Class]string{ClassNone: "none", ClassRetryable: "retryable", ClassThrottled: "throttled",
		ClassAmbiguous: "ambiguous", ClassPermanent: "permanent", ClassCanceled: "canceled", Class(42): "class(42)"}
	for c, s := range want {
		if c.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(c), c.String(), s)
		}
	}
}
