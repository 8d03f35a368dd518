package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"
)

// t0 is the start of every test region.
var t0 = time.Date(2024, 6, 11, 9, 0, 0, 0, time.UTC)

// env is a region on a manual clock with real SDK clients talking to it
// in-process. The clients do not retry, so every call is one request and a
// test sees every injected fault.
type env struct {
	r     *Region
	clock *ManualClock
	glue  *glue.Client
	ec2   *ec2.Client
	logs  *cloudwatchlogs.Client
}

func newEnv(t *testing.T, sc *Scenario, opts ...Option) *env {
	t.Helper()
	clock := NewManualClock(t0)
	r, err := New(sc, append([]Option{WithClock(clock)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &env{r: r, clock: clock, glue: glueClient(r.HTTPClient(), InProcessEndpoint),
		ec2: ec2Client(r.HTTPClient(), InProcessEndpoint), logs: logsClient(r.HTTPClient(), InProcessEndpoint)}
}

var staticCreds = credentials.NewStaticCredentialsProvider("AKIDSIMULATED", "secret", "")

func glueClient(hc aws.HTTPClient, endpoint string) *glue.Client {
	return glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: staticCreds, Retryer: aws.NopRetryer{}})
}

func ec2Client(hc aws.HTTPClient, endpoint string) *ec2.Client {
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: staticCreds, Retryer: aws.NopRetryer{}})
}

func logsClient(hc aws.HTTPClient, endpoint string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: staticCreds, Retryer: aws.NopRetryer{}})
}

// defaultScenario loads the built-in default, failing the test on error.
func defaultScenario(t *testing.T) *Scenario {
	t.Helper()
	sc, err := LoadScenario("default")
	if err != nil {
		t.Fatalf("LoadScenario(default): %v", err)
	}
	return sc
}

// errorCode returns the AWS error code of err, or "" when it has none.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

var ctx = context.Background()

// Names of the default scenario.
const (
	sub1    = "subnet-0a1b2c3d4e5f60011"
	sub2    = "subnet-0a1b2c3d4e5f60022"
	conn1   = "MWAA-Glue-Blog-Subnet1"
	conn2   = "MWAA-Glue-Blog-Subnet2"
	blogJob = "AirflowBlogJob"
)

// setJob replaces the job's definition with its current one, changed by
// edit, the way gluenet (and the post) reuse GetJob's output for UpdateJob.
func (e *env) setJob(t *testing.T, name string, edit func(u *gluetypes.JobUpdate)) {
	t.Helper()
	out, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(name)})
	if err != nil {
		t.Fatalf("GetJob %s: %v", name, err)
	}
	j := out.Job
	u := &gluetypes.JobUpdate{
		Role: j.Role, Command: j.Command, WorkerType: j.WorkerType, NumberOfWorkers: j.NumberOfWorkers,
		Connections: j.Connections, ExecutionProperty: j.ExecutionProperty, Timeout: j.Timeout,
		GlueVersion: j.GlueVersion, DefaultArguments: j.DefaultArguments, MaxRetries: j.MaxRetries,
	}
	if edit != nil {
		edit(u)
	}
	if _, err := e.glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String(name), JobUpdate: u}); err != nil {
		t.Fatalf("UpdateJob %s: %v", name, err)
	}
}

// setConnections sets the job's connection order.
func (e *env) setConnections(t *testing.T, conns ...string) {
	t.Helper()
	e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
		u.Connections = &gluetypes.ConnectionsList{Connections: conns}
	})
}

func (e *env) start(t *testing.T, job string) string {
	t.Helper()
	out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(job)})
	if err != nil {
		t.Fatalf("StartJobRun %s: %v", job, err)
	}
	return *out.JobRunId
}

func (e *env) jobRun(t *testing.T, job, id string) *gluetypes.JobRun {
	t.Helper()
	out, err := e.glue.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(job), RunId: aws.String(id)})
	if err != nil {
		t.Fatalf("GetJobRun %s: %v", id, err)
	}
	return out.JobRun
}

func (e *env) runState(t *testing.T, id string) gluetypes.JobRunState {
	t.Helper()
	return e.jobRun(t, blogJob, id).JobRunState
}

// reportedFree is AvailableIpAddressCount as EC2 reports it.
func (e *env) reportedFree(t *testing.T, subnetID string) int {
	t.Helper()
	out, err := e.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
	if err != nil {
		t.Fatalf("DescribeSubnets %s: %v", subnetID, err)
	}
	return int(*out.Subnets[0].AvailableIpAddressCount)
}

// realFree is the subnet's actual free IPs, from the control state.
func (e *env) realFree(t *testing.T, subnetID string) int {
	t.Helper()
	for _, s := range e.r.State().Subnets {
		if s.ID == subnetID {
			return s.FreeIPs
		}
	}
	t.Fatalf("no subnet %s in state", subnetID)
	return 0
}

// logLines reads a whole log stream; nil when the stream does not exist.
func (e *env) logLines(t *testing.T, group, stream string) []string {
	t.Helper()
	out, err := e.logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartFromHead: aws.Bool(true)})
	if errorCode(err) == "ResourceNotFoundException" {
		return nil
	}
	if err != nil {
		t.Fatalf("GetLogEvents %s %s: %v", group, stream, err)
	}
	var lines []string
	for _, ev := range out.Events {
		lines = append(lines, *ev.Message)
	}
	return lines
}

// mustScenario parses YAML, failing the test on error.
func mustScenario(t *testing.T, y string) *Scenario {
	t.Helper()
	sc, err := ParseScenario([]byte(y))
	if err != nil {
		t.Fatalf("ParseScenario: %v", err)
	}
	return sc
}
