package sqlite

import (
	"context"
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

// BenchmarkOpen measures what a gluenet process pays to open its state:
// Open and Close of a file that exists and is up to date ("existing"), and
// of a new file ("new": the schema is created).
func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	b.Run("existing", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "state.db")
		s, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		for b.Loop() {
			s, err := Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("new", func(b *testing.B) {
		dir := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			s, err := Open(ctx, filepath.Join(dir, "state"+time.Now().Format("150405.000000000")+".db"))
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}

// BenchmarkPutCachedSubnets compares writing a decision's subnet cache
// entry by entry (one transaction, one fsync each) with one batch.
func BenchmarkPutCachedSubnets(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	entries := map[string]string{}
	for i := range 50 {
		entries["conn-"+string(rune('A'+i%26))+string(rune('a'+i/26))] = "subnet-x"
	}
	expires := time.Now().Add(time.Hour)
	b.Run("one-by-one-50", func(b *testing.B) {
		for b.Loop() {
			for c, id := range entries {
				if err := s.PutCachedSubnet(ctx, c, id, expires); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("batch-50", func(b *testing.B) {
		for b.Loop() {
			if err := s.PutCachedSubnets(ctx, entries, expires); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCacheWriteRestoresSynchronous: PutCachedSubnets commits with
// synchronous=NORMAL on its connection, and the connection must go back to
// the pool with FULL, which the run journal relies on.
func TestCacheWriteRestoresSynchronous(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "state.db"))
	ctx := t.Context()
	s.db.SetMaxOpenConns(1) // the next query gets the connection the write used
	if err := s.PutCachedSubnets(ctx, map[string]string{"c": "subnet-1"}, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var got int
	if err := s.db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != 2 {
		t.Errorf("PRAGMA synchronous = %d after a cache write, want 2 (FULL)", got)
	}
}
