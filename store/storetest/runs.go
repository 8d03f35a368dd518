package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

func testBeginRun(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	in := store.Run{
		Key:       "dag.task.2025-03-01",
		Job:       "nightly-etl",
		Inputs:    json.RawMessage(`{"job": "nightly-etl", "args": {"--day": "2025-03-01"}, "workers": 10}`),
		CreatedAt: t0,
	}
	got, created, err := s.BeginRun(ctx, in)
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	if !created {
		t.Error("BeginRun of a new key: created = false")
	}
	want := in
	want.Status = store.RunPending // the zero status
	want.UpdatedAt = in.CreatedAt  // the zero UpdatedAt
	checkRun(t, got, want)

	stored, err := s.GetRun(ctx, in.Key)
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	checkRun(t, stored, want)

	// A second BeginRun with the same key changes nothing, whatever it
	// carries: it is how a retried orchestrator task finds its run.
	again, created, err := s.BeginRun(ctx, store.Run{
		Key: in.Key, Job: "other-job", Status: store.RunRunning, Inputs: json.RawMessage(`{}`),
		CreatedAt: t0.Add(time.Hour),
	})
	if err != nil {
		t.Fatalf("BeginRun again: %v", err)
	}
	if created {
		t.Error("BeginRun of an existing key: created = true")
	}
	checkRun(t, again, want)

	// Explicit status and times are kept.
	explicit := store.Run{Key: "k2", Job: "j", Status: store.RunRunning, CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
	got, _, err = s.BeginRun(ctx, explicit)
	if err != nil {
		t.Fatalf("BeginRun: %v", err)
	}
	checkRun(t, got, explicit)
}

func testBeginRunConcurrent(t *testing.T, s store.Store) {
	const n = 10
	ctx := ctxOf(t)
	runs := make([]store.Run, n)
	created := make([]bool, n)
	noErrors(t, together(n, func(i int) error {
		var err error
		runs[i], created[i], err = s.BeginRun(ctx, store.Run{
			Key: "same-key", Job: fmt.Sprintf("job-%d", i), CreatedAt: t0.Add(time.Duration(i) * time.Second),
		})
		return err
	}))
	winners := 0
	winner := -1
	for i, c := range created {
		if c {
			winners++
			winner = i
		}
	}
	if winners != 1 {
		t.Fatalf("%d of %d concurrent BeginRun calls created the run, want exactly 1", winners, n)
	}
	for i, r := range runs {
		if r.Job != runs[winner].Job {
			t.Errorf("goroutine %d sees job %q, the creator (%d) stored %q", i, r.Job, winner, runs[winner].Job)
		}
	}
	if want := fmt.Sprintf("job-%d", winner); runs[winner].Job != want {
		t.Errorf("the creator got back job %q, want its own %q", runs[winner].Job, want)
	}
}

func testBeginRunInvalid(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		run  store.Run
	}{
		{"no key", store.Run{Job: "j", CreatedAt: t0}},
		{"no job", store.Run{Key: "k", CreatedAt: t0}},
		{"no time", store.Run{Key: "k", Job: "j"}},
		{"unknown status", store.Run{Key: "k", Job: "j", CreatedAt: t0, Status: "done"}},
		{"bad inputs", store.Run{Key: "k", Job: "j", CreatedAt: t0, Inputs: json.RawMessage(`{"a":`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := s.BeginRun(ctxOf(t), tt.run); err == nil {
				t.Fatal("BeginRun succeeded, want an error")
			}
		})
	}
	// Nothing was stored by the refused calls.
	if _, err := s.GetRun(ctxOf(t), "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun after refused BeginRun: err = %v, want ErrNotFound", err)
	}
}

