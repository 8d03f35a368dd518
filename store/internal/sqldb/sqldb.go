// Package sqldb is the state store on database/sql that the SQLite and
// Postgres drivers share: every store.Store method, written once, with a
// Dialect for what the two databases do differently (placeholders, how a
// time is stored, list parameters, how a write transaction begins and
// serializes health updates, bulk inserts). The drivers (store/sqlite,
// store/postgres) open the database, apply their migrations and hand the
// pool to New; their schemas differ only in column types.
package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/autoprune"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
)

// Dialect is what a database does its own way. Queries here are written
// with ? placeholders.
type Dialect struct {
	// Name names the driver in logs ("sqlite", "postgres").
	Name string
	// Numbered: the driver wants $1, $2, ... instead of ?.
	Numbered bool
	// Time encodes a time parameter; the zero time must be NULL. Times
	// read back are scanned by Time (below), whichever way they are kept.
	Time func(t time.Time) any
	// Strings encodes a list of strings (attempts.order_applied), nil as
	// NULL; ScanStrings returns the scanner that decodes it into dst.
	Strings     func(v []string) any
	ScanStrings func(dst *[]string) any
	// In returns a condition "column is one of values" with one ?
	// placeholder, and its argument.
	In func(column string, values []string) (string, any)
	// Begin starts a write transaction on a pool or connection.
	Begin func(ctx context.Context, on TxBeginner) (*sql.Tx, error)
	// ReadOnly is the transaction of reads that must see one snapshot.
	ReadOnly *sql.TxOptions
	// LockHealth, run first in a transaction, serializes health
	// read-modify-writes across processes; empty when Begin does already.
	LockHealth string
	// SkipLocked ends a SELECT of the runs a prune deletes: rows another
	// transaction holds are left to it. Empty when writes are serialized.
	SkipLocked string
	// NoLimit is the LIMIT parameter that means no limit.
	NoLimit any
	// InsertRows loads rows into table's columns in tx, in one round trip
	// where the database can.
	InsertRows func(ctx context.Context, tx *sql.Tx, table string, columns []string, rows [][]any) error
}

// TxBeginner is a *sql.DB or a *sql.Conn.
type TxBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// Config is what the drivers' options set.
type Config struct {
	// Now times the events ResetHealth writes, the one time the store
	// interface does not pass in.
	Now       func() time.Time
	Log       *slog.Logger
	Retention store.Retention
}

// DefaultConfig is the drivers' defaults.
func DefaultConfig() Config {
	return Config{Now: time.Now, Log: slog.Default(), Retention: store.DefaultRetention()}
}

// Store is a store.Store on a database/sql pool.
type Store struct {
	db    *sql.DB
	d     Dialect
	c     Config
	prune autoprune.Schedule
}

// New returns the store on db, whose schema is up to date.
func New(db *sql.DB, d Dialect, c Config) *Store {
	return &Store{db: db, d: d, c: c}
}

// q rewrites a query's placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// inTx runs fn in a write transaction and commits when fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return InTx(ctx, s.d, s.db, fn)
}

// InTx runs fn in a write transaction on on, begun the dialect's way, and
// commits when fn succeeds.
func InTx(ctx context.Context, d Dialect, on TxBeginner, fn func(tx *sql.Tx) error) error {
	tx, err := d.Begin(ctx, on)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op; after fn's error, fn's error is the one that matters
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inReadTx runs fn in a read-only transaction, for reads that span
// several queries and must see one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, s.d.ReadOnly)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	return fn(tx)
}

// affected is how many rows the statement that returned res and err
// changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
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

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// Encoding.

// Time scans a time however the database keeps it: microseconds since the
// Unix epoch (SQLite) or a timestamp (Postgres); NULL is the zero time.
// Times come back in UTC.
type Time struct{ T *time.Time }

// Scan implements sql.Scanner.
func (t Time) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*t.T = time.Time{}
	case int64:
		*t.T = time.UnixMicro(v).UTC()
	case time.Time:
		*t.T = v.UTC()
	default:
		return fmt.Errorf("scan a time from %T", v)
	}
	return nil
}

// JSON scans a JSON column (text or bytes) into a json.RawMessage; NULL is
// nil.
type JSON struct{ M *json.RawMessage }

// Scan implements sql.Scanner.
func (j JSON) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*j.M = nil
	case string:
		*j.M = json.RawMessage(v)
	case []byte:
		*j.M = json.RawMessage(append([]byte(nil), v...))
	default:
		return fmt.Errorf("scan JSON from %T", v)
	}
	return nil
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

