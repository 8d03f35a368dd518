package awsclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet"
)

// Glue's defaults for a job that sets no capacity at all: a Spark job
// (glueetl, gluestreaming) gets 10 DPUs, which in IP terms is one IP per
// DPU. A Python shell job runs on a single node whatever its MaxCapacity
// (0.0625 or 1 DPU), and Glue gives each node one ENI with one private IP
// in the connection's subnet ("Setting up network access to data stores",
// AWS Glue developer guide): one IP is all it needs, and all it needs to
// start.
const (
	defaultSparkIPs = 10
	pythonShell     = "pythonshell"
	pythonShellIPs  = 1
)

// ErrNeedUnknown is matched (errors.Is) by the *NeedUnknownError JobNeeds
// returns for a job whose definition does not tell how many IPs a run needs.
var ErrNeedUnknown = errors.New("job's IP need is unknown")

// NeedUnknownError says that a job sizes its runs in DPUs (MaxCapacity)
// rather than workers, so gluenet cannot tell the IPs a run needs.
type NeedUnknownError struct {
	Job         string
	MaxCapacity float64
}

func (e *NeedUnknownError) Error() string {
	return fmt.Sprintf("job %q sets MaxCapacity (%s DPUs) but no NumberOfWorkers, "+
		"so gluenet cannot tell how many IPs a run needs; pass --need-ips "+
		"(about one IP per DPU for Spark jobs)",
		e.Job, strconv.FormatFloat(e.MaxCapacity, 'f', -1, 64))
}

// Is makes errors.Is(err, ErrNeedUnknown) true.
func (e *NeedUnknownError) Is(target error) bool { return target == ErrNeedUnknown }

// JobNeeds reads the job and works out how many IPs a run needs:
//   - overrideIPs, when > 0 (the user's --need-ips wins over the job);
//   - else NumberOfWorkers: one IP per worker, the driver being a worker in
//     Glue's count;
//   - else, for a Python shell job, one IP (and one to start) whatever its
//     MaxCapacity (0.0625 or 1 DPU, both a single node);
//   - else, when MaxCapacity is set, a *NeedUnknownError (ErrNeedUnknown):
//     DPUs do not map to IPs reliably enough to guess;
//   - else Glue's default of 10 DPUs for a Spark job: 10 IPs.
//
// An unknown job returns Glue's EntityNotFoundException wrapped (IsNotFound).
func (c *Client) JobNeeds(ctx context.Context, job string, overrideIPs int) (gluenet.Job, error) {
	j, err := c.getJob(ctx, job)
	if err != nil {
		return gluenet.Job{}, err
	}
	out := gluenet.Job{
		Name:        job,
		Need:        gluenet.Need{MinIPs: gluenet.DefaultMinIPs},
		WorkerType:  string(j.WorkerType),
		MaxCapacity: aws.ToFloat64(j.MaxCapacity),
		Connections: connectionsOf(j),
		MaxRetries:  int(j.MaxRetries),
	}
	if j.Command != nil {
		out.Command = aws.ToString(j.Command.Name)
	}
	if j.NumberOfWorkers != nil {
		out.NumberOfWorkers = int(*j.NumberOfWorkers)
	}
	switch {
	case overrideIPs > 0:
		out.Need.IPs, out.NeedSource = overrideIPs, "override"
	case out.NumberOfWorkers > 0:
		out.Need.IPs, out.NeedSource = out.NumberOfWorkers, "NumberOfWorkers"
	case out.Command == pythonShell:
		out.Need = gluenet.Need{IPs: pythonShellIPs, MinIPs: pythonShellIPs}
		out.NeedSource = "python shell job: one node, one IP"
	case j.MaxCapacity != nil:
		return out, fmt.Errorf("job needs: %w", &NeedUnknownError{Job: job, MaxCapacity: out.MaxCapacity})
	default:
		out.Need.IPs, out.NeedSource = defaultSparkIPs, "Glue's default of 10 DPUs"
	}
	// A run never needs fewer IPs than it takes to start one.
	out.Need.IPs = max(out.Need.IPs, out.Need.MinIPs)
	return out, nil
}

