package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/internal/sqlrows"
	"github.com/gluenet/gluenet/store/storetest"
)

func openAt(t *testing.T, path string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "state.db"))
	})
}

// TestConformanceOpenAsync runs the suite with store.OpenAsync serving
// health, reservations and the subnet cache (what `gluenet plan` uses while
// the store opens), so that every method it forwards is checked; the rest
// comes from the store it opened.
func TestConformanceOpenAsync(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "state.db")
		s := store.OpenAsync(func() (store.Store, error) { return Open(t.Context(), path) })
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		opened, err := s.Store()
		if err != nil {
			t.Fatal(err)
		}
		return asyncStore{Journal: opened, LeaseStore: opened, Pruner: opened, Fleet: opened, Async: s}
	})
}

// asyncStore is a Store whose health, reservation and cache methods go
// through an Async.
type asyncStore struct {
	store.Journal
	store.LeaseStore
	store.Pruner
	store.Fleet
	*store.Async
}

// TestShared opens several *Store on one file: each has its own connection
// pool, as separate gluenet processes would.
func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []store.Store {
		path := filepath.Join(t.TempDir(), "state.db")
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, path)
		}
		return out
	})
}

func TestRetention(t *testing.T) {
	storetest.RunRetention(t, func(t *testing.T, n int, r store.Retention) []store.Store {
		path := filepath.Join(t.TempDir(), "state.db")
		out := make([]store.Store, n)
		for i := range out {
			out[i] = openAt(t, path, WithRetention(r))
		}
		return out
	})
}

// helperEnv makes the test binary act as a separate gluenet process in
// TestProcesses.
const helperEnv = "GLUENET_SQLITE_TEST_HELPER"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		os.Exit(helperProcess(path, os.Getenv("GLUENET_SQLITE_TEST_HOLDER")))
	}
	os.Exit(m.Run())
}

const helperIncrements = 5

// helperProcess increments subnet-a's failure count helperIncrements times
// and tries once for the lease "job", printing "lease won" or "lease lost".
func helperProcess(path, holder string) int {
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Close()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for range helperIncrements {
		err := s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			if len(recs) == 0 {
				recs = []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-a"}}
			}
			recs[0].ConsecutiveFailures++
			return recs, nil, nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	_, ok, err := s.AcquireLease(ctx, "job", holder, time.Hour, now)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if ok {
		fmt.Println("lease won")
	} else {
		fmt.Println("lease lost")
	}
	return 0
}

// TestProcesses runs real processes against one file: SQLite's locks, not
// anything in this process, must keep them from losing updates or sharing
// the lease. On a new file they also race to create it and its schema, as
// gluenets started together on a new machine would.
func TestProcesses(t *testing.T) {
	const procs = 4
	for _, tt := range []struct {
		name   string
		create bool
	}{{"new file", false}, {"existing file", true}} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			if tt.create {
				openAt(t, path)
			}
			cmds := make([]*exec.Cmd, procs)
			outs := make([]strings.Builder, procs)
			for i := range cmds {
				cmds[i] = exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
				cmds[i].Env = append(os.Environ(), helperEnv+"="+path, "GLUENET_SQLITE_TEST_HOLDER=proc-"+strconv.Itoa(i))
				cmds[i].Stdout = &outs[i]
				cmds[i].Stderr = &outs[i]
				if err := cmds[i].Start(); err != nil {
					t.Fatalf("start helper %d: %v", i, err)
				}
			}
			won := 0
			for i, c := range cmds {
				if err := c.Wait(); err != nil {
					t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
				}
				if strings.Contains(outs[i].String(), "lease won") {
					won++
				}
			}
			if won != 1 {
				t.Errorf("%d of %d processes won the lease, want exactly 1", won, procs)
			}
			s := openAt(t, path)
			recs, err := s.Health(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if want := procs * helperIncrements; len(recs) != 1 || recs[0].ConsecutiveFailures != want {
				t.Errorf("health after %d processes = %+v, want %d failures", procs, recs, want)
			}
		})
	}
}

// TestIsBusy: the error of a BEGIN IMMEDIATE that finds the write lock
// taken is what begin retries.
func TestIsBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openAt(t, path)
	holdWriteLock(t, path)
	// No busy timeout: the second writer fails at once.
	err := busyError(t, path)
	if !isBusy(err) {
		t.Errorf("isBusy(%v) = false, want true", err)
	}
	if isBusy(errors.New("database is locked")) || isBusy(sql.ErrNoRows) {
		t.Error("isBusy is true for errors that are not SQLite's")
	}
}

func TestReopenKeepsState(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "dir", "state.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := s.BeginRun(ctx, store.Run{Key: "k", Job: "j", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordRunID(ctx, "k", 1, "jr_1", now); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.GetRun(ctx, "k"); err == nil {
		t.Error("GetRun on a closed store succeeded")
	}

	s = openAt(t, path)
	got, err := s.Attempts(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].GlueRunID != "jr_1" {
		t.Errorf("after reopening, attempts = %+v, want attempt 1 with jr_1", got)
	}
	info, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("Open created the directory with mode %v, want 0700", perm)
	}
}