func testGetRunNotFound(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if _, err := s.GetRun(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetRun: err = %v, want ErrNotFound", err)
	}
	if err := s.FinishRun(ctx, "missing", store.RunFailed, "x", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun: err = %v, want ErrNotFound", err)
	}
	if err := s.SetRunStatus(ctx, "missing", store.RunRunning, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetRunStatus: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Attempts(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Attempts: err = %v, want ErrNotFound", err)
	}
	if err := s.PutAttempt(ctx, store.Attempt{RunKey: "missing", Number: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutAttempt: err = %v, want ErrNotFound", err)
	}
	if err := s.RecordRunID(ctx, "missing", 1, "jr_1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("RecordRunID: err = %v, want ErrNotFound", err)
	}
}

func testListRuns(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if got, err := s.ListRuns(ctx, store.RunFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("ListRuns on an empty store = %v, %v; want nothing", got, err)
	}
	// a1..a3 and b1..b2, one minute apart; a3 and b2 share a time so the
	// key breaks the tie.
	for _, r := range []struct {
		key, job string
		min      int
	}{{"a1", "a", 0}, {"b1", "b", 1}, {"a2", "a", 2}, {"a3", "a", 3}, {"b2", "b", 3}} {
		mustBegin(t, s, r.key, r.job, t0.Add(time.Duration(r.min)*time.Minute))
	}
	tests := []struct {
		name   string
		filter store.RunFilter
		want   []string
	}{
		{"all, newest first", store.RunFilter{}, []string{"b2", "a3", "a2", "b1", "a1"}},
		{"job", store.RunFilter{Job: "a"}, []string{"a3", "a2", "a1"}},
		{"limit", store.RunFilter{Limit: 2}, []string{"b2", "a3"}},
		{"before", store.RunFilter{Before: t0.Add(3 * time.Minute)}, []string{"a2", "b1", "a1"}},
		{"job, before and limit", store.RunFilter{Job: "b", Before: t0.Add(3 * time.Minute), Limit: 5}, []string{"b1"}},
		{"unknown job", store.RunFilter{Job: "c"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.ListRuns(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			var keys []string
			for _, r := range runs {
				keys = append(keys, r.Key)
			}
			if fmt.Sprint(keys) != fmt.Sprint(tt.want) {
				t.Errorf("ListRuns(%+v) = %v, want %v", tt.filter, keys, tt.want)
			}
		})
	}
	if _, err := s.ListRuns(ctx, store.RunFilter{Limit: -1}); err == nil {
		t.Error("ListRuns with a negative limit succeeded, want an error")
	}
}

func testFinishRun(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	r := mustBegin(t, s, "k", "j", t0)

	if err := s.SetRunStatus(ctx, "k", store.RunRunning, t0.Add(time.Second)); err != nil {
		t.Fatalf("SetRunStatus: %v", err)
	}
	got, err := s.GetRun(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	want := r
	want.Status, want.UpdatedAt = store.RunRunning, t0.Add(time.Second)
	checkRun(t, got, want)

	end := t0.Add(time.Hour)
	if err := s.FinishRun(ctx, "k", store.RunInterrupted, "stopped by SIGTERM", end); err != nil {
		t.Fatalf("FinishRun: %v", err)
	}
	got, err = s.GetRun(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	want.Status, want.Outcome, want.UpdatedAt, want.FinishedAt = store.RunInterrupted, "stopped by SIGTERM", end, end
	checkRun(t, got, want)

	// A rerun with the same key resumes the interrupted run.
	resumed := end.Add(time.Minute)
	if err := s.SetRunStatus(ctx, "k", store.RunRunning, resumed); err != nil {
		t.Fatalf("SetRunStatus: %v", err)
	}
	got, err = s.GetRun(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	want.Status, want.Outcome, want.UpdatedAt, want.FinishedAt = store.RunRunning, "", resumed, time.Time{}
	checkRun(t, got, want)

	bad := []struct {
		name string
		call func() error
	}{
		{"finish with a non-terminal status", func() error { return s.FinishRun(ctx, "k", store.RunRunning, "", end) }},
		{"finish with an unknown status", func() error { return s.FinishRun(ctx, "k", "done", "", end) }},
		{"finish at the zero time", func() error { return s.FinishRun(ctx, "k", store.RunFailed, "", time.Time{}) }},
		{"set a terminal status", func() error { return s.SetRunStatus(ctx, "k", store.RunSucceeded, end) }},
		{"set an unknown status", func() error { return s.SetRunStatus(ctx, "k", "paused", end) }},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Error("succeeded, want an error")
			}
		})
	}
	got, err = s.GetRun(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, got, want)
}

func testPutAttempt(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	mustBegin(t, s, "k", "j", t0)
	if got, err := s.Attempts(ctx, "k"); err != nil || len(got) != 0 {
		t.Fatalf("Attempts of a run without attempts = %v, %v; want none", got, err)
	}

	first := store.Attempt{
		RunKey:       "k",
		Number:       1,
		Plan:         json.RawMessage(`{"strategy":"capacity","connections":[{"name":"c1","rank":1,"reason":"most free IPs"}]}`),
		OrderApplied: []string{"c1", "c2", "c3"},
		GlueRunID:    "jr_0001",
		Phase:        store.PhaseEnded,
		States: []store.StateChange{
			{State: "STARTING", At: t0.Add(time.Second)},
			{State: "RUNNING", At: t0.Add(30 * time.Second)},
			{State: "FAILED", At: t0.Add(5 * time.Minute)},
		},
		FinalState:   "FAILED",
		ErrorMessage: "Failed to create ENI: insufficient free addresses in subnet-1",
		Class:        "placement",
		StartedAt:    t0,
		EndedAt:      t0.Add(5 * time.Minute),
		Subnet:       "subnet-1",
		AZ:           "us-east-1a",
	}
	// Attempt 2 is written first: Attempts orders by number, not by write.
	second := store.Attempt{RunKey: "k", Number: 2, Phase: store.PhaseDiscovered, OrderApplied: []string{}}
	for _, a := range []store.Attempt{second, first} {
		if err := s.PutAttempt(ctx, a); err != nil {
			t.Fatalf("PutAttempt(%d): %v", a.Number, err)
		}
	}
	got, err := s.Attempts(ctx, "k")
	if err != nil {
		t.Fatalf("Attempts: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("Attempts returned %d attempts, want 2", len(got))
	}
	checkAttempt(t, got[0], first)
	checkAttempt(t, got[1], second)

	// Attempts of another run are separate.
	mustBegin(t, s, "other", "j", t0)
	if got, err := s.Attempts(ctx, "other"); err != nil || len(got) != 0 {
		t.Errorf("Attempts(other) = %v, %v; want none", got, err)
	}
}

func testPutAttemptKeeps(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	mustBegin(t, s, "k", "j", t0)
	a := store.Attempt{
		RunKey:       "k",
		Number:       1,
		Plan:         json.RawMessage(`{"strategy":"capacity"}`),
		OrderApplied: []string{"c2", "c1"},
		Phase:        store.PhaseApplied,
		States:       []store.StateChange{{State: "STARTING", At: t0.Add(time.Second)}},
		StartedAt:    t0,
	}
	if err := s.PutAttempt(ctx, a); err != nil {
		t.Fatalf("PutAttempt: %v", err)
	}
	if err := s.RecordRunID(ctx, "k", 1, "jr_1", t0.Add(time.Minute)); err != nil {
		t.Fatalf("RecordRunID: %v", err)
	}
	// A writer that knows only the phase and the new states: everything
	// else, the run id above all, stays. The repeated STARTING is not
	// duplicated; the states come back in time order though written out
	// of order.
	if err := s.PutAttempt(ctx, store.Attempt{
		RunKey: "k", Number: 1, Phase: store.PhaseEnded,
		States: []store.StateChange{
			{State: "SUCCEEDED", At: t0.Add(time.Hour)},
			{State: "STARTING", At: t0.Add(time.Second)},
			{State: "RUNNING", At: t0.Add(time.Minute)},
		},
		FinalState: "SUCCEEDED", EndedAt: t0.Add(time.Hour),
	}); err != nil {
		t.Fatalf("PutAttempt: %v", err)
	}
	want := a
	want.GlueRunID = "jr_1"
	want.Phase = store.PhaseEnded
	want.FinalState = "SUCCEEDED"
	want.EndedAt = t0.Add(time.Hour)
	want.States = []store.StateChange{
		{State: "STARTING", At: t0.Add(time.Second)},
		{State: "RUNNING", At: t0.Add(time.Minute)},
		{State: "SUCCEEDED", At: t0.Add(time.Hour)},
	}
	got, err := s.Attempts(ctx, "k")
	if err != nil {
		t.Fatalf("Attempts: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("Attempts returned %d attempts, want 1", len(got))
	}
	checkAttempt(t, got[0], want)

	// A different run id for the same attempt would lose the first Glue
	// run: refused.
	err = s.PutAttempt(ctx, store.Attempt{RunKey: "k", Number: 1, GlueRunID: "jr_2"})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("PutAttempt with another run id: err = %v, want ErrConflict", err)
	}
	// The same one is fine.
	if err := s.PutAttempt(ctx, store.Attempt{RunKey: "k", Number: 1, GlueRunID: "jr_1"}); err != nil {
		t.Errorf("PutAttempt with the recorded run id: %v", err)
	}
	got, err = s.Attempts(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	checkAttempt(t, got[0], want)
}

func testPutAttemptInvalid(t *testing.T, s store.Store) {
	mustBegin(t, s, "k", "j", t0)
	tests := []struct {
		name string
		a    store.Attempt
	}{
		{"no run key", store.Attempt{Number: 1}},
		{"number 0", store.Attempt{RunKey: "k", Number: 0}},
		{"bad plan", store.Attempt{RunKey: "k", Number: 1, Plan: json.RawMessage(`[`)}},
		{"state without a time", store.Attempt{RunKey: "k", Number: 1, States: []store.StateChange{{State: "RUNNING"}}}},
		{"state without a name", store.Attempt{RunKey: "k", Number: 1, States: []store.StateChange{{At: t0}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.PutAttempt(ctxOf(t), tt.a); err == nil {
				t.Error("PutAttempt succeeded, want an error")
			}
		})
	}
	if got, err := s.Attempts(ctxOf(t), "k"); err != nil || len(got) != 0 {
		t.Errorf("Attempts after refused writes = %v, %v; want none", got, err)
	}
}

func testRecordRunID(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	mustBegin(t, s, "k", "j", t0)

	// Without a prior PutAttempt, the attempt is created: the id must not
	// be lost because an earlier write was skipped.
	if err := s.RecordRunID(ctx, "k", 1, "jr_1", t0.Add(time.Second)); err != nil {
		t.Fatalf("RecordRunID: %v", err)
	}
	// An attempt written before: its StartedAt is kept.
	if err := s.PutAttempt(ctx, store.Attempt{RunKey: "k", Number: 2, Phase: store.PhaseApplied, StartedAt: t0.Add(time.Hour)}); err != nil {
		t.Fatalf("PutAttempt: %v", err)
	}
	if err := s.RecordRunID(ctx, "k", 2, "jr_2", t0.Add(2*time.Hour)); err != nil {
		t.Fatalf("RecordRunID: %v", err)
	}
	// Recording the same id again (a retried write) is a no-op.
	if err := s.RecordRunID(ctx, "k", 2, "jr_2", t0.Add(3*time.Hour)); err != nil {
		t.Fatalf("RecordRunID again: %v", err)
	}
	if err := s.RecordRunID(ctx, "k", 2, "jr_other", t0.Add(3*time.Hour)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("RecordRunID with a different id: err = %v, want ErrConflict", err)
	}
	for _, bad := range []struct {
		name   string
		number int
		id     string
		at     time.Time
	}{
		{"number 0", 0, "jr", t0},
		{"empty id", 3, "", t0},
		{"zero time", 3, "jr", time.Time{}},
	} {
		if err := s.RecordRunID(ctx, "k", bad.number, bad.id, bad.at); err == nil {
			t.Errorf("RecordRunID with %s succeeded, want an error", bad.name)
		}
	}

	got, err := s.Attempts(ctx, "k")
	if err != nil {
		t.Fatalf("Attempts: %v", err)
	}
	want := []store.Attempt{
		{RunKey: "k", Number: 1, GlueRunID: "jr_1", StartedAt: t0.Add(time.Second)},
		{RunKey: "k", Number: 2, GlueRunID: "jr_2", Phase: store.PhaseApplied, StartedAt: t0.Add(time.Hour)},
	}
	if len(got) != len(want) {
		t.Fatalf("Attempts = %+v, want %+v", got, want)
	}
	for i := range want {
		checkAttempt(t, got[i], want[i])
	}
}

func testRunState(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if _, err := s.RunState(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RunState of a missing run: %v, want ErrNotFound", err)
	}
	if _, err := s.PutRunState(ctx, store.RunState{Key: "k", Data: []byte(`{"v":1}`), UpdatedAt: t0}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("PutRunState of a missing run: %v, want ErrNotFound", err)
	}
	mustBegin(t, s, "k", "j", t0)
	if _, err := s.RunState(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("RunState before any write: %v, want ErrNotFound", err)
	}
	rev, err := s.PutRunState(ctx, store.RunState{Key: "k", Data: []byte(`{"v":1,"n":1}`), UpdatedAt: t0})
	if err != nil || rev != 1 {
		t.Fatalf("first PutRunState: %d, %v", rev, err)
	}
	// A second writer that also believed nothing was stored loses.
	if _, err := s.PutRunState(ctx, store.RunState{Key: "k", Data: []byte(`{"v":1,"n":9}`), UpdatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale first write: %v, want ErrConflict", err)
	}
	rev, err = s.PutRunState(ctx, store.RunState{Key: "k", Revision: 1, Data: []byte(`{"v":1,"n":2}`), UpdatedAt: t0.Add(time.Second)})
	if err != nil || rev != 2 {
		t.Fatalf("second PutRunState: %d, %v", rev, err)
	}
	if _, err := s.PutRunState(ctx, store.RunState{Key: "k", Revision: 1, Data: []byte(`{"v":1,"n":3}`), UpdatedAt: t0}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale write: %v, want ErrConflict", err)
	}
	got, err := s.RunState(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int
	if err := json.Unmarshal(got.Data, &m); err != nil || m["n"] != 2 || got.Revision != 2 || !got.UpdatedAt.Equal(t0.Add(time.Second).Truncate(time.Microsecond)) {
		t.Fatalf("RunState = %+v (%s), want revision 2, n 2", got, got.Data)
	}
}
