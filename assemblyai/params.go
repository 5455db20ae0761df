package assemblyai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
)

// TranscriptParams is the body of POST /v2/transcript: AudioURL plus every
// field of the spec's TranscriptOptionalParams (OpenAPI 1.3.4). A nil field is
// omitted, so the API applies its own default.
//
// Extra is an escape hatch for keys this struct does not know (new API
// parameters) or values it cannot express (an explicit JSON null): its entries
// are merged into the JSON object. An Extra key that a typed field also sets
// is an error (ErrExtraKeyConflict) rather than a silent override; an Extra
// key naming a typed field that is nil is sent as given.
type TranscriptParams struct {
	// AudioURL is the URL of the audio: an upload_url from Upload, or a
	// public http(s) URL. Required.
	AudioURL string `json:"audio_url"`

	SpeechModels                []string                  `json:"speech_models,omitempty"`
	LanguageCode                *string                   `json:"language_code,omitempty"`
	LanguageCodes               []string                  `json:"language_codes,omitempty"`
	LanguageDetection           *bool                     `json:"language_detection,omitempty"`
	LanguageDetectionOptions    *LanguageDetectionOptions `json:"language_detection_options,omitempty"`
	LanguageConfidenceThreshold *float64                  `json:"language_confidence_threshold,omitempty"`
	Punctuate                   *bool                     `json:"punctuate,omitempty"`
	FormatText                  *bool                     `json:"format_text,omitempty"`
	Disfluencies                *bool                     `json:"disfluencies,omitempty"`
	FilterProfanity             *bool                     `json:"filter_profanity,omitempty"`
	Multichannel                *bool                     `json:"multichannel,omitempty"`
	SpeakerLabels               *bool                     `json:"speaker_labels,omitempty"`
	SpeakersExpected            *int                      `json:"speakers_expected,omitempty"`
	SpeakerOptions              *SpeakerOptions           `json:"speaker_options,omitempty"`
	AudioStartFrom              *int                      `json:"audio_start_from,omitempty"` // milliseconds
	AudioEndAt                  *int                      `json:"audio_end_at,omitempty"`     // milliseconds

	WebhookURL             *string `json:"webhook_url,omitempty"`
	WebhookAuthHeaderName  *string `json:"webhook_auth_header_name,omitempty"`
	WebhookAuthHeaderValue *string `json:"webhook_auth_header_value,omitempty"` // a secret: never logged by this package

	AutoHighlights          *bool                  `json:"auto_highlights,omitempty"`
	ContentSafety           *bool                  `json:"content_safety,omitempty"`
	ContentSafetyConfidence *int                   `json:"content_safety_confidence,omitempty"` // 25–100
	IABCategories           *bool                  `json:"iab_categories,omitempty"`
	EntityDetection         *bool                  `json:"entity_detection,omitempty"`
	SentimentAnalysis       *bool                  `json:"sentiment_analysis,omitempty"`
	RedactPII               *bool                  `json:"redact_pii,omitempty"`
	RedactPIIAudio          *bool                  `json:"redact_pii_audio,omitempty"`
	RedactPIIAudioQuality   *string                `json:"redact_pii_audio_quality,omitempty"` // "mp3" or "wav"
	RedactPIIAudioOptions   *RedactPIIAudioOptions `json:"redact_pii_audio_options,omitempty"`
	RedactPIIPolicies       []string               `json:"redact_pii_policies,omitempty"`
	RedactPIISub            *string                `json:"redact_pii_sub,omitempty"` // "entity_name" or "hash"
	CustomSpelling          []CustomSpelling       `json:"custom_spelling,omitempty"`
	KeytermsPrompt          []string               `json:"keyterms_prompt,omitempty"`
	Prompt                  *string                `json:"prompt,omitempty"`
	Temperature             *float64               `json:"temperature,omitempty"`
	RemoveAudioTags         *string                `json:"remove_audio_tags,omitempty"` // "all"
	SpeechThreshold         *float64               `json:"speech_threshold,omitempty"`
	SpeechUnderstanding     *SpeechUnderstanding   `json:"speech_understanding,omitempty"`

	// Deprecated: use the LLM Gateway. Kept because the spec still lists it.
	AutoChapters *bool `json:"auto_chapters,omitempty"`
	// Deprecated: use the LLM Gateway.
	Summarization *bool `json:"summarization,omitempty"`
	// Deprecated: use the LLM Gateway.
	SummaryModel *string `json:"summary_model,omitempty"`
	// Deprecated: use the LLM Gateway.
	SummaryType *string `json:"summary_type,omitempty"`
	// Deprecated: has no effect.
	CustomTopics *bool `json:"custom_topics,omitempty"`
	// Deprecated: has no effect.
	Topics []string `json:"topics,omitempty"`
	// Deprecated: the API now answers 400 when speech_model is sent; use
	// SpeechModels.
	SpeechModel *string `json:"speech_model,omitempty"`

	// Extra holds additional top-level keys, merged into the JSON object.
	Extra map[string]json.RawMessage `json:"-"`
}

