package batch

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
)

// storeFileMode is the mode of a SQLite store and its -wal and -shm files:
// they hold the webhook secret and every source (signed URLs included), so
// they are for their owner only. SQLite gives the -wal and -shm files the
// mode of the database file, so creating that one right is enough.
const storeFileMode fs.FileMode = 0o600

// prepareSQLiteFile creates the database file at path with storeFileMode
// when it does not exist (SQLite takes an empty file as a new database), and
// takes the group and other permissions off an existing store and its -wal
// and -shm files: stores made before this check were created under the
// umask, usually world-readable. Removing access is safe for the owner; a
// store deliberately shared by several users on one machine is not a setup
// SQLite stores are meant for (use PostgreSQL), and the warning says what
// was changed. Windows has no such modes and is left alone.
func prepareSQLiteFile(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, storeFileMode)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err // SQLite would fail the same way; its message is no better
	}
	if runtime.GOOS == "windows" {
		return nil
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		mode := fi.Mode().Perm() &^ 0o077
		if err := os.Chmod(p, mode); err != nil {
			logger.Warn("job store file is readable by other users and cannot be restricted: it holds the webhook secret",
				slog.String("path", p), slog.String("mode", fi.Mode().Perm().String()), slog.Any("error", err))
			continue
		}
		logger.Warn("restricted the job store file to its owner: it holds the webhook secret",
			slog.String("path", p), slog.String("was", fi.Mode().Perm().String()), slog.String("now", mode.String()))
	}
	return nil
}
