package sim

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
)

// Names of the queuing scenario: two /28 subnets (11 usable IPs each), a
// job "big" that wants 10 workers in qSubA, a job "one" (MaxConcurrentRuns
// 1) in qSubB.
const (
	qSubA = "subnet-0000000000000aaa1"
	qSubB = "subnet-0000000000000aaa2"
)

func queueScenario(t *testing.T, glueYAML string) *Scenario {
	t.Helper()
	return mustScenario(t, `
seed: 7
vpc: {id: vpc-0000000000000aaaa, cidr: 10.0.0.0/16}
subnets:
  - {id: `+qSubA+`, name: A, cidr: 10.0.1.0/28, az: us-east-1a}
  - {id: `+qSubB+`, name: B, cidr: 10.0.2.0/28, az: us-east-1b}
connections:
  - {name: cA, subnet: `+qSubA+`}
  - {name: cB, subnet: `+qSubB+`}
jobs:
  - {name: big, role: arn:aws:iam::123456789012:role/g, workers: 10, worker_type: G.1X, connections: [cA],
     max_concurrent_runs: 5, startup: 1m, duration: 10m}
  - {name: one, role: arn:aws:iam::123456789012:role/g, workers: 2, worker_type: G.1X, connections: [cB],
     max_concurrent_runs: 1, startup: 1m, duration: 10m}
eni: {lag: 0s, linger: 2m}
glue: {`+glueYAML+`}
`)
}

func (e *env) startRun(t *testing.T, job string, queuing *bool) string {
	t.Helper()
	out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(job), JobRunQueuingEnabled: queuing})
	if err != nil {
		t.Fatalf("StartJobRun %s: %v", job, err)
	}
	return *out.JobRunId
}

// runRecord returns the model's record of a run.
func (e *env) runRecord(t *testing.T, id string) RunRecord {
	t.Helper()
	for _, r := range e.r.RunRecords() {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no run %s", id)
	return RunRecord{}
}

// The job's MaxConcurrentRuns reached: with queuing (the run's setting, else
// the job's, else the scenario's), the run is WAITING with the documented
// reason instead of refused.
func TestQueuingInsteadOfConcurrentRunsExceeded(t *testing.T) {
	tests := []struct {
		name     string
		knob     bool
		job, run *bool
		queued   bool
	}{
		{name: "nothing set: refused"},
		{name: "job on", job: aws.Bool(true), queued: true},
		{name: "job on, run off: the run wins", job: aws.Bool(true), run: aws.Bool(false)},
		{name: "job off, run on: the run wins", job: aws.Bool(false), run: aws.Bool(true), queued: true},
		{name: "scenario knob", knob: true, queued: true},
		{name: "scenario knob, job off", knob: true, job: aws.Bool(false)},
		{name: "scenario knob, run off", knob: true, run: aws.Bool(false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, queueScenario(t, fmt.Sprintf("job_run_queuing: %v", tt.knob)))
			if tt.job != nil {
				e.setJob(t, "one", func(u *gluetypes.JobUpdate) { u.JobRunQueuingEnabled = tt.job })
				got, err := e.glue.GetJob(ctx, &glue.GetJobInput{JobName: aws.String("one")})
				if err != nil || got.Job.JobRunQueuingEnabled == nil || *got.Job.JobRunQueuingEnabled != *tt.job {
					t.Fatalf("GetJob after UpdateJob: JobRunQueuingEnabled %v (%v), want %v", got.Job.JobRunQueuingEnabled, err, *tt.job)
				}
			}
			first := e.startRun(t, "one", nil)
			out, err := e.glue.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String("one"), JobRunQueuingEnabled: tt.run})
			if !tt.queued {
				var ce *gluetypes.ConcurrentRunsExceededException
				if !errors.As(err, &ce) {
					t.Fatalf("second run: %v, want ConcurrentRunsExceededException", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("second run: %v, want it queued", err)
			}
			run := e.jobRun(t, "one", *out.JobRunId)
			if run.JobRunState != gluetypes.JobRunStateWaiting || aws.ToString(run.StateDetail) != waitJobConcurrency ||
				run.JobRunQueuingEnabled == nil || !*run.JobRunQueuingEnabled {
				t.Errorf("second run: %s %q queuing %v, want WAITING %q queuing true",
					run.JobRunState, aws.ToString(run.StateDetail), run.JobRunQueuingEnabled, waitJobConcurrency)
			}
			if st := e.jobRun(t, "one", first).JobRunState; st != gluetypes.JobRunStateStarting {
				t.Errorf("first run %s, want STARTING", st)
			}
		})
	}
}

