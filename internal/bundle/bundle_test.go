package bundle

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/internal/report"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "sk_live_0123456789abcdefSECRET"

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// writeWAV writes seconds of 8 kHz mono 8-bit PCM with the secret planted
// in the samples one second in, where a cut sample must still scrub it.
func writeWAV(t *testing.T, path string, seconds int) {
	t.Helper()
	const rate = 8000
	pcm := make([]byte, rate*seconds)
	for i := range pcm {
		pcm[i] = byte(128 + (i%40)*2)
	}
	copy(pcm[rate:], secret)
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(pcm)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(rate), uint32(rate), uint16(1), uint16(8)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(pcm)))
	b.Write(pcm)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wavSeconds reads the duration of an 8-bit mono PCM WAV.
func wavSeconds(t *testing.T, data []byte) float64 {
	t.Helper()
	i := bytes.Index(data, []byte("data"))
	if i < 0 || len(data) < 44 {
		t.Fatalf("not a WAV (%d bytes)", len(data))
	}
	rate := binary.LittleEndian.Uint32(data[24:28])
	n := binary.LittleEndian.Uint32(data[i+4 : i+8])
	return float64(n) / float64(rate)
}

func input(t *testing.T) Input {
	t.Helper()
	dir := t.TempDir()
	wav := filepath.Join(dir, "meeting 01.wav")
	writeWAV(t, wav, 40)
	a := func(stage, ep string, n int, sec int, code int, class, msg, tr string) report.Attempt {
		return report.Attempt{FileID: 1, Stage: stage, Endpoint: ep, Attempt: n, Start: t0.Add(time.Duration(sec) * time.Second),
			Duration: 300 * time.Millisecond, StatusCode: code, Class: class, Error: msg, TranscriptID: tr, BreakerState: "closed"}
	}
	return Input{
		Version: "v1.2.3", OS: "linux/amd64", Created: t0.Add(time.Hour),
		Secrets: []string{secret, ""},
		Files: []File{
			{ID: 1, Source: wav, State: "failed", Stage: "wait", TranscriptID: "5551722-f677-48a6-a9b9-0d2e4e2e1a1b",
				Reason:    "transcript error: Transcoding failed: file does not appear to contain audio",
				LastError: "Transcoding failed: file does not appear to contain audio",
				Preflight: json.RawMessage(`{"format":"wav","duration_seconds":40,"sample_rate":8000,"warnings":[]}`),
				Params: json.RawMessage(`{"speech_model":"universal","language_code":"en","webhook_url":"https://hooks.invalid/x",
					"webhook_auth_header_name":"X-Token","webhook_auth_header_value":"` + secret + `",
					"authorization":"` + secret + `","nested":{"api_key":"` + secret + `","speakers_expected":12345678901234567890}}`),
				Attempts: []report.Attempt{
					a("upload", "/v2/upload", 1, 0, 503, "retryable", "Service Unavailable", ""),
					a("upload", "/v2/upload", 2, 2, 0, "none", "", ""),
					a("create", "/v2/transcript", 1, 3, 0, "none", "", "5551722-f677-48a6-a9b9-0d2e4e2e1a1b"),
					// A leaked key in an error message must be scrubbed.
					a("wait", "/v2/transcript/{id}", 1, 9, 0, "permanent",
						"Transcoding failed: file does not appear to contain audio (auth "+secret+")", "5551722-f677-48a6-a9b9-0d2e4e2e1a1b"),
				}},
			{ID: 2, Source: "https://media.invalid/call.mp3?token=" + secret, State: "failed", Stage: "create",
				Reason: "create transcript: 400 Bad Request: Invalid audio_url", LastError: "Invalid audio_url"},
		},
	}
}

// unzip returns the uncompressed contents of every entry by name.
func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		_ = rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = data
	}
	return out
}

func writeBundle(t *testing.T, in Input) (raw []byte, entries map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	if err := Write(t.Context(), &b, in); err != nil {
		t.Fatalf("Write: %v", err)
	}
	entries = unzip(t, b.Bytes())
	// The key must not appear anywhere, not even a prefix of it: entry
	// names, contents, raw zip bytes.
	part := secret[:12]
	for name, data := range entries {
		if strings.Contains(name, part) || bytes.Contains(data, []byte(part)) {
			t.Errorf("secret found in %s", name)
		}
	}
	if bytes.Contains(b.Bytes(), []byte(part)) {
		t.Error("secret found in the raw zip bytes")
	}
	return b.Bytes(), entries
}

