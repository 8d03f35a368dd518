package store

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
)

// OpenAsync starts open in the background and returns at once an Async
// whose health, reservation and subnet cache methods wait for it to
// finish, then act on the store it opened, or return the error it failed
// with: what `gluenet plan` uses while its first AWS calls are in flight. Opening a state store is start-up work
// (a new SQLite file gets its schema, Postgres a connection) that a command
// can overlap with its first network round trips, which do not need it:
// gluenet's plan and run need the store only once the job has been read.
// Close waits for open too, and closes what it opened; Wait returns the
// open's error; Store returns the opened store, for everything else (a
// run's journal and leases need the store before anything else, so there is
// nothing to overlap).
func OpenAsync(open func() (Store, error)) *Async {
	a := &Async{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.st, a.err = open()
	}()
	return a
}

// Async is a Store being opened in the background (OpenAsync).
type Async struct {
	done  chan struct{}
	st    Store
	err   error
	fresh bool
}

// Fresh tells s that the store did not exist when its open started (a
// SQLite file that was not there yet), so its subnet cache was empty: until
// the open ends, CachedSubnet and CachedSubnets answer "nothing cached" at
// once rather than wait for the new file's schema to be written. That
// answer is what a read at the moment of the check would have given, and a
// cache miss is always safe (discovery asks AWS). Everything else still
// waits for the open. Call it before handing s out; it returns s.
func (s *Async) Fresh() *Async {
	s.fresh = true
	return s
}

// emptyCache reports whether a subnet cache read may answer "nothing
// cached" without waiting: a fresh store still being opened.
func (s *Async) emptyCache() bool {
	if !s.fresh {
		return false
	}
	select {
	case <-s.done:
		return false // opened: read what is there (another process may have written)
	default:
		return true
	}
}

var (
	_ HealthStore      = (*Async)(nil)
	_ ReservationStore = (*Async)(nil)
	_ SubnetCacheStore = (*Async)(nil)
)

func (s *Async) wait() (Store, error) {
	<-s.done
	return s.st, s.err
}

// Wait waits for the open to end and returns its error.
func (s *Async) Wait() error {
	_, err := s.wait()
	return err
}

// Store waits for the open to end and returns the opened store, or the
// open's error.
func (s *Async) Store() (Store, error) { return s.wait() }

// Close waits for the open to end and closes what it opened.
func (s *Async) Close() error {
	st, err := s.wait()
	if err != nil {
		return nil // nothing was opened
	}
	return st.Close()
}

// The methods below wait for the open, then call the opened store.

func (s *Async) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.Health(ctx)
}

func (s *Async) UpdateHealth(ctx context.Context, fn func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []HealthEvent, error)) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.UpdateHealth(ctx, fn)
}

func (s *Async) ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.ResetHealth(ctx, scope, key)
}

func (s *Async) HealthEvents(ctx context.Context, limit int) ([]HealthEvent, error) {
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.HealthEvents(ctx, limit)
}

func (s *Async) AddReservation(ctx context.Context, r gluenet.Reservation) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.AddReservation(ctx, r)
}

func (s *Async) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.Reservations(ctx, now)
}

func (s *Async) ReleaseReservation(ctx context.Context, id string) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.ReleaseReservation(ctx, id)
}

func (s *Async) CachedSubnet(ctx context.Context, connection string, now time.Time) (subnetID string, ok bool, err error) {
	if s.emptyCache() {
		return "", false, nil
	}
	st, err := s.wait()
	if err != nil {
		return "", false, err
	}
	return st.CachedSubnet(ctx, connection, now)
}

func (s *Async) PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.PutCachedSubnet(ctx, connection, subnetID, expires)
}

func (s *Async) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	if s.emptyCache() {
		return map[string]string{}, nil
	}
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.CachedSubnets(ctx, connections, now)
}

func (s *Async) PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.PutCachedSubnets(ctx, subnets, expires)
}

func (s *Async) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.InvalidateCachedSubnet(ctx, connection)
}
