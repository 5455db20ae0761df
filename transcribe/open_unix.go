//go:build unix

package transcribe

import (
	"os"
	"syscall"
)

// openNoFollow opens name for reading without following a symbolic link in
// its last element (the open fails instead), and without blocking on a FIFO
// put in the file's place.
func openNoFollow(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
