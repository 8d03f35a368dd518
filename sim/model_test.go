package sim

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/gluenet/gluenet/classify"
)

// Messages of the default scenario's failures.
const (
	msgNoIPs1 = "Failed to create network interface in subnet subnet-0a1b2c3d4e5f60011: The specified subnet does not have enough free addresses to satisfy the request. (Service: AmazonEC2; Status Code: 400; Error Code: InsufficientFreeAddressesInSubnet)"
	msgAZDown = "Could not find subnet for AZ us-east-1a"
	// The job executor's texts carry the job name and run id (%[1]s, %[2]s).
	msgZeroIPs1 = "JobName:%[1]s and JobRunId:%[2]s failed to execute with exception Number of IP addresses on subnet is 0: subnet-0a1b2c3d4e5f60011 (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException)"
	msgNoConn   = "JobName:%[1]s and JobRunId:%[2]s failed to execute with exception Could not find connection for the given criteria Failed to get catalog connections given names: Nope (Service: AWSGlueJobExecutor; Status Code: 400; Error Code: InvalidInputException)"
	msgLost1    = "Resource unavailable: lost contact with the workers in subnet subnet-0a1b2c3d4e5f60011 (us-east-1a): network unreachable"
)

func (e *env) at(d time.Duration) { e.clock.Set(t0.Add(d)) }

func TestENILag(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	e.start(t, blogJob)
	// Glue holds the IPs at once; EC2's count catches up after the one-minute lag.
	tests := []struct {
		at             time.Duration
		reported, real int
	}{
		{0, 251, 249},
		{59 * time.Second, 251, 249},
		{time.Minute, 249, 249},
		{5 * time.Minute, 249, 249},
	}
	for _, tt := range tests {
		t.Run(tt.at.String(), func(t *testing.T) {
			e.at(tt.at)
			if got := e.reportedFree(t, sub1); got != tt.reported {
				t.Errorf("reported free = %d, want %d", got, tt.reported)
			}
			if got := e.realFree(t, sub1); got != tt.real {
				t.Errorf("real free = %d, want %d", got, tt.real)
			}
		})
	}
}

// Glue's own placement sees IPs taken by a run that EC2 does not count yet:
// a second run skips the subnet although EC2 still reports enough IPs.
func TestPlacementSeesRealCountDuringLag(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	if err := e.r.Exhaust(sub1, 3); err != nil {
		t.Fatal(err)
	}
	e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
		u.Connections = &gluetypes.ConnectionsList{Connections: []string{conn1, conn2}}
		u.ExecutionProperty = &gluetypes.ExecutionProperty{MaxConcurrentRuns: 5}
	})
	first := e.start(t, blogJob)
	if got := e.reportedFree(t, sub1); got != 3 {
		t.Fatalf("EC2 reports %d free in %s during the lag, want the old 3", got, sub1)
	}
	second := e.start(t, blogJob)
	placed := map[string]string{}
	for _, rs := range e.r.State().Runs {
		placed[rs.ID] = rs.SubnetID
	}
	if placed[first] != sub1 || placed[second] != sub2 {
		t.Errorf("runs placed in %s and %s, want %s then %s", placed[first], placed[second], sub1, sub2)
	}
}

func TestUnderCapacityStart(t *testing.T) {
	sc, err := LoadScenario("ip-pressure")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, sc)
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	st := e.r.State()
	if rs := st.Runs[0]; rs.RequestedIPs != 10 || rs.AllocatedIPs != 4 {
		t.Errorf("run got %d of %d IPs, want 4 of 10", rs.AllocatedIPs, rs.RequestedIPs)
	}
	e.at(time.Minute)
	if got := e.runState(t, id); got != gluetypes.JobRunStateRunning {
		t.Fatalf("state after startup = %s, want RUNNING", got)
	}
	lines := e.logLines(t, outputLogGroup, id)
	if len(lines) != 2 {
		t.Fatalf("output log = %q, want 2 lines", lines)
	}
	if want := "Running with 4 of 10 requested workers: subnet " + sub1 + " had 4 free IP addresses"; lines[0] != want {
		t.Errorf("first line = %q, want %q", lines[0], want)
	}
	checkDriverLine(t, lines[1], "10.192.20.0/24", "PrivateSubnet1")
	e.at(time.Hour)
	if got := e.runState(t, id); got != gluetypes.JobRunStateSucceeded {
		t.Errorf("final state = %s, want SUCCEEDED (under capacity is not a failure)", got)
	}
}

