package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

// The shared tests stand in for several gluenet processes (SQLite) or
// machines (Postgres): each handle has its own connections, so only the
// database's own locking keeps them consistent.

const perHandle = 10

func testSharedBeginRun(t *testing.T, handles []store.Store) {
	ctx := ctxOf(t)
	n := len(handles) * perHandle
	created := make([]bool, n)
	noErrors(t, together(n, func(i int) error {
		var err error
		_, created[i], err = handles[i%len(handles)].BeginRun(ctx, store.Run{
			Key: "shared", Job: fmt.Sprintf("job-%d", i), CreatedAt: t0,
		})
		return err
	}))
	count := 0
	for _, c := range created {
		if c {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d of %d BeginRun calls over %d handles created the run, want exactly 1", count, n, len(handles))
	}
}

func testSharedRecordRunID(t *testing.T, handles []store.Store) {
	ctx := ctxOf(t)
	a, b := handles[0], handles[1]
	mustBegin(t, a, "k", "j", t0)
	if err := a.RecordRunID(ctx, "k", 1, "jr_1", t0); err != nil {
		t.Fatalf("RecordRunID: %v", err)
	}
	// As soon as RecordRunID returns, another process sees the id.
	got, err := b.Attempts(ctx, "k")
	if err != nil {
		t.Fatalf("Attempts from the other handle: %v", err)
	}
	if len(got) != 1 || got[0].GlueRunID != "jr_1" {
		t.Errorf("the other handle sees %+v, want attempt 1 with jr_1", got)
	}
	if err := b.RecordRunID(ctx, "k", 1, "jr_2", t0); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the other handle recorded another run id: err = %v, want ErrConflict", err)
	}
}

func testSharedUpdateHealth(t *testing.T, handles []store.Store) {
	ctx := ctxOf(t)
	n := len(handles) * perHandle
	noErrors(t, together(n, func(i int) error {
		return handles[i%len(handles)].UpdateHealth(ctx, increment("subnet-a", t0.Add(time.Duration(i)*time.Millisecond)))
	}))
	for i, h := range handles {
		recs := healthOf(t, h)
		if len(recs) != 1 || recs[0].ConsecutiveFailures != n {
			t.Errorf("handle %d: after %d increments over %d handles health = %+v, want %d failures (an update was lost)",
				i, n, len(handles), recs, n)
		}
	}
}

func testSharedLease(t *testing.T, handles []store.Store) {
	ctx := ctxOf(t)
	n := len(handles) * perHandle
	leases := make([]store.Lease, n)
	won := make([]bool, n)
	noErrors(t, together(n, func(i int) error {
		var err error
		leases[i], won[i], err = handles[i%len(handles)].AcquireLease(ctx, "job", fmt.Sprintf("p%d", i), time.Minute, t0)
		return err
	}))
	winner := -1
	for i := range won {
		if won[i] {
			if winner >= 0 {
				t.Fatalf("p%d and p%d both acquired the lease", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody acquired the free lease")
	}
	// A handle other than the winner's takes over after the expiry; the
	// winner's renewal through its own handle then fails.
	l := leases[winner]
	mine, other := handles[winner%len(handles)], handles[(winner+1)%len(handles)]
	taken, ok, err := other.AcquireLease(ctx, "job", "successor", time.Minute, l.ExpiresAt)
	if err != nil || !ok || taken.Token <= l.Token {
		t.Fatalf("takeover from the other handle = %+v, %v, %v; want a higher token than %d", taken, ok, err, l.Token)
	}
	if _, err := mine.RenewLease(ctx, l, time.Minute, l.ExpiresAt); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("the old holder renewed a lease taken over through another handle: err = %v, want ErrLeaseLost", err)
	}
}
