package executor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

func TestRecordRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	free := 240
	plan := &gluenet.Plan{Strategy: "capacity", Need: gluenet.Need{IPs: 10, MinIPs: 2}, Placements: []gluenet.Placement{{
		Candidate: gluenet.Candidate{Connection: "c1", SubnetID: "s1", AZ: "az1", FreeIPs: 251, Checked: true},
		Free:      &free, Reserved: 11, Group: gluenet.GroupGood, Rank: 1, Reason: "r"}}}
	s := policy.State{Phase: policy.PhaseSleep, SleepFor: time.Minute, AfterSleep: policy.PhaseStart,
		Attempts: []policy.Attempt{{Number: 1, Plan: plan, RunID: "jr_1", State: "FAILED", Class: "placement"}, {Number: 2, Plan: plan}}}
	rec := &record{V: recordVersion, Phase: "discover"}
	rec.absorb(s, now)
	if !rec.SleepUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("sleep until %s", rec.SleepUntil)
	}
	got, err := rec.state(now.Add(20 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got.SleepFor != 40*time.Second || got.AfterSleep != policy.PhaseStart || len(got.Attempts) != 2 {
		t.Fatalf("state %+v", got)
	}
	c := got.Attempts[0].Plan.Placements[0].Candidate
	if c.FreeIPs != 251 || !c.Checked {
		t.Fatalf("discovery facts lost: %+v", c)
	}
}

func TestDecodeRecordVersions(t *testing.T) {
	tests := []struct {
		name, data, wantErr string
	}{
		{"current", `{"v":1,"phase":"discover","attempts":[{"number":1}]}`, ""},
		{"newer", `{"v":2,"phase":"discover"}`, "version 2"},
		{"none", `{"phase":"discover"}`, "version 0"},
		{"not json", `{`, "decode run state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRecord([]byte(tt.data))
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestMemJournalCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	j := NewMemJournal()
	if _, _, err := j.BeginRun(ctx, store.Run{Key: "k", Job: "j"}); err != nil {
		t.Fatal(err)
	}
	if rev, err := j.PutRunState(ctx, store.RunState{Key: "k", Data: []byte("{}")}); err != nil || rev != 1 {
		t.Fatalf("%d %v", rev, err)
	}
	if _, err := j.PutRunState(ctx, store.RunState{Key: "k", Data: []byte("{}")}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale write: %v", err)
	}
	if _, err := j.PutRunState(ctx, store.RunState{Key: "nope", Data: []byte("{}")}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

// TestSpecValidate: the run's rules, checked by every driver.
func TestSpecValidate(t *testing.T) {
	good := Spec{Job: "j", Connections: []string{"a", "b"}, Strategy: "weighted", MinIPs: 2, Policy: policy.DefaultConfig(), PollInterval: time.Second}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
		want   string // "" for valid
	}{
		{"valid", func(*Spec) {}, ""},
		{"no job", func(s *Spec) { s.Job = " " }, "no job"},
		{"no connections", func(s *Spec) { s.Connections = nil }, "no connections"},
		{"duplicate", func(s *Spec) { s.Connections = []string{"a", "a"} }, "listed twice"},
		{"unknown strategy", func(s *Spec) { s.Strategy = "teleport" }, "teleport"},
		{"prefer-az without zones", func(s *Spec) { s.Strategy = "prefer-az" }, "needs the zones"},
		{"prefer-az with zones", func(s *Spec) { s.Strategy, s.PreferAZ = "prefer-az", []string{"az1"} }, ""},
		{"min ips", func(s *Spec) { s.MinIPs = 0 }, "--min-ips"},
		{"need ips", func(s *Spec) { s.NeedIPs = -1 }, "--need-ips"},
		{"poll", func(s *Spec) { s.PollInterval = 0 }, "--poll-interval"},
		{"policy", func(s *Spec) { s.Policy.MaxAttempts = 0 }, "retry policy"},
		{"admission", func(s *Spec) { s.Admission.Wait = -time.Second }, "admit wait"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := good
			tc.change(&s)
			err := s.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
