// Package logging sets up durascribe's slog logger from the command-line
// options (--log-format, --log-level, --log-file), names the log keys used
// across packages, and makes text safe to show: URL secrets redacted
// (RedactURL, RedactText), control characters escaped (Printable). It does
// not decide what is logged.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Keys used in log lines across durascribe, so that JSON logs are stable for
// scripts.
const (
	KeySource       = "source"
	KeyStage        = "stage"
	KeyEndpoint     = "endpoint"
	KeyAttempt      = "attempt"
	KeyStatus       = "status"
	KeyClass        = "class"
	KeyError        = "error"
	KeyTranscriptID = "transcript_id"
	KeyDelay        = "delay"
	KeyRetryAfter   = "retry_after"
	KeyBreaker      = "breaker"
)

// Options are the logging flags.
type Options struct {
	// Format is "text" or "json". Defaults to "text".
	Format string
	// Level is "debug", "info", "warn" or "error". Defaults to "info".
	Level string
	// File, when set, receives the log instead of the fallback writer; it
	// is opened for appending.
	File string
}

// ErrBadOption reports an invalid logging option.
var ErrBadOption = errors.New("bad logging option")

// New returns a logger for opts writing to fallback (usually stderr) unless
// opts.File is set, and a function that closes the log file.
func New(opts Options, fallback io.Writer) (*slog.Logger, func() error, error) {
	var level slog.Level
	switch strings.ToLower(opts.Level) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, nil, fmt.Errorf("%w: --log-level %q: use debug, info, warn or error", ErrBadOption, opts.Level)
	}
	w, closer := fallback, func() error { return nil }
	if opts.File != "" {
		f, err := os.OpenFile(opts.File, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("open log file: %w", err)
		}
		w, closer = f, f.Close
	}
	ho := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	var h slog.Handler
	switch strings.ToLower(opts.Format) {
	case "", "text":
		h = slog.NewTextHandler(w, ho)
	case "json":
		h = slog.NewJSONHandler(w, ho)
	default:
		_ = closer()
		return nil, nil, fmt.Errorf("%w: --log-format %q: use text or json", ErrBadOption, opts.Format)
	}
	return slog.New(h), closer, nil
}

// redactAttr redacts the secrets of URLs (query values, userinfo) in every
// string and error attribute, so signed audio URLs and webhook tokens stay out
// of log files whichever package logs them.
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "://") {
			a.Value = slog.StringValue(RedactText(s))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && err != nil {
			if s := err.Error(); strings.Contains(s, "://") {
				a.Value = slog.StringValue(RedactText(s))
			}
		}
	}
	return a
}
