package awsclient

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
)

// Executor adapts a Client to executor.Cloud, the executor's cloud
// interface in domain terms.
type Executor struct{ C *Client }

var _ executor.Cloud = Executor{}

// JobNeeds implements executor.Cloud.
func (x Executor) JobNeeds(ctx context.Context, job string, overrideIPs int) (executor.JobInfo, error) {
	j, err := x.C.JobNeeds(ctx, job, overrideIPs)
	return executor.JobInfo{NeedIPs: j.Need.IPs, Connections: j.Connections, MaxRetries: j.MaxRetries}, err
}

// Discover implements executor.Cloud.
func (x Executor) Discover(ctx context.Context, connections []string) ([]gluenet.Candidate, error) {
	cands, _, err := x.C.Discover(ctx, connections)
	return cands, err
}

// ApplyOrder implements executor.Cloud.
func (x Executor) ApplyOrder(ctx context.Context, job string, candidates, ranked []string) (executor.Applied, error) {
	r, err := x.C.ApplyOrder(ctx, job, candidates, ranked)
	return executor.Applied{Before: r.Before, After: r.After, Updated: r.Updated}, err
}

// RestoreOrder implements executor.Cloud.
func (x Executor) RestoreOrder(ctx context.Context, job string, before []string) error {
	_, err := x.C.RestoreOrder(ctx, job, before)
	return err
}

// StartRun implements executor.Cloud.
func (x Executor) StartRun(ctx context.Context, job string, in executor.StartInput) (string, error) {
	return x.C.StartRun(ctx, job, StartInput{Arguments: in.Arguments, NumberOfWorkers: in.NumberOfWorkers, WorkerType: in.WorkerType, Timeout: in.Timeout})
}

// GetRun implements executor.Cloud.
func (x Executor) GetRun(ctx context.Context, job, runID string) (executor.RunInfo, error) {
	st, err := x.C.GetRun(ctx, job, runID)
	return executor.RunInfo{State: st.State, ErrorMessage: st.ErrorMessage, StateDetail: st.StateDetail, Arguments: st.Arguments}, err
}

// StopRun implements executor.Cloud.
func (x Executor) StopRun(ctx context.Context, job, runID string) error {
	return x.C.StopRun(ctx, job, runID)
}

// FindRun implements executor.Cloud.
func (x Executor) FindRun(ctx context.Context, job, arg, value string, since time.Time) (string, error) {
	return x.C.FindRun(ctx, job, arg, value, since)
}

// ForgetSubnet implements executor.Cloud.
func (x Executor) ForgetSubnet(ctx context.Context, connection string) {
	x.C.ForgetSubnet(ctx, connection)
}

// Classify implements executor.Cloud: what an error of this client's calls
// means for the run loop.
func (Executor) Classify(err error) classify.Verdict { return Classify(err) }
