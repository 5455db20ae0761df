package batch

import (
	"fmt"
	"strings"
)

// Caption limits, close to AssemblyAI's own SRT/VTT export.
const (
	captionMaxChars = 64
	captionMaxMS    = 5000
)

// subtitles renders SRT or VTT from the words of a stored transcript, so that
// export works offline and costs no API request. Without word timings (an
// empty transcript) the file has no cues.
func subtitles(tr storedTranscript, format string) string {
	var b strings.Builder
	if format == FormatVTT {
		b.WriteString("WEBVTT\n\n")
	}
	n := 0
	for i := 0; i < len(tr.Words); {
		start := tr.Words[i].Start
		end := tr.Words[i].End
		text := tr.Words[i].Text
		j := i + 1
		for ; j < len(tr.Words); j++ {
			w := tr.Words[j]
			if len(text)+1+len(w.Text) > captionMaxChars || w.End-start > captionMaxMS {
				break
			}
			text += " " + w.Text
			end = w.End
		}
		n++
		if format == FormatSRT {
			fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", n, timestamp(start, ","), timestamp(end, ","), text)
		} else {
			fmt.Fprintf(&b, "%s --> %s\n%s\n\n", timestamp(start, "."), timestamp(end, "."), text)
		}
		i = j
	}
	return b.String()
}

func timestamp(ms int64, sep string) string {
	h := ms / 3600000
	m := ms / 60000 % 60
	s := ms / 1000 % 60
	return fmt.Sprintf("%02d:%02d:%02d%s%03d", h, m, s, sep, ms%1000)
}