// checkDriverLine checks the line of the post's script: an IP of the CIDR
// that is not one AWS reserves, and the subnet's name.
func checkDriverLine(t *testing.T, line, cidr, name string) {
	t.Helper()
	var ip, got string
	if _, err := fmt.Sscanf(line, "The driver node has been assigned the ip: %s which belongs to the subnet: %s", &ip, &got); err != nil {
		t.Fatalf("driver line %q: %v", line, err)
	}
	if got != name {
		t.Errorf("driver line names subnet %q, want %q", got, name)
	}
	if cidr == "" {
		return
	}
	a, err := netip.ParseAddr(ip)
	p := netip.MustParsePrefix(cidr)
	if err != nil || !p.Contains(a) {
		t.Fatalf("driver IP %q not in %s", ip, cidr)
	}
	last := p.Addr().As4()
	last[3] = 255
	if off := a.As4()[3]; off < 4 || a == netip.AddrFrom4(last) {
		t.Errorf("driver IP %s is an address AWS reserves", a)
	}
}

func TestGlueConnectionChoice(t *testing.T) {
	msgNoSubnet := "Failed to create network interface in subnet subnet-00000000000000dead: The subnet ID 'subnet-00000000000000dead' does not exist (Service: AmazonEC2; Status Code: 400; Error Code: InvalidSubnetID.NotFound)"
	tests := []struct {
		name       string
		setup      func(t *testing.T, e *env)
		conns      []string
		wantSubnet string // "" when the run gets no subnet
		wantName   string // subnet name in the driver line; "" when the run fails
		wantState  gluetypes.JobRunState
		wantError  string
	}{
		{name: "first listed connection", conns: []string{conn1, conn2},
			wantSubnet: sub1, wantName: "PrivateSubnet1", wantState: gluetypes.JobRunStateSucceeded},
		{name: "order decides", conns: []string{conn2, conn1},
			wantSubnet: sub2, wantName: "PrivateSubnet2", wantState: gluetypes.JobRunStateSucceeded},
		{name: "skips a subnet with one free IP", conns: []string{conn1, conn2},
			setup:      func(t *testing.T, e *env) { mustOK(t, e.r.Exhaust(sub1, 1)) },
			wantSubnet: sub2, wantName: "PrivateSubnet2", wantState: gluetypes.JobRunStateSucceeded},
		{name: "two free IPs are enough to start", conns: []string{conn1, conn2},
			setup:      func(t *testing.T, e *env) { mustOK(t, e.r.Exhaust(sub1, 2)) },
			wantSubnet: sub1, wantName: "PrivateSubnet1", wantState: gluetypes.JobRunStateSucceeded},
		{name: "skips an AZ that is down", conns: []string{conn1, conn2},
			setup:      func(t *testing.T, e *env) { mustOK(t, e.r.SetAZState("us-east-1a", AZDown)) },
			wantSubnet: sub2, wantName: "PrivateSubnet2", wantState: gluetypes.JobRunStateSucceeded},
		{name: "no free IPs anywhere", conns: []string{conn1},
			setup:     func(t *testing.T, e *env) { mustOK(t, e.r.Exhaust(sub1, 1)) },
			wantState: gluetypes.JobRunStateFailed, wantError: msgNoIPs1},
		{name: "no IP at all: the job executor's text", conns: []string{conn1},
			setup:     func(t *testing.T, e *env) { mustOK(t, e.r.Exhaust(sub1, 0)) },
			wantState: gluetypes.JobRunStateFailed, wantError: msgZeroIPs1},
		{name: "a listed connection that does not exist fails the run, as Glue looks every name up first", conns: []string{"Nope", conn2},
			wantState: gluetypes.JobRunStateFailed, wantError: msgNoConn},
		{name: "only AZ is down", conns: []string{conn1},
			setup:     func(t *testing.T, e *env) { mustOK(t, e.r.SetAZState("us-east-1a", AZDown)) },
			wantState: gluetypes.JobRunStateFailed, wantError: msgAZDown},
		{name: "subnet does not exist", conns: []string{"Ghost"},
			setup:     createGhostConnection,
			wantState: gluetypes.JobRunStateFailed, wantError: msgNoSubnet},
		{name: "skips a missing subnet", conns: []string{"Ghost", conn2},
			setup:      createGhostConnection,
			wantSubnet: sub2, wantName: "PrivateSubnet2", wantState: gluetypes.JobRunStateSucceeded},
		{name: "no connections: outside the VPC", conns: nil,
			wantName: "unknown", wantState: gluetypes.JobRunStateSucceeded},
		{name: "degraded AZ passes the health check, then fails", conns: []string{conn1, conn2},
			setup:      func(t *testing.T, e *env) { mustOK(t, e.r.SetAZState("us-east-1a", AZDegraded)) },
			wantSubnet: sub1, wantName: "PrivateSubnet1", wantState: gluetypes.JobRunStateFailed, wantError: msgLost1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultScenario(t))
			if tt.setup != nil {
				tt.setup(t, e)
			}
			e.setConnections(t, tt.conns...)
			id := e.start(t, blogJob)
			rs := e.r.State().Runs[0]
			if rs.SubnetID != tt.wantSubnet {
				t.Errorf("placed in %q, want %q", rs.SubnetID, tt.wantSubnet)
			}
			e.at(time.Hour)
			run := e.jobRun(t, blogJob, id)
			if strings.Contains(tt.wantError, "%[2]s") {
				tt.wantError = fmt.Sprintf(tt.wantError, blogJob, id)
			}
			if run.JobRunState != tt.wantState || aws.ToString(run.ErrorMessage) != tt.wantError {
				t.Errorf("run ended %s %q, want %s %q", run.JobRunState, aws.ToString(run.ErrorMessage), tt.wantState, tt.wantError)
			}
			// The region's failure texts are real ones: gluenet's rules,
			// held to the corpus of real texts, recognise every one.
			if v := classify.RunOutcome(string(run.JobRunState), aws.ToString(run.ErrorMessage)); run.JobRunState == gluetypes.JobRunStateFailed && v.Class == classify.Unknown {
				t.Errorf("the region's failure text %q is not recognised: %v", aws.ToString(run.ErrorMessage), v)
			}
			out := e.logLines(t, outputLogGroup, id)
			if tt.wantName == "" {
				if len(out) != 0 {
					t.Errorf("a run that never started wrote output %q", out)
				}
			} else {
				if len(out) != 1 {
					t.Fatalf("output log = %q, want the driver line", out)
				}
				cidr := map[string]string{sub1: "10.192.20.0/24", sub2: "10.192.21.0/24"}[tt.wantSubnet]
				checkDriverLine(t, out[0], cidr, tt.wantName)
			}
			errLog := e.logLines(t, errorLogGroup, id)
			if tt.wantError != "" && !slices.Equal(errLog, []string{tt.wantError}) {
				t.Errorf("error log = %q, want %q", errLog, tt.wantError)
			}
			if tt.wantError == "" && errLog != nil {
				t.Errorf("error log of a successful run = %q", errLog)
			}
		})
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func createGhostConnection(t *testing.T, e *env) {
	t.Helper()
	_, err := e.glue.CreateConnection(ctx, &glue.CreateConnectionInput{ConnectionInput: &gluetypes.ConnectionInput{
		Name: aws.String("Ghost"), ConnectionType: gluetypes.ConnectionTypeNetwork, ConnectionProperties: map[string]string{},
		PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{SubnetId: aws.String("subnet-00000000000000dead")},
	}})
	mustOK(t, err)
}

