package emulator

import (
	"encoding/json"
	"math"
)

// transcriptJSON is the wire form of a Transcript (spec schema Transcript,
// which forbids additional properties). Nullable fields are pointers without
// omitempty; fields the schema does not allow to be null are omitted when
// unset.
type transcriptJSON struct {
	ID                          string          `json:"id"`
	Status                      string          `json:"status"`
	Error                       string          `json:"error,omitempty"`
	AudioURL                    string          `json:"audio_url"`
	Text                        *string         `json:"text"`
	Words                       json.RawMessage `json:"words"`
	Utterances                  json.RawMessage `json:"utterances"`
	Confidence                  *float64        `json:"confidence"`
	AudioDuration               *int64          `json:"audio_duration"`
	AudioChannels               int             `json:"audio_channels,omitempty"`
	LanguageCode                *string         `json:"language_code,omitempty"`
	LanguageCodes               []string        `json:"language_codes"`
	LanguageDetection           *bool           `json:"language_detection"`
	LanguageDetectionOptions    json.RawMessage `json:"language_detection_options,omitempty"`
	LanguageConfidence          *float64        `json:"language_confidence"`
	LanguageConfidenceThreshold *float64        `json:"language_confidence_threshold"`
	SpeechModel                 *string         `json:"speech_model"`
	SpeechModels                []string        `json:"speech_models"`
	SpeechModelUsed             string          `json:"speech_model_used,omitempty"`
	LanguageModel               string          `json:"language_model"`
	AcousticModel               string          `json:"acoustic_model"`
	Punctuate                   *bool           `json:"punctuate"`
	FormatText                  *bool           `json:"format_text"`
	Disfluencies                *bool           `json:"disfluencies"`
	Multichannel                *bool           `json:"multichannel"`
	SpeakerLabels               *bool           `json:"speaker_labels"`
	SpeakersExpected            *int            `json:"speakers_expected"`
	FilterProfanity             *bool           `json:"filter_profanity"`
	AudioStartFrom              *int            `json:"audio_start_from"`
	AudioEndAt                  *int            `json:"audio_end_at"`
	WebhookURL                  *string         `json:"webhook_url"`
	WebhookStatusCode           *int            `json:"webhook_status_code"`
	WebhookAuth                 bool            `json:"webhook_auth"`
	WebhookAuthHeaderName       *string         `json:"webhook_auth_header_name"`
	Throttled                   *bool           `json:"throttled"`
	AutoHighlights              bool            `json:"auto_highlights"`
	AutoHighlightsResult        json.RawMessage `json:"auto_highlights_result"`
	ContentSafety               *bool           `json:"content_safety"`
	ContentSafetyLabels         json.RawMessage `json:"content_safety_labels"`
	IABCategories               *bool           `json:"iab_categories"`
	IABCategoriesResult         json.RawMessage `json:"iab_categories_result"`
	AutoChapters                *bool           `json:"auto_chapters"`
	Chapters                    json.RawMessage `json:"chapters"`
	EntityDetection             *bool           `json:"entity_detection"`
	Entities                    json.RawMessage `json:"entities"`
	SentimentAnalysis           *bool           `json:"sentiment_analysis"`
	SentimentAnalysisResults    json.RawMessage `json:"sentiment_analysis_results"`
	Summarization               bool            `json:"summarization"`
	Summary                     *string         `json:"summary"`
	SummaryModel                *string         `json:"summary_model"`
	SummaryType                 *string         `json:"summary_type"`
	RedactPII                   bool            `json:"redact_pii"`
	RedactPIIAudio              *bool           `json:"redact_pii_audio"`
	RedactPIIAudioQuality       *string         `json:"redact_pii_audio_quality"`
	RedactPIIPolicies           []string        `json:"redact_pii_policies"`
	RedactPIISub                *string         `json:"redact_pii_sub,omitempty"`
	RedactPIIAudioOptions       json.RawMessage `json:"redact_pii_audio_options,omitempty"`
	CustomSpelling              json.RawMessage `json:"custom_spelling"`
	KeytermsPrompt              []string        `json:"keyterms_prompt,omitempty"`
	Prompt                      *string         `json:"prompt,omitempty"`
	Temperature                 *float64        `json:"temperature"`
	RemoveAudioTags             *string         `json:"remove_audio_tags"`
	SpeechThreshold             *float64        `json:"speech_threshold"`
	SpeechUnderstanding         json.RawMessage `json:"speech_understanding,omitempty"`
	SpeedBoost                  *bool           `json:"speed_boost"`
	CustomTopics                *bool           `json:"custom_topics"`
	Topics                      []string        `json:"topics,omitempty"`
}

var jsonNull = json.RawMessage("null")

func rawOrNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return jsonNull
	}
	return b
}

func rawOrOmit(b json.RawMessage) json.RawMessage {
	if string(b) == "null" {
		return nil
	}
	return b
}

func ptr[T any](v T) *T { return &v }

func boolOr(p *bool, def bool) *bool {
	if p == nil {
		return &def
	}
	return p
}

// renderLocked returns t's JSON, cached until t changes.
func (s *Server) renderLocked(t *transcript) []byte {
	if t.cache != nil {
		return t.cache
	}
	b, err := json.Marshal(s.wireLocked(t))
	if err != nil {
		b = []byte(`{"error":"Internal Server Error"}`)
	}
	t.cache = b
	return b
}

