package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/store/postgres"
	"github.com/gluenet/gluenet/store/postgres/pgtest"
)

// Fault tests of the state store: a Postgres behind a proxy (pgtest.Proxy)
// that stops answering or drops every connection for a while, under
// gluenet processes running against the simulated region.

// storeProc is a gluenet process of a fault test.
type storeProc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	exited         chan error
}

func startGluenet(t *testing.T, e *simEnv, env []string, args ...string) *storeProc {
	t.Helper()
	bin := failpointBinary(t)
	all := append([]string{"--endpoint-url", e.url, "--state", e.state, "--log-format", "json", "--log-level", "info"}, args...)
	p := &storeProc{cmd: exec.Command(bin, all...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// code waits for the process to exit and returns its exit code. A process
// that has not exited after a minute, many times the deadlines under
// test, is a hang: the test fails rather than wait for the test timeout.
func (p *storeProc) code(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		t.Fatalf("gluenet still running after a minute: hung on the store\n%s", p.stderr.String())
		return 0
	}
}

// waitRunning waits until the process reports its Glue run RUNNING (it
// then knows the run id), or fails if it exits first.
func (p *storeProc) waitRunning(t *testing.T) {
	t.Helper()
	for !strings.Contains(p.stderr.String(), `"state":"RUNNING"`) {
		select {
		case err := <-p.exited:
			t.Fatalf("gluenet exited before its Glue run was going: %v\n%s", err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestStoreSilentAtOpen: a Postgres that accepts connections and never
// answers ends `gluenet run` with exit 4 at the state timeout, with a
// message naming the store, and nothing started in Glue.
func TestStoreSilentAtOpen(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	p := pgtest.NewProxy(t, "postgres://gluenet:gluenet@127.0.0.1:1/gluenet?sslmode=disable")
	p.Freeze() // accepts, never answers
	dsn := p.DSN(t, "postgres://gluenet:gluenet@127.0.0.1:1/gluenet?sslmode=disable")
	g := startGluenet(t, e, []string{"GLUENET_STATE_TIMEOUT=2s"}, "--postgres-dsn", dsn,
		"run", "--job", job, "--connections", conn1, "--run-key", "silent-open")
	if code := g.code(t); code != exitAWS {
		t.Fatalf("exit %d, want %d\n%s", code, exitAWS, g.stderr.String())
	}
	want := "state store postgres " + p.Addr() + "/gluenet did not answer"
	if msg := g.stderr.String(); !strings.Contains(msg, want) || strings.Contains(msg, "AWS endpoint") {
		t.Errorf("stderr should say %q and not blame AWS:\n%s", want, msg)
	}
	if runs := e.region.State().Runs; len(runs) != 0 {
		t.Errorf("%d Glue runs started, want none", len(runs))
	}
}

// TestStoreFreezesMidRun: a Postgres that stops answering while gluenet
// waits on its Glue run (as under SIGSTOP) ends the process with exit 4 at
// the state timeout, naming the store, the Glue run still going and the
// command that continues it; the same command, once the store is back,
// re-attaches and succeeds, with one Glue run in all.
func TestStoreFreezesMidRun(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 60 }, nil)
	args := []string{"--postgres-dsn", p.DSN(t, dsn), "run", "--job", job, "--connections", conn1, "--run-key", "frozen-1", "--poll-interval", "50ms"}
	g := startGluenet(t, e, []string{"GLUENET_STATE_TIMEOUT=3s"}, args...)
	g.waitRunning(t)
	p.Freeze()
	if code := g.code(t); code != exitAWS {
		t.Fatalf("exit %d, want %d\n%s", code, exitAWS, g.stderr.String())
	}
	runs := e.region.State().Runs
	if len(runs) != 1 {
		t.Fatalf("%d Glue runs, want 1", len(runs))
	}
	msg := g.stderr.String()
	for _, want := range []string{
		"state store postgres " + p.Addr() + "/gluenet did not answer",
		"Glue run " + runs[0].ID + " of job " + job + " is still going",
		"`gluenet resume --run-key frozen-1`",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr should say %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, `"level":"WARN","msg":"waiting for the state store"`) {
		t.Errorf("the wait on the store should be logged at WARN:\n%s", msg)
	}
	p.Thaw()
	again := startGluenet(t, e, nil, args...)
	if code := again.code(t); code != exitOK {
		t.Fatalf("the same command once the store is back: exit %d, want 0\n%s", code, again.stderr.String())
	}
	if runs := e.region.State().Runs; len(runs) != 1 {
		t.Errorf("%d Glue runs after the rerun, want 1 (re-attached)", len(runs))
	}
}

// TestSignalEndsAHungStoreCall: with a long state timeout, a SIGINT while
// a store call hangs ends the process within the grace (exit 130), saying
// which Glue run is left going.
func TestSignalEndsAHungStoreCall(t *testing.T) {
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 60 }, nil)
	g := startGluenet(t, e, []string{"GLUENET_STATE_TIMEOUT=1h"}, "--postgres-dsn", p.DSN(t, dsn),
		"run", "--job", job, "--connections", conn1, "--run-key", "hung-1", "--poll-interval", "50ms")
	g.waitRunning(t)
	p.Freeze()
	// Wait for the process to be stuck on the store.
	for !strings.Contains(g.stderr.String(), "waiting for the state store") {
		time.Sleep(10 * time.Millisecond)
	}
	if err := g.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := g.code(t); code != exitInterrupted {
		t.Fatalf("exit %d, want %d\n%s", code, exitInterrupted, g.stderr.String())
	}
	runs := e.region.State().Runs
	if msg := g.stderr.String(); len(runs) != 1 || !strings.Contains(msg, "Glue run "+runs[0].ID+" of job "+job+" is still going") {
		t.Errorf("the message should name the Glue run left going:\n%s", msg)
	}
}

// TestStoreRestartUnderWaitingRuns: five runs waiting on their Glue runs
// when the Postgres server goes away for three seconds (every connection
// dropped, new ones refused, as in a restart) all go on and succeed, each
// with its one Glue run and its attempt recorded.
func TestStoreRestartUnderWaitingRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 5 processes")
	}
	dsn := pgtest.Schema(t)
	p := pgtest.NewProxy(t, dsn)
	e := newSimEnv(t, func(sc *sim.Scenario) {
		sc.TimeScale = 30
		sc.Jobs[0].MaxConcurrentRuns = 10
	}, nil)
	const n = 5
	procs := make([]*storeProc, n)
	for i := range procs {
		procs[i] = startGluenet(t, e, nil, "--postgres-dsn", p.DSN(t, dsn), "run", "--job", job, "--connections", conn1+","+conn2,
			"--workers", "2", "--run-key", fmt.Sprintf("restart-%d", i), "--poll-interval", "50ms")
	}
	for _, g := range procs {
		g.waitRunning(t)
	}
	if err := p.Outage(3 * time.Second); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i, g := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = g.code(t) }()
	}
	wg.Wait()
	for i, code := range codes {
		if code != exitOK {
			t.Errorf("run %d: exit %d, want 0\n%s", i, code, procs[i].stderr.String())
		}
	}
	if runs := e.region.State().Runs; len(runs) != n {
		t.Errorf("%d Glue runs, want %d", len(runs), n)
	}
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		key := fmt.Sprintf("restart-%d", i)
		r, err := st.GetRun(t.Context(), key)
		if err != nil || r.Status != store.RunSucceeded {
			t.Errorf("run %s: status %q, %v; want it recorded succeeded", key, r.Status, err)
		}
		as, err := st.Attempts(t.Context(), key)
		if err != nil || len(as) != 1 || as[0].GlueRunID == "" {
			t.Errorf("run %s: attempts %+v, %v; want one, with its Glue run id", key, as, err)
		}
	}
}

