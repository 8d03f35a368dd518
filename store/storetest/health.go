package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// increment is an UpdateHealth func that counts one placement failure
// against subnet and records the event, as the health package would.
func increment(subnet string, now time.Time) func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
	return func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		found := false
		for i := range recs {
			if recs[i].Scope == gluenet.ScopeSubnet && recs[i].Key == subnet {
				recs[i].ConsecutiveFailures++
				recs[i].LastFailure = now
				found = true
			}
		}
		if !found {
			recs = append(recs, gluenet.HealthRecord{Scope: gluenet.ScopeSubnet, Key: subnet, ConsecutiveFailures: 1, LastFailure: now})
		}
		ev := store.HealthEvent{At: now, Scope: gluenet.ScopeSubnet, Key: subnet, Kind: store.HealthFailure, Class: "placement"}
		return recs, []store.HealthEvent{ev}, nil
	}
}

func healthOf(t *testing.T, s store.Store) []gluenet.HealthRecord {
	t.Helper()
	recs, err := s.Health(ctxOf(t))
	if err != nil {
		t.Fatalf("Health: %v", err)
	}
	return recs
}

func testUpdateHealth(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if recs := healthOf(t, s); len(recs) != 0 {
		t.Fatalf("Health of a new store = %+v, want none", recs)
	}
	written := []gluenet.HealthRecord{
		{Scope: gluenet.ScopeSubnet, Key: "subnet-b", ConsecutiveFailures: 3, Ejections: 2,
			EjectedUntil: t0.Add(10 * time.Minute), LastFailure: t0, LastSuccess: t0.Add(-time.Hour), LastClass: "placement"},
		{Scope: gluenet.ScopeAZ, Key: "us-east-1a", ConsecutiveFailures: 1, LastFailure: t0},
		{Scope: gluenet.ScopeSubnet, Key: "subnet-a", LastSuccess: t0},
	}
	events := []store.HealthEvent{
		{At: t0, Scope: gluenet.ScopeSubnet, Key: "subnet-b", Kind: store.HealthEjected, Class: "placement", Detail: "3 consecutive failures"},
	}
	var seen []gluenet.HealthRecord
	err := s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		seen = recs
		return written, events, nil
	})
	if err != nil {
		t.Fatalf("UpdateHealth: %v", err)
	}
	if len(seen) != 0 {
		t.Errorf("fn saw %+v on a new store, want nothing", seen)
	}
	// Health orders by scope, then key.
	want := []gluenet.HealthRecord{written[1], written[2], written[0]}
	checkHealth(t, healthOf(t, s), want)

	// The next update sees what the last one wrote; a record fn leaves
	// out is deleted.
	err = s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		seen = recs
		return recs[1:], nil, nil
	})
	if err != nil {
		t.Fatalf("UpdateHealth: %v", err)
	}
	checkHealth(t, seen, want)
	checkHealth(t, healthOf(t, s), want[1:])

	got, err := s.HealthEvents(ctx, 0)
	if err != nil {
		t.Fatalf("HealthEvents: %v", err)
	}
	if len(got) != 1 || got[0].Kind != store.HealthEjected || got[0].Key != "subnet-b" || got[0].Detail != events[0].Detail ||
		got[0].Class != "placement" || got[0].Scope != gluenet.ScopeSubnet {
		t.Errorf("HealthEvents = %+v, want %+v", got, events)
	} else {
		checkTime(t, "event time", got[0].At, t0)
	}
}

func testUpdateHealthRollsBack(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if err := s.UpdateHealth(ctx, increment("subnet-a", t0)); err != nil {
		t.Fatalf("UpdateHealth: %v", err)
	}
	before := healthOf(t, s)

	errBoom := errors.New("boom")
	tests := []struct {
		name string
		fn   func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)
		is   error
	}{
		{"fn fails", func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return nil, []store.HealthEvent{{At: t0, Scope: gluenet.ScopeAZ, Key: "x", Kind: store.HealthFailure}}, errBoom
		}, errBoom},
		{"duplicate record", func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			r := gluenet.HealthRecord{Scope: gluenet.ScopeAZ, Key: "us-east-1a"}
			return []gluenet.HealthRecord{r, r}, nil, nil
		}, nil},
		{"unknown scope", func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return []gluenet.HealthRecord{{Scope: "region", Key: "us-east-1"}}, nil, nil
		}, nil},
		{"empty key", func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return []gluenet.HealthRecord{{Scope: gluenet.ScopeSubnet}}, nil, nil
		}, nil},
		{"event without a time", func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return nil, []store.HealthEvent{{Scope: gluenet.ScopeAZ, Key: "x", Kind: store.HealthFailure}}, nil
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.UpdateHealth(ctx, tt.fn)
			if err == nil {
				t.Fatal("UpdateHealth succeeded, want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("UpdateHealth: err = %v, want it to wrap %v", err, tt.is)
			}
			checkHealth(t, healthOf(t, s), before)
			events, err := s.HealthEvents(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 {
				t.Errorf("a refused update left events behind: %+v", events)
			}
		})
	}
}

