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
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/migrate"
	"github.com/gluenet/gluenet/store/internal/sqldb"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the first key of the advisory lock that guards
// migrations ("glue" in ASCII); the second is a hash of the schema, so
// installations in different schemas of one database do not wait for each
// other.
const migrationLock = 0x676c7565

// Store is a store.Store on a Postgres database: the shared database/sql
// store (store/internal/sqldb) in Postgres's dialect.
type Store struct {
	*shared
	db  *sql.DB
	cfg sqldb.Config
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
	s := &Store{db: db, cfg: sqldb.DefaultConfig()}
	for _, o := range opts {
		o(s)
	}
	if err := s.cfg.Retention.Validate(); err != nil {
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
	s.shared = sqldb.New(db, dialect, s.cfg)
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
	return sqldb.InTx(ctx, dialect, s.db, func(tx *sql.Tx) error {
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
			s.cfg.Log.DebugContext(ctx, "applied state migration", "store", "postgres", "schema", *schema, "version", m.Version, "name", m.Name)
		}
		return nil
	})
}

// dialect is Postgres's way with the shared store: $n placeholders,
// timestamptz times, text[] lists; transactions are READ COMMITTED, with
// health updates serialized on a row lock of store_locks and runs being
// pruned locked FOR UPDATE; bulk inserts are one COPY.
var dialect = sqldb.Dialect{
	Name:        "postgres",
	Numbered:    true,
	Time:        ts,
	Strings:     func(v []string) any { return pq.Array(v) },
	ScanStrings: func(dst *[]string) any { return pq.Array(dst) },
	In: func(column string, values []string) (string, any) {
		return column + " = ANY(?)", pq.Array(values)
	},
	Begin: func(ctx context.Context, on sqldb.TxBeginner) (*sql.Tx, error) {
		return on.BeginTx(ctx, nil)
	},
	ReadOnly:   &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	LockHealth: `SELECT name FROM store_locks WHERE name = 'health' FOR UPDATE`,
	SkipLocked: ` FOR UPDATE SKIP LOCKED`,
	NoLimit:    nil, // LIMIT NULL: all
	InsertRows: copyIn,
}

// copyIn loads the rows with COPY ... FROM STDIN, which lib/pq runs only
// in a transaction: one round trip whatever their number.
func copyIn(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) error {
	stmt, err := tx.PrepareContext(ctx, `COPY `+table+` (`+strings.Join(columns, ", ")+`) FROM STDIN`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return err
		}
	}
	// Without values, Exec ends the COPY and reports how it went.
	_, err = stmt.ExecContext(ctx)
	return err
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
