package assemblyai

import (
	"math"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	forever := time.Duration(math.MaxInt64)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		// delay-seconds
		{"integer", "120", 2 * time.Minute, true},
		{"zero", "0", 0, true},
		{"spaces", " 5 ", 5 * time.Second, true},
		{"leading zeros", "007", 7 * time.Second, true},
		{"11.5 days", "999999", 999999 * time.Second, true},
		// Lenient: not delay-seconds per RFC 9110, but plain in meaning.
		{"fraction", "1.5", 1500 * time.Millisecond, true},
		{"fraction below a second", "0.25", 250 * time.Millisecond, true},
		{"fraction past nanoseconds", "1.0000000019", time.Second + 1, true},
		{"trailing dot", "1.", 0, false},
		{"leading dot", ".5", 0, false},
		{"two dots", "1.2.3", 0, false},
		// Huge values saturate; the policy bounds the wait.
		{"max int64 seconds", "9223372036", forever, true},
		{"beyond int64", "99999999999999999999999", forever, true},
		{"huge fraction", "99999999999999999999999.5", forever, true},
		// HTTP-date, the three forms RFC 9110 §5.6.7 requires.
		{"IMF-fixdate", "Fri, 27 Nov 2026 12:02:30 GMT", 150 * time.Second, true},
		{"RFC 850", "Friday, 27-Nov-26 12:00:10 GMT", 10 * time.Second, true},
		{"ANSI C asctime", "Fri Nov 27 12:01:00 2026", time.Minute, true},
		{"asctime one-digit day", "Tue Dec  1 12:00:00 2026", 4 * 24 * time.Hour, true},
		{"far future", "Fri, 31 Dec 2100 23:59:59 GMT", time.Date(2100, 12, 31, 23, 59, 59, 0, time.UTC).Sub(now), true},
		// Past dates: retry now.
		{"past IMF-fixdate", "Fri, 27 Nov 2026 11:00:00 GMT", 0, true},
		{"past RFC 850", "Thursday, 26-Nov-26 12:00:00 GMT", 0, true},
		{"past asctime", "Thu Jan  1 00:00:00 1970", 0, true},
		{"now", "Fri, 27 Nov 2026 12:00:00 GMT", 0, true},
		// Junk and negatives: as if absent.
		{"empty", "", 0, false},
		{"blank", "   ", 0, false},
		{"negative", "-1", 0, false},
		{"negative fraction", "-0.5", 0, false},
		{"plus sign", "+3", 0, false},
		{"exponent", "1e3", 0, false},
		{"hex", "0x10", 0, false},
		{"NaN", "NaN", 0, false},
		{"Inf", "Inf", 0, false},
		{"unit", "120s", 0, false},
		{"word", "soon", 0, false},
		{"RFC 3339", "2026-11-27T12:02:30Z", 0, false},
		{"bad date", "Fri, 32 Nov 2026 12:00:00 GMT", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
