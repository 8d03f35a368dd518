// Package postgres is gluenet's shared state store, for runners on many
// machines: every gluenet that opens the same database (and schema) sees the
// same runs, health memory, reservations and job leases.
//
// Concurrency across machines rests on Postgres itself, under its default
// READ COMMITTED isolation:
//   - BeginRun, AcquireLease and RecordRunID are single INSERT ... ON
//     CONFLICT statements whose conflict branch decides atomically (a
//     lease is taken over only WHERE it has expired or was released);
//   - UpdateHealth and ResetHealth lock one row of store_locks FOR UPDATE
//     before they read, so read-modify-write updates run one at a time;
//   - migrations run at Open in one transaction holding an advisory lock
//     keyed by the schema, so gluenets starting together migrate once.
//
// The store talks to Postgres through database/sql and lib/pq. The DSN is a
// libpq URL or key=value string (see lib/pq's NewConfig); its search_path
// picks the schema, which lets several installations (or tests) share one
// database. Without an sslmode (in the DSN or PGSSLMODE) it is "prefer", as
// in libpq, not lib/pq's "require". Three parameters size the connection
// pool instead of reaching the server: pool_max_conns (by default
// max(4, CPUs)), pool_max_conn_lifetime (1h) and pool_max_conn_idle_time
// (30m); Open refuses a DSN with any other pool setting of pgx's, which
// this store used before lib/pq (see DSNError).
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/autoprune"
	"github.com/gluenet/gluenet/store/internal/migrate"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the first key of the advisory lock that guards
// migrations ("glue" in ASCII); the second is a hash of the schema, so
// installations in different schemas of one database do not wait for each
// other.
const migrationLock = 0x676c7565

// Store is a store.Store on a Postgres database.
type Store struct {
	db        *sql.DB
	now       func() time.Time
	log       *slog.Logger
	retention store.Retention
	prune     autoprune.Schedule
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

// DSNError is Open's error for a DSN it cannot use as written: not a libpq
// URL or key=value string, or with a parameter the store does not support.
// Nothing was connected to. The message never quotes the DSN, which can
// hold a password.
type DSNError struct{ reason string }

func (e *DSNError) Error() string { return "open postgres state: " + e.reason }

// Open connects to the database at dsn and brings its schema up to date.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	return open(ctx, dsn, migrationFiles, opts)
}

func open(ctx context.Context, dsn string, migrations fs.FS, opts []Option) (*Store, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		// lib/pq's message can quote the DSN, password included; say only
		// what kind of problem it is.
		return nil, &DSNError{"the DSN is not a valid postgres:// URL or key=value string (or a PG* environment variable is not supported)"}
	}
	if cfg.SSLMode == "" {
		cfg.SSLMode = pq.SSLModePrefer
	}
	p, err := poolFromDSN(&cfg)
	if err != nil {
		return nil, err
	}
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres state: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(p.maxConns)
	db.SetMaxIdleConns(p.maxConns)
	db.SetConnMaxLifetime(p.maxLifetime)
	db.SetConnMaxIdleTime(p.maxIdleTime)
	s := &Store{db: db, now: time.Now, log: slog.Default(), retention: store.DefaultRetention()}
	for _, o := range opts {
		o(s)
	}
	if err := s.retention.Validate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres state: %w", err)
	}
	// Connect now, so that an unreachable server or a refused login fails
	// Open with what went wrong.
	addr := fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &ConnectError{Addr: addr, Refused: refusedLogin(err), Err: err}
	}
	if err := s.migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, fmt.Errorf("open postgres state on %s: %w", addr, err)
	}
	return s, nil
}

