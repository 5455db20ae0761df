package assemblyai_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/durascribe/durascribe/assemblyai"
)

// A stand-in for the API; in real use, leave BaseURL empty.
func fakeAPI() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v2/upload":
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = fmt.Fprint(w, `{"upload_url":"https://cdn.assemblyai.com/upload/1d3a"}`)
		case r.URL.Path == "/v2/transcript" && r.Method == http.MethodPost:
			_, _ = fmt.Fprint(w, `{"id":"6e1b1c51-7c4e-4c39-9f5e-6a0f4b0a7a11","status":"queued","audio_url":"https://cdn.assemblyai.com/upload/1d3a"}`)
		default:
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprint(w, `{"error":"Too Many Requests"}`)
		}
	}))
}

func ExampleClient_CreateTranscript() {
	srv := fakeAPI()
	defer srv.Close()

	client, err := assemblyai.New(assemblyai.Config{APIKey: "your-api-key", BaseURL: srv.URL})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.CloseIdleConnections()

	t, err := client.CreateTranscript(context.Background(), assemblyai.TranscriptParams{
		AudioURL:      "https://cdn.assemblyai.com/upload/1d3a",
		SpeakerLabels: assemblyai.Bool(true),
		LanguageCode:  assemblyai.String("en_us"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(t.ID, t.Status)
	// Output: 6e1b1c51-7c4e-4c39-9f5e-6a0f4b0a7a11 queued
}

func ExampleClassify() {
	srv := fakeAPI()
	defer srv.Close()
	client, _ := assemblyai.New(assemblyai.Config{APIKey: "your-api-key", BaseURL: srv.URL})
	defer client.CloseIdleConnections()

	_, err := client.GetTranscript(context.Background(), "6e1b1c51-7c4e-4c39-9f5e-6a0f4b0a7a11")
	fmt.Println(assemblyai.Classify(err))
	if apiErr, ok := errors.AsType[*assemblyai.APIError](err); ok {
		fmt.Println(apiErr.StatusCode, apiErr.Message)
	}
	fmt.Println(assemblyai.ClassifyTranscriptError("Server error, developers have been alerted."))
	fmt.Println(assemblyai.ClassifyTranscriptError("Audio duration is too short."))
	// Output:
	// throttled
	// 429 Too Many Requests
	// retryable
	// permanent
}

func ExampleAPIKey() {
	key := assemblyai.APIKey("sk-live-secret")
	fmt.Println(key, fmt.Sprintf("%#v", key))
	// Output: [redacted] [redacted]
}

func ExampleParseRetryAfter() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "1.5", "Fri, 27 Nov 2026 12:00:30 GMT", "Fri, 27 Nov 2026 11:00:00 GMT", "soon"} {
		d, ok := assemblyai.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 1.5s true
	// 30s true
	// 0s true
	// 0s false
}
