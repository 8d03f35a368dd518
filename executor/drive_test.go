package executor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

// cancelOnSleep is a clock whose Sleep is interrupted: it cancels the
// command's context, as Ctrl-C during the backoff does.
type cancelOnSleep struct {
	*fakeClock
	cancel context.CancelFunc
}

func (c cancelOnSleep) Sleep(context.Context, time.Duration) error {
	c.cancel()
	return context.Canceled
}

// TestDrive: the first attempt fails on a subnet without free IPs (a retry
// after a backoff). Drive steps once without sleep; with sleep it waits the
// backoff and starts the next attempt; interrupted in the backoff it ends
// the run interrupted.
func TestDrive(t *testing.T) {
	tests := []struct {
		name        string
		sleep       bool
		interrupt   bool
		wantFor     WaitFor // "" = done
		wantAttempt int
		wantResult  policy.Result
		wantStarts  int
		wantSlept   bool
	}{
		{name: "no sleep: one step, the backoff is printed", wantFor: WaitTime, wantAttempt: 2, wantStarts: 1},
		{name: "sleep: the next attempt starts", sleep: true, wantFor: WaitRun, wantAttempt: 2, wantStarts: 2, wantSlept: true},
		{name: "interrupted in the backoff", sleep: true, interrupt: true, wantAttempt: 2, wantResult: policy.ResultInterrupted, wantStarts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := newFakeCloud(10, map[string]int{"a": 50, "b": 40})
			cloud.ends = func(n int) (string, string) {
				if n == 1 {
					return "FAILED", "Number of IP addresses on subnet is 0"
				}
				return "SUCCEEDED", ""
			}
			clock := &fakeClock{now: testEpoch}
			ex := newTestExecutor(cloud, NewMemJournal(), clock, &fakeMemory{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := ex.Begin(ctx, "k", admitSpec(0, "")); err != nil {
				t.Fatal(err)
			}
			// Start the first attempt, then let its poll come due.
			st, err := ex.Drive(ctx, "k", false)
			if err != nil || st.Wait == nil || st.Wait.For != WaitRun {
				t.Fatalf("first step: %+v, %v; want a wait on the run", st, err)
			}
			clock.Set(st.Wait.At())
			if tt.interrupt {
				ex.Clock = cancelOnSleep{clock, cancel}
			}
			before := clock.Now()
			st, err = ex.Drive(ctx, "k", tt.sleep)
			if err != nil {
				t.Fatal(err)
			}
			gotFor := WaitFor("")
			if st.Wait != nil {
				gotFor = st.Wait.For
			}
			if gotFor != tt.wantFor || st.Attempt != tt.wantAttempt || st.Done != (tt.wantFor == "") || (st.Done && st.Result != tt.wantResult) {
				t.Errorf("got wait %q, attempt %d, done %v (%s); want wait %q, attempt %d, result %q", gotFor, st.Attempt, st.Done, st.Result,
					tt.wantFor, tt.wantAttempt, tt.wantResult)
			}
			if starts, _ := cloud.counts(); starts != tt.wantStarts {
				t.Errorf("%d runs started, want %d", starts, tt.wantStarts)
			}
			if slept := clock.Now().After(before); slept != tt.wantSlept {
				t.Errorf("clock moved %v, want a sleep: %v", clock.Now().Sub(before), tt.wantSlept)
			}
		})
	}
}

// statesJournal is a MemJournal that keeps the attempts' state
// histories, as the real stores do.
type statesJournal struct {
	*MemJournal
	mu     sync.Mutex
	states map[int][]store.StateChange
}

func (j *statesJournal) PutAttempt(_ context.Context, a store.Attempt) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.states[a.Number] = append(j.states[a.Number], a.States...)
	return nil
}

func (j *statesJournal) Attempts(ctx context.Context, key string) ([]store.Attempt, error) {
	out, err := j.MemJournal.Attempts(ctx, key)
	j.mu.Lock()
	defer j.mu.Unlock()
	for i := range out {
		out[i].States = j.states[out[i].Number]
	}
	return out, err
}

// TestWithLiveState: status's overlay of Glue's state on the journal's,
// and when Inspect says the run is due (one poll interval after the
// journal last saw it change).
func TestWithLiveState(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(c *fakeCloud, runID string)
		wantState string
		wantErr   bool
	}{
		{"running", func(*fakeCloud, string) {}, "RUNNING", false},
		{"ended behind the journal's back", func(c *fakeCloud, id string) { c.end(id, "STOPPED") }, "STOPPED", false},
		{"Glue no longer knows the run", func(c *fakeCloud, id string) {
			c.mu.Lock()
			delete(c.runs, id)
			c.mu.Unlock()
		}, StateLost, false},
		{"GetRun fails", func(c *fakeCloud, _ string) { c.failNext("GetRun", fatalErr, 1) }, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cloud := newFakeCloud(10, map[string]int{"a": 50, "b": 40})
			clock := &fakeClock{now: testEpoch}
			ex := newTestExecutor(cloud, &statesJournal{MemJournal: NewMemJournal(), states: map[int][]store.StateChange{}}, clock, &fakeMemory{})
			ctx := context.Background()
			if _, err := ex.Begin(ctx, "k", admitSpec(0, "")); err != nil {
				t.Fatal(err)
			}
			started, err := ex.Drive(ctx, "k", false)
			if err != nil || started.GlueRunID == "" {
				t.Fatalf("start: %+v, %v", started, err)
			}
			tt.setup(cloud, started.GlueRunID)
			st, err := ex.Inspect(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if due := testEpoch.Add(30 * time.Second); !st.Wait.CheckAt.Equal(due) {
				t.Errorf("check at %v, want one poll interval after the start, %v", st.Wait.CheckAt, due)
			}
			calls := cloud.called("GetRun")
			st, err = ex.WithLiveState(ctx, st)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if n := cloud.called("GetRun") - calls; n != 1 {
				t.Errorf("%d GetRun calls, want 1", n)
			}
			if tt.wantErr {
				return
			}
			last := st.Attempts[len(st.Attempts)-1]
			if st.State != tt.wantState || last.State != tt.wantState {
				t.Errorf("state %q, attempt row %q, want %q", st.State, last.State, tt.wantState)
			}
			if (tt.wantState == StateLost) != (st.Why != "") {
				t.Errorf("why %q", st.Why)
			}
		})
	}
}
