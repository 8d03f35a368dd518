package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/storetest"
)

// holdWriteLock takes the file's write lock on a connection of its own
// until the test ends or the returned transaction is rolled back.
func holdWriteLock(t *testing.T, path string) *sql.Tx {
	t.Helper()
	holder, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Close() })
	tx, err := holder.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

// busyError is the error of a BEGIN IMMEDIATE, without a busy timeout,
// while another connection holds the write lock of path.
func busyError(t *testing.T, path string) error {
	t.Helper()
	other, err := sql.Open("sqlite", path+"?_txlock=immediate&_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.BeginTx(t.Context(), nil)
	if err == nil {
		t.Fatal("a second BEGIN IMMEDIATE succeeded while the first holds the lock")
	}
	return err
}

// TestGuardedWritesOutlastALock: while another connection holds the write
// lock longer than the busy timeout, a write fails with SQLITE_BUSY (the
// record an unguarded journal dropped); the same writes through
// store.Guard, from many store handles at once (each its own pool, as
// separate processes are), wait the lock out and all land: no attempt
// record and no health update is lost.
func TestGuardedWritesOutlastALock(t *testing.T) {
	if testing.Short() {
		t.Skip("holds the lock past the busy timeout")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	base := openAt(t, path)
	const writers = 12
	storetest.BeginRuns(t, base, writers)
	handles := make([]store.Store, writers)
	for i := range handles {
		handles[i] = store.Guard(openAt(t, path), store.GuardOptions{Name: "sqlite " + path, Classify: Classify, Timeout: time.Hour})
	}
	lock := holdWriteLock(t, path)
	wait := storetest.Writers(t, writers, func(i int) store.Store { return handles[i] })
	// Unguarded, a write gives up after the busy timeout.
	err := base.PutAttempt(t.Context(), store.Attempt{RunKey: "run-0", Number: 2})
	if Classify(err) != store.FaultRetry {
		t.Fatalf("an unguarded write under a held lock: %v, want SQLITE_BUSY", err)
	}
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	wait(base)
}

// TestClassify: what store.Guard retries, gives up on, or passes on.
func TestClassify(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	openAt(t, path)
	holdWriteLock(t, path)
	busy := busyError(t, path)
	// A database capped at its size is full, as on a full disk.
	capped, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "full.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer capped.Close()
	capped.SetMaxOpenConns(1)
	if _, err := capped.ExecContext(ctx, `CREATE TABLE t (v TEXT); PRAGMA max_page_count = 2`); err != nil {
		t.Fatal(err)
	}
	_, full := capped.ExecContext(ctx, `INSERT INTO t SELECT hex(randomblob(4000)) FROM (SELECT 1 UNION ALL SELECT 2)`)
	tests := []struct {
		name string
		err  error
		want store.Fault
	}{
		{"busy", busy, store.FaultRetry},
		{"wrapped busy", fmt.Errorf("put attempt: %w", busy), store.FaultRetry},
		{"full", full, store.FaultFull},
		{"not found", store.ErrNotFound, store.FaultNone},
		{"nil", nil, store.FaultNone},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
