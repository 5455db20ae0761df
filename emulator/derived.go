package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// msgNotCompleted answers derived resources of unfinished transcripts; the
// real wording is unknown.
const msgNotCompleted = "Transcript is not completed yet"

// completed returns a completed transcript and its content, or writes the
// error and reports false.
func (s *Server) completed(w http.ResponseWriter, r *http.Request) (*transcript, *content, bool) {
	s.mu.Lock()
	t := s.lookupLocked(r.PathValue("id"))
	msg := ""
	var c *content
	switch {
	case t == nil:
		msg = msgLookup
	case t.status != statusCompleted:
		msg = msgNotCompleted
	case t.deleted || t.content == nil:
		msg = "Transcript has been deleted"
	default:
		c = t.content
	}
	s.mu.Unlock()
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return nil, nil, false
	}
	return t, c, true
}

func durationSeconds(t *transcript) float64 {
	if t.media == nil {
		return 0
	}
	return math.Ceil(t.media.duration.Seconds())
}

func (s *Server) handleSentences(w http.ResponseWriter, r *http.Request) {
	t, c, ok := s.completed(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": t.id, "confidence": c.confidence, "audio_duration": durationSeconds(t),
		"sentences": c.sentencesOut(),
	})
}

func (s *Server) handleParagraphs(w http.ResponseWriter, r *http.Request) {
	t, c, ok := s.completed(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": t.id, "confidence": c.confidence, "audio_duration": durationSeconds(t),
		"paragraphs": c.paragraphsOut(),
	})
}

// handleSubtitles serves srt and vtt as text/plain. chars_per_caption <= 0
// (the Go SDK sends 0) means one caption per sentence.
func (s *Server) handleSubtitles(w http.ResponseWriter, r *http.Request) {
	format := r.PathValue("format")
	if format != "srt" && format != "vtt" {
		writeError(w, http.StatusNotFound, "Not found")
		return
	}
	cpc := 0
	if v := r.URL.Query().Get("chars_per_caption"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "chars_per_caption must be an Integer")
			return
		}
		cpc = n
	}
	_, c, ok := s.completed(w, r)
	if !ok {
		return
	}
	var b strings.Builder
	if format == "vtt" {
		b.WriteString("WEBVTT\n\n")
	}
	for i, sp := range captions(c, cpc) {
		g := c.words[sp.from:sp.to]
		texts := make([]string, len(g))
		for k, wd := range g {
			texts[k] = wd.Text
		}
		start, end := g[0].Start, g[len(g)-1].End
		if format == "srt" {
			fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", i+1, srtTime(start), srtTime(end), strings.Join(texts, " "))
		} else {
			fmt.Fprintf(&b, "%s --> %s\n%s\n\n", vttTime(start), vttTime(end), strings.Join(texts, " "))
		}
	}
	writeRaw(w, http.StatusOK, "text/plain", []byte(b.String()))
}

func captions(c *content, cpc int) []span {
	if cpc <= 0 {
		return c.sentences
	}
	var out []span
	from, n := 0, 0
	for i, w := range c.words {
		if i > from && n+1+len(w.Text) > cpc {
			out = append(out, span{from, i})
			from, n = i, 0
		}
		if n > 0 {
			n++
		}
		n += len(w.Text)
	}
	if from < len(c.words) {
		out = append(out, span{from, len(c.words)})
	}
	return out
}

func srtTime(ms int) string {
	return fmt.Sprintf("%02d:%02d:%02d,%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

func vttTime(ms int) string {
	if ms >= 3600000 {
		return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
	}
	return fmt.Sprintf("%02d:%02d.%03d", ms/60000, ms/1000%60, ms%1000)
}

type wordMatch struct {
	Text       string   `json:"text"`
	Count      int      `json:"count"`
	Timestamps [][2]int `json:"timestamps"`
	Indexes    []int    `json:"indexes"`
}

// handleWordSearch matches each comma-separated term (one or more words)
// case-insensitively, ignoring punctuation.
func (s *Server) handleWordSearch(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("words")
	t, c, ok := s.completed(w, r)
	if !ok {
		return
	}
	norm := make([]string, len(c.words))
	for i, wd := range c.words {
		norm[i] = normWord(wd.Text)
	}
	matches := []wordMatch{}
	total := 0
	for _, term := range strings.Split(raw, ",") {
		parts := strings.Fields(term)
		if len(parts) == 0 {
			continue
		}
		m := wordMatch{Text: strings.TrimSpace(term), Timestamps: [][2]int{}, Indexes: []int{}}
		for i := 0; i+len(parts) <= len(norm); i++ {
			hit := true
			for k, p := range parts {
				if norm[i+k] != normWord(p) {
					hit = false
					break
				}
			}
			if hit {
				m.Count++
				m.Timestamps = append(m.Timestamps, [2]int{c.words[i].Start, c.words[i+len(parts)-1].End})
				m.Indexes = append(m.Indexes, i)
			}
		}
		total += m.Count
		matches = append(matches, m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": t.id, "total_count": total, "matches": matches})
}

func normWord(s string) string {
	return strings.ToLower(strings.Trim(s, ".,?!;:\"'()[]"))
}

// handleRedacted answers like the API for transcripts without redacted
// audio: the emulator never produces any.
func (s *Server) handleRedacted(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.completed(w, r); !ok {
		return
	}
	writeError(w, http.StatusBadRequest, "Redacted audio is not available for this transcript")
}
