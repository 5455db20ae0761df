package cli

import (
	"strings"

	"github.com/durascribe/durascribe/internal/logging"
)

// The CLI prints sources and failure texts that come from file names, URLs
// and remote servers. Sources go through logging.Source; the helpers below do
// the same for free text: URL secrets redacted, control characters escaped,
// so a name like "a\x1b[31mred\nb.wav" prints as a\x1b[31mred\nb.wav.

// shownText returns a failure reason or error text fit to print on one line.
func shownText(s string) string { return logging.Printable(logging.RedactText(s)) }

// shownErr is shownText of err's message ("" for nil).
func shownErr(err error) string {
	if err == nil {
		return ""
	}
	return shownText(err.Error())
}

// shownLines is shownText for a message whose own line breaks are meant (a
// top-level error with a "Fix:" line): each line is escaped on its own.
func shownLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = shownText(l)
	}
	return strings.Join(lines, "\n")
}
