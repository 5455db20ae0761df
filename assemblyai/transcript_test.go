package assemblyai

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeSpecExamples decodes the OpenAPI 1.3.4 examples (testdata/)
// through the client.
func TestDecodeSpecExamples(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		name := map[string]string{
			"/v2/transcript/done":             "transcript_completed.json",
			"/v2/transcript/gone":             "transcript_deleted.json",
			"/v2/transcript/done/sentences":   "sentences.json",
			"/v2/transcript/done/paragraphs":  "paragraphs.json",
			"/v2/transcript/done/word-search": "word_search.json",
		}[r.URL.Path]
		writeJSON(w, 200, string(readFixture(t, name)))
	})
	ctx := t.Context()
	tr, err := c.GetTranscript(ctx, "done")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status != StatusCompleted || !tr.Status.Terminal() || tr.ID != "9ea68fd3-f953-42c1-9742-976c447fb463" ||
		tr.AudioDuration == nil || *tr.AudioDuration != 281 || len(tr.Words) == 0 || len(tr.Utterances) == 0 ||
		tr.Utterances[0].Words[0].Speaker == nil || !strings.HasPrefix(tr.Text, "Smoke from hundreds") || len(tr.IABCategoriesResult) == 0 {
		t.Errorf("unexpected transcript %s (status %s, %d words)", tr.ID, tr.Status, len(tr.Words))
	}
	if !bytes.Equal(tr.Raw, readFixture(t, "transcript_completed.json")) {
		t.Errorf("Raw differs from the body received")
	}
	del, err := c.DeleteTranscript(ctx, "gone")
	if err != nil || del.Text != "Deleted by user." || del.Words != nil {
		t.Errorf("deleted = %+v, %v", del, err)
	}
	s, err := c.Sentences(ctx, "done")
	if err != nil || len(s.Sentences) == 0 || len(s.Sentences[0].Words) == 0 {
		t.Errorf("sentences = %+v, %v", s, err)
	}
	p, err := c.Paragraphs(ctx, "done")
	if err != nil || len(p.Paragraphs) == 0 || p.AudioDuration == 0 {
		t.Errorf("paragraphs = %+v, %v", p, err)
	}
	ws, err := c.WordSearch(ctx, "done", []string{"smoke"})
	if err != nil || ws.TotalCount == 0 || len(ws.Matches) == 0 || len(ws.Matches[0].Timestamps[0]) != 2 {
		t.Errorf("word search = %+v, %v", ws, err)
	}
}

func TestTranscriptAudioDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want *int64
		ok   bool
	}{
		{`{"id":"a","audio_duration":null}`, nil, true},
		{`{"id":"a"}`, nil, true},
		{`{"id":"a","audio_duration":2}`, ptr(int64(2)), true},
		{`{"id":"a","audio_duration":1.28}`, ptr(int64(2)), true},
		{`{"id":"a","audio_duration":"x"}`, nil, false},
	}
	for _, tt := range tests {
		var tr Transcript
		err := json.Unmarshal([]byte(tt.in), &tr)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v", tt.in, err)
			continue
		}
		same := (tr.AudioDuration == nil && tt.want == nil) ||
			(tr.AudioDuration != nil && tt.want != nil && *tr.AudioDuration == *tt.want)
		if err == nil && !same {
			t.Errorf("%s: AudioDuration = %v", tt.in, tr.AudioDuration)
		}
		if err == nil && string(tr.Raw) != tt.in {
			t.Errorf("%s: Raw = %s", tt.in, tr.Raw)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestTranscriptParamsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       TranscriptParams
		want    string
		wantErr error
	}{
		{"minimal", TranscriptParams{AudioURL: "https://a"}, `{"audio_url":"https://a"}`, nil},
		{"typed", TranscriptParams{AudioURL: "https://a", SpeechModels: []string{"universal-3-pro", "universal-2"},
			Punctuate: Bool(false), SpeakersExpected: Int(2), LanguageCode: String("en_us"),
			SpeakerOptions:           &SpeakerOptions{MinSpeakersExpected: Int(1)},
			LanguageDetectionOptions: &LanguageDetectionOptions{ExpectedLanguages: []string{"en", "fr"}, CodeSwitching: Bool(true)},
			SpeechUnderstanding:      &SpeechUnderstanding{Request: SpeechUnderstandingRequest{Translation: &TranslationRequest{TargetLanguages: []string{"de"}}}},
			CustomSpelling:           []CustomSpelling{{From: []string{"dicarlo"}, To: "Decarlo"}}},
			`{"audio_url":"https://a","speech_models":["universal-3-pro","universal-2"],"language_code":"en_us","language_detection_options":{"expected_languages":["en","fr"],"code_switching":true},"punctuate":false,"speakers_expected":2,"speaker_options":{"min_speakers_expected":1},"custom_spelling":[{"from":["dicarlo"],"to":"Decarlo"}],"speech_understanding":{"request":{"translation":{"target_languages":["de"]}}}}`, nil},
		{"extra", TranscriptParams{AudioURL: "https://a", LanguageDetection: Bool(true),
			Extra: map[string]json.RawMessage{"language_code": json.RawMessage("null"), "domain": json.RawMessage(` "medical-v1" `)}},
			`{"audio_url":"https://a","language_detection":true,"domain":"medical-v1","language_code":null}`, nil},
		{"extra conflict", TranscriptParams{AudioURL: "https://a", Extra: map[string]json.RawMessage{"audio_url": json.RawMessage(`"https://b"`)}}, "", ErrExtraKeyConflict},
		{"extra invalid", TranscriptParams{AudioURL: "https://a", Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}, "", ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.p)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if err == nil && string(b) != tt.want {
				t.Errorf("got  %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestTranscriptParamsLogValue(t *testing.T) {
	t.Parallel()
	p := TranscriptParams{AudioURL: "https://bucket.test/a.mp3?X-Amz-Signature=sig123", WebhookURL: String("https://hook.test/h?token=tok456"),
		WebhookAuthHeaderName: String("X-Secret"), WebhookAuthHeaderValue: String("val789"), Punctuate: Bool(true)}
	var out bytes.Buffer
	slog.New(slog.NewJSONHandler(&out, nil)).Info("create", "params", p)
	for _, secret := range []string{"sig123", "tok456", "val789"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("log leaks %q: %s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "bucket.test/a.mp3") || !strings.Contains(out.String(), "punctuate") {
		t.Errorf("log lacks the non-secret fields: %s", out.String())
	}
}

func TestTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{`"2024-03-11T21:29:59.936851"`, time.Date(2024, 3, 11, 21, 29, 59, 936851000, time.UTC), true},
		{`"2024-03-11T21:29:59"`, time.Date(2024, 3, 11, 21, 29, 59, 0, time.UTC), true},
		{`"2024-03-11T21:29:59.5+02:00"`, time.Date(2024, 3, 11, 19, 29, 59, 500000000, time.UTC), true},
		{`"2024-03-11T21:29:59Z"`, time.Date(2024, 3, 11, 21, 29, 59, 0, time.UTC), true},
		{`null`, time.Time{}, true},
		{`""`, time.Time{}, true},
		{`"yesterday"`, time.Time{}, false},
		{`12`, time.Time{}, false},
	}
	for _, tt := range tests {
		var got Time
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	b, _ := json.Marshal(Time{time.Date(2024, 3, 11, 21, 29, 59, 936851000, time.UTC)})
	if string(b) != `"2024-03-11T21:29:59.936851Z"` {
		t.Errorf("Marshal = %s", b)
	}
}
