package assemblyai

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestListAndFollowPages(t *testing.T) {
	t.Parallel()
	queries := make(chan string, 4)
	var base string
	c, srv := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.RawQuery
		body := strings.ReplaceAll(string(readFixture(t, "transcript_list.json")), "https://api.assemblyai.com", base)
		writeJSON(w, 200, body)
	})
	base = srv.URL
	l, err := c.ListTranscripts(t.Context(), ListParams{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if <-queries != "limit=3" {
		t.Error("unexpected first query")
	}
	if len(l.Transcripts) != 3 || l.PageDetails.PrevURL == nil || l.PageDetails.ResultCount != 3 {
		t.Fatalf("list = %+v", l)
	}
	failed := l.Transcripts[1]
	if failed.Status != StatusError || failed.Error == nil || failed.Completed != nil ||
		ClassifyTranscriptError(*failed.Error) != ClassPermanent ||
		failed.Created.Format("2006-01-02 15:04:05.000000 MST") != "2024-03-11 21:23:59.979420 UTC" {
		t.Errorf("failed item = %+v", failed)
	}
	if _, err := c.ListTranscriptsPage(t.Context(), *l.PageDetails.PrevURL); err != nil {
		t.Fatal(err)
	}
	if q := <-queries; q != "limit=3&before_id=28a73d01-98db-41dd-9e98-2533ba0af117" {
		t.Errorf("prev page query = %q", q)
	}
	for _, u := range []string{
		"https://api.assemblyai.com/v2/transcript?limit=3",
		strings.Replace(srv.URL, "http://", "https://", 1) + "/v2/transcript",
		srv.URL + "/v2/upload",
		"/v2/transcript?limit=3",
		"http://user@" + strings.TrimPrefix(srv.URL, "http://") + "/v2/transcript",
		"::bad",
	} {
		if _, err := c.ListTranscriptsPage(t.Context(), u); !errors.Is(err, ErrForeignPageURL) {
			t.Errorf("ListTranscriptsPage(%q) error = %v, want ErrForeignPageURL", u, err)
		}
	}
	if len(queries) != 0 {
		t.Errorf("a foreign page URL reached the server")
	}
}
