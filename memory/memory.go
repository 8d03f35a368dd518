// Package memory is what gluenet remembers between runs, processes and
// machines, assembled from the state store (durable, shared) and the pure
// rules of health memory and reservations. It satisfies executor.Memory.
package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/store"
)

// HealthRecords is the health memory Memory keeps in the state store:
// the records, and an update serialized against every other process.
type HealthRecords interface {
	Health(ctx context.Context) ([]gluenet.HealthRecord, error)
	UpdateHealth(ctx context.Context, fn func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error)) error
}

// ReservationRecords are the reservations Memory keeps in the state store.
type ReservationRecords interface {
	AddReservation(ctx context.Context, r gluenet.Reservation) error
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	ReleaseReservation(ctx context.Context, id string) error
}

// Backend is what Memory needs of the state store: health memory and
// reservations, nothing else.
type Backend interface {
	HealthRecords
	ReservationRecords
}

// Memory keeps health and reservations in a store.
type Memory struct {
	Store  Backend
	Health health.Config
}

// New returns a Memory on st with the health rules cfg.
func New(st Backend, cfg health.Config) *Memory {
	return &Memory{Store: st, Health: cfg}
}

// HealthRecords returns the stored health records.
func (m *Memory) HealthRecords(ctx context.Context) ([]gluenet.HealthRecord, error) {
	return m.Store.Health(ctx)
}

// Observe updates health memory with the outcome of a run placed in subnet
// (in az), in one transaction shared with every other process.
func (m *Memory) Observe(ctx context.Context, now time.Time, subnet, az string, v classify.Verdict) error {
	return m.Store.UpdateHealth(ctx, func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []store.HealthEvent, error) {
		out, evs := health.Observe(recs, now, subnet, az, v, m.Health)
		conv := make([]store.HealthEvent, len(evs))
		for i, e := range evs {
			conv[i] = store.HealthEvent{At: e.At, Scope: e.Scope, Key: e.Key, Kind: store.HealthEventKind(e.Kind), Class: e.Class, Detail: e.Detail}
		}
		return out, conv, nil
	})
}

// Reservations returns the reservations alive at now.
func (m *Memory) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	return m.Store.Reservations(ctx, now)
}

// Reserve records a reservation.
func (m *Memory) Reserve(ctx context.Context, r gluenet.Reservation) error {
	return m.Store.AddReservation(ctx, r)
}

// Release drops settled reservations.
func (m *Memory) Release(ctx context.Context, ids []string) error {
	for _, id := range ids {
		if err := m.Store.ReleaseReservation(ctx, id); err != nil {
			return fmt.Errorf("release reservation %s: %w", id, err)
		}
	}
	return nil
}
