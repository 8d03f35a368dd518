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
	"time"

	msqlite "modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/autoprune"
	"github.com/gluenet/gluenet/store/internal/migrate"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// BusyTimeout is how long a write waits for another connection or process
// to finish its write transaction before it fails with SQLITE_BUSY. Write
// transactions here last milliseconds, so waiting this long means something
// is wrong (a stuck process holding the lock), not ordinary contention.
const BusyTimeout = 5 * time.Second

// Store is a store.Store on a SQLite file.
type Store struct {
	db        *sql.DB
	now       func() time.Time
	log       *slog.Logger
	retention store.Retention
	prune     autoprune.Schedule
	// readOnly and maxConns are ReadOnly's and WithMaxOpenConns's.
	readOnly bool
	maxConns int
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithClock sets the clock that times the events ResetHealth writes, the one
// time the store interface does not pass in. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithLogger sets the logger for migrations. The default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithRetention sets how long the store keeps what is over and how often
// its writes prune (see store.Retention). The default is
// store.DefaultRetention().
func WithRetention(r store.Retention) Option { return func(s *Store) { s.retention = r } }

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
	s := &Store{now: time.Now, log: slog.Default(), retention: store.DefaultRetention()}
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
	if err := s.retention.Validate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite state %q: %w", abs, err)
	}
	if err := s.migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite state %q: %w", abs, err)
	}
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
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		// Back to the DSN's setting before the connection returns to the
		// pool; a connection that cannot be restored is not reused.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return s.inTxOn(ctx, conn, func(tx *sql.Tx) error {
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
			s.log.DebugContext(ctx, "applied state migration", "store", "sqlite", "version", m.Version, "name", m.Name)
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

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits when fn
// succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTxOn(ctx, s.db, fn)
}

