package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

// Journal is the durable record of runs and the per-job lock; store.Store
// satisfies it. With a Journal the runner never forgets a run it started
// and never starts one twice for the same run key.
type Journal interface {
	BeginRun(ctx context.Context, r store.Run) (store.Run, bool, error)
	SetRunStatus(ctx context.Context, key string, status store.RunStatus, at time.Time) error
	FinishRun(ctx context.Context, key string, status store.RunStatus, outcome string, at time.Time) error
	PutAttempt(ctx context.Context, a store.Attempt) error
	Attempts(ctx context.Context, key string) ([]store.Attempt, error)
	RecordRunID(ctx context.Context, key string, number int, runID string, at time.Time) error
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration, now time.Time) (store.Lease, bool, error)
	RenewLease(ctx context.Context, l store.Lease, ttl time.Duration, now time.Time) (store.Lease, error)
	ReleaseLease(ctx context.Context, l store.Lease) error
}

// MarkerArgument is the job run argument that tags every run gluenet starts
// with its run key and attempt. After a crash between StartJobRun and
// recording the run id, it is how gluenet finds the run it started instead
// of starting another. Glue passes its own extra arguments (--JOB_ID,
// --TempDir, ...) to every script, so scripts already ignore unknown ones.
const MarkerArgument = "--gluenet-attempt"

// Phases recorded for an attempt.
const (
	phaseDiscovered = "discovered"
	phaseStarting   = "starting" // the order may be applied; StartJobRun may have been sent
	phaseStarted    = "started"
	phaseEnded      = "ended"
)

// DefaultLockTTL is how long the per-job lock lives. It only covers
// UpdateJob + StartJobRun and recording the run id, seconds even when
// throttled (the lock is renewed before StartJobRun, which also proves it
// was not lost); a holder that dies blocks others at most this long.
const DefaultLockTTL = 30 * time.Second

func marker(key string, attempt int) string { return fmt.Sprintf("%s#%d", key, attempt) }

// ErrRunKeyJob: the run key was used for another job.
var ErrRunKeyJob = errors.New("run key belongs to another job")

// begin records the run, or finds it. It returns the state to drive from,
// and a finished report when the key's run already succeeded.
func (r *Runner) begin(ctx context.Context, cfg Config) (policy.State, *Report, error) {
	if r.Journal == nil || cfg.RunKey == "" {
		return policy.New(), nil, nil
	}
	now := r.Clock.Now()
	inputs, _ := json.Marshal(map[string]any{"job": cfg.Job, "connections": cfg.Connections, "strategy": cfg.Strategy.Name(),
		"need_ips": cfg.NeedIPs, "arguments": cfg.Start.Arguments})
	run, created, err := r.Journal.BeginRun(ctx, store.Run{Key: cfg.RunKey, Job: cfg.Job, Status: store.RunRunning, Inputs: inputs, CreatedAt: now})
	if err != nil {
		return policy.State{}, nil, fmt.Errorf("record run %q: %w", cfg.RunKey, err)
	}
	if created {
		r.log().Info("recorded new run", "run_key", cfg.RunKey)
		return policy.New(), nil, nil
	}
	if run.Job != cfg.Job {
		return policy.State{}, nil, fmt.Errorf("%w: run key %q was used for job %q, not %q; choose another --run-key", ErrRunKeyJob, cfg.RunKey, run.Job, cfg.Job)
	}
	stored, err := r.Journal.Attempts(ctx, cfg.RunKey)
	if err != nil {
		return policy.State{}, nil, fmt.Errorf("read attempts of run %q: %w", cfg.RunKey, err)
	}
	attempts := toPolicy(stored)
	if run.Status == store.RunSucceeded {
		r.log().Info("run key already succeeded; starting nothing", "run_key", cfg.RunKey)
		s := policy.State{Phase: policy.PhaseDone, Result: policy.ResultSucceeded, Attempts: attempts}
		rep := report(cfg.Job, s)
		rep.Reused = true
		return s, &rep, nil
	}
	if err := r.Journal.SetRunStatus(ctx, cfg.RunKey, store.RunRunning, now); err != nil {
		return policy.State{}, nil, err
	}
	if len(stored) == 0 {
		return policy.New(), nil, nil
	}
	last := stored[len(stored)-1]
	switch {
	case last.GlueRunID != "" && last.FinalState == "":
		r.log().Warn("re-attaching to the Glue run an earlier process started", "run_key", cfg.RunKey, "attempt", last.Number, "run_id", last.GlueRunID)
		return policy.Resume(attempts), nil, nil
	case last.FinalState != "":
		// The last attempt ended (the run failed, or was interrupted):
		// go on with a new attempt, keeping the numbering.
		s := policy.New()
		s.Attempts = append(attempts, policy.Attempt{Number: last.Number + 1})
		return s, nil, nil
	}
	// Redo the last attempt from discovery: it never started a run.
	s := policy.New()
	attempts[len(attempts)-1] = policy.Attempt{Number: last.Number}
	s.Attempts = attempts
	return s, nil, nil
}

