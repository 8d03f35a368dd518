package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// RetentionOpener returns n handles on one new, empty database, each
// opened with the retention r (and each with its own connections, as
// separate processes would have), and closes them when the test ends.
type RetentionOpener func(t *testing.T, n int, r store.Retention) []store.Store

// RunRetention runs the tests of Prune and of pruning on write.
func RunRetention(t *testing.T, open RetentionOpener) {
	t.Helper()
	off := store.Retention{}
	daily := store.Retention{Runs: 24 * time.Hour, HealthEvents: 24 * time.Hour, Every: time.Hour}
	tests := []struct {
		name string
		r    store.Retention
		n    int
		fn   func(t *testing.T, s []store.Store)
	}{
		{"Prune", off, 1, testPrune},
		{"PruneDryRun", off, 1, testPruneDryRun},
		{"PruneLimit", off, 1, testPruneLimit},
		{"PruneKeepsResumedRuns", off, 1, testPruneKeepsResumedRuns},
		{"PruneOff", off, 1, testPruneOnWriteOff},
		{"PruneOnWrite", daily, 1, testPruneOnWrite},
		{"PruneOnWriteOncePerInterval", daily, 2, testPruneOncePerInterval},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t, tt.n, tt.r))
		})
	}
}

// retentionFixture writes, relative to t0: runs finished long ago, runs
// finished recently, a run that never finished, health events old and
// new, and expired and live reservations and cache entries.
func retentionFixture(t *testing.T, s store.Store) {
	t.Helper()
	ctx := ctxOf(t)
	old, recent := t0.Add(-48*time.Hour), t0.Add(-time.Hour)
	for i, r := range []struct {
		key      string
		finished time.Time
		status   store.RunStatus
	}{
		{"old-1", old, store.RunSucceeded},
		{"old-2", old.Add(time.Minute), store.RunFailed},
		{"old-3", old.Add(2 * time.Minute), store.RunInterrupted},
		{"recent", recent, store.RunSucceeded},
		{"unfinished", time.Time{}, ""},
	} {
		mustBegin(t, s, r.key, "job", old.Add(-time.Duration(i+1)*time.Hour))
		for n := 1; n <= 2; n++ {
			if err := s.PutAttempt(ctx, store.Attempt{RunKey: r.key, Number: n, Phase: store.PhaseStarted,
				States: []store.StateChange{{State: "RUNNING", At: old}}}); err != nil {
				t.Fatalf("PutAttempt: %v", err)
			}
		}
		if !r.finished.IsZero() {
			if err := s.FinishRun(ctx, r.key, r.status, "done", r.finished); err != nil {
				t.Fatalf("FinishRun(%s): %v", r.key, err)
			}
		}
	}
	err := s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		return recs, []store.HealthEvent{
			{At: old, Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthFailure, Class: "placement"},
			{At: old.Add(time.Minute), Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthEjected},
			{At: recent, Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthSuccess},
		}, nil
	})
	if err != nil {
		t.Fatalf("UpdateHealth: %v", err)
	}
	for _, r := range []gluenet.Reservation{
		{ID: "expired", SubnetID: "subnet-a", IPs: 10, CreatedAt: old, ExpiresAt: t0.Add(-time.Minute)},
		{ID: "live", SubnetID: "subnet-a", IPs: 10, CreatedAt: recent, ExpiresAt: t0.Add(time.Minute)},
	} {
		if err := s.AddReservation(ctx, r); err != nil {
			t.Fatalf("AddReservation: %v", err)
		}
	}
	if err := s.PutCachedSubnet(ctx, "conn-expired", "subnet-a", t0.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutCachedSubnet(ctx, "conn-live", "subnet-a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// dayBefore is the prune the suite's fixture is measured against: runs and
// events older than a day at t0.
func dayBefore() store.PruneOptions {
	return store.PruneOptions{Now: t0, RunsFinishedBefore: t0.Add(-24 * time.Hour), HealthEventsBefore: t0.Add(-24 * time.Hour)}
}

// everythingDue is what the fixture holds that dayBefore prunes.
var everythingDue = store.Pruned{Runs: 3, Attempts: 6, HealthEvents: 2, Reservations: 1, CachedSubnets: 1}

func runKeys(t *testing.T, s store.Store) []string {
	t.Helper()
	runs, err := s.ListRuns(ctxOf(t), store.RunFilter{})
	if err != nil {
		t.Fatalf("ListRuns: %v", err)
	}
	var keys []string
	for _, r := range runs {
		keys = append(keys, r.Key)
	}
	return keys
}

// checkPruned checks what is left after the fixture was pruned.
func checkPruned(t *testing.T, s store.Store) {
	t.Helper()
	ctx := ctxOf(t)
	if got, want := fmt.Sprint(runKeys(t, s)), "[recent unfinished]"; got != want {
		t.Errorf("runs left = %s, want %s", got, want)
	}
	for _, key := range []string{"old-1", "old-2", "old-3"} {
		if _, err := s.Attempts(ctx, key); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Attempts(%s) after prune: err = %v, want ErrNotFound", key, err)
		}
	}
	if a, err := s.Attempts(ctx, "recent"); err != nil || len(a) != 2 || len(a[0].States) != 1 {
		t.Errorf("the recent run's attempts = %+v, %v; want both, with their states", a, err)
	}
	ev, err := s.HealthEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 1 || ev[0].Kind != store.HealthSuccess {
		t.Errorf("health events left = %+v, want the recent success only", ev)
	}
	res, err := s.Reservations(ctx, t0.Add(-time.Hour)) // an earlier now would still see "expired"
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 1 || res[0].ID != "live" {
		t.Errorf("reservations left = %+v, want the live one only", res)
	}
	if _, ok, err := s.CachedSubnet(ctx, "conn-expired", t0.Add(-time.Hour)); err != nil || ok {
		t.Errorf("the expired cache entry is still there (ok %v, err %v)", ok, err)
	}
	if _, ok, err := s.CachedSubnet(ctx, "conn-live", t0); err != nil || !ok {
		t.Errorf("the live cache entry is gone (ok %v, err %v)", ok, err)
	}
}

func testPrune(t *testing.T, handles []store.Store) {
	s := handles[0]
	retentionFixture(t, s)
	p, err := s.Prune(ctxOf(t), dayBefore())
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if p != everythingDue {
		t.Errorf("Prune = %+v, want %+v", p, everythingDue)
	}
	checkPruned(t, s)
	if p, err := s.Prune(ctxOf(t), dayBefore()); err != nil || p != (store.Pruned{}) {
		t.Errorf("second Prune = %+v, %v; want nothing left to prune", p, err)
	}
	if p, err := s.Prune(ctxOf(t), store.PruneOptions{}); err != nil || p != (store.Pruned{}) {
		t.Errorf("zero PruneOptions = %+v, %v; want nothing pruned", p, err)
	}
	if _, err := s.Prune(ctxOf(t), store.PruneOptions{Limit: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}
}

func testPruneDryRun(t *testing.T, handles []store.Store) {
	s := handles[0]
	retentionFixture(t, s)
	o := dayBefore()
	o.DryRun = true
	p, err := s.Prune(ctxOf(t), o)
	if err != nil {
		t.Fatalf("Prune (dry run): %v", err)
	}
	if p != everythingDue {
		t.Errorf("Prune (dry run) = %+v, want %+v", p, everythingDue)
	}
	if got := len(runKeys(t, s)); got != 5 {
		t.Errorf("a dry run deleted runs: %d left, want 5", got)
	}
	if p2, err := s.Prune(ctxOf(t), o); err != nil || p2 != p {
		t.Errorf("a second dry run = %+v, %v; want the same %+v", p2, err, p)
	}
}

func testPruneLimit(t *testing.T, handles []store.Store) {
	s := handles[0]
	retentionFixture(t, s)
	o := dayBefore()
	o.Limit = 2
	p, err := s.Prune(ctxOf(t), o)
	if err != nil {
		t.Fatalf("Prune: %v", err)
	}
	if p.Runs != 2 || p.Attempts != 4 || p.HealthEvents != 2 {
		t.Errorf("Prune with limit 2 = %+v, want 2 runs (4 attempts) and 2 events", p)
	}
	// Oldest first.
	if got, want := fmt.Sprint(runKeys(t, s)), "[old-3 recent unfinished]"; got != want {
		t.Errorf("runs left = %s, want %s", got, want)
	}
	if p, err := s.Prune(ctxOf(t), o); err != nil || p.Runs != 1 {
		t.Errorf("next Prune = %+v, %v; want the last old run", p, err)
	}
	checkPruned(t, s)
}

// A run resumed after it finished (SetRunStatus back to running) is not
// finished any more: it is kept whatever its age.
func testPruneKeepsResumedRuns(t *testing.T, handles []store.Store) {
	s := handles[0]
	ctx := ctxOf(t)
	mustBegin(t, s, "k", "j", t0.Add(-72*time.Hour))
	if err := s.FinishRun(ctx, "k", store.RunInterrupted, "interrupted", t0.Add(-71*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRunStatus(ctx, "k", store.RunRunning, t0.Add(-70*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if p, err := s.Prune(ctx, dayBefore()); err != nil || p.Runs != 0 {
		t.Errorf("Prune = %+v, %v; want the resumed run kept", p, err)
	}
	if _, err := s.GetRun(ctx, "k"); err != nil {
		t.Errorf("GetRun: %v", err)
	}
}

// With pruning on write off, nothing disappears however old it is.
func testPruneOnWriteOff(t *testing.T, handles []store.Store) {
	s := handles[0]
	retentionFixture(t, s)
	mustBegin(t, s, "later", "job", t0.Add(365*24*time.Hour))
	if got := len(runKeys(t, s)); got != 6 {
		t.Errorf("%d runs, want 6: a store without retention pruned on write", got)
	}
}

// A write prunes by its own time, the caller's clock: a run started two
// days after the fixture prunes what is a day old by then.
func testPruneOnWrite(t *testing.T, handles []store.Store) {
	s := handles[0]
	ctx := ctxOf(t)
	retentionFixture(t, s)
	later := t0.Add(48 * time.Hour)
	mustBegin(t, s, "later", "job", later)
	if got, want := fmt.Sprint(runKeys(t, s)), "[later unfinished]"; got != want {
		t.Errorf("runs after a write two days on = %s, want %s (the recent run pruned, the unfinished one kept)", got, want)
	}
	if ev, err := s.HealthEvents(ctx, 0); err != nil || len(ev) != 0 {
		t.Errorf("health events = %+v, %v; want none left", ev, err)
	}
	if _, ok, _ := s.CachedSubnet(ctx, "conn-live", t0); ok {
		t.Error("the cache entry that expired by the write's time is still stored")
	}
}

// Of the writes within one interval, on any handle, only the first
// prunes; the first write after the interval prunes again.
func testPruneOncePerInterval(t *testing.T, handles []store.Store) {
	a, b := handles[0], handles[1]
	ctx := ctxOf(t)
	start := t0.Add(100 * 24 * time.Hour)
	mustBegin(t, a, "first", "job", start) // claims the prune at start
	expired := func(id string, at time.Time) {
		t.Helper()
		if err := b.AddReservation(ctx, gluenet.Reservation{ID: id, SubnetID: "subnet-a", IPs: 1, CreatedAt: at, ExpiresAt: at.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	stored := func(at time.Time) int {
		t.Helper()
		p, err := a.Prune(ctx, store.PruneOptions{Now: at, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		return p.Reservations
	}
	// Within the interval, on the other handle: no prune.
	expired("r1", start.Add(10*time.Minute))
	expired("r2", start.Add(20*time.Minute))
	if n := stored(start.Add(30 * time.Minute)); n != 2 {
		t.Errorf("%d expired reservations stored, want 2: a write within the interval pruned", n)
	}
	// After the interval (as this handle counts it too): the next write
	// prunes what expired by its time.
	expired("r3", start.Add(2*time.Hour))
	if n := stored(start.Add(3 * time.Hour)); n != 1 {
		t.Errorf("%d expired reservations stored, want 1 (r3, written after the prune at its own time)", n)
	}
}
