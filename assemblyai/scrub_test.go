package assemblyai

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// keyEchoes are the ways a server (or a proxy in front of it) might quote a
// request's key back in an error text.
func keyEchoes(key string) map[string]string {
	b := []byte(key)
	return map[string]string{
		"plain":          key,
		"query-escaped":  url.QueryEscape(key),
		"hex":            hex.EncodeToString(b),
		"HEX":            strings.ToUpper(hex.EncodeToString(b)),
		"b64":            base64.StdEncoding.EncodeToString(b),
		"b64 raw":        base64.RawStdEncoding.EncodeToString(b),
		"b64url":         base64.URLEncoding.EncodeToString(b),
		"b64url raw":     base64.RawURLEncoding.EncodeToString(b),
		"b64 bearer":     base64.StdEncoding.EncodeToString([]byte("Bearer " + key)),
		"b64url bearer":  base64.RawURLEncoding.EncodeToString([]byte("Bearer " + key)),
		"b64 basic":      base64.StdEncoding.EncodeToString([]byte(key + ":")),
		"b64 basic user": base64.StdEncoding.EncodeToString([]byte("api:" + key)),
	}
}

// leaks returns the names of the echoes of key found in s.
func leaks(s, key string) []string {
	var found []string
	for name, echo := range keyEchoes(key) {
		if name != "plain" && strings.Contains(echo, key) {
			continue // the form is the key itself: "plain" reports it
		}
		core := echo
		if strings.HasPrefix(name, "b64 ") || strings.HasPrefix(name, "b64url ") {
			core = echo[4 : len(echo)-4] // the part that depends on the key alone
		}
		if strings.Contains(s, core) {
			found = append(found, name)
		}
	}
	return found
}

func TestScrubForms(t *testing.T) {
	t.Parallel()
	for _, key := range []string{string(testKey), "0123456789abcdef0123456789abcdef", "k+y/with=odd&chars?"} {
		var b strings.Builder
		for name, echo := range keyEchoes(key) {
			b.WriteString(name + "=" + echo + "; ")
		}
		in := b.String()
		if len(leaks(in, key)) == 0 {
			t.Fatalf("the test finds no echo in %q", in)
		}
		out := APIKey(key).Scrub(in)
		if l := leaks(out, key); len(l) > 0 {
			t.Errorf("key %q: %v survive in %s", key, l, out)
		}
	}
	if got := APIKey("secretkey").Scrub("nothing to see"); got != "nothing to see" {
		t.Errorf("Scrub changed clean text: %q", got)
	}
}

// An API error text and a transcript's error that echo the key, in any
// encoding, reach the caller without it (issue 18, #15).
func TestKeyEchoedInErrorsIsScrubbed(t *testing.T) {
	t.Parallel()
	key := string(testKey)
	var echo strings.Builder
	for name, e := range keyEchoes(key) {
		echo.WriteString(name + " " + e + ", ")
	}
	msg := "upstream rejected request " + echo.String()
	c, _ := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/transcript/bad" {
			writeJSON(w, 400, `{"error":"`+msg+`"}`)
			return
		}
		writeJSON(w, 200, `{"id":"t1","status":"error","error":"`+msg+`"}`)
	})
	_, err := c.GetTranscript(t.Context(), "bad")
	if err == nil {
		t.Fatal("no error")
	}
	if l := leaks(err.Error(), key); len(l) > 0 {
		t.Errorf("APIError keeps the key as %v: %v", l, err)
	}
	tr, err := c.GetTranscript(t.Context(), "t1")
	if err != nil {
		t.Fatal(err)
	}
	if l := leaks(tr.Error, key); len(l) > 0 || !strings.Contains(tr.Error, "upstream rejected") {
		t.Errorf("Transcript.Error keeps the key as %v: %s", l, tr.Error)
	}
	if l := leaks(string(tr.Raw), key); len(l) > 0 {
		t.Errorf("Transcript.Raw keeps the key as %v: %s", l, tr.Raw)
	}
}
