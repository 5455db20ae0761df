package logging

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted replaces a secret part of a URL (a query value, userinfo).
const Redacted = "REDACTED"

// RedactURL returns raw with its userinfo removed and every query value
// replaced by REDACTED, for display: signed URLs and webhook URLs carry
// credentials there (?token=, X-Amz-Signature=, user:pass@). Query names stay,
// so a reader still sees which parameters were given. A string that is not
// an absolute URL with a host is returned unchanged, so local paths print as
// they are. Never send the result anywhere: it is for people, not servers.
func RedactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "?@") {
			// Unparseable, yet shaped like a URL with secrets: keep the scheme only.
			return raw[:strings.Index(raw, "://")+3] + Redacted
		}
		return raw
	}
	if u.Host == "" {
		return raw
	}
	if u.User == nil && u.RawQuery == "" {
		return raw
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	return u.String()
}

// redactQuery keeps each parameter's name and replaces its value.
func redactQuery(q string) string {
	parts := strings.Split(q, "&")
	for i, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if name == "" && p == "" {
			continue
		}
		parts[i] = name + "=" + Redacted
	}
	return strings.Join(parts, "&")
}

// urlInText matches an http(s) URL inside free text such as an error message.
var urlInText = regexp.MustCompile(`(?i)https?://[^\s"'<>` + "`" + `]+`)

// RedactText applies RedactURL to every http(s) URL in s (an error message,
// a failure reason), leaving the rest of the text as it is.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}

// Printable returns s with every control character (ESC, newline, tab, DEL,
// C1 controls) and invalid UTF-8 byte written as a Go escape (\x1b, \n...),
// so a file name cannot move the cursor, recolour the terminal or forge an
// output line. Names without such characters are returned unchanged,
// unquoted, so ordinary names print exactly as before.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || isBidi(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || isBidi(r):
			q := strconv.QuoteRune(r) // 'x' with x escaped
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// isBidi reports whether r is a bidirectional formatting character, which
// can make a terminal show a name in a different order than it is.
func isBidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f
}

// Source returns a file's source (a path or URL) fit to print: URL secrets
// redacted, control characters escaped.
func Source(s string) string { return Printable(RedactURL(s)) }
