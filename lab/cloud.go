package lab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/sim"
)

// Cloud is the part of AWS a lab run drives: the calls of the production
// runner, narrowed to what the lab uses. Two implementations: Direct calls
// the simulated region's model (fast, the default) and SDK goes through
// the real awsclient adapter and AWS SDK over the region's in-process HTTP
// client (fidelity). A test runs a fleet through both and compares.
type Cloud interface {
	// JobNeeds returns the IPs a run of the job needs at full capacity.
	JobNeeds(ctx context.Context, job string) (int, error)
	// Discover returns the candidates with their free IPs, in order.
	Discover(ctx context.Context, connections []string) ([]gluenet.Candidate, error)
	// ApplyOrder sets the job's connection order (ranked, then the job's
	// unmanaged connections).
	ApplyOrder(ctx context.Context, job string, candidates, ranked []string) error
	StartRun(ctx context.Context, job string) (string, error)
	// GetRun returns the run's state and error message.
	GetRun(ctx context.Context, job, runID string) (state, message string, err error)
}

// sdkAttempts is the SDK's default number of attempts per call. Both Cloud
// implementations retry throttling and server errors this many times, at
// no virtual cost (the SDK's backoff is milliseconds, negligible next to
// the policy's delays, and the lab never sleeps for real).
const sdkAttempts = 3

// NewSDK returns a Cloud that uses awsclient and the AWS SDK over the
// region's in-process HTTP client. The SDK retries as in production (its
// standard retryer, three attempts) but without waiting between attempts
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
	// Sequential GetConnection calls: the model's fault draws then come
	// in a fixed order, which keeps a seed's results repeatable.
	c.Concurrency = 1
	// And no GetConnections listing (which a concurrency of 1 would
	// otherwise trigger from 2 connections on): the direct model makes
	// one GetConnection per connection, as gluenet does up to 16.
	c.ListAbove = -1
	return sdkCloud{c}
}

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

type sdkCloud struct{ c *awsclient.Client }

func (s sdkCloud) JobNeeds(ctx context.Context, job string) (int, error) {
	j, err := s.c.JobNeeds(ctx, job, 0)
	return j.Need.IPs, err
}

func (s sdkCloud) Discover(ctx context.Context, connections []string) ([]gluenet.Candidate, error) {
	cands, _, err := s.c.Discover(ctx, connections)
	return cands, err
}

func (s sdkCloud) ApplyOrder(ctx context.Context, job string, candidates, ranked []string) error {
	_, err := s.c.ApplyOrder(ctx, job, candidates, ranked)
	return err
}

func (s sdkCloud) StartRun(ctx context.Context, job string) (string, error) {
	return s.c.StartRun(ctx, job, awsclient.StartInput{})
}

func (s sdkCloud) GetRun(ctx context.Context, job, runID string) (string, string, error) {
	st, err := s.c.GetRun(ctx, job, runID)
	return st.State, st.ErrorMessage, err
}

// NewDirect returns a Cloud that calls the region's model directly. It
// does what awsclient does, call for call: JobNeeds reads the job;
// Discover makes one GetConnection per distinct connection and one
// DescribeSubnets, and leaves a candidate unchecked when its lookup
// fails; ApplyOrder reads the job and updates it only when the order
// changes. Errors carry the AWS error code, so package classify reads them
// as it reads the SDK's.
func NewDirect(r *sim.Region) Cloud { return directCloud{r} }

type directCloud struct{ r *sim.Region }

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

func (d directCloud) JobNeeds(_ context.Context, job string) (int, error) {
	j, err := call("get job "+job, func() (sim.DirectJob, error) { return d.r.DirectGetJob(job) })
	if err != nil {
		return 0, fmt.Errorf("job needs: %w", err)
	}
	if j.Workers == 0 {
		return 0, fmt.Errorf("job needs: %w", &awsclient.NeedUnknownError{Job: job})
	}
	return max(j.Workers, gluenet.DefaultMinIPs), nil
}

func (d directCloud) Discover(_ context.Context, connections []string) ([]gluenet.Candidate, error) {
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
				c.FreeIPs, c.Checked = s.AvailableIPs, true
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

func (d directCloud) ApplyOrder(_ context.Context, job string, candidates, ranked []string) error {
	j, err := call("get job "+job, func() (sim.DirectJob, error) { return d.r.DirectGetJob(job) })
	if err != nil {
		return err
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
	if slices.Equal(after, j.Connections) {
		return nil
	}
	_, err = call("update job "+job, func() (struct{}, error) { return struct{}{}, d.r.DirectSetJobConnections(job, after) })
	return err
}

func (d directCloud) StartRun(_ context.Context, job string) (string, error) {
	return call("start job run "+job, func() (string, error) { return d.r.DirectStartJobRun(job) })
}

func (d directCloud) GetRun(_ context.Context, job, runID string) (string, string, error) {
	r, err := call("get job run "+runID, func() (sim.DirectRun, error) { return d.r.DirectGetJobRun(job, runID) })
	return r.State, r.ErrorMessage, err
}