// No subnet of the run's connections has the two IPs Glue needs: with
// queuing the run waits ("Resource unavailable") holding no IP; without it
// fails after placement_failure_delay, as before.
func TestQueuingForResourceUnavailable(t *testing.T) {
	for _, queuing := range []bool{false, true} {
		t.Run(fmt.Sprint("queuing=", queuing), func(t *testing.T) {
			e := newEnv(t, queueScenario(t, ""))
			if err := e.r.Exhaust(qSubA, 1); err != nil {
				t.Fatal(err)
			}
			id := e.startRun(t, "big", aws.Bool(queuing))
			e.at(time.Minute)
			run := e.jobRun(t, "big", id)
			if !queuing {
				if run.JobRunState != gluetypes.JobRunStateFailed || !strings.Contains(aws.ToString(run.ErrorMessage), "InsufficientFreeAddressesInSubnet") {
					t.Fatalf("run %s %q, want FAILED for want of addresses", run.JobRunState, aws.ToString(run.ErrorMessage))
				}
				return
			}
			if run.JobRunState != gluetypes.JobRunStateWaiting || aws.ToString(run.StateDetail) != waitResourceUnavailable {
				t.Fatalf("run %s %q, want WAITING %q", run.JobRunState, aws.ToString(run.StateDetail), waitResourceUnavailable)
			}
			if rec := e.runRecord(t, id); rec.AllocatedIPs != 0 || e.realFree(t, qSubA) != 1 {
				t.Errorf("a WAITING run holds %d IPs (subnet free %d), want none (1)", rec.AllocatedIPs, e.realFree(t, qSubA))
			}
			// Room appears (the other workload leaves): the run starts at once.
			e.at(3 * time.Minute)
			if err := e.r.Exhaust(qSubA, 11); err != nil {
				t.Fatal(err)
			}
			run = e.jobRun(t, "big", id)
			rec := e.runRecord(t, id)
			if run.JobRunState != gluetypes.JobRunStateStarting || run.StateDetail != nil {
				t.Errorf("after room appeared: %s detail %v, want STARTING without detail", run.JobRunState, run.StateDetail)
			}
			if !rec.WaitedUntil.Equal(t0.Add(3*time.Minute)) || rec.AllocatedIPs != 10 || !run.StartedOn.Equal(t0) {
				t.Errorf("record: waited until %v with %d IPs, StartedOn %v; want %v, 10, %v",
					rec.WaitedUntil, rec.AllocatedIPs, run.StartedOn, t0.Add(3*time.Minute), t0)
			}
			// Its lifecycle counts from the real start: RUNNING after the
			// one-minute startup, not at once.
			e.at(3*time.Minute + time.Minute - time.Millisecond)
			if st := e.jobRun(t, "big", id).JobRunState; st != gluetypes.JobRunStateStarting {
				t.Errorf("just before startup ends: %s, want STARTING", st)
			}
			e.at(4 * time.Minute)
			if st := e.jobRun(t, "big", id).JobRunState; st != gluetypes.JobRunStateRunning {
				t.Errorf("after startup: %s, want RUNNING", st)
			}
		})
	}
}

// Queued runs start in submission order as room appears, for both reasons.
func TestQueuedRunsStartInOrder(t *testing.T) {
	tests := []struct {
		name string
		job  string
		// starts are the times the queued runs (submitted at 0 after the
		// first) leave WAITING.
		starts []time.Duration
	}{
		// MaxConcurrentRuns 1, runs of 11 minutes: each next run starts
		// when the previous one ends (ENIs linger, but B has room).
		{"concurrency", "one", []time.Duration{11 * time.Minute, 22 * time.Minute, 33 * time.Minute}},
		// 10 of 11 IPs per run: each next run starts when the previous
		// one's ENIs are gone, 2 minutes (linger) after it ended.
		{"resource unavailable", "big", []time.Duration{13 * time.Minute, 26 * time.Minute, 39 * time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, queueScenario(t, "job_run_queuing: true, max_queue_wait: 2h"))
			first := e.startRun(t, tt.job, nil)
			var queued []string
			for range tt.starts {
				queued = append(queued, e.startRun(t, tt.job, nil))
			}
			e.at(2 * time.Hour)
			if rec := e.runRecord(t, first); !rec.WaitedUntil.IsZero() || rec.State != stateSucceeded {
				t.Errorf("first run: %s, waited until %v; want SUCCEEDED without waiting", rec.State, rec.WaitedUntil)
			}
			for i, id := range queued {
				rec := e.runRecord(t, id)
				if got := rec.WaitedUntil.Sub(t0); got != tt.starts[i] || rec.State != stateSucceeded {
					t.Errorf("queued run %d: left WAITING at %v, %s; want %v, SUCCEEDED", i+1, got, rec.State, tt.starts[i])
				}
			}
		})
	}
}