func (s *Server) wireLocked(t *transcript) *transcriptJSON {
	p := &t.params
	models := p.SpeechModels
	if models == nil {
		models = defaultSpeechModels
	}
	lang := p.LanguageCode
	if lang == nil && p.LanguageDetection == nil {
		lang = ptr("en_us")
	}
	j := &transcriptJSON{
		ID: t.id, Status: t.status, AudioURL: t.audioURL,
		Words: jsonNull, Utterances: jsonNull,
		LanguageCode: lang, LanguageCodes: p.LanguageCodes,
		LanguageDetection:           boolOr(p.LanguageDetection, false),
		LanguageDetectionOptions:    rawOrOmit(p.LanguageDetectionOptions),
		LanguageConfidenceThreshold: p.LanguageConfidenceThreshold,
		SpeechModels:                models,
		LanguageModel:               "assemblyai_default", AcousticModel: "assemblyai_default",
		Punctuate: boolOr(p.Punctuate, true), FormatText: boolOr(p.FormatText, true),
		Disfluencies: boolOr(p.Disfluencies, false), Multichannel: boolOr(p.Multichannel, false),
		SpeakerLabels: boolOr(p.SpeakerLabels, false), SpeakersExpected: p.SpeakersExpected,
		FilterProfanity: boolOr(p.FilterProfanity, false),
		AudioStartFrom:  p.AudioStartFrom, AudioEndAt: p.AudioEndAt,
		WebhookURL: p.WebhookURL, WebhookStatusCode: t.webhookStatus,
		WebhookAuth:           p.WebhookAuthHeaderName != nil && p.WebhookAuthHeaderValue != nil,
		WebhookAuthHeaderName: p.WebhookAuthHeaderName,
		Throttled:             ptr(t.throttled),
		AutoHighlights:        p.AutoHighlights != nil && *p.AutoHighlights,
		AutoHighlightsResult:  jsonNull, ContentSafetyLabels: jsonNull, IABCategoriesResult: jsonNull,
		ContentSafety: boolOr(p.ContentSafety, false), IABCategories: boolOr(p.IABCategories, false),
		AutoChapters: boolOr(p.AutoChapters, false), Chapters: jsonNull,
		EntityDetection: boolOr(p.EntityDetection, false), Entities: jsonNull,
		SentimentAnalysis: boolOr(p.SentimentAnalysis, false), SentimentAnalysisResults: jsonNull,
		Summarization: p.Summarization != nil && *p.Summarization,
		SummaryModel:  p.SummaryModel, SummaryType: p.SummaryType,
		RedactPII:      p.RedactPII != nil && *p.RedactPII,
		RedactPIIAudio: boolOr(p.RedactPIIAudio, false), RedactPIIAudioQuality: p.RedactPIIAudioQuality,
		RedactPIIPolicies: p.RedactPIIPolicies, RedactPIISub: p.RedactPIISub,
		RedactPIIAudioOptions: rawOrOmit(p.RedactPIIAudioOptions),
		CustomSpelling:        rawOrNull(p.CustomSpelling),
		KeytermsPrompt:        p.KeytermsPrompt, Prompt: p.Prompt, Temperature: p.Temperature,
		RemoveAudioTags: p.RemoveAudioTags, SpeechThreshold: p.SpeechThreshold,
		SpeechUnderstanding: rawOrOmit(p.SpeechUnderstanding),
		CustomTopics:        p.CustomTopics, Topics: p.Topics,
	}
	if t.status == statusCompleted || t.status == statusError {
		if t.media != nil {
			d := int64(math.Ceil(t.media.duration.Seconds()))
			j.AudioDuration = &d
			j.AudioChannels = t.media.channels
		}
	}
	switch t.status {
	case statusError:
		j.Error = t.errMsg
	case statusCompleted:
		j.SpeechModelUsed = models[0]
		if p.LanguageDetection != nil && *p.LanguageDetection {
			j.LanguageCode = ptr("en")
			j.LanguageConfidence = ptr(0.97)
		}
		if c := t.content; c != nil {
			j.Text = &c.text
			j.Words = c.wordsJSON
			if j.SpeakerLabels != nil && *j.SpeakerLabels {
				j.Utterances = c.utterancesJSON()
			}
			j.Confidence = &c.confidence
		}
	}
	if t.deleted {
		scrub(j)
	}
	return j
}

// scrub applies the real API's deletion: text, URLs and feature flags go.
func scrub(j *transcriptJSON) {
	deleted := "http://deleted_by_user"
	j.AudioURL = deleted
	j.WebhookURL = &deleted
	j.Text = ptr("Deleted by user.")
	j.Words, j.Utterances, j.Confidence = jsonNull, jsonNull, nil
	j.Punctuate, j.FormatText, j.Disfluencies, j.Multichannel = nil, nil, nil, nil
	j.SpeakerLabels, j.FilterProfanity, j.LanguageDetection = nil, nil, nil
	j.ContentSafety, j.IABCategories, j.AutoChapters = nil, nil, nil
	j.EntityDetection, j.SentimentAnalysis, j.RedactPIIAudio = nil, nil, nil
	j.LanguageCode, j.SpeechModels, j.WebhookAuthHeaderName = nil, nil, nil
	j.KeytermsPrompt, j.Prompt, j.SpeechUnderstanding = nil, nil, nil
	j.AudioChannels = 0
}
