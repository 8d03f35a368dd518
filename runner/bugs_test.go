package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/smithy-go"

	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/strategy"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

// interruptingClock cancels the run's context the first time the runner
// sleeps, as a Ctrl-C during that wait would.
type interruptingClock struct {
	simClock
	cancel context.CancelFunc
}

func (c interruptingClock) Sleep(ctx context.Context, d time.Duration) error {
	c.cancel()
	return c.simClock.Sleep(ctx, d)
}

// TestInterruptWhileWaitingForTheJobLock (bug 1): Ctrl-C while another
// gluenet holds the job's lock updates and starts nothing.
func TestInterruptWhileWaitingForTheJobLock(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, ok, err := f.store.AcquireLease(ctx, "job/"+job, "other", time.Hour, f.clock.Now()); err != nil || !ok {
		t.Fatal(err)
	}
	r := f.runner(true)
	r.Clock = interruptingClock{f.clock, cancel}
	rep := r.Run(ctx, "k", spec())
	if rep.Result != policy.ResultInterrupted {
		t.Fatalf("result %s (%s), want interrupted", rep.Result, rep.Error)
	}
	if n := f.region.Stats().Calls("glue", "UpdateJob") + f.region.Stats().Calls("glue", "StartJobRun"); n != 0 {
		t.Fatalf("%d UpdateJob/StartJobRun calls after an interrupt during the lock wait", n)
	}
}

// TestLockWaitIsBounded (bug 1): the wait for a lock held too long ends
// with a clear error, starting nothing.
func TestLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, ok, err := f.store.AcquireLease(context.Background(), "job/"+job, "other", 24*time.Hour, f.clock.Now()); err != nil || !ok {
		t.Fatal(err)
	}
	r := f.runner(true)
	r.LockTimeout = time.Minute
	rep := r.Run(context.Background(), "k", spec())
	if rep.Result != policy.ResultError || len(f.region.State().Runs) != 0 {
		t.Fatalf("%+v", rep)
	}
}

