package awsclient

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet"
)

// StartRun starts a run of the job and returns its run ID.
func (c *Client) StartRun(ctx context.Context, job string, in gluenet.StartInput) (string, error) {
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

// GetRun reads the run's state.
func (c *Client) GetRun(ctx context.Context, job, runID string) (gluenet.JobRun, error) {
	out, err := c.Glue.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(job), RunId: aws.String(runID)})
	if err != nil {
		return gluenet.JobRun{}, fmt.Errorf("get job run %q of job %q: %w", runID, job, err)
	}
	r := out.JobRun
	if r == nil {
		return gluenet.JobRun{}, fmt.Errorf("get job run %q of job %q: response has no run", runID, job)
	}
	st := gluenet.JobRun{
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
