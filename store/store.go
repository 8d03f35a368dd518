// Package store defines gluenet's durable state: the record of every run
// and attempt, health memory, in-flight reservations, the connection→subnet
// cache and the per-job lease that serializes UpdateJob and StartJobRun.
//
// The package holds the interface, the record types and the rules every
// implementation shares (validation, errors). Implementations live in
// subpackages, one per database, and must all pass the conformance suite in
// store/storetest:
//
//   - store/sqlite: the embedded default, a file on one machine, safe for
//     several processes;
//   - store/postgres: shared by runners on many machines;
//   - store/dynamodb: one DynamoDB table, shared by runners on many
//     machines with nothing to run (Amazon MWAA's workers, say).
//
// # Time
//
// Every time that matters is passed in by the caller (an injected clock), so
// behaviour is testable and the lab can run on virtual time. Stores keep
// times in UTC with microsecond precision: a time read back is equal, under
// time.Equal, to the time written truncated to the microsecond
// (t.Truncate(time.Microsecond)), and is in UTC. The zero time is stored as
// "no time" and read back as the zero time.
//
// Lease expiry is judged against the now the caller passes in. Runners on
// several machines must therefore have clocks that agree to well within the
// lease TTL; NTP-synchronized hosts do.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
)

// Errors a Store returns; test with errors.Is.
var (
	// ErrNotFound: the run (or attempt) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: the lease was released, or taken over by another holder
	// after it expired.
	ErrLeaseLost = errors.New("lease lost")
	// ErrConflict: the write contradicts what is stored, such as a second,
	// different Glue run id for one attempt.
	ErrConflict = errors.New("conflicts with stored state")
)

// Store is gluenet's durable state: every concern below, in one database.
// Implementations are safe for concurrent use by many goroutines, and by
// many processes sharing the same database. Consumers ask for the smallest
// of the interfaces it embeds that does their job.
type Store interface {
	Journal
	HealthStore
	ReservationStore
	SubnetCacheStore
	LeaseStore
	Pruner
	// Fleet: reads for `gluenet serve` and its free-IP samples (fleet.go).
	Fleet

	// Close releases the store's connections.
	Close() error
}

// Journal is the durable record of runs and their attempts.
type Journal interface {
	// BeginRun inserts r when no run has its key yet and returns it with
	// created true; when the key exists it changes nothing and returns the
	// stored run with created false. A zero Status means RunPending and a
	// zero UpdatedAt means CreatedAt.
	BeginRun(ctx context.Context, r Run) (Run, bool, error)
	// GetRun returns the run with the key, or ErrNotFound.
	GetRun(ctx context.Context, key string) (Run, error)
	// ListRuns returns runs newest first (by CreatedAt, then key).
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// SetRunStatus moves a run to a non-terminal status at the time given,
	// for example to running when its first attempt starts, or back to
	// running when a rerun with the same key resumes an interrupted run. It
	// clears FinishedAt and Outcome. ErrNotFound when the run is missing.
	SetRunStatus(ctx context.Context, key string, status RunStatus, at time.Time) error
	// FinishRun records a terminal status and outcome at the time given.
	// ErrNotFound when the run is missing.
	FinishRun(ctx context.Context, key string, status RunStatus, outcome string, at time.Time) error

	// PutAttempt inserts or updates the attempt (a.RunKey, a.Number). Zero
	// fields keep what is stored, so a writer that does not know a value
	// (notably the Glue run id written by RecordRunID) never erases it.
	// a.States are added to the attempt's state history; changes already
	// recorded (same State and At) are not duplicated, so callers may pass
	// the whole history or only what is new. ErrNotFound when the run is
	// missing.
	PutAttempt(ctx context.Context, a Attempt) error
	// Attempts returns the run's attempts by number, each with its full
	// state history in order. ErrNotFound when the run is missing.
	Attempts(ctx context.Context, key string) ([]Attempt, error)
	// RecordRunID durably records the Glue run id of an attempt, creating
	// the attempt if needed, and sets its StartedAt to at unless already
	// set. It is its own committed write, so that a process killed while
	// waiting leaves the id behind for the next process to re-attach to.
	// Recording the same id again is a no-op; a different id is ErrConflict.
	// ErrNotFound when the run is missing.
	RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error
	// RunState returns the executor's state record of the run, or
	// ErrNotFound when none was stored yet (or the run is missing).
	RunState(ctx context.Context, key string) (RunState, error)
	// PutRunState replaces the run's state record when rs.Revision is the
	// stored revision (0 when none is stored), and returns the new
	// revision (one more). Otherwise it changes nothing and returns
	// ErrConflict: another process stepped the run meanwhile. ErrNotFound
	// when the run is missing.
	PutRunState(ctx context.Context, rs RunState) (int64, error)
}

