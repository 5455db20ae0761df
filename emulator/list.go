package emulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
)

type pageDetails struct {
	Limit       int     `json:"limit"`
	ResultCount int     `json:"result_count"`
	CurrentURL  string  `json:"current_url"`
	PrevURL     *string `json:"prev_url"`
	NextURL     *string `json:"next_url"`
}

type listItem struct {
	ID          string  `json:"id"`
	ResourceURL string  `json:"resource_url"`
	Status      string  `json:"status"`
	Created     string  `json:"created"`
	Completed   *string `json:"completed"`
	AudioURL    string  `json:"audio_url"`
	Error       *string `json:"error"`
}

type transcriptList struct {
	PageDetails pageDetails `json:"page_details"`
	Transcripts []listItem  `json:"transcripts"`
}

// handleList lists transcripts newest first. before_id pages to older
// transcripts, after_id to newer ones (the page right above after_id). The
// request body is ignored (the Go SDK sends one on this GET).
func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(w, http.StatusBadRequest, "limit must be an Integer between 1 and 200")
			return
		}
		limit = n
	}
	status := q.Get("status")
	switch status {
	case "", statusQueued, statusProcessing, statusCompleted, statusError:
	default:
		writeError(w, http.StatusBadRequest, "status must be one of queued, processing, completed, error")
		return
	}
	createdOn := q.Get("created_on")
	throttledOnly := q.Get("throttled_only") == "true"

	s.mu.Lock()
	code, body := s.listLocked(r, limit, status, createdOn, throttledOnly)
	s.mu.Unlock()
	writeRaw(w, code, "application/json", body)
}

// listLocked builds the list response; the caller writes it after unlocking.
func (s *Server) listLocked(r *http.Request, limit int, status, createdOn string, throttledOnly bool) (int, []byte) {
	q := r.URL.Query()
	s.advanceLocked(s.now())
	st := &s.state
	lo, hi := 0, len(st.order) // candidate seq range [lo, hi)
	if id := q.Get("before_id"); id != "" {
		t := st.transcripts[id]
		if t == nil {
			return http.StatusBadRequest, errorJSON(msgLookup)
		}
		hi = t.seq
	}
	if id := q.Get("after_id"); id != "" {
		t := st.transcripts[id]
		if t == nil {
			return http.StatusBadRequest, errorJSON(msgLookup)
		}
		lo = t.seq + 1
	}
	if lo > hi {
		return http.StatusBadRequest, errorJSON("'after_id' must be a newer transcript than 'before_id'")
	}
	match := func(t *transcript) bool {
		return (status == "" || t.status == status) &&
			(createdOn == "" || t.created.UTC().Format("2006-01-02") == createdOn) &&
			(!throttledOnly || t.throttled)
	}
	var page []*transcript
	if q.Get("after_id") != "" && q.Get("before_id") == "" {
		// The page right above after_id: walk up, then show newest first.
		for i := lo; i < hi && len(page) < limit; i++ {
			if match(st.order[i]) {
				page = append(page, st.order[i])
			}
		}
		for i, j := 0, len(page)-1; i < j; i, j = i+1, j-1 {
			page[i], page[j] = page[j], page[i]
		}
	} else {
		for i := hi - 1; i >= lo && len(page) < limit; i-- {
			if match(st.order[i]) {
				page = append(page, st.order[i])
			}
		}
	}

	base := baseURL(r)
	out := transcriptList{Transcripts: make([]listItem, len(page))}
	for i, t := range page {
		it := listItem{
			ID: t.id, ResourceURL: base + "/v2/transcript/" + t.id, Status: t.status,
			Created: t.created.UTC().Format(timeLayout), AudioURL: t.audioURL,
		}
		if t.deleted {
			it.AudioURL = "http://deleted_by_user"
		}
		if t.status == statusCompleted || t.status == statusError {
			it.Completed = ptr(t.completedAt.UTC().Format(timeLayout))
		}
		if t.status == statusError {
			it.Error = ptr(t.errMsg)
		}
		out.Transcripts[i] = it
	}
	pageURL := func(key, id string) *string {
		v := url.Values{}
		v.Set("limit", strconv.Itoa(limit))
		if status != "" {
			v.Set("status", status)
		}
		if createdOn != "" {
			v.Set("created_on", createdOn)
		}
		v.Set(key, id)
		u := base + "/v2/transcript?" + v.Encode()
		return &u
	}
	out.PageDetails = pageDetails{Limit: limit, ResultCount: len(page), CurrentURL: base + r.URL.RequestURI()}
	if len(page) > 0 {
		out.PageDetails.PrevURL = pageURL("before_id", page[len(page)-1].id)
		out.PageDetails.NextURL = pageURL("after_id", page[0].id)
	}
	b, _ := json.Marshal(out)
	return http.StatusOK, b
}
