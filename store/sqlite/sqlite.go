// Package sqlite is gluenet's embedded state store: one SQLite file on the
// machine that runs gluenet, in pure Go (modernc.org/sqlite, no cgo).
//
// Several gluenet processes on one machine may share the file. The database
// runs in WAL mode, so readers never block the writer; every write
// transaction starts with BEGIN IMMEDIATE, so read-modify-write updates
// (health memory, leases, BeginRun) take SQLite's write lock before they
// read and are serialized across processes; and a busy timeout makes a
// writer wait for the lock instead of failing at once. Leases and
// health updates are therefore safe between processes, but the file must
// be on a local disk: SQLite's locks are not reliable over network file
// systems. Runners on several machines share a Postgres store instead.
//
// The schema lives in migrations/ and is applied at Open, in one
// transaction, recorded in the schema_migrations table.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/migrate"
	"github.com/gluenet/gluenet/store/internal/sqldb"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// BusyTimeout is how long a write waits for another connection or process
// to finish its write transaction before it fails with SQLITE_BUSY. Write
// transactions here last milliseconds, so waiting this long means something
// is wrong (a stuck process holding the lock), not ordinary contention.
const BusyTimeout = 5 * time.Second

// Store is a store.Store on a SQLite file: the shared database/sql store
// (store/internal/sqldb) in SQLite's dialect.
type Store struct {
	*shared
	db  *sql.DB
	cfg sqldb.Config
	// readOnly and maxConns are ReadOnly's and WithMaxOpenConns's.
	readOnly bool
	maxConns int
}

// shared is the embedded store's type, under a name that is not exported.
type shared = sqldb.Store

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock that times the events ResetHealth writes, the one
// time the store interface does not pass in. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.cfg.Now = now } }

// WithLogger sets the logger for migrations. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.cfg.Log = l } }

// WithRetention sets how long the store keeps what is over and how often
// its writes prune (see store.Retention). The default is
// store.DefaultRetention().
func WithRetention(r store.Retention) Option { return func(s *Store) { s.cfg.Retention = r } }

// ReadOnly opens an existing state file for reading only (gluenet serve):
// a missing file is an error instead of a new, empty store, nothing is
// written (no migration: a schema older than this gluenet is an error),
// and a file the process may not write can be read. Every write method
// then fails with SQLite's "attempt to write a readonly database".
func ReadOnly() Option { return func(s *Store) { s.readOnly = true } }

// WithMaxOpenConns bounds the connections (and so the open files) the
// store's pool holds; 0 leaves database/sql's default, no bound.
func WithMaxOpenConns(n int) Option { return func(s *Store) { s.maxConns = n } }

// DefaultPath returns where gluenet keeps its state on this machine,
// following the XDG base directory spec: $XDG_STATE_HOME/gluenet/state.db,
// or ~/.local/state/gluenet/state.db when XDG_STATE_HOME is unset (or not
// absolute, which the spec says to ignore). It creates the directory, private
// to the user, since the state names the user's jobs and runs.
func DefaultPath() (string, error) {
	base := os.Getenv("XDG_STATE_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the state directory: %w", err)
		}
		base = filepath.Join(home, ".local", "state")
	}
	dir := filepath.Join(base, "gluenet")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the state directory: %w", err)
	}
	return filepath.Join(dir, "state.db"), nil
}

// Open opens (creating if needed) the SQLite state file at path, with its
// parent directory, and brings its schema up to date.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	return open(ctx, path, migrationFiles, opts)
}

