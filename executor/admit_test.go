package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/policy"
)

func admitSpec(wait time.Duration, when admit.WhenShort) Spec {
	return Spec{Job: "job", Connections: []string{"a", "b"}, Strategy: "capacity", MinIPs: gluenet.DefaultMinIPs,
		Policy: policy.DefaultConfig(), PollInterval: 30 * time.Second, Admission: admit.Config{Wait: wait, WhenShort: when}}
}

// TestAdmission drives one run through admission on a fake cloud: the
// subnets have 5 and 3 free IPs and the run needs 10; at roomAt (if ever)
// subnet a gets 12.
func TestAdmission(t *testing.T) {
	for _, tc := range []struct {
		name   string
		wait   time.Duration
		when   admit.WhenShort
		roomAt time.Duration // 0: never
		usable int           // each subnet's usable IPs (0: unknown)
		// what the test expects
		started     bool
		at          time.Duration // when the run started (or ended without starting)
		short       *gluenet.UnderCapacity
		result      policy.Result
		waitedRoomS float64
	}{
		{name: "room appears", wait: 10 * time.Minute, when: admit.StartShort, roomAt: 4*time.Minute + 10*time.Second,
			started: true, at: 4*time.Minute + 30*time.Second, waitedRoomS: 270},
		{name: "wait runs out, start short", wait: 10 * time.Minute, when: admit.StartShort,
			started: true, at: 10 * time.Minute, short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 5, Subnet: "subnet-a"}, waitedRoomS: 600},
		{name: "wait runs out, fail", wait: 10 * time.Minute, when: admit.FailShort,
			at: 10 * time.Minute, result: policy.ResultFailed, waitedRoomS: 600},
		{name: "room after the wait ran out", wait: 2 * time.Minute, when: admit.StartShort, roomAt: 3 * time.Minute,
			started: true, at: 2 * time.Minute, short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 5, Subnet: "subnet-a"}, waitedRoomS: 120},
		// Subnets of 8 usable IPs never hold a run of 10: no wait.
		{name: "no subnet large enough, start short at once", wait: 10 * time.Minute, when: admit.StartShort, usable: 8,
			started: true, at: 0, short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 5, Subnet: "subnet-a"}},
		{name: "no subnet large enough, fail at once", wait: 10 * time.Minute, when: admit.FailShort, usable: 8,
			at: 0, result: policy.ResultFailed},
		{name: "subnets large enough, though not now: wait", wait: 10 * time.Minute, when: admit.StartShort, usable: 10, roomAt: time.Minute,
			started: true, at: time.Minute, waitedRoomS: 60},
		{name: "admission off starts short at once", wait: 0,
			started: true, at: 0, short: &gluenet.UnderCapacity{Needed: 10, FreeAtStart: 5, Subnet: "subnet-a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cloud := newFakeCloud(10, map[string]int{"a": 5, "b": 3})
			cloud.usable = tc.usable
			clock := &fakeClock{now: testEpoch}
			ex := newTestExecutor(cloud, NewMemJournal(), clock, nil)
			if _, err := ex.Begin(ctx, "k", admitSpec(tc.wait, tc.when)); err != nil {
				t.Fatal(err)
			}
			var st Status
			for i := 0; ; i++ {
				if i > 100 {
					t.Fatal("no start after 100 steps")
				}
				if tc.roomAt > 0 && !clock.Now().Before(testEpoch.Add(tc.roomAt)) {
					cloud.setFree("a", 12)
				}
				var err error
				if st, err = ex.Step(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if st.Done || st.Wait.For != WaitRoom {
					break
				}
				// Nothing changes in AWS while the run waits for room.
				if s, u := cloud.counts(); s != 0 || u != 0 {
					t.Fatalf("while waiting for room: %d starts, %d job updates", s, u)
				}
				if !strings.HasPrefix(st.Why, "waiting for room: needs 10 IPs, best healthy subnet subnet-a has 5") {
					t.Fatalf("why = %q", st.Why)
				}
				clock.Set(st.Wait.At())
			}
			starts, updates := cloud.counts()
			if got := clock.Now().Sub(testEpoch); got != tc.at {
				t.Errorf("decided at %s, want %s", got, tc.at)
			}
			if tc.started != (starts == 1) || !tc.started && updates != 0 {
				t.Fatalf("%d starts, %d updates; started want %v (status %+v)", starts, updates, tc.started, st)
			}
			if tc.result != "" && st.Result != tc.result {
				t.Fatalf("result %q, want %q", st.Result, tc.result)
			}
			if !tc.started && st.ErrClass != ClassNoRoom {
				t.Errorf("class %q, want %q", st.ErrClass, ClassNoRoom)
			}
			a := st.Attempts[0]
			if (a.UnderCapacity == nil) != (tc.short == nil) || tc.short != nil && *a.UnderCapacity != *tc.short {
				t.Errorf("under_capacity = %+v, want %+v", a.UnderCapacity, tc.short)
			}
			if a.WaitedForRoom != tc.waitedRoomS {
				t.Errorf("waited for room %gs, want %gs", a.WaitedForRoom, tc.waitedRoomS)
			}
		})
	}
}