func TestBundleContents(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not on PATH; TestBundleNoFFmpeg covers the fallback")
	}
	t.Parallel()
	_, e := writeBundle(t, input(t))
	var names []string
	for n := range e {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{
		Root + "README.txt",
		Root + "files/001-meeting_01.wav/attempts.json",
		Root + "files/001-meeting_01.wav/errors.json",
		Root + "files/001-meeting_01.wav/params.json",
		Root + "files/001-meeting_01.wav/preflight.json",
		Root + "files/001-meeting_01.wav/sample.wav",
		Root + "files/001-meeting_01.wav/summary.txt",
		Root + "files/002-call.mp3_token_REDACTED/attempts.json",
		Root + "files/002-call.mp3_token_REDACTED/errors.json",
		Root + "files/002-call.mp3_token_REDACTED/summary.txt",
		Root + "system.json",
	}
	if !slices.Equal(names, want) {
		t.Errorf("entries =\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}

	readme := string(e[Root+"README.txt"])
	for _, s := range []string{SupportEmail, "5551722-f677-48a6-a9b9-0d2e4e2e1a1b",
		"Transcoding failed: file does not appear to contain audio (auth [redacted])", "2025-03-01T12:00:09.000Z",
		"files/001-meeting_01.wav/sample.wav", "Invalid audio_url", "none (no transcript was created)",
		"the audio is a URL", "v1.2.3", "linux/amd64"} {
		if !strings.Contains(readme, s) {
			t.Errorf("README lacks %q:\n%s", s, readme)
		}
	}

	var sys map[string]string
	if err := json.Unmarshal(e[Root+"system.json"], &sys); err != nil || sys["durascribe_version"] != "v1.2.3" || sys["os"] != "linux/amd64" {
		t.Errorf("system.json = %s (%v)", e[Root+"system.json"], err)
	}

	dir := Root + "files/001-meeting_01.wav/"
	var atts []map[string]any
	if err := json.Unmarshal(e[dir+"attempts.json"], &atts); err != nil || len(atts) != 4 {
		t.Fatalf("attempts.json: %d attempts, %v", len(atts), err)
	}
	if atts[0]["start"] != "2025-03-01T12:00:00Z" || atts[0]["status_code"] != 503.0 || atts[0]["error"] != "Service Unavailable" {
		t.Errorf("attempt 1 = %v", atts[0])
	}
	var errs []errorLine
	if err := json.Unmarshal(e[dir+"errors.json"], &errs); err != nil || len(errs) != 2 {
		t.Fatalf("errors.json: %v %v", errs, err)
	}

	var params map[string]any
	if err := json.Unmarshal(e[dir+"params.json"], &params); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"authorization", "webhook_auth_header_value"} {
		if _, ok := params[k]; ok {
			t.Errorf("params.json keeps %s", k)
		}
	}
	if params["speech_model"] != "universal" || params["webhook_auth_header_name"] != "X-Token" {
		t.Errorf("params.json lost harmless fields: %v", params)
	}
	if !bytes.Contains(e[dir+"params.json"], []byte("12345678901234567890")) {
		t.Errorf("params.json changed a big integer: %s", e[dir+"params.json"])
	}
	if nested := params["nested"].(map[string]any); nested["api_key"] != nil {
		t.Errorf("nested api_key kept: %v", nested)
	}

	var pre map[string]any
	if err := json.Unmarshal(e[dir+"preflight.json"], &pre); err != nil || pre["format"] != "wav" {
		t.Errorf("preflight.json = %s (%v)", e[dir+"preflight.json"], err)
	}

	// Stream copy cuts on packet boundaries, so allow a little over 30 s.
	if got := wavSeconds(t, e[dir+"sample.wav"]); got < 29.9 || got > 31 {
		t.Errorf("sample is %.2f s, want about 30", got)
	}
	sum := string(e[dir+"summary.txt"])
	for _, s := range []string{"2025-03-01T12:00:00.000Z", "HTTP 503", "Service Unavailable", "cut with ffmpeg"} {
		if !strings.Contains(sum, s) {
			t.Errorf("summary.txt lacks %q:\n%s", s, sum)
		}
	}
}

func TestBundleNoFFmpeg(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		maxRaw   int64
		ffmpeg   string
		noFF     bool
		wantFile string
		wantNote string
	}{
		{"disabled small", 0, "", true, "audio.wav", "whole file"},
		{"missing small", 0, "/nonexistent/ffmpeg", false, "audio.wav", "ffmpeg is not installed"},
		{"disabled large", 1000, "", true, "", "larger than 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := input(t)
			in.NoFFmpeg, in.FFmpeg, in.MaxRawSample = tc.noFF, tc.ffmpeg, tc.maxRaw
			in.Files = in.Files[:1]
			_, e := writeBundle(t, in)
			dir := Root + "files/001-meeting_01.wav/"
			if tc.wantFile != "" {
				data, ok := e[dir+tc.wantFile]
				if !ok {
					t.Fatalf("no %s", tc.wantFile)
				}
				if got := wavSeconds(t, data); got != 40 {
					t.Errorf("whole-file sample is %v s, want 40", got)
				}
				// The planted key was overwritten in place, keeping the length.
				if !bytes.Contains(data, make([]byte, len(secret))) {
					t.Error("secret bytes not zeroed in sample")
				}
			} else {
				for n := range e {
					if strings.Contains(n, "/audio.") || strings.Contains(n, "/sample.") {
						t.Errorf("unexpected sample %s", n)
					}
				}
			}
			if !strings.Contains(string(e[Root+"README.txt"]), tc.wantNote) {
				t.Errorf("README lacks %q:\n%s", tc.wantNote, e[Root+"README.txt"])
			}
		})
	}
}

