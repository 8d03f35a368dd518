package postgres

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
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
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range writers {
		if _, _, err := g.BeginRun(ctx, store.Run{Key: fmt.Sprintf("run-%d", i), Job: "job", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	// Only this test's connections: the server is shared.
	admin := pgtest.Connect(t, pgtest.DSN(t))
	var killed int
	if err := admin.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no connection of the store to terminate")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*writers)
	for i := range writers {
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
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("guarded write: %v", err)
		}
	}
	for i := range writers {
		as, err := g.Attempts(ctx, fmt.Sprintf("run-%d", i))
		if err != nil || len(as) != 1 || as[0].GlueRunID != fmt.Sprintf("jr_%d", i) {
			t.Errorf("run-%d: attempts %+v, %v; want its one attempt recorded", i, as, err)
		}
	}
	recs, err := g.Health(ctx)
	if err != nil || len(recs) != 1 || recs[0].ConsecutiveFailures != writers {
		t.Errorf("health = %+v, %v; want %d failures counted", recs, err, writers)
	}
}
