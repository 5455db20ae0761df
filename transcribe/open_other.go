//go:build !unix

package transcribe

import (
	"fmt"
	"io/fs"
	"os"
)

// openNoFollow opens name for reading unless its last element is a symbolic
// link. Without O_NOFOLLOW, it checks before and after the open that the
// path and the open file are one file.
func openNoFollow(name string) (*os.File, error) {
	lfi, err := os.Lstat(name)
	if err != nil {
		return nil, err
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("open %s: is a symbolic link", name)
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !os.SameFile(lfi, fi) {
		_ = f.Close() // opened read-only
		return nil, fmt.Errorf("open %s: replaced while it was opened", name)
	}
	return f, nil
}