func TestBundleRefusesSurvivingSecret(t *testing.T) {
	t.Parallel()
	// A secret equal to the marker cannot be redacted into anything else.
	in := Input{Files: []File{{ID: 1, Source: "x.wav", State: "failed", LastError: "boom"}},
		Secrets: []string{"failed"}}
	in.NoFFmpeg = true
	var b bytes.Buffer
	if err := Write(t.Context(), &b, in); err != nil {
		t.Fatalf("redactable secret: %v", err)
	}
	in.Secrets = []string{"redacted"}
	in.Files[0].LastError = "secret: redacted"
	if err := Write(t.Context(), &b, in); !errors.Is(err, ErrSecretInOutput) {
		t.Errorf("Write = %v, want ErrSecretInOutput", err)
	}
}

func TestBundleNoFiles(t *testing.T) {
	t.Parallel()
	if err := Write(t.Context(), io.Discard, Input{}); !errors.Is(err, ErrNoFiles) {
		t.Errorf("Write = %v, want ErrNoFiles", err)
	}
}

func TestIsCredential(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"authorization": true, "Authorization": true, "api_key": true, "X-Api-Key": true, "apiKey": true,
		"webhook_auth_header_value": true, "access_token": true, "client_secret": true, "password": true,
		"speech_model": false, "webhook_auth_header_name": false, "webhook_url": false, "keyterms_prompt": false,
		"language_code": false, "speaker_labels": false, "webhook_auth": false,
	} {
		if got := isCredential(name); got != want {
			t.Errorf("isCredential(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRedactorBinary(t *testing.T) {
	t.Parallel()
	r := newRedactor([]string{"abc", "abcdef", ""})
	got := r.binary([]byte("xxabcdefyyabczzabc"))
	want := []byte("xx\x00\x00\x00\x00\x00\x00yy\x00\x00\x00zz\x00\x00\x00")
	if !bytes.Equal(got, want) {
		t.Errorf("binary = %q, want %q", got, want)
	}
	if got := r.text([]byte("abcdef abc")); string(got) != Marker+" "+Marker {
		t.Errorf("text = %q", got)
	}
}

// A bundle keeps no URL credential: a webhook URL's ?token=, a signed audio
// URL's query, userinfo, in any entry or name, even when the caller did not
// list them as secrets (issue 18, #15).
func TestBundleRedactsURLCredentials(t *testing.T) {
	t.Parallel()
	src := "https://user:pw9@cdn.example/call.mp3?X-Amz-Signature=signed1"
	in := Input{Version: "v1", OS: "linux/amd64", Created: t0, NoFFmpeg: true, Files: []File{{
		ID: 1, Source: src, State: "failed", Stage: "create",
		Reason:    `create transcript: Get "` + src + `": 400`,
		LastError: "Invalid audio_url " + src,
		Params:    json.RawMessage(`{"audio_url":"` + src + `","webhook_url":"https://hooks.example/x?token=hooktok&job=3"}`),
	}}}
	var b bytes.Buffer
	if err := Write(t.Context(), &b, in); err != nil {
		t.Fatal(err)
	}
	var params string
	for name, data := range unzip(t, b.Bytes()) {
		for _, s := range []string{"pw9", "signed1", "hooktok"} {
			if strings.Contains(name, s) || bytes.Contains(data, []byte(s)) {
				t.Errorf("%s keeps %q:\n%s", name, s, data)
			}
		}
		if strings.HasSuffix(name, "params.json") {
			params = string(data)
		}
	}
	if !strings.Contains(params, "token=REDACTED") || !strings.Contains(params, "https://hooks.example/x") {
		t.Errorf("params.json should keep the webhook URL without its token:\n%s", params)
	}
}
