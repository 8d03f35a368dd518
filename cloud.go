package gluenet

import (
	"fmt"
	"time"
)

// Job is what gluenet reads from a Glue job definition.
type Job struct {
	Name string
	// Need is what one run asks of a subnet.
	Need Need
	// NeedSource says how Need.IPs was derived, for logs and plan output.
	NeedSource string
	// Command is the job's Command.Name: glueetl, gluestreaming,
	// pythonshell, glueray.
	Command string
	// WorkerType is "" when the job sizes runs in DPUs.
	WorkerType string
	// NumberOfWorkers is 0 when unset.
	NumberOfWorkers int
	// MaxCapacity is the DPUs, 0 when unset.
	MaxCapacity float64
	// Connections is the job's current connection order.
	Connections []string
	// MaxRetries is Glue's own retry count for the job. Glue retries a
	// failed run with the same connection, outside gluenet's failover.
	MaxRetries int
}

// AppliedOrder is the job's connection order before and after gluenet
// wrote one (or put one back).
type AppliedOrder struct {
	Before []string `json:"before"`
	After  []string `json:"after"`
	// Updated is false when the order was already right and the job was
	// not updated.
	Updated bool `json:"updated"`
}

// StartInput is what one run may set on top of the job definition, as
// Airflow's GlueJobOperator run_job_kwargs allows. Zero values leave the
// job's own settings. It is part of a run's recorded spec (JSON).
type StartInput struct {
	// Arguments are passed to the run; Glue merges them over the job's
	// DefaultArguments. Keys normally start with "--".
	Arguments map[string]string `json:"arguments,omitempty"`
	// NumberOfWorkers and WorkerType override the job's workers.
	NumberOfWorkers *int32 `json:"number_of_workers,omitempty"`
	WorkerType      string `json:"worker_type,omitempty"`
	// Timeout is the run's limit in minutes.
	Timeout *int32 `json:"timeout,omitempty"`
}

// Validate says what is wrong with the per-run overrides, in words for the
// user: a run has at least one worker and a timeout of at least a minute.
func (in StartInput) Validate() error {
	if n := in.NumberOfWorkers; n != nil && *n < 1 {
		return fmt.Errorf("--workers must be at least 1, got %d", *n)
	}
	if t := in.Timeout; t != nil && *t < 1 {
		return fmt.Errorf("--timeout must be at least 1 minute, got %d", *t)
	}
	return nil
}

// JobRun is what Glue says about one run of a job (GetJobRun).
type JobRun struct {
	ID string `json:"run_id"`
	// State is Glue's JobRunState: STARTING, RUNNING, STOPPING, WAITING,
	// or one of the terminal states (see classify.Terminal).
	State        string `json:"state"`
	ErrorMessage string `json:"error_message,omitempty"`
	// StateDetail is Glue's JobRun.StateDetail: for a WAITING run queued
	// by job run queuing, why it waits ("Resource unavailable", "Max
	// concurrent job runs per job exceeded", ...); "" otherwise.
	StateDetail string `json:"state_detail,omitempty"`
	// StartedOn, CompletedOn and LastModifiedOn are zero when Glue did not
	// report them.
	StartedOn      time.Time     `json:"started_on"`
	CompletedOn    time.Time     `json:"completed_on"`
	LastModifiedOn time.Time     `json:"last_modified_on"`
	ExecutionTime  time.Duration `json:"execution_time"`
	// Attempt is Glue's own retry count for the run (the job's MaxRetries),
	// not gluenet's attempt.
	Attempt         int     `json:"attempt"`
	NumberOfWorkers int     `json:"number_of_workers,omitempty"`
	WorkerType      string  `json:"worker_type,omitempty"`
	MaxCapacity     float64 `json:"max_capacity,omitempty"`
	// LogGroupName is the base of the run's log groups, "/aws-glue/jobs"
	// unless the job configures another.
	LogGroupName string `json:"log_group_name,omitempty"`
	// Arguments are the run's own arguments (not the job's defaults); they
	// carry gluenet's marker.
	Arguments map[string]string `json:"arguments,omitempty"`
}