// TestRecordedRunOfAnotherKeyIsNotAdopted (bug 3).
func TestRecordedRunOfAnotherKeyIsNotAdopted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	other := f.runner(true).Run(ctx, "other", spec())
	if other.Result != policy.ResultSucceeded {
		t.Fatal(other.Error)
	}
	foreign := other.Attempts[0].RunID
	now := f.clock.Now()
	if _, _, err := f.store.BeginRun(ctx, store.Run{Key: "k", Job: job, Status: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordRunID(ctx, "k", 1, foreign, now); err != nil {
		t.Fatal(err)
	}
	rep := f.runner(true).Run(ctx, "k", spec())
	if rep.Result != policy.ResultSucceeded {
		t.Fatalf("%+v", rep)
	}
	last := rep.Attempts[len(rep.Attempts)-1]
	if last.RunID == foreign || rep.Attempts[0].State != executor.StateLost {
		t.Fatalf("key k adopted another key's run %s: %+v", foreign, rep.Attempts)
	}
}

// TestRecordedRunThatNoLongerExists (bug 4): the attempt is settled as
// lost, GetJobRuns confirms no run with its marker exists, and a new
// attempt runs; the lost one does not use up an attempt.
func TestRecordedRunThatNoLongerExists(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	if _, _, err := f.store.BeginRun(ctx, store.Run{Key: "k", Job: job, Status: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordRunID(ctx, "k", 1, "jr_gone", now); err != nil {
		t.Fatal(err)
	}
	cfg := spec()
	cfg.Policy.MaxAttempts = 1
	rep := f.runner(true).Run(ctx, "k", cfg)
	if rep.Result != policy.ResultSucceeded || len(rep.Attempts) != 2 || rep.Attempts[0].State != executor.StateLost || rep.Attempts[0].Class != executor.ClassLost {
		t.Fatalf("%+v", rep)
	}
	if n := len(f.region.State().Runs); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
}

// TestJournalKeepsDiscoveryFacts (bug 5): the state record keeps each
// candidate's reported free IPs and whether it was checked.
func TestJournalKeepsDiscoveryFacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.runner(true)
	ex := r.Executor()
	cfg := spec()
	if _, err := ex.Begin(ctx, "k", cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := ex.Step(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	rs, err := f.store.RunState(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		V        int `json:"v"`
		Attempts []struct {
			Plan struct {
				Placements []struct {
					ReportedFree int  `json:"reported_free_ips"`
					Checked      bool `json:"checked"`
				} `json:"placements"`
			} `json:"plan"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(rs.Data, &rec); err != nil || rec.V != 1 || len(rec.Attempts) != 1 {
		t.Fatalf("%s: %v", rs.Data, err)
	}
	for _, p := range rec.Attempts[0].Plan.Placements {
		if !p.Checked || p.ReportedFree == 0 {
			t.Fatalf("discovery facts lost in the journal: %s", rs.Data)
		}
	}
}

// records captures log records as JSON lines.
type records struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *records) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *records) all(t *testing.T) []map[string]any {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(r.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestOrderIsDrawnOncePerAttempt (bug 9): with a random strategy, the order
// ranked at discovery is the order applied (the re-rank under the job lock
// draws the same random numbers, and nothing changed between the two).
func TestOrderIsDrawnOncePerAttempt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 240); err != nil { // two subnets of about the same room: a coin toss
		t.Fatal(err)
	}
	var rec records
	r := f.runner(true)
	r.Log = slog.New(slog.NewJSONHandler(&rec, nil))
	s, _ := strategy.Lookup("random")
	for i := range 12 {
		cfg := spec()
		cfg.Strategy = s.Name()
		if rep := r.Run(context.Background(), fmt.Sprintf("k%d", i), cfg); rep.Result != policy.ResultSucceeded {
			t.Fatal(rep.Error)
		}
	}
	var ranked, applied []string
	for _, m := range rec.all(t) {
		order := fmt.Sprint(m["order"])
		switch m["msg"] {
		case "ranked the connections":
			ranked = append(ranked, order)
		case "Running Glue job with the connection order":
			applied = append(applied, order+"")
		}
	}
	if len(ranked) != 12 || len(applied) != 12 {
		t.Fatalf("%d rankings, %d starts", len(ranked), len(applied))
	}
	for i := range ranked {
		// The applied order also lists the job's other connections.
		if !strings.HasPrefix(strings.Trim(applied[i], "[]"), strings.Trim(ranked[i], "[]")) {
			t.Errorf("run %d ranked %s but applied %s", i, ranked[i], applied[i])
		}
	}
}

// TestEveryWaitSaysWhy (bug 8): the wait before a retry is logged at INFO
// with the failure class and what health memory ejected, until when.
func TestEveryWaitSaysWhy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if err := f.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 100); err != nil {
		t.Fatal(err)
	}
	var rec records
	r := f.runner(true)
	r.Log = slog.New(slog.NewJSONHandler(&rec, nil))
	if rep := r.Run(context.Background(), "k", spec()); rep.Result != policy.ResultSucceeded {
		t.Fatal(rep.Error)
	}
	for _, m := range rec.all(t) {
		msg, _ := m["msg"].(string)
		if strings.HasPrefix(msg, "waiting before the next try") && m["level"] == "INFO" && m["class"] == "placement" &&
			strings.Contains(fmt.Sprint(m["ejected"]), subnet1) && m["until"] != nil {
			return
		}
	}
	t.Fatalf("no INFO record says why the run waits:\n%s", rec.buf.String())
}

// TestDifferentJobsDoNotHerd (bug 11): 10 different jobs launched at once
// into two subnets inside the ENI lag: reservations are taken before
// StartJobRun and seen by every job, so no run starts under capacity while
// the subnets had room for all of them.
func TestDifferentJobsDoNotHerd(t *testing.T) {
	t.Parallel()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatal(err)
	}
	sc.ENI.Lag = sim.Duration(24 * time.Hour)
	f := newFixtureFrom(t, sc)
	if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 125); err != nil { // room for 4 runs of 30; subnet1 for 8
		t.Fatal(err)
	}
	// Slow Glue calls, so that the launches overlap between ranking and
	// StartJobRun, where reservations taken after the start would come
	// too late for the others.
	if err := f.region.SetLatency("glue", 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	g := glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String(sim.InProcessEndpoint), HTTPClient: f.region.HTTPClient(), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	def, err := g.GetJob(ctx, &glue.GetJobInput{JobName: aws.String(job)})
	if err != nil {
		t.Fatal(err)
	}
	jobs := make([]string, 10)
	for i := range jobs {
		jobs[i] = fmt.Sprintf("job-%d", i)
		j := def.Job
		if _, err := g.CreateJob(ctx, &glue.CreateJobInput{Name: aws.String(jobs[i]), Role: j.Role, Command: j.Command, Connections: j.Connections,
			GlueVersion: j.GlueVersion, WorkerType: j.WorkerType, NumberOfWorkers: aws.Int32(30)}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	reps := make([]Report, len(jobs))
	for i, name := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := f.runner(true)
			r.Holder = name
			rctx, cancel := context.WithCancel(ctx)
			defer cancel()
			r.Progress = func(p Progress) {
				if p.RunID != "" {
					cancel() // started: leave it going
				}
			}
			cfg := spec()
			cfg.Job = name
			cfg.Policy.StopOnInterrupt = false
			reps[i] = r.Run(rctx, "herd-"+name, cfg)
		}()
	}
	wg.Wait()
	for i, rep := range reps {
		if len(rep.Attempts) == 0 || rep.Attempts[0].RunID == "" {
			t.Fatalf("launch %d started nothing: %+v", i, rep)
		}
	}
	used := map[string]int{}
	for _, run := range f.region.State().Runs {
		used[run.SubnetID] += run.AllocatedIPs
		if run.AllocatedIPs < 30 {
			t.Errorf("run %s of %s started under capacity (%d IPs) in %s", run.ID, run.Job, run.AllocatedIPs, run.SubnetID)
		}
	}
	if len(f.region.State().Runs) != 10 {
		t.Fatalf("%d runs", len(f.region.State().Runs))
	}
}

// unreadable is a cloud whose GetJobRun is throttled for good.
type unreadable struct{ executor.Cloud }

func (unreadable) GetRun(context.Context, string, string) (gluenet.JobRun, error) {
	return gluenet.JobRun{}, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "Rate exceeded", Fault: smithy.FaultClient}
}

// TestRunUnreadableForTooLong (bug 4): a run whose state cannot be read
// for longer than the bound ends the command with a clear outcome in the
// journal instead of polling forever.
func TestRunUnreadableForTooLong(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.runner(true)
	r.Cloud = unreadable{r.Cloud}
	start := f.clock.Now()
	rep := r.Run(context.Background(), "k", spec())
	if rep.Result != policy.ResultError || !strings.Contains(rep.Error, "may still be going") || !strings.Contains(rep.Error, "gluenet resume --run-key k") {
		t.Fatalf("%+v", rep)
	}
	if waited := f.clock.Now().Sub(start); waited < executor.DefaultUnreadableFor || waited > executor.DefaultUnreadableFor+time.Minute {
		t.Fatalf("gave up after %s, want about %s", waited, executor.DefaultUnreadableFor)
	}
	run, _ := f.store.GetRun(context.Background(), "k")
	if run.Status != store.RunFailed || !strings.Contains(run.Outcome, "may still be going") {
		t.Fatalf("journal: %+v", run)
	}
}

// TestPlanSaysWhenItsOrderIsADraw (bug 9): `plan` says when the order is a
// random draw, and only then.
func TestPlanSaysWhenItsOrderIsADraw(t *testing.T) {
	t.Parallel()
	tests := []struct {
		strategy string
		wantNote bool
	}{{"random", true}, {"weighted", true}, {"capacity", false}, {"ordered", false}}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			cfg := spec()
			cfg.Strategy = tt.strategy
			p, err := f.runner(true).Plan(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Contains(strings.Join(p.Notes, "\n"), "random draw")
			if got != tt.wantNote {
				t.Fatalf("notes %q: random-draw note %v, want %v", p.Notes, got, tt.wantNote)
			}
		})
	}
}
