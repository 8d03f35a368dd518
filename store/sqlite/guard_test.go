package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

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
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	base := openAt(t, path)
	const writers = 12
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range writers {
		if _, _, err := base.BeginRun(ctx, store.Run{Key: fmt.Sprintf("run-%d", i), Job: "job", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	holder, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	guarded := make([]store.Store, writers)
	for i := range guarded {
		guarded[i] = store.Guard(openAt(t, path), store.GuardOptions{Name: "sqlite " + path, Classify: Classify, Timeout: time.Hour})
	}
	errs := make(chan error, 2*writers)
	var wg sync.WaitGroup
	for i, g := range guarded {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- g.PutAttempt(ctx, store.Attempt{RunKey: fmt.Sprintf("run-%d", i), Number: 1, GlueRunID: fmt.Sprintf("jr_%d", i)})
			errs <- g.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
				if len(recs) == 0 {
					recs = []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-a"}}
				}
				recs[0].ConsecutiveFailures++
				return recs, nil, nil
			})
		}()
	}
	// Unguarded, a write gives up after the busy timeout.
	err = base.PutAttempt(ctx, store.Attempt{RunKey: "run-0", Number: 2})
	if Classify(err) != store.FaultRetry {
		t.Fatalf("an unguarded write under a held lock: %v, want SQLITE_BUSY", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("guarded write: %v", err)
		}
	}
	for i := range writers {
		as, err := base.Attempts(ctx, fmt.Sprintf("run-%d", i))
		if err != nil || len(as) != 1 || as[0].GlueRunID != fmt.Sprintf("jr_%d", i) {
			t.Errorf("run-%d: attempts %+v, %v; want its one attempt recorded", i, as, err)
		}
	}
	recs, err := base.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ConsecutiveFailures != writers {
		t.Errorf("health = %+v, want %d failures counted", recs, writers)
	}
}

// TestClassify: what store.Guard retries, gives up on, or passes on.
func TestClassify(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	openAt(t, path)
	holder, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open("sqlite", path+"?_txlock=immediate&_busy_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, busy := other.BeginTx(ctx, nil)
	// A database capped at its size is full, as on a full disk.
	full := filepath.Join(t.TempDir(), "full.db")
	capped, err := sql.Open("sqlite", full)
	if err != nil {
		t.Fatal(err)
	}
	defer capped.Close()
	capped.SetMaxOpenConns(1)
	if _, err := capped.ExecContext(ctx, `CREATE TABLE t (v TEXT); PRAGMA max_page_count = 2`); err != nil {
		t.Fatal(err)
	}
	_, fullErr := capped.ExecContext(ctx, `INSERT INTO t SELECT hex(randomblob(4000)) FROM (SELECT 1 UNION ALL SELECT 2)`)
	tests := []struct {
		name string
		err  error
		want store.Fault
	}{
		{"busy", busy, store.FaultRetry},
		{"wrapped busy", fmt.Errorf("put attempt: %w", busy), store.FaultRetry},
		{"full", fullErr, store.FaultFull},
		{"not found", store.ErrNotFound, store.FaultNone},
		{"nil", nil, store.FaultNone},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
