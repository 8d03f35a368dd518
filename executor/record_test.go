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
