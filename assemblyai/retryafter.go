package assemblyai

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfterSeconds keeps a delay-seconds value inside time.Duration.
const maxRetryAfterSeconds = math.MaxInt64 / int64(time.Second)

// ParseRetryAfter parses the value of a Retry-After header (RFC 9110
// §10.2.3), measured from now. It is the one parser of the header in
// durascribe: the client fills [APIError.RetryAfter] with it, and the retry
// policy (package resilience) only ever sees the resulting duration.
//
//   - delay-seconds ("120") is a wait of that many seconds. RFC 9110 allows
//     only a non-negative integer; a decimal such as "1.5" is accepted
//     leniently as 1.5 s, since its meaning is plain and reading it as
//     absent would let our own, possibly shorter, backoff retry before the
//     server asked. Only digits with at most one "." are: "+3", "1e3",
//     "0x10", "-1" and "NaN" are invalid.
//   - An HTTP-date in any of the three forms RFC 9110 §5.6.7 requires a
//     recipient to accept (IMF-fixdate, RFC 850, ANSI C asctime) is a wait
//     until then; a date in the past gives 0, true: retry now.
//   - Huge values saturate at the longest time.Duration rather than
//     overflow; bounding the wait is the retry policy's job
//     (resilience.Policy.RetryAfterMax).
//
// ok is false for an empty or invalid value, which callers treat as no
// Retry-After at all.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if whole, frac, found := strings.Cut(v, "."); isDigits(whole) && (!found || isDigits(frac)) {
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || n >= maxRetryAfterSeconds {
			return math.MaxInt64, true
		}
		d = time.Duration(n) * time.Second
		if found {
			// At most nine digits of the fraction matter (nanoseconds);
			// the rest are cut off.
			f, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
			d += time.Duration(f)
		}
		return d, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