// txBeginner is a *sql.DB or a *sql.Conn.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// inTxOn is inTx on a given pool or connection.
func (s *Store) inTxOn(ctx context.Context, on txBeginner, fn func(tx *sql.Tx) error) error {
	tx, err := begin(ctx, on)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // the error from fn is the one that matters
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// begin starts a write transaction. BEGIN IMMEDIATE waits for the write
// lock through the busy timeout, but SQLite returns SQLITE_BUSY at once in
// a few cases instead, such as while another process is turning a new file
// into a WAL database (seen when gluenets start together on a new state
// file). Nothing has happened yet when BEGIN fails, so it is retried here,
// for as long as the busy timeout would have waited.
func begin(ctx context.Context, on txBeginner) (*sql.Tx, error) {
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

// inReadTx runs fn in a read-only (deferred) transaction, for reads that
// span several queries and must see one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

type querier = sqlrows.Querier

// Runs.

const runColumns = `key, job, status, inputs, created_at, updated_at, finished_at, outcome`

func scanRun(row interface{ Scan(...any) error }) (store.Run, error) {
	var (
		r                store.Run
		inputs           sql.NullString
		created, updated int64
		finished         sql.NullInt64
		status           string
	)
	if err := row.Scan(&r.Key, &r.Job, &status, &inputs, &created, &updated, &finished, &r.Outcome); err != nil {
		return store.Run{}, err
	}
	r.Status = store.RunStatus(status)
	if inputs.Valid {
		r.Inputs = json.RawMessage(inputs.String)
	}
	r.CreatedAt = fromMicros(created)
	r.UpdatedAt = fromMicros(updated)
	r.FinishedAt = fromNullMicros(finished)
	return r, nil
}

func getRun(ctx context.Context, q querier, key string) (store.Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	return r, err
}

// BeginRun implements store.Store.
func (s *Store) BeginRun(ctx context.Context, r store.Run) (store.Run, bool, error) {
	if err := r.Validate(); err != nil {
		return store.Run{}, false, fmt.Errorf("begin run: %w", err)
	}
	if r.Status == "" {
		r.Status = store.RunPending
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = r.CreatedAt
	}
	var (
		got     store.Run
		created bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO NOTHING`,
			r.Key, r.Job, string(r.Status), jsonText(r.Inputs), micros(r.CreatedAt), micros(r.UpdatedAt),
			micros(r.FinishedAt), r.Outcome)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		created = n == 1
		got, err = getRun(ctx, tx, r.Key)
		return err
	})
	if err != nil {
		return store.Run{}, false, fmt.Errorf("begin run %q: %w", r.Key, err)
	}
	if created {
		s.maybePrune(ctx, r.CreatedAt)
	}
	return got, created, nil
}

// GetRun implements store.Store.
func (s *Store) GetRun(ctx context.Context, key string) (store.Run, error) {
	r, err := getRun(ctx, s.db, key)
	if err != nil {
		return store.Run{}, fmt.Errorf("get run: %w", err)
	}
	return r, nil
}

// ListRuns implements store.Store.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: negative limit %d", f.Limit)
	}
	query := `SELECT ` + runColumns + ` FROM runs WHERE 1 = 1`
	var args []any
	if f.Job != "" {
		query += ` AND job = ?`
		args = append(args, f.Job)
	}
	if !f.Before.IsZero() {
		query += ` AND created_at < ?`
		args = append(args, f.Before.UnixMicro())
	}
	if !f.Since.IsZero() {
		query += ` AND created_at >= ?`
		args = append(args, f.Since.UnixMicro())
	}
	if f.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(f.Status))
	}
	query += ` ORDER BY created_at DESC, key DESC`
	if f.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// SetRunStatus implements store.Store.
func (s *Store) SetRunStatus(ctx context.Context, key string, status store.RunStatus, at time.Time) error {
	if !status.Valid() || status.Terminal() {
		return fmt.Errorf("set run %q status: %q is not a non-terminal status (use FinishRun to finish)", key, status)
	}
	if at.IsZero() {
		return fmt.Errorf("set run %q status: the time is zero", key)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, updated_at = ?, finished_at = NULL, outcome = '' WHERE key = ?`,
		string(status), micros(at), key)
	return checkUpdated(res, err, fmt.Sprintf("set run %q status", key))
}

// FinishRun implements store.Store.
func (s *Store) FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error {
	if !status.Terminal() {
		return fmt.Errorf("finish run %q: %q is not a terminal status", key, status)
	}
	if at.IsZero() {
		return fmt.Errorf("finish run %q: the time is zero", key)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE runs SET status = ?, outcome = ?, finished_at = ?, updated_at = ? WHERE key = ?`,
		string(status), outcome, micros(at), micros(at), key)
	if err := checkUpdated(res, err, fmt.Sprintf("finish run %q", key)); err != nil {
		return err
	}
	s.maybePrune(ctx, at)
	return nil
}

// checkUpdated turns an UPDATE that matched no row into ErrNotFound.
func checkUpdated(res sql.Result, err error, op string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// Attempts.

func runExists(ctx context.Context, q querier, key string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	return err
}

// runIDConflict explains an upsert that its WHERE refused because another
// Glue run id is recorded.
func runIDConflict(ctx context.Context, q querier, key string, number int, want string) error {
	var old sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT glue_run_id FROM attempts WHERE run_key = ? AND number = ?`, key, number).Scan(&old); err != nil {
		return fmt.Errorf("read recorded run id: %w", err)
	}
	return fmt.Errorf("glue run id %q, but %q is recorded: %w", want, old.String, store.ErrConflict)
}

// PutAttempt implements store.Store.
func (s *Store) PutAttempt(ctx context.Context, a store.Attempt) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("put attempt: %w", err)
	}
	var order any
	if a.OrderApplied != nil {
		b, err := json.Marshal(a.OrderApplied)
		if err != nil {
			return fmt.Errorf("put attempt: encode order: %w", err)
		}
		order = string(b)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, a.RunKey); err != nil {
			return err
		}
		// The WHERE refuses, in the same statement, to replace one Glue
		// run id with another.
		res, err := tx.ExecContext(ctx, `INSERT INTO attempts (run_key, number, plan, order_applied, glue_run_id,
				phase, final_state, error_message, class, started_at, ended_at, subnet, az)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (run_key, number) DO UPDATE SET
				plan = COALESCE(excluded.plan, attempts.plan),
				order_applied = COALESCE(excluded.order_applied, attempts.order_applied),
				glue_run_id = COALESCE(excluded.glue_run_id, attempts.glue_run_id),
				phase = COALESCE(excluded.phase, attempts.phase),
				final_state = COALESCE(excluded.final_state, attempts.final_state),
				error_message = COALESCE(excluded.error_message, attempts.error_message),
				class = COALESCE(excluded.class, attempts.class),
				started_at = COALESCE(excluded.started_at, attempts.started_at),
				ended_at = COALESCE(excluded.ended_at, attempts.ended_at),
				subnet = COALESCE(excluded.subnet, attempts.subnet),
				az = COALESCE(excluded.az, attempts.az)
			WHERE excluded.glue_run_id IS NULL OR attempts.glue_run_id IS NULL OR attempts.glue_run_id = excluded.glue_run_id`,
			a.RunKey, a.Number, jsonText(a.Plan), order, nullString(a.GlueRunID),
			nullString(a.Phase), nullString(a.FinalState), nullString(a.ErrorMessage), nullString(a.Class),
			micros(a.StartedAt), micros(a.EndedAt), nullString(a.Subnet), nullString(a.AZ))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return runIDConflict(ctx, tx, a.RunKey, a.Number, a.GlueRunID)
		}
		for _, sc := range a.States {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attempt_states (run_key, number, state, at) VALUES (?, ?, ?, ?)
				ON CONFLICT (run_key, number, state, at) DO NOTHING`,
				a.RunKey, a.Number, sc.State, micros(sc.At)); err != nil {
				return fmt.Errorf("record state %s: %w", sc.State, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put attempt %d of run %q: %w", a.Number, a.RunKey, err)
	}
	return nil
}

// Attempts implements store.Store.
func (s *Store) Attempts(ctx context.Context, key string) ([]store.Attempt, error) {
	var out []store.Attempt
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, key); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT number, plan, order_applied, COALESCE(glue_run_id, ''),
				COALESCE(phase, ''), COALESCE(final_state, ''), COALESCE(error_message, ''), COALESCE(class, ''),
				started_at, ended_at, COALESCE(subnet, ''), COALESCE(az, '')
			FROM attempts WHERE run_key = ? ORDER BY number`, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		index := map[int]int{}
		for rows.Next() {
			a := store.Attempt{RunKey: key}
			var (
				plan, order    sql.NullString
				started, ended sql.NullInt64
			)
			if err := rows.Scan(&a.Number, &plan, &order, &a.GlueRunID, &a.Phase, &a.FinalState, &a.ErrorMessage,
				&a.Class, &started, &ended, &a.Subnet, &a.AZ); err != nil {
				return err
			}
			if plan.Valid {
				a.Plan = json.RawMessage(plan.String)
			}
			if order.Valid {
				if err := json.Unmarshal([]byte(order.String), &a.OrderApplied); err != nil {
					return fmt.Errorf("decode order of attempt %d: %w", a.Number, err)
				}
			}
			a.StartedAt = fromNullMicros(started)
			a.EndedAt = fromNullMicros(ended)
			index[a.Number] = len(out)
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		srows, err := tx.QueryContext(ctx, `SELECT number, state, at FROM attempt_states WHERE run_key = ?
			ORDER BY number, at, seq`, key)
		if err != nil {
			return err
		}
		defer srows.Close()
		for srows.Next() {
			var (
				number int
				sc     store.StateChange
				at     int64
			)
			if err := srows.Scan(&number, &sc.State, &at); err != nil {
				return err
			}
			sc.At = fromMicros(at)
			i, ok := index[number]
			if !ok {
				return fmt.Errorf("state %s for unknown attempt %d", sc.State, number)
			}
			out[i].States = append(out[i].States, sc)
		}
		return srows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of run %q: %w", key, err)
	}
	return out, nil
}

