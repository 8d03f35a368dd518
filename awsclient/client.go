// Package awsclient is gluenet's adapter to AWS: the only code that talks to
// AWS Glue, Amazon EC2 and CloudWatch Logs, through aws-sdk-go-v2.
//
// It turns the handful of API calls gluenet needs into domain terms:
// Discover learns the subnet and free IPs behind each Glue connection (one
// concurrent GetConnection per connection, or none with a warm SubnetCache,
// then one batched DescribeSubnets), JobNeeds reads how many IPs a run
// needs (Survey does both at once), ApplyOrder rewrites the job's connection
// order, StartRun, GetRun and StopRun drive a job run, and LogFollower tails
// its logs. A *Client is the executor's cloud (executor.Cloud) as it is: it
// speaks the root package's types (gluenet.Job, JobRun, StartInput,
// AppliedOrder) and reads its own errors (Classify).
//
// The SDK clients sit behind narrow interfaces (GlueAPI, EC2API, LogsAPI)
// that *glue.Client, *ec2.Client and *cloudwatchlogs.Client satisfy, so
// tests and the simulated region can hand in anything that speaks the same
// operations.
package awsclient

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// GlueAPI lists the Glue operations gluenet calls; *glue.Client satisfies it.
type GlueAPI interface {
	GetConnection(ctx context.Context, params *glue.GetConnectionInput, optFns ...func(*glue.Options)) (*glue.GetConnectionOutput, error)
	GetConnections(ctx context.Context, params *glue.GetConnectionsInput, optFns ...func(*glue.Options)) (*glue.GetConnectionsOutput, error)
	GetJob(ctx context.Context, params *glue.GetJobInput, optFns ...func(*glue.Options)) (*glue.GetJobOutput, error)
	UpdateJob(ctx context.Context, params *glue.UpdateJobInput, optFns ...func(*glue.Options)) (*glue.UpdateJobOutput, error)
	StartJobRun(ctx context.Context, params *glue.StartJobRunInput, optFns ...func(*glue.Options)) (*glue.StartJobRunOutput, error)
	GetJobRun(ctx context.Context, params *glue.GetJobRunInput, optFns ...func(*glue.Options)) (*glue.GetJobRunOutput, error)
	BatchStopJobRun(ctx context.Context, params *glue.BatchStopJobRunInput, optFns ...func(*glue.Options)) (*glue.BatchStopJobRunOutput, error)
	GetJobRuns(ctx context.Context, params *glue.GetJobRunsInput, optFns ...func(*glue.Options)) (*glue.GetJobRunsOutput, error)
	// GetJobs only lists job names for shell completion.
	GetJobs(ctx context.Context, params *glue.GetJobsInput, optFns ...func(*glue.Options)) (*glue.GetJobsOutput, error)
}

// EC2API lists the EC2 operations gluenet calls; *ec2.Client satisfies it.
type EC2API interface {
	DescribeSubnets(ctx context.Context, params *ec2.DescribeSubnetsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
}

// LogsAPI lists the CloudWatch Logs operations gluenet calls;
// *cloudwatchlogs.Client satisfies it.
type LogsAPI interface {
	FilterLogEvents(ctx context.Context, params *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// DefaultConcurrency bounds the GetConnection calls in flight during one
// discovery. Sixteen makes discovery of up to 16 connections a single round
// trip while staying well under Glue's per-account request rate, which many
// jobs starting at the top of the hour share.
const DefaultConcurrency = 16

// Client makes gluenet's AWS calls. Set the exported fields before first use;
// a Client is then safe for concurrent use (as long as Cache is).
type Client struct {
	Glue GlueAPI
	EC2  EC2API
	Logs LogsAPI

	// Cache, when set, remembers each connection's subnet between
	// discoveries so that a warm discovery skips GetConnection.
	Cache SubnetCache
	// Concurrency bounds the GetConnection calls in flight; 0 means
	// DefaultConcurrency. At 1, Survey also makes its calls one at a time.
	Concurrency int
	// ListAbove: when more connections than this must be looked up,
	// discovery lists them with GetConnections first (one round trip per
	// 1000 connections of the catalog) instead of several waves of
	// GetConnection calls. 0 means the concurrency (so up to one wave of
	// GetConnection, the listing above); a negative value never lists.
	ListAbove int
	// Logger receives a debug record per connection left unchecked (the
	// caller warns about them with its plan) and the client's own warnings;
	// nil means slog.Default().
	Logger *slog.Logger
}

// New returns a Client whose SDK clients are built from cfg. When cfg came
// from LoadConfig with Options.Logger set, the Client logs there too.
func New(cfg aws.Config) *Client {
	c := &Client{
		Glue: glue.NewFromConfig(cfg),
		EC2:  ec2.NewFromConfig(cfg),
		Logs: cloudwatchlogs.NewFromConfig(cfg),
	}
	if l, ok := cfg.Logger.(sdkLogger); ok {
		c.Logger = l.l
	}
	return c
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Client) listAbove() int {
	if c.ListAbove > 0 {
		return c.ListAbove
	}
	return c.concurrency()
}

func (c *Client) concurrency() int {
	if c.Concurrency > 0 {
		return c.Concurrency
	}
	return DefaultConcurrency
}
