package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// word is the spec's TranscriptWord.
type word struct {
	Text       string  `json:"text"`
	Start      int     `json:"start"`
	End        int     `json:"end"`
	Confidence float64 `json:"confidence"`
	Speaker    *string `json:"speaker"`
}

// span is a half-open range of word indexes.
type span struct{ from, to int }

// content is a finished transcript's text. It is immutable once built.
type content struct {
	text       string
	words      []word
	sentences  []span
	paragraphs []span
	confidence float64
	wordsJSON  json.RawMessage
}

// maxWords caps synthetic transcripts of very long audio.
const maxWords = 5000

var vocabulary = strings.Fields(`the a of and to in that it is was for on with as this
by be at from have are not we they you can will one all would there their what about
which when make like time just know take people into year good some could them see
other than then now look only come over think also back after use two how our work
first well way even new want because any these give day most us audio sample meeting
call project report update plan team review data result question answer`)

// buildContent makes t's words from a sidecar text for its audio, or a
// deterministic synthetic text marked "[simulated]".
func (s *Server) buildContent(t *transcript) *content {
	var durMS int
	var sha string
	if t.media != nil {
		durMS = int(t.media.duration.Milliseconds())
		sha = t.media.sha
	}
	var texts []string
	if side, ok := s.sidecars[sha]; ok {
		texts = strings.Fields(side)
	}
	seed := draw(s.cfg.Seed, "content:"+sha, 0, 0)
	rng := newRand(uint64(seed * (1 << 53)))
	if len(texts) == 0 {
		texts = synthetic(rng, durMS)
	}
	p := &t.params
	if p.Punctuate != nil && !*p.Punctuate {
		for i, w := range texts {
			texts[i] = strings.TrimRight(w, ".,?!")
		}
	}
	if p.FormatText != nil && !*p.FormatText {
		for i, w := range texts {
			texts[i] = strings.ToLower(w)
		}
	}
	c := &content{words: make([]word, len(texts))}
	total := 0
	for _, w := range texts {
		total += len(w) + 1
	}
	pos, sum := 0, 0.0
	for i, w := range texts {
		start := pos * durMS / total
		pos += len(w) + 1
		end := max(start+1, pos*durMS/total-durMS/(total*4+1))
		conf := 0.8 + 0.19*rng.float()
		sum += conf
		c.words[i] = word{Text: w, Start: start, End: min(end, durMS), Confidence: round3(conf)}
	}
	if len(texts) > 0 {
		c.confidence = round3(sum / float64(len(texts)))
	}
	c.text = strings.Join(texts, " ")
	from := 0
	for i, w := range texts {
		if strings.HasSuffix(w, ".") || strings.HasSuffix(w, "?") || strings.HasSuffix(w, "!") || i == len(texts)-1 {
			c.sentences = append(c.sentences, span{from, i + 1})
			from = i + 1
		}
	}
	for i := 0; i < len(c.sentences); i += 4 {
		last := c.sentences[min(i+3, len(c.sentences)-1)]
		c.paragraphs = append(c.paragraphs, span{c.sentences[i].from, last.to})
	}
	if p.SpeakerLabels != nil && *p.SpeakerLabels {
		n := 2
		if p.SpeakersExpected != nil && *p.SpeakersExpected > 0 {
			n = min(*p.SpeakersExpected, 26)
		}
		for k, sp := range c.paragraphs {
			label := string(rune('A' + k%n))
			for i := sp.from; i < sp.to; i++ {
				c.words[i].Speaker = &label
			}
		}
	}
	c.wordsJSON, _ = json.Marshal(c.words)
	return c
}