// RecordRunID implements store.Store.
func (s *Store) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	if key == "" || number < 1 || runID == "" || at.IsZero() {
		return fmt.Errorf("record run id: need a run key, an attempt number >= 1, a run id and a time (got %q, %d, %q, %v)",
			key, number, runID, at)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, key); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO attempts (run_key, number, glue_run_id, started_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (run_key, number) DO UPDATE SET
				glue_run_id = excluded.glue_run_id,
				started_at = COALESCE(attempts.started_at, excluded.started_at)
			WHERE attempts.glue_run_id IS NULL OR attempts.glue_run_id = excluded.glue_run_id`,
			key, number, runID, micros(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return runIDConflict(ctx, tx, key, number, runID)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record glue run id %q for attempt %d of run %q: %w", runID, number, key, err)
	}
	return nil
}

// RunState implements store.Store.
func (s *Store) RunState(ctx context.Context, key string) (store.RunState, error) {
	rs := store.RunState{Key: key}
	var data string
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT revision, data, updated_at FROM run_state WHERE run_key = ?`, key).Scan(&rs.Revision, &data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, err)
	}
	rs.Data, rs.UpdatedAt = json.RawMessage(data), fromMicros(at)
	return rs, nil
}

// PutRunState implements store.Store.
func (s *Store) PutRunState(ctx context.Context, rs store.RunState) (int64, error) {
	if rs.Key == "" || len(rs.Data) == 0 || rs.UpdatedAt.IsZero() {
		return 0, fmt.Errorf("put run state: need a run key, data and a time")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, rs.Key); err != nil {
			return err
		}
		var res sql.Result
		var err error
		if rs.Revision == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO run_state (run_key, revision, data, updated_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (run_key) DO NOTHING`, rs.Key, string(rs.Data), micros(rs.UpdatedAt))
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE run_state SET revision = revision + 1, data = ?, updated_at = ?
				WHERE run_key = ? AND revision = ?`, string(rs.Data), micros(rs.UpdatedAt), rs.Key, rs.Revision)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("revision %d is not the stored one: %w", rs.Revision, store.ErrConflict)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("put state of run %q: %w", rs.Key, err)
	}
	return rs.Revision + 1, nil
}

