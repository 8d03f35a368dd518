package executor

import (
	"context"
	"slices"
	"testing"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
)

var (
	fatalErr     = verdictErr{classify.Verdict{Class: classify.AccessDenied, Fatal: true}}
	throttleErr  = verdictErr{classify.Verdict{Class: classify.Throttling, Retry: true}}
	concurrent   = verdictErr{classify.Verdict{Class: classify.ConcurrentRuns, Retry: true}}
	validation   = verdictErr{classify.Verdict{Class: classify.Validation, Fatal: true}}
	networkErr   = verdictErr{classify.Verdict{Class: classify.Network, Retry: true, Rerank: true}}
	transientErr = verdictErr{classify.Verdict{Class: classify.Network, Retry: true}}
)

// drive steps the run until it is done (or max steps), moving the clock
// to each wait; before each step it calls hook with the step's number.
func drive(t *testing.T, ex *Executor, clock *fakeClock, key string, max int, hook func(i int, st Status)) Status {
	t.Helper()
	var st Status
	for i := 0; i < max; i++ {
		var err error
		if st, err = ex.Step(context.Background(), key); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if hook != nil {
			hook(i, st)
		}
		if st.Done {
			return st
		}
		clock.Set(st.Wait.At())
	}
	return st
}

// TestEveryCallFailing runs one run against a fake cloud whose calls fail
// one way or another, and checks what the run does: its result, the runs
// started, the job's connection order, the calls made.
func TestEveryCallFailing(t *testing.T) {
	type env struct {
		cloud *fakeCloud
		ex    *Executor
		clock *fakeClock
	}
	for _, tc := range []struct {
		name   string
		setup  func(e env)
		hook   func(e env, i int, st Status)
		result policy.Result
		class  classify.Class // of the run's end, "" for any
		starts int
		check  func(t *testing.T, e env, st Status)
		// manual: runs end only when the hook ends them.
		manual bool
	}{
		{name: "JobNeeds refused for good", setup: func(e env) { e.cloud.failNext("JobNeeds", fatalErr, -1) },
			result: policy.ResultError, class: classify.AccessDenied, starts: 0,
			check: func(t *testing.T, e env, st Status) {
				if n := e.cloud.called("ApplyOrder"); n != 0 {
					t.Errorf("%d UpdateJob calls after a failed GetJob", n)
				}
			}},
		{name: "Discover throttled once", setup: func(e env) { e.cloud.failNext("Discover", throttleErr, 1) },
			result: policy.ResultSucceeded, starts: 1},
		{name: "ApplyOrder refused for good", setup: func(e env) { e.cloud.failNext("ApplyOrder", fatalErr, -1) },
			result: policy.ResultError, class: classify.AccessDenied, starts: 0,
			check: func(t *testing.T, e env, st Status) {
				if len(e.cloud.order) != 0 {
					t.Errorf("job order %v after a refused UpdateJob", e.cloud.order)
				}
			}},
		{name: "StartRun refused: too many concurrent runs, then room", setup: func(e env) {
			n := 0
			e.cloud.onStart = func(gluenet.StartInput) (bool, error) {
				if n++; n <= 2 {
					return false, concurrent
				}
				return true, nil
			}
		}, result: policy.ResultSucceeded, starts: 1},
		{name: "StartRun refused for good: the order is put back", setup: func(e env) {
			e.cloud.order = []string{"b", "a"}
			e.cloud.onStart = func(gluenet.StartInput) (bool, error) { return false, validation }
		}, result: policy.ResultError, class: classify.Validation, starts: 0,
			check: func(t *testing.T, e env, st Status) {
				if !slices.Equal(e.cloud.order, []string{"b", "a"}) || e.cloud.called("RestoreOrder") != 1 {
					t.Errorf("job order %v after a refused start (%d restores), want [b a]", e.cloud.order, e.cloud.called("RestoreOrder"))
				}
			}},
		{name: "StartRun answer lost: the run is found by its marker, not started twice", setup: func(e env) {
			n := 0
			e.cloud.onStart = func(gluenet.StartInput) (bool, error) {
				if n++; n == 1 {
					return true, networkErr
				}
				return true, nil
			}
		}, result: policy.ResultSucceeded, starts: 1,
			check: func(t *testing.T, e env, st Status) {
				if e.cloud.called("FindRun") == 0 {
					t.Error("no FindRun after an ambiguous start")
				}
			}},
		{name: "GetRun fails for a while", setup: func(e env) { e.cloud.failNext("GetRun", transientErr, 3) },
			result: policy.ResultSucceeded, starts: 1},
		{name: "GetRun fails for good: unreadable run ends the command, not the run", setup: func(e env) {
			e.cloud.failNext("GetRun", transientErr, -1)
		}, result: policy.ResultError, starts: 1,
			check: func(t *testing.T, e env, st Status) {
				if len(e.cloud.stops) != 0 {
					t.Error("an unreadable run was stopped")
				}
			}},
		{name: "the run vanishes: lost, a new attempt that does not use one up", setup: func(e env) {
			// The first run stays RUNNING until the hook deletes it.
			e.cloud.ends = func(n int) (string, string) {
				if n == 1 {
					return "RUNNING", ""
				}
				return "SUCCEEDED", ""
			}
		}, hook: func(e env, i int, st Status) {
			if i == 0 {
				e.cloud.mu.Lock()
				delete(e.cloud.runs, st.GlueRunID)
				e.cloud.mu.Unlock()
			}
		}, result: policy.ResultSucceeded, starts: 2,
			check: func(t *testing.T, e env, st Status) {
				if st.Attempts[0].State != StateLost || st.Attempts[0].Class != ClassLost {
					t.Errorf("first attempt %+v, want LOST", st.Attempts[0])
				}
			}},
		{name: "placement failure: retried elsewhere after a backoff", setup: func(e env) {
			e.cloud.ends = func(n int) (string, string) {
				if n == 1 {
					return "FAILED", "Number of IP addresses on subnet is 0"
				}
				return "SUCCEEDED", ""
			}
		}, result: policy.ResultSucceeded, starts: 2,
			check: func(t *testing.T, e env, st Status) {
				if st.Attempts[0].Class != classify.Placement {
					t.Errorf("first attempt class %q", st.Attempts[0].Class)
				}
			}},
		{name: "job code failure: not retried", setup: func(e env) {
			e.cloud.ends = func(int) (string, string) {
				return "FAILED", "ZeroDivisionError: division by zero. Error Category: UNCLASSIFIED_ERROR; Traceback (most recent call last)"
			}
		}, result: policy.ResultFailed, starts: 1},
		{name: "interrupted while running: the run is stopped, StopRun fails once", setup: func(e env) {
			e.cloud.failNext("StopRun", transientErr, 1)
		}, hook: func(e env, i int, st Status) {
			switch i {
			case 0:
				if _, err := e.ex.Interrupt(context.Background(), "k"); err != nil {
					panic(err)
				}
			case 2:
				e.cloud.end(st.GlueRunID, "STOPPED")
			}
		}, manual: true, result: policy.ResultInterrupted, starts: 1,
			check: func(t *testing.T, e env, st Status) {
				if e.cloud.called("StopRun") < 1 {
					t.Error("the run was not stopped")
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud(10, map[string]int{"a": 50, "b": 40})
			clock := &fakeClock{now: testEpoch}
			ex := newTestExecutor(cloud, NewMemJournal(), clock, &fakeMemory{})
			e := env{cloud: cloud, ex: ex, clock: clock}
			if tc.setup != nil {
				tc.setup(e)
			}
			if cloud.ends == nil && !tc.manual {
				cloud.ends = func(int) (string, string) { return "SUCCEEDED", "" }
			}
			spec := admitSpec(0, "")
			spec.Policy.MaxAttempts = 2
			if _, err := ex.Begin(context.Background(), "k", spec); err != nil {
				t.Fatal(err)
			}
			var hook func(int, Status)
			if tc.hook != nil {
				hook = func(i int, st Status) { tc.hook(e, i, st) }
			}
			st := drive(t, ex, clock, "k", 200, hook)
			if !st.Done {
				t.Fatalf("not done after 200 steps: %+v", st)
			}
			if st.Result != tc.result || tc.class != "" && st.ErrClass != tc.class {
				t.Errorf("result %q (class %q, %s), want %q (class %q)", st.Result, st.ErrClass, st.Err, tc.result, tc.class)
			}
			if starts, _ := cloud.counts(); starts != tc.starts {
				t.Errorf("%d runs started, want %d", starts, tc.starts)
			}
			if tc.check != nil {
				tc.check(t, e, st)
			}
		})
	}
}