func testUpdateHealthConcurrent(t *testing.T, s store.Store) {
	const n = 10
	ctx := ctxOf(t)
	noErrors(t, together(n, func(i int) error {
		return s.UpdateHealth(ctx, increment("subnet-a", t0.Add(time.Duration(i)*time.Second)))
	}))
	recs := healthOf(t, s)
	if len(recs) != 1 || recs[0].ConsecutiveFailures != n {
		t.Fatalf("after %d concurrent increments health = %+v, want one record with %d failures (an update was lost)", n, recs, n)
	}
	events, err := s.HealthEvents(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d events, want %d", len(events), n)
	}
}

func testResetHealth(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	seed := []gluenet.HealthRecord{
		{Scope: gluenet.ScopeAZ, Key: "us-east-1a", ConsecutiveFailures: 2, Ejections: 1, EjectedUntil: t0.Add(time.Hour)},
		{Scope: gluenet.ScopeAZ, Key: "us-east-1b", ConsecutiveFailures: 1},
		{Scope: gluenet.ScopeSubnet, Key: "subnet-a", ConsecutiveFailures: 5, Ejections: 3, EjectedUntil: t0.Add(time.Hour)},
		{Scope: gluenet.ScopeSubnet, Key: "subnet-b", ConsecutiveFailures: 1},
	}
	write := func(t *testing.T) {
		t.Helper()
		if err := s.UpdateHealth(ctx, func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return seed, nil, nil
		}); err != nil {
			t.Fatalf("UpdateHealth: %v", err)
		}
	}
	tests := []struct {
		name  string
		scope gluenet.Scope
		key   string
		left  []gluenet.HealthRecord
	}{
		{"one subnet", gluenet.ScopeSubnet, "subnet-a", []gluenet.HealthRecord{seed[0], seed[1], seed[3]}},
		{"one AZ", gluenet.ScopeAZ, "us-east-1a", []gluenet.HealthRecord{seed[1], seed[2], seed[3]}},
		{"every subnet", gluenet.ScopeSubnet, "", seed[:2]},
		{"every AZ", gluenet.ScopeAZ, "", seed[2:]},
		{"everything", "", "", nil},
		{"unknown key", gluenet.ScopeSubnet, "subnet-z", seed},
	}
	// Not parallel: the cases share the store.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t)
			before, err := s.HealthEvents(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.ResetHealth(ctx, tt.scope, tt.key); err != nil {
				t.Fatalf("ResetHealth(%q, %q): %v", tt.scope, tt.key, err)
			}
			checkHealth(t, healthOf(t, s), tt.left)
			after, err := s.HealthEvents(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			// One reset event per record forgotten.
			removed := len(seed) - len(tt.left)
			if got := len(after) - len(before); got != removed {
				t.Fatalf("ResetHealth appended %d events, want %d", got, removed)
			}
			for _, e := range after[:removed] {
				if e.Kind != store.HealthReset || (tt.scope != "" && e.Scope != tt.scope) || (tt.key != "" && e.Key != tt.key) || e.At.IsZero() {
					t.Errorf("reset event = %+v", e)
				}
			}
		})
	}
	for _, bad := range []struct {
		scope gluenet.Scope
		key   string
	}{{"region", ""}, {"", "subnet-a"}} {
		if err := s.ResetHealth(ctx, bad.scope, bad.key); err == nil {
			t.Errorf("ResetHealth(%q, %q) succeeded, want an error", bad.scope, bad.key)
		}
	}
}

func testHealthEvents(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	if got, err := s.HealthEvents(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("HealthEvents of a new store = %v, %v; want none", got, err)
	}
	// Five events in two updates; e2 and e3 share a time, so the order of
	// writing breaks the tie.
	var all []store.HealthEvent
	for i, m := range []int{0, 1, 2, 2, 4} {
		all = append(all, store.HealthEvent{
			At: t0.Add(time.Duration(m) * time.Minute), Scope: gluenet.ScopeSubnet,
			Key: fmt.Sprintf("e%d", i), Kind: store.HealthFailure,
		})
	}
	for _, batch := range [][]store.HealthEvent{all[:3], all[3:]} {
		if err := s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return recs, batch, nil
		}); err != nil {
			t.Fatalf("UpdateHealth: %v", err)
		}
	}
	tests := []struct {
		limit int
		want  string
	}{
		{0, "[e4 e3 e2 e1 e0]"},
		{-1, "[e4 e3 e2 e1 e0]"},
		{2, "[e4 e3]"},
		{10, "[e4 e3 e2 e1 e0]"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("limit ", tt.limit), func(t *testing.T) {
			got, err := s.HealthEvents(ctx, tt.limit)
			if err != nil {
				t.Fatalf("HealthEvents: %v", err)
			}
			var keys []string
			for _, e := range got {
				keys = append(keys, e.Key)
			}
			if fmt.Sprint(keys) != tt.want {
				t.Errorf("HealthEvents(%d) = %v, want %v", tt.limit, keys, tt.want)
			}
		})
	}
}
