// Package batch is the durable batch pipeline behind `durascribe transcribe`:
// files and their stage progress in our own tables, one River job per file,
// on SQLite (default, one file) or PostgreSQL (several worker processes). It is
// the only package that imports River; the per-file protocol is transcribe's.
package batch

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// DefaultDSN is the store used when none is given: a SQLite file in the
// current directory.
const DefaultDSN = "./durascribe.db"

// Errors returned by the store.
var (
	// ErrNotFound is returned when a file id is not in the store.
	ErrNotFound = errors.New("file not found")
)

// dialect is the SQL flavour of the store. Our queries are written once in the
// common subset ($n placeholders, TEXT times, RETURNING, ON CONFLICT); only the
// DDL differs.
type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

// Store is the durable state of batches: our files and attempts tables and
// River's job tables in one database. A Store is safe for concurrent use.
type Store struct {
	db      *sql.DB // our tables; on SQLite the same single-connection pool River uses
	dialect dialect
	pool    *pgxpool.Pool // PostgreSQL only
	queue   queue         // River, generic over the driver's transaction type
	logger  *slog.Logger
	dsn     string
	path    string // SQLite only: the absolute database path
}

// OpenOptions tune Open.
type OpenOptions struct {
	// Logger receives River's and the store's logs. Defaults to a logger that
	// discards everything.
	Logger *slog.Logger
}

// Open opens (creating if needed) the store named by dsn and runs River's and
// our migrations. dsn is a SQLite file path (DefaultDSN when empty) or a
// postgres:// URL.
//
// SQLite runs in WAL mode with synchronous=FULL: a checkpoint saying "this
// upload_url exists" or "a create is in flight" must survive a power loss, not
// only a crash of our process, or we could pay for a transcript twice. FULL
// costs about 3x on single writes, which is nothing next to an API round trip.
// The pool has one connection (River's advice for SQLite) and a busy timeout so
// that a second process on the same file (enqueue next to worker) waits instead
// of failing.
func Open(ctx context.Context, dsn string, opts OpenOptions) (*Store, error) {
	if dsn == "" {
		dsn = DefaultDSN
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{logger: logger, dsn: dsn}
	if isPostgres(dsn) {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		if err := pool.Ping(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("connect postgres: %w", err)
		}
		s.pool, s.dialect = pool, dialectPostgres
		s.db = stdlib.OpenDBFromPool(pool)
		s.queue = &riverQueue[pgxTx]{driver: riverpgxv5.New(pool)}
	} else {
		path, err := filepath.Abs(strings.TrimPrefix(dsn, "file:"))
		if err != nil {
			return nil, fmt.Errorf("resolve database path: %w", err)
		}
		// Opening, the switch to WAL and migrations run under a lock file:
		// they take milliseconds, so waiting without a context is bounded.
		lock, err := os.OpenFile(path+".migrate-lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open migration lock: %w", err)
		}
		defer lock.Close() //nolint:errcheck // closing releases the lock; nothing written
		if err := lockWait(lock); err != nil {
			return nil, fmt.Errorf("lock migrations: %w", err)
		}
		if err := prepareSQLiteFile(path, logger); err != nil {
			return nil, fmt.Errorf("create sqlite %s: %w", path, err)
		}
		db, err := sql.Open("sqlite", "file:"+path+
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)")
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close() // the ping's error is the one to report
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		s.db, s.dialect, s.path = db, dialectSQLite, path
		s.queue = &riverQueue[sqlTx]{driver: riversqlite.New(db)}
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close() // the migration's error is the one to report
		return nil, err
	}
	return s, nil
}

// Close releases the database connections.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// IsPostgres reports whether the store is a PostgreSQL database.
func (s *Store) IsPostgres() bool { return s.dialect == dialectPostgres }

func isPostgres(dsn string) bool {
	u, err := url.Parse(dsn)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// migrate runs River's migrations and ours. Several processes may open a
// new store at once (two commands started together), so migrations run
// under a lock: PostgreSQL's advisory lock here, or for SQLite the lock file
// that Open holds from before the database is first opened (without it the
// loser of the race failed with "table river_migration already exists", or
// with SQLITE_BUSY switching a new file to WAL).
func (s *Store) migrate(ctx context.Context) error {
	if s.dialect == dialectPostgres {
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("acquire connection: %w", err)
		}
		defer conn.Release()
		key := lockKey("durascribe migrate")
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) //nolint:errcheck // released with the session anyway
	}
	if err := s.queue.migrate(ctx, s.logger); err != nil {
		return fmt.Errorf("migrate river: %w", err)
	}
	for _, stmt := range schema(s.dialect) {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate store: %w", err)
		}
	}
	return nil
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// migrateRiver is shared by both drivers.
func migrateRiver[TTx any](ctx context.Context, m *rivermigrate.Migrator[TTx]) error {
	_, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	return err
}

// setting returns a value of the store's settings table ("" when unset).
func (s *Store) setting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM durascribe_setting WHERE name = $1`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// putSetting sets a value of the store's settings table.
func (s *Store) putSetting(ctx context.Context, name, value string) error {
	if _, err := s.db.ExecContext(ctx,
		`INSERT INTO durascribe_setting (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		name, value); err != nil {
		return fmt.Errorf("save setting %s: %w", name, err)
	}
	return nil
}
