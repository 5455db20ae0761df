// Package atomicfile writes files so that a reader (or a crash) sees either the
// old content or the complete new content, never a torn file: temp file in the
// same directory, fsync, rename, fsync of the directory. It does not lock.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned by Write when the target exists with different content
// and overwriting was not allowed.
var ErrExists = errors.New("file exists with different content")

// Options tune Write.
type Options struct {
	// Overwrite replaces an existing file with different content. Defaults to
	// false: such a file is left alone and Write returns ErrExists.
	Overwrite bool
	// Perm is the mode of a new file. Defaults to 0o644.
	Perm fs.FileMode
}

// Write atomically writes data to path, creating parent directories (0o755) as
// needed. An existing file with the same content is left untouched (the write
// is idempotent, so a resumed batch does not trip over its own outputs).
func Write(path string, data []byte, opts Options) error {
	if opts.Perm == 0 {
		opts.Perm = 0o644
	}
	if old, err := os.ReadFile(path); err == nil {
		if bytes.Equal(old, data) {
			return nil
		}
		if !opts.Overwrite {
			return fmt.Errorf("write %s: %w", path, ErrExists)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read existing %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file: %w", err)
	}
	tmpName := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmpName)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temp file: %w", err)
	}
	if err := tmp.Chmod(opts.Perm); err != nil {
		return fmt.Errorf("chmod temp file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync temp file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp file: %w", err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename temp file: %w", err)
	}
	ok = true
	return syncDir(dir)
}

// syncDir makes the rename durable. Some platforms cannot open or sync a
// directory; that is not an error worth failing a batch for.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer d.Close() //nolint:errcheck // a directory opened read-only; Sync's error is the one that matters
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync directory: %w", err)
	}
	return nil
}