func toPolicy(stored []store.Attempt) []policy.Attempt {
	out := make([]policy.Attempt, 0, len(stored))
	for _, a := range stored {
		pa := policy.Attempt{Number: a.Number, RunID: a.GlueRunID, State: a.FinalState, ErrorMessage: a.ErrorMessage}
		if pa.State == "" && len(a.States) > 0 {
			pa.State = a.States[len(a.States)-1].State
		}
		if len(a.Plan) > 0 {
			var p gluenet.Plan
			if json.Unmarshal(a.Plan, &p) == nil {
				pa.Plan = &p
			}
		}
		out = append(out, pa)
	}
	return out
}

// record writes an attempt update; a failure is logged, not fatal, except
// where the caller says otherwise.
func (r *Runner) record(ctx context.Context, cfg Config, a store.Attempt) {
	if r.Journal == nil || cfg.RunKey == "" {
		return
	}
	a.RunKey = cfg.RunKey
	if err := r.Journal.PutAttempt(ctx, a); err != nil {
		r.log().Warn("could not record the attempt", "run_key", cfg.RunKey, "attempt", a.Number, "err", err)
	}
}

func (r *Runner) finishRun(ctx context.Context, cfg Config, s policy.State) {
	if r.Journal == nil || cfg.RunKey == "" {
		return
	}
	status := map[policy.Result]store.RunStatus{
		policy.ResultSucceeded: store.RunSucceeded, policy.ResultFailed: store.RunFailed,
		policy.ResultError: store.RunFailed, policy.ResultInterrupted: store.RunInterrupted,
	}[s.Result]
	outcome := string(s.Result)
	if s.Err != "" {
		outcome += ": " + s.Err
	}
	if err := r.Journal.FinishRun(ctx, cfg.RunKey, status, outcome, r.Clock.Now()); err != nil {
		r.log().Warn("could not record the run's end", "run_key", cfg.RunKey, "err", err)
	}
}

// jobLock is a held per-job lease.
type jobLock struct {
	r *Runner
	l store.Lease
}

// confirm renews the lock and so proves it is still ours: another holder
// may have taken it over if this one stalled past its TTL.
func (j *jobLock) confirm(ctx context.Context) error {
	if j == nil {
		return nil
	}
	l, err := j.r.Journal.RenewLease(ctx, j.l, j.r.lockTTL(), j.r.Clock.Now())
	if err != nil {
		return fmt.Errorf("job lock %s lost before starting the run: %w", j.l.Name, err)
	}
	j.l = l
	return nil
}

func (j *jobLock) release(ctx context.Context) {
	if j == nil {
		return
	}
	if err := j.r.Journal.ReleaseLease(ctx, j.l); err != nil {
		j.r.log().Warn("could not release the job lock; it expires by itself", "lock", j.l.Name, "err", err)
	}
}

func (r *Runner) lockTTL() time.Duration {
	if r.LockTTL > 0 {
		return r.LockTTL
	}
	return DefaultLockTTL
}

// lockJob takes the job's lease, waiting for another holder to finish its
// UpdateJob + StartJobRun. Without a Journal there is nothing to lock with
// (nil lock).
func (r *Runner) lockJob(ctx context.Context, job string) (*jobLock, error) {
	if r.Journal == nil {
		return nil, nil
	}
	name := "job/" + job
	delay := 50 * time.Millisecond
	for {
		l, ok, err := r.Journal.AcquireLease(ctx, name, r.holder(), r.lockTTL(), r.Clock.Now())
		if err != nil {
			return nil, fmt.Errorf("lock job %q: %w", job, err)
		}
		if ok {
			return &jobLock{r: r, l: l}, nil
		}
		r.log().Debug("job is locked by another gluenet; waiting", "job", job, "holder", l.Holder)
		if err := r.Clock.Sleep(ctx, delay); err != nil {
			return nil, err
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

func (r *Runner) holder() string {
	if r.Holder != "" {
		return r.Holder
	}
	return "gluenet"
}

// adoptStarted looks, under the job lock, for a run that this attempt
// already started: recorded by another process with the same run key, or
// started by a process that died before recording it (found by the marker
// argument). It returns the run id, or "".
func (r *Runner) adoptStarted(ctx context.Context, cfg Config, number int) (string, error) {
	if r.Journal == nil || cfg.RunKey == "" {
		return "", nil
	}
	stored, err := r.Journal.Attempts(ctx, cfg.RunKey)
	if err != nil {
		return "", fmt.Errorf("read attempts of run %q: %w", cfg.RunKey, err)
	}
	for _, a := range stored {
		if a.Number != number {
			continue
		}
		if a.GlueRunID != "" {
			return a.GlueRunID, nil
		}
		if a.StartedAt.IsZero() {
			return "", nil // no process ever got as far as starting it
		}
		// A process died between applying the order and recording the run
		// id: StartJobRun may or may not have happened.
		id, err := r.Cloud.FindRun(ctx, cfg.Job, MarkerArgument, marker(cfg.RunKey, number), a.StartedAt.Add(-time.Minute))
		if err != nil {
			return "", fmt.Errorf("look for the run an earlier process may have started: %w", err)
		}
		if id != "" {
			if err := r.Journal.RecordRunID(ctx, cfg.RunKey, number, id, r.Clock.Now()); err != nil {
				return "", err
			}
		}
		return id, nil
	}
	return "", nil
}