func open(ctx context.Context, path string, migrations fs.FS, opts []Option) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite state: the path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite state %q: %w", path, err)
	}
	s := &Store{cfg: sqldb.DefaultConfig()}
	for _, o := range opts {
		o(s)
	}
	if s.readOnly {
		return s.openReadOnly(ctx, abs, migrations)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite state: create directory: %w", err)
	}
	// Every connection of the pool gets these settings. _txlock=immediate
	// makes each transaction begin with BEGIN IMMEDIATE, taking the write
	// lock before reading: a deferred transaction that reads and then writes
	// in WAL mode fails with SQLITE_BUSY_SNAPSHOT, without waiting, whenever
	// another process wrote in between. Read-only transactions stay deferred.
	// synchronous=FULL makes a commit survive power loss, not only a crash;
	// the run id must.
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	// The driver runs _pragma before _journal_mode and _synchronous: turning
	// a new, empty file into a WAL database then costs no fsync (four
	// otherwise, a good part of a cold start). On a file that is already
	// WAL, the journal_mode pragma changes nothing, and _synchronous sets
	// FULL before the connection is used.
	q.Add("_pragma", "synchronous = OFF")
	q.Set("_journal_mode", "WAL")
	q.Set("_foreign_keys", "1")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	// The file: URI form escapes the path, so names with '?' or '#' work.
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite state %q: %w", abs, err)
	}
	s.db = db
	db.SetMaxOpenConns(s.maxConns)
	if err := s.cfg.Retention.Validate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite state %q: %w", abs, err)
	}
	if err := s.migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite state %q: %w", abs, err)
	}
	s.shared = sqldb.New(db, dialect, s.cfg)
	return s, nil
}

