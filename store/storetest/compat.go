package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// CheckCompatRecords checks that s holds the records an earlier version's
// store wrote (a driver's fixture, written by cmd/compatwrite of that
// version): one of each kind, as that version wrote them.
func CheckCompatRecords(t *testing.T, s store.Store) {
	t.Helper()
	ctx := ctxOf(t)
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 123456000, time.UTC)
	r, err := s.GetRun(ctx, "compat-1")
	if err != nil {
		t.Fatal(err)
	}
	checkRun(t, r, store.Run{Key: "compat-1", Job: "job", Status: store.RunSucceeded, Inputs: json.RawMessage(`{"job":"job"}`),
		CreatedAt: t0, UpdatedAt: t0.Add(time.Minute), FinishedAt: t0.Add(time.Minute), Outcome: "succeeded"})
	as, err := s.Attempts(ctx, "compat-1")
	if err != nil || len(as) != 1 {
		t.Fatalf("attempts %+v, %v; want 1", as, err)
	}
	checkAttempt(t, as[0], store.Attempt{RunKey: "compat-1", Number: 1, Plan: json.RawMessage(`{"order":["a","b"]}`),
		OrderApplied: []string{"conn-a", "conn-b"}, GlueRunID: "jr_1", Phase: "started", StartedAt: t0.Add(time.Second),
		EndedAt: t0.Add(time.Minute), Subnet: "subnet-a", AZ: "us-east-1a",
		States: []store.StateChange{{State: "RUNNING", At: t0.Add(2 * time.Second)}, {State: "SUCCEEDED", At: t0.Add(time.Minute)}}})
	rs, err := s.RunState(ctx, "compat-1")
	if err != nil || rs.Revision != 1 || string(rs.Data) != `{"v":1}` || !rs.UpdatedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("run state %+v, %v", rs, err)
	}
	recs, err := s.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkHealth(t, recs, []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet, Key: "subnet-a", ConsecutiveFailures: 2, Ejections: 1,
		EjectedUntil: t0.Add(time.Hour), LastFailure: t0, LastClass: "placement"}})
	events, err := s.HealthEvents(ctx, 0)
	if want := []store.HealthEvent{{At: t0, Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthEjected, Class: "placement"}}; err != nil || !reflect.DeepEqual(events, want) {
		t.Errorf("health events %+v, %v; want %+v", events, err, want)
	}
	res, err := s.Reservations(ctx, t0)
	if want := []gluenet.Reservation{{ID: "r1", SubnetID: "subnet-a", AZ: "us-east-1a", IPs: 3, Job: "job", BaselineFree: 10,
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}}; err != nil || !reflect.DeepEqual(res, want) {
		t.Errorf("reservations %+v, %v; want %+v", res, err, want)
	}
	if sub, ok, err := s.CachedSubnet(ctx, "conn-a", t0); err != nil || !ok || sub != "subnet-a" {
		t.Errorf("cached subnet %q, %v, %v", sub, ok, err)
	}
	if l, ok, err := s.AcquireLease(ctx, "job", "holder-2", time.Minute, t0); err != nil || ok || l.Holder != "holder-1" || l.Token != 1 {
		t.Errorf("lease %+v, %v, %v; want held by holder-1, token 1", l, ok, err)
	}
	samples, err := s.SubnetSamples(ctx, time.Time{})
	if want := []store.SubnetSample{{At: t0, SubnetID: "subnet-a", AZ: "us-east-1a", FreeIPs: 10, ReservedIPs: 3}}; err != nil || !reflect.DeepEqual(samples, want) {
		t.Errorf("samples %+v, %v; want %+v", samples, err, want)
	}
}