// ConnectError is Open's error when it could not connect to the server.
// Refused: the server answered and refused the login or the database (a
// wrong user or password, a database that does not exist, a client
// address pg_hba.conf does not allow), which only a change of the DSN or
// of the server's settings mends; otherwise the server could not be
// reached or failed, which may pass.
type ConnectError struct {
	Addr    string // host:port/database, never the password
	Refused bool
	Err     error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("open postgres state on %s: %v", e.Addr, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// refusedLogin reports whether err is the server refusing the connection
// itself: SQLSTATE class 28 (invalid authorization specification) or
// 3D000 (invalid catalog name: no such database).
func refusedLogin(err error) bool {
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return false
	}
	code := string(pe.Code)
	return strings.HasPrefix(code, "28") || code == "3D000"
}

// pool sizes the connection pool.
type pool struct {
	maxConns                 int
	maxLifetime, maxIdleTime time.Duration
}

// unsupportedParams are DSN parameters that pgx read and lib/pq does not
// know: lib/pq would send them to the server as settings, which it refuses
// with "unrecognized configuration parameter". Open refuses them itself,
// naming them.
var unsupportedParams = []string{
	// pgxpool's, with no database/sql counterpart:
	"pool_min_conns", "pool_min_idle_conns", "pool_health_check_period", "pool_max_conn_lifetime_jitter", "pool_ping_timeout",
	// pgx's own statement handling:
	"statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode",
	// libpq's, which pgx implemented and lib/pq does not:
	"sslpassword", "sslcertmode", "channel_binding", "require_auth", "servicefile",
}

// poolFromDSN takes the pool parameters out of cfg's run-time parameters,
// where lib/pq keeps every parameter it does not know. The defaults are
// pgxpool's, which the store had before it used database/sql: at most
// max(4, CPUs) connections, all of them kept when idle (database/sql would
// keep 2 and reconnect under `gluenet serve`'s concurrent reads), each
// replaced after an hour and closed after 30 minutes idle.
func poolFromDSN(cfg *pq.Config) (pool, error) {
	for _, k := range unsupportedParams {
		if _, ok := cfg.Runtime[k]; ok {
			return pool{}, &DSNError{fmt.Sprintf("the DSN parameter %s is not supported by gluenet's Postgres driver (lib/pq): remove it", k)}
		}
	}
	p := pool{maxConns: max(4, runtime.NumCPU()), maxLifetime: time.Hour, maxIdleTime: 30 * time.Minute}
	if v, ok := cfg.Runtime["pool_max_conns"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return pool{}, &DSNError{fmt.Sprintf("pool_max_conns=%q in the DSN: want a whole number of connections, at least 1", v)}
		}
		p.maxConns = n
		delete(cfg.Runtime, "pool_max_conns")
	}
	for _, d := range []struct {
		param string
		to    *time.Duration
	}{{"pool_max_conn_lifetime", &p.maxLifetime}, {"pool_max_conn_idle_time", &p.maxIdleTime}} {
		if v, ok := cfg.Runtime[d.param]; ok {
			t, err := time.ParseDuration(v)
			if err != nil || t < 0 {
				return pool{}, &DSNError{fmt.Sprintf("%s=%q in the DSN: want a duration such as 30m or 1h", d.param, v)}
			}
			*d.to = t
			delete(cfg.Runtime, d.param)
		}
	}
	return p, nil
}