// TestStatusOfAVanishedGlueRun: after the region restarted (a new region,
// which knows no run), status reports the recorded Glue run as lost and
// exits 0, as resume treats it, instead of exit 2 "no such job".
func TestStatusOfAVanishedGlueRun(t *testing.T) {
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 1 }, nil) // the run stays RUNNING
	ctx := t.Context()
	code, out, errb := e.gluenet(ctx, "run", "--detach", "--job", job, "--connections", conn1, "--run-key", "vanished", "--output", "json")
	if code != exitOK {
		t.Fatalf("detach: exit %d\n%s\n%s", code, out, errb)
	}
	runID := decodeStep(t, out).GlueRunID
	if runID == "" {
		t.Fatalf("detach recorded no Glue run: %s", out)
	}
	restarted := newSimEnv(t, nil, nil)
	restarted.state = e.state
	code, out, errb = restarted.gluenet(ctx, "status", "--run-key", "vanished", "--output", "json")
	if code != exitOK {
		t.Fatalf("status: exit %d, want 0\n%s\n%s", code, out, errb)
	}
	st := decodeStep(t, out)
	if st.GlueRunID != runID || st.State != "LOST" || !strings.Contains(st.Why, "gluenet resume --run-key vanished") {
		t.Errorf("status = %+v, want run %s LOST with a why naming resume", st, runID)
	}
}
