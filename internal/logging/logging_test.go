package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewFormatsAndLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, closeFn, err := New(Options{Format: "json", Level: "warn"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	log.Info("hidden")
	log.Warn("shown", KeyAttempt, 2)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	if m["msg"] != "shown" || m[KeyAttempt] != float64(2) {
		t.Fatalf("unexpected line %v", m)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Format: "xml"}, {Level: "loud"}} {
		if _, _, err := New(o, &bytes.Buffer{}); !errors.Is(err, ErrBadOption) {
			t.Errorf("New(%+v) error = %v, want ErrBadOption", o, err)
		}
	}
}

func TestNewWritesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "d.log")
	log, closeFn, err := New(Options{File: path}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("to file")
	if err := closeFn(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), "to file") {
		t.Fatalf("log file = %q, %v", b, err)
	}
}
