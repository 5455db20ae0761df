package assemblyai

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[redacted]"

// APIKey is an AssemblyAI API key. Every way of printing, logging or
// marshalling it yields "[redacted]"; only Reveal returns the key itself, and
// the client calls it for the Authorization header alone.
type APIKey string

// Reveal returns the raw key. Use it only to build the Authorization header.
func (k APIKey) Reveal() string { return string(k) }

// String returns "[redacted]".
func (k APIKey) String() string { return redacted }

// GoString returns "[redacted]", so %#v does not print the key either.
func (k APIKey) GoString() string { return redacted }

// Format writes "[redacted]" for every verb (%s, %v, %q, %x, %d...).
func (k APIKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer and returns "[redacted]".
func (k APIKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[redacted]".
func (k APIKey) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns the JSON string "[redacted]".
func (k APIKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