// synthetic returns about 2.5 words per second of audio, at most maxWords,
// starting with the marker "[simulated]".
func synthetic(rng *splitmix, durMS int) []string {
	n := min(max(1, durMS*5/2000), maxWords)
	out := make([]string, 0, n)
	out = append(out, "[simulated]")
	inSentence := 0
	sentenceLen := 6 + rng.intn(9)
	for len(out) < n {
		w := vocabulary[rng.intn(len(vocabulary))]
		if inSentence == 0 {
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		inSentence++
		if inSentence == sentenceLen || len(out) == n-1 {
			w += "."
			inSentence = 0
			sentenceLen = 6 + rng.intn(9)
		}
		out = append(out, w)
	}
	if n == 1 {
		out[0] = "[simulated]."
	}
	return out
}

func round3(f float64) float64 { return float64(int(f*1000+0.5)) / 1000 }

// group is a run of words: a sentence, paragraph or utterance.
type group struct {
	Text       string          `json:"text"`
	Start      int             `json:"start"`
	End        int             `json:"end"`
	Confidence float64         `json:"confidence"`
	Words      json.RawMessage `json:"words"`
	Speaker    *string         `json:"speaker,omitempty"`
}

func (c *content) group(sp span, withSpeaker bool) group {
	ws := c.words[sp.from:sp.to]
	g := group{Words: json.RawMessage("[]")}
	if len(ws) == 0 {
		return g
	}
	texts := make([]string, len(ws))
	sum := 0.0
	for i, w := range ws {
		texts[i] = w.Text
		sum += w.Confidence
	}
	b, _ := json.Marshal(ws)
	g = group{Text: strings.Join(texts, " "), Start: ws[0].Start, End: ws[len(ws)-1].End,
		Confidence: round3(sum / float64(len(ws))), Words: b}
	if withSpeaker {
		g.Speaker = ws[0].Speaker
	}
	return g
}

// sentenceJSON is a TranscriptSentence: speaker is required (nullable).
type sentenceJSON struct {
	group
	Speaker *string `json:"speaker"`
}

func (c *content) sentencesOut() []sentenceJSON {
	out := make([]sentenceJSON, len(c.sentences))
	for i, sp := range c.sentences {
		g := c.group(sp, true)
		out[i] = sentenceJSON{group: g, Speaker: g.Speaker}
		out[i].group.Speaker = nil
	}
	return out
}

func (c *content) paragraphsOut() []group {
	out := make([]group, len(c.paragraphs))
	for i, sp := range c.paragraphs {
		out[i] = c.group(sp, false)
	}
	return out
}

// utterancesJSON groups paragraphs by speaker (spec TranscriptUtterance).
func (c *content) utterancesJSON() json.RawMessage {
	out := make([]group, 0, len(c.paragraphs))
	for _, sp := range c.paragraphs {
		g := c.group(sp, true)
		if g.Speaker == nil {
			g.Speaker = ptr("A")
		}
		out = append(out, g)
	}
	b, _ := json.Marshal(out)
	return b
}

// loadSidecars merges explicit sidecars with NAME.txt files beside audio
// files NAME.EXT in dir.
// LoadSidecars reads the fixtures of dir the way Config.SidecarDir does:
// every NAME.txt beside an audio file NAME.EXT becomes the transcript text of
// that audio. The map is keyed by the hex SHA-256 of the audio bytes, ready
// for Config.Sidecars.
func LoadSidecars(dir string) (map[string]string, error) {
	return loadSidecars(nil, dir)
}

func loadSidecars(explicit map[string]string, dir string) (map[string]string, error) {
	out := make(map[string]string, len(explicit))
	for k, v := range explicit {
		out[strings.ToLower(k)] = v
	}
	if dir == "" {
		return out, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read sidecar dir: %w", err)
	}
	texts := map[string]string{}
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".txt"); ok && !e.IsDir() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("read sidecar: %w", err)
			}
			texts[name] = string(b)
		}
	}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		text, ok := texts[strings.TrimSuffix(e.Name(), ext)]
		if e.IsDir() || ext == ".txt" || !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read sidecar audio: %w", err)
		}
		sum := sha256.Sum256(b)
		out[hex.EncodeToString(sum[:])] = text
	}
	return out, nil
}