// TestAdmissionResumesMidWait: a process that dies while its run waits for
// room (kill -9: nothing but the journal survives) is followed by one that
// goes on with the same wait, not a new one, and starts one run.
func TestAdmissionResumesMidWait(t *testing.T) {
	ctx := context.Background()
	cloud := newFakeCloud(10, map[string]int{"a": 5, "b": 3})
	clock := &fakeClock{now: testEpoch}
	j := NewMemJournal()
	first := newTestExecutor(cloud, j, clock, nil)
	if _, err := first.Begin(ctx, "k", admitSpec(10*time.Minute, admit.StartShort)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		st, err := first.Step(ctx, "k")
		if err != nil || st.Wait == nil || st.Wait.For != WaitRoom {
			t.Fatalf("step: %+v, %v", st, err)
		}
		clock.Set(st.Wait.At())
	}
	// A new process: a new executor on the same journal.
	second := newTestExecutor(cloud, j, clock, nil)
	st, err := second.Inspect(ctx, "k")
	if err != nil || st.Wait == nil || st.Wait.For != WaitRoom {
		t.Fatalf("inspect mid-wait: %+v, %v", st, err)
	}
	for st.Wait != nil && st.Wait.For == WaitRoom {
		clock.Set(st.Wait.At())
		if st, err = second.Step(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := clock.Now().Sub(testEpoch); got != 10*time.Minute {
		t.Errorf("the resumed wait ran out at %s, want 10m (the first process's deadline)", got)
	}
	if starts, _ := cloud.counts(); starts != 1 {
		t.Errorf("%d runs started, want 1", starts)
	}
}

// TestInterruptWhileWaitingForRoom: Ctrl-C during the wait ends the run as
// interrupted; nothing was started or changed.
func TestInterruptWhileWaitingForRoom(t *testing.T) {
	ctx := context.Background()
	cloud := newFakeCloud(10, map[string]int{"a": 5, "b": 3})
	clock := &fakeClock{now: testEpoch}
	ex := newTestExecutor(cloud, NewMemJournal(), clock, nil)
	if _, err := ex.Begin(ctx, "k", admitSpec(10*time.Minute, admit.StartShort)); err != nil {
		t.Fatal(err)
	}
	st, err := ex.Step(ctx, "k")
	if err != nil || st.Wait.For != WaitRoom {
		t.Fatalf("step: %+v, %v", st, err)
	}
	if _, err := ex.Interrupt(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if st, err = ex.Step(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if !st.Done || st.Result != policy.ResultInterrupted {
		t.Fatalf("after interrupt: done %v, result %q", st.Done, st.Result)
	}
	if s, u := cloud.counts(); s != 0 || u != 0 {
		t.Fatalf("%d starts, %d job updates after an interrupt during the wait", s, u)
	}
}

// TestAdmissionSeesLaunchesThatWentFirst: two runs discover the same 15
// free IPs for 10 each; the second, re-ranking under the reservations lock
// after the first reserved its IPs, waits for room instead of starting
// short.
func TestAdmissionSeesLaunchesThatWentFirst(t *testing.T) {
	ctx := context.Background()
	cloud := newFakeCloud(10, map[string]int{"a": 15, "b": 3})
	clock := &fakeClock{now: testEpoch}
	ex := newTestExecutor(cloud, NewMemJournal(), clock, &fakeMemory{})
	spec := admitSpec(10*time.Minute, admit.StartShort)
	for _, k := range []string{"k1", "k2"} {
		if _, err := ex.Begin(ctx, k, spec); err != nil {
			t.Fatal(err)
		}
	}
	// Both discover before either starts: the second's plan still shows
	// room when it reaches the lock.
	for _, k := range []string{"k1", "k2"} {
		rec, rev, err := ex.load(ctx, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ex.discover(ctx, rec.Spec, 1)
		if err != nil {
			t.Fatal(err)
		}
		if admit.Room(p) == nil {
			t.Fatalf("%s: discovery shows no room", k)
		}
		s, err := rec.state(clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		rec.absorb(ex.policy(rec).Apply(s, policy.Discovered{Plan: p}), clock.Now())
		if _, err := ex.put(ctx, k, rev, rec); err != nil {
			t.Fatal(err)
		}
	}
	st1, err := ex.Step(ctx, "k1")
	if err != nil || st1.Wait.For != WaitRun {
		t.Fatalf("k1: %+v, %v", st1, err)
	}
	st2, err := ex.Step(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	if st2.Wait == nil || st2.Wait.For != WaitRoom {
		t.Fatalf("k2 did not wait for room: %+v", st2)
	}
	if !strings.Contains(st2.Why, "(10 reserved for runs starting)") {
		t.Errorf("why = %q, want the reserved IPs named", st2.Why)
	}
	if starts, _ := cloud.counts(); starts != 1 {
		t.Fatalf("%d starts, want 1", starts)
	}
}

// TestQueuedRunHoldsNoReservation: a run Glue queued (WAITING) holds no
// IPs, so its reservation is released when the executor sees it queued.
func TestQueuedRunHoldsNoReservation(t *testing.T) {
	ctx := context.Background()
	cloud := newFakeCloud(10, map[string]int{"a": 50, "b": 3})
	clock := &fakeClock{now: testEpoch}
	mem := &fakeMemory{}
	ex := newTestExecutor(cloud, NewMemJournal(), clock, mem)
	if _, err := ex.Begin(ctx, "k", admitSpec(10*time.Minute, admit.StartShort)); err != nil {
		t.Fatal(err)
	}
	st, err := ex.Step(ctx, "k")
	if err != nil || st.Wait.For != WaitRun {
		t.Fatalf("start: %+v, %v", st, err)
	}
	if res, _ := mem.Reservations(ctx, clock.Now()); len(res) != 1 || res[0].IPs != 10 {
		t.Fatalf("reservations after the start: %+v", res)
	}
	cloud.end(st.GlueRunID, StateWaiting)
	cloud.mu.Lock()
	r := cloud.runs[st.GlueRunID]
	r.StateDetail = "Resource unavailable"
	cloud.runs[st.GlueRunID] = r
	cloud.mu.Unlock()
	clock.Set(st.Wait.At())
	if st, err = ex.Step(ctx, "k"); err != nil || st.State != StateWaiting || st.Done {
		t.Fatalf("poll: %+v, %v", st, err)
	}
	if st.Why != "Glue queued the run (job run queuing): Resource unavailable" {
		t.Errorf("why = %q, want Glue's reason", st.Why)
	}
	if res, _ := mem.Reservations(ctx, clock.Now()); len(res) != 0 {
		t.Fatalf("a queued run still reserves IPs: %+v", res)
	}
}

// TestPredictedWait: with --admit-predict a wait is bounded by when the
// runs in flight are expected to make room (their job's recent duration
// plus the ENI linger, plus a margin), and there is no wait at all when
// they cannot make room.
func TestPredictedWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		need int
		// want: the reason's words, and whether the run waits
		wait bool
		why  []string
	}{
		{name: "room expected when the run in flight ends", need: 10, wait: true,
			why: []string{"room expected ~12:47:00 UTC in subnet-a when 1 run(s) in flight end", "waiting until 12:48:00 UTC at most"}},
		{name: "no room expected: start short at once", need: 30, wait: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cloud := newFakeCloud(10, map[string]int{"a": 50, "b": 40})
			clock := &fakeClock{now: testEpoch}
			ex := newTestExecutor(cloud, NewMemJournal(), clock, nil)
			plain := admitSpec(0, "")
			// A run of the job that took 20 minutes, then one in flight
			// since 12:25 in subnet-a, holding 10 IPs.
			for _, k := range []string{"old", "k0"} {
				if _, err := ex.Begin(ctx, k, plain); err != nil {
					t.Fatal(err)
				}
				st, err := ex.Step(ctx, k)
				if err != nil || st.Wait == nil || st.Wait.For != WaitRun {
					t.Fatalf("%s: %+v, %v", k, st, err)
				}
				if k == "old" {
					clock.Set(testEpoch.Add(20 * time.Minute))
					cloud.end(st.GlueRunID, "SUCCEEDED")
					if st, err = ex.Step(ctx, k); err != nil || !st.Done {
						t.Fatalf("old did not end: %+v, %v", st, err)
					}
					clock.Set(testEpoch.Add(25 * time.Minute))
				}
			}
			clock.Set(testEpoch.Add(30 * time.Minute))
			cloud.setFree("a", 5)
			cloud.setFree("b", 3)
			spec := admitSpec(60*time.Minute, admit.StartShort)
			spec.NeedIPs, spec.Admission.Predict = tc.need, true
			if _, err := ex.Begin(ctx, "k", spec); err != nil {
				t.Fatal(err)
			}
			st, err := ex.Step(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if waits := st.Wait != nil && st.Wait.For == WaitRoom; waits != tc.wait {
				t.Fatalf("waits %v, want %v: %+v", waits, tc.wait, st)
			}
			for _, w := range tc.why {
				if !strings.Contains(st.Why, w) {
					t.Errorf("why = %q, want it to say %q", st.Why, w)
				}
			}
			if !tc.wait && st.Attempts[0].UnderCapacity == nil {
				t.Errorf("started without waiting but not short: %+v", st.Attempts[0])
			}
		})
	}
}

// TestPlanSaysWhetherARunWouldWait: `gluenet plan` notes whether a run now
// would wait for room, would not (no subnet can ever hold it), or would
// start under capacity.
func TestPlanSaysWhetherARunWouldWait(t *testing.T) {
	for _, tc := range []struct {
		name   string
		free   map[string]int
		usable int
		wait   time.Duration
		note   string // the admission note's start; "" for none
	}{
		{name: "room", free: map[string]int{"a": 12, "b": 3}, wait: time.Hour},
		{name: "no room now", free: map[string]int{"a": 5, "b": 3}, wait: time.Hour,
			note: "a run now would wait for room, up to 1h0m0s (--admit-wait): needs 10 IPs, best healthy subnet subnet-a has 5"},
		{name: "no subnet large enough", free: map[string]int{"a": 5, "b": 3}, usable: 8, wait: time.Hour,
			note: "a run now would not wait for room: it needs 10 IPs and the largest candidate subnet has 8 usable, even empty (--when-short start decides)"},
		{name: "admission off", free: map[string]int{"a": 5, "b": 3},
			note: "a run now would start under capacity: it needs 10 IPs, subnet-a has 5 free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cloud := newFakeCloud(10, tc.free)
			cloud.usable = tc.usable
			ex := newTestExecutor(cloud, NewMemJournal(), &fakeClock{now: testEpoch}, nil)
			plan, err := ex.Plan(context.Background(), admitSpec(tc.wait, ""))
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, n := range plan.Notes {
				if strings.HasPrefix(n, "a run now would") {
					got = n
				}
			}
			if !strings.HasPrefix(got, tc.note) || (tc.note == "") != (got == "") {
				t.Errorf("note %q, want it to start with %q", got, tc.note)
			}
			if s, u := cloud.counts(); s != 0 || u != 0 {
				t.Errorf("plan changed AWS: %d starts, %d updates", s, u)
			}
		})
	}
}
