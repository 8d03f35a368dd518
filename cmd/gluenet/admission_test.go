package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestShortStartIsNeverSilent: with waiting for room off, a run that needs
// 10 IPs on subnets with 5 and 3 free starts short, and says so: a WARN
// line with the figures, under_capacity in run's and status's JSON, and
// runs show.
func TestShortStartIsNeverSilent(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	for s, n := range map[string]int{subnet1: 5, subnet2: 3} {
		if err := e.region.Exhaust(s, n); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	code, out, stderr := e.gluenet(ctx, append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--workers", "10",
		"--strategy", "capacity", "--admit-wait", "0", "--run-key", "short-1", "--output", "json", "--log-level", "warn"}, fast...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	if !strings.Contains(stderr, "starting the run under capacity: it needs 10 IPs") || !strings.Contains(stderr, `"free_at_start":5`) {
		t.Errorf("no warning with the figures:\n%s", stderr)
	}
	r := decodeRun(t, out)
	u := r.Attempts[0].UnderCapacity
	if u == nil || u.Needed != 10 || u.FreeAtStart != 5 || u.Subnet != subnet1 {
		t.Fatalf("run JSON under_capacity = %+v", u)
	}
	code, out, _ = e.gluenet(ctx, "status", "--run-key", "short-1", "--output", "json")
	var st stepJSON
	if err := json.Unmarshal([]byte(out), &st); code != 0 || err != nil {
		t.Fatalf("status exit %d, %v: %s", code, err, out)
	}
	if u := st.Attempts[0].UnderCapacity; u == nil || u.FreeAtStart != 5 {
		t.Errorf("status JSON under_capacity = %+v", u)
	}
	code, out, _ = e.gluenet(ctx, "runs", "show", "short-1")
	if code != 0 || !strings.Contains(out, "started UNDER CAPACITY: it needed 10 IPs, "+subnet1+" had 5 free") {
		t.Errorf("runs show (exit %d) does not say the run started short:\n%s", code, out)
	}
}

// TestWhenShortFail: no room for the whole run within --admit-wait and
// --when-short fail: exit 3 with the figures, nothing started, the job
// definition as it was.
func TestWhenShortFail(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	for s, n := range map[string]int{subnet1: 5, subnet2: 3} {
		if err := e.region.Exhaust(s, n); err != nil {
			t.Fatal(err)
		}
	}
	before := e.jobJSON(job)
	code, out, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn1 + "," + conn2, "--workers", "10",
		"--admit-wait", "300ms", "--when-short", "fail", "--output", "json"}, fast...)...)
	if code != exitRunFailed {
		t.Fatalf("exit %d, want %d: %s %s", code, exitRunFailed, out, stderr)
	}
	r := decodeRun(t, out)
	if !strings.Contains(r.Error, "no healthy subnet had room for the run's 10 IPs") || !strings.Contains(r.Error, subnet1+", had 5 free") {
		t.Errorf("error = %q, want the figures", r.Error)
	}
	if n := len(e.region.State().Runs); n != 0 {
		t.Errorf("%d Glue runs started", n)
	}
	if after := e.jobJSON(job); after != before {
		t.Errorf("job definition changed:\nbefore %s\nafter  %s", before, after)
	}
}

// TestAdmissionFlagsRefuseBadValues: bad admission settings are usage
// errors (exit 2) that say what to give.
func TestAdmissionFlagsRefuseBadValues(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--admit-wait", "soon"}, "--admit-wait \"soon\": give how long"},
		{[]string{"--admit-wait", "-1m"}, "--admit-wait \"-1m\""},
		{[]string{"--when-short", "maybe"}, "give start"},
	} {
		code, _, stderr := e.gluenet(context.Background(), append([]string{"run", "--job", job, "--connections", conn1}, tc.args...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d naming %q", tc.args, code, stderr, exitUsage, tc.want)
		}
	}
}

// TestDetachWaitsForRoom: the step-wise commands wait for room as run
// does: run --detach records the wait (nothing started), status shows it,
// and resume starts the run once a subnet has room, then finishes it.
func TestDetachWaitsForRoom(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	for s, n := range map[string]int{subnet1: 5, subnet2: 3} {
		if err := e.region.Exhaust(s, n); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	step := func(args ...string) stepJSON {
		t.Helper()
		code, out, stderr := e.gluenet(ctx, append(args, "--output", "json")...)
		var st stepJSON
		if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 {
			t.Fatalf("%v: exit %d, %v:\n%s\n%s", args, code, err, out, stderr)
		}
		return st
	}
	st := step(append([]string{"run", "--detach", "--job", job, "--connections", conn1 + "," + conn2, "--workers", "10",
		"--admit-wait", "10m", "--run-key", "room-1"}, fast...)...)
	if st.Done || st.Wait == nil || st.Wait.For != "room" || !strings.HasPrefix(st.Why, "waiting for room: needs 10 IPs") || st.GlueRunID != "" {
		t.Fatalf("run --detach: %+v", st)
	}
	if n := len(e.region.State().Runs); n != 0 {
		t.Fatalf("%d Glue runs started while waiting for room", n)
	}
	if st = step("status", "--run-key", "room-1"); st.Wait == nil || st.Wait.For != "room" {
		t.Fatalf("status: %+v", st)
	}
	if err := e.region.Exhaust(subnet1, 40); err != nil {
		t.Fatal(err)
	}
	st = step("resume", "--run-key", "room-1")
	if st.GlueRunID == "" {
		t.Fatalf("resume did not start the run once there was room: %+v", st)
	}
	if st.Attempts[0].UnderCapacity != nil {
		t.Errorf("started short although a subnet had room: %+v", st.Attempts[0].UnderCapacity)
	}
}