// HealthStore keeps health memory: the records and their history.
type HealthStore interface {
	// Health returns the stored health records, ordered by scope and key.
	Health(ctx context.Context) ([]gluenet.HealthRecord, error)
	// UpdateHealth reads the records, calls fn, and stores what fn returns,
	// in one transaction serialized against every other UpdateHealth and
	// ResetHealth, across processes and machines: no update is lost. The
	// records fn returns replace the stored set (a record fn leaves out is
	// deleted) and the events are appended. When fn returns an error,
	// nothing changes and UpdateHealth returns that error, wrapped. While fn
	// runs, every other UpdateHealth waits: fn must be quick and do no I/O.
	UpdateHealth(ctx context.Context, fn func(recs []gluenet.HealthRecord) ([]gluenet.HealthRecord, []HealthEvent, error)) error
	// ResetHealth forgets the records for scope and key: an empty key means
	// every key of the scope, an empty scope every record. It appends one
	// HealthReset event per record removed, timed by the store's clock (the
	// only time a Store takes itself).
	ResetHealth(ctx context.Context, scope gluenet.Scope, key string) error
	// HealthEvents returns up to limit events, newest first; limit <= 0
	// means all.
	HealthEvents(ctx context.Context, limit int) ([]HealthEvent, error)
}

// ReservationStore keeps the IPs promised to runs that EC2 does not count
// yet.
type ReservationStore interface {
	// AddReservation stores r, replacing any reservation with the same ID.
	AddReservation(ctx context.Context, r gluenet.Reservation) error
	// Reservations returns the reservations that have not expired at now
	// (ExpiresAt after now), oldest first. Expired ones stay stored until
	// Prune deletes them.
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	// ReleaseReservation deletes the reservation; releasing one that does
	// not exist (any more) is not an error.
	ReleaseReservation(ctx context.Context, id string) error
}

// SubnetCacheStore keeps the connection -> subnet cache.
type SubnetCacheStore interface {
	// CachedSubnet returns the cached subnet of a Glue connection when the
	// entry has not expired at now.
	CachedSubnet(ctx context.Context, connection string, now time.Time) (subnetID string, ok bool, err error)
	// PutCachedSubnet caches the connection's subnet until expires.
	PutCachedSubnet(ctx context.Context, connection, subnetID string, expires time.Time) error
	// CachedSubnets returns, in one query, the cached subnets of those of
	// the connections whose entries have not expired at now, keyed by
	// connection; the others are absent from the map.
	CachedSubnets(ctx context.Context, connections []string, now time.Time) (map[string]string, error)
	// PutCachedSubnets caches each connection's subnet (connection ->
	// subnet ID) until expires, in one transaction: all or none. A
	// decision writes what it learned with one call.
	PutCachedSubnets(ctx context.Context, subnets map[string]string, expires time.Time) error
	// InvalidateCachedSubnet drops the connection's cache entry, if any.
	InvalidateCachedSubnet(ctx context.Context, connection string) error
}

// LeaseStore keeps the per-job leases.
type LeaseStore interface {
	// AcquireLease takes the named lease for holder until now+ttl when it
	// is free: never taken, released, or expired at now. It returns the
	// lease and true, with a Token greater than any earlier acquisition of
	// the name. When another holder has it and it has not expired, it
	// returns the current lease and false. A holder that acquires a lease
	// it already holds gets a new token: its old Lease value is then lost.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (Lease, bool, error)
	// RenewLease extends l to now+ttl. It returns ErrLeaseLost when l was
	// released or another acquisition happened since l was acquired (a
	// lease that expired but that nobody took over can still be renewed:
	// the token proves nobody else held it meanwhile).
	RenewLease(ctx context.Context, l Lease, ttl time.Duration, now time.Time) (Lease, error)
	// ReleaseLease frees l so the next acquirer need not wait for it to
	// expire. Releasing a lease that is no longer held by l (released
	// already, or taken over) changes nothing and is not an error.
	ReleaseLease(ctx context.Context, l Lease) error
}

// Pruner deletes what is over: finished runs and health events past their
// retention, expired reservations and subnet cache entries.
type Pruner interface {
	// Prune deletes (or, with o.DryRun, counts) what o selects and
	// returns the counts. Runs that have not finished are never deleted,
	// whatever their age: a run that was started is never forgotten.
	Prune(ctx context.Context, o PruneOptions) (Pruned, error)
}

// RunStatus is where a run stands.
type RunStatus string

// The statuses of a run. Succeeded, failed and interrupted are terminal.
const (
	RunPending     RunStatus = "pending"
	RunRunning     RunStatus = "running"
	RunSucceeded   RunStatus = "succeeded"
	RunFailed      RunStatus = "failed"
	RunInterrupted RunStatus = "interrupted"
)

// Valid reports whether s is one of the statuses above.
func (s RunStatus) Valid() bool {
	switch s {
	case RunPending, RunRunning, RunSucceeded, RunFailed, RunInterrupted:
		return true
	}
	return false
}

