package assemblyai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// TranscriptStatus is the processing state of a transcript.
type TranscriptStatus string

// The transcript statuses. Completed and error are terminal.
const (
	StatusQueued     TranscriptStatus = "queued"
	StatusProcessing TranscriptStatus = "processing"
	StatusCompleted  TranscriptStatus = "completed"
	StatusError      TranscriptStatus = "error"
)

// Terminal reports whether s is completed or error.
func (s TranscriptStatus) Terminal() bool { return s == StatusCompleted || s == StatusError }

// Transcript is the spec's Transcript object, as returned by create, get and
// delete. Raw holds the whole body as received, so that nothing the typed
// fields do not cover is lost when the transcript is written out.
//
// Results that are large or loosely specified (chapters, entities, content
// safety...) are kept as json.RawMessage.
type Transcript struct {
	ID     string           `json:"id"`
	Status TranscriptStatus `json:"status"`
	// Error is the failure message when Status is StatusError; see
	// ClassifyTranscriptError.
	Error    string `json:"error,omitempty"`
	AudioURL string `json:"audio_url"`

	Text       string      `json:"text,omitempty"`
	Words      []Word      `json:"words,omitempty"`
	Utterances []Utterance `json:"utterances,omitempty"`
	Confidence *float64    `json:"confidence,omitempty"`
	// AudioDuration is in whole seconds (the API rounds up); nil until known.
	// A fractional value is rounded up on decoding.
	AudioDuration *int64 `json:"audio_duration,omitempty"`
	AudioChannels *int   `json:"audio_channels,omitempty"`

	LanguageCode                string   `json:"language_code,omitempty"`
	LanguageCodes               []string `json:"language_codes,omitempty"`
	LanguageDetection           *bool    `json:"language_detection,omitempty"`
	LanguageConfidence          *float64 `json:"language_confidence,omitempty"`
	LanguageConfidenceThreshold *float64 `json:"language_confidence_threshold,omitempty"`
	SpeechModels                []string `json:"speech_models,omitempty"`
	SpeechModelUsed             string   `json:"speech_model_used,omitempty"`
	// Deprecated: usually null; see SpeechModels and SpeechModelUsed.
	SpeechModel *string `json:"speech_model,omitempty"`

	Punctuate        *bool    `json:"punctuate,omitempty"`
	FormatText       *bool    `json:"format_text,omitempty"`
	Disfluencies     *bool    `json:"disfluencies,omitempty"`
	FilterProfanity  *bool    `json:"filter_profanity,omitempty"`
	Multichannel     *bool    `json:"multichannel,omitempty"`
	SpeakerLabels    *bool    `json:"speaker_labels,omitempty"`
	SpeakersExpected *int     `json:"speakers_expected,omitempty"`
	AudioStartFrom   *int64   `json:"audio_start_from,omitempty"`
	AudioEndAt       *int64   `json:"audio_end_at,omitempty"`
	SpeechThreshold  *float64 `json:"speech_threshold,omitempty"`
	KeytermsPrompt   []string `json:"keyterms_prompt,omitempty"`
	Prompt           string   `json:"prompt,omitempty"`
	Temperature      *float64 `json:"temperature,omitempty"`
	RemoveAudioTags  *string  `json:"remove_audio_tags,omitempty"`

	WebhookURL            *string `json:"webhook_url,omitempty"`
	WebhookStatusCode     *int    `json:"webhook_status_code,omitempty"`
	WebhookAuth           bool    `json:"webhook_auth"`
	WebhookAuthHeaderName *string `json:"webhook_auth_header_name,omitempty"`
	// Throttled is true while the job waits because the account is over its
	// concurrency limit.
	Throttled *bool `json:"throttled,omitempty"`

	AutoHighlights           bool             `json:"auto_highlights"`
	AutoHighlightsResult     json.RawMessage  `json:"auto_highlights_result,omitempty"`
	ContentSafety            *bool            `json:"content_safety,omitempty"`
	ContentSafetyLabels      json.RawMessage  `json:"content_safety_labels,omitempty"`
	IABCategories            *bool            `json:"iab_categories,omitempty"`
	IABCategoriesResult      json.RawMessage  `json:"iab_categories_result,omitempty"`
	EntityDetection          *bool            `json:"entity_detection,omitempty"`
	Entities                 json.RawMessage  `json:"entities,omitempty"`
	SentimentAnalysis        *bool            `json:"sentiment_analysis,omitempty"`
	SentimentAnalysisResults json.RawMessage  `json:"sentiment_analysis_results,omitempty"`
	AutoChapters             *bool            `json:"auto_chapters,omitempty"`
	Chapters                 json.RawMessage  `json:"chapters,omitempty"`
	Summarization            bool             `json:"summarization"`
	Summary                  *string          `json:"summary,omitempty"`
	RedactPII                bool             `json:"redact_pii"`
	RedactPIIAudio           *bool            `json:"redact_pii_audio,omitempty"`
	RedactPIIAudioQuality    *string          `json:"redact_pii_audio_quality,omitempty"`
	RedactPIIPolicies        []string         `json:"redact_pii_policies,omitempty"`
	RedactPIISub             *string          `json:"redact_pii_sub,omitempty"`
	CustomSpelling           []CustomSpelling `json:"custom_spelling,omitempty"`
	SpeechUnderstanding      json.RawMessage  `json:"speech_understanding,omitempty"`
	TranslatedTexts          json.RawMessage  `json:"translated_texts,omitempty"`
	Metadata                 json.RawMessage  `json:"metadata,omitempty"`

	// Raw is the whole response body as received.
	Raw json.RawMessage `json:"-"`
}

