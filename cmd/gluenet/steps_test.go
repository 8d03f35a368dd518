package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/gluenet/gluenet/sim"
)

func decodeStep(t *testing.T, s string) stepJSON {
	t.Helper()
	var r stepJSON
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("step output is not JSON: %v\n%s", err, s)
	}
	return r
}

// TestDetachResumeStatusAcrossProcesses drives one run as separate
// processes: run --detach, then status, then resume until done, as a
// scheduler that only runs short commands would. The run ends as an
// uninterrupted run would: one Glue run, succeeded, exit 0.
func TestDetachResumeStatusAcrossProcesses(t *testing.T) {
	bin := failpointBinary(t)
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 600 }, nil)
	ctx := context.Background()
	run := func(args ...string) (stepJSON, int) {
		t.Helper()
		cmd, out, errb := e.process(ctx, bin, nil, args...)
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(strings.TrimSpace(out.String()), "{") {
			t.Fatalf("%v: exit %d, no JSON\n%s\n%s", args, code, out, errb)
		}
		st := decodeStep(t, out.String())
		if st.ExitCode != code {
			t.Fatalf("%v: exit %d but exit_code %d", args, code, st.ExitCode)
		}
		return st, code
	}
	st, code := run("run", "--detach", "--job", job, "--connections", conn1+","+conn2, "--run-key", "k1", "--poll-interval", "50ms", "--output", "json")
	if code != 0 || st.Done || st.Wait == nil || st.Wait.For != "run" || st.GlueRunID == "" || st.Attempt != 1 || st.RunKey != "k1" || st.Job != job || st.NextCheckAt == "" {
		t.Fatalf("detach: exit %d %+v", code, st)
	}
	if _, err := time.Parse(time.RFC3339, st.Wait.CheckAt); err != nil {
		t.Fatalf("check_at %q: %v", st.Wait.CheckAt, err)
	}
	id := st.GlueRunID
	// status is read-only and knows the run.
	s2, code := run("status", "--run-key", "k1", "--output", "json")
	if code != 0 || s2.GlueRunID != id || s2.Done || s2.State == "" {
		t.Fatalf("status: exit %d %+v", code, s2)
	}
	var last stepJSON
	for i := 0; ; i++ {
		if i > 200 {
			t.Fatalf("the run never ended: %+v", last)
		}
		last, code = run("resume", "--run-key", "k1", "--output", "json")
		if last.Done {
			break
		}
		if code != 0 || last.Wait == nil {
			t.Fatalf("resume: exit %d %+v", code, last)
		}
	}
	if code != 0 || last.Result != "succeeded" || last.Wait != nil || last.NextCheckAt != "" || len(last.Attempts) != 1 || last.Attempts[0].RunID != id {
		t.Fatalf("final resume: exit %d %+v", code, last)
	}
	if n := len(e.region.State().Runs); n != 1 {
		t.Fatalf("%d Glue runs, want 1", n)
	}
	// Done is done: status and resume say so and change nothing.
	if s3, code := run("status", "--run-key", "k1", "--offline", "--output", "json"); code != 0 || !s3.Done || s3.Result != "succeeded" {
		t.Fatalf("status after: exit %d %+v", code, s3)
	}
}

func TestStatusUnknownKey(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	code, out, errb := e.gluenet(context.Background(), "status", "--run-key", "nope", "--offline")
	if code != exitUsage || !strings.Contains(errb, "nope") || !strings.Contains(errb, "no run with this key") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errb)
	}
}

