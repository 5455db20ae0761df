package atomicfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/durascribe/durascribe/internal/atomicfile"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "a", "b", "out.txt")

	if err := atomicfile.Write(path, []byte("one"), atomicfile.Options{}); err != nil {
		t.Fatal(err)
	}
	// Same content again: idempotent.
	if err := atomicfile.Write(path, []byte("one"), atomicfile.Options{}); err != nil {
		t.Fatalf("rewrite same content: %v", err)
	}
	// Different content without Overwrite: refused, old content kept.
	err := atomicfile.Write(path, []byte("two"), atomicfile.Options{})
	if !errors.Is(err, atomicfile.ErrExists) {
		t.Fatalf("got %v, want ErrExists", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("content = %q, want one", b)
	}
	if err := atomicfile.Write(path, []byte("two"), atomicfile.Options{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Fatalf("content = %q, want two", b)
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("dir has %d entries, want 1", len(entries))
	}
}
