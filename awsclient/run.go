package awsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// StartInput is what one run may set on top of the job definition, as
// Airflow's GlueJobOperator run_job_kwargs allows. Zero values leave the
// job's own settings.
type StartInput struct {
	// Arguments are passed to the run; Glue merges them over the job's
	// DefaultArguments. Keys normally start with "--".
	Arguments map[string]string
	// NumberOfWorkers and WorkerType override the job's workers.
	NumberOfWorkers *int32
	WorkerType      string
	// Timeout is the run's limit in minutes.
	Timeout *int32
}

// StartRun starts a run of the job and returns its run ID.
func (c *Client) StartRun(ctx context.Context, job string, in StartInput) (string, error) {
	req := &glue.StartJobRunInput{
		JobName:         aws.String(job),
		NumberOfWorkers: in.NumberOfWorkers,
		WorkerType:      types.WorkerType(in.WorkerType),
		Timeout:         in.Timeout,
	}
	if len(in.Arguments) > 0 {
		req.Arguments = in.Arguments
	}
	out, err := c.Glue.StartJobRun(ctx, req)
	if err != nil {
		return "", fmt.Errorf("start job run %q: %w", job, err)
	}
	id := aws.ToString(out.JobRunId)
	if id == "" {
		return "", fmt.Errorf("start job run %q: response has no run ID", job)
	}
	return id, nil
}

// RunStatus is what GetJobRun says about a run.
type RunStatus struct {
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
	// Arguments are the run's own arguments (not the job's defaults).
	Arguments map[string]string `json:"arguments,omitempty"`
}

// GetRun reads the run's state.
func (c *Client) GetRun(ctx context.Context, job, runID string) (RunStatus, error) {
	out, err := c.Glue.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(job), RunId: aws.String(runID)})
	if err != nil {
		return RunStatus{}, fmt.Errorf("get job run %q of job %q: %w", runID, job, err)
	}
	r := out.JobRun
	if r == nil {
		return RunStatus{}, fmt.Errorf("get job run %q of job %q: response has no run", runID, job)
	}
	st := RunStatus{
		ID:              aws.ToString(r.Id),
		State:           string(r.JobRunState),
		ErrorMessage:    aws.ToString(r.ErrorMessage),
		StateDetail:     aws.ToString(r.StateDetail),
		StartedOn:       aws.ToTime(r.StartedOn),
		CompletedOn:     aws.ToTime(r.CompletedOn),
		LastModifiedOn:  aws.ToTime(r.LastModifiedOn),
		ExecutionTime:   time.Duration(r.ExecutionTime) * time.Second,
		Attempt:         int(r.Attempt),
		NumberOfWorkers: int(aws.ToInt32(r.NumberOfWorkers)),
		WorkerType:      string(r.WorkerType),
		MaxCapacity:     aws.ToFloat64(r.MaxCapacity),
		LogGroupName:    aws.ToString(r.LogGroupName),
		Arguments:       r.Arguments,
	}
	if st.ID == "" {
		st.ID = runID
	}
	return st, nil
}

// StopRunError is Glue refusing to stop a run: BatchStopJobRun succeeds as a
// call but lists the run among its Errors.
type StopRunError struct {
	RunID   string
	Code    string
	Message string
}

func (e *StopRunError) Error() string {
	return fmt.Sprintf("glue refused to stop run %s: %s: %s", e.RunID, e.Code, e.Message)
}

// StopRun asks Glue to stop the run. Stopping is asynchronous: the run goes
// through STOPPING to STOPPED, which GetRun shows.
func (c *Client) StopRun(ctx context.Context, job, runID string) error {
	out, err := c.Glue.BatchStopJobRun(ctx, &glue.BatchStopJobRunInput{
		JobName:   aws.String(job),
		JobRunIds: []string{runID},
	})
	if err != nil {
		return fmt.Errorf("stop job run %q of job %q: %w", runID, job, err)
	}
	// One run was asked about, so there is at most one entry.
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		se := &StopRunError{RunID: aws.ToString(e.JobRunId)}
		if se.RunID == "" {
			se.RunID = runID
		}
		if e.ErrorDetail != nil {
			se.Code = aws.ToString(e.ErrorDetail.ErrorCode)
			se.Message = aws.ToString(e.ErrorDetail.ErrorMessage)
		}
		return fmt.Errorf("stop job run %q of job %q: %w", runID, job, se)
	}
	return nil
}