// UnmarshalJSON decodes a transcript, keeps a copy of the body in Raw and
// tolerates a fractional audio_duration.
func (t *Transcript) UnmarshalJSON(b []byte) error {
	type plain Transcript
	aux := struct {
		*plain
		AudioDuration *json.Number `json:"audio_duration"`
	}{plain: (*plain)(t)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	t.AudioDuration = nil
	if aux.AudioDuration != nil {
		d, err := wholeSeconds(*aux.AudioDuration)
		if err != nil {
			return err
		}
		t.AudioDuration = &d
	}
	t.Raw = bytes.Clone(b)
	return nil
}

func wholeSeconds(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt32 {
		return 0, fmt.Errorf("decode audio_duration %q: not a number of seconds", n.String())
	}
	return int64(math.Ceil(f)), nil
}

// Word is one recognised word. Start and End are in milliseconds.
type Word struct {
	Text       string  `json:"text"`
	Start      int64   `json:"start"`
	End        int64   `json:"end"`
	Confidence float64 `json:"confidence"`
	Speaker    *string `json:"speaker"`
	Channel    *string `json:"channel,omitempty"`
}

// Utterance is a run of speech by one speaker (speaker_labels or multichannel).
type Utterance struct {
	Text            string            `json:"text"`
	Start           int64             `json:"start"`
	End             int64             `json:"end"`
	Confidence      float64           `json:"confidence"`
	Speaker         string            `json:"speaker"`
	Channel         *string           `json:"channel,omitempty"`
	Words           []Word            `json:"words"`
	TranslatedTexts map[string]string `json:"translated_texts,omitempty"`
}

// Sentence is one sentence of GET /v2/transcript/{id}/sentences.
type Sentence struct {
	Text       string  `json:"text"`
	Start      int64   `json:"start"`
	End        int64   `json:"end"`
	Confidence float64 `json:"confidence"`
	Words      []Word  `json:"words"`
	Speaker    *string `json:"speaker"`
	Channel    *string `json:"channel,omitempty"`
}

// SentencesResponse is the body of GET /v2/transcript/{id}/sentences.
type SentencesResponse struct {
	ID            string     `json:"id"`
	Confidence    float64    `json:"confidence"`
	AudioDuration float64    `json:"audio_duration"`
	Sentences     []Sentence `json:"sentences"`
}

// Paragraph is one paragraph of GET /v2/transcript/{id}/paragraphs.
type Paragraph struct {
	Text       string  `json:"text"`
	Start      int64   `json:"start"`
	End        int64   `json:"end"`
	Confidence float64 `json:"confidence"`
	Words      []Word  `json:"words"`
}

// ParagraphsResponse is the body of GET /v2/transcript/{id}/paragraphs.
type ParagraphsResponse struct {
	ID            string      `json:"id"`
	Confidence    float64     `json:"confidence"`
	AudioDuration float64     `json:"audio_duration"`
	Paragraphs    []Paragraph `json:"paragraphs"`
}

// WordSearchResponse is the body of GET /v2/transcript/{id}/word-search.
type WordSearchResponse struct {
	ID         string            `json:"id"`
	TotalCount int               `json:"total_count"`
	Matches    []WordSearchMatch `json:"matches"`
}

// WordSearchMatch is the occurrences of one searched word.
type WordSearchMatch struct {
	Text string `json:"text"`
	// Count is the number of occurrences.
	Count int `json:"count"`
	// Timestamps holds a [start, end] pair in milliseconds per occurrence.
	Timestamps [][]int64 `json:"timestamps"`
	// Indexes are the positions of the occurrences in Transcript.Words.
	Indexes []int `json:"indexes"`
}

// SubtitleFormat is a subtitle export format.
type SubtitleFormat string

// The subtitle formats.
const (
	SubtitleSRT SubtitleFormat = "srt"
	SubtitleVTT SubtitleFormat = "vtt"
)

// Time is a timestamp of the list endpoint. The API writes them without a
// time zone ("2024-03-11T21:29:59.936851"); those are read as UTC. RFC 3339
// timestamps are accepted too. It marshals as RFC 3339, and null as the zero
// Time.
type Time struct{ time.Time }

const apiTimeLayout = "2006-01-02T15:04:05.999999999"

// ParseTime parses an API timestamp, with or without a time zone.
func ParseTime(s string) (Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Time{t}, nil
	}
	t, err := time.ParseInLocation(apiTimeLayout, s, time.UTC)
	if err != nil {
		return Time{}, fmt.Errorf("parse timestamp %q: %w", s, err)
	}
	return Time{t}, nil
}

// UnmarshalJSON parses a JSON string (see Time) or null.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("decode timestamp: %w", err)
	}
	if strings.TrimSpace(s) == "" {
		*t = Time{}
		return nil
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// MarshalJSON writes RFC 3339 (null for the zero Time).
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.Format(time.RFC3339Nano))
}