func TestAZFaultTiming(t *testing.T) {
	t.Run("placement failure comes after the placement delay", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		mustOK(t, e.r.SetAZState("us-east-1a", AZDown))
		e.setConnections(t, conn1)
		id := e.start(t, blogJob)
		e.at(14 * time.Second)
		if got := e.runState(t, id); got != gluetypes.JobRunStateStarting {
			t.Errorf("state at 14s = %s, want STARTING", got)
		}
		e.at(15 * time.Second)
		run := e.jobRun(t, blogJob, id)
		if run.JobRunState != gluetypes.JobRunStateFailed || !run.CompletedOn.Equal(t0.Add(15*time.Second)) {
			t.Errorf("at 15s: %s completed %v, want FAILED at 15s", run.JobRunState, run.CompletedOn)
		}
		if e.realFree(t, sub1) != 251 {
			t.Errorf("a run that could not be placed holds IPs")
		}
	})
	t.Run("degraded: runs, then loses its workers", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		mustOK(t, e.r.SetAZState("us-east-1a", AZDegraded))
		e.setConnections(t, conn1)
		id := e.start(t, blogJob)
		e.at(time.Minute)
		if got := e.runState(t, id); got != gluetypes.JobRunStateRunning {
			t.Errorf("state at 1m = %s, want RUNNING", got)
		}
		e.at(2 * time.Minute)
		run := e.jobRun(t, blogJob, id)
		if run.JobRunState != gluetypes.JobRunStateFailed || aws.ToString(run.ErrorMessage) != msgLost1 {
			t.Errorf("at 2m: %s %q, want FAILED %q", run.JobRunState, aws.ToString(run.ErrorMessage), msgLost1)
		}
	})
	t.Run("AZ goes down under a running run", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		e.setConnections(t, conn1)
		id := e.start(t, blogJob)
		e.at(3 * time.Minute)
		mustOK(t, e.r.SetAZState("us-east-1a", AZDown))
		e.at(5*time.Minute - time.Second)
		if got := e.runState(t, id); got != gluetypes.JobRunStateRunning {
			t.Errorf("state 2m after the outage minus 1s = %s, want RUNNING", got)
		}
		e.at(5 * time.Minute)
		run := e.jobRun(t, blogJob, id)
		if run.JobRunState != gluetypes.JobRunStateFailed || aws.ToString(run.ErrorMessage) != msgLost1 {
			t.Errorf("at 5m: %s %q, want FAILED %q", run.JobRunState, aws.ToString(run.ErrorMessage), msgLost1)
		}
	})
	t.Run("healthy again", func(t *testing.T) {
		e := newEnv(t, defaultScenario(t))
		mustOK(t, e.r.SetAZState("us-east-1a", AZDown))
		mustOK(t, e.r.SetAZState("us-east-1a", AZHealthy))
		e.setConnections(t, conn1)
		id := e.start(t, blogJob)
		e.at(time.Hour)
		if got := e.runState(t, id); got != gluetypes.JobRunStateSucceeded {
			t.Errorf("state = %s, want SUCCEEDED", got)
		}
	})
}

