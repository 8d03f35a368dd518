package store

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
)

// OpenAsync starts open in the background and returns at once a Store whose
// methods wait for it to finish, then act on the store it opened, or
// return the error it failed with. Opening a state store is start-up work
// (a new SQLite file gets its schema, Postgres a connection) that a command
// can overlap with its first network round trips, which do not need it:
// gluenet's plan and run need the store only once the job has been read.
// Close waits for open too, and closes what it opened; Wait returns the
// open's error.
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
	done chan struct{}
	st   Store
	err  error
}

var _ Store = (*Async)(nil)

func (s *Async) wait() (Store, error) {
	<-s.done
	return s.st, s.err
}

// Wait waits for the open to end and returns its error.
func (s *Async) Wait() error {
	_, err := s.wait()
	return err
}

// Close implements Store.
func (s *Async) Close() error {
	st, err := s.wait()
	if err != nil {
		return nil // nothing was opened
	}
	return st.Close()
}

// The methods below implement Store: each waits for the open, then calls
// the opened store.

func (s *Async) BeginRun(ctx context.Context, r Run) (Run, bool, error) {
	st, err := s.wait()
	if err != nil {
		return Run{}, false, err
	}
	return st.BeginRun(ctx, r)
}

func (s *Async) GetRun(ctx context.Context, key string) (Run, error) {
	st, err := s.wait()
	if err != nil {
		return Run{}, err
	}
	return st.GetRun(ctx, key)
}

func (s *Async) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.ListRuns(ctx, f)
}

func (s *Async) SetRunStatus(ctx context.Context, key string, status RunStatus, at time.Time) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.SetRunStatus(ctx, key, status, at)
}

func (s *Async) FinishRun(ctx context.Context, key string, status RunStatus, outcome string, at time.Time) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.FinishRun(ctx, key, status, outcome, at)
}

func (s *Async) PutAttempt(ctx context.Context, a Attempt) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.PutAttempt(ctx, a)
}

func (s *Async) Attempts(ctx context.Context, key string) ([]Attempt, error) {
	st, err := s.wait()
	if err != nil {
		return nil, err
	}
	return st.Attempts(ctx, key)
}

func (s *Async) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.RecordRunID(ctx, key, number, runID, at)
}

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

func (s *Async) PruneReservations(ctx context.Context, now time.Time) (int, error) {
	st, err := s.wait()
	if err != nil {
		return 0, err
	}
	return st.PruneReservations(ctx, now)
}

func (s *Async) CachedSubnet(ctx context.Context, connection string, now time.Time) (subnetID string, ok bool, err error) {
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

func (s *Async) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (Lease, bool, error) {
	st, err := s.wait()
	if err != nil {
		return Lease{}, false, err
	}
	return st.AcquireLease(ctx, name, holder, ttl, now)
}

func (s *Async) RenewLease(ctx context.Context, l Lease, ttl time.Duration, now time.Time) (Lease, error) {
	st, err := s.wait()
	if err != nil {
		return Lease{}, err
	}
	return st.RenewLease(ctx, l, ttl, now)
}

func (s *Async) ReleaseLease(ctx context.Context, l Lease) error {
	st, err := s.wait()
	if err != nil {
		return err
	}
	return st.ReleaseLease(ctx, l)
}
