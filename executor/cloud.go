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

// Cloud is the part of AWS the executor drives, in domain terms, in three
// parts by use: what discovery needs, what launching a run needs and what
// watching a started run needs. *awsclient.Client satisfies it against
// real AWS or the simulated region; the lab satisfies it with the
// simulated region's in-process model.
//
// Errors are read by the cloud that returned them: Classify says what a
// failed call means for the run loop (retry, re-rank, blame, fatal).
type Cloud interface {
	Discoverer
	Launcher
	Watcher
	Classify(err error) classify.Verdict
}

// Discoverer is what discovery needs (discover, observe).
type Discoverer interface {
	// Survey reads the job (the IPs one run needs, overrideIPs when > 0,
	// and its current connection order) and looks up the connections'
	// subnets and their free IPs, in the given order. A candidate it could
	// not check is returned unchecked, with a Problem. An error reading
	// the job wins over an error discovering the connections.
	Survey(ctx context.Context, job string, overrideIPs int, connections []string) (gluenet.Job, []gluenet.Candidate, error)
	// ForgetSubnet drops whatever the cloud cached about the connection's
	// subnet, so that the next Survey looks it up again. Clouds without
	// a cache do nothing.
	ForgetSubnet(ctx context.Context, connection string)
}

// Launcher is what launching a run needs (launch).
type Launcher interface {
	// ApplyOrder writes ranked, then the job's other connections (those
	// not among candidates), as the job's connection order.
	ApplyOrder(ctx context.Context, job string, candidates, ranked []string) (gluenet.AppliedOrder, error)
	// RestoreOrder puts back an order ApplyOrder replaced.
	RestoreOrder(ctx context.Context, job string, before []string) (gluenet.AppliedOrder, error)
	// StartRun starts a run and returns its id.
	StartRun(ctx context.Context, job string, in gluenet.StartInput) (string, error)
}

// Watcher is what watching a started run needs (poll, adopt, lost, stop).
type Watcher interface {
	// GetRun reads a run's state and arguments.
	GetRun(ctx context.Context, job, runID string) (gluenet.JobRun, error)
	// FindRun returns the id of a run of the job started at or after since
	// whose arguments hold arg=value, or "" when there is none.
	FindRun(ctx context.Context, job, arg, value string, since time.Time) (string, error)
	// StopRun asks Glue to stop a run.
	StopRun(ctx context.Context, job, runID string) error
}
