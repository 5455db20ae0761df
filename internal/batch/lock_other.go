//go:build !unix

package batch

import "os"

// tryLock reports false where advisory locks are not implemented: orphaned
// jobs are then rescued by River alone.
func tryLock(*os.File) bool { return false }

// lockWait does nothing where advisory locks are not implemented.
func lockWait(*os.File) error { return nil }