// ApplyOrder sets the job's connections to ranked followed by the job's
// other connections (those not among candidates) in their existing order,
// so that connections gluenet does not manage keep their place behind the
// ranked ones. It skips UpdateJob when the order is already right. Nothing
// else in the job changes: UpdateJob replaces the whole definition, so the
// update carries every field of the job (see JobToUpdate).
func (c *Client) ApplyOrder(ctx context.Context, job string, candidates, ranked []string) (gluenet.AppliedOrder, error) {
	return c.setConnections(ctx, job, func(existing []string) []string {
		return gluenet.JobOrder(ranked, candidates, existing)
	})
}

// RestoreOrder puts back the connection order an ApplyOrder found (its
// result's Before), to undo an apply whose run could not be started.
func (c *Client) RestoreOrder(ctx context.Context, job string, before []string) (gluenet.AppliedOrder, error) {
	return c.setConnections(ctx, job, func([]string) []string {
		return append([]string{}, before...)
	})
}

func (c *Client) setConnections(ctx context.Context, job string, order func(existing []string) []string) (gluenet.AppliedOrder, error) {
	j, err := c.getJob(ctx, job)
	if err != nil {
		return gluenet.AppliedOrder{}, err
	}
	res := gluenet.AppliedOrder{Before: connectionsOf(j)}
	res.After = order(res.Before)
	if slices.Equal(res.Before, res.After) {
		return res, nil
	}
	upd := JobToUpdate(*j)
	upd.Connections = &types.ConnectionsList{Connections: res.After}
	if _, err := c.Glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String(job), JobUpdate: &upd}); err != nil {
		return res, fmt.Errorf("update job %q: %w", job, err)
	}
	res.Updated = true
	return res, nil
}

// JobToUpdate copies every field of a job definition that UpdateJob accepts,
// because UpdateJob resets whatever the update leaves out. It leaves out:
//   - AllocatedCapacity: deprecated, and Glue rejects it next to MaxCapacity
//     or a worker count;
//   - MaxCapacity when WorkerType or NumberOfWorkers is set: GetJob reports
//     the DPUs the workers amount to, and Glue rejects both at once.
//
// Name, CreatedOn, LastModifiedOn, AutoUpgradeMetadata and ProfileName are
// read-only or not part of JobUpdate; tags are not part of the definition.
// A test fails when the SDK grows a JobUpdate field this does not copy.
func JobToUpdate(j types.Job) types.JobUpdate {
	u := types.JobUpdate{
		CodeGenConfigurationNodes: j.CodeGenConfigurationNodes,
		Command:                   j.Command,
		Connections:               j.Connections,
		DefaultArguments:          j.DefaultArguments,
		Description:               j.Description,
		ExecutionClass:            j.ExecutionClass,
		ExecutionProperty:         j.ExecutionProperty,
		GlueVersion:               j.GlueVersion,
		JobMode:                   j.JobMode,
		JobRunQueuingEnabled:      j.JobRunQueuingEnabled,
		LogUri:                    j.LogUri,
		MaintenanceWindow:         j.MaintenanceWindow,
		MaxRetries:                j.MaxRetries,
		NonOverridableArguments:   j.NonOverridableArguments,
		NotificationProperty:      j.NotificationProperty,
		NumberOfWorkers:           j.NumberOfWorkers,
		Role:                      j.Role,
		SecurityConfiguration:     j.SecurityConfiguration,
		SourceControlDetails:      j.SourceControlDetails,
		Timeout:                   j.Timeout,
		WorkerType:                j.WorkerType,
	}
	if j.WorkerType == "" && j.NumberOfWorkers == nil {
		u.MaxCapacity = j.MaxCapacity
	}
	return u
}

func (c *Client) getJob(ctx context.Context, job string) (*types.Job, error) {
	out, err := c.Glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(job)})
	if err != nil {
		return nil, fmt.Errorf("get job %q: %w", job, err)
	}
	if out.Job == nil {
		return nil, fmt.Errorf("get job %q: response has no job", job)
	}
	return out.Job, nil
}

func connectionsOf(j *types.Job) []string {
	if j.Connections == nil {
		return nil
	}
	return append([]string(nil), j.Connections.Connections...)
}
