package memory_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/executor/journaltest"
	"github.com/gluenet/gluenet/executor/memorytest"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/store/sqlite"
)

// TestConformance: health memory and reservations on a SQLite state store
// pass executor.Memory's suite, as the lab's in-process memory does.
func TestConformance(t *testing.T) {
	memorytest.Run(t, func(t *testing.T) executor.Memory {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return memory.New(st, health.DefaultConfig())
	})
}

// TestJournalConformance: a state store passes the executor's journal
// suite, which the lab's in-process journal passes too.
func TestJournalConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) executor.Journal {
		st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
