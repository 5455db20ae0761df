package resilience

import (
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"120", 2 * time.Minute, true},
		{"0", 0, true},
		{" 5 ", 5 * time.Second, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999999", time.Duration(maxRetryAfterSeconds) * time.Second, true},
		{"Fri, 27 Nov 2026 12:02:30 GMT", 150 * time.Second, true}, // IMF-fixdate
		{"Friday, 27-Nov-26 12:00:10 GMT", 10 * time.Second, true}, // RFC 850
		{"Fri Nov 27 12:01:00 2026", time.Minute, true},            // ANSI C asctime
		{"Fri, 27 Nov 2026 11:00:00 GMT", 0, true},                 // past: retry now
		{"Fri, 27 Nov 2026 12:00:00 GMT", 0, true},                 // now
		{"", 0, false},
		{"   ", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"+3", 0, false},
		{"soon", 0, false},
		{"120s", 0, false},
		{"2026-11-27T12:02:30Z", 0, false}, // RFC 3339 is not an HTTP-date
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, ok := ParseRetryAfter(tt.in, now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
