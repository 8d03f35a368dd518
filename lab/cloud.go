package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/sim"
)

// Cloud is the part of AWS a lab run drives: the executor's own cloud
// interface, the same one `gluenet run` drives. Two implementations:
// Direct calls the simulated region's model (fast, the default) and SDK
// goes through the real awsclient Client and AWS SDK over the region's
// in-process HTTP client (fidelity). A test runs a fleet through both and
// compares.
type Cloud = executor.Cloud

// sdkAttempts is the attempts per call gluenet asks of the SDK, the same
// as `gluenet run` (awsclient.DefaultMaxAttempts). Both Cloud
// implementations retry throttling and server errors this many times, at
// no virtual cost (the SDK's backoff is milliseconds, negligible next to
// the policy's delays, and the lab never sleeps for real).
const sdkAttempts = awsclient.DefaultMaxAttempts

// NewSDK returns a Cloud that uses awsclient and the AWS SDK over the
// region's in-process HTTP client. The SDK retries as in production (its
// standard retryer, sdkAttempts attempts) but without waiting between attempts
// and without its retry quota, so that no wall-clock time passes and both
// implementations make the same calls.
func NewSDK(r *sim.Region) Cloud {
	cfg := aws.Config{
		Region:       "us-east-1",
		HTTPClient:   r.HTTPClient(),
		BaseEndpoint: aws.String(sim.InProcessEndpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDLAB", "lab", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = sdkAttempts
				o.Backoff = noBackoff{}
				o.RateLimiter = ratelimit.None
			})
		},
	}
	c := awsclient.New(cfg)
	c.Logger = slog.New(slog.DiscardHandler)
	// One call at a time (the job, then each GetConnection): the model's
	// fault draws then come in a fixed order, which keeps a seed's results
	// repeatable.
	c.Concurrency = 1
	// And no GetConnections listing (which a concurrency of 1 would
	// otherwise trigger from 2 connections on): the direct model makes
	// one GetConnection per connection, as gluenet does up to 16.
	c.ListAbove = -1
	return c
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// NewDirect returns a Cloud that calls the region's model directly. It
// does what awsclient does, call for call: JobNeeds reads the job;
// Discover makes one GetConnection per distinct connection and one
// DescribeSubnets, and leaves a candidate unchecked when its lookup
// fails; ApplyOrder reads the job and updates it only when the order
// changes. Errors carry the AWS error code, so package classify reads them
// as it reads the SDK's.
func NewDirect(r *sim.Region) Cloud { return &directCloud{r: r, runs: map[string]directRun{}} }

// directCloud keeps the arguments of the runs it started: the model's
// direct StartJobRun takes none, and the executor reads its marker back.
type directCloud struct {
	r    *sim.Region
	runs map[string]directRun
}

type directRun struct {
	job     string
	args    map[string]string
	started time.Time
}

// call retries throttling and server errors as the SDK's standard retryer
// does, and turns the model's errors into smithy API errors.
func call[T any](op string, f func() (T, error)) (T, error) {
	var v T
	var err error
	for range sdkAttempts {
		v, err = f()
		var de *sim.DirectError
		if err == nil || !errors.As(err, &de) || !retryable(de) {
			break
		}
	}
	if err == nil {
		return v, nil
	}
	var de *sim.DirectError
	if errors.As(err, &de) {
		fault := smithy.FaultClient
		if de.Status >= 500 {
			fault = smithy.FaultServer
		}
		err = &smithy.GenericAPIError{Code: de.Code, Message: de.Message, Fault: fault}
	}
	return v, fmt.Errorf("%s: %w", op, err)
}

// retryable mirrors the SDK's standard retryer: throttling codes and
// transient server errors.
func retryable(e *sim.DirectError) bool {
	switch e.Code {
	case "ThrottlingException", "RequestLimitExceeded", "Throttling", "TooManyRequestsException":
		return true
	}
	return e.Status >= 500
}

// Survey reads the job, then (when that worked) the connections: one call
// at a time, as the SDK cloud makes them.
func (d *directCloud) Survey(ctx context.Context, job string, overrideIPs int, connections []string) (gluenet.Job, []gluenet.Candidate, error) {
	j, err := d.JobNeeds(ctx, job, overrideIPs)
	if err != nil {
		return j, nil, err
	}
	cands, err := d.Discover(ctx, connections)
	return j, cands, err
}

func (d *directCloud) JobNeeds(_ context.Context, job string, overrideIPs int) (gluenet.Job, error) {
	j, err := call("get job "+job, func() (sim.DirectJob, error) { return d.r.DirectGetJob(job) })
	if err != nil {
		return gluenet.Job{}, fmt.Errorf("job needs: %w", err)
	}
	info := gluenet.Job{Name: job, Need: gluenet.Need{IPs: overrideIPs, MinIPs: gluenet.DefaultMinIPs}, Connections: j.Connections,
		NumberOfWorkers: j.Workers}
	if info.Need.IPs == 0 {
		if j.Workers == 0 {
			return gluenet.Job{}, fmt.Errorf("job needs: %w", &awsclient.NeedUnknownError{Job: job})
		}
		info.Need.IPs = j.Workers
	}
	info.Need.IPs = max(info.Need.IPs, gluenet.DefaultMinIPs)
	return info, nil
}

