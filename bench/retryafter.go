package main

import (
	"net/http"
	"strconv"
)

// exactRetryAfter serves h with every Retry-After replaced by the exact
// scaled delay the emulator puts in X-Emulator-Retry-After-Ms, in
// fractional seconds. On the wire Retry-After is whole seconds, which the
// emulator rounds up to at least 1 s; at time scale 0.05 a real "2" would
// become a wait 10 times too long for every client that honours it. The
// rewrite runs in the bench's server, so every contender (in-process or
// the durascribe binary) sees the same values.
func exactRetryAfter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&retryAfterWriter{ResponseWriter: w}, r)
	})
}

type retryAfterWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *retryAfterWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		hdr := w.Header()
		if ms := hdr.Get("X-Emulator-Retry-After-Ms"); ms != "" && hdr.Get("Retry-After") != "" {
			if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n >= 0 {
				hdr.Set("Retry-After", strconv.FormatFloat(float64(n)/1000, 'f', 3, 64))
			}
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *retryAfterWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets the emulator's faults reach the connection through
// http.ResponseController.
func (w *retryAfterWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