func (s *Store) migrate(ctx context.Context, migrations fs.FS) error {
	all, err := migrate.Load(migrations, "migrations")
	if err != nil {
		return err
	}
	return s.inTx(ctx, nil, func(tx *sql.Tx) error {
		var schema *string
		if err := tx.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
			return fmt.Errorf("find the schema: %w", err)
		}
		if schema == nil {
			return errors.New("no schema to create tables in: the search_path names no existing schema")
		}
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, migrationLock, *schema); err != nil {
			return fmt.Errorf("lock for migrations: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now()
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
			// Without arguments lib/pq uses the simple protocol, which
			// runs a file of several statements.
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %d (%s): %w", m.Version, m.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
				return fmt.Errorf("record migration %d: %w", m.Version, err)
			}
			s.log.DebugContext(ctx, "applied state migration", "store", "postgres", "schema", *schema, "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// Close closes the connection pool.
func (s *Store) Close() error { return s.db.Close() }

// SQL plumbing.

// querier is what *sql.DB and *sql.Tx share; rowScanner a *sql.Row or
// *sql.Rows.
type (
	querier    = sqlrows.Querier
	rowScanner = sqlrows.Scanner
)

// readOnly is the transaction of reads that must see one snapshot.
var readOnly = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}

// inTx runs fn in a transaction (opts nil: the server's default, READ
// COMMITTED, read-write), committing it if fn returns nil and rolling it
// back otherwise.
func (s *Store) inTx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// affected is how many rows the statement that returned res and err
// changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// copyIn loads n rows, row(i) the values of the i-th, with query, a COPY
// ... FROM STDIN statement, which lib/pq runs only in a transaction.
func copyIn(ctx context.Context, tx *sql.Tx, query string, n int, row func(i int) []any) error {
	stmt, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range n {
		if _, err := stmt.ExecContext(ctx, row(i)...); err != nil {
			return err
		}
	}
	// Without values, Exec ends the COPY and reports how it went.
	_, err = stmt.ExecContext(ctx)
	return err
}

// Runs.

const runColumns = `key, job, status, inputs::text, created_at, updated_at, finished_at, outcome`

func scanRun(row rowScanner) (store.Run, error) {
	var (
		r                store.Run
		inputs           *string
		created, updated time.Time
		finished         *time.Time
		status           string
	)
	if err := row.Scan(&r.Key, &r.Job, &status, &inputs, &created, &updated, &finished, &r.Outcome); err != nil {
		return store.Run{}, err
	}
	r.Status = store.RunStatus(status)
	if inputs != nil {
		r.Inputs = json.RawMessage(*inputs)
	}
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = utc(created), utc(updated), fromNull(finished)
	return r, nil
}

func getRun(ctx context.Context, q querier, key string) (store.Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE key = $1`, key))
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
	// A concurrent insert of the same key makes this one wait for it, then
	// do nothing; the SELECT that follows sees the committed row.
	got, err := scanRun(s.db.QueryRowContext(ctx, `INSERT INTO runs (key, job, status, inputs, created_at, updated_at, finished_at, outcome)
		VALUES ($1, $2, $3, $4::json, $5, $6, $7, $8)
		ON CONFLICT (key) DO NOTHING
		RETURNING `+runColumns,
		r.Key, r.Job, string(r.Status), jsonText(r.Inputs), ts(r.CreatedAt), ts(r.UpdatedAt), ts(r.FinishedAt), r.Outcome))
	if err == nil {
		s.maybePrune(ctx, r.CreatedAt)
		return got, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, false, fmt.Errorf("begin run %q: %w", r.Key, err)
	}
	got, err = getRun(ctx, s.db, r.Key)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("begin run %q: %w", r.Key, err)
	}
	return got, false, nil
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
	var limit *int // NULL: LIMIT ALL
	if f.Limit > 0 {
		limit = &f.Limit
	}
	out, err := sqlrows.All(ctx, s.db, scanRun, `SELECT `+runColumns+` FROM runs
		WHERE ($1 = '' OR job = $1) AND ($2::timestamptz IS NULL OR created_at < $2)
			AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5 = '' OR status = $5)
		ORDER BY created_at DESC, key DESC
		LIMIT $3`, f.Job, ts(f.Before), limit, ts(f.Since), string(f.Status))
	if err != nil {
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
	n, err := affected(s.db.ExecContext(ctx, `UPDATE runs SET status = $1, updated_at = $2, finished_at = NULL, outcome = '' WHERE key = $3`,
		string(status), ts(at), key))
	return checkUpdated(n, err, fmt.Sprintf("set run %q status", key))
}

// FinishRun implements store.Store.
func (s *Store) FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error {
	if !status.Terminal() {
		return fmt.Errorf("finish run %q: %q is not a terminal status", key, status)
	}
	if at.IsZero() {
		return fmt.Errorf("finish run %q: the time is zero", key)
	}
	n, err := affected(s.db.ExecContext(ctx, `UPDATE runs SET status = $1, outcome = $2, finished_at = $3, updated_at = $3 WHERE key = $4`,
		string(status), outcome, ts(at), key))
	if err := checkUpdated(n, err, fmt.Sprintf("finish run %q", key)); err != nil {
		return err
	}
	s.maybePrune(ctx, at)
	return nil
}

// checkUpdated turns a statement that matched no row into ErrNotFound.
func checkUpdated(n int64, err error, op string) error {
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
	err := q.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE key = $1`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	return err
}

// runIDConflict explains an upsert that its WHERE refused because another
// Glue run id is recorded.
func runIDConflict(ctx context.Context, q querier, key string, number int, want string) error {
	var old *string
	if err := q.QueryRowContext(ctx, `SELECT glue_run_id FROM attempts WHERE run_key = $1 AND number = $2`, key, number).Scan(&old); err != nil {
		return fmt.Errorf("read recorded run id: %w", err)
	}
	recorded := ""
	if old != nil {
		recorded = *old
	}
	return fmt.Errorf("glue run id %q, but %q is recorded: %w", want, recorded, store.ErrConflict)
}

// PutAttempt implements store.Store.
func (s *Store) PutAttempt(ctx context.Context, a store.Attempt) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("put attempt: %w", err)
	}
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, a.RunKey); err != nil {
			return err
		}
		// The WHERE refuses, in the same statement, to replace one Glue
		// run id with another, even between concurrent writers.
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO attempts (run_key, number, plan, order_applied, glue_run_id,
				phase, final_state, error_message, class, started_at, ended_at, subnet, az)
			VALUES ($1, $2, $3::json, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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
			a.RunKey, a.Number, jsonText(a.Plan), pq.Array(a.OrderApplied), nullString(a.GlueRunID),
			nullString(a.Phase), nullString(a.FinalState), nullString(a.ErrorMessage), nullString(a.Class),
			ts(a.StartedAt), ts(a.EndedAt), nullString(a.Subnet), nullString(a.AZ)))
		if err != nil {
			return err
		}
		if n == 0 {
			return runIDConflict(ctx, tx, a.RunKey, a.Number, a.GlueRunID)
		}
		for _, sc := range a.States {
			if _, err := tx.ExecContext(ctx, `INSERT INTO attempt_states (run_key, number, state, at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (run_key, number, state, at) DO NOTHING`,
				a.RunKey, a.Number, sc.State, ts(sc.At)); err != nil {
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
	byRun := make(map[string][]store.Attempt, 1)
	// REPEATABLE READ: the attempts and their states from one snapshot.
	err := s.inTx(ctx, readOnly, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, key); err != nil {
			return err
		}
		return attemptsOf(ctx, tx, []string{key}, byRun)
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of run %q: %w", key, err)
	}
	if byRun[key] == nil {
		return []store.Attempt{}, nil
	}
	return byRun[key], nil
}

