package assemblyai

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets feed what a server (or anything between it and us) may
// send: Retry-After values, error statuses and bodies, list pages. Run one
// with
//
//	go test -run '^$' -fuzz '^FuzzListPage$' -fuzztime 60s ./assemblyai/
//
// or all briefly with `make fuzz`. Their seeds run in every `go test`.

func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{
		"", "0", "120", " 3.5 ", "-1", "1e400", "-1e400", "NaN", "+Inf", "0x10", "1_000", "1p3",
		"9223372036.854775807", "9223372036.8547758", "1e-12",
		"Wed, 21 Oct 2015 07:28:00 GMT", "Wednesday, 21-Oct-15 07:28:00 GMT", "Wed Oct 21 07:28:00 2015",
		"Fri, 31 Dec 9999 23:59:59 GMT",
	} {
		f.Add(v, int64(1445412480)) // 2015-10-21 07:28:00 UTC
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		now := time.Unix(nowUnix, 0)
		d, ok := ParseRetryAfter(v, now)
		if d < 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, negative", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v, false: a refused value must give 0", v, d)
		}
		if d2, ok2 := ParseRetryAfter(v, now); d2 != d || ok2 != ok {
			t.Fatalf("ParseRetryAfter(%q) not deterministic: %v %v, then %v %v", v, d, ok, d2, ok2)
		}
		// whole seconds, the common form, are exact
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
			if want := time.Duration(n) * time.Second; !ok || d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
			}
		}
	})
}

// errorBodies are error bodies seen from AssemblyAI, load balancers and
// proxies, for the classifier targets.
var errorBodies = []string{
	`{"error": "Authentication error, API token missing/invalid"}`,
	`{"error": "Your current account balance is negative. Please top up to continue using the API."}`,
	`{"error": "Too many requests: rate limit exceeded"}`,
	`{"error": {"code": 503, "detail": "upstream"}}`,
	`{"error": null}`,
	`{"error": "Transcript creation error, audio_url not found"}`,
	"<html><head><title>502 Bad Gateway</title></head>\r\n<body>nginx</body></html>",
	"upstream connect error or disconnect/reset before headers. reset reason: overflow",
	"Internal server error. Please retry your request.",
	"Download error, unable to download https://example.com/500.mp3: 503 Server Error",
	"Download error: client error 404",
	"\xff\xfe\x00not utf-8\x7f",
	"",
}

// FuzzClassify runs the classifier on an APIError made from any status and
// body, the way Client makes one, and on a failed transcript's message.
func FuzzClassify(f *testing.F) {
	for _, b := range errorBodies {
		for _, code := range []int{400, 401, 403, 408, 422, 429, 500, 501, 503, 505} {
			f.Add(code, b, uint8(0))
		}
	}
	f.Add(-1, "", uint8(1))
	f.Add(1<<40, "{", uint8(2))
	endpoints := []string{EndpointTranscripts, EndpointTranscript, EndpointUpload}
	methods := []string{http.MethodPost, http.MethodGet, http.MethodDelete}
	f.Fuzz(func(t *testing.T, code int, body string, route uint8) {
		e := &APIError{
			StatusCode: code,
			Message:    errorMessage([]byte(body)),
			Method:     methods[int(route)%len(methods)],
			Endpoint:   endpoints[int(route/3)%len(endpoints)],
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("errorMessage(%q) = %q, not UTF-8", body, e.Message)
		}
		if !strings.HasPrefix(strings.TrimSpace(body), "{") &&
			(len(e.Message) > excerptLimit+len("…") || strings.ContainsFunc(e.Message, func(r rune) bool { return r < ' ' })) {
			t.Fatalf("errorMessage(%q) = %q: not a short single-line excerpt", body, e.Message)
		}
		class := Classify(e)
		switch class {
		case ClassRetryable, ClassThrottled, ClassAmbiguous, ClassPermanent:
		default:
			t.Fatalf("Classify(%v) = %v, not a class of an API error", e, class)
		}
		if strings.HasPrefix(class.String(), "class(") {
			t.Fatalf("class %d has no name", class)
		}
		if got := Classify(fmt.Errorf("step: %w", e)); got != class {
			t.Fatalf("wrapped: %v, bare: %v", got, class)
		}
		create := isCreate(e.Method, e.Endpoint)
		switch {
		case code == http.StatusTooManyRequests && class != ClassThrottled:
			t.Fatalf("429 classified %v", class)
		case create && class == ClassRetryable:
			t.Fatalf("a create answered %d classified retryable: it must be reconciled or fail, never blind-retried", code)
		case !create && class == ClassAmbiguous:
			t.Fatalf("%s %s classified ambiguous, which only a create can be", e.Method, e.Endpoint)
		case code == http.StatusUnauthorized && !IsAccountError(e):
			t.Fatalf("401 is not an account error")
		}
		switch c := ClassifyTranscriptError(body); c {
		case ClassRetryable, ClassPermanent:
		default:
			t.Fatalf("ClassifyTranscriptError(%q) = %v", body, c)
		}
	})
}