func TestLinger(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	e.at(30 * time.Minute)
	run := e.jobRun(t, blogJob, id)
	if run.JobRunState != gluetypes.JobRunStateSucceeded {
		t.Fatalf("state = %s, want SUCCEEDED", run.JobRunState)
	}
	end := run.CompletedOn.Sub(t0)
	if end < 10*time.Minute+30*time.Second || end > 11*time.Minute+30*time.Second {
		t.Errorf("run ended %v after the start, want 1m startup + 10m±30s", end)
	}
	if run.ExecutionTime < 570 || run.ExecutionTime > 630 {
		t.Errorf("ExecutionTime = %d s, want about 600", run.ExecutionTime)
	}
	// A fresh env replays the same run (same seed) to look at the IPs
	// around the end: they come back two minutes (the linger) after it.
	e2 := newEnv(t, defaultScenario(t))
	e2.setConnections(t, conn1)
	e2.start(t, blogJob)
	for _, tt := range []struct {
		at   time.Duration
		free int
	}{{end, 249}, {end + 2*time.Minute - time.Millisecond, 249}, {end + 2*time.Minute, 251}} {
		e2.at(tt.at)
		if got, rep := e2.realFree(t, sub1), e2.reportedFree(t, sub1); got != tt.free || rep != tt.free {
			t.Errorf("at %v: free %d, reported %d, want %d", tt.at, got, rep, tt.free)
		}
	}
}

func TestJobCodeFailure(t *testing.T) {
	const msg = "Error Category: UNCLASSIFIED_ERROR; ValueError: simulated failure in the job script (not network related)"
	for _, rate := range []float64{0, 1} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			sc := defaultScenario(t)
			sc.Jobs[0].FailureRate = rate
			e := newEnv(t, sc)
			e.setConnections(t, conn1)
			id := e.start(t, blogJob)
			e.at(time.Hour)
			run := e.jobRun(t, blogJob, id)
			want, wantMsg := gluetypes.JobRunStateSucceeded, ""
			if rate == 1 {
				want, wantMsg = gluetypes.JobRunStateFailed, msg
			}
			if run.JobRunState != want || aws.ToString(run.ErrorMessage) != wantMsg {
				t.Errorf("run ended %s %q, want %s %q", run.JobRunState, aws.ToString(run.ErrorMessage), want, wantMsg)
			}
			if rate == 1 && run.CompletedOn.Sub(*run.StartedOn) < time.Minute {
				t.Errorf("the code failed before the run was RUNNING")
			}
		})
	}
}

func TestMaxConcurrentRuns(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	e.start(t, blogJob)
	_, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob)})
	var ce *gluetypes.ConcurrentRunsExceededException
	if !errors.As(err, &ce) || ce.ErrorMessage() != "Concurrent runs exceeded for AirflowBlogJob" {
		t.Fatalf("second run: %v, want ConcurrentRunsExceededException with Glue's message", err)
	}
	e.at(time.Hour)
	e.start(t, blogJob) // the first run ended: a slot is free again

	e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
		u.ExecutionProperty = &gluetypes.ExecutionProperty{MaxConcurrentRuns: 3}
	})
	e.start(t, blogJob)
	e.start(t, blogJob)
	if _, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob)}); errorCode(err) != "ConcurrentRunsExceededException" {
		t.Errorf("fourth concurrent run with MaxConcurrentRuns 3: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		name       string
		jobTimeout int32
		runTimeout *int32
		want       time.Duration
	}{
		{"job timeout", 5, nil, 5 * time.Minute},
		{"run override", 60, aws.Int32(3), 3 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, defaultScenario(t))
			e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) { u.Timeout = aws.Int32(tt.jobTimeout) })
			out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob), Timeout: tt.runTimeout})
			mustOK(t, err)
			e.at(time.Hour)
			run := e.jobRun(t, blogJob, *out.JobRunId)
			minutes := int(tt.want / time.Minute)
			wantMsg := fmt.Sprintf("Job run timed out after %d minutes", minutes)
			if run.JobRunState != gluetypes.JobRunStateTimeout || aws.ToString(run.ErrorMessage) != wantMsg {
				t.Errorf("run ended %s %q, want TIMEOUT %q", run.JobRunState, aws.ToString(run.ErrorMessage), wantMsg)
			}
			if !run.CompletedOn.Equal(t0.Add(tt.want)) || aws.ToInt32(run.Timeout) != int32(minutes) {
				t.Errorf("completed %v with Timeout %d, want %v and %d", run.CompletedOn, aws.ToInt32(run.Timeout), t0.Add(tt.want), minutes)
			}
		})
	}
}