// at is a time as the store keeps it: microseconds, UTC.
func at(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// Runs.

const runColumns = `key, job, status, inputs, created_at, updated_at, finished_at, outcome`

func scanRun(row sqlrows.Scanner) (store.Run, error) {
	var (
		r      store.Run
		status string
	)
	err := row.Scan(&r.Key, &r.Job, &status, JSON{&r.Inputs}, Time{&r.CreatedAt}, Time{&r.UpdatedAt}, Time{&r.FinishedAt}, &r.Outcome)
	r.Status = store.RunStatus(status)
	return r, err
}

func (s *Store) getRun(ctx context.Context, q sqlrows.Querier, key string) (store.Run, error) {
	r, err := scanRun(q.QueryRowContext(ctx, s.q(`SELECT `+runColumns+` FROM runs WHERE key = ?`), key))
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
	// A concurrent insert of the same key makes this one wait for it (for
	// the write lock, or the key's row), then do nothing; the SELECT that
	// follows sees the committed row.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, s.q(`INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (key) DO NOTHING`),
			r.Key, r.Job, string(r.Status), jsonText(r.Inputs), s.d.Time(r.CreatedAt), s.d.Time(r.UpdatedAt),
			s.d.Time(r.FinishedAt), r.Outcome))
		if err != nil {
			return err
		}
		created = n == 1
		got, err = s.getRun(ctx, tx, r.Key)
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
	r, err := s.getRun(ctx, s.db, key)
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
		args = append(args, s.d.Time(f.Before))
	}
	if !f.Since.IsZero() {
		query += ` AND created_at >= ?`
		args = append(args, s.d.Time(f.Since))
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
	out, err := sqlrows.All(ctx, s.db, scanRun, s.q(query), args...)
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
	n, err := affected(s.db.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, updated_at = ?, finished_at = NULL, outcome = '' WHERE key = ?`),
		string(status), s.d.Time(at), key))
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
	n, err := affected(s.db.ExecContext(ctx, s.q(`UPDATE runs SET status = ?, outcome = ?, finished_at = ?, updated_at = ? WHERE key = ?`),
		string(status), outcome, s.d.Time(at), s.d.Time(at), key))
	if err := checkUpdated(n, err, fmt.Sprintf("finish run %q", key)); err != nil {
		return err
	}
	s.maybePrune(ctx, at)
	return nil
}

// Attempts.

func (s *Store) runExists(ctx context.Context, q sqlrows.Querier, key string) error {
	var one int
	err := q.QueryRowContext(ctx, s.q(`SELECT 1 FROM runs WHERE key = ?`), key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("run %q: %w", key, store.ErrNotFound)
	}
	return err
}

// runIDConflict explains an upsert that its WHERE refused because another
// Glue run id is recorded.
func (s *Store) runIDConflict(ctx context.Context, q sqlrows.Querier, key string, number int, want string) error {
	var old sql.NullString
	if err := q.QueryRowContext(ctx, s.q(`SELECT glue_run_id FROM attempts WHERE run_key = ? AND number = ?`), key, number).Scan(&old); err != nil {
		return fmt.Errorf("read recorded run id: %w", err)
	}
	return fmt.Errorf("glue run id %q, but %q is recorded: %w", want, old.String, store.ErrConflict)
}

// PutAttempt implements store.Store.
func (s *Store) PutAttempt(ctx context.Context, a store.Attempt) error {
	if err := a.Validate(); err != nil {
		return fmt.Errorf("put attempt: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.runExists(ctx, tx, a.RunKey); err != nil {
			return err
		}
		// The WHERE refuses, in the same statement, to replace one Glue
		// run id with another, even between concurrent writers.
		n, err := affected(tx.ExecContext(ctx, s.q(`INSERT INTO attempts (run_key, number, plan, order_applied, glue_run_id,
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
			WHERE excluded.glue_run_id IS NULL OR attempts.glue_run_id IS NULL OR attempts.glue_run_id = excluded.glue_run_id`),
			a.RunKey, a.Number, jsonText(a.Plan), s.d.Strings(a.OrderApplied), nullString(a.GlueRunID),
			nullString(a.Phase), nullString(a.FinalState), nullString(a.ErrorMessage), nullString(a.Class),
			s.d.Time(a.StartedAt), s.d.Time(a.EndedAt), nullString(a.Subnet), nullString(a.AZ)))
		if err != nil {
			return err
		}
		if n == 0 {
			return s.runIDConflict(ctx, tx, a.RunKey, a.Number, a.GlueRunID)
		}
		for _, sc := range a.States {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO attempt_states (run_key, number, state, at) VALUES (?, ?, ?, ?)
				ON CONFLICT (run_key, number, state, at) DO NOTHING`),
				a.RunKey, a.Number, sc.State, s.d.Time(sc.At)); err != nil {
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
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if err := s.runExists(ctx, tx, key); err != nil {
			return err
		}
		return s.attemptsOf(ctx, tx, []string{key}, byRun)
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of run %q: %w", key, err)
	}
	if byRun[key] == nil {
		return []store.Attempt{}, nil
	}
	return byRun[key], nil
}

