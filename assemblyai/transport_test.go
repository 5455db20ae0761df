package assemblyai

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestCreateConnectionDropped: the server reads the whole create body, then
// drops the connection. The job may exist, so the error must be Ambiguous.
func TestCreateConnectionDropped(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		_ = conn.Close()
	})
	_, err := c.CreateTranscript(t.Context(), TranscriptParams{AudioURL: "https://a"})
	te, ok := errors.AsType[*TransportError](err)
	if !ok || !te.Sent || te.Method != "POST" || te.Endpoint != EndpointTranscripts {
		t.Fatalf("error = %#v, want a sent *TransportError on POST /v2/transcript", err)
	}
	if got := Classify(err); got != ClassAmbiguous {
		t.Errorf("Classify = %v, want ambiguous", got)
	}
	if !strings.Contains(err.Error(), "request sent, no response") {
		t.Errorf("Error() = %q", err)
	}
	_, err = c.GetTranscript(t.Context(), "t1")
	if got := Classify(err); got != ClassRetryable {
		t.Errorf("GET after drop: Classify(%v) = %v, want retryable", err, got)
	}
}

// TestCreateConnectionRefused: nothing was sent, so a create is safe to retry.
func TestCreateConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c, err := New(Config{APIKey: testKey, BaseURL: "http://" + addr, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateTranscript(t.Context(), TranscriptParams{AudioURL: "https://a"})
	te, ok := errors.AsType[*TransportError](err)
	if !ok || te.Sent {
		t.Fatalf("error = %#v, want an unsent *TransportError", err)
	}
	if got := Classify(err); got != ClassRetryable {
		t.Errorf("Classify = %v, want retryable", got)
	}
}

func TestBadSuccessBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		length     string // Content-Length override, to truncate
		wantCreate Class
		wantGet    Class
	}{
		{"garbled", `{"id":"t1","status":`, "", ClassAmbiguous, ClassRetryable},
		{"html", `<html>ok</html>`, "", ClassAmbiguous, ClassRetryable},
		{"truncated", `{"id":"t1"`, "500", ClassAmbiguous, ClassRetryable},
		{"no id", `{"status":"queued"}`, "", ClassAmbiguous, ClassRetryable},
		{"too large", `{"id":"t1","text":"` + strings.Repeat("a", 2000) + `"}`, "", ClassAmbiguous, ClassPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
				writeJSON(w, 200, tt.body)
			}, func(c *Config) { c.MaxResponseBytes = 1000 })
			_, err := c.CreateTranscript(t.Context(), TranscriptParams{AudioURL: "https://a"})
			if _, ok := errors.AsType[*ResponseError](err); !ok {
				t.Fatalf("create error = %T %v, want *ResponseError", err, err)
			}
			if got := Classify(err); got != tt.wantCreate {
				t.Errorf("create: Classify(%v) = %v, want %v", err, got, tt.wantCreate)
			}
			_, err = c.GetTranscript(t.Context(), "t1")
			if got := Classify(err); got != tt.wantGet {
				t.Errorf("get: Classify(%v) = %v, want %v", err, got, tt.wantGet)
			}
		})
	}
}

// TestRequestTimeout: our own per-request timeout is a transport failure
// (ambiguous once a create was sent), the caller's deadline is Canceled.
func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		hang := func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPost {
				// Report the request as written, as the real transport does.
				httptrace.ContextClientTrace(r.Context()).WroteRequest(httptrace.WroteRequestInfo{})
			}
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		c := newFakeClient(t, hang, func(c *Config) { c.RequestTimeout = 5 * time.Second })

		start := time.Now()
		_, err := c.GetTranscript(t.Context(), "t1")
		if !errors.Is(err, ErrRequestTimeout) || errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("get error = %v, want ErrRequestTimeout and no context error", err)
		}
		if Classify(err) != ClassRetryable {
			t.Errorf("get: Classify = %v, want retryable", Classify(err))
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("timed out after %v, want 5s", d)
		}

		_, err = c.CreateTranscript(t.Context(), TranscriptParams{AudioURL: "https://a"})
		if Classify(err) != ClassAmbiguous {
			t.Errorf("create: Classify(%v) = %v, want ambiguous", err, Classify(err))
		}

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = c.CreateTranscript(ctx, TranscriptParams{AudioURL: "https://a"})
		te, ok := errors.AsType[*TransportError](err)
		if Classify(err) != ClassCanceled || !ok || !te.Sent {
			t.Errorf("caller deadline: Classify(%v) = %v, want canceled with Sent", err, Classify(err))
		}

		cctx, ccancel := context.WithCancelCause(t.Context())
		shutdown := errors.New("shutting down")
		time.AfterFunc(time.Second, func() { ccancel(shutdown) })
		_, err = c.GetTranscript(cctx, "t1")
		if Classify(err) != ClassCanceled || !errors.Is(err, shutdown) {
			t.Errorf("cancel cause: Classify(%v) = %v, want canceled wrapping the cause", err, Classify(err))
		}
	})
}

// TestSlowBodyTimeout: the request timeout covers reading the body too.
func TestSlowBodyTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newFakeClient(t, func(r *http.Request) (*http.Response, error) {
			pr, pw := io.Pipe()
			go func() {
				_, _ = pw.Write([]byte(`{"id":`))
				<-r.Context().Done()
				pw.CloseWithError(r.Context().Err())
			}()
			return &http.Response{StatusCode: 200, Body: pr, Header: http.Header{}}, nil
		})
		_, err := c.GetTranscript(t.Context(), "t1")
		if _, ok := errors.AsType[*ResponseError](err); !ok || !errors.Is(err, ErrRequestTimeout) {
			t.Fatalf("error = %v, want *ResponseError with ErrRequestTimeout", err)
		}
		if Classify(err) != ClassRetryable {
			t.Errorf("Classify = %v, want retryable", Classify(err))
		}
	})
}