// TestResumeNoSleepReturnsATimeWait: a run whose first attempt fails on
// placement: resume --no-sleep returns a time wait instead of sleeping, and
// the resume after that time starts the next attempt.
func TestResumeNoSleepReturnsATimeWait(t *testing.T) {
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 600 }, nil)
	if err := e.region.SetAZState("us-east-1a", sim.AZDegraded); err != nil {
		t.Fatal(err)
	}
	if err := e.region.Exhaust(subnet2, 100); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	code, out, errb := e.gluenet(ctx, "run", "--detach", "--job", job, "--connections", conn1+","+conn2, "--run-key", "k", "--strategy", "capacity",
		"--poll-interval", "20ms", "--retry-delay", "5s", "--max-retry-delay", "10s", "--output", "json")
	if code != 0 {
		t.Fatalf("detach: %d\n%s\n%s", code, out, errb)
	}
	var st stepJSON
	for i := 0; ; i++ {
		if i > 500 {
			t.Fatalf("no time wait: %+v", st)
		}
		code, out, errb = e.gluenet(ctx, "resume", "--run-key", "k", "--no-sleep", "--output", "json")
		st = decodeStep(t, out)
		if code != 0 {
			t.Fatalf("resume: %d %+v\n%s", code, st, errb)
		}
		if st.Wait != nil && st.Wait.For == "time" {
			break
		}
		time.Sleep(10 * time.Millisecond) // the simulated run goes on in (scaled) real time
	}
	if st.Wait.Until == "" || st.Attempt != 2 || st.Attempts[0].Class != "placement" {
		t.Fatalf("time wait: %+v", st)
	}
	// Before the time: still a time wait, nothing started. (The delay is
	// seconds, not milliseconds, so that a loaded machine running -race
	// still gets here before it ends.)
	if _, out, _ = e.gluenet(ctx, "resume", "--run-key", "k", "--no-sleep", "--output", "json"); decodeStep(t, out).Wait.For != "time" {
		t.Fatalf("early resume: %s", out)
	}
	if n := len(e.region.State().Runs); n != 1 {
		t.Fatalf("%d runs before the time, want 1", n)
	}
	until, _ := time.Parse(time.RFC3339, st.Wait.Until)
	time.Sleep(time.Until(until) + 10*time.Millisecond)
	code, out, _ = e.gluenet(ctx, "resume", "--run-key", "k", "--no-sleep", "--output", "json")
	st = decodeStep(t, out)
	if code != 0 || st.Wait == nil || st.Wait.For != "run" || st.Attempt != 2 || st.GlueRunID == "" {
		t.Fatalf("resume after the time: %d %+v", code, st)
	}
	if n := len(e.region.State().Runs); n != 2 {
		t.Fatalf("%d runs, want 2", n)
	}
}

// TestReadingCommandsDoNotCreateTheStateFile: status, resume, runs and
// health on a state file that does not exist say there is nothing
// recorded (or show nothing) and leave no file or directory behind, so
// that a mistyped --state does not start a second, empty state.
func TestReadingCommandsDoNotCreateTheStateFile(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "never")
	state := filepath.Join(dir, "state.db")
	tests := []struct {
		name    string
		args    []string
		code    int
		message string // in stderr, or in stdout when the command succeeds
	}{
		{"status", []string{"status", "--run-key", "k1"}, exitUsage, "no state file at " + state},
		{"status offline", []string{"status", "--run-key", "k1", "--offline", "--output", "json"}, exitUsage, `unknown run key "k1"`},
		{"resume", []string{"resume", "--run-key", "k1", "--no-sleep"}, exitUsage, "no state file at " + state},
		{"runs show", []string{"runs", "show", "k1"}, exitUsage, "no state file at " + state},
		{"runs list", []string{"runs", "list", "--output", "json"}, exitOK, "[]"},
		{"health", []string{"health"}, exitOK, "No health records"},
		{"health json", []string{"health", "--output", "json"}, exitOK, `"records": []`},
		{"health reset", []string{"health", "--reset"}, exitOK, "No health records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := e.gluenet(ctx, append(tt.args, "--state", state)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, out, stderr)
			}
			if where := map[bool]string{true: out, false: stderr}[code == exitOK]; !strings.Contains(where, tt.message) {
				t.Errorf("output does not say %q:\nstdout: %s\nstderr: %s", tt.message, out, stderr)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists after %v (stat: %v), want nothing created", dir, tt.args, err)
			}
		})
	}
}

// TestStatusAfterTheRunEnded: when Glue's run ended behind the journal's
// back (a second Ctrl-C left it stopping), status's attempt row and its
// summary both say the live state, and the table says resume records it.
func TestStatusAfterTheRunEnded(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	code, out, stderr := e.gluenet(ctx, append([]string{"run", "--detach", "--job", job, "--connections", conn1 + "," + conn2, "--run-key", "stopped", "--output", "json"}, fast...)...)
	if code != 0 {
		t.Fatalf("run --detach: exit %d\n%s", code, stderr)
	}
	started := decodeStep(t, out)
	if _, err := e.glue.BatchStopJobRun(ctx, &glue.BatchStopJobRunInput{JobName: aws.String(job), JobRunIds: []string{started.GlueRunID}}); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = e.gluenet(ctx, "status", "--run-key", "stopped", "--output", "json")
	if code != 0 {
		t.Fatalf("status: exit %d\n%s", code, stderr)
	}
	st := decodeStep(t, out)
	last := st.Attempts[len(st.Attempts)-1]
	if !strings.HasPrefix(st.State, "STOP") || last.State != st.State {
		t.Errorf("status says %s, its attempt row %s", st.State, last.State)
	}
}
