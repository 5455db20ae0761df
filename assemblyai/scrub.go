package assemblyai

import (
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
)

// minEncodedForm is the shortest encoded form of a key that Scrub replaces:
// shorter slices of base64 would match ordinary text by chance.
const minEncodedForm = 8

// Scrub returns s with every occurrence of the key replaced by "[redacted]":
// as is, URL-encoded (query and path escaping), hex (either case), and base64
// in the standard and URL alphabets, padded or not, including inside a longer
// base64 text (an "Authorization: Basic" pair, "Bearer KEY" encoded whole):
// for each of the three byte alignments the key can have in such a text, the
// run of characters that depends on the key alone is replaced. The client
// applies it to every error text the API sends back (APIError.Message,
// Transcript.Error and Raw), because a server or proxy that echoes the key
// would otherwise carry it into logs, the job store and reports.
func (k APIKey) Scrub(s string) string { return keyForms(string(k)).scrub(s) }

// forms are the encodings of one key, longest first.
type forms []string

func (f forms) scrub(s string) string {
	for _, form := range f {
		if strings.Contains(s, form) {
			s = strings.ReplaceAll(s, form, redacted)
		}
	}
	return s
}

func keyForms(key string) forms {
	if key == "" {
		return nil
	}
	set := map[string]bool{key: true}
	add := func(s string) {
		if len(s) >= minEncodedForm || s == key {
			set[s] = true
		}
	}
	add(url.QueryEscape(key))
	add(url.PathEscape(key))
	add(hex.EncodeToString([]byte(key)))
	add(strings.ToUpper(hex.EncodeToString([]byte(key))))
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for align := range 3 {
			add(base64Core(enc, []byte(key), align))
		}
	}
	f := make(forms, 0, len(set))
	for s := range set {
		f = append(f, s)
	}
	// Longest first, so that a form containing another is replaced whole.
	slices.SortFunc(f, func(a, b string) int { return len(b) - len(a) })
	return f
}

// base64Core returns the base64 characters that depend only on key when key
// starts at byte offset align (0..2) of a larger encoded text: characters
// that also carry bits of the bytes before or after it are left out.
func base64Core(enc *base64.Encoding, key []byte, align int) string {
	buf := make([]byte, align+len(key))
	copy(buf[align:], key)
	full := enc.EncodeToString(buf)
	first, last := align, align+len(key)-1 // byte range of the key
	lo, hi := -1, -1
	for i := range len(full) {
		b0, b1 := 6*i/8, (6*i+5)/8 // bytes holding this character's bits
		if b0 >= first && b1 <= last {
			if lo < 0 {
				lo = i
			}
			hi = i + 1
		}
	}
	if lo < 0 {
		return ""
	}
	return full[lo:hi]
}
