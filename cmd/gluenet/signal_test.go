package main

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// lockedBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSecondSignalExitsAtOnce runs gluenet as a child process against the
// simulated region, whose BatchStopJobRun never answers, so that after a
// first SIGINT the process is stuck stopping the run. The first signal must
// say which Glue run it is stopping and that a second signal leaves it
// going; the second (SIGTERM) must end the process at once with exit 130,
// and the Glue run is left as it was.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	bin := failpointBinary(t) // no GLUENET_FAILPOINT: an ordinary gluenet
	var polls atomic.Int64
	stopAsked := make(chan struct{})
	var stopOnce sync.Once
	release := make(chan struct{})
	hangStop := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.Header.Get("X-Amz-Target") {
			case "AWSGlue.BatchStopJobRun":
				stopOnce.Do(func() { close(stopAsked) })
				select { // never answer while the test runs
				case <-release:
				case <-r.Context().Done():
				}
				return
			case "AWSGlue.GetJobRun":
				polls.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	e := newSimEnv(t, func(sc *sim.Scenario) { sc.TimeScale = 60 }, hangStop)
	t.Cleanup(func() { close(release) }) // before the server closes: cleanups run last first

	var stdout, stderr lockedBuffer
	cmd := exec.Command(bin, "--endpoint-url", e.url, "--state", e.state, "--log-format", "json", "--log-level", "info",
		"run", "--job", job, "--connections", conn1, "--poll-interval", "20ms", "--output", "json")
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
	})
	// Wait until the run is RUNNING and the process has polled it twice
	// more (so it knows the run id), or until it exits early.
	var seen int64 = -1
	for seen < 0 || polls.Load() < seen+2 {
		select {
		case err := <-exited:
			t.Fatalf("gluenet exited before the run was going: %v\n%s", err, stderr.String())
		default:
		}
		if seen < 0 && strings.Contains(stderr.String(), `"state":"RUNNING"`) {
			seen = polls.Load()
		}
		time.Sleep(5 * time.Millisecond)
	}
	runs := e.region.State().Runs
	if len(runs) != 1 {
		t.Fatalf("%d runs in the region, want 1", len(runs))
	}
	runID := runs[0].ID

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stopAsked: // the process is now stuck stopping the run
	case err := <-exited:
		t.Fatalf("gluenet exited after one signal without stopping the run: %v\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := <-exited
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("after a second signal: %v (want exit %d)\n%s", err, exitInterrupted, stderr.String())
	}
	msg := stderr.String()
	first := regexp.MustCompile(`interrupted: stopping Glue run ` + regexp.QuoteMeta(runID) + ` of job ` + job + `.*A second Ctrl-C or SIGTERM exits at once and leaves the run going`)
	if !first.MatchString(msg) {
		t.Errorf("the first signal's message should name run %s and say what a second signal does:\n%s", runID, msg)
	}
	if !strings.Contains(msg, "second interrupt: exiting now. Glue run "+runID) {
		t.Errorf("the second signal's message should name run %s:\n%s", runID, msg)
	}
	if st := e.region.State().Runs[0].State; st == "STOPPING" || st == "STOPPED" {
		t.Errorf("the Glue run is %s; the stop never reached Glue, so it must be left going", st)
	}
}

func TestOnSignalsMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		run           runningRun
		first, second string
	}{
		{"stopping a run", runningRun{Job: "j", RunID: "jr_1", Stop: true},
			"stopping Glue run jr_1 of job j", "Glue run jr_1 of job j is left as it is"},
		{"leaving a run going", runningRun{Job: "j", RunID: "jr_1"},
			"leaving Glue run jr_1 of job j going (--no-stop-on-interrupt)", "Glue run jr_1 of job j is left as it is"},
		{"no run going", runningRun{}, "finishing up", "second interrupt: exiting now."},
		{"serve", runningRun{Serving: true}, "gluenet serve: stopping: finishing the requests in flight, then exiting (0)", "second interrupt: exiting now."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sigs := make(chan os.Signal, 2)
			var out lockedBuffer
			canceled := make(chan struct{})
			code := make(chan int, 1)
			go onSignals(sigs, func() { close(canceled) }, &out, func() runningRun { return tt.run }, func(c int) { code <- c })
			sigs <- os.Interrupt
			<-canceled
			if !strings.Contains(out.String(), tt.first) {
				t.Errorf("first message %q does not say %q", out.String(), tt.first)
			}
			sigs <- syscall.SIGTERM
			if c := <-code; c != exitInterrupted {
				t.Errorf("exit %d, want %d", c, exitInterrupted)
			}
			if !strings.Contains(out.String(), tt.second) {
				t.Errorf("second message %q does not say %q", out.String(), tt.second)
			}
		})
	}
}