func (d *directCloud) Discover(_ context.Context, connections []string) ([]gluenet.Candidate, error) {
	type info struct {
		subnet, az, problem string
	}
	infos := map[string]*info{}
	var ids []string
	for _, n := range connections {
		if _, done := infos[n]; done {
			continue
		}
		c, err := call("get connection "+n, func() (sim.DirectConnection, error) { return d.r.DirectGetConnection(n) })
		in := &info{subnet: c.SubnetID, az: c.AZ}
		switch {
		case err != nil:
			in = &info{problem: "get connection: " + err.Error()}
		case c.SubnetID == "":
			in.problem = "connection has no subnet"
		case !slices.Contains(ids, c.SubnetID):
			ids = append(ids, c.SubnetID)
		}
		infos[n] = in
	}
	subnets := map[string]sim.DirectSubnet{}
	if len(ids) > 0 {
		got, err := call("describe subnets", func() ([]sim.DirectSubnet, error) { return d.r.DirectDescribeSubnets(ids) })
		if err != nil {
			for _, in := range infos {
				if in.problem == "" {
					in.problem = "describe subnets: " + err.Error()
				}
			}
		}
		for _, s := range got {
			subnets[s.ID] = s
		}
	}
	out := make([]gluenet.Candidate, len(connections))
	for i, n := range connections {
		in := infos[n]
		c := gluenet.Candidate{Connection: n, SubnetID: in.subnet, AZ: in.az, Problem: in.problem}
		if c.Problem == "" {
			if s, ok := subnets[in.subnet]; ok {
				c.FreeIPs, c.Checked, c.UsableIPs = s.AvailableIPs, true, gluenet.SubnetUsableIPs(s.CIDR)
				if s.AZ != "" {
					c.AZ = s.AZ
				}
			} else {
				c.Problem = fmt.Sprintf("subnet %s not found", in.subnet)
			}
		}
		out[i] = c
	}
	return out, nil
}

func (d *directCloud) ApplyOrder(_ context.Context, job string, candidates, ranked []string) (gluenet.AppliedOrder, error) {
	j, err := call("get job "+job, func() (sim.DirectJob, error) { return d.r.DirectGetJob(job) })
	if err != nil {
		return gluenet.AppliedOrder{}, err
	}
	managed := map[string]bool{}
	for _, n := range candidates {
		managed[n] = true
	}
	for _, n := range ranked {
		managed[n] = true
	}
	after := slices.Clone(ranked)
	for _, n := range j.Connections {
		if !managed[n] {
			after = append(after, n)
		}
	}
	res := gluenet.AppliedOrder{Before: j.Connections, After: after}
	if slices.Equal(after, j.Connections) {
		return res, nil
	}
	_, err = call("update job "+job, func() (struct{}, error) { return struct{}{}, d.r.DirectSetJobConnections(job, after) })
	res.Updated = err == nil
	return res, err
}

// RestoreOrder writes the order without reading the job first (one call to
// the model), so its result has no Before.
func (d *directCloud) RestoreOrder(_ context.Context, job string, before []string) (gluenet.AppliedOrder, error) {
	_, err := call("update job "+job, func() (struct{}, error) { return struct{}{}, d.r.DirectSetJobConnections(job, before) })
	return gluenet.AppliedOrder{After: before, Updated: err == nil}, err
}

func (d *directCloud) StartRun(_ context.Context, job string, in gluenet.StartInput) (string, error) {
	id, err := call("start job run "+job, func() (string, error) {
		return d.r.DirectStartJobRunWith(job, sim.DirectStartOptions{Arguments: in.Arguments})
	})
	if err == nil {
		d.runs[id] = directRun{job: job, args: maps.Clone(in.Arguments), started: d.r.Now()}
	}
	return id, err
}

func (d *directCloud) GetRun(_ context.Context, job, runID string) (gluenet.JobRun, error) {
	r, err := call("get job run "+runID, func() (sim.DirectRun, error) { return d.r.DirectGetJobRun(job, runID) })
	return gluenet.JobRun{ID: runID, State: r.State, ErrorMessage: r.ErrorMessage, StateDetail: r.StateDetail, Arguments: d.runs[runID].args}, err
}

// StopRun is not offered: the lab never interrupts a run.
func (d *directCloud) StopRun(_ context.Context, job, runID string) error {
	return fmt.Errorf("stop job run %s of %s: the lab's direct cloud does not stop runs", runID, job)
}

func (d *directCloud) FindRun(_ context.Context, job, arg, value string, since time.Time) (string, error) {
	for id, r := range d.runs {
		if r.job == job && !r.started.Before(since) && r.args[arg] == value {
			return id, nil
		}
	}
	return "", nil
}

// ForgetSubnet does nothing: the direct cloud caches nothing.
func (d *directCloud) ForgetSubnet(context.Context, string) {}

// Classify implements executor.Cloud: the direct cloud's errors are the
// smithy API errors the SDK would return for the same answers, so they read
// as awsclient reads the SDK's.
func (d *directCloud) Classify(err error) classify.Verdict { return awsclient.Classify(err) }