// Health.

func readHealth(ctx context.Context, q querier, where string, args ...any) ([]gluenet.HealthRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT scope, key, consecutive_failures, ejections, ejected_until,
			last_failure, last_success, last_class
		FROM health `+where+` ORDER BY scope, key`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []gluenet.HealthRecord
	for rows.Next() {
		var (
			r                       gluenet.HealthRecord
			scope                   string
			until, failure, success sql.NullInt64
		)
		if err := rows.Scan(&scope, &r.Key, &r.ConsecutiveFailures, &r.Ejections, &until, &failure, &success, &r.LastClass); err != nil {
			return nil, err
		}
		r.Scope = gluenet.Scope(scope)
		r.EjectedUntil = fromNullMicros(until)
		r.LastFailure = fromNullMicros(failure)
		r.LastSuccess = fromNullMicros(success)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	recs, err := readHealth(ctx, s.db, "")
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	return recs, nil
}

// UpdateHealth implements store.Store.
func (s *Store) UpdateHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) error {
	var latest time.Time // the newest event: the time of this write
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recs, err := readHealth(ctx, tx, "")
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		next, events, err := fn(recs)
		if err != nil {
			return err
		}
		if err := store.ValidateHealth(next); err != nil {
			return err
		}
		for _, e := range events {
			if err := e.Validate(); err != nil {
				return err
			}
			if e.At.After(latest) {
				latest = e.At
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM health`); err != nil {
			return err
		}
		for _, r := range next {
			if _, err := tx.ExecContext(ctx, `INSERT INTO health (scope, key, consecutive_failures, ejections,
					ejected_until, last_failure, last_success, last_class) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				string(r.Scope), r.Key, r.ConsecutiveFailures, r.Ejections, micros(r.EjectedUntil),
				micros(r.LastFailure), micros(r.LastSuccess), r.LastClass); err != nil {
				return fmt.Errorf("write %s %q: %w", r.Scope, r.Key, err)
			}
		}
		return insertEvents(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("update health: %w", err)
	}
	s.maybePrune(ctx, latest)
	return nil
}

func insertEvents(ctx context.Context, tx *sql.Tx, events []store.HealthEvent) error {
	for _, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO health_events (at, scope, key, kind, class, detail) VALUES (?, ?, ?, ?, ?, ?)`,
			micros(e.At), string(e.Scope), e.Key, string(e.Kind), e.Class, e.Detail); err != nil {
			return fmt.Errorf("append health event: %w", err)
		}
	}
	return nil
}

