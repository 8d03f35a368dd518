package executor

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

// RunLog is the record of runs and their attempts that the executor keeps:
// a run key's run, its status and end, and each attempt's row (with the
// Glue run id, recorded on its own so that a crash leaves it behind).
type RunLog interface {
	BeginRun(ctx context.Context, r store.Run) (store.Run, bool, error)
	GetRun(ctx context.Context, key string) (store.Run, error)
	SetRunStatus(ctx context.Context, key string, status store.RunStatus, at time.Time) error
	FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error
	PutAttempt(ctx context.Context, a store.Attempt) error
	Attempts(ctx context.Context, key string) ([]store.Attempt, error)
	RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error
}

// RunStates keeps each run's state record under compare-and-swap: a Step
// reads it, acts, and writes it back only if no other process stepped the
// run meanwhile.
type RunStates interface {
	RunState(ctx context.Context, key string) (store.RunState, error)
	PutRunState(ctx context.Context, rs store.RunState) (int64, error)
}

// Leases serialize what must not interleave across processes: a job's
// UpdateJob + StartJobRun, and ranking-and-reserving across jobs.
type Leases interface {
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error)
	RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error)
	ReleaseLease(ctx context.Context, l store.Lease) error
}

// Journal is the executor's durable record: runs, their state records and
// the leases. store.Store satisfies it (SQLite, Postgres, DynamoDB);
// MemJournal is the in-process one the lab uses. Both pass journaltest.
type Journal interface {
	RunLog
	RunStates
	Leases
}

// HealthMemory is what runs remember of subnets and zones: the records
// ranking reads, and the outcomes that update them.
type HealthMemory interface {
	HealthRecords(ctx context.Context) ([]gluenet.HealthRecord, error)
	Observe(ctx context.Context, now time.Time, subnet, az string, v classify.Verdict) error
}

// ReservationBook holds the IPs promised to runs in flight that EC2 does
// not count yet.
type ReservationBook interface {
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	Reserve(ctx context.Context, r gluenet.Reservation) error
	Release(ctx context.Context, ids []string) error
}

// Memory is what runs remember between each other: health of subnets and
// zones, and IPs reserved by runs in flight. memory.Memory satisfies it on
// a store; the lab keeps it in process. Both pass memorytest.
type Memory interface {
	HealthMemory
	ReservationBook
}

// Clock is the executor's time. Sleep returns early with ctx's error; the
// executor sleeps only while waiting for a lock.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}
