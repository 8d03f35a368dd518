// Package executor performs gluenet's run policy (package policy) one step
// at a time, against a cloud and a durable journal. It is the only code
// that carries out the policy's actions: discover and rank, lock + reserve
// + apply + start + record, read the Glue run's state, classify and update
// health and reservations, finish or schedule the next attempt.
//
// Step reads the run's state from the journal, performs the actions that
// can be performed now, writes the new state, and says what to wait for: a
// time, or a Glue run to reach a terminal state (check again at a time), or
// nothing (done). Drivers only decide how to wait:
//
//   - package runner: the wall clock (`gluenet run`), with signals and
//     progress output;
//   - cmd/gluenet: `run --detach`, `resume` and `status`, one short
//     process per step, for schedulers that run short commands;
//   - package lab: virtual time and discrete events, thousands of runs.
//
// Because every driver calls the same Step on the same journal, any mix of
// them, across processes and machines (a Postgres store), continues one
// run.
package executor

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
)

// Cloud is the part of AWS the executor drives, in domain terms. The
// awsclient adapter (awsclient.Executor) satisfies it against real AWS or
// the simulated region; the lab satisfies it with the simulated region's
// in-process model.
//
// Errors are read by the cloud that returned them: Classify says what a
// failed call means for the run loop.
type Cloud interface {
	// JobNeeds reads the job: the IPs one run needs (overrideIPs when > 0)
	// and its current connection order.
	JobNeeds(ctx context.Context, job string, overrideIPs int) (JobInfo, error)
	// Discover looks up the connections' subnets and their free IPs, in
	// the given order. A candidate it could not check is returned
	// unchecked, with a Problem.
	Discover(ctx context.Context, connections []string) ([]gluenet.Candidate, error)
	// ApplyOrder writes ranked, then the job's other connections (those
	// not among candidates), as the job's connection order.
	ApplyOrder(ctx context.Context, job string, candidates, ranked []string) (Applied, error)
	// RestoreOrder puts back an order ApplyOrder replaced.
	RestoreOrder(ctx context.Context, job string, before []string) error
	// StartRun starts a run and returns its id.
	StartRun(ctx context.Context, job string, in StartInput) (string, error)
	// GetRun reads a run's state and arguments.
	GetRun(ctx context.Context, job, runID string) (RunInfo, error)
	// StopRun asks Glue to stop a run.
	StopRun(ctx context.Context, job, runID string) error
	// FindRun returns the id of a run of the job started at or after since
	// whose arguments hold arg=value, or "" when there is none.
	FindRun(ctx context.Context, job, arg, value string, since time.Time) (string, error)
	// ForgetSubnet drops whatever the cloud cached about the connection's
	// subnet, so that the next Discover looks it up again. Clouds without
	// a cache do nothing.
	ForgetSubnet(ctx context.Context, connection string)
	// Classify says what an error of one of these calls means for the run
	// loop (retry, re-rank, blame, fatal): only the cloud that returned it
	// knows how to read it.
	Classify(err error) classify.Verdict
}

// JobInfo is what the executor needs to know about a job.
type JobInfo struct {
	// NeedIPs is the IPs one run needs at full capacity.
	NeedIPs int
	// Connections is the job's current connection order.
	Connections []string
	// MaxRetries is Glue's own retry count for the job: Glue retries a
	// failed run with the same connection, outside gluenet's failover.
	MaxRetries int
}

// Applied is the job's connection order before and after ApplyOrder.
type Applied struct {
	Before, After []string
	// Updated is false when the order was already right.
	Updated bool
}

// StartInput is what one run sets on top of the job definition.
type StartInput struct {
	Arguments       map[string]string `json:"arguments,omitempty"`
	NumberOfWorkers *int32            `json:"number_of_workers,omitempty"`
	WorkerType      string            `json:"worker_type,omitempty"`
	// Timeout is the run's limit in minutes.
	Timeout *int32 `json:"timeout,omitempty"`
}

// RunInfo is what GetRun says about a run.
type RunInfo struct {
	State        string
	ErrorMessage string
	// StateDetail is Glue's reason for a queued run (WAITING): "Max
	// concurrent job runs per job exceeded", "Resource unavailable".
	StateDetail string
	// Arguments are the run's own arguments (they carry the marker).
	Arguments map[string]string
}