// ResetHealth implements store.Store.
func (s *Store) ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error {
	if err := store.ValidateScope(scope); err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	if scope == "" && key != "" {
		return fmt.Errorf("reset health: key %q needs a scope", key)
	}
	where, args := "WHERE 1 = 1", []any{}
	if scope != "" {
		where += " AND scope = ?"
		args = append(args, string(scope))
	}
	if key != "" {
		where += " AND key = ?"
		args = append(args, key)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		recs, err := readHealth(ctx, tx, where, args...)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM health `+where, args...); err != nil {
			return err
		}
		return insertEvents(ctx, tx, store.ResetEvents(recs, s.now()))
	})
	if err != nil {
		return fmt.Errorf("reset health: %w", err)
	}
	return nil
}

// HealthEvents implements store.Store.
func (s *Store) HealthEvents(ctx context.Context, limit int) ([]store.HealthEvent, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.db.QueryContext(ctx, `SELECT at, scope, key, kind, class, detail FROM health_events
		ORDER BY at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("health events: %w", err)
	}
	defer rows.Close()
	var out []store.HealthEvent
	for rows.Next() {
		var (
			e           store.HealthEvent
			at          int64
			scope, kind string
		)
		if err := rows.Scan(&at, &scope, &e.Key, &kind, &e.Class, &e.Detail); err != nil {
			return nil, fmt.Errorf("health events: %w", err)
		}
		e.At, e.Scope, e.Kind = fromMicros(at), gluenet.Scope(scope), store.HealthEventKind(kind)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("health events: %w", err)
	}
	return out, nil
}

// Reservations.