// Terminal reports whether a run with status s has finished.
func (s RunStatus) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunInterrupted
}

// Run is one invocation of gluenet for a run key, across all its attempts.
type Run struct {
	// Key identifies the run, for example the orchestrator's run id.
	Key    string    `json:"key"`
	Job    string    `json:"job"`
	Status RunStatus `json:"status"`
	// Inputs is what the run was asked to do (job, arguments, strategy,
	// need), as JSON. Nil when none was recorded.
	Inputs     json.RawMessage `json:"inputs,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	FinishedAt time.Time       `json:"finished_at,omitzero"`
	// Outcome says in words how the run ended.
	Outcome string `json:"outcome,omitempty"`
}

// RunState is the executor's durable state of one run: a versioned record
// (package executor owns its format) replaced as a whole.
type RunState struct {
	Key string `json:"run_key"`
	// Revision counts the writes; compare-and-swap guards each write.
	Revision  int64           `json:"revision"`
	Data      json.RawMessage `json:"data"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// RunFilter selects runs for ListRuns. Zero fields do not filter.
type RunFilter struct {
	// Job keeps only the runs of this job.
	Job string
	// Limit is the most runs returned; 0 means no limit.
	Limit int
	// Before keeps only runs created before this time, for paging.
	Before time.Time
	// Since keeps only runs created at or after this time.
	Since time.Time
	// Status keeps only runs with this status.
	Status RunStatus
}

// The phases of an attempt, in order. Phase is a free string; these are the
// ones gluenet's runner writes.
const (
	PhaseDiscovered = "discovered" // candidates discovered and ranked
	PhaseApplied    = "applied"    // UpdateJob applied the order
	PhaseStarted    = "started"    // StartJobRun returned a run id
	PhaseEnded      = "ended"      // the Glue run reached a final state
)

// Attempt is one try within a run: one ranking, one UpdateJob, at most one
// Glue run.
type Attempt struct {
	RunKey string `json:"run_key"`
	// Number counts attempts within the run from 1.
	Number int `json:"number"`
	// Plan is the ranked order with its reasons (a gluenet.Plan as JSON).
	Plan json.RawMessage `json:"plan,omitempty"`
	// OrderApplied is the connection order UpdateJob wrote.
	OrderApplied []string `json:"order_applied,omitempty"`
	GlueRunID    string   `json:"glue_run_id,omitempty"`
	Phase        string   `json:"phase,omitempty"`
	// States is the Glue run's state history, oldest first.
	States       []StateChange `json:"states,omitempty"`
	FinalState   string        `json:"final_state,omitempty"`
	ErrorMessage string        `json:"error_message,omitempty"`
	// Class is the failure class the classifier gave the outcome.
	Class     string    `json:"class,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Subnet and AZ are where the run landed, when known.
	Subnet string `json:"subnet,omitempty"`
	AZ     string `json:"availability_zone,omitempty"`
}

// StateChange is one Glue run state observed at a time.
type StateChange struct {
	State string    `json:"state"`
	At    time.Time `json:"at"`
}

// HealthEventKind says what happened to a subnet or an AZ.
type HealthEventKind string

// The kinds of health events gluenet writes.
const (
	HealthFailure HealthEventKind = "failure"
	HealthSuccess HealthEventKind = "success"
	HealthEjected HealthEventKind = "ejected"
	HealthReset   HealthEventKind = "reset"
)

// HealthEvent is one entry in the health history, kept for `gluenet health`
// and for explaining ejections.
type HealthEvent struct {
	At     time.Time       `json:"at"`
	Scope  gluenet.Scope   `json:"scope"`
	Key    string          `json:"key"`
	Kind   HealthEventKind `json:"kind"`
	Class  string          `json:"class,omitempty"`
	Detail string          `json:"detail,omitempty"`
}

// Lease is a held lock on a name (gluenet uses one per Glue job) that
// expires when its holder stops renewing it.
type Lease struct {
	Name   string `json:"name"`
	Holder string `json:"holder"`
	// Token is a fencing token: it increases with every acquisition of the
	// name, so a holder can prove it is still the latest one.
	Token     int64     `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// ResetEvents returns the HealthReset events that record forgetting recs at
// the time given, one per record, so that every store writes the same
// history for ResetHealth.
func ResetEvents(recs []gluenet.HealthRecord, at time.Time) []HealthEvent {
	out := make([]HealthEvent, 0, len(recs))
	for _, r := range recs {
		detail := fmt.Sprintf("forgot %d consecutive failures and %d ejections", r.ConsecutiveFailures, r.Ejections)
		if r.Ejected(at) {
			detail += fmt.Sprintf("; was ejected until %s", r.EjectedUntil.UTC().Format(time.RFC3339))
		}
		out = append(out, HealthEvent{At: at, Scope: r.Scope, Key: r.Key, Kind: HealthReset, Detail: detail})
	}
	return out
}
