// Package runner is the wall-clock driver of the executor: `gluenet run`
// (and `gluenet plan`). It steps the run with package executor, waits on
// the real clock between steps (the Glue run's poll interval, the backoff
// between attempts), turns SIGINT/SIGTERM into an interrupt, streams the
// run's logs and reports progress. It performs no action of the policy
// itself: the executor does, for every driver alike.
package runner

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/executor"
	"github.com/gluenet/gluenet/policy"
)

// WallClock is the real clock.
type WallClock struct{}

// Now implements executor.Clock.
func (WallClock) Now() time.Time { return time.Now() }

// Sleep implements executor.Clock: it returns early with ctx's error.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Logs tails a run's CloudWatch logs; *awsclient.Client satisfies it.
type Logs interface {
	FollowLogs(runID string, since time.Time, groups ...string) gluenet.LogPoller
}

// Progress is reported to Runner.Progress as the run goes.
type Progress struct {
	Attempt    int
	Action     policy.Kind
	Connection string // the connection Glue is expected to use
	RunID      string
	State      string
	Elapsed    time.Duration // since the attempt started
	Message    string
}

// Runner drives runs on the wall clock.
type Runner struct {
	Cloud executor.Cloud
	// Logs, when set, lets FollowLogs stream the run's logs.
	Logs   Logs
	Clock  executor.Clock
	Rand   *rand.Rand
	Log    *slog.Logger
	Memory executor.Memory // optional
	// Progress, when set, is called after every step (status line, demo).
	Progress func(Progress)
	// FollowLogs streams the run's output and error logs to LogLine while
	// it runs.
	FollowLogs bool
	// LogLine receives the run's log events when FollowLogs is set.
	LogLine func(gluenet.LogLine)
	// ReservationTTL bounds how long a reservation counts.
	ReservationTTL time.Duration
	// Journal records runs durably and locks jobs; an in-process one when
	// nil.
	Journal executor.Journal
	// Holder names this process in job locks (host/pid).
	Holder string
	// LockTTL and LockTimeout: see executor.Executor.
	LockTTL     time.Duration
	LockTimeout time.Duration
}

// Report is the outcome of Run.
type Report struct {
	Job    string `json:"job"`
	RunKey string `json:"run_key,omitempty"`
	// Reused is true when the run key had already succeeded and nothing
	// was started.
	Reused   bool            `json:"reused,omitempty"`
	Result   policy.Result   `json:"result"`
	Error    string          `json:"error,omitempty"`
	Attempts []AttemptReport `json:"attempts"`
	Final    *gluenet.Plan   `json:"-"`
	// Err is the last error that stopped the loop (ResultError): callers
	// map it to an exit code.
	Err error `json:"-"`
	// Status is the executor's last status.
	Status executor.Status `json:"-"`
}

// AttemptReport is one attempt as reported to the user.
type AttemptReport = executor.AttemptReport

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// Executor is the executor the runner drives, on its cloud, journal and
// memory.
func (r *Runner) Executor() *executor.Executor {
	if r.Journal == nil {
		r.Journal = executor.NewMemJournal()
	}
	return &executor.Executor{Cloud: r.Cloud, Journal: r.Journal, Memory: r.Memory, Clock: r.Clock, Rand: r.Rand, Log: r.log(),
		Holder: r.Holder, LockTTL: r.LockTTL, LockTimeout: r.LockTimeout, ReservationTTL: r.ReservationTTL}
}

// Plan discovers and ranks without changing anything: `gluenet plan`.
func (r *Runner) Plan(ctx context.Context, spec executor.Spec) (gluenet.Plan, error) {
	return r.Executor().Plan(ctx, spec)
}

// Run records the run under key (a new key when empty), or finds it by
// its key, and drives it to the end. Cancelling ctx is an interrupt: the
// Glue run is stopped (unless the policy says not to), waited for, and the
// report says interrupted. AWS calls in flight when ctx is cancelled
// finish, so that a run that was started is never forgotten.
func (r *Runner) Run(ctx context.Context, key string, spec executor.Spec) Report {
	if key == "" {
		key = fmt.Sprintf("%s/%d", spec.Job, r.Rand.Uint64())
	}
	ex := r.Executor()
	st, err := ex.Begin(ctx, key, spec)
	if err != nil {
		return Report{Job: spec.Job, RunKey: key, Result: policy.ResultError, Error: err.Error(), Err: err}
	}
	if st.Done {
		return report(st)
	}
	return r.Resume(ctx, key, r.FollowLogs)
}

