package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
)

// Tests of store.Fleet and the Since and Status filters of ListRuns.

func testListRunsSinceStatus(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	for i, key := range []string{"r0", "r1", "r2", "r3"} {
		mustBegin(t, s, key, "j", t0.Add(time.Duration(i)*time.Minute))
	}
	if err := s.FinishRun(ctx, "r1", store.RunFailed, "failed: x", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, "r3", store.RunFailed, "failed: y", t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter store.RunFilter
		want   []string
	}{
		{"since is inclusive", store.RunFilter{Since: t0.Add(2 * time.Minute)}, []string{"r3", "r2"}},
		{"status", store.RunFilter{Status: store.RunFailed}, []string{"r3", "r1"}},
		{"status and since", store.RunFilter{Status: store.RunFailed, Since: t0.Add(time.Minute + time.Second)}, []string{"r3"}},
		{"since and before", store.RunFilter{Since: t0.Add(time.Minute), Before: t0.Add(3 * time.Minute)}, []string{"r2", "r1"}},
		{"status nobody has", store.RunFilter{Status: store.RunSucceeded}, nil},
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
}

func testAttemptsOf(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if got, err := s.AttemptsOf(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("AttemptsOf(nil) = %v, %v; want an empty map", got, err)
	}
	mustBegin(t, s, "a", "j", t0)
	mustBegin(t, s, "b", "j", t0)
	mustBegin(t, s, "none", "j", t0)
	put := []store.Attempt{
		{RunKey: "a", Number: 2, Plan: []byte(`{"strategy":"capacity"}`), Subnet: "subnet-2", AZ: "az-b", Class: "succeeded",
			FinalState: "SUCCEEDED", StartedAt: t0.Add(time.Minute), EndedAt: t0.Add(3 * time.Minute),
			States: []store.StateChange{{State: "STARTING", At: t0.Add(time.Minute)}, {State: "RUNNING", At: t0.Add(2 * time.Minute)}}},
		{RunKey: "a", Number: 1, OrderApplied: []string{"c1", "c2"}, GlueRunID: "jr_1", Class: "placement", Subnet: "subnet-1",
			States: []store.StateChange{{State: "FAILED", At: t0}}},
		{RunKey: "b", Number: 1, Phase: "discovered"},
	}
	for _, a := range put {
		if err := s.PutAttempt(ctx, a); err != nil {
			t.Fatalf("PutAttempt(%s #%d): %v", a.RunKey, a.Number, err)
		}
	}
	keys := []string{"a", "b", "none", "missing"}
	got, err := s.AttemptsOf(ctx, keys)
	if err != nil {
		t.Fatalf("AttemptsOf: %v", err)
	}
	if len(got) != 2 || len(got["a"]) != 2 || len(got["b"]) != 1 {
		t.Fatalf("AttemptsOf(%v) = %v; want 2 attempts of a and 1 of b, and nothing else", keys, got)
	}
	// The same as Attempts, run by run.
	for _, key := range []string{"a", "b"} {
		want, err := s.Attempts(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			checkAttempt(t, got[key][i], want[i])
		}
	}
	if got["a"][0].Number != 1 || got["a"][1].Number != 2 {
		t.Errorf("attempts of a in order %d, %d; want 1, 2", got["a"][0].Number, got["a"][1].Number)
	}
	// More keys than one query binds.
	many := make([]string, 0, store.AttemptKeysChunk+10)
	for i := range store.AttemptKeysChunk + 9 {
		many = append(many, fmt.Sprintf("k%04d", i))
	}
	many = append(many, "b")
	got, err = s.AttemptsOf(ctx, many)
	if err != nil || len(got) != 1 || len(got["b"]) != 1 {
		t.Errorf("AttemptsOf(%d keys, b last) = %v, %v; want b's attempt", len(many), got, err)
	}
}

func testSubnetSamples(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	samples := []store.SubnetSample{
		{At: t0.Add(time.Minute), SubnetID: "subnet-b", AZ: "az-b", FreeIPs: 10, ReservedIPs: 2},
		{At: t0, SubnetID: "subnet-a", AZ: "az-a", FreeIPs: 251},
		{At: t0.Add(time.Minute), SubnetID: "subnet-a", AZ: "az-a", FreeIPs: 240, ReservedIPs: 5},
	}
	if err := s.AddSubnetSamples(ctx, samples); err != nil {
		t.Fatalf("AddSubnetSamples: %v", err)
	}
	got, err := s.SubnetSamples(ctx, t0)
	if err != nil {
		t.Fatalf("SubnetSamples: %v", err)
	}
	want := []store.SubnetSample{samples[1], samples[2], samples[0]}
	if len(got) != len(want) {
		t.Fatalf("SubnetSamples = %+v, want %+v", got, want)
	}
	for i := range want {
		checkTime(t, fmt.Sprintf("sample %d time", i), got[i].At, want[i].At)
		g, w := got[i], want[i]
		g.At, w.At = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("sample %d = %+v, want %+v", i, g, w)
		}
	}
	if got, err := s.SubnetSamples(ctx, t0.Add(time.Second)); err != nil || len(got) != 2 {
		t.Errorf("SubnetSamples since t0+1s = %v, %v; want the 2 later samples", got, err)
	}
	n, err := s.PruneSubnetSamples(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("PruneSubnetSamples = %d, %v; want 1 deleted", n, err)
	}
	if got, err := s.SubnetSamples(ctx, time.Time{}); err != nil || len(got) != 2 {
		t.Errorf("after pruning: %v, %v; want 2 samples", got, err)
	}
	for _, bad := range []store.SubnetSample{
		{SubnetID: "subnet-a", FreeIPs: 1},
		{At: t0, FreeIPs: 1},
		{At: t0, SubnetID: "subnet-a", FreeIPs: -1},
	} {
		if err := s.AddSubnetSamples(ctx, []store.SubnetSample{{At: t0, SubnetID: "subnet-ok"}, bad}); err == nil {
			t.Errorf("AddSubnetSamples(%+v) succeeded; want an error", bad)
		}
	}
	if got, _ := s.SubnetSamples(ctx, time.Time{}); len(got) != 2 {
		t.Errorf("a refused batch stored %d samples; want none of it", len(got)-2)
	}
}
