package assemblyai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CreateTranscript sends POST /v2/transcript once. There is no idempotency
// key: a failure that Classify calls ClassAmbiguous may have created a
// (billed) transcript, which the caller must reconcile through
// ListTranscripts before creating another.
func (c *Client) CreateTranscript(ctx context.Context, p TranscriptParams) (*Transcript, error) {
	if strings.TrimSpace(p.AudioURL) == "" {
		return nil, fmt.Errorf("create transcript: %w", ErrNoAudioURL)
	}
	k := call{method: http.MethodPost, endpoint: EndpointTranscripts, path: EndpointTranscripts, in: p}
	return c.transcript(ctx, k)
}

// GetTranscript sends GET /v2/transcript/{id}. A transcript that failed is
// returned without error, with Status StatusError and Error set.
func (c *Client) GetTranscript(ctx context.Context, id string) (*Transcript, error) {
	k, err := transcriptCall(http.MethodGet, EndpointTranscript, id, "")
	if err != nil {
		return nil, fmt.Errorf("get transcript: %w", err)
	}
	return c.transcript(ctx, k)
}

// DeleteTranscript sends DELETE /v2/transcript/{id}, which also deletes the
// uploaded audio. It returns the scrubbed transcript.
func (c *Client) DeleteTranscript(ctx context.Context, id string) (*Transcript, error) {
	k, err := transcriptCall(http.MethodDelete, EndpointTranscript, id, "")
	if err != nil {
		return nil, fmt.Errorf("delete transcript: %w", err)
	}
	return c.transcript(ctx, k)
}

func (c *Client) transcript(ctx context.Context, k call) (*Transcript, error) {
	var t Transcript
	if err := c.doJSON(ctx, k, &t); err != nil {
		return nil, err
	}
	c.scrubTranscript(&t)
	if t.ID == "" {
		return nil, &ResponseError{Method: k.method, Endpoint: k.endpoint, TranscriptID: k.id, StatusCode: http.StatusOK,
			Err: fmt.Errorf("%w: no id", ErrIncompleteResponse)}
	}
	return &t, nil
}

// Sentences sends GET /v2/transcript/{id}/sentences.
func (c *Client) Sentences(ctx context.Context, id string) (*SentencesResponse, error) {
	k, err := transcriptCall(http.MethodGet, EndpointSentences, id, "/sentences")
	if err != nil {
		return nil, fmt.Errorf("get sentences: %w", err)
	}
	var r SentencesResponse
	if err := c.doJSON(ctx, k, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Paragraphs sends GET /v2/transcript/{id}/paragraphs.
func (c *Client) Paragraphs(ctx context.Context, id string) (*ParagraphsResponse, error) {
	k, err := transcriptCall(http.MethodGet, EndpointParagraphs, id, "/paragraphs")
	if err != nil {
		return nil, fmt.Errorf("get paragraphs: %w", err)
	}
	var r ParagraphsResponse
	if err := c.doJSON(ctx, k, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Subtitles sends GET /v2/transcript/{id}/srt or /vtt and returns the text.
// charsPerCaption 0 omits the parameter (the API's default).
func (c *Client) Subtitles(ctx context.Context, id string, f SubtitleFormat, charsPerCaption int) (string, error) {
	endpoint := EndpointSRT
	switch f {
	case SubtitleSRT:
	case SubtitleVTT:
		endpoint = EndpointVTT
	default:
		return "", fmt.Errorf("get subtitles: %w: format %q (want srt or vtt)", ErrInvalidArgument, f)
	}
	if charsPerCaption < 0 {
		return "", fmt.Errorf("get subtitles: %w: negative chars_per_caption", ErrInvalidArgument)
	}
	k, err := transcriptCall(http.MethodGet, endpoint, id, "/"+string(f))
	if err != nil {
		return "", fmt.Errorf("get subtitles: %w", err)
	}
	if charsPerCaption > 0 {
		k.query = url.Values{"chars_per_caption": {strconv.Itoa(charsPerCaption)}}
	}
	b, err := c.do(ctx, k)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// WordSearch sends GET /v2/transcript/{id}/word-search?words=a,b.
func (c *Client) WordSearch(ctx context.Context, id string, words []string) (*WordSearchResponse, error) {
	if len(words) == 0 {
		return nil, fmt.Errorf("search words: %w: no words", ErrInvalidArgument)
	}
	for _, w := range words {
		if strings.TrimSpace(w) == "" || strings.Contains(w, ",") {
			return nil, fmt.Errorf("search words: %w: word %q is empty or contains a comma", ErrInvalidArgument, w)
		}
	}
	k, err := transcriptCall(http.MethodGet, EndpointWordSearch, id, "/word-search")
	if err != nil {
		return nil, fmt.Errorf("search words: %w", err)
	}
	k.query = url.Values{"words": {strings.Join(words, ",")}}
	var r WordSearchResponse
	if err := c.doJSON(ctx, k, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// transcriptCall builds a call on /v2/transcript/{id}<suffix>.
func transcriptCall(method, endpoint, id, suffix string) (call, error) {
	if strings.TrimSpace(id) == "" {
		return call{}, ErrEmptyID
	}
	if strings.ContainsAny(id, "/?#") || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return call{}, fmt.Errorf("%w: transcript id %q", ErrInvalidArgument, id)
	}
	return call{method: method, endpoint: endpoint, id: id, path: "/v2/transcript/" + id + suffix}, nil
}

// scrubTranscript removes the API key, in any encoding, from the failure
// text of t and from its raw body: AssemblyAI's error is free text, and one
// that quotes the request would carry the key into every place the error is
// shown or stored.
func (c *Client) scrubTranscript(t *Transcript) {
	if t.Error == "" {
		return
	}
	t.Error = c.keyForms.scrub(t.Error)
	if raw := c.keyForms.scrub(string(t.Raw)); raw != string(t.Raw) {
		t.Raw = []byte(raw)
	}
}
