package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

// TestReadOnly: ReadOnly refuses a missing file (and creates none), reads
// an existing one, and writes nothing.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	if _, err := Open(ctx, missing, ReadOnly()); err == nil {
		t.Error("a missing file opened read-only")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opening read-only created %s: %v", missing, err)
	}

	path := filepath.Join(dir, "state.db")
	rw, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if _, _, err := rw.BeginRun(ctx, store.Run{Key: "k", Job: "etl", Status: store.RunRunning, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	rw.Close()

	ro, err := Open(ctx, path, ReadOnly(), WithMaxOpenConns(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r, err := ro.GetRun(ctx, "k"); err != nil || r.Job != "etl" {
		t.Errorf("GetRun = %+v, %v", r, err)
	}
	if ro.db.Stats().MaxOpenConnections != 2 {
		t.Errorf("pool bound %d, want 2", ro.db.Stats().MaxOpenConnections)
	}
	_, _, err = ro.BeginRun(ctx, store.Run{Key: "k2", Job: "etl", Status: store.RunRunning, CreatedAt: at})
	if err == nil || !strings.Contains(err.Error(), "readonly") {
		t.Errorf("a write on the read-only store: %v, want SQLite's readonly error", err)
	}
}
