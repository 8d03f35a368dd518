package store

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
)

func TestRunStatus(t *testing.T) {
	tests := []struct {
		s               RunStatus
		valid, terminal bool
	}{
		{RunPending, true, false},
		{RunRunning, true, false},
		{RunSucceeded, true, true},
		{RunFailed, true, true},
		{RunInterrupted, true, true},
		{"", false, false},
		{"done", false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			if got := tt.s.Valid(); got != tt.valid {
				t.Errorf("Valid() = %v, want %v", got, tt.valid)
			}
			if got := tt.s.Terminal(); got != tt.terminal {
				t.Errorf("Terminal() = %v, want %v", got, tt.terminal)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sub := func(key string) gluenet.HealthRecord {
		return gluenet.HealthRecord{Scope: gluenet.ScopeSubnet, Key: key}
	}
	tests := []struct {
		name string
		err  error
		want string // "" when valid; else a piece of the message
	}{
		{"run ok", Run{Key: "k", Job: "j", CreatedAt: now, Inputs: json.RawMessage(`{}`)}.Validate(), ""},
		{"run: every problem is named", Run{Status: "x", Inputs: json.RawMessage(`{`)}.Validate(), "run key is empty"},
		{"run: bad inputs", Run{Key: "k", Job: "j", CreatedAt: now, Inputs: json.RawMessage(`{`)}.Validate(), "inputs are not valid JSON"},
		{"attempt ok", Attempt{RunKey: "k", Number: 1, States: []StateChange{{State: "RUNNING", At: now}}}.Validate(), ""},
		{"attempt number", Attempt{RunKey: "k"}.Validate(), "at least 1"},
		{"event ok", HealthEvent{At: now, Scope: gluenet.ScopeAZ, Key: "a", Kind: HealthEjected}.Validate(), ""},
		{"event scope", HealthEvent{At: now, Scope: "zone", Key: "a", Kind: HealthEjected}.Validate(), "unknown health scope"},
		{"health ok", ValidateHealth([]gluenet.HealthRecord{sub("a"), sub("b"), {Scope: gluenet.ScopeAZ, Key: "a"}}), ""},
		{"health duplicate", ValidateHealth([]gluenet.HealthRecord{sub("a"), sub("a")}), "appears twice"},
		{"health negative", ValidateHealth([]gluenet.HealthRecord{{Scope: gluenet.ScopeAZ, Key: "a", Ejections: -1}}), "negative"},
		{"scope empty", ValidateScope(""), ""},
		{"scope unknown", ValidateScope("region"), "unknown health scope"},
		{"reservation ok", ValidateReservation(gluenet.Reservation{ID: "r", SubnetID: "s", ExpiresAt: now}), ""},
		{"reservation expiry", ValidateReservation(gluenet.Reservation{ID: "r", SubnetID: "s"}), "expiry is zero"},
		{"lease ok", ValidateLease("n", "h", time.Second, now), ""},
		{"lease ttl", ValidateLease("n", "h", 0, now), "TTL must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch {
			case tt.want == "" && tt.err != nil:
				t.Errorf("err = %v, want nil", tt.err)
			case tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)):
				t.Errorf("err = %v, want one with %q", tt.err, tt.want)
			}
		})
	}
}

func TestResetEvents(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []gluenet.HealthRecord{
		{Scope: gluenet.ScopeSubnet, Key: "s1", ConsecutiveFailures: 3, Ejections: 1, EjectedUntil: now.Add(time.Minute)},
		{Scope: gluenet.ScopeAZ, Key: "az1", ConsecutiveFailures: 1, EjectedUntil: now.Add(-time.Minute)},
	}
	got := ResetEvents(recs, now)
	if len(got) != 2 {
		t.Fatalf("ResetEvents = %+v, want 2 events", got)
	}
	for i, e := range got {
		if e.Kind != HealthReset || e.Scope != recs[i].Scope || e.Key != recs[i].Key || !e.At.Equal(now) {
			t.Errorf("event %d = %+v", i, e)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("event %d is invalid: %v", i, err)
		}
	}
	if !strings.Contains(got[0].Detail, "was ejected until") {
		t.Errorf("event for an ejected subnet = %q, want it to say until when", got[0].Detail)
	}
	if strings.Contains(got[1].Detail, "was ejected") {
		t.Errorf("event for an AZ whose ejection ended = %q, should not call it ejected", got[1].Detail)
	}
}
