package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/storetest"
)

const dsnEnv = "GLUENET_TEST_POSTGRES_DSN"

// testDSN returns the DSN of the test database. Without one the tests skip,
// except in CI, where skipping would hide that the Postgres store is
// untested.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is unset in CI: start Postgres with .ci/postgres.sh and export what it prints", dsnEnv)
		}
		t.Skipf("set %s to run the Postgres tests (.ci/postgres.sh starts a local server and prints it)", dsnEnv)
	}
	return dsn
}

// withSearchPath returns dsn with its search_path set to schema, in either
// DSN form pgx accepts.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse %s: %v", dsnEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// freshSchema creates an empty schema for one test, dropped when the test
// ends, and returns a DSN whose connections use it. Tests in separate
// schemas of one database cannot see each other.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "gluenet_test_" + hex.EncodeToString(b)
	admin := func(ctx context.Context, sql string) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect to %s: %v", dsnEnv, err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	admin(t.Context(), "CREATE SCHEMA "+schema)
	t.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin(ctx, "DROP SCHEMA "+schema+" CASCADE")
	})
	return withSearchPath(t, dsn, schema)
}

func openAt(t *testing.T, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, freshSchema(t)) })
}

// TestShared opens several pools on one schema, as gluenets on several
// machines would.
func TestShared(t *testing.T) {
	testDSN(t)
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		dsn := freshSchema(t)
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, dsn)
		}
		return out
	})
}

func TestRetention(t *testing.T) {
	testDSN(t)
	storetest.RunRetention(t, func(t *testing.T, n int, r store.Retention) []store.Store {
		dsn := freshSchema(t)
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, dsn, WithRetention(r))
		}
		return out
	})
}

func TestMigrations(t *testing.T) {
	ctx := t.Context()
	dsn := freshSchema(t)
	v1 := &fstest.MapFile{Data: []byte(`CREATE TABLE a (x integer);`)}
	v2 := &fstest.MapFile{Data: []byte(`CREATE TABLE b (x integer); INSERT INTO a VALUES (2);`)}
	v3bad := &fstest.MapFile{Data: []byte(`CREATE TABLE c (x integer); INSERT INTO missing VALUES (1);`)}
	v3 := &fstest.MapFile{Data: []byte(`CREATE TABLE c (x integer);`)}
	steps := []struct {
		name     string
		fs       fstest.MapFS
		wantErr  string
		versions string
		tables   string
	}{
		{"first open applies v1", fstest.MapFS{"migrations/0001_a.sql": v1}, "", "[1]", "[a]"},
		{"reopen applies nothing", fstest.MapFS{"migrations/0001_a.sql": v1}, "", "[1]", "[a]"},
		{"a new migration applies alone", fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/0002_b.sql": v2}, "", "[1 2]", "[a b]"},
		{"a failing migration leaves no trace",
			fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/0002_b.sql": v2, "migrations/0003_c.sql": v3bad},
			"apply migration 3", "[1 2]", "[a b]"},
		{"fixed, it applies",
			fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/0002_b.sql": v2, "migrations/0003_c.sql": v3},
			"", "[1 2 3]", "[a b c]"},
		{"an older binary refuses a newer schema", fstest.MapFS{"migrations/0001_a.sql": v1},
			"newer than this gluenet knows", "[1 2 3]", "[a b c]"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s, err := open(ctx, dsn, st.fs, nil)
			switch {
			case st.wantErr == "" && err != nil:
				t.Fatalf("open: %v", err)
			case st.wantErr != "" && err == nil:
				s.Close()
				t.Fatalf("open succeeded, want an error with %q", st.wantErr)
			case st.wantErr != "" && !strings.Contains(err.Error(), st.wantErr):
				t.Fatalf("open: %v, want an error with %q", err, st.wantErr)
			}
			if s != nil {
				s.Close()
			}
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			rows, _ := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
			versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(versions) != st.versions {
				t.Errorf("versions = %v, want %s", versions, st.versions)
			}
			rows, _ = conn.Query(ctx, `SELECT table_name::text FROM information_schema.tables
				WHERE table_schema = current_schema() AND table_name <> 'schema_migrations' ORDER BY table_name`)
			tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(tables) != st.tables {
				t.Errorf("tables = %v, want %s", tables, st.tables)
			}
		})
	}
}

// TestConcurrentOpen: gluenets starting together on a new schema must not
// trip over each other's CREATE TABLE; the advisory lock lets one migrate
// and the others find the work done.
func TestConcurrentOpen(t *testing.T) {
	ctx := t.Context()
	dsn := freshSchema(t)
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(ctx, dsn)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var count int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
		t.Fatal(err)
	}
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if count != len(entries) {
		t.Errorf("%d migrations recorded, want %d", count, len(entries))
	}
}

func TestOpenErrors(t *testing.T) {
	dsn := testDSN(t)
	tests := []struct {
		name, dsn, want string
		hidden          string // must not appear in the error
	}{
		{"unparsable DSN", "postgres://gluenet:s3cret@[::1", "not a valid", "s3cret"},
		{"missing schema", withSearchPath(t, dsn, "gluenet_no_such_schema"), "search_path", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open: %v, want it to mention %q", err, tt.want)
			}
			if tt.hidden != "" && strings.Contains(err.Error(), tt.hidden) {
				t.Errorf("Open's error reveals %q: %v", tt.hidden, err)
			}
		})
	}
}

func TestResetHealthUsesClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	s := openAt(t, freshSchema(t), WithClock(func() time.Time { return at }))
	ctx := t.Context()
	if err := s.UpdateHealth(ctx, func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return []gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "az1", Ejections: 2, EjectedUntil: at.Add(time.Hour)}}, nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetHealth(ctx, gluenet.ScopeAZ, "az1"); err != nil {
		t.Fatal(err)
	}
	ev, err := s.HealthEvents(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || !ev[0].At.Equal(at) || ev[0].Kind != store.HealthReset || !strings.Contains(ev[0].Detail, "2 ejections") {
		t.Errorf("reset event = %+v, want one at %v mentioning 2 ejections", ev, at)
	}
}