func TestBatchStopJobRun(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	e.at(2 * time.Minute)
	out, err := e.glue.BatchStopJobRun(ctx, &glue.BatchStopJobRunInput{JobName: aws.String(blogJob), JobRunIds: []string{id, "jr_unknown"}})
	mustOK(t, err)
	if len(out.SuccessfulSubmissions) != 1 || aws.ToString(out.SuccessfulSubmissions[0].JobRunId) != id {
		t.Errorf("successful submissions = %+v, want %s", out.SuccessfulSubmissions, id)
	}
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].JobRunId) != "jr_unknown" ||
		aws.ToString(out.Errors[0].ErrorDetail.ErrorCode) != "EntityNotFoundException" {
		t.Errorf("errors = %+v, want EntityNotFoundException for jr_unknown", out.Errors)
	}
	if got := e.runState(t, id); got != gluetypes.JobRunStateStopping {
		t.Errorf("state right after the stop = %s, want STOPPING", got)
	}
	e.at(2*time.Minute + 10*time.Second)
	run := e.jobRun(t, blogJob, id)
	if run.JobRunState != gluetypes.JobRunStateStopped || run.ErrorMessage != nil {
		t.Errorf("state after the stop delay = %s %q, want STOPPED", run.JobRunState, aws.ToString(run.ErrorMessage))
	}
	e.at(time.Hour)
	if got := e.runState(t, id); got != gluetypes.JobRunStateStopped {
		t.Errorf("a stopped run became %s", got)
	}
	if got := e.realFree(t, sub1); got != 251 {
		t.Errorf("free IPs after the stop and the linger = %d, want 251", got)
	}
	out, err = e.glue.BatchStopJobRun(ctx, &glue.BatchStopJobRunInput{JobName: aws.String(blogJob), JobRunIds: []string{id}})
	mustOK(t, err)
	if len(out.Errors) != 1 || aws.ToString(out.Errors[0].ErrorDetail.ErrorCode) != "InvalidInputException" {
		t.Errorf("stopping a stopped run: %+v, want an InvalidInputException entry", out.Errors)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	var wantJobs []string
	for i := range 6 {
		name := fmt.Sprintf("job-%02d", i)
		wantJobs = append(wantJobs, name)
		_, err := e.glue.CreateJob(ctx, &glue.CreateJobInput{Name: aws.String(name), Role: aws.String("role"),
			Command: &gluetypes.JobCommand{Name: aws.String("glueetl")}})
		mustOK(t, err)
	}
	wantJobs = append([]string{blogJob}, wantJobs...)
	for i := range 3 {
		_, err := e.glue.CreateConnection(ctx, &glue.CreateConnectionInput{ConnectionInput: &gluetypes.ConnectionInput{
			Name: aws.String(fmt.Sprintf("extra-%d", i)), ConnectionType: gluetypes.ConnectionTypeNetwork,
			ConnectionProperties:           map[string]string{},
			PhysicalConnectionRequirements: &gluetypes.PhysicalConnectionRequirements{SubnetId: aws.String(sub2)},
		}})
		mustOK(t, err)
	}
	e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
		u.ExecutionProperty = &gluetypes.ExecutionProperty{MaxConcurrentRuns: 10}
	})
	var started []string
	for range 5 {
		started = append(started, e.start(t, blogJob))
		e.clock.Advance(time.Second)
	}
	slices.Reverse(started) // Glue lists the newest run first

	t.Run("GetJobs", func(t *testing.T) {
		var got []string
		pages := 0
		p := glue.NewGetJobsPaginator(e.glue, &glue.GetJobsInput{MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			mustOK(t, err)
			pages++
			for _, j := range out.Jobs {
				got = append(got, *j.Name)
			}
		}
		if !slices.Equal(got, wantJobs) || pages != 4 {
			t.Errorf("jobs = %q in %d pages, want %q in 4", got, pages, wantJobs)
		}
	})
	t.Run("GetJobRuns", func(t *testing.T) {
		var got []string
		p := glue.NewGetJobRunsPaginator(e.glue, &glue.GetJobRunsInput{JobName: aws.String(blogJob), MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			mustOK(t, err)
			for _, r := range out.JobRuns {
				got = append(got, *r.Id)
			}
		}
		if !slices.Equal(got, started) {
			t.Errorf("runs = %q, want newest first %q", got, started)
		}
	})
	t.Run("GetConnections", func(t *testing.T) {
		var got []string
		p := glue.NewGetConnectionsPaginator(e.glue, &glue.GetConnectionsInput{MaxResults: aws.Int32(2)})
		for p.HasMorePages() {
			out, err := p.NextPage(ctx)
			mustOK(t, err)
			for _, c := range out.ConnectionList {
				got = append(got, *c.Name)
			}
		}
		want := []string{conn1, conn2, "extra-0", "extra-1", "extra-2"}
		if !slices.Equal(got, want) {
			t.Errorf("connections = %q, want %q", got, want)
		}
	})
	t.Run("bad token", func(t *testing.T) {
		_, err := e.glue.GetJobs(ctx, &glue.GetJobsInput{NextToken: aws.String("!!not a token")})
		if errorCode(err) != "InvalidInputException" {
			t.Errorf("GetJobs with a bad token: %v, want InvalidInputException", err)
		}
	})
	t.Run("MaxResults out of range", func(t *testing.T) {
		_, err := e.glue.GetJobRuns(ctx, &glue.GetJobRunsInput{JobName: aws.String(blogJob), MaxResults: aws.Int32(201)})
		if errorCode(err) != "InvalidInputException" {
			t.Errorf("GetJobRuns MaxResults 201: %v, want InvalidInputException", err)
		}
	})
}

func TestUpdateJobReplacesDefinition(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	_, err := e.glue.CreateJob(ctx, &glue.CreateJobInput{
		Name: aws.String("etl"), Role: aws.String("role-a"),
		Command:              &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/a.py")},
		Description:          aws.String("first version"),
		DefaultArguments:     map[string]string{"--flag": "1"},
		MaxRetries:           3,
		Timeout:              aws.Int32(30),
		WorkerType:           gluetypes.WorkerTypeG1x,
		NumberOfWorkers:      aws.Int32(4),
		NotificationProperty: &gluetypes.NotificationProperty{NotifyDelayAfter: aws.Int32(5)},
		Tags:                 map[string]string{"team": "data"},
	})
	mustOK(t, err)
	e.clock.Advance(time.Minute)
	_, err = e.glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String("etl"), JobUpdate: &gluetypes.JobUpdate{
		Role:                 aws.String("role-b"),
		Command:              &gluetypes.JobCommand{Name: aws.String("glueetl"), ScriptLocation: aws.String("s3://b/b.py")},
		WorkerType:           gluetypes.WorkerTypeG2x,
		NumberOfWorkers:      aws.Int32(3),
		SourceControlDetails: &gluetypes.SourceControlDetails{Provider: gluetypes.SourceControlProviderGithub, Repository: aws.String("repo")},
		MaintenanceWindow:    aws.String("Sun:12"),
		ExecutionClass:       gluetypes.ExecutionClassStandard,
	}})
	mustOK(t, err)
	out, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("etl")})
	mustOK(t, err)
	j := out.Job
	checks := []struct {
		name      string
		got, want any
	}{
		{"Role", aws.ToString(j.Role), "role-b"},
		{"ScriptLocation", aws.ToString(j.Command.ScriptLocation), "s3://b/b.py"},
		{"Description (reset)", j.Description, (*string)(nil)},
		{"DefaultArguments (reset)", len(j.DefaultArguments), 0},
		{"MaxRetries (reset)", j.MaxRetries, int32(0)},
		{"Timeout (default)", aws.ToInt32(j.Timeout), int32(2880)},
		{"NotificationProperty (reset)", j.NotificationProperty, (*gluetypes.NotificationProperty)(nil)},
		{"ExecutionProperty (default)", j.ExecutionProperty.MaxConcurrentRuns, int32(1)},
		{"SourceControlDetails (kept)", aws.ToString(j.SourceControlDetails.Repository), "repo"},
		{"MaintenanceWindow (kept)", aws.ToString(j.MaintenanceWindow), "Sun:12"},
		{"ExecutionClass (kept)", j.ExecutionClass, gluetypes.ExecutionClassStandard},
		{"WorkerType", j.WorkerType, gluetypes.WorkerTypeG2x},
		{"MaxCapacity (computed)", aws.ToFloat64(j.MaxCapacity), 6.0},
		//lint:ignore SA1019 Glue still returns the deprecated field; the post deletes it before UpdateJob.
		{"AllocatedCapacity (computed)", j.AllocatedCapacity, int32(6)},
		{"CreatedOn (kept)", j.CreatedOn.Equal(t0), true},
		{"LastModifiedOn", j.LastModifiedOn.Equal(t0.Add(time.Minute)), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestJobValidation(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	get, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)})
	mustOK(t, err)
	j := get.Job
	base := func() *gluetypes.JobUpdate {
		return &gluetypes.JobUpdate{Role: j.Role, Command: j.Command, WorkerType: j.WorkerType, NumberOfWorkers: j.NumberOfWorkers}
	}
	tests := []struct {
		name string
		edit func(u *gluetypes.JobUpdate)
		want string // error code, "" for success
	}{
		{"as is", func(*gluetypes.JobUpdate) {}, ""},
		{"GetJob's MaxCapacity reused", func(u *gluetypes.JobUpdate) { u.MaxCapacity = j.MaxCapacity }, "InvalidInputException"},
		//lint:ignore SA1019 reusing the deprecated field is the mistake under test.
		{"GetJob's AllocatedCapacity reused", func(u *gluetypes.JobUpdate) { u.AllocatedCapacity = j.AllocatedCapacity }, "InvalidInputException"},
		{"one worker", func(u *gluetypes.JobUpdate) { u.NumberOfWorkers = aws.Int32(1) }, "InvalidInputException"},
		{"workers without type", func(u *gluetypes.JobUpdate) { u.WorkerType = "" }, "InvalidInputException"},
		{"no role", func(u *gluetypes.JobUpdate) { u.Role = nil }, "InvalidInputException"},
		{"no command", func(u *gluetypes.JobUpdate) { u.Command = nil }, "InvalidInputException"},
		{"capacity only", func(u *gluetypes.JobUpdate) {
			u.WorkerType, u.NumberOfWorkers, u.MaxCapacity = "", nil, aws.Float64(5)
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := base()
			tt.edit(u)
			_, err := e.glue.UpdateJob(ctx, &glue.UpdateJobInput{JobName: aws.String(blogJob), JobUpdate: u})
			if got := errorCode(err); got != tt.want {
				t.Errorf("UpdateJob error code = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
	t.Run("StartJobRun override below the minimum", func(t *testing.T) {
		e.setJob(t, blogJob, func(u *gluetypes.JobUpdate) {
			u.WorkerType, u.NumberOfWorkers, u.MaxCapacity = gluetypes.WorkerTypeG1x, aws.Int32(2), nil
		})
		_, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(blogJob), NumberOfWorkers: aws.Int32(1)})
		var ie *gluetypes.InvalidInputException
		if !errors.As(err, &ie) || !strings.Contains(ie.ErrorMessage(), "minimum allowed value of Number of Workers is 2") {
			t.Errorf("StartJobRun with 1 worker: %v", err)
		}
	})
}

func TestStartJobRunOverrides(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{
		JobName: aws.String(blogJob), NumberOfWorkers: aws.Int32(7), WorkerType: gluetypes.WorkerTypeG2x,
		Arguments: map[string]string{"--day": "2024-06-11"},
	})
	mustOK(t, err)
	run := e.jobRun(t, blogJob, *out.JobRunId)
	if aws.ToInt32(run.NumberOfWorkers) != 7 || run.WorkerType != gluetypes.WorkerTypeG2x ||
		run.Arguments["--day"] != "2024-06-11" || aws.ToFloat64(run.MaxCapacity) != 14 {
		t.Errorf("run = workers %d type %s args %v capacity %v", aws.ToInt32(run.NumberOfWorkers), run.WorkerType, run.Arguments, aws.ToFloat64(run.MaxCapacity))
	}
	if got := e.realFree(t, sub1); got != 251-7 {
		t.Errorf("free IPs = %d, want %d (one per worker)", got, 251-7)
	}
}

func TestDeleteJobAndConnection(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	e.setConnections(t, conn1)
	id := e.start(t, blogJob)
	_, err := e.glue.DeleteJob(ctx, &glue.DeleteJobInput{JobName: aws.String(blogJob)})
	mustOK(t, err)
	if _, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(blogJob)}); errorCode(err) != "EntityNotFoundException" {
		t.Errorf("GetJob after delete: %v", err)
	}
	if _, err := e.glue.GetJobRun(ctx, &glue.GetJobRunInput{JobName: aws.String(blogJob), RunId: aws.String(id)}); errorCode(err) != "EntityNotFoundException" {
		t.Errorf("GetJobRun after delete: %v", err)
	}
	// Deleting a missing job succeeds, as in Glue.
	if _, err := e.glue.DeleteJob(ctx, &glue.DeleteJobInput{JobName: aws.String(blogJob)}); err != nil {
		t.Errorf("second DeleteJob: %v", err)
	}
	// The deleted job's run still gives its IPs back.
	e.at(time.Hour)
	if got := e.realFree(t, sub1); got != 251 {
		t.Errorf("free IPs after the orphan run = %d, want 251", got)
	}
	_, err = e.glue.DeleteConnection(ctx, &glue.DeleteConnectionInput{ConnectionName: aws.String(conn1)})
	mustOK(t, err)
	if _, err := e.glue.DeleteConnection(ctx, &glue.DeleteConnectionInput{ConnectionName: aws.String(conn1)}); errorCode(err) != "EntityNotFoundException" {
		t.Errorf("second DeleteConnection: %v", err)
	}
}

