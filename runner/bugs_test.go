package runner

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

// interruptingClock cancels the run's context the first time the runner
// sleeps, as a Ctrl-C during that wait would.
type interruptingClock struct {
	simClock
	cancel context.CancelFunc
}

func (c interruptingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return c.simClock.Sleep(ctx, d)
}

// TestInterruptWhileWaitingForTheJobLock (bug 1): Ctrl-C while another
// gluenet holds the job's lock updates and starts nothing.
func TestInterruptWhileWaitingForTheJobLock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, ok, err := f.store.AcquireLease(ctx, "job/"+job, "other", time.Hour, f.clock.Now()); err != nil || !ok {
		t.Fatal(err)
	}
	r := f.runner(true)
	r.Clock = interruptingClock{f.clock, cancel}
	rep := r.Run(ctx, config("k"))
	if rep.Result != policy.ResultInterrupted {
		t.Fatalf("result %s (%s), want interrupted", rep.Result, rep.Error)
	}
	if n := f.region.Stats().Calls("glue", "UpdateJob") + f.region.Stats().Calls("glue", "StartJobRun"); n != 0 {
		t.Fatalf("%d UpdateJob/StartJobRun calls after an interrupt during the lock wait", n)
	}
}

// TestLockWaitIsBounded (bug 1): the wait for a lock held too long ends
// with a clear error, starting nothing.
func TestLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, ok, err := f.store.AcquireLease(context.Background(), "job/"+job, "other", 24*time.Hour, f.clock.Now()); err != nil || !ok {
		t.Fatal(err)
	}
	r := f.runner(true)
	r.LockTimeout = time.Minute
	rep := r.Run(context.Background(), config("k"))
	if rep.Result != policy.ResultError || len(f.region.State().Runs) != 0 {
		t.Fatalf("%+v", rep)
	}
}

// TestRecordedRunOfAnotherKeyIsNotAdopted (bug 3).
func TestRecordedRunOfAnotherKeyIsNotAdopted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	other := f.runner(true).Run(ctx, config("other"))
	if other.Result != policy.ResultSucceeded {
		t.Fatal(other.Error)
	}
	foreign := other.Attempts[0].RunID
	now := f.clock.Now()
	if _, _, err := f.store.BeginRun(ctx, store.Run{Key: "k", Job: job, Status: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordRunID(ctx, "k", 1, foreign, now); err != nil {
		t.Fatal(err)
	}
	rep := f.runner(true).Run(ctx, config("k"))
	if rep.Result != policy.ResultSucceeded {
		t.Fatalf("%+v", rep)
	}
	last := rep.Attempts[len(rep.Attempts)-1]
	if last.RunID == foreign || rep.Attempts[0].State != executor.StateLost {
		t.Fatalf("key k adopted another key's run %s: %+v", foreign, rep.Attempts)
	}
}

// TestRecordedRunThatNoLongerExists (bug 4): the attempt is settled as
// lost, GetJobRuns confirms no run with its marker exists, and a new
// attempt runs; the lost one does not use up an attempt.
func TestRecordedRunThatNoLongerExists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	if _, _, err := f.store.BeginRun(ctx, store.Run{Key: "k", Job: job, Status: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordRunID(ctx, "k", 1, "jr_gone", now); err != nil {
		t.Fatal(err)
	}
	cfg := config("k")
	cfg.Policy.MaxAttempts = 1
	rep := f.runner(true).Run(ctx, cfg)
	if rep.Result != policy.ResultSucceeded || len(rep.Attempts) != 2 || rep.Attempts[0].State != executor.StateLost || rep.Attempts[0].Class != executor.ClassLost {
		t.Fatalf("%+v", rep)
	}
	if n := len(f.region.State().Runs); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

// TestJournalKeepsDiscoveryFacts (bug 5): the state record keeps each
// candidate's reported free IPs and whether it was checked.
func TestJournalKeepsDiscoveryFacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.runner(true)
	ex := r.Executor()
	cfg := config("k")
	if _, err := ex.Begin(ctx, "k", cfg.Spec()); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Step(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	rs, err := f.store.RunState(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		V        int `json:"v"`
		Attempts []struct {
			Plan struct {
				Placements []struct {
					ReportedFree int  `json:"reported_free_ips"`
					Checked      bool `json:"checked"`
				} `json:"placements"`
			} `json:"plan"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(rs.Data, &rec); err != nil || rec.V != 1 || len(rec.Attempts) != 1 {
		t.Fatalf("%s: %v", rs.Data, err)
	}
	for _, p := range rec.Attempts[0].Plan.Placements {
		if !p.Checked || p.ReportedFree == 0 {
			t.Fatalf("discovery facts lost in the journal: %s", rs.Data)
		}
	}
}
