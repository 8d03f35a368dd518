package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/health"
	"github.com/gluenet/gluenet/memory"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/sqlite"
)

// simClock is the runner's clock in tests: sleeping advances the simulated
// region's manual clock instead of waiting, so a whole run with retries
// takes no wall time and is deterministic.
type simClock struct{ c *sim.ManualClock }

func (s simClock) Now() time.Time { return s.c.Now() }
func (s simClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.c.Advance(d)
	return nil
}

const (
	conn1   = "MWAA-Glue-Blog-Subnet1"
	conn2   = "MWAA-Glue-Blog-Subnet2"
	subnet1 = "subnet-0a1b2c3d4e5f60011"
	job     = "AirflowBlogJob"
)

type fixture struct {
	region *sim.Region
	clock  simClock
	client *awsclient.Client
	store  store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureFrom(t, sc)
}

func newFixtureFrom(t *testing.T, sc *sim.Scenario) *fixture {
	t.Helper()
	mc := sim.NewManualClock(time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC))
	region, err := sim.New(sc, sim.WithClock(mc))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awsclient.LoadConfig(context.Background(), awsclient.Options{Region: "us-east-1", HTTPClient: region.HTTPClient(),
		BaseEndpoint: sim.InProcessEndpoint, Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &fixture{region: region, clock: simClock{mc}, client: awsclient.New(cfg), store: st}
}

func (f *fixture) runner(withMemory bool) *Runner {
	r := &Runner{Cloud: f.client, Logs: f.client, Clock: f.clock, Rand: rand.New(rand.NewPCG(1, 2)), Journal: f.store, Holder: "test",
		Log: slog.New(slog.DiscardHandler)}
	if withMemory {
		r.Memory = memory.New(f.store, health.DefaultConfig())
	}
	return r
}

func spec() executor.Spec {
	pc := policy.DefaultConfig()
	pc.Jitter = 0
	return executor.Spec{Job: job, Connections: []string{conn1, conn2}, Strategy: "capacity", MinIPs: 2, Policy: pc,
		PollInterval: 30 * time.Second}
}

func TestDegradedAZRetriesInTheOtherZone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		memory     bool
		wantResult policy.Result
		wantOrder  []string // expected connection per attempt
	}{
		// With health memory the retry avoids the ejected subnet.
		{"with memory", true, policy.ResultSucceeded, []string{conn1, conn2}},
		// The post's way: the failed subnet still has the most free IPs, so
		// every retry goes back to it.
		{"without memory", false, policy.ResultFailed, []string{conn1, conn1, conn1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			if err := f.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
				t.Fatal(err)
			}
			if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 100); err != nil {
				t.Fatal(err)
			}
			rep := f.runner(tt.memory).Run(context.Background(), "k", spec())
			if rep.Result != tt.wantResult {
				t.Fatalf("result %s (%s)", rep.Result, rep.Error)
			}
			if len(rep.Attempts) != len(tt.wantOrder) {
				t.Fatalf("%d attempts, want %d: %+v", len(rep.Attempts), len(tt.wantOrder), rep.Attempts)
			}
			for i, a := range rep.Attempts {
				if a.Expected != tt.wantOrder[i] {
					t.Errorf("attempt %d expected %s, want %s", i+1, a.Expected, tt.wantOrder[i])
				}
			}
			if tt.memory {
				recs, _ := f.store.Health(context.Background())
				ejected := false
				for _, r := range recs {
					ejected = ejected || (r.Key == subnet1 && r.Ejections == 1 && r.LastClass == "placement")
				}
				if !ejected {
					t.Fatalf("subnet1 not ejected: %+v", recs)
				}
			}
		})
	}
}

func TestJournalRecordsAndReuses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	r := f.runner(true)
	rep := r.Run(ctx, "key-1", spec())
	if rep.Result != policy.ResultSucceeded {
		t.Fatalf("first run: %s %s", rep.Result, rep.Error)
	}
	atts, err := f.store.Attempts(ctx, "key-1")
	if err != nil || len(atts) != 1 || atts[0].GlueRunID != rep.Attempts[0].RunID || atts[0].FinalState != "SUCCEEDED" || len(atts[0].OrderApplied) != 2 {
		t.Fatalf("journal: %+v %v", atts, err)
	}
	run, _ := f.store.GetRun(ctx, "key-1")
	if run.Status != store.RunSucceeded {
		t.Fatalf("run status %s", run.Status)
	}
	// The same key again: nothing starts.
	again := r.Run(ctx, "key-1", spec())
	if !again.Reused || again.Result != policy.ResultSucceeded || len(f.region.State().Runs) != 1 {
		t.Fatalf("reuse: %+v, %d runs", again, len(f.region.State().Runs))
	}
	// The reservation was released when the run ended.
	res, _ := f.store.Reservations(ctx, f.clock.Now())
	if len(res) != 0 {
		t.Fatalf("reservations left: %+v", res)
	}
}

func TestResumeReattachesToTheRecordedRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	// An earlier process started a run and recorded it, then died.
	g := glue.New(glue.Options{Region: "us-east-1", BaseEndpoint: aws.String(sim.InProcessEndpoint), HTTPClient: f.region.HTTPClient(), Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	out, err := g.StartJobRun(ctx, &glue.StartJobRunInput{JobName: aws.String(job), Arguments: map[string]string{executor.MarkerArgument: "k#1"}})
	if err != nil {
		t.Fatal(err)
	}
	now := f.clock.Now()
	if _, _, err := f.store.BeginRun(ctx, store.Run{Key: "k", Job: job, Status: store.RunRunning, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.RecordRunID(ctx, "k", 1, *out.JobRunId, now); err != nil {
		t.Fatal(err)
	}
	rep := f.runner(true).Run(ctx, "k", spec())
	if rep.Result != policy.ResultSucceeded || rep.Attempts[0].RunID != *out.JobRunId || len(f.region.State().Runs) != 1 {
		t.Fatalf("resume: %+v; %d runs", rep, len(f.region.State().Runs))
	}
}

func TestRunKeyOfAnotherJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.store.BeginRun(ctx, store.Run{Key: "k", Job: "OtherJob", CreatedAt: f.clock.Now()})
	rep := f.runner(false).Run(ctx, "k", spec())
	if rep.Result != policy.ResultError || rep.Err == nil {
		t.Fatalf("a run key of another job must be an error: %+v", rep)
	}
}

func TestPlanIsReadOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.region.Stats()
	p, err := f.runner(true).Plan(context.Background(), spec())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Placements) != 2 || p.Placements[0].Group != gluenet.GroupGood {
		t.Fatalf("plan %+v", p)
	}
	after := f.region.Stats()
	for _, op := range []string{"UpdateJob", "StartJobRun"} {
		if after.Calls("glue", op) != before.Calls("glue", op) {
			t.Fatalf("plan called %s", op)
		}
	}
}

// TestReservationsPreventHerding: 10 launches within the ENI lag all read
// the same stale free-IP counts from EC2. Each launch returns as soon as its
// run started (interrupted, leaving the run going), so the launches overlap
// for certain and time never moves. Without reservations (the post's way)
// every launch ranks the roomiest subnet first, until Glue itself finds it
// full and starts runs under capacity; with them, launches see each other's
// IPs and spread in proportion to capacity.
func TestReservationsPreventHerding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		memory bool
	}{{"with reservations", true}, {"without memory", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sc, err := sim.LoadScenario("default")
			if err != nil {
				t.Fatal(err)
			}
			sc.Jobs[0].MaxConcurrentRuns = 50
			sc.ENI.Lag = sim.Duration(24 * time.Hour)
			f := newFixtureFrom(t, sc)
			// subnet2 has half of subnet1's room: 251 against 125 free IPs.
			if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 125); err != nil {
				t.Fatal(err)
			}
			for i := range 10 {
				r := f.runner(tc.memory)
				ctx, cancel := context.WithCancel(context.Background())
				r.Progress = func(p Progress) {
					if p.RunID != "" {
						cancel() // the run started: leave it going
					}
				}
				cfg := spec()
				cfg.NeedIPs = 30
				w := int32(30)
				cfg.Start.NumberOfWorkers = &w
				cfg.Policy.StopOnInterrupt = false
				if rep := r.Run(ctx, fmt.Sprintf("herd-%d", i), cfg); rep.Result != policy.ResultInterrupted || rep.Attempts[0].RunID == "" {
					t.Fatalf("launch %d: %+v", i, rep)
				}
				cancel()
			}
			used := map[string]int{}
			under := 0
			for _, run := range f.region.State().Runs {
				used[run.SubnetID] += run.AllocatedIPs
				if run.AllocatedIPs < 30 {
					under++
				}
			}
			if !tc.memory {
				if under == 0 {
					t.Fatalf("without reservations no run started under capacity: %v", used)
				}
				return
			}
			// 300 IPs over 251 + 125 free: in proportion, about 200 and 100.
			if under != 0 || used[subnet1] < 150 || used["subnet-0a1b2c3d4e5f60022"] < 60 {
				t.Fatalf("with reservations: %d runs under capacity, IPs per subnet %v", under, used)
			}
		})
	}
}

// TestPlacementFailureForgetsTheCachedSubnet: after a placement failure the
// next discovery asks Glue for the connection's subnet again.
func TestPlacementFailureForgetsTheCachedSubnet(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.client.Cache = awsclient.NewMemoryCache(time.Hour, f.clock.Now)
	if err := f.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := f.region.Exhaust("subnet-0a1b2c3d4e5f60022", 100); err != nil {
		t.Fatal(err)
	}
	rep := f.runner(true).Run(context.Background(), "k", spec())
	if rep.Result != policy.ResultSucceeded || len(rep.Attempts) != 2 {
		t.Fatalf("%+v", rep)
	}
	// Attempt 1 looked both connections up (cold); attempt 2 only the one
	// whose run failed on placement: the other came from the cache.
	if n := f.region.Stats().Calls("glue", "GetConnection"); n != 3 {
		t.Fatalf("%d GetConnection calls, want 3", n)
	}
}

// flakyLease loses the job lock the first time it is renewed, as when
// another runner took it over after this one stalled past the TTL.
type flakyLease struct {
	store.Store
	lost bool
}

func (f *flakyLease) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error) {
	if !f.lost {
		f.lost = true
		return store.Lease{}, store.ErrLeaseLost
	}
	return f.Store.RenewLease(ctx, l, ttl, now)
}

func TestLostLockStartsNothingAndRetries(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.runner(true)
	r.Journal = &flakyLease{Store: f.store}
	rep := r.Run(context.Background(), "k", spec())
	if rep.Result != policy.ResultSucceeded || len(rep.Attempts) != 1 {
		t.Fatalf("%+v", rep)
	}
	if n := len(f.region.State().Runs); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}
	if got := startRetries(t, f.store, "k"); got != 1 {
		t.Fatalf("start retries %d, want 1", got)
	}
}

// startRetries reads the attempt's start retries from the journal.
func startRetries(t *testing.T, st store.Store, key string) int {
	t.Helper()
	rs, err := st.RunState(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Attempts []struct {
			StartRetries int `json:"start_retries"`
		} `json:"attempts"`
	}
	if err := json.Unmarshal(rs.Data, &rec); err != nil || len(rec.Attempts) == 0 {
		t.Fatalf("state %s: %v", rs.Data, err)
	}
	return rec.Attempts[0].StartRetries
}
