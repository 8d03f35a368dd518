package store

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
)

// The Store methods of Guarded: each runs its store's under the guard.

// Close closes the guarded store.
func (g *Guarded) Close() error { return g.s.Close() }

// Unwrap returns the guarded store.
func (g *Guarded) Unwrap() Store { return g.s }

func (g *Guarded) BeginRun(ctx context.Context, r Run) (Run, bool, error) {
	return do2(ctx, g, "begin run", func(ctx context.Context) (Run, bool, error) { return g.s.BeginRun(ctx, r) })
}

func (g *Guarded) GetRun(ctx context.Context, key string) (Run, error) {
	return do(ctx, g, "get run", func(ctx context.Context) (Run, error) { return g.s.GetRun(ctx, key) })
}

func (g *Guarded) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	return do(ctx, g, "list runs", func(ctx context.Context) ([]Run, error) { return g.s.ListRuns(ctx, f) })
}

func (g *Guarded) SetRunStatus(ctx context.Context, key string, status RunStatus, at time.Time) error {
	return do0(ctx, g, "set run status", func(ctx context.Context) error { return g.s.SetRunStatus(ctx, key, status, at) })
}

func (g *Guarded) FinishRun(ctx context.Context, key string, status RunStatus, outcome string, at time.Time) error {
	return do0(ctx, g, "finish run", func(ctx context.Context) error { return g.s.FinishRun(ctx, key, status, outcome, at) })
}

func (g *Guarded) PutAttempt(ctx context.Context, a Attempt) error {
	return do0(ctx, g, "put attempt", func(ctx context.Context) error { return g.s.PutAttempt(ctx, a) })
}

func (g *Guarded) Attempts(ctx context.Context, key string) ([]Attempt, error) {
	return do(ctx, g, "attempts", func(ctx context.Context) ([]Attempt, error) { return g.s.Attempts(ctx, key) })
}

func (g *Guarded) RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error {
	return do0(ctx, g, "record run id", func(ctx context.Context) error { return g.s.RecordRunID(ctx, key, number, runID, at) })
}

func (g *Guarded) RunState(ctx context.Context, key string) (RunState, error) {
	return do(ctx, g, "run state", func(ctx context.Context) (RunState, error) { return g.s.RunState(ctx, key) })
}

func (g *Guarded) PutRunState(ctx context.Context, rs RunState) (int64, error) {
	return do(ctx, g, "put run state", func(ctx context.Context) (int64, error) { return g.s.PutRunState(ctx, rs) })
}

func (g *Guarded) Health(ctx context.Context) ([]gluenet.HealthRecord, error) {
	return do(ctx, g, "health", g.s.Health)
}

func (g *Guarded) UpdateHealth(ctx context.Context, fn func([]gluenet.HealthRecord) ([]gluenet.HealthRecord, []HealthEvent, error)) error {
	return do0(ctx, g, "update health", func(ctx context.Context) error { return g.s.UpdateHealth(ctx, fn) })
}

func (g *Guarded) ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error {
	return do0(ctx, g, "reset health", func(ctx context.Context) error { return g.s.ResetHealth(ctx, scope, key) })
}

func (g *Guarded) HealthEvents(ctx context.Context, limit int) ([]HealthEvent, error) {
	return do(ctx, g, "health events", func(ctx context.Context) ([]HealthEvent, error) { return g.s.HealthEvents(ctx, limit) })
}

func (g *Guarded) AddReservation(ctx context.Context, r gluenet.Reservation) error {
	return do0(ctx, g, "add reservation", func(ctx context.Context) error { return g.s.AddReservation(ctx, r) })
}

func (g *Guarded) Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error) {
	return do(ctx, g, "reservations", func(ctx context.Context) ([]gluenet.Reservation, error) { return g.s.Reservations(ctx, now) })
}

func (g *Guarded) ReleaseReservation(ctx context.Context, id string) error {
	return do0(ctx, g, "release reservation", func(ctx context.Context) error { return g.s.ReleaseReservation(ctx, id) })
}

func (g *Guarded) CachedSubnet(ctx context.Context, connection string, now time.Time) (string, bool, error) {
	return do2(ctx, g, "cached subnet", func(ctx context.Context) (string, bool, error) { return g.s.CachedSubnet(ctx, connection, now) })
}

func (g *Guarded) PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error {
	return do0(ctx, g, "cache subnet", func(ctx context.Context) error { return g.s.PutCachedSubnet(ctx, connection, subnetID, expires) })
}

func (g *Guarded) CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error) {
	return do(ctx, g, "cached subnets", func(ctx context.Context) (map[string]string, error) { return g.s.CachedSubnets(ctx, connections, now) })
}

func (g *Guarded) PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error {
	return do0(ctx, g, "cache subnets", func(ctx context.Context) error { return g.s.PutCachedSubnets(ctx, subnets, expires) })
}

func (g *Guarded) InvalidateCachedSubnet(ctx context.Context, connection string) error {
	return do0(ctx, g, "invalidate cached subnet", func(ctx context.Context) error { return g.s.InvalidateCachedSubnet(ctx, connection) })
}

func (g *Guarded) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (Lease, bool, error) {
	return do2(ctx, g, "acquire lease", func(ctx context.Context) (Lease, bool, error) { return g.s.AcquireLease(ctx, name, holder, ttl, now) })
}

func (g *Guarded) RenewLease(ctx context.Context, l Lease, ttl time.Duration, now time.Time) (Lease, error) {
	return do(ctx, g, "renew lease", func(ctx context.Context) (Lease, error) { return g.s.RenewLease(ctx, l, ttl, now) })
}

func (g *Guarded) ReleaseLease(ctx context.Context, l Lease) error {
	return do0(ctx, g, "release lease", func(ctx context.Context) error { return g.s.ReleaseLease(ctx, l) })
}

func (g *Guarded) Prune(ctx context.Context, o PruneOptions) (Pruned, error) {
	return do(ctx, g, "prune", func(ctx context.Context) (Pruned, error) { return g.s.Prune(ctx, o) })
}

func (g *Guarded) AttemptsOf(ctx context.Context, keys []string) (map[string][]Attempt, error) {
	return do(ctx, g, "attempts of runs", func(ctx context.Context) (map[string][]Attempt, error) { return g.s.AttemptsOf(ctx, keys) })
}

func (g *Guarded) AddSubnetSamples(ctx context.Context, samples []SubnetSample) error {
	return do0(ctx, g, "add subnet samples", func(ctx context.Context) error { return g.s.AddSubnetSamples(ctx, samples) })
}

func (g *Guarded) SubnetSamples(ctx context.Context, since time.Time) ([]SubnetSample, error) {
	return do(ctx, g, "subnet samples", func(ctx context.Context) ([]SubnetSample, error) { return g.s.SubnetSamples(ctx, since) })
}

func (g *Guarded) PruneSubnetSamples(ctx context.Context, before time.Time) (int, error) {
	return do(ctx, g, "prune subnet samples", func(ctx context.Context) (int, error) { return g.s.PruneSubnetSamples(ctx, before) })
}
