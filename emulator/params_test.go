package emulator_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/durascribe/durascribe/emulator"
)

// TestCreateEchoesParams sends every kind of parameter, including unknown
// and deprecated ones, and lets the validating client check the echo.
func TestCreateEchoesParams(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	a := newAPI(t, emulator.Config{Clock: clock.Now})
	url := a.upload(makeWAV(2))
	params := map[string]any{
		"audio_url": url, "speech_models": []string{"universal-2"}, "language_detection": true,
		"language_detection_options": map[string]any{"expected_languages": []string{"en", "de"}},
		"punctuate":                  false, "format_text": false, "speaker_labels": true, "speakers_expected": 3,
		"custom_spelling": []map[string]any{{"from": []string{"dura"}, "to": "Dura"}},
		"keyterms_prompt": []string{"durascribe"}, "redact_pii": true, "redact_pii_policies": []string{"person_name"},
		"redact_pii_sub": "hash", "remove_audio_tags": "all", "temperature": 0.2, "speech_threshold": 0.1,
		"webhook_url": "http://127.0.0.1:1/hook", "webhook_auth_header_name": "X-A", "webhook_auth_header_value": "secret",
		"word_boost": []string{"x"}, "dual_channel": false, "boost_param": "high", "something_new": 1,
		"speaker_options": map[string]any{"min_speakers_expected": 1},
	}
	tr := a.create(params)
	clock.Advance(time.Minute)
	var got map[string]any
	doJSON(t, a.c, "GET", a.srv.URL+"/v2/transcript/"+tr.ID, a.srv.APIKey, nil, &got)
	if got["status"] != "completed" || got["speech_model_used"] != "universal-2" || got["webhook_auth"] != true {
		t.Errorf("got %v %v %v", got["status"], got["speech_model_used"], got["webhook_auth"])
	}
	if strings.Contains(toJSON(got), "secret") {
		t.Error("the webhook auth header value is echoed")
	}
	text, _ := got["text"].(string)
	if text != strings.ToLower(text) || strings.Contains(text, ".") {
		t.Errorf("punctuate/format_text false, got %q", text)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"audio_url":"` + url + `","speech_models":[]}`, `"speech_models" must be a non-empty list containing one or more of: "universal-3-pro", "universal-2"`},
		{`{"audio_url":"` + url + `","format_text":"yes"}`, "format_text must be a Boolean"},
		{`{}`, "Transcript creation error, audio_url not found"},
	} {
		var e struct{ Error string }
		if code := doJSON(t, a.c, "POST", a.srv.URL+"/v2/transcript", "k", strings.NewReader(tc.body), &e); code != 400 || e.Error != tc.want {
			t.Errorf("%s: %d %q, want 400 %q", tc.body, code, e.Error, tc.want)
		}
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestSidecarsAndScoping(t *testing.T) {
	t.Parallel()
	wav := makeWAV(3)
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, "hello.wav"), wav, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("Hello there. This is a fixture.\n"), 0o600)
	other := makeWAV(2)
	sum := sha256.Sum256(other)
	clock := newFakeClock()
	a := newAPI(t, emulator.Config{
		Clock: clock.Now, SidecarDir: dir, APIKeys: []string{"key-a", "key-b"},
		Sidecars: map[string]string{hex.EncodeToString(sum[:]): "Explicit sidecar."},
	})
	t1 := a.create(map[string]any{"audio_url": a.upload(wav)})
	t2 := a.create(map[string]any{"audio_url": a.upload(other)})
	clock.Advance(time.Minute)
	if got := a.get(t1.ID); got.Text == nil || *got.Text != "Hello there. This is a fixture." {
		t.Errorf("sidecar dir: %v", got.Text)
	}
	if got := a.get(t2.ID); got.Text == nil || *got.Text != "Explicit sidecar." {
		t.Errorf("explicit sidecar: %v", got.Text)
	}
	// An upload of key-a used with key-b: another project.
	var e struct{ Error string }
	body, _ := json.Marshal(map[string]string{"audio_url": a.upload(wav)})
	if code := doJSON(t, a.c, "POST", a.srv.URL+"/v2/transcript", "key-b", bytes.NewReader(body), &e); code != 403 || e.Error != "Cannot access uploaded file" {
		t.Errorf("other project: %d %q", code, e.Error)
	}
}

func TestUploadTooLarge(t *testing.T) {
	t.Parallel()
	a := newAPI(t, emulator.Config{MaxUploadBytes: 1000})
	for _, body := range []any{bytes.NewReader(make([]byte, 1001)), struct{ *bytes.Reader }{bytes.NewReader(make([]byte, 1001))}} {
		var e struct{ Error string }
		r := body.(interface{ Read([]byte) (int, error) })
		if code := doJSON(t, a.c, "POST", a.srv.URL+"/v2/upload", "k", r, &e); code != 413 || e.Error == "" {
			t.Errorf("got %d %q, want 413", code, e.Error)
		}
	}
	if st := a.srv.Emulator.Stats(); st.Uploads != 0 {
		t.Errorf("uploads %d, want 0", st.Uploads)
	}
}