// AddReservation implements store.Store.
func (s *Store) AddReservation(ctx context.Context, r gluenet.Reservation) error {
	if err := store.ValidateReservation(r); err != nil {
		return fmt.Errorf("add reservation: %w", err)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO reservations (id, subnet_id, az, ips, job, run_id, baseline_free,
			created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET subnet_id = excluded.subnet_id, az = excluded.az, ips = excluded.ips,
			job = excluded.job, run_id = excluded.run_id, baseline_free = excluded.baseline_free,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		r.ID, r.SubnetID, r.AZ, r.IPs, r.Job, r.RunID, r.BaselineFree, micros(r.CreatedAt), micros(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add reservation %q: %w", r.ID, err)
	}
	s.maybePrune(ctx, r.CreatedAt)
	return nil
}

// Reservations implements store.Store.
func (s *Store) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, subnet_id, az, ips, job, run_id, baseline_free, created_at, expires_at
		FROM reservations WHERE expires_at > ? ORDER BY created_at NULLS FIRST, id`, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	defer rows.Close()
	var out []gluenet.Reservation
	for rows.Next() {
		var (
			r       gluenet.Reservation
			created sql.NullInt64
			expires int64
		)
		if err := rows.Scan(&r.ID, &r.SubnetID, &r.AZ, &r.IPs, &r.Job, &r.RunID, &r.BaselineFree, &created, &expires); err != nil {
			return nil, fmt.Errorf("reservations: %w", err)
		}
		r.CreatedAt, r.ExpiresAt = fromNullMicros(created), fromMicros(expires)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	return out, nil
}

// ReleaseReservation implements store.Store.
func (s *Store) ReleaseReservation(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM reservations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("release reservation %q: %w", id, err)
	}
	return nil
}

// Retention.

// maybePrune prunes after a write made at now, when the schedule says so
// (see store.Retention). The write's own time is the caller's clock, the
// clock every other time in the store comes from; a write without a time
// does not prune.
func (s *Store) maybePrune(ctx context.Context, now time.Time) {
	if now.IsZero() {
		return
	}
	s.prune.Maybe(ctx, s.retention, now, s.claimPrune, s.Prune, s.log, "sqlite")
}

// claimPrune moves the last prune's time to now unless a prune ran within
// every: one statement, so of the processes that try together one wins.
func (s *Store) claimPrune(ctx context.Context, now time.Time, every time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE maintenance SET done_at = ? WHERE name = 'prune' AND done_at <= ?`,
		now.UnixMicro(), now.Add(-every).UnixMicro())
	if err != nil {
		return false, fmt.Errorf("claim prune: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("claim prune: %w", err)
	}
	return n == 1, nil
}

// Prune implements store.Store.
func (s *Store) Prune(ctx context.Context, o store.PruneOptions) (store.Pruned, error) {
	if err := o.Validate(); err != nil {
		return store.Pruned{}, err
	}
	limit := o.Limit
	if limit == 0 {
		limit = -1 // SQLite: no limit
	}
	var p store.Pruned
	// exec runs a DELETE unless this is a dry run.
	exec := func(tx *sql.Tx, query string, args ...any) error {
		if o.DryRun {
			return nil
		}
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if !o.RunsFinishedBefore.IsZero() {
			keys, err := sqlrows.All(ctx, tx, sqlrows.One[string], `SELECT key FROM runs
				WHERE finished_at IS NOT NULL AND finished_at < ? AND status IN (?, ?, ?)
				ORDER BY finished_at, key LIMIT ?`,
				o.RunsFinishedBefore.UnixMicro(), string(store.RunSucceeded), string(store.RunFailed), string(store.RunInterrupted), limit)
			if err != nil {
				return fmt.Errorf("select runs: %w", err)
			}
			if len(keys) > 0 {
				list, err := json.Marshal(keys)
				if err != nil {
					return err
				}
				p.Runs = len(keys)
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM attempts WHERE run_key IN (SELECT value FROM json_each(?))`,
					string(list)).Scan(&p.Attempts); err != nil {
					return fmt.Errorf("count attempts: %w", err)
				}
				// Attempts and their states go with the run (ON DELETE CASCADE).
				if err := exec(tx, `DELETE FROM runs WHERE key IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
					return fmt.Errorf("delete runs: %w", err)
				}
			}
		}
		if !o.HealthEventsBefore.IsZero() {
			doomed := `SELECT id FROM health_events WHERE at < ? ORDER BY at, id LIMIT ?`
			before := o.HealthEventsBefore.UnixMicro()
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (`+doomed+`)`, before, limit).Scan(&p.HealthEvents); err != nil {
				return fmt.Errorf("count health events: %w", err)
			}
			if err := exec(tx, `DELETE FROM health_events WHERE id IN (`+doomed+`)`, before, limit); err != nil {
				return fmt.Errorf("delete health events: %w", err)
			}
		}
		if !o.Now.IsZero() {
			now := o.Now.UnixMicro()
			for _, t := range []struct {
				table string
				n     *int
			}{{"reservations", &p.Reservations}, {"subnet_cache", &p.CachedSubnets}} {
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t.table+` WHERE expires_at <= ?`, now).Scan(t.n); err != nil {
					return fmt.Errorf("count expired %s: %w", t.table, err)
				}
				if err := exec(tx, `DELETE FROM `+t.table+` WHERE expires_at <= ?`, now); err != nil {
					return fmt.Errorf("delete expired %s: %w", t.table, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return store.Pruned{}, fmt.Errorf("prune: %w", err)
	}
	return p, nil
}

// Subnet cache.

// CachedSubnet implements store.Store.
func (s *Store) CachedSubnet(ctx context.Context, connection string, now time.Time) (string, bool, error) {
	var subnet string
	err := s.db.QueryRowContext(ctx, `SELECT subnet_id FROM subnet_cache WHERE connection = ? AND expires_at > ?`,
		connection, now.UnixMicro()).Scan(&subnet)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("cached subnet of %q: %w", connection, err)
	}
	return subnet, true, nil
}

// PutCachedSubnet implements store.Store.
func (s *Store) PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error {
	if connection == "" || subnetID == "" || expires.IsZero() {
		return fmt.Errorf("cache subnet: need a connection, a subnet and an expiry (got %q, %q, %v)", connection, subnetID, expires)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO subnet_cache (connection, subnet_id, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (connection) DO UPDATE SET subnet_id = excluded.subnet_id, expires_at = excluded.expires_at`,
		connection, subnetID, micros(expires))
	if err != nil {
		return fmt.Errorf("cache subnet of %q: %w", connection, err)
	}
	return nil
}

// CachedSubnets implements store.Store. The names go in as one JSON array
// parameter, so that any number of them makes one statement.
func (s *Store) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	if len(connections) == 0 {
		return map[string]string{}, nil
	}
	names, err := json.Marshal(connections)
	if err != nil {
		return nil, fmt.Errorf("cached subnets: %w", err)
	}
	found, err := sqlrows.Pairs(ctx, s.db, `SELECT connection, subnet_id FROM subnet_cache
		WHERE connection IN (SELECT value FROM json_each(?)) AND expires_at > ?`, string(names), now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("cached subnets: %w", err)
	}
	return found, nil
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
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("cache subnets: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("cache subnets: %w", err)
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return s.inTxOn(ctx, conn, func(tx *sql.Tx) error {
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
}

// InvalidateCachedSubnet implements store.Store.
func (s *Store) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM subnet_cache WHERE connection = ?`, connection); err != nil {
		return fmt.Errorf("invalidate cached subnet of %q: %w", connection, err)
	}
	return nil
}

// Leases.

// AcquireLease implements store.Store.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error) {
	if err := store.ValidateLease(name, holder, ttl, now); err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease: %w", err)
	}
	expires := now.Add(ttl)
	var (
		l  store.Lease
		ok bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// The WHERE makes the takeover conditional in the same statement
		// that takes it: a free, released or expired lease, or one the
		// holder already has.
		var token int64
		err := tx.QueryRowContext(ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES (?, ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
				expires_at = excluded.expires_at
			WHERE leases.holder = '' OR leases.expires_at IS NULL OR leases.expires_at <= ? OR leases.holder = excluded.holder
			RETURNING token`, name, holder, micros(expires), now.UnixMicro()).Scan(&token)
		switch {
		case err == nil:
			ok = true
			l = store.Lease{Name: name, Holder: holder, Token: token, ExpiresAt: fromMicros(expires.UnixMicro())}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var until sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = ?`, name).
			Scan(&l.Holder, &l.Token, &until); err != nil {
			return err
		}
		l.Name, l.ExpiresAt = name, fromNullMicros(until)
		return nil
	})
	if err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	return l, ok, nil
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	if err := store.ValidateLease(l.Name, l.Holder, ttl, now); err != nil {
		return store.Lease{}, fmt.Errorf("renew lease: %w", err)
	}
	expires := now.Add(ttl)
	res, err := s.db.ExecContext(ctx, `UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND token = ?`,
		micros(expires), l.Name, l.Holder, l.Token)
	if err := checkUpdated(res, err, fmt.Sprintf("renew lease %q (token %d)", l.Name, l.Token)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, store.ErrLeaseLost)
		}
		return store.Lease{}, err
	}
	l.ExpiresAt = fromMicros(expires.UnixMicro())
	return l, nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE leases SET holder = '', expires_at = NULL WHERE name = ? AND holder = ? AND token = ?`,
		l.Name, l.Holder, l.Token); err != nil {
		return fmt.Errorf("release lease %q (token %d): %w", l.Name, l.Token, err)
	}
	return nil
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

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(us sql.NullInt64) time.Time {
	if !us.Valid {
		return time.Time{}
	}
	return fromMicros(us.Int64)
}

// nullString stores "" as NULL, which upserts read as "keep the stored
// value".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonText(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return string(b)
}