// LanguageDetectionOptions tunes automatic language detection.
type LanguageDetectionOptions struct {
	ExpectedLanguages                []string `json:"expected_languages,omitempty"`
	FallbackLanguage                 *string  `json:"fallback_language,omitempty"`
	CodeSwitching                    *bool    `json:"code_switching,omitempty"`
	CodeSwitchingConfidenceThreshold *float64 `json:"code_switching_confidence_threshold,omitempty"`
}

// SpeakerOptions bounds the number of speakers for speaker labels.
type SpeakerOptions struct {
	MinSpeakersExpected *int `json:"min_speakers_expected,omitempty"`
	MaxSpeakersExpected *int `json:"max_speakers_expected,omitempty"`
}

// RedactPIIAudioOptions tunes redacted audio.
type RedactPIIAudioOptions struct {
	ReturnRedactedNoSpeechAudio  *bool   `json:"return_redacted_no_speech_audio,omitempty"`
	OverrideAudioRedactionMethod *string `json:"override_audio_redaction_method,omitempty"` // "silence"
}

// CustomSpelling replaces the words in From with To.
type CustomSpelling struct {
	From []string `json:"from"`
	To   string   `json:"to"`
}

// SpeechUnderstanding requests one speech-understanding task.
type SpeechUnderstanding struct {
	Request SpeechUnderstandingRequest `json:"request"`
}

// SpeechUnderstandingRequest is a oneOf: set exactly one field.
type SpeechUnderstandingRequest struct {
	Translation           *TranslationRequest           `json:"translation,omitempty"`
	SpeakerIdentification *SpeakerIdentificationRequest `json:"speaker_identification,omitempty"`
	CustomFormatting      *CustomFormattingRequest      `json:"custom_formatting,omitempty"`
}

// TranslationRequest asks for translations of the transcript.
type TranslationRequest struct {
	TargetLanguages        []string `json:"target_languages"`
	Formal                 *bool    `json:"formal,omitempty"`
	MatchOriginalUtterance *bool    `json:"match_original_utterance,omitempty"`
}

// SpeakerIdentificationRequest asks for speakers to be named or given roles.
type SpeakerIdentificationRequest struct {
	SpeakerType string            `json:"speaker_type"` // "role" or "name"
	KnownValues []string          `json:"known_values,omitempty"`
	Speakers    []SpeakerIdentity `json:"speakers,omitempty"`
}

// SpeakerIdentity describes one expected speaker.
type SpeakerIdentity struct {
	Role string `json:"role,omitempty"`
	Name string `json:"name,omitempty"`
}

// CustomFormattingRequest asks for dates, phone numbers and emails in a format.
type CustomFormattingRequest struct {
	Date        string `json:"date,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	Email       string `json:"email,omitempty"`
}

// Bool returns a pointer to b, for optional fields.
func Bool(b bool) *bool { return &b }

// String returns a pointer to s, for optional fields.
func String(s string) *string { return &s }

// Int returns a pointer to i, for optional fields.
func Int(i int) *int { return &i }

// Float returns a pointer to f, for optional fields.
func Float(f float64) *float64 { return &f }

// MarshalJSON encodes the typed fields and merges Extra (see TranscriptParams).
func (p TranscriptParams) MarshalJSON() ([]byte, error) {
	type plain TranscriptParams // no methods: no recursion
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	var typed map[string]json.RawMessage
	if err := json.Unmarshal(b, &typed); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Write(b[:len(b)-1]) // without the closing brace
	for _, k := range slices.Sorted(maps.Keys(p.Extra)) {
		if _, ok := typed[k]; ok {
			return nil, fmt.Errorf("%w: %q", ErrExtraKeyConflict, k)
		}
		v := p.Extra[k]
		if !json.Valid(v) {
			return nil, fmt.Errorf("%w: extra key %q: invalid JSON value", ErrInvalidArgument, k)
		}
		kb, _ := json.Marshal(k)
		buf.WriteByte(',')
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// LogValue logs the request body as JSON with its secrets removed: the
// webhook auth header value, and the query strings of audio_url and
// webhook_url (presigned URLs carry signatures there). Extra is left out.
func (p TranscriptParams) LogValue() slog.Value {
	p.AudioURL = redactQuery(p.AudioURL)
	if p.WebhookURL != nil {
		p.WebhookURL = String(redactQuery(*p.WebhookURL))
	}
	if p.WebhookAuthHeaderValue != nil {
		p.WebhookAuthHeaderValue = String(redacted)
	}
	p.Extra = nil
	b, err := json.Marshal(p)
	if err != nil {
		return slog.StringValue("!" + err.Error())
	}
	return slog.StringValue(string(b))
}

// redactQuery replaces the query of a URL with "[redacted]".
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redacted
	}
	if u.RawQuery != "" {
		u.RawQuery = redacted
	}
	u.User = nil
	return u.String()
}
