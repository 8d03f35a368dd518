package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
)

var (
	fpOnce sync.Once
	fpBin  string
	fpErr  error
)

// failpointBinary builds gluenet with the failpoints tag once per test
// binary: crash tests run it as a separate process and kill it with SIGKILL.
func failpointBinary(t *testing.T) string {
	t.Helper()
	fpOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gluenet-fp-")
		if err != nil {
			fpErr = err
			return
		}
		fpBin = filepath.Join(dir, "gluenet")
		out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", fpBin, ".").CombinedOutput()
		if err != nil {
			fpErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if fpErr != nil {
		t.Fatal(fpErr)
	}
	return fpBin
}

// process runs the gluenet binary against the env's simulated region.
func (e *simEnv) process(ctx context.Context, bin string, extraEnv []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	all := append([]string{"--endpoint-url", e.url, "--state", e.state, "--log-format", "json"}, args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

// TestCrashAtEveryStep kills gluenet with SIGKILL at each step of an
// attempt, reruns it with the same run key, and checks against the
// simulated region that exactly one Glue run was made and that it is the
// one the journal knows.
func TestCrashAtEveryStep(t *testing.T) { crashAtEveryStep(t, nil) }

// crashAtEveryStep is TestCrashAtEveryStep on the state store storeArgs
// name (nil: a fresh SQLite file).
func crashAtEveryStep(t *testing.T, storeArgs []string) {
	bin := failpointBinary(t)
	for _, at := range []string{"before-update", "after-update", "after-start", "while-waiting"} {
		t.Run(at, func(t *testing.T) {
			e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 600 }, nil)
			args := append(slices.Clone(storeArgs), "run", "--job", job, "--connections", conn1+","+conn2, "--run-key", "crash-"+at,
				"--poll-interval", "20ms", "--output", "json")
			// A killed process leaves its job lock behind until it expires.
			ttl := "GLUENET_LOCK_TTL=1s"
			cmd, _, stderr := e.process(context.Background(), bin, []string{ttl, "GLUENET_FAILPOINT=" + at}, args...)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("the process was not killed at %s: %v\n%s", at, err, stderr)
			}
			cmd, out, stderr := e.process(context.Background(), bin, []string{ttl}, args...)
			if err := cmd.Run(); err != nil {
				t.Fatalf("rerun: %v\n%s\n%s", err, out, stderr)
			}
			r := decodeRun(t, out.String())
			runs := e.region.State().Runs
			if len(runs) != 1 {
				t.Fatalf("%d Glue runs after a crash %s and a rerun, want exactly 1: %+v", len(runs), at, runs)
			}
			if r.Result != "succeeded" || len(r.Attempts) != 1 || r.Attempts[0].RunID != runs[0].ID {
				t.Fatalf("rerun report %+v, region run %s", r, runs[0].ID)
			}
			// A third invocation with the key starts nothing and says so.
			cmd, out, _ = e.process(context.Background(), bin, nil, args...)
			if err := cmd.Run(); err != nil {
				t.Fatal(err)
			}
			if r := decodeRun(t, out.String()); r.Result != "succeeded" || !r.Reused {
				t.Fatalf("third run: %+v", r)
			}
			if n := len(e.region.State().Runs); n != 1 {
				t.Fatalf("the third invocation started a run: %d runs", n)
			}
		})
	}
}

// TestConcurrentRunsDoNotInterleave starts 20 gluenet processes for one
// job at once. The job lock keeps each UpdateJob + StartJobRun together, so
// every run starts with the order its own process computed: the connection
// Glue used is the one that process expected.
func TestConcurrentRunsDoNotInterleave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 20 processes")
	}
	t.Run("sqlite", func(t *testing.T) { concurrentRuns(t, nil) })
	t.Run("postgres", func(t *testing.T) {
		// Processes on one machine stand for machines sharing Postgres, in
		// a fresh schema of the test server named by
		// GLUENET_TEST_POSTGRES_DSN (.ci/postgres.sh starts one).
		concurrentRuns(t, []string{"--postgres-dsn", pgtest.Schema(t)})
	})
}