func TestDeterminism(t *testing.T) {
	trace := func(opts ...Option) []string {
		e := newEnv(t, defaultScenario(t), opts...)
		e.setConnections(t, conn1, conn2)
		var out []string
		for range 3 {
			id := e.start(t, blogJob)
			e.clock.Advance(time.Hour)
			run := e.jobRun(t, blogJob, id)
			out = append(out, id, run.CompletedOn.String())
			out = append(out, e.logLines(t, outputLogGroup, id)...)
		}
		return out
	}
	a, b := trace(), trace()
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different results:\n%q\n%q", a, b)
	}
	if c := trace(WithSeed(7)); slices.Equal(a, c) {
		t.Errorf("another seed gave the same results")
	}
}

func TestScenarioFaultTimeline(t *testing.T) {
	t.Run("az-down", func(t *testing.T) {
		sc, err := LoadScenario("az-down")
		mustOK(t, err)
		e := newEnv(t, sc)
		azState := func() AZState {
			for _, z := range e.r.State().AZs {
				if z.Name == "us-east-1a" {
					return z.State
				}
			}
			return ""
		}
		if got := azState(); got != AZDown {
			t.Errorf("us-east-1a at the start = %s, want down", got)
		}
		e.at(30*time.Minute - time.Second)
		if got := azState(); got != AZDown {
			t.Errorf("us-east-1a before 30m = %s, want down", got)
		}
		e.at(30 * time.Minute)
		if got := azState(); got != AZHealthy {
			t.Errorf("us-east-1a at 30m = %s, want healthy", got)
		}
	})
	t.Run("throttling", func(t *testing.T) {
		sc, err := LoadScenario("throttling")
		mustOK(t, err)
		e := newEnv(t, sc)
		if f := e.r.State().Faults.Throttle; f["glue"] != 0.3 || f["ec2"] != 0.3 || f["logs"] != 0 {
			t.Errorf("throttle at the start = %v", f)
		}
		e.at(20 * time.Minute)
		if f := e.r.State().Faults.Throttle; len(f) != 0 {
			t.Errorf("throttle after 20m = %v, want none", f)
		}
	})
	t.Run("exhaust entry", func(t *testing.T) {
		sc := defaultScenario(t)
		sc.Faults = []FaultSpec{{At: Duration(5 * time.Minute), Exhaust: &ExhaustFault{Subnet: sub2, LeaveFree: 3}}}
		e := newEnv(t, sc)
		e.at(5 * time.Minute)
		if got := e.reportedFree(t, sub2); got != 3 {
			t.Errorf("free in %s after the exhaust entry = %d, want 3", sub2, got)
		}
	})
}

