package emulator_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The official Go SDK never stops the ticker of Wait (a known SDK bug).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/cenkalti/backoff.(*Ticker).run"))
}

// makeWAV returns a 16 kHz mono 16-bit PCM WAV of a 440 Hz tone.
func makeWAV(seconds float64) []byte {
	const rate = 16000
	n := int(seconds * rate)
	var b bytes.Buffer
	w := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))        // PCM
	w(uint16(1))        // mono
	w(uint32(rate))     // sample rate
	w(uint32(rate * 2)) // byte rate
	w(uint16(2))        // block align
	w(uint16(16))       // bits per sample
	b.WriteString("data")
	w(uint32(2 * n))
	for i := range n {
		w(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate)))
	}
	return b.Bytes()
}

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
)

// schema compiles a component schema of the saved OpenAPI spec.
func schema(t testing.TB, name string) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open("testdata/assemblyai-openapi.json")
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close() //nolint:errcheck // opened read-only
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if err := c.AddResource("file:///openapi.json", doc); err != nil {
			schemaErr = err
			return
		}
		schemas = map[string]*jsonschema.Schema{}
		for _, n := range []string{"Transcript", "TranscriptList", "Error", "UploadedFile",
			"SentencesResponse", "ParagraphsResponse", "WordSearchResponse", "TranscriptReadyNotification"} {
			s, err := c.Compile("file:///openapi.json#/components/schemas/" + n)
			if err != nil {
				schemaErr = err
				return
			}
			schemas[n] = s
		}
	})
	if schemaErr != nil {
		t.Fatalf("compile schemas: %v", schemaErr)
	}
	return schemas[name]
}

// validate checks body against the named spec schema.
func validate(t testing.TB, name string, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Errorf("%s: not JSON: %v: %.200s", name, err, body)
		return
	}
	if err := schema(t, name).Validate(v); err != nil {
		t.Errorf("%s: does not match the spec: %v\nbody: %.500s", name, err, body)
	}
}

// schemaFor picks the spec schema of a response.
func schemaFor(method, path string, status int) string {
	switch {
	case !strings.HasPrefix(path, "/v2/"):
		return "-"
	case status != http.StatusOK:
		return "Error"
	case path == "/v2/upload":
		return "UploadedFile"
	case path == "/v2/transcript" && method == http.MethodGet:
		return "TranscriptList"
	case strings.HasSuffix(path, "/sentences"):
		return "SentencesResponse"
	case strings.HasSuffix(path, "/paragraphs"):
		return "ParagraphsResponse"
	case strings.HasSuffix(path, "/word-search"):
		return "WordSearchResponse"
	case strings.HasSuffix(path, "/srt") || strings.HasSuffix(path, "/vtt"):
		return ""
	default:
		return "Transcript"
	}
}

// validatingTransport checks every emulator response: a Content-Type is
// always set, and JSON bodies match the spec schema of their route.
type validatingTransport struct {
	t    testing.TB
	base http.RoundTripper
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil
	}
	ct := resp.Header.Get("Content-Type")
	if ct == "" {
		vt.t.Errorf("%s %s: no Content-Type", req.Method, req.URL.Path)
	}
	name := schemaFor(req.Method, req.URL.Path, resp.StatusCode)
	switch {
	case name == "-":
	case name == "":
		if ct != "text/plain" {
			vt.t.Errorf("%s: Content-Type %q, want text/plain", req.URL.Path, ct)
		}
	case ct != "application/json":
		vt.t.Errorf("%s %s: Content-Type %q, want application/json", req.Method, req.URL.Path, ct)
	default:
		validate(vt.t, name, body)
	}
	return resp, nil
}

func validatingClient(t testing.TB) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: &validatingTransport{t: t, base: tr}}
}

// getJSON decodes a JSON response into v and returns the status.
func doJSON(t testing.TB, c *http.Client, method, url, key string, body io.Reader, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close() //nolint:errcheck // response body, read only
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: decode: %v", method, url, err)
		}
	}
	return resp.StatusCode
}
