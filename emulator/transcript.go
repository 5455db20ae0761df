package emulator

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transcript statuses (spec TranscriptStatus).
const (
	statusQueued     = "queued"
	statusProcessing = "processing"
	statusCompleted  = "completed"
	statusError      = "error"
)

// Verbatim messages of the real API.
const (
	msgAudioURLNotFound  = "Transcript creation error, audio_url not found"
	msgAudioURLNotHTTP   = "Transcript creation error, audio_url should start with http"
	msgSpeechModel       = `speech_model is deprecated. Use "speech_models" instead. See documentation: https://www.assemblyai.com/docs/pre-recorded-audio/select-the-speech-model`
	msgSpeechModels      = `"speech_models" must be a non-empty list containing one or more of: "universal-3-pro", "universal-2"`
	msgLookup            = "Transcript lookup error, transcript id not found"
	msgCannotAccess      = "Cannot access uploaded file"
	msgServerError       = "Internal server error. Please retry your request. If the error persists, please contact support@assemblyai.com for more information."
	msgLegacyServerError = "Server error, developers have been alerted."
	msgTooShort          = "Audio duration is too short."
	timeLayout           = "2006-01-02T15:04:05.000000"
)

// defaultSpeechModels is what the API uses when speech_models is omitted.
var defaultSpeechModels = []string{"universal-3-pro", "universal-2"}

func downloadError(u string) string {
	return "Download error, unable to download " + u + ". Please make sure the file exists and is accessible from the internet."
}

// transcript is one job. Server.mu guards it.
type transcript struct {
	id       string
	seq      int
	params   params
	audioURL string
	audioKey string // "sha256:<hex>" or "url:<url>"
	media    *media // nil until known (fetch pending) or if unavailable
	created  time.Time

	readyAt     time.Time // may start processing from; zero while fetching
	startAt     time.Time
	doneAt      time.Time
	completedAt time.Time
	procDur     time.Duration
	outcome     string // error message it will end with; "" for success

	status        string
	errMsg        string
	throttled     bool
	deleted       bool
	content       *content
	webhookStatus *int

	cache []byte // JSON of the current state; nil when stale
}

func (t *transcript) invalidate() { t.cache = nil }

// params are the TranscriptParams the emulator reads or echoes. Unknown and
// deprecated keys are ignored.
type params struct {
	AudioURL                    *string         `json:"audio_url"`
	SpeechModel                 json.RawMessage `json:"speech_model"`
	SpeechModels                []string        `json:"speech_models"`
	LanguageCode                *string         `json:"language_code"`
	LanguageCodes               []string        `json:"language_codes"`
	LanguageDetection           *bool           `json:"language_detection"`
	LanguageDetectionOptions    json.RawMessage `json:"language_detection_options"`
	LanguageConfidenceThreshold *float64        `json:"language_confidence_threshold"`
	Punctuate                   *bool           `json:"punctuate"`
	FormatText                  *bool           `json:"format_text"`
	Disfluencies                *bool           `json:"disfluencies"`
	FilterProfanity             *bool           `json:"filter_profanity"`
	Multichannel                *bool           `json:"multichannel"`
	SpeakerLabels               *bool           `json:"speaker_labels"`
	SpeakersExpected            *int            `json:"speakers_expected"`
	AudioStartFrom              *int            `json:"audio_start_from"`
	AudioEndAt                  *int            `json:"audio_end_at"`
	WebhookURL                  *string         `json:"webhook_url"`
	WebhookAuthHeaderName       *string         `json:"webhook_auth_header_name"`
	WebhookAuthHeaderValue      *string         `json:"webhook_auth_header_value"`
	AutoChapters                *bool           `json:"auto_chapters"`
	AutoHighlights              *bool           `json:"auto_highlights"`
	ContentSafety               *bool           `json:"content_safety"`
	IABCategories               *bool           `json:"iab_categories"`
	EntityDetection             *bool           `json:"entity_detection"`
	SentimentAnalysis           *bool           `json:"sentiment_analysis"`
	RedactPII                   *bool           `json:"redact_pii"`
	RedactPIIAudio              *bool           `json:"redact_pii_audio"`
	RedactPIIAudioQuality       *string         `json:"redact_pii_audio_quality"`
	RedactPIIPolicies           []string        `json:"redact_pii_policies"`
	RedactPIISub                *string         `json:"redact_pii_sub"`
	RedactPIIAudioOptions       json.RawMessage `json:"redact_pii_audio_options"`
	CustomSpelling              json.RawMessage `json:"custom_spelling"`
	KeytermsPrompt              []string        `json:"keyterms_prompt"`
	Prompt                      *string         `json:"prompt"`
	Temperature                 *float64        `json:"temperature"`
	RemoveAudioTags             *string         `json:"remove_audio_tags"`
	SpeechThreshold             *float64        `json:"speech_threshold"`
	SpeechUnderstanding         json.RawMessage `json:"speech_understanding"`
	Summarization               *bool           `json:"summarization"`
	SummaryModel                *string         `json:"summary_model"`
	SummaryType                 *string         `json:"summary_type"`
	CustomTopics                *bool           `json:"custom_topics"`
	Topics                      []string        `json:"topics"`
}

// decodeParams reads a create request, answering type errors the way the
// API does ("format_text must be a Boolean").
func decodeParams(r io.Reader) (params, error) {
	var p params
	err := json.NewDecoder(io.LimitReader(r, 4<<20)).Decode(&p)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return p, nil
	case errors.As(err, &te):
		return p, fmt.Errorf("%s must be a %s", te.Field, jsonTypeName(te.Type.Kind().String()))
	default:
		// The text is the 400 body's "error" field, capitalised like the API's
		// own messages, so it is not a Go-style error string.
		return p, errors.New("Invalid JSON body") //nolint:staticcheck // ST1005: wire message

	}
}