// RecordRunID implements store.Store.
func (s *Store) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	if key == "" || number < 1 || runID == "" || at.IsZero() {
		return fmt.Errorf("record run id: need a run key, an attempt number >= 1, a run id and a time (got %q, %d, %q, %v)",
			key, number, runID, at)
	}
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, key); err != nil {
			return err
		}
		n, err := affected(tx.ExecContext(ctx, `INSERT INTO attempts (run_key, number, glue_run_id, started_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (run_key, number) DO UPDATE SET
				glue_run_id = excluded.glue_run_id,
				started_at = COALESCE(attempts.started_at, excluded.started_at)
			WHERE attempts.glue_run_id IS NULL OR attempts.glue_run_id = excluded.glue_run_id`,
			key, number, runID, ts(at)))
		if err != nil {
			return err
		}
		if n == 0 {
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
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT revision, data::text, updated_at FROM run_state WHERE run_key = $1`, key).Scan(&rs.Revision, &data, &rs.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, err)
	}
	rs.Data, rs.UpdatedAt = json.RawMessage(data), rs.UpdatedAt.UTC()
	return rs, nil
}

// PutRunState implements store.Store.
func (s *Store) PutRunState(ctx context.Context, rs store.RunState) (int64, error) {
	if rs.Key == "" || len(rs.Data) == 0 || rs.UpdatedAt.IsZero() {
		return 0, fmt.Errorf("put run state: need a run key, data and a time")
	}
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := runExists(ctx, tx, rs.Key); err != nil {
			return err
		}
		var (
			n   int64
			err error
		)
		if rs.Revision == 0 {
			n, err = affected(tx.ExecContext(ctx, `INSERT INTO run_state (run_key, revision, data, updated_at) VALUES ($1, 1, $2::json, $3)
				ON CONFLICT (run_key) DO NOTHING`, rs.Key, string(rs.Data), ts(rs.UpdatedAt)))
		} else {
			n, err = affected(tx.ExecContext(ctx, `UPDATE run_state SET revision = revision + 1, data = $1::json, updated_at = $2
				WHERE run_key = $3 AND revision = $4`, string(rs.Data), ts(rs.UpdatedAt), rs.Key, rs.Revision))
		}
		if err != nil {
			return err
		}
		if n == 0 {
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

func readHealth(ctx context.Context, q querier, scope gluenet.Scope, key string) ([]gluenet.HealthRecord, error) {
	return sqlrows.All(ctx, q, func(row rowScanner) (gluenet.HealthRecord, error) {
		var (
			r                       gluenet.HealthRecord
			sc                      string
			until, failure, success *time.Time
		)
		if err := row.Scan(&sc, &r.Key, &r.ConsecutiveFailures, &r.Ejections, &until, &failure, &success, &r.LastClass); err != nil {
			return r, err
		}
		r.Scope = gluenet.Scope(sc)
		r.EjectedUntil, r.LastFailure, r.LastSuccess = fromNull(until), fromNull(failure), fromNull(success)
		return r, nil
	}, `SELECT scope, key, consecutive_failures, ejections, ejected_until,
			last_failure, last_success, last_class
		FROM health WHERE ($1 = '' OR scope = $1) AND ($2 = '' OR key = $2)
		ORDER BY scope, key`, string(scope), key)
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	recs, err := readHealth(ctx, s.db, "", "")
	if err != nil {
		return nil, fmt.Errorf("read health: %w", err)
	}
	return recs, nil
}

// lockHealth serializes health read-modify-write transactions: the second
// waits here until the first commits, then reads what it wrote.
func lockHealth(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT name FROM store_locks WHERE name = 'health' FOR UPDATE`); err != nil {
		return fmt.Errorf("lock health: %w", err)
	}
	return nil
}