// TestPathNeedsEscaping: the path goes into a file: URI, so characters
// that mean something in a URI must still name the file.
func TestPathNeedsEscaping(t *testing.T) {
	for _, name := range []string{"state?x=1.db", "a#b.db", "with space.db", "100%.db"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, name)
			s := openAt(t, path)
			if err := s.PutCachedSubnet(t.Context(), "c", "s", time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("the database is not at %q: %v", path, err)
			}
		})
	}
}

func TestConnectionSettings(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"))
	ctx := t.Context()
	tests := []struct {
		pragma, want string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10)},
		{"synchronous", "2"}, // FULL
	}
	// Hold several connections at once so the check covers more than the
	// first connection of the pool.
	conns := make([]interface{ Close() error }, 0, 3)
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for _, tt := range tests {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	state := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name, xdg, want string
	}{
		{"XDG_STATE_HOME", state, filepath.Join(state, "gluenet", "state.db")},
		{"unset", "", filepath.Join(home, ".local", "state", "gluenet", "state.db")},
		{"relative is ignored", "relative/state", filepath.Join(home, ".local", "state", "gluenet", "state.db")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tt.xdg)
			got, err := DefaultPath()
			if err != nil {
				t.Fatalf("DefaultPath: %v", err)
			}
			if got != tt.want {
				t.Errorf("DefaultPath() = %q, want %q", got, tt.want)
			}
			info, err := os.Stat(filepath.Dir(got))
			if err != nil {
				t.Fatalf("the directory was not created: %v", err)
			}
			if perm := info.Mode().Perm(); perm != 0o700 {
				t.Errorf("directory mode %v, want 0700", perm)
			}
		})
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := Open(t.Context(), ""); err == nil {
		t.Error("Open(\"\") succeeded, want an error")
	}
}

func TestMigrations(t *testing.T) {
	ctx := t.Context()
	v1 := &fstest.MapFile{Data: []byte(`CREATE TABLE a (x INTEGER);`)}
	v2 := &fstest.MapFile{Data: []byte(`CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (2);`)}
	// v3 creates a table and then fails: the whole migration, table
	// included, must roll back.
	v3bad := &fstest.MapFile{Data: []byte(`CREATE TABLE c (x INTEGER); INSERT INTO missing VALUES (1);`)}
	v3 := &fstest.MapFile{Data: []byte(`CREATE TABLE c (x INTEGER);`)}

	path := filepath.Join(t.TempDir(), "m.db")
	steps := []struct {
		name    string
		fs      fstest.MapFS
		wantErr string
		// versions recorded and tables present after the step
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
		{"an older binary refuses a newer schema", fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/0002_b.sql": v2},
			"newer than this gluenet knows", "[1 2 3]", "[a b c]"},
		{"a gap in the files is refused",
			fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/0003_c.sql": v3},
			"without gaps", "[1 2 3]", "[a b c]"},
		{"a misnamed file is refused",
			fstest.MapFS{"migrations/0001_a.sql": v1, "migrations/two.sql": v2},
			"want a name like", "[1 2 3]", "[a b c]"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			s, err := open(ctx, path, st.fs, nil)
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
			// Inspect with a plain handle: the fake migrations are not a
			// schema Open could check.
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			versions, err := sqlrows.All(ctx, raw, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(versions) != st.versions {
				t.Errorf("versions = %v, want %s", versions, st.versions)
			}
			tables, err := sqlrows.All(ctx, raw, sqlrows.One[string], `SELECT name FROM sqlite_master
				WHERE type = 'table' AND name NOT IN ('schema_migrations', 'sqlite_sequence') ORDER BY name`)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(tables) != st.tables {
				t.Errorf("tables = %v, want %s", tables, st.tables)
			}
		})
	}
}

func TestRealMigrationsApply(t *testing.T) {
	ctx := t.Context()
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"))
	versions, err := sqlrows.All(ctx, s.db, sqlrows.One[int], `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(entries) || versions[len(versions)-1] != len(entries) {
		t.Errorf("schema_migrations = %v, want 1..%d", versions, len(entries))
	}
	// Concurrent first opens of one new file apply the schema once.
	path := filepath.Join(t.TempDir(), "race.db")
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			s, err := Open(ctx, path)
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
	s2 := openAt(t, path)
	n, err := sqlrows.All(ctx, s2.db, sqlrows.One[int], `SELECT COUNT(*) FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	if n[0] != len(entries) {
		t.Errorf("%d migrations recorded after concurrent opens, want %d", n[0], len(entries))
	}
}

func TestResetHealthUsesClock(t *testing.T) {
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "state.db"), WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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

// TestOpensAnEarlierStateFile: a state file written by the store before
// store/internal/sqldb (testdata/state-v4.db, schema version 4, written by
// the compatwrite program described in docs/state.md) opens and reads back
// every record as written.
func TestOpensAnEarlierStateFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "state-v4.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	storetest.CheckCompatRecords(t, openAt(t, path, WithRetention(store.Retention{})))
}
