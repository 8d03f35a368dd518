package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/executor/journaltest"
	"github.com/gluenet/gluenet/executor/memorytest"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
	"github.com/gluenet/gluenet/store/storetest"
)

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
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, pgtest.Schema(t)) })
}

// TestExecutorSuites: the executor's journal and memory suites, which the
// lab's in-process journal and memory pass too.
func TestExecutorSuites(t *testing.T) {
	pgtest.DSN(t)
	journaltest.Run(t, func(t *testing.T) executor.Journal { return openAt(t, pgtest.Schema(t)) })
	memorytest.Run(t, func(t *testing.T) executor.Memory {
		return memory.New(openAt(t, pgtest.Schema(t)), health.DefaultConfig())
	})
}

// TestShared opens several pools on one schema, as gluenets on several
// machines would.
func TestShared(t *testing.T) {
	pgtest.DSN(t)
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		dsn := pgtest.Schema(t)
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, dsn)
		}
		return out
	})
}

func TestRetention(t *testing.T) {
	pgtest.DSN(t)
	storetest.RunRetention(t, func(t *testing.T, n int, r store.Retention) []store.Store {
		dsn := pgtest.Schema(t)
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, dsn, WithRetention(r))
		}
		return out
	})
}

func TestMigrations(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Schema(t)
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
			db := pgtest.Connect(t, dsn)
			versions, err := sqlrows.All(ctx, db, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(versions) != st.versions {
				t.Errorf("versions = %v, want %s", versions, st.versions)
			}
			tables, err := sqlrows.All(ctx, db, sqlrows.One[string], `SELECT table_name::text FROM information_schema.tables
				WHERE table_schema = current_schema() AND table_name <> 'schema_migrations' ORDER BY table_name`)
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
	dsn := pgtest.Schema(t)
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
	var count int
	if err := pgtest.Connect(t, dsn).QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&count); err != nil {
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
	dsn := pgtest.DSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword, noDatabase := *u, *u
	wrongPassword.User = url.UserPassword(u.User.Username(), "not-the-password")
	noDatabase.Path = "/gluenet_no_such_database"
	tests := []struct {
		name, dsn, want string
		hidden          string // must not appear in the error
		dsnError        bool   // a *DSNError: the DSN is refused before connecting
		connect         string // a *ConnectError: "refused" or "unreachable"
	}{
		{"unparsable DSN", "postgres://gluenet:s3cret@[::1", "not a valid", "s3cret", true, ""},
		{"unparsable key=value DSN", "host=127.0.0.1 password='s3cret", "not a valid", "s3cret", true, ""},
		{"missing schema", pgtest.WithParam(t, dsn, "search_path", "gluenet_no_such_schema"), "search_path", "", false, ""},
		{"unreachable server", "postgres://gluenet:s3cret@127.0.0.1:1/gluenet?sslmode=disable&connect_timeout=10",
			"open postgres state on 127.0.0.1:1/gluenet", "s3cret", false, "unreachable"},
		{"wrong password", wrongPassword.String(), "password authentication failed", "not-the-password", false, "refused"},
		{"no such database", noDatabase.String(), "gluenet_no_such_database", "", false, "refused"},
		// pgx read these; lib/pq would pass them to the server as settings.
		{"pgx's pool setting", pgtest.WithParam(t, dsn, "pool_min_conns", "2"), "pool_min_conns is not supported", "", true, ""},
		{"libpq's setting that lib/pq lacks", pgtest.WithParam(t, dsn, "channel_binding", "require"), "channel_binding is not supported", "", true, ""},
		{"pool_max_conns not a number", pgtest.WithParam(t, dsn, "pool_max_conns", "many"), `pool_max_conns="many"`, "", true, ""},
		{"pool_max_conns zero", pgtest.WithParam(t, dsn, "pool_max_conns", "0"), "at least 1", "", true, ""},
		{"pool_max_conn_idle_time not a duration", pgtest.WithParam(t, dsn, "pool_max_conn_idle_time", "soon"), "pool_max_conn_idle_time", "", true, ""},
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
			var de *DSNError
			if errors.As(err, &de) != tt.dsnError {
				t.Errorf("Open: %v (%T); a *DSNError: %v, want %v", err, err, !tt.dsnError, tt.dsnError)
			}
			var ce *ConnectError
			got := ""
			if errors.As(err, &ce) {
				got = map[bool]string{true: "refused", false: "unreachable"}[ce.Refused]
			}
			if got != tt.connect {
				t.Errorf("Open: %v (%T): connect error %q, want %q", err, err, got, tt.connect)
			}
		})
	}
}

// TestDSN: what the DSN says beyond where to connect.
func TestDSN(t *testing.T) {
	dsn := pgtest.Schema(t)
	t.Run("the pool", func(t *testing.T) {
		if got, want := openAt(t, dsn).db.Stats().MaxOpenConnections, max(4, runtime.NumCPU()); got != want {
			t.Errorf("default pool: %d connections, want %d (pgxpool's default)", got, want)
		}
		sized := pgtest.WithParam(t, pgtest.WithParam(t, pgtest.WithParam(t, dsn,
			"pool_max_conns", "7"), "pool_max_conn_lifetime", "5m"), "pool_max_conn_idle_time", "1m")
		if got := openAt(t, sized).db.Stats().MaxOpenConnections; got != 7 {
			t.Errorf("pool_max_conns=7: %d connections", got)
		}
	})
	t.Run("sslmode defaults to prefer", func(t *testing.T) {
		// lib/pq's own default, require, fails on a server without SSL;
		// libpq's and pgx's, prefer, falls back to a plain connection.
		u, err := url.Parse(dsn)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			t.Skipf("%s is not a postgres:// URL", pgtest.DSNEnv)
		}
		q := u.Query()
		q.Del("sslmode")
		u.RawQuery = q.Encode()
		t.Setenv("PGSSLMODE", "")
		os.Unsetenv("PGSSLMODE")
		openAt(t, u.String())
	})
}

func TestResetHealthUsesClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	s := openAt(t, pgtest.Schema(t), WithClock(func() time.Time { return at }))
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