// FuzzListPage answers GET /v2/transcript with any status and body, then
// follows the page links the body gives. Invariants: no panic; a page is a
// list or an error, never both or neither; the errors are the documented
// types; and no request, hence no API key, ever goes anywhere but the
// client's own /v2/transcript.
func FuzzListPage(f *testing.F) {
	list, err := os.ReadFile("testdata/transcript_list.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(200, string(list), "")
	f.Add(200, strings.ReplaceAll(string(list), "https://api.assemblyai.com", "https://api.test"), "")
	f.Add(200, `{"page_details":{"prev_url":"https://evil.test/v2/transcript"},"transcripts":[{"created":"2024-03-11T21:29:59Z","completed":""}]}`, "")
	f.Add(200, `{"page_details":{"next_url":"https://api.test/v2/transcript?after_id=x#frag"},"transcripts":null}`, "")
	f.Add(200, `{"transcripts":[{"created":"not a time"}]}`, "")
	f.Add(200, `[]`, "")
	f.Add(429, `{"error":"slow down"}`, "30")
	f.Add(503, "<html>busy</html>", "Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, code int, body, retryAfter string) {
		if code %= 900; code < 0 { // a status net/http can carry: 100-999
			code += 900
		}
		code += 100
		var requests int
		rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			requests++
			if r.URL.Scheme != "https" || r.URL.Host != "api.test" || r.URL.Path != EndpointTranscripts {
				t.Fatalf("request to %s: only https://api.test%s may be asked", r.URL.Redacted(), EndpointTranscripts)
			}
			h := http.Header{"Content-Type": {"application/json"}}
			if retryAfter != "" {
				h.Set("Retry-After", retryAfter)
			}
			return &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
		c, err := New(Config{APIKey: testKey, BaseURL: "https://api.test", Getenv: noEnv, HTTPClient: &http.Client{Transport: rt}})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		l, err := c.ListTranscripts(ctx, ListParams{Limit: 3})
		checkListResult(t, code, l, err)
		if l == nil {
			return
		}
		for _, u := range []*string{l.PageDetails.PrevURL, l.PageDetails.NextURL} {
			if u == nil {
				continue
			}
			before := requests
			l2, err := c.ListTranscriptsPage(ctx, *u)
			if errors.Is(err, ErrForeignPageURL) {
				if requests != before {
					t.Fatalf("refused page URL %q was requested", *u)
				}
				continue
			}
			checkListResult(t, code, l2, err)
		}
	})
}

func checkListResult(t *testing.T, code int, l *TranscriptList, err error) {
	t.Helper()
	if (l == nil) == (err == nil) {
		t.Fatalf("list %v and error %v: want exactly one", l, err)
	}
	if err == nil {
		if code < 200 || code > 299 {
			t.Fatalf("status %d decoded as a page", code)
		}
		return
	}
	if strings.Contains(err.Error(), testKey.Reveal()) {
		t.Fatalf("error shows the API key: %v", err)
	}
	if ae, ok := errors.AsType[*APIError](err); ok {
		// Message may be empty only for a blank body with a status that
		// has no name (364, seed 7616e1ce878ef8ab); Error still names the status.
		if ae.StatusCode != code || ae.RetryAfter < 0 || ae.Message == "" && http.StatusText(code) != "" ||
			!strings.Contains(ae.Error(), strconv.Itoa(code)) {
			t.Fatalf("status %d gave %#v", code, ae)
		}
		return
	}
	if _, ok := errors.AsType[*ResponseError](err); ok && code >= 200 && code <= 299 {
		if Classify(err) != ClassRetryable {
			t.Fatalf("undecodable page classified %v", Classify(err))
		}
		return
	}
	t.Fatalf("status %d: error %T %v, want *APIError or (2xx) *ResponseError", code, err, err)
}