// A queued run keeps the connection list of its job at StartJobRun: an
// UpdateJob while it waits changes where new runs go, not where it goes.
func TestQueuedRunKeepsItsConnections(t *testing.T) {
	e := newEnv(t, queueScenario(t, "job_run_queuing: true"))
	if err := e.r.Exhaust(qSubA, 0); err != nil {
		t.Fatal(err)
	}
	waiting := e.startRun(t, "big", nil)
	e.setJob(t, "big", func(u *gluetypes.JobUpdate) {
		u.Connections = &gluetypes.ConnectionsList{Connections: []string{"cB"}}
	})
	fresh := e.startRun(t, "big", nil)
	if rec := e.runRecord(t, fresh); rec.SubnetID != qSubB {
		t.Errorf("new run placed in %q, want %s (the job's new connection)", rec.SubnetID, qSubB)
	}
	e.at(time.Minute)
	if rec := e.runRecord(t, waiting); rec.State != stateWaiting {
		t.Fatalf("queued run %s, want still WAITING although cB has room", rec.State)
	}
	if err := e.r.Exhaust(qSubA, 11); err != nil {
		t.Fatal(err)
	}
	if rec := e.runRecord(t, waiting); rec.State != stateStarting || rec.SubnetID != qSubA {
		t.Errorf("queued run %s in %q, want STARTING in %s (its connection at submission)", rec.State, rec.SubnetID, qSubA)
	}
}

// A run still WAITING after glue.max_queue_wait ends FAILED, having held
// no IP; one that is stopped while waiting never starts.
func TestQueuedRunEnds(t *testing.T) {
	tests := []struct {
		name string
		glue string
		wait time.Duration
	}{
		{"default 15m", "job_run_queuing: true", 15 * time.Minute},
		{"knob 5m", "job_run_queuing: true, max_queue_wait: 5m", 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, queueScenario(t, tt.glue))
			if err := e.r.Exhaust(qSubA, 1); err != nil {
				t.Fatal(err)
			}
			id := e.startRun(t, "big", nil)
			e.at(tt.wait - time.Millisecond)
			if st := e.jobRun(t, "big", id).JobRunState; st != gluetypes.JobRunStateWaiting {
				t.Fatalf("just before the limit: %s, want WAITING", st)
			}
			e.at(tt.wait)
			run := e.jobRun(t, "big", id)
			want := fmt.Sprintf("Job run could not acquire resources within %s of waiting: Resource unavailable", tt.wait)
			if run.JobRunState != gluetypes.JobRunStateFailed || aws.ToString(run.ErrorMessage) != want ||
				!run.CompletedOn.Equal(t0.Add(tt.wait)) || run.ExecutionTime != 0 || run.StateDetail != nil {
				t.Errorf("at the limit: %s %q at %v, ExecutionTime %d, detail %v; want FAILED %q at %v, 0, none",
					run.JobRunState, aws.ToString(run.ErrorMessage), run.CompletedOn, run.ExecutionTime, run.StateDetail, want, t0.Add(tt.wait))
			}
			if err := e.r.Exhaust(qSubA, 11); err != nil {
				t.Fatal(err)
			}
			if rec := e.runRecord(t, id); rec.AllocatedIPs != 0 || rec.State != stateFailed {
				t.Errorf("after room appeared: %s with %d IPs, want FAILED with none", rec.State, rec.AllocatedIPs)
			}
		})
	}

	t.Run("Glue's retry queues as the run did", func(t *testing.T) {
		e := newEnv(t, queueScenario(t, ""))
		e.setJob(t, "big", func(u *gluetypes.JobUpdate) { u.MaxRetries = 1 })
		if err := e.r.Exhaust(qSubA, 1); err != nil {
			t.Fatal(err)
		}
		id := e.startRun(t, "big", aws.Bool(true))
		e.at(16 * time.Minute)
		retry := e.runRecord(t, id+"_attempt_1")
		if first := e.runRecord(t, id); first.State != stateFailed || retry.State != stateWaiting || retry.StateDetail != waitResourceUnavailable {
			t.Errorf("run %s, its retry %s %q; want FAILED, then WAITING %q", first.State, retry.State, retry.StateDetail, waitResourceUnavailable)
		}
	})

	t.Run("stopped while waiting", func(t *testing.T) {
		e := newEnv(t, queueScenario(t, "job_run_queuing: true"))
		if err := e.r.Exhaust(qSubA, 1); err != nil {
			t.Fatal(err)
		}
		id := e.startRun(t, "big", nil)
		out, err := e.glue.BatchStopJobRun(ctx, &glue.BatchStopJobRunInput{JobName: aws.String("big"), JobRunIds: []string{id}})
		if err != nil || len(out.SuccessfulSubmissions) != 1 {
			t.Fatalf("BatchStopJobRun: %v %+v", err, out)
		}
		if err := e.r.Exhaust(qSubA, 11); err != nil {
			t.Fatal(err)
		}
		e.at(time.Minute)
		if rec := e.runRecord(t, id); rec.State != stateStopped || rec.AllocatedIPs != 0 {
			t.Errorf("stopped queued run: %s with %d IPs, want STOPPED with none", rec.State, rec.AllocatedIPs)
		}
	})
}

