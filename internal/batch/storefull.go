package batch

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrStoreFull is returned (wrapped with the database's error) by Run when
// the store cannot be written because its disk (or its size limit) is full.
// Every file keeps its last saved checkpoint; the run stops rather than
// retry writes that cannot succeed until space is freed.
var ErrStoreFull = errors.New("run stopped: the store's disk is full")

// sqliteFull is SQLite's SQLITE_FULL result code.
const sqliteFull = 13

// isStoreFull reports whether err says the database is out of space:
// SQLITE_FULL, or PostgreSQL's disk_full (SQLSTATE 53100). River's own
// errors reach us as text only (its log lines), hence the message test.
func isStoreFull(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ Code() int }
	if errors.As(err, &coded) && coded.Code()&0xff == sqliteFull {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "53100" {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database or disk is full") || strings.Contains(msg, "No space left on device")
}

// storeFull stops the run because the store cannot be written.
func (r *Runner) storeFull(err error) {
	r.stopRun(fmt.Errorf("%w: %w", ErrStoreFull, err))
}
