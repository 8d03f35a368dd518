package sim

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/smithy-go"
)

// TestAnotherRegionSeesNothing: a client configured for another Region
// than the scenario's sees that Region, where nothing exists.
func TestAnotherRegionSeesNothing(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	westGlue := glueClient(e.r.HTTPClient(), InProcessEndpoint)
	westGlue = glue.New(westGlue.Options(), func(o *glue.Options) { o.Region = "eu-west-1" })
	westEC2 := ec2Client(e.r.HTTPClient(), InProcessEndpoint)
	westEC2 = ec2.New(westEC2.Options(), func(o *ec2.Options) { o.Region = "eu-west-1" })
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}

	if _, err := westGlue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)}); code(err) != "EntityNotFoundException" {
		t.Errorf("GetJob in another region: %v, want EntityNotFoundException", err)
	}
	if _, err := westGlue.GetConnection(ctx, &glue.GetConnectionInput{Name: aws.String(conn1)}); code(err) != "EntityNotFoundException" {
		t.Errorf("GetConnection in another region: %v, want EntityNotFoundException", err)
	}
	if out, err := westGlue.GetJobs(ctx, &glue.GetJobsInput{}); err != nil || len(out.Jobs) != 0 {
		t.Errorf("GetJobs in another region: %v %v, want none", out, err)
	}
	if _, err := westGlue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob)}); code(err) != "EntityNotFoundException" {
		t.Errorf("StartJobRun in another region: %v, want EntityNotFoundException", err)
	}
	if out, err := westEC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{}); err != nil || len(out.Subnets) != 0 {
		t.Errorf("DescribeSubnets in another region: %v %v, want none", out, err)
	}
	if _, err := westEC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{sub1}}); code(err) != "InvalidSubnetID.NotFound" {
		t.Errorf("DescribeSubnets by ID in another region: %v, want InvalidSubnetID.NotFound", err)
	}
	if len(e.r.State().Runs) != 0 {
		t.Errorf("a run was started")
	}
	// The scenario's own Region still sees everything.
	if _, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)}); err != nil {
		t.Errorf("GetJob in the scenario's region: %v", err)
	}
}

// TestRunIDsDoNotRepeatAcrossRestarts: the same scenario and seed, started
// again later, hands out other run IDs; started at the same instant, the
// same ones (the region stays reproducible).
func TestRunIDsDoNotRepeatAcrossRestarts(t *testing.T) {
	first := func(start time.Time) string {
		r, err := New(defaultScenario(t), WithClock(NewManualClock(start)), WithSeed(7))
		if err != nil {
			t.Fatal(err)
		}
		g := glueClient(r.HTTPClient(), InProcessEndpoint)
		out, err := g.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob)})
		if err != nil {
			t.Fatal(err)
		}
		id := aws.ToString(out.JobRunId)
		if !regexp.MustCompile(`^jr_[0-9a-f]{64}$`).MatchString(id) {
			t.Fatalf("run ID %q is not Glue's shape", id)
		}
		return id
	}
	a, again, later := first(t0), first(t0), first(t0.Add(time.Second))
	if a != again {
		t.Errorf("same seed and start gave %s then %s", a, again)
	}
	if a == later {
		t.Errorf("a restart of the region reused run ID %s", a)
	}
}

// TestGlueMaxRetriesReuseTheConnection: with MaxRetries, Glue itself
// retries a failed run as <run>_attempt_1, on the connection the failed run
// used, even when the job now lists another connection first.
func TestGlueMaxRetriesReuseTheConnection(t *testing.T) {
	sc := defaultScenario(t)
	sc.Jobs[0].FailureRate = 1
	e := newEnv(t, sc)
	e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
		u.MaxRetries = 1
		u.Connections = &gluetypes.ConnectionsList{Connections: []string{conn1, conn2}}
	})
	id := e.start(t, blogJob)
	if got := e.r.State().Runs[0].SubnetID; got != sub1 {
		t.Fatalf("first run in %s, want %s", got, sub1)
	}
	e.setConnections(t, conn2, conn1) // gluenet would now prefer conn2
	e.at(time.Hour)
	runs, err := e.glue.GetJobRuns(ctx, &glue.GetJobRunsInput{JobName: aws.String(blogJob)})
	mustOK(t, err)
	if len(runs.JobRuns) != 2 {
		t.Fatalf("got %d runs, want the failed run and Glue's one retry", len(runs.JobRuns))
	}
	var retry *gluetypes.JobRun
	for i := range runs.JobRuns {
		if aws.ToString(runs.JobRuns[i].Id) == id+"_attempt_1" {
			retry = &runs.JobRuns[i]
		}
	}
	if retry == nil || retry.Attempt != 1 || aws.ToString(retry.PreviousRunId) != id || retry.JobRunState != gluetypes.JobRunStateFailed {
		t.Fatalf("retry = %+v", retry)
	}
	for _, rs := range e.r.State().Runs {
		if rs.SubnetID != sub1 {
			t.Errorf("run %s in %s: Glue's retry must reuse the failed run's connection (%s)", rs.ID, rs.SubnetID, sub1)
		}
	}
}

// TestENIsLingerAvailableAfterARun: a finished run's ENIs stay, detached
// ("available") and holding their IPs, for the linger, then go.
func TestENIsLingerAvailableAfterARun(t *testing.T) {
	sc := defaultScenario(t)
	sc.ENI.Linger = Duration(5 * time.Hour)
	e := newEnv(t, sc)
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	e.at(time.Hour)
	if st := e.jobRun(t, blogJob, id).JobRunState; st != gluetypes.JobRunStateSucceeded {
		t.Fatalf("run %s", st)
	}
	runENIs := func() []ec2types.NetworkInterface {
		out, err := e.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
		mustOK(t, err)
		var mine []ec2types.NetworkInterface
		for _, ni := range out.NetworkInterfaces {
			if strings.Contains(aws.ToString(ni.Description), id) {
				mine = append(mine, ni)
			}
		}
		return mine
	}
	lingering := runENIs()
	if len(lingering) == 0 {
		t.Fatal("the run's ENIs are gone before the linger")
	}
	for _, ni := range lingering {
		if ni.Status != ec2types.NetworkInterfaceStatusAvailable {
			t.Errorf("lingering ENI %s is %s, want available", aws.ToString(ni.NetworkInterfaceId), ni.Status)
		}
	}
	e.at(7 * time.Hour)
	if left := runENIs(); len(left) != 0 {
		t.Errorf("%d ENIs left after the linger", len(left))
	}
}
