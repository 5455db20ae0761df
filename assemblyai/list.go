package assemblyai

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListParams filters GET /v2/transcript. Zero fields are omitted.
type ListParams struct {
	// Limit is the page size, 1–200. 0 means the API default (10).
	Limit int
	// Status keeps transcripts with this status.
	Status TranscriptStatus
	// CreatedOn keeps transcripts created on this date (YYYY-MM-DD).
	CreatedOn string
	// BeforeID keeps transcripts older than this one.
	BeforeID string
	// AfterID keeps transcripts newer than this one.
	AfterID string
}

// TranscriptList is the body of GET /v2/transcript. Transcripts are newest
// first; PageDetails.PrevURL leads to older ones, NextURL to newer ones.
type TranscriptList struct {
	PageDetails PageDetails          `json:"page_details"`
	Transcripts []TranscriptListItem `json:"transcripts"`
	// ServerDate is the response's Date header: the API's clock when it
	// answered, against which Created times compare without our clock's
	// skew. Zero when the header is missing.
	ServerDate time.Time `json:"-"`
}

// PageDetails describes one page of a transcript list.
type PageDetails struct {
	Limit       int     `json:"limit"`
	ResultCount int     `json:"result_count"`
	CurrentURL  string  `json:"current_url"`
	PrevURL     *string `json:"prev_url"`
	NextURL     *string `json:"next_url"`
}

// TranscriptListItem is one transcript in a list.
type TranscriptListItem struct {
	ID          string           `json:"id"`
	ResourceURL string           `json:"resource_url"`
	Status      TranscriptStatus `json:"status"`
	Created     Time             `json:"created"`
	Completed   *Time            `json:"completed"`
	AudioURL    string           `json:"audio_url"`
	Error       *string          `json:"error"`
}

// ListTranscripts sends GET /v2/transcript. Only the last 90 days are listed.
func (c *Client) ListTranscripts(ctx context.Context, p ListParams) (*TranscriptList, error) {
	q, err := p.query()
	if err != nil {
		return nil, fmt.Errorf("list transcripts: %w", err)
	}
	return c.list(ctx, call{query: q})
}

// ListTranscriptsPage fetches a page_details.prev_url or next_url. The URL
// must be on the client's base URL (same scheme and host, path
// /v2/transcript); any other URL is refused with ErrForeignPageURL, so that
// the API key is never sent elsewhere.
func (c *Client) ListTranscriptsPage(ctx context.Context, pageURL string) (*TranscriptList, error) {
	u, err := url.Parse(pageURL)
	if err != nil {
		return nil, fmt.Errorf("list transcripts: %w: unparsable url", ErrForeignPageURL)
	}
	if u.Scheme != c.base.Scheme || u.Host != c.base.Host || u.Path != EndpointTranscripts || u.User != nil {
		// Name only the origin and path: the query may carry secrets.
		return nil, fmt.Errorf("list transcripts: %w: %s://%s%s", ErrForeignPageURL, u.Scheme, u.Host, u.Path)
	}
	return c.list(ctx, call{rawQuery: u.RawQuery})
}

func (c *Client) list(ctx context.Context, k call) (*TranscriptList, error) {
	k.method, k.endpoint, k.path = http.MethodGet, EndpointTranscripts, EndpointTranscripts
	var (
		l    TranscriptList
		date time.Time
	)
	k.date = &date
	if err := c.doJSON(ctx, k, &l); err != nil {
		return nil, err
	}
	l.ServerDate = date
	return &l, nil
}

func (p ListParams) query() (url.Values, error) {
	q := url.Values{}
	if p.Limit < 0 || p.Limit > 200 {
		return nil, fmt.Errorf("%w: limit %d (want 1-200)", ErrInvalidArgument, p.Limit)
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	switch p.Status {
	case "":
	case StatusQueued, StatusProcessing, StatusCompleted, StatusError:
		q.Set("status", string(p.Status))
	default:
		return nil, fmt.Errorf("%w: status %q", ErrInvalidArgument, p.Status)
	}
	if p.CreatedOn != "" {
		if _, err := time.Parse(time.DateOnly, p.CreatedOn); err != nil {
			return nil, fmt.Errorf("%w: created_on %q (want YYYY-MM-DD)", ErrInvalidArgument, p.CreatedOn)
		}
		q.Set("created_on", p.CreatedOn)
	}
	if p.BeforeID != "" {
		q.Set("before_id", p.BeforeID)
	}
	if p.AfterID != "" {
		q.Set("after_id", p.AfterID)
	}
	return q, nil
}
