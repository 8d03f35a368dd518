package executor

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

// Journal is the durable record of runs and the leases that serialize
// starts. store.Store satisfies it (SQLite, Postgres); MemJournal is the
// in-process one the lab uses.
type Journal interface {
	BeginRun(ctx context.Context, r store.Run) (store.Run, bool, error)
	GetRun(ctx context.Context, key string) (store.Run, error)
	SetRunStatus(ctx context.Context, key string, status store.RunStatus, at time.Time) error
	FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error
	PutAttempt(ctx context.Context, a store.Attempt) error
	Attempts(ctx context.Context, key string) ([]store.Attempt, error)
	RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error
	RunState(ctx context.Context, key string) (store.RunState, error)
	PutRunState(ctx context.Context, rs store.RunState) (int64, error)
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error)
	RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error)
	ReleaseLease(ctx context.Context, l store.Lease) error
}

// Memory is what runs remember between each other: health of subnets and
// zones, and IPs reserved by runs in flight. memory.Memory satisfies it on
// a store; the lab keeps it in process.
type Memory interface {
	HealthRecords(ctx context.Context) ([]gluenet.HealthRecord, error)
	Observe(ctx context.Context, now time.Time, subnet, az string, v classify.Verdict) error
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	Reserve(ctx context.Context, r gluenet.Reservation) error
	Release(ctx context.Context, ids []string) error
}

// Clock is the executor's time. Sleep returns early with ctx's error; the
// executor sleeps only while waiting for a lock.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}
