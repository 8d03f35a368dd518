package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

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
