package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gluenet/gluenet/store"
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
