// Package journaltest is the conformance suite of executor.Journal: what
// the executor writes to the journal and reads back (runs, their state
// records under compare-and-swap, the Glue run ids of attempts, the
// leases that serialize starts). Every journal runs it: the state stores
// (store.Store satisfies executor.Journal) and the in-process MemJournal
// the lab uses, so that the lab's runs behave as runs on a store.
//
// Times are in UTC with whole microseconds, as every store keeps them; the
// suite never sleeps.
package journaltest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/store"
)

// Opener returns a new, empty journal.
type Opener func(t *testing.T) executor.Journal

var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite against the journals open returns.
func Run(t *testing.T, open Opener) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, j executor.Journal)
	}{
		{"BeginRun", testBeginRun},
		{"RunStateCompareAndSwap", testRunState},
		{"RecordRunID", testRecordRunID},
		{"FinishAndReopen", testFinish},
		{"Leases", testLeases},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func begin(t *testing.T, j executor.Journal, key string) {
	t.Helper()
	if _, created, err := j.BeginRun(context.Background(), store.Run{Key: key, Job: "job", Status: store.RunRunning, CreatedAt: t0}); err != nil || !created {
		t.Fatalf("BeginRun(%s) = created %v, %v", key, created, err)
	}
}

// testBeginRun: a key is recorded once; beginning it again returns the
// stored run and changes nothing; an unknown key is ErrNotFound.
func testBeginRun(t *testing.T, j executor.Journal) {
	ctx := context.Background()
	begin(t, j, "k")
	got, created, err := j.BeginRun(ctx, store.Run{Key: "k", Job: "other", Status: store.RunRunning, CreatedAt: t0.Add(time.Hour)})
	if err != nil || created || got.Job != "job" || !got.CreatedAt.Equal(t0) {
		t.Errorf("BeginRun of a recorded key = %+v, created %v, %v; want the stored run, not created", got, created, err)
	}
	if r, err := j.GetRun(ctx, "k"); err != nil || r.Job != "job" || r.Status != store.RunRunning {
		t.Errorf("GetRun = %+v, %v", r, err)
	}
	if _, err := j.GetRun(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun of an unknown key: %v, want ErrNotFound", err)
	}
}

// testRunState: no record is ErrNotFound; each write names the revision it
// read and gets the next; a write from a stale revision is ErrConflict and
// changes nothing.
func testRunState(t *testing.T, j executor.Journal) {
	ctx := context.Background()
	begin(t, j, "k")
	if _, err := j.RunState(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RunState before any write: %v, want ErrNotFound", err)
	}
	rev, err := j.PutRunState(ctx, store.RunState{Key: "k", Revision: 0, Data: []byte(`{"v":1}`), UpdatedAt: t0})
	if err != nil || rev != 1 {
		t.Fatalf("first PutRunState = %d, %v; want revision 1", rev, err)
	}
	if rev, err = j.PutRunState(ctx, store.RunState{Key: "k", Revision: 1, Data: []byte(`{"v":2}`), UpdatedAt: t0}); err != nil || rev != 2 {
		t.Fatalf("second PutRunState = %d, %v; want revision 2", rev, err)
	}
	if _, err := j.PutRunState(ctx, store.RunState{Key: "k", Revision: 1, Data: []byte(`{"v":"stale"}`), UpdatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("PutRunState from a stale revision: %v, want ErrConflict", err)
	}
	rs, err := j.RunState(ctx, "k")
	if err != nil || rs.Revision != 2 || string(rs.Data) != `{"v":2}` {
		t.Errorf("RunState = %d %s, %v; want revision 2 with the second write", rs.Revision, rs.Data, err)
	}
	if _, err := j.PutRunState(ctx, store.RunState{Key: "nope", Data: []byte(`{}`), UpdatedAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutRunState of an unknown run: %v, want ErrNotFound", err)
	}
}

// testRecordRunID: a recorded Glue run id is read back with its attempt;
// recording it again is fine, another id for the attempt is ErrConflict.
func testRecordRunID(t *testing.T, j executor.Journal) {
	ctx := context.Background()
	begin(t, j, "k")
	for _, n := range []int{2, 1} {
		if err := j.RecordRunID(ctx, "k", n, "jr_"+string(rune('0'+n)), t0.Add(time.Duration(n)*time.Minute)); err != nil {
			t.Fatalf("RecordRunID(%d): %v", n, err)
		}
	}
	if err := j.RecordRunID(ctx, "k", 1, "jr_1", t0); err != nil {
		t.Errorf("recording the same id again: %v", err)
	}
	if err := j.RecordRunID(ctx, "k", 1, "jr_other", t0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another id for attempt 1: %v, want ErrConflict", err)
	}
	as, err := j.Attempts(ctx, "k")
	if err != nil || len(as) != 2 || as[0].Number != 1 || as[0].GlueRunID != "jr_1" || as[1].GlueRunID != "jr_2" {
		t.Fatalf("Attempts = %+v, %v; want attempts 1 and 2 with their run ids, in order", as, err)
	}
	if !as[0].StartedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("attempt 1 started at %s, want %s", as[0].StartedAt, t0.Add(time.Minute))
	}
	if err := j.RecordRunID(ctx, "nope", 1, "jr_1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordRunID of an unknown run: %v, want ErrNotFound", err)
	}
}

// testFinish: a finished run reads back with its status and outcome, and
// is running again after SetRunStatus (a resumed key).
func testFinish(t *testing.T, j executor.Journal) {
	ctx := context.Background()
	begin(t, j, "k")
	if err := j.FinishRun(ctx, "k", store.RunFailed, "failed: run jr_1 ended FAILED", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, err := j.GetRun(ctx, "k"); err != nil || r.Status != store.RunFailed || r.Outcome != "failed: run jr_1 ended FAILED" || !r.FinishedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("after FinishRun: %+v, %v", r, err)
	}
	if err := j.SetRunStatus(ctx, "k", store.RunRunning, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if r, err := j.GetRun(ctx, "k"); err != nil || r.Status != store.RunRunning || !r.FinishedAt.IsZero() || r.Outcome != "" {
		t.Errorf("after SetRunStatus(running): %+v, %v; want running, no end, no outcome", r, err)
	}
	if err := j.FinishRun(ctx, "nope", store.RunFailed, "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun of an unknown run: %v, want ErrNotFound", err)
	}
}

// testLeases: one holder at a time until expiry; a takeover gets a greater
// token and the old lease is lost; release frees the lease at once.
func testLeases(t *testing.T, j executor.Journal) {
	ctx := context.Background()
	a, ok, err := j.AcquireLease(ctx, "job/j", "a", 30*time.Second, t0)
	if err != nil || !ok {
		t.Fatalf("first acquire: %v, %v", ok, err)
	}
	if held, ok, err := j.AcquireLease(ctx, "job/j", "b", 30*time.Second, t0.Add(10*time.Second)); err != nil || ok || held.Holder != "a" {
		t.Fatalf("acquire while held = %+v, %v, %v; want a's lease, not acquired", held, ok, err)
	}
	if a, err = j.RenewLease(ctx, a, 30*time.Second, t0.Add(20*time.Second)); err != nil {
		t.Fatalf("renew: %v", err)
	}
	b, ok, err := j.AcquireLease(ctx, "job/j", "b", 30*time.Second, t0.Add(time.Minute))
	if err != nil || !ok || b.Token <= a.Token {
		t.Fatalf("takeover after expiry = %+v, %v, %v; want acquired with a greater token than %d", b, ok, err, a.Token)
	}
	if _, err := j.RenewLease(ctx, a, 30*time.Second, t0.Add(time.Minute)); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("renewing a lease taken over: %v, want ErrLeaseLost", err)
	}
	if err := j.ReleaseLease(ctx, a); err != nil {
		t.Errorf("releasing a lease taken over: %v, want no error", err)
	}
	if err := j.ReleaseLease(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := j.AcquireLease(ctx, "job/j", "c", 30*time.Second, t0.Add(time.Minute)); err != nil || !ok {
		t.Errorf("acquire after release: %v, %v; want acquired at once", ok, err)
	}
}