// openReadOnly opens an existing file with mode=ro and checks that its
// schema is this gluenet's.
func (s *Store) openReadOnly(ctx context.Context, abs string, migrations fs.FS) (*Store, error) {
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open sqlite state %q read-only: %w", abs, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite state %q read-only: %w", abs, err)
	}
	s.db = db
	db.SetMaxOpenConns(s.maxConns)
	all, err := migrate.Load(migrations, "migrations")
	if err == nil {
		var applied []int
		if applied, err = sqlrows.All(ctx, db, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`); err == nil {
			var pending []migrate.Migration
			if pending, err = migrate.Pending(all, applied); err == nil && len(pending) > 0 {
				err = fmt.Errorf("its schema is older than this gluenet's (%d migrations to apply): open it once with a gluenet command that writes (gluenet run, gluenet serve --watch)", len(pending))
			}
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite state %q read-only: %w", abs, err)
	}
	s.shared = sqldb.New(db, dialect, s.cfg)
	return s, nil
}

// migrate applies the pending migrations in one immediate transaction, so
// that processes opening a new file at the same moment apply them once.
//
// Opening is on the path of every gluenet command that keeps state, so an
// up-to-date file (the usual case) costs one read and no write lock: only
// when that read finds something to do does migrate take the lock and look
// again. The schema is written with synchronous=OFF on its connection: the
// commit stays atomic (a crash leaves the old file or the new schema), only
// its durability against power loss waits for the next synced commit, which
// syncs the whole WAL; a schema lost that way is simply created again. It
// spares a new state file (a cold start) a round of fsyncs.
func (s *Store) migrate(ctx context.Context, migrations fs.FS) error {
	all, err := migrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	if applied, err := sqlrows.All(ctx, s.db, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`); err == nil {
		if pending, err := migrate.Pending(all, applied); err == nil && len(pending) == 0 {
			return nil
		}
	}
	return s.inTxSynchronous(ctx, "OFF", func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at INTEGER NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		applied, err := sqlrows.All(ctx, tx, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`)
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		pending, err := migrate.Pending(all, applied)
		if err != nil {
			return err
		}
		for _, m := range pending {
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %d (%s): %w", m.Version, m.Name, err)
			}
			// applied_at is bookkeeping for humans, not behaviour: the
			// wall clock is right here.
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			s.cfg.Log.DebugContext(ctx, "applied state migration", "store", "sqlite", "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// Close closes the database.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close sqlite state: %w", err)
	}
	return nil
}

// dialect is SQLite's way with the shared store: times are microseconds
// since the Unix epoch, lists are JSON arrays, every write transaction
// begins IMMEDIATE (the _txlock of the DSN), which serializes writers
// across processes, so health updates and prunes need no lock of their own.
var dialect = sqldb.Dialect{
	Name:        "sqlite",
	Time:        micros,
	Strings:     jsonList,
	ScanStrings: func(dst *[]string) any { return listScanner{dst} },
	In: func(column string, values []string) (string, any) {
		b, _ := json.Marshal(values) // strings always encode
		return column + " IN (SELECT value FROM json_each(?))", string(b)
	},
	Begin:      begin,
	ReadOnly:   &sql.TxOptions{ReadOnly: true},
	NoLimit:    -1,
	InsertRows: insertRows,
}

// insertRows inserts the rows with one prepared statement.
func insertRows(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (`+strings.Join(columns, ", ")+`) VALUES (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ")+`)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	return nil
}

// begin starts a write transaction. BEGIN IMMEDIATE waits for the write
// lock through the busy timeout, but SQLite returns SQLITE_BUSY at once in
// a few cases instead, such as while another process is turning a new file
// into a WAL database (seen when gluenets start together on a new state
// file). Nothing has happened yet when BEGIN fails, so it is retried here,
// for as long as the busy timeout would have waited.
func begin(ctx context.Context, on sqldb.TxBeginner) (*sql.Tx, error) {
	deadline := time.Now().Add(BusyTimeout)
	backoff := 5 * time.Millisecond
	for {
		tx, err := on.BeginTx(ctx, nil)
		if err == nil || !isBusy(err) || time.Now().Add(backoff).After(deadline) {
			return tx, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (waiting for the database lock: %w)", err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var e *msqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// PutCachedSubnets implements store.Store: one write transaction, one
// commit (one fsync) whatever the number of entries.
func (s *Store) PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error {
	if err := store.ValidateCachedSubnets(subnets, expires); err != nil {
		return err
	}
	if len(subnets) == 0 {
		return nil
	}
	// The cache is a hint that a lost entry only makes slower: it is
	// committed with synchronous=NORMAL, atomic, safe from a crash, but not
	// synced until the next synced commit or checkpoint, so that a cold
	// decision does not wait for an fsync to write it.
	err := s.inTxSynchronous(ctx, "NORMAL", func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO subnet_cache (connection, subnet_id, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (connection) DO UPDATE SET subnet_id = excluded.subnet_id, expires_at = excluded.expires_at`)
		if err != nil {
			return fmt.Errorf("cache subnets: %w", err)
		}
		defer stmt.Close()
		for conn, subnet := range subnets {
			if _, err := stmt.ExecContext(ctx, conn, subnet, micros(expires)); err != nil {
				return fmt.Errorf("cache subnet of %q: %w", conn, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache subnets: %w", err)
	}
	return nil
}

// inTxSynchronous runs fn in a write transaction on a connection of its
// own whose synchronous pragma is level (OFF or NORMAL) for the
// transaction: a commit that stays atomic and safe from a crash, whose
// durability against power loss waits for the next synced commit.
func (s *Store) inTxSynchronous(ctx context.Context, level string, fn func(tx *sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = `+level); err != nil {
		return err
	}
	defer func() {
		// Back to the DSN's setting before the connection returns to the
		// pool; a connection that cannot be restored is not reused.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return sqldb.InTx(ctx, dialect, conn, fn)
}

// Encoding.

// micros encodes a time as microseconds since the Unix epoch; the zero time
// is NULL.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// jsonList encodes a list as a JSON array; nil is NULL.
func jsonList(v []string) any {
	if v == nil {
		return nil
	}
	b, _ := json.Marshal(v) // strings always encode
	return string(b)
}

// listScanner decodes a JSON array of strings; NULL leaves nil.
type listScanner struct{ dst *[]string }

func (l listScanner) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*l.dst = nil
		return nil
	case string:
		return json.Unmarshal([]byte(v), l.dst)
	case []byte:
		return json.Unmarshal(v, l.dst)
	}
	return fmt.Errorf("scan a list from %T", v)
}
