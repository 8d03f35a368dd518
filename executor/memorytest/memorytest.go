// Package memorytest is the conformance suite of executor.Memory: health
// memory and in-flight reservations as the executor sees them. Every
// implementation runs it: memory.Memory on each state store, and the lab's
// in-process memory, so that the lab measures what a fleet sharing a store
// would do.
//
//	func TestMemoryConformance(t *testing.T) {
//		memorytest.Run(t, func(t *testing.T) executor.Memory { return newMemory(t) })
//	}
//
// Times are in UTC with whole microseconds, as every store keeps them; the
// suite never sleeps.
package memorytest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
)

// Opener returns a new, empty memory with health.DefaultConfig's rules.
type Opener func(t *testing.T) executor.Memory

var t0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

// Run runs the suite against the memories open returns.
func Run(t *testing.T, open Opener) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, m executor.Memory)
	}{
		{"Reservations", testReservations},
		{"ReserveReplaces", testReserveReplaces},
		{"Release", testRelease},
		{"Health", testHealth},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

func res(id, subnet string, ips int, created time.Time) gluenet.Reservation {
	return gluenet.Reservation{ID: id, SubnetID: subnet, AZ: "az-1", IPs: ips, Job: "j", BaselineFree: 100,
		CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute)}
}

func ids(rs []gluenet.Reservation) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func reservations(t *testing.T, m executor.Memory, now time.Time) []gluenet.Reservation {
	t.Helper()
	rs, err := m.Reservations(context.Background(), now)
	if err != nil {
		t.Fatalf("Reservations: %v", err)
	}
	return rs
}

// testReservations: alive ones only (ExpiresAt after now), oldest first,
// every field as reserved.
func testReservations(t *testing.T, m executor.Memory) {
	ctx := context.Background()
	later, first := res("b", "subnet-2", 20, t0.Add(time.Minute)), res("a", "subnet-1", 10, t0)
	for _, r := range []gluenet.Reservation{later, first} {
		if err := m.Reserve(ctx, r); err != nil {
			t.Fatalf("Reserve(%s): %v", r.ID, err)
		}
	}
	got := reservations(t, m, t0.Add(2*time.Minute))
	if !slices.Equal(ids(got), []string{"a", "b"}) {
		t.Fatalf("Reservations = %v, want [a b] (oldest first)", ids(got))
	}
	if !reflect.DeepEqual(got[0], first) {
		t.Errorf("reservation a = %+v, want %+v", got[0], first)
	}
	// a expires at t0+10m exactly: no longer alive then; b still is.
	if got := ids(reservations(t, m, t0.Add(10*time.Minute))); !slices.Equal(got, []string{"b"}) {
		t.Errorf("at a's expiry: %v, want [b]", got)
	}
	if got := reservations(t, m, t0.Add(time.Hour)); len(got) != 0 {
		t.Errorf("after every expiry: %v, want none", ids(got))
	}
}

// testReserveReplaces: a reservation with the ID of another replaces it
// (the run's settled reservation replaces the provisional one).
func testReserveReplaces(t *testing.T, m executor.Memory) {
	ctx := context.Background()
	r := res("a", "subnet-1", 10, t0)
	if err := m.Reserve(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.IPs, r.RunID = 7, "jr_1"
	if err := m.Reserve(ctx, r); err != nil {
		t.Fatal(err)
	}
	got := reservations(t, m, t0.Add(time.Minute))
	if len(got) != 1 || got[0].IPs != 7 || got[0].RunID != "jr_1" {
		t.Errorf("after reserving a again: %+v, want one reservation of 7 IPs for jr_1", got)
	}
}

// testRelease: released ones are gone; releasing an unknown ID is fine.
func testRelease(t *testing.T, m executor.Memory) {
	ctx := context.Background()
	for _, r := range []gluenet.Reservation{res("a", "subnet-1", 1, t0), res("b", "subnet-1", 2, t0.Add(time.Second)), res("c", "subnet-2", 3, t0.Add(2*time.Second))} {
		if err := m.Reserve(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Release(ctx, []string{"a", "c", "never-reserved"}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if got := ids(reservations(t, m, t0.Add(time.Minute))); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after releasing a and c: %v, want [b]", got)
	}
}

// testHealth: what Observe leaves in HealthRecords is what the health
// rules say (package health), step by step: a placement failure ejects the
// subnet, a failure that names the zone counts against the zone, a
// success clears the streak.
func testHealth(t *testing.T, m executor.Memory) {
	ctx := context.Background()
	placement := classify.Verdict{Class: classify.Placement, Retry: true, Rerank: true, BlameSubnet: true}
	zone := classify.Verdict{Class: classify.Placement, Retry: true, Rerank: true, BlameSubnet: true, BlameAZ: true}
	steps := []struct {
		at     time.Duration
		subnet string
		az     string
		v      classify.Verdict
	}{
		{0, "subnet-1", "az-1", placement},
		{time.Minute, "subnet-2", "az-1", zone},
		{2 * time.Minute, "subnet-3", "az-2", classify.Verdict{Class: classify.Succeeded}},
		{20 * time.Minute, "subnet-1", "az-1", classify.Verdict{Class: classify.Succeeded}},
	}
	var want []gluenet.HealthRecord
	for i, s := range steps {
		now := t0.Add(s.at)
		if err := m.Observe(ctx, now, s.subnet, s.az, s.v); err != nil {
			t.Fatalf("Observe step %d: %v", i, err)
		}
		want, _ = health.Observe(want, now, s.subnet, s.az, s.v, health.DefaultConfig())
		got, err := m.HealthRecords(ctx)
		if err != nil {
			t.Fatalf("HealthRecords: %v", err)
		}
		if !sameRecords(got, want) {
			t.Fatalf("after step %d, HealthRecords =\n%+v\nwant (package health's rules)\n%+v", i, got, want)
		}
	}
}

// sameRecords compares records as sets, times with Equal.
func sameRecords(a, b []gluenet.HealthRecord) bool {
	if len(a) != len(b) {
		return false
	}
	key := func(r gluenet.HealthRecord) string { return string(r.Scope) + "/" + r.Key }
	by := map[string]gluenet.HealthRecord{}
	for _, r := range b {
		by[key(r)] = r
	}
	for _, r := range a {
		o, ok := by[key(r)]
		if !ok || r.ConsecutiveFailures != o.ConsecutiveFailures || r.Ejections != o.Ejections || r.LastClass != o.LastClass ||
			!r.EjectedUntil.Equal(o.EjectedUntil) || !r.LastFailure.Equal(o.LastFailure) || !r.LastSuccess.Equal(o.LastSuccess) {
			return false
		}
	}
	return true
}