func TestExhaust(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	_, err := e.r.EC2().CreateNetworkInterface(ctx, ec2CreateInput(sub1))
	mustOK(t, err)
	steps := []struct {
		leave, want int
	}{{3, 3}, {0, 0}, {100, 100}, {251, 250}, {300, 250}}
	for _, s := range steps {
		mustOK(t, e.r.Exhaust(sub1, s.leave))
		if got, rep := e.realFree(t, sub1), e.reportedFree(t, sub1); got != s.want || rep != s.want {
			t.Errorf("Exhaust(leave %d): free %d reported %d, want %d (the API-made ENI stays)", s.leave, got, rep, s.want)
		}
	}
	if err := e.r.Exhaust("subnet-nope", 1); err == nil {
		t.Error("Exhaust of an unknown subnet succeeded")
	}
	if err := e.r.Exhaust(sub1, -1); err == nil {
		t.Error("Exhaust with a negative count succeeded")
	}
}

func TestRunWithoutWorkerType(t *testing.T) {
	e := newEnv(t, defaultScenario(t))
	_, err := e.glue.CreateJob(ctx, &glue.CreateJobInput{
		Name: aws.String("shell"), Role: aws.String("role"),
		Command:     &gluetypes.JobCommand{Name: aws.String("pythonshell")},
		MaxCapacity: aws.Float64(0.0625),
		Connections: &gluetypes.ConnectionsList{Connections: []string{conn2}},
	})
	mustOK(t, err)
	// One node: Glue starts it in a subnet with a single free IP.
	mustOK(t, e.r.Exhaust(sub2, 1))
	id := e.start(t, "shell")
	if got := e.realFree(t, sub2); got != 0 {
		t.Errorf("a Python shell run left %d of 1 free IP, want it to take the one", got)
	}
	e.at(time.Hour)
	if got := e.jobRun(t, "shell", id).JobRunState; got != gluetypes.JobRunStateSucceeded {
		t.Errorf("state = %s", got)
	}
}
