package postgres

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
	"github.com/gluenet/gluenet/store/storetest"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want store.Fault
	}{
		{"serialization failure", &pq.Error{Code: "40001"}, store.FaultRetry},
		{"deadlock", fmt.Errorf("update health: %w", &pq.Error{Code: "40P01"}), store.FaultRetry},
		{"admin shutdown", &pq.Error{Code: "57P01"}, store.FaultRetry},
		{"cannot connect now", &pq.Error{Code: "57P03"}, store.FaultRetry},
		{"connection failure", &pq.Error{Code: "08006"}, store.FaultRetry},
		{"too many connections", &pq.Error{Code: "53300"}, store.FaultRetry},
		{"disk full", &pq.Error{Code: "53100"}, store.FaultFull},
		{"unique violation", &pq.Error{Code: "23505"}, store.FaultNone},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, store.FaultRetry},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.FaultRetry},
		{"eof", io.ErrUnexpectedEOF, store.FaultRetry},
		{"not found", store.ErrNotFound, store.FaultNone},
		{"nil", nil, store.FaultNone},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]string{
		"postgres://u:secret@db.example:5433/gluenet?sslmode=disable": "postgres db.example:5433/gluenet",
		"host=db.example dbname=g password=secret":                    "postgres db.example:5432/g",
		"postgres://[bad": "postgres",
	} {
		if got := Describe(dsn); got != want {
			t.Errorf("Describe(%q) = %q, want %q", dsn, got, want)
		}
	}
}

// TestGuardedWritesOutlastTerminatedConnections: the server terminates
// every connection of the store (57P01, as in a restart or a failover):
// guarded writes from many goroutines all land. (lib/pq and database/sql
// already replace a connection found dead before use; the outage under
// waiting runs in cmd/gluenet is where the guard's retries are needed.)
func TestGuardedWritesOutlastTerminatedConnections(t *testing.T) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	app := "gluenet_guard_" + hex.EncodeToString(b)
	dsn := pgtest.WithParam(t, pgtest.Schema(t), "application_name", app)
	ctx := t.Context()
	s := openAt(t, dsn)
	g := store.Guard(s, store.GuardOptions{Name: Describe(dsn), Classify: Classify, Timeout: time.Minute})
	const writers = 8
	storetest.BeginRuns(t, g, writers)
	// Only this test's connections: the server is shared.
	admin := pgtest.Connect(t, pgtest.DSN(t))
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the store to terminate")
	}
	storetest.Writers(t, writers, func(int) store.Store { return g })(g)
}