func jsonTypeName(kind string) string {
	switch {
	case kind == "bool":
		return "Boolean"
	case kind == "string":
		return "String"
	case strings.HasPrefix(kind, "int"):
		return "Integer"
	case strings.HasPrefix(kind, "float"):
		return "Number"
	case kind == "slice":
		return "Array"
	default:
		return "Object"
	}
}

// validate checks what the real API rejects with 400 at creation.
func (p *params) validate() string {
	switch {
	case len(p.SpeechModel) > 0 && string(p.SpeechModel) != "null":
		return msgSpeechModel
	case p.AudioURL == nil || *p.AudioURL == "":
		return msgAudioURLNotFound
	case !strings.HasPrefix(*p.AudioURL, "http"):
		return msgAudioURLNotHTTP
	}
	if p.SpeechModels != nil {
		if len(p.SpeechModels) == 0 {
			return msgSpeechModels
		}
		for _, m := range p.SpeechModels {
			if m != "universal-3-pro" && m != "universal-2" {
				return msgSpeechModels
			}
		}
	}
	return ""
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	p, err := decodeParams(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if msg := p.validate(); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	s.mu.Lock()
	status, b := s.createLocked(r, p)
	s.mu.Unlock()
	writeRaw(w, status, "application/json", b)
}

// createLocked creates a transcript for validated params and returns the
// response to send once the lock is released.
func (s *Server) createLocked(r *http.Request, p params) (int, []byte) {
	audioURL := *p.AudioURL
	now := s.now()
	s.advanceLocked(now)
	st := &s.state
	t := &transcript{
		id: newUUID(), seq: len(st.order), params: p, audioURL: audioURL,
		created: now, status: statusQueued,
	}
	fetch := false
	if up := s.ownUploadLocked(audioURL); up != nil {
		if len(s.cfg.APIKeys) > 1 && up.key != r.Header.Get("Authorization") {
			return http.StatusForbidden, errorJSON(msgCannotAccess)
		}
		t.audioKey = "sha256:" + up.media.sha
		if up.deleted {
			t.outcome = downloadError(audioURL)
		} else {
			t.media = up.media
		}
	} else {
		t.audioKey = "url:" + audioURL
		if fetchable(audioURL) {
			fetch = true
		} else {
			t.outcome = downloadError(audioURL)
		}
	}
	s.countCreateLocked(t)
	st.transcripts[t.id] = t
	st.order = append(st.order, t)
	st.byAudio[t.audioKey] = append(st.byAudio[t.audioKey], t)
	if fetch {
		s.startFetch(t)
	} else {
		s.decideLocked(t)
		t.readyAt = now.Add(s.startDelay())
	}
	s.enqueueLocked(t)
	return http.StatusOK, s.renderLocked(t)
}

// decideLocked fixes t's outcome and processing time once its audio is known.
func (s *Server) decideLocked(t *transcript) {
	var dur time.Duration
	if t.media != nil {
		dur = t.media.duration
		if t.outcome == "" {
			t.outcome = t.media.problem
		}
	}
	if t.outcome != "" {
		t.procDur = s.processingTime(t.seq, 0, false)
		return
	}
	t.outcome = s.drawOutcome(t)
	t.procDur = s.processingTime(t.seq, dur, true)
}

// countCreateLocked updates the billing ground truth for a new transcript:
// a duplicate is one created while another transcript of the same audio is
// queued, processing or completed.
func (s *Server) countCreateLocked(t *transcript) {
	active, errored := 0, 0
	for _, o := range s.state.byAudio[t.audioKey] {
		switch {
		case o.deleted:
		case o.status == statusError:
			errored++
		default:
			active++
		}
	}
	s.addStat(func(st *Stats) {
		st.TranscriptsCreated++
		if active > 0 {
			st.DuplicateTranscripts++
		} else if errored > 0 {
			st.ResubmitsAfterError++
		}
	})
}

// lookupLocked finds a transcript by id after advancing the clock.
func (s *Server) lookupLocked(id string) *transcript {
	s.advanceLocked(s.now())
	return s.state.transcripts[id]
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.lookupLocked(r.PathValue("id"))
	var b []byte
	if t != nil {
		b = s.renderLocked(t)
	}
	s.mu.Unlock()
	if t == nil {
		writeError(w, http.StatusBadRequest, msgLookup)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", b)
}

// handleDelete scrubs a finished transcript like the real API (status stays,
// text "Deleted by user.", URLs "http://deleted_by_user") and deletes its
// upload. Deleting an unfinished transcript is refused with 400: the real
// behaviour is unknown.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	status, b := s.deleteLocked(r.PathValue("id"))
	s.mu.Unlock()
	writeRaw(w, status, "application/json", b)
}

func (s *Server) deleteLocked(id string) (int, []byte) {
	t := s.lookupLocked(id)
	if t == nil {
		return http.StatusBadRequest, errorJSON(msgLookup)
	}
	if t.status == statusQueued || t.status == statusProcessing {
		return http.StatusBadRequest, errorJSON("Transcript deletion error, transcript is not finished processing")
	}
	if !t.deleted {
		t.deleted = true
		t.content = nil
		t.invalidate()
		if up := s.ownUploadLocked(t.audioURL); up != nil && !up.deleted {
			up.deleted = true
			s.removeUploadFile(up)
		}
		s.addStat(func(st *Stats) { st.TranscriptsDeleted++ })
	}
	return http.StatusOK, s.renderLocked(t)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// fetchable reports whether the emulator may download u: http(s) on a
// loopback host.
func fetchable(u string) bool {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return false
	}
	return isLoopbackHost(pu.Hostname())
}
