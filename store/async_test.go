package store_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/sqlite"
)

// TestOpenAsyncWaitsAndReportsTheOpenError: a method called before the
// open ends waits for it; an open that failed makes every method return
// its error, and Close close nothing.
func TestOpenAsyncWaitsAndReportsTheOpenError(t *testing.T) {
	release := make(chan struct{})
	boom := errors.New("open the state file: disk on fire")
	s := store.OpenAsync(func() (store.Store, error) {
		<-release
		return nil, boom
	})
	got := make(chan error, 1)
	go func() {
		_, err := s.Health(t.Context())
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Health returned %v before the open ended", err)
	case <-time.After(10 * time.Millisecond): // only a chance to misbehave, not a timed assertion
	}
	close(release)
	if err := <-got; !errors.Is(err, boom) {
		t.Errorf("Health: %v, want the open error", err)
	}
	if _, _, err := s.CachedSubnet(t.Context(), "c", time.Now()); !errors.Is(err, boom) {
		t.Errorf("CachedSubnet: %v, want the open error", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after a failed open: %v, want nil (nothing to close)", err)
	}
}

// TestFreshStoreAnswersAnEmptyCacheWithoutWaiting: a store known not to
// exist yet answers subnet-cache reads with "nothing cached" while it is
// being opened (a read that waited would hang this test, since the open
// is held back), and reads what is in the file once it is open, including
// what another process wrote meanwhile.
func TestFreshStoreAnswersAnEmptyCacheWithoutWaiting(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "state.db")
	now := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	release := make(chan struct{})
	s := store.OpenAsync(func() (store.Store, error) {
		<-release
		return sqlite.Open(ctx, path)
	}).Fresh()

	got, err := s.CachedSubnets(ctx, []string{"conn-a"}, now)
	if err != nil || len(got) != 0 {
		t.Fatalf("CachedSubnets while a fresh store opens: %v, %v; want empty, nil", got, err)
	}
	if _, ok, err := s.CachedSubnet(ctx, "conn-a", now); ok || err != nil {
		t.Fatalf("CachedSubnet while a fresh store opens: %v, %v; want a miss", ok, err)
	}

	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.PutCachedSubnets(ctx, map[string]string{"conn-a": "subnet-1"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err = s.CachedSubnets(ctx, []string{"conn-a"}, now)
	if err != nil || got["conn-a"] != "subnet-1" {
		t.Errorf("CachedSubnets once open: %v, %v; want conn-a -> subnet-1", got, err)
	}
}