// UpdateHealth implements store.Store.
func (s *Store) UpdateHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) error {
	var latest time.Time // the newest event: the time of this write
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := lockHealth(ctx, tx); err != nil {
			return err
		}
		recs, err := readHealth(ctx, tx, "", "")
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
		if len(next) > 0 {
			if err := copyIn(ctx, tx, `COPY health (scope, key, consecutive_failures, ejections, ejected_until,
					last_failure, last_success, last_class) FROM STDIN`, len(next), func(i int) []any {
				r := next[i]
				return []any{string(r.Scope), r.Key, r.ConsecutiveFailures, r.Ejections,
					ts(r.EjectedUntil), ts(r.LastFailure), ts(r.LastSuccess), r.LastClass}
			}); err != nil {
				return fmt.Errorf("write records: %w", err)
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO health_events (at, scope, key, kind, class, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
			ts(e.At), string(e.Scope), e.Key, string(e.Kind), e.Class, e.Detail); err != nil {
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
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if err := lockHealth(ctx, tx); err != nil {
			return err
		}
		recs, err := readHealth(ctx, tx, scope, key)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM health WHERE ($1 = '' OR scope = $1) AND ($2 = '' OR key = $2)`,
			string(scope), key); err != nil {
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
	var lim *int // NULL: LIMIT ALL
	if limit > 0 {
		lim = &limit
	}
	out, err := sqlrows.All(ctx, s.db, func(row rowScanner) (store.HealthEvent, error) {
		var (
			e           store.HealthEvent
			scope, kind string
		)
		err := row.Scan(&e.At, &scope, &e.Key, &kind, &e.Class, &e.Detail)
		e.At, e.Scope, e.Kind = utc(e.At), gluenet.Scope(scope), store.HealthEventKind(kind)
		return e, err
	}, `SELECT at, scope, key, kind, class, detail FROM health_events
		ORDER BY at DESC, id DESC LIMIT $1`, lim)
	if err != nil {
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
			created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO UPDATE SET subnet_id = excluded.subnet_id, az = excluded.az, ips = excluded.ips,
			job = excluded.job, run_id = excluded.run_id, baseline_free = excluded.baseline_free,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		r.ID, r.SubnetID, r.AZ, r.IPs, r.Job, r.RunID, r.BaselineFree, ts(r.CreatedAt), ts(r.ExpiresAt))
	if err != nil {
		return fmt.Errorf("add reservation %q: %w", r.ID, err)
	}
	s.maybePrune(ctx, r.CreatedAt)
	return nil
}

// Reservations implements store.Store.
func (s *Store) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	out, err := sqlrows.All(ctx, s.db, func(row rowScanner) (gluenet.Reservation, error) {
		var (
			r       gluenet.Reservation
			created *time.Time
		)
		err := row.Scan(&r.ID, &r.SubnetID, &r.AZ, &r.IPs, &r.Job, &r.RunID, &r.BaselineFree, &created, &r.ExpiresAt)
		r.CreatedAt, r.ExpiresAt = fromNull(created), utc(r.ExpiresAt)
		return r, err
	}, `SELECT id, subnet_id, az, ips, job, run_id, baseline_free, created_at, expires_at
		FROM reservations WHERE expires_at > $1 ORDER BY created_at NULLS FIRST, id`, ts(now))
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	return out, nil
}

// ReleaseReservation implements store.Store.
func (s *Store) ReleaseReservation(ctx context.Context, id string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM reservations WHERE id = $1`, id); err != nil {
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
	s.prune.Maybe(ctx, s.retention, now, s.claimPrune, s.Prune, s.log, "postgres")
}

// claimPrune moves the last prune's time to now unless a prune ran within
// every: one conditional UPDATE of one row, so that of the machines that
// try together one wins (the others wait for its row lock, then see the
// new time and match nothing).
func (s *Store) claimPrune(ctx context.Context, now time.Time, every time.Duration) (bool, error) {
	n, err := affected(s.db.ExecContext(ctx, `UPDATE maintenance SET done_at = $1 WHERE name = 'prune' AND done_at <= $2`,
		ts(now), ts(now.Add(-every))))
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
	var limit *int // NULL: LIMIT ALL
	if o.Limit > 0 {
		limit = &o.Limit
	}
	var p store.Pruned
	// count runs the SELECT COUNT on a dry run, else the DELETE, and
	// stores how many rows it counted or deleted.
	count := func(tx *sql.Tx, n *int, countSQL, deleteSQL string, args ...any) error {
		if o.DryRun {
			return tx.QueryRowContext(ctx, countSQL, args...).Scan(n)
		}
		deleted, err := affected(tx.ExecContext(ctx, deleteSQL, args...))
		*n = int(deleted)
		return err
	}
	err := s.inTx(ctx, nil, func(tx *sql.Tx) error {
		if !o.RunsFinishedBefore.IsZero() {
			// FOR UPDATE: a run resumed meanwhile (SetRunStatus clears
			// finished_at) waits for this transaction, and a run another
			// prune holds is left to it.
			keys, err := sqlrows.All(ctx, tx, sqlrows.One[string], `SELECT key FROM runs
				WHERE finished_at IS NOT NULL AND finished_at < $1 AND status IN ($2, $3, $4)
				ORDER BY finished_at, key LIMIT $5
				FOR UPDATE SKIP LOCKED`,
				ts(o.RunsFinishedBefore), string(store.RunSucceeded), string(store.RunFailed), string(store.RunInterrupted), limit)
			if err != nil {
				return fmt.Errorf("select runs: %w", err)
			}
			if len(keys) > 0 {
				p.Runs = len(keys)
				if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM attempts WHERE run_key = ANY($1)`, pq.Array(keys)).Scan(&p.Attempts); err != nil {
					return fmt.Errorf("count attempts: %w", err)
				}
				if !o.DryRun {
					// Attempts and their states go with the run (ON DELETE CASCADE).
					if _, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE key = ANY($1)`, pq.Array(keys)); err != nil {
						return fmt.Errorf("delete runs: %w", err)
					}
				}
			}
		}
		if !o.HealthEventsBefore.IsZero() {
			doomed := `SELECT id FROM health_events WHERE at < $1 ORDER BY at, id LIMIT $2`
			if err := count(tx, &p.HealthEvents, `SELECT count(*) FROM (`+doomed+`) d`,
				`DELETE FROM health_events WHERE id IN (`+doomed+`)`, ts(o.HealthEventsBefore), limit); err != nil {
				return fmt.Errorf("prune health events: %w", err)
			}
		}
		if !o.Now.IsZero() {
			for _, t := range []struct {
				table string
				n     *int
			}{{"reservations", &p.Reservations}, {"subnet_cache", &p.CachedSubnets}} {
				if err := count(tx, t.n, `SELECT count(*) FROM `+t.table+` WHERE expires_at <= $1`,
					`DELETE FROM `+t.table+` WHERE expires_at <= $1`, ts(o.Now)); err != nil {
					return fmt.Errorf("prune expired %s: %w", t.table, err)
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
	err := s.db.QueryRowContext(ctx, `SELECT subnet_id FROM subnet_cache WHERE connection = $1 AND expires_at > $2`,
		connection, ts(now)).Scan(&subnet)
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO subnet_cache (connection, subnet_id, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (connection) DO UPDATE SET subnet_id = excluded.subnet_id, expires_at = excluded.expires_at`,
		connection, subnetID, ts(expires))
	if err != nil {
		return fmt.Errorf("cache subnet of %q: %w", connection, err)
	}
	return nil
}

// CachedSubnets implements store.Store.
func (s *Store) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	if len(connections) == 0 {
		return map[string]string{}, nil
	}
	found, err := sqlrows.Pairs(ctx, s.db, `SELECT connection, subnet_id FROM subnet_cache
		WHERE connection = ANY($1) AND expires_at > $2`, pq.Array(connections), ts(now))
	if err != nil {
		return nil, fmt.Errorf("cached subnets: %w", err)
	}
	return found, nil
}

// PutCachedSubnets implements store.Store: one statement, so one round trip
// and one commit whatever the number of entries.
func (s *Store) PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error {
	if err := store.ValidateCachedSubnets(subnets, expires); err != nil {
		return err
	}
	if len(subnets) == 0 {
		return nil
	}
	conns := make([]string, 0, len(subnets))
	ids := make([]string, 0, len(subnets))
	for c, id := range subnets {
		conns = append(conns, c)
		ids = append(ids, id)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO subnet_cache (connection, subnet_id, expires_at)
		SELECT c, i, $3 FROM unnest($1::text[], $2::text[]) AS u (c, i)
		ON CONFLICT (connection) DO UPDATE SET subnet_id = excluded.subnet_id, expires_at = excluded.expires_at`,
		pq.Array(conns), pq.Array(ids), ts(expires))
	if err != nil {
		return fmt.Errorf("cache %d subnets: %w", len(subnets), err)
	}
	return nil
}

// InvalidateCachedSubnet implements store.Store.
func (s *Store) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM subnet_cache WHERE connection = $1`, connection); err != nil {
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
	// ON CONFLICT locks the existing row and evaluates the WHERE on its
	// latest committed version, so of several machines racing for an
	// expired lease exactly one takes it over.
	var token int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO leases (name, holder, token, expires_at) VALUES ($1, $2, 1, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
			expires_at = excluded.expires_at
		WHERE leases.holder = '' OR leases.expires_at IS NULL OR leases.expires_at <= $4 OR leases.holder = excluded.holder
		RETURNING token`, name, holder, ts(expires), ts(now)).Scan(&token)
	if err == nil {
		return store.Lease{Name: name, Holder: holder, Token: token, ExpiresAt: at(expires)}, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: %w", name, holder, err)
	}
	l := store.Lease{Name: name}
	var until *time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = $1`, name).
		Scan(&l.Holder, &l.Token, &until); err != nil {
		return store.Lease{}, false, fmt.Errorf("acquire lease %q for %q: read the holder: %w", name, holder, err)
	}
	l.ExpiresAt = fromNull(until)
	return l, false, nil
}

// RenewLease implements store.Store.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	if err := store.ValidateLease(l.Name, l.Holder, ttl, now); err != nil {
		return store.Lease{}, fmt.Errorf("renew lease: %w", err)
	}
	expires := now.Add(ttl)
	n, err := affected(s.db.ExecContext(ctx, `UPDATE leases SET expires_at = $1 WHERE name = $2 AND holder = $3 AND token = $4`,
		ts(expires), l.Name, l.Holder, l.Token))
	if err != nil {
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, err)
	}
	if n == 0 {
		return store.Lease{}, fmt.Errorf("renew lease %q (token %d): %w", l.Name, l.Token, store.ErrLeaseLost)
	}
	l.ExpiresAt = at(expires)
	return l, nil
}

// ReleaseLease implements store.Store.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE leases SET holder = '', expires_at = NULL WHERE name = $1 AND holder = $2 AND token = $3`,
		l.Name, l.Holder, l.Token); err != nil {
		return fmt.Errorf("release lease %q (token %d): %w", l.Name, l.Token, err)
	}
	return nil
}

// Encoding.

// ts passes the zero time as NULL, and other times truncated to the
// microsecond: lib/pq sends nanoseconds (in the text format), which
// Postgres would round instead, so a time could come back a microsecond
// later than the SQLite store returns it.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Truncate(time.Microsecond)
}

func utc(t time.Time) time.Time { return t.UTC() }

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// at is a time as Postgres stores it: microseconds, UTC.
func at(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

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