// The lab's direct path queues the same way and reports the reason.
func TestDirectQueuing(t *testing.T) {
	e := newEnv(t, queueScenario(t, ""))
	if err := e.r.Exhaust(qSubA, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.DirectStartJobRun("big"); err != nil {
		t.Fatalf("DirectStartJobRun without queuing: %v", err)
	}
	id, err := e.r.DirectStartJobRunWith("big", DirectStartOptions{JobRunQueuingEnabled: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.r.DirectGetJobRun("big", id)
	if err != nil || got.State != stateWaiting || got.StateDetail != waitResourceUnavailable {
		t.Fatalf("DirectGetJobRun: %+v %v, want WAITING %q", got, err, waitResourceUnavailable)
	}
	if rec := e.runRecord(t, id); rec.State != stateWaiting || rec.StateDetail != waitResourceUnavailable || !rec.WaitedUntil.IsZero() {
		t.Errorf("record %+v, want WAITING with the reason and no WaitedUntil", rec)
	}
}

// A run that starts with fewer workers than it asked for lasts longer by
// glue.under_capacity_slowdown.
func TestUnderCapacitySlowdown(t *testing.T) {
	tests := []struct {
		knob string
		free int
		want time.Duration // RUNNING to SUCCEEDED
	}{
		{"", 4, 25 * time.Minute}, // the default: proportional, 10m × 10/4
		{"under_capacity_slowdown: proportional", 5, 20 * time.Minute},
		{"under_capacity_slowdown: none", 4, 10 * time.Minute},
		{"under_capacity_slowdown: proportional", 11, 10 * time.Minute}, // got all 10
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d free", tt.knob, tt.free), func(t *testing.T) {
			e := newEnv(t, queueScenario(t, tt.knob))
			if err := e.r.Exhaust(qSubA, tt.free); err != nil {
				t.Fatal(err)
			}
			id := e.startRun(t, "big", nil)
			e.at(3 * time.Hour)
			rec := e.runRecord(t, id)
			if rec.State != stateSucceeded || rec.CompletedOn.Sub(rec.RunningSince) != tt.want {
				t.Errorf("%s after %v with %d of %d IPs, want SUCCEEDED after %v",
					rec.State, rec.CompletedOn.Sub(rec.RunningSince), rec.AllocatedIPs, rec.RequestedIPs, tt.want)
			}
		})
	}
}

func TestQueuingScenarioKnobs(t *testing.T) {
	sc := queueScenario(t, "job_run_queuing: true, max_queue_wait: 10m, under_capacity_slowdown: none")
	if !sc.Glue.JobRunQueuing || sc.Glue.MaxQueueWait.D() != 10*time.Minute || sc.Glue.UnderCapacitySlowdown != SlowdownNone {
		t.Errorf("parsed %+v", sc.Glue)
	}
	def := queueScenario(t, "").withDefaults()
	if def.Glue.JobRunQueuing || def.Glue.MaxQueueWait.D() != 15*time.Minute || def.Glue.UnderCapacitySlowdown != SlowdownProportional {
		t.Errorf("defaults %+v, want queuing off, 15m, proportional", def.Glue)
	}
	for _, bad := range []string{"under_capacity_slowdown: linear", "max_queue_wait: -1m", "job_run_queueing: true"} {
		y := strings.Replace(`
vpc: {id: vpc-0000000000000aaaa, cidr: 10.0.0.0/16}
glue: {X}
`, "X", bad, 1)
		if _, err := ParseScenario([]byte(y)); err == nil {
			t.Errorf("glue: {%s} accepted, want an error", bad)
		}
	}
}