// AttemptsOf implements store.Fleet.
func (s *Store) AttemptsOf(ctx context.Context, keys []string) (map[string][]store.Attempt, error) {
	out := make(map[string][]store.Attempt)
	if len(keys) == 0 {
		return out, nil
	}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(keys); start += store.AttemptKeysChunk {
			if err := s.attemptsOf(ctx, tx, keys[start:min(start+store.AttemptKeysChunk, len(keys))], out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("attempts of %d runs: %w", len(keys), err)
	}
	return out, nil
}

// attemptsOf adds the attempts of the runs keys, with their states, to out.
func (s *Store) attemptsOf(ctx context.Context, q sqlrows.Querier, keys []string, out map[string][]store.Attempt) error {
	in, arg := s.d.In("run_key", keys)
	got, err := sqlrows.All(ctx, q, func(row sqlrows.Scanner) (store.Attempt, error) {
		var a store.Attempt
		err := row.Scan(&a.RunKey, &a.Number, JSON{&a.Plan}, s.d.ScanStrings(&a.OrderApplied), &a.GlueRunID, &a.Phase, &a.FinalState,
			&a.ErrorMessage, &a.Class, Time{&a.StartedAt}, Time{&a.EndedAt}, &a.Subnet, &a.AZ)
		return a, err
	}, s.q(`SELECT run_key, number, plan, order_applied, COALESCE(glue_run_id, ''),
			COALESCE(phase, ''), COALESCE(final_state, ''), COALESCE(error_message, ''), COALESCE(class, ''),
			started_at, ended_at, COALESCE(subnet, ''), COALESCE(az, '')
		FROM attempts WHERE `+in+` ORDER BY run_key, number`), arg)
	if err != nil {
		return err
	}
	type pos struct {
		key    string
		number int
	}
	index := make(map[pos]int, len(got))
	for _, a := range got {
		index[pos{a.RunKey, a.Number}] = len(out[a.RunKey])
		out[a.RunKey] = append(out[a.RunKey], a)
	}
	rows, err := q.QueryContext(ctx, s.q(`SELECT run_key, number, state, at FROM attempt_states WHERE `+in+`
		ORDER BY run_key, number, at, seq`), arg)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			p  pos
			sc store.StateChange
		)
		if err := rows.Scan(&p.key, &p.number, &sc.State, Time{&sc.At}); err != nil {
			return err
		}
		i, ok := index[p]
		if !ok {
			return fmt.Errorf("state %s for unknown attempt %d of run %q", sc.State, p.number, p.key)
		}
		out[p.key][i].States = append(out[p.key][i].States, sc)
	}
	return rows.Err()
}

// RecordRunID implements store.Store.
func (s *Store) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	if key == "" || number < 1 || runID == "" || at.IsZero() {
		return fmt.Errorf("record run id: need a run key, an attempt number >= 1, a run id and a time (got %q, %d, %q, %v)",
			key, number, runID, at)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.runExists(ctx, tx, key); err != nil {
			return err
		}
		n, err := affected(tx.ExecContext(ctx, s.q(`INSERT INTO attempts (run_key, number, glue_run_id, started_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (run_key, number) DO UPDATE SET
				glue_run_id = excluded.glue_run_id,
				started_at = COALESCE(attempts.started_at, excluded.started_at)
			WHERE attempts.glue_run_id IS NULL OR attempts.glue_run_id = excluded.glue_run_id`),
			key, number, runID, s.d.Time(at)))
		if err != nil {
			return err
		}
		if n == 0 {
			return s.runIDConflict(ctx, tx, key, number, runID)
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
	err := s.db.QueryRowContext(ctx, s.q(`SELECT revision, data, updated_at FROM run_state WHERE run_key = ?`), key).
		Scan(&rs.Revision, JSON{&rs.Data}, Time{&rs.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.RunState{}, fmt.Errorf("state of run %q: %w", key, err)
	}
	return rs, nil
}

// PutRunState implements store.Store.
func (s *Store) PutRunState(ctx context.Context, rs store.RunState) (int64, error) {
	if rs.Key == "" || len(rs.Data) == 0 || rs.UpdatedAt.IsZero() {
		return 0, fmt.Errorf("put run state: need a run key, data and a time")
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.runExists(ctx, tx, rs.Key); err != nil {
			return err
		}
		var (
			n   int64
			err error
		)
		if rs.Revision == 0 {
			n, err = affected(tx.ExecContext(ctx, s.q(`INSERT INTO run_state (run_key, revision, data, updated_at) VALUES (?, 1, ?, ?)
				ON CONFLICT (run_key) DO NOTHING`), rs.Key, string(rs.Data), s.d.Time(rs.UpdatedAt)))
		} else {
			n, err = affected(tx.ExecContext(ctx, s.q(`UPDATE run_state SET revision = revision + 1, data = ?, updated_at = ?
				WHERE run_key = ? AND revision = ?`), string(rs.Data), s.d.Time(rs.UpdatedAt), rs.Key, rs.Revision))
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
