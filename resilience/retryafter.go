package resilience

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds keeps a delta-seconds value inside time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// httpDateLayouts are the three HTTP-date forms a recipient must accept
// (RFC 9110 §5.6.7), tried in the order net/http's ParseTime uses: the
// preferred IMF-fixdate, then the obsolete RFC 850 and ANSI C asctime forms.
// They live here so that resilience need not import net/http.
var httpDateLayouts = [...]string{
	"Mon, 02 Jan 2006 15:04:05 GMT", // IMF-fixdate (http.TimeFormat)
	time.RFC850,                     // "Monday, 02-Jan-06 15:04:05 MST"
	time.ANSIC,                      // "Mon Jan _2 15:04:05 2006"
}

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110 §10.2.3):
// either delta-seconds ("120") or an HTTP-date in any of its three forms,
// measured from now. A date in the past gives 0, true (retry now). Anything
// else, including negative or fractional seconds, gives 0, false. Huge
// delta-seconds saturate rather than overflow.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > maxRetryAfterSeconds {
			return time.Duration(maxRetryAfterSeconds) * time.Second, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, ok := parseHTTPDate(v)
	if !ok {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// parseHTTPDate reads an HTTP-date exactly as net/http's ParseTime does.
func parseHTTPDate(v string) (time.Time, bool) {
	for _, layout := range httpDateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func isDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