// Resume drives a recorded run to the end (`gluenet run`, and `gluenet
// resume` without --no-sleep... on the wall clock).
func (r *Runner) Resume(ctx context.Context, key string, followLogs bool) Report {
	ex := r.Executor()
	io := context.WithoutCancel(ctx)
	interrupted := false
	var (
		follower     gluenet.LogPoller
		followed     string
		attemptOf    = -1
		attemptStart time.Time
		poll         time.Duration
	)
	for {
		c := ctx
		if interrupted {
			c = io
		}
		var (
			st  executor.Status
			err error
		)
		if !interrupted && ctx.Err() != nil {
			interrupted, c = true, io
			st, err = ex.InterruptAndStep(ctx, key)
		} else {
			st, err = ex.Step(c, key)
		}
		if err != nil {
			if ctx.Err() != nil && !interrupted {
				continue // interrupted while waiting for the job lock: nothing was changed
			}
			return Report{RunKey: key, Job: st.Job, Result: policy.ResultError, Error: err.Error(), Err: err}
		}
		poll = st.PollInterval
		if st.Attempt != attemptOf {
			attemptOf, attemptStart = st.Attempt, r.Clock.Now()
		}
		if follower != nil && (st.Done || st.Wait == nil || st.Wait.For != executor.WaitRun || st.GlueRunID != followed) {
			r.drainLogs(ctx, io, follower, poll)
			follower = nil
		}
		r.progress(st, attemptStart)
		if st.Done {
			return report(st)
		}
		w := st.Wait
		if w.For == executor.WaitRun && followLogs && r.LogLine != nil && r.Logs != nil && follower == nil {
			follower, followed = r.Logs.FollowLogs(w.GlueRunID, attemptStart.Add(-time.Minute)), w.GlueRunID
		}
		r.pollLogs(io, follower)
		if err := r.Clock.Sleep(c, w.At().Sub(r.Clock.Now())); err != nil && interrupted {
			return Report{RunKey: key, Job: st.Job, Result: policy.ResultError, Error: err.Error(), Err: err}
		}
	}
}

func (r *Runner) progress(st executor.Status, since time.Time) {
	if r.Progress == nil {
		return
	}
	p := Progress{Attempt: st.Attempt, RunID: st.GlueRunID, State: st.State, Elapsed: r.Clock.Now().Sub(since)}
	if st.Final != nil && st.Final.First() != nil && len(st.Attempts) > 0 && st.Attempts[len(st.Attempts)-1].Expected != "" {
		p.Connection = st.Attempts[len(st.Attempts)-1].Expected
	}
	switch {
	case st.Done && st.Result == policy.ResultSucceeded:
		p.Action = policy.Finish
	case st.Done:
		p.Action = policy.GiveUp
	case st.Wait.For == executor.WaitRoom:
		p.Action, p.State, p.Message = policy.Sleep, "", st.Why
	case st.Wait.For == executor.WaitTime:
		p.Action, p.State = policy.Sleep, ""
		p.Message = fmt.Sprintf("retrying in %s", st.Wait.Until.Sub(r.Clock.Now()).Round(time.Second))
	default:
		p.Action = policy.Wait
	}
	if len(st.Attempts) > 0 && p.Message == "" {
		p.Message = st.Attempts[len(st.Attempts)-1].ErrorMessage
	}
	r.Progress(p)
}

func report(st executor.Status) Report {
	rep := Report{Job: st.Job, RunKey: st.Key, Reused: st.Reused, Result: st.Result, Error: st.Err, Attempts: st.Attempts, Final: st.Final,
		Err: st.Cause, Status: st}
	return rep
}

func (r *Runner) pollLogs(ctx context.Context, f gluenet.LogPoller) int {
	if f == nil {
		return 0
	}
	lines, err := f.Poll(ctx)
	for _, l := range lines {
		r.LogLine(l)
	}
	if err != nil {
		r.log().Warn("could not read the run's logs", "err", err)
	}
	return len(lines)
}

// drainLogs reads what the logs still hold once the run has ended: events
// can reach CloudWatch a little after the run's end. It stops at the first
// poll that brings nothing, and after three polls in any case, so it never
// hangs.
func (r *Runner) drainLogs(ctx, io context.Context, f gluenet.LogPoller, every time.Duration) {
	for range 3 {
		if r.pollLogs(io, f) == 0 {
			return
		}
		if r.Clock.Sleep(ctx, every) != nil {
			return
		}
	}
}
