package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/store"
)

// BenchmarkBeginRun is the cost of recording a new run, with pruning on
// write off and at its defaults (one claim per hour of the runs' own time:
// the runs here are a second apart, so one write in 3,600 claims).
func BenchmarkBeginRun(b *testing.B) {
	for _, tt := range []struct {
		name string
		r    store.Retention
	}{{"retention-off", store.Retention{}}, {"retention-default", store.DefaultRetention()}} {
		b.Run(tt.name, func(b *testing.B) {
			s, err := Open(b.Context(), filepath.Join(b.TempDir(), "state.db"), WithRetention(tt.r))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			i := 0
			for b.Loop() {
				at := t0.Add(time.Duration(i) * time.Second)
				if _, _, err := s.BeginRun(b.Context(), store.Run{Key: fmt.Sprint("k", i), Job: "j", CreatedAt: at}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkPruneBatch is what the one write that prunes pays at most:
// deleting store.PruneBatch finished runs of two attempts each (with their
// states), store.PruneBatch health events, in one transaction.
func BenchmarkPruneBatch(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "state.db"), WithRetention(store.Retention{}))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fill := func(round int) {
		for i := range store.PruneBatch {
			key := fmt.Sprintf("r%d-%d", round, i)
			if _, _, err := s.BeginRun(ctx, store.Run{Key: key, Job: "j", CreatedAt: t0}); err != nil {
				b.Fatal(err)
			}
			for n := 1; n <= 2; n++ {
				if err := s.PutAttempt(ctx, store.Attempt{RunKey: key, Number: n, Phase: store.PhaseEnded,
					States: []store.StateChange{{State: "RUNNING", At: t0}, {State: "SUCCEEDED", At: t0.Add(time.Minute)}}}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.FinishRun(ctx, key, store.RunSucceeded, "ok", t0.Add(time.Minute)); err != nil {
				b.Fatal(err)
			}
		}
		events := make([]store.HealthEvent, store.PruneBatch)
		for i := range events {
			events[i] = store.HealthEvent{At: t0, Scope: gluenet.ScopeSubnet, Key: "subnet-a", Kind: store.HealthFailure}
		}
		if err := s.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
			return recs, events, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	o := store.Retention{Runs: time.Hour, HealthEvents: time.Hour}.Options(t0.Add(48 * time.Hour))
	o.Limit = store.PruneBatch
	round := 0
	for b.Loop() {
		b.StopTimer()
		fill(round)
		round++
		b.StartTimer()
		p, err := s.Prune(ctx, o)
		if err != nil {
			b.Fatal(err)
		}
		if p.Runs != store.PruneBatch || p.HealthEvents != store.PruneBatch {
			b.Fatalf("pruned %+v", p)
		}
	}
}