func concurrentRuns(t *testing.T, storeArgs []string) {
	bin := failpointBinary(t)
	e := newSimEnv(t, func(sc *sim.Scenario) {
		sc.TimeScale = 600
		sc.Jobs[0].MaxConcurrentRuns = 50
		sc.ENI.Lag = sim.Duration(time.Hour) // every launch sees stale counts: only reservations spread them
	}, nil)
	// Widen each process's UpdateJob..StartJobRun window so that, without
	// the lock, processes would interleave there.
	if err := e.region.SetLatency("glue", 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	const n = 20
	type result struct {
		out, errb *bytes.Buffer
		err       error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{}, storeArgs...), "run", "--job", job, "--connections", conn1+","+conn2,
				"--strategy", "weighted", "--workers", "5", "--run-key", fmt.Sprintf("concurrent-%d", i), "--poll-interval", "50ms", "--output", "json")
			cmd, out, errb := e.process(context.Background(), bin, nil, args...)
			results[i] = result{out, errb, cmd.Run()}
		}()
	}
	wg.Wait()
	byID := map[string]sim.RunState{}
	for _, r := range e.region.State().Runs {
		byID[r.ID] = r
	}
	if len(byID) != n {
		t.Fatalf("%d runs in the region, want %d", len(byID), n)
	}
	used := map[string]int{}
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("process %d failed: %v\n%s\n%s", i, res.err, res.out, res.errb)
		}
		var r runJSON
		if err := json.Unmarshal(res.out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		at := r.Attempts[0]
		got := byID[at.RunID]
		// The job definition as it was at this run's StartJobRun must be
		// the order this process computed and applied.
		if len(r.Attempts) != 1 || !reflect.DeepEqual(got.JobConnections, at.Order) || got.Connection != at.Expected {
			t.Errorf("process %d applied %v (expecting %s) but its run %s started with %v and used %s: another process's order was in place",
				i, at.Order, at.Expected, at.RunID, got.JobConnections, got.Connection)
		}
		used[got.Connection]++
	}
	if used[conn1] == 0 || used[conn2] == 0 {
		t.Errorf("all runs landed in one subnet: %v", used)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fpBin != "" {
		os.RemoveAll(filepath.Dir(fpBin))
	}
	os.Exit(code)
}

// TestCrashReattachKeepsTheAppliedPlan (bug 2): killed right after
// StartJobRun on a degraded zone, then killed again right after re-attaching,
// the next invocation keeps the plan that was applied when the run started:
// it blames the degraded subnet, and the retry goes to the healthy zone and
// succeeds, as an uninterrupted run does. The run's own IPs make a fresh
// ranking put the other subnet first, which the re-attached attempt must
// not take as its plan.
func TestCrashReattachKeepsTheAppliedPlan(t *testing.T) {
	bin := failpointBinary(t)
	e := newSimEnv(t, func(sc *sim.Scenario) {
		sc.TimeScale = 600
		sc.ENI.Lag = 0
	}, nil)
	if err := e.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := e.region.Exhaust(subnet2, 245); err != nil { // subnet1 has 251: first, until a 10-worker run holds 10 of them
		t.Fatal(err)
	}
	args := []string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--run-key", "crash-plan", "--strategy", "capacity",
		"--workers", "10", "--poll-interval", "20ms", "--retry-delay", "50ms", "--max-retry-delay", "200ms", "--output", "json"}
	ttl := "GLUENET_LOCK_TTL=1s"
	for _, at := range []string{"after-start", "after-reattach"} {
		cmd, _, stderr := e.process(context.Background(), bin, []string{ttl, "GLUENET_FAILPOINT=" + at}, args...)
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("the process was not killed at %s: %v\n%s", at, err, stderr)
		}
	}
	cmd, out, stderr := e.process(context.Background(), bin, []string{ttl}, args...)
	if err := cmd.Run(); err != nil {
		t.Fatalf("rerun: %v\n%s\n%s", err, out, stderr)
	}
	r := decodeRun(t, out.String())
	runs := e.region.State().Runs
	if r.Result != "succeeded" || len(r.Attempts) != 2 || len(runs) != 2 {
		t.Fatalf("result %s, %d attempts, %d Glue runs; want succeeded in 2: %+v", r.Result, len(r.Attempts), len(runs), r.Attempts)
	}
	if r.Attempts[0].Expected != conn1 || r.Attempts[0].RunID != runs[0].ID || r.Attempts[1].Expected != conn2 {
		t.Fatalf("attempts expected %s then %s (run %s), want %s then %s (run %s)", r.Attempts[0].Expected, r.Attempts[1].Expected,
			r.Attempts[0].RunID, conn1, conn2, runs[0].ID)
	}
}
