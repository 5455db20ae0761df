package logging

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"/home/me/a.wav", "/home/me/a.wav"},
		{"C:\\audio\\a?b.wav", "C:\\audio\\a?b.wav"},
		{"https://example.com/a.mp3", "https://example.com/a.mp3"},
		{"https://user:pass@example.com/a.mp3", "https://example.com/a.mp3"},
		{"https://example.com/a.mp3?token=s3cret&x=1", "https://example.com/a.mp3?token=REDACTED&x=REDACTED"},
		{"https://bob@example.com:8443/hook?token=s3cret#frag", "https://example.com:8443/hook?token=REDACTED#frag"},
		{"http://example.com/%zz?token=s3cret", "http://REDACTED"},
	} {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	in := `Get "https://u:p@cdn.example/a.wav?sig=abc": dial tcp: refused; retry https://x.example/b?token=t`
	want := `Get "https://cdn.example/a.wav?sig=REDACTED": dial tcp: refused; retry https://x.example/b?token=REDACTED`
	if got := RedactText(in); got != want {
		t.Errorf("RedactText\n got %s\nwant %s", got, want)
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"plain name.wav", "plain name.wav"},
		{"überlänge – 日本.wav", "überlänge – 日本.wav"},
		{"a\x1b[31mred\nb.wav", `a\x1b[31mred\nb.wav`},
		{"tab\there\r", `tab\there\r`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"evil\u202egnp.wav", `evil\u202egnp.wav`},
		{"c1\u009bx", `c1\u009bx`},
	} {
		if got := Printable(tt.in); got != tt.want {
			t.Errorf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := Source("https://u:p@h.example/a%20b.wav?k=v"); got != `https://h.example/a%20b.wav?k=REDACTED` {
		t.Errorf("Source = %q", got)
	}
	if got := Source("/tmp/a\x1b[31mred\nb.wav"); got != `/tmp/a\x1b[31mred\nb.wav` {
		t.Errorf("Source = %q", got)
	}
}

func TestLogRedactsURLs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, _, err := New(Options{}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Warn("https://h.example/m?token=msg1", KeySource, "https://u:pw2@h.example/a.wav?X-Amz-Signature=sig3",
		KeyError, errors.New(`Get "https://h.example/a.wav?token=err4": EOF`))
	out := buf.String()
	for _, secret := range []string{"msg1", "pw2", "sig3", "err4"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line keeps %q: %s", secret, out)
		}
	}
	if !strings.Contains(out, "X-Amz-Signature=REDACTED") {
		t.Errorf("log line lost the parameter name: %s", out)
	}
}
