package executor

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/reserve"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/strategy"
)

// MarkerArgument is the job run argument that tags every run gluenet starts
// with its run key and attempt ("KEY#N"). It is how a later process finds
// the run an earlier one started, and how it checks that a recorded run id
// belongs to the key. Glue passes its own extra arguments (--JOB_ID,
// --TempDir, ...) to every script, so scripts already ignore unknown ones.
const MarkerArgument = "--gluenet-attempt"

// Defaults of the executor's bounds.
const (
	// DefaultLockTTL is how long the per-job lock lives. It only covers
	// UpdateJob + StartJobRun and recording the run id; a holder that dies
	// blocks others at most this long.
	DefaultLockTTL = 30 * time.Second
	// DefaultLockTimeout bounds the wait for another gluenet's job lock
	// (--lock-timeout).
	DefaultLockTimeout = 2 * time.Minute
	// DefaultUnreadableFor bounds how long a recorded run may fail to be
	// read (GetJobRun errors) before the executor settles its fate.
	DefaultUnreadableFor = 15 * time.Minute
)

// ClassLost is the class of an attempt whose Glue run no longer exists (or
// never belonged to the key) and that no run with its marker replaces.
const ClassLost classify.Class = "lost"

// StateLost is the state recorded for such an attempt.
const StateLost = "LOST"

// StateWaiting is the state of a run that Glue queued (job run queuing):
// it waits for concurrency or resources, and holds no IPs yet.
const StateWaiting = "WAITING"

// Errors the executor returns; test with errors.Is.
var (
	// ErrUnknownKey: no run with this key is recorded.
	ErrUnknownKey = errors.New("unknown run key")
	// ErrRunKeyJob: the run key was used for another job.
	ErrRunKeyJob = errors.New("run key belongs to another job")
	// ErrLockTimeout: another gluenet held the job's lock longer than the
	// lock timeout.
	ErrLockTimeout = errors.New("timed out waiting for the job lock")
	// errStale: another process stepped the run meanwhile; read it again.
	errStale = errors.New("run state changed under this step")
)

// Executor performs the policy's actions. Its zero value is not usable:
// Cloud, Journal, Clock and Rand are required.
type Executor struct {
	Cloud   Cloud
	Journal Journal
	// Memory is optional: without it the executor ranks on free IPs alone
	// and retries blindly, as the post's DAG does.
	Memory Memory
	Clock  Clock
	// Rand draws each attempt's random seed and the retry jitter.
	Rand *rand.Rand
	Log  *slog.Logger
	// Holder names this process in leases (host/pid/random).
	Holder string
	// LockTTL, LockTimeout, ReservationTTL and UnreadableFor default to
	// DefaultLockTTL, DefaultLockTimeout, reserve.DefaultTTL and
	// DefaultUnreadableFor.
	LockTTL        time.Duration
	LockTimeout    time.Duration
	ReservationTTL time.Duration
	UnreadableFor  time.Duration
	// cache holds the record this executor last read or wrote per key, by
	// revision: a Step that finds the journal at that revision skips
	// decoding (the lab steps thousands of runs in one process).
	cacheMu sync.Mutex
	cache   map[string]cached
}

// WaitFor says what a driver waits for before the next Step.
type WaitFor string

// The waits.
const (
	// WaitRun: a Glue run is going; Step again at CheckAt.
	WaitRun WaitFor = "run"
	// WaitTime: nothing to do until Until (backoff between attempts).
	WaitTime WaitFor = "time"
	// WaitRoom: the attempt waits for room for the whole run (capacity-
	// aware admission); Step again at Until, which looks again.
	WaitRoom WaitFor = "room"
)

// Wait is what to wait for before the next Step; nil when the run is done.
type Wait struct {
	For       WaitFor   `json:"for"`
	GlueRunID string    `json:"glue_run_id,omitempty"`
	CheckAt   time.Time `json:"check_at,omitzero"`
	Until     time.Time `json:"until,omitzero"`
}

// At is when the driver should Step again.
func (w Wait) At() time.Time {
	if w.For == WaitTime || w.For == WaitRoom {
		return w.Until
	}
	return w.CheckAt
}

// AttemptReport is one attempt as reported to users.
type AttemptReport struct {
	Attempt      int                 `json:"attempt"`
	Order        []string            `json:"order"`
	Connections  []gluenet.Placement `json:"connections"`
	Expected     string              `json:"expected_connection,omitempty"`
	RunID        string              `json:"run_id,omitempty"`
	State        string              `json:"state,omitempty"`
	ErrorMessage string              `json:"error_message,omitempty"`
	Class        classify.Class      `json:"class,omitempty"`
	// UnderCapacity is set when the attempt's run started with fewer free
	// IPs than it needs.
	UnderCapacity *gluenet.UnderCapacity `json:"under_capacity,omitempty"`
	// WaitedForRoom is how long the attempt waited for room before it
	// started (or gave up), in seconds; 0 when it did not wait.
	WaitedForRoom float64 `json:"waited_for_room_s,omitempty"`
}

// Status is a run as the journal has it after a step.
type Status struct {
	Key string
	Job string
	// Done is true once the run finished (Result says how).
	Done bool
	// Reused is true when the key had already succeeded and nothing was
	// done.
	Reused   bool
	Result   policy.Result
	Err      string
	ErrClass classify.Class
	// Cause is the error that stopped the run in this process (Result
	// error), for the caller's messages; nil in a later process.
	Cause error
	// Attempt, GlueRunID and State are the current attempt's.
	Attempt   int
	GlueRunID string
	State     string
	Wait      *Wait
	// Why says why the last wait happened.
	Why      string
	Attempts []AttemptReport
	// Final is the last attempt's plan.
	Final *gluenet.Plan
	// Phase is the policy's phase (discover, start, wait, sleep, done).
	Phase string
	// PollInterval is the run's poll interval.
	PollInterval time.Duration
}

func (e *Executor) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.Default()
}

func (e *Executor) now() time.Time { return e.Clock.Now() }

func marker(key string, attempt int) string { return fmt.Sprintf("%s#%d", key, attempt) }

// Begin records a new run for key, or finds the recorded one: a key that
// already succeeded is returned done and Reused; a key that failed or was
// interrupted is reopened (its last run re-attached when it may still be
// going, else a new attempt); a key in progress is left as it is, to be
// stepped. A key recorded for another job is ErrRunKeyJob.
func (e *Executor) Begin(ctx context.Context, key string, spec Spec) (Status, error) {
	ctx = context.WithoutCancel(ctx)
	now := e.now()
	inputs, _ := json.Marshal(spec)
	run, created, err := e.Journal.BeginRun(ctx, store.Run{Key: key, Job: spec.Job, Status: store.RunRunning, Inputs: inputs, CreatedAt: now})
	if err != nil {
		return Status{}, fmt.Errorf("record run %q: %w", key, err)
	}
	if created {
		e.log().Info("recorded new run", "run_key", key)
		rec := &record{V: recordVersion, Spec: spec, Phase: phaseNames[policy.PhaseDiscover], Attempts: []attemptRecord{{Number: 1}}}
		if _, err := e.put(ctx, key, 0, rec); err != nil {
			return Status{}, err
		}
		return e.status(key, rec, nil), nil
	}
	if run.Job != spec.Job {
		return Status{}, fmt.Errorf("%w: run key %q was used for job %q, not %q; choose another --run-key", ErrRunKeyJob, key, run.Job, spec.Job)
	}
	rec, rev, err := e.load(ctx, key, &spec)
	if err != nil {
		return Status{}, err
	}
	if run.Status == store.RunSucceeded || rec.Result == policy.ResultSucceeded {
		e.log().Info("run key already succeeded; starting nothing", "run_key", key)
		st := e.status(key, rec, nil)
		st.Reused = true
		return st, nil
	}
	if rec.Phase != phaseNames[policy.PhaseDone] {
		if rev == 0 {
			// Rebuilt from an older journal: write it down.
			if _, err := e.put(ctx, key, rev, rec); err != nil {
				return Status{}, err
			}
		}
		return e.status(key, rec, e.pendingWait(rec)), nil
	}
	// Reopen: go on where the run stopped.
	if err := e.Journal.SetRunStatus(ctx, key, store.RunRunning, now); err != nil {
		return Status{}, fmt.Errorf("reopen run %q: %w", key, err)
	}
	rec.reopen()
	if _, err := e.put(ctx, key, rev, rec); err != nil {
		return Status{}, err
	}
	e.log().Info("reopened the run", "run_key", key, "phase", rec.Phase, "attempt", rec.current().Number)
	return e.status(key, rec, nil), nil
}

// reopen turns a finished (failed, interrupted) record into one that goes
// on: it re-attaches to a run that may still be going, redoes an attempt
// that never started a run, or adds an attempt after one that ended.
func (r *record) reopen() {
	r.Result, r.Err, r.ErrClass, r.Interrupted = "", "", "", false
	r.SleepUntil, r.AfterSleep = time.Time{}, ""
	cur := r.current()
	switch {
	case cur == nil:
		r.Attempts = []attemptRecord{{Number: 1}}
		r.Phase = phaseNames[policy.PhaseDiscover]
	case cur.RunID != "" && !classify.Terminal(cur.State) && cur.State != StateLost:
		r.Phase = phaseNames[policy.PhaseWait]
		cur.Stopping = false
	case cur.RunID != "" || classify.Terminal(cur.State) || cur.State == StateLost:
		r.Attempts = append(r.Attempts, attemptRecord{Number: cur.Number + 1})
		r.Phase = phaseNames[policy.PhaseDiscover]
	case !cur.StartingAt.IsZero() && cur.Plan != nil:
		// A run may have been started: start again, which first looks for
		// it by its marker, with the plan that was applied.
		r.Phase = phaseNames[policy.PhaseStart]
	default:
		*cur = attemptRecord{Number: cur.Number, Seed: cur.Seed}
		r.Phase = phaseNames[policy.PhaseDiscover]
	}
}

// load reads the run's state record. A run journaled without one (by an
// older gluenet) is rebuilt from its attempts, with spec (nil: from the
// run's inputs).
func (e *Executor) load(ctx context.Context, key string, spec *Spec) (*record, int64, error) {
	rs, err := e.Journal.RunState(ctx, key)
	if err == nil {
		if rec, ok := e.cached(key, rs.Revision); ok {
			return rec, rs.Revision, nil
		}
		rec, err := decodeRecord(rs.Data)
		if err == nil {
			e.remember(key, rs.Revision, rec)
		}
		return rec, rs.Revision, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("read the state of run %q: %w", key, err)
	}
	run, err := e.Journal.GetRun(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, fmt.Errorf("%w %q: no run with this key is recorded in the state store (check --run-key, --state or --postgres-dsn)", ErrUnknownKey, key)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read run %q: %w", key, err)
	}
	if spec == nil {
		var sp Spec
		if len(run.Inputs) == 0 || json.Unmarshal(run.Inputs, &sp) != nil || sp.Policy.MaxAttempts < 1 || sp.PollInterval <= 0 {
			return nil, 0, fmt.Errorf("run %q was recorded by an older gluenet without its inputs: continue it with `gluenet run --run-key %s` and the same flags", key, key)
		}
		sp.Job = run.Job
		spec = &sp
	}
	stored, err := e.Journal.Attempts(ctx, key)
	if err != nil {
		return nil, 0, fmt.Errorf("read attempts of run %q: %w", key, err)
	}
	rec := &record{V: recordVersion, Spec: *spec}
	for _, a := range stored {
		ar := attemptRecord{Number: a.Number, RunID: a.GlueRunID, State: a.FinalState, ErrorMessage: a.ErrorMessage,
			Class: classify.Class(a.Class), StartingAt: a.StartedAt, Marker: marker(key, a.Number), Order: a.OrderApplied}
		if ar.State == "" && len(a.States) > 0 {
			ar.State = a.States[len(a.States)-1].State
		}
		if len(a.Plan) > 0 {
			var p gluenet.Plan
			if json.Unmarshal(a.Plan, &p) == nil {
				ar.Plan = planToRecord(&p)
			}
		}
		rec.Attempts = append(rec.Attempts, ar)
	}
	rec.Phase = phaseNames[policy.PhaseDone]
	rec.Result = policy.ResultInterrupted
	if run.Status == store.RunSucceeded {
		rec.Result = policy.ResultSucceeded
	} else {
		rec.reopen()
	}
	return rec, 0, nil
}

// put writes the record under compare-and-swap and returns the new
// revision; errStale when another process wrote it meanwhile.
func (e *Executor) put(ctx context.Context, key string, rev int64, rec *record) (int64, error) {
	data, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode run state: %w", err)
	}
	n, err := e.Journal.PutRunState(ctx, store.RunState{Key: key, Revision: rev, Data: data, UpdatedAt: e.now()})
	if errors.Is(err, store.ErrConflict) {
		return 0, fmt.Errorf("%w: %v", errStale, err)
	}
	if err != nil {
		return 0, fmt.Errorf("record the state of run %q: %w", key, err)
	}
	e.remember(key, n, rec)
	return n, nil
}

type cached struct {
	rev int64
	rec *record
}

// clone copies what a step may change in place: the record's fields and
// its attempts (plans and orders are replaced, never changed in place).
func (r *record) clone() *record {
	c := *r
	c.Attempts = append([]attemptRecord(nil), r.Attempts...)
	return &c
}

func (e *Executor) cached(key string, rev int64) (*record, bool) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	c, ok := e.cache[key]
	if !ok || c.rev != rev {
		return nil, false
	}
	return c.rec.clone(), true
}

func (e *Executor) remember(key string, rev int64, rec *record) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	if e.cache == nil {
		e.cache = map[string]cached{}
	}
	e.cache[key] = cached{rev: rev, rec: rec.clone()}
}

// Forget drops what the executor cached about a finished run.
func (e *Executor) Forget(key string) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	delete(e.cache, key)
}

// pendingWait is the wait a record stands in, computed without AWS.
func (e *Executor) pendingWait(rec *record) *Wait {
	cur := rec.current()
	switch rec.Phase {
	case phaseNames[policy.PhaseWait]:
		return &Wait{For: WaitRun, GlueRunID: cur.RunID, CheckAt: e.now()}
	case phaseNames[policy.PhaseSleep]:
		return &Wait{For: WaitTime, Until: rec.SleepUntil}
	case phaseNames[policy.PhaseDone]:
		return nil
	case phaseNames[policy.PhaseStart]:
		if !cur.AdmitSince.IsZero() && cur.AdmittedAt.IsZero() {
			return &Wait{For: WaitRoom, Until: cur.RoomCheckAt}
		}
	}
	return &Wait{For: WaitTime, Until: e.now()}
}

func (e *Executor) status(key string, rec *record, w *Wait) Status {
	st := Status{Key: key, Job: rec.Spec.Job, Done: rec.Phase == phaseNames[policy.PhaseDone], Result: rec.Result, Err: rec.Err,
		ErrClass: rec.ErrClass, Wait: w, Phase: rec.Phase, PollInterval: rec.Spec.PollInterval}
	if st.Done {
		st.Wait = nil
	}
	for _, a := range rec.Attempts {
		ar := AttemptReport{Attempt: a.Number, RunID: a.RunID, State: a.State, ErrorMessage: a.ErrorMessage, Class: a.Class, Order: a.Order,
			Connections: []gluenet.Placement{}}
		if p := a.Plan.plan(); p != nil {
			if ar.Order == nil {
				ar.Order = p.FullOrder()
			}
			ar.Connections = p.Placements
			ar.UnderCapacity = p.UnderCapacity
			if f := p.First(); f != nil {
				ar.Expected = f.Connection
			}
			st.Final = p
		}
		if ar.Order == nil {
			ar.Order = []string{}
		}
		if !a.AdmitSince.IsZero() {
			end := a.AdmittedAt
			if end.IsZero() {
				end = e.now()
			}
			ar.WaitedForRoom = end.Sub(a.AdmitSince).Round(time.Second).Seconds()
		}
		st.Attempts = append(st.Attempts, ar)
	}
	if cur := rec.current(); cur != nil {
		st.Attempt, st.GlueRunID, st.State, st.Why = cur.Number, cur.RunID, cur.State, cur.Why
	}
	return st
}

// Interrupt records that the user asked the run to stop. The next Step
// stops the Glue run (unless the spec says not to) or finishes the run as
// interrupted.
func (e *Executor) Interrupt(ctx context.Context, key string) (Status, error) {
	ctx = context.WithoutCancel(ctx)
	for range 5 {
		rec, rev, err := e.load(ctx, key, nil)
		if err != nil {
			return Status{}, err
		}
		if rec.Phase == phaseNames[policy.PhaseDone] || rec.Interrupted {
			return e.status(key, rec, e.pendingWait(rec)), nil
		}
		s, err := rec.state(e.now())
		if err != nil {
			return Status{}, err
		}
		s = e.policy(rec).Apply(s, policy.Interrupted{})
		rec.absorb(s, e.now())
		if _, err := e.put(ctx, key, rev, rec); errors.Is(err, errStale) {
			continue
		} else if err != nil {
			return Status{}, err
		}
		return e.status(key, rec, e.pendingWait(rec)), nil
	}
	return Status{}, fmt.Errorf("interrupt run %q: %w", key, errStale)
}

// InterruptAndStep records the user's interrupt and steps the run once,
// on a context that is not cancelled: the Glue run is asked to stop (when
// the spec says so) or the run ends interrupted. Every driver ends a run
// this way on Ctrl-C or SIGTERM.
func (e *Executor) InterruptAndStep(ctx context.Context, key string) (Status, error) {
	io := context.WithoutCancel(ctx)
	if _, err := e.Interrupt(io, key); err != nil {
		return Status{}, err
	}
	return e.Step(io, key)
}

// StepOrInterrupt is Step; when ctx is cancelled while the step waits for
// the job lock (nothing was changed), the run is interrupted and stepped
// once more (InterruptAndStep).
func (e *Executor) StepOrInterrupt(ctx context.Context, key string) (Status, error) {
	st, err := e.Step(ctx, key)
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return e.InterruptAndStep(ctx, key)
	}
	return st, err
}

func (e *Executor) policy(rec *record) policy.Policy {
	cfg := rec.Spec.Policy
	// A lost attempt (its run vanished and no run with its marker exists)
	// ran nothing: it does not use up an attempt.
	cfg.MaxAttempts += rec.Lost
	var r func() float64
	if e.Rand != nil {
		r = e.Rand.Float64
	}
	return policy.Policy{Config: cfg, Rand: r}
}

// Step performs the run's next actions until it has to wait, and says
// what for. Cancelling ctx interrupts only a wait for the job lock (the
// error is then ctx's, and nothing was changed in AWS); AWS calls and
// journal writes in flight finish. The driver then calls Interrupt.
func (e *Executor) Step(ctx context.Context, key string) (Status, error) {
	for range 5 {
		st, err := e.step(ctx, key)
		if errors.Is(err, errStale) {
			e.log().Debug("another process stepped the run; reading it again", "run_key", key)
			continue
		}
		return st, err
	}
	return Status{}, fmt.Errorf("step run %q: %w", key, errStale)
}

// stepper is one Step: the record, its revision and the policy state.
type stepper struct {
	e   *Executor
	key string
	rec *record
	rev int64
	p   policy.Policy
	s   policy.State
	// cause is the error that ended the run in this step.
	cause error
}

func (x *stepper) apply(ev policy.Event) {
	x.s = x.p.Apply(x.s, ev)
	x.rec.absorb(x.s, x.e.now())
}

func (x *stepper) save(ctx context.Context) error {
	rev, err := x.e.put(ctx, x.key, x.rev, x.rec)
	if err != nil {
		return err
	}
	x.rev = rev
	return nil
}

func (x *stepper) spec() Spec { return x.rec.Spec }

// record writes an attempt row for `gluenet runs` (best effort).
func (x *stepper) journalAttempt(ctx context.Context, a store.Attempt) {
	a.RunKey = x.key
	if err := x.e.Journal.PutAttempt(ctx, a); err != nil {
		x.e.log().Warn("could not record the attempt", "run_key", x.key, "attempt", a.Number, "err", err)
	}
}

func (x *stepper) status(w *Wait) Status {
	st := x.e.status(x.key, x.rec, w)
	st.Cause = x.cause
	return st
}

func (e *Executor) step(ctx context.Context, key string) (Status, error) {
	io := context.WithoutCancel(ctx)
	rec, rev, err := e.load(io, key, nil)
	if err != nil {
		return Status{}, err
	}
	x := &stepper{e: e, key: key, rec: rec, rev: rev, p: e.policy(rec)}
	if rev == 0 {
		// Rebuilt from an older journal: write it first.
		if err := x.save(io); err != nil {
			return Status{}, err
		}
	}
	if x.s, err = rec.state(e.now()); err != nil {
		return Status{}, err
	}
	for {
		a := x.p.Next(x.s)
		var st *Status
		switch a.Kind {
		case policy.Discover:
			err = x.discoverStep(io, a)
		case policy.Start:
			st, err = x.startStep(ctx, io, a)
		case policy.Wait:
			st, err = x.waitStep(io, a)
		case policy.Stop:
			st, err = x.stopStep(io, a)
		case policy.Sleep:
			if a.Delay > 0 {
				return x.status(&Wait{For: WaitTime, Until: rec.SleepUntil}), nil
			}
			x.apply(policy.Slept{})
		case policy.Finish, policy.GiveUp:
			x.finish(io)
			if err := x.save(io); err != nil {
				return Status{}, err
			}
			return x.status(nil), nil
		}
		switch {
		case st != nil:
			return *st, err
		case err != nil:
			return Status{}, err
		}
	}
}

// The actions of step. Each performs one action of the policy and saves
// the record; a Status ends the step (the run must wait, or is done), nil
// goes on with the policy's next action, and an error without a Status
// means the record could not be saved (or another process changed it).

// discoverStep reads the job and its candidates and ranks them with the
// attempt's seed (drawn once, so a re-rank draws the same).
func (x *stepper) discoverStep(io context.Context, a policy.Action) error {
	cur := x.rec.current()
	if cur.Seed == 0 {
		cur.Seed = x.e.Rand.Uint64() | 1
	}
	plan, err := x.e.discover(io, x.spec(), cur.Seed)
	if err != nil {
		x.fail(io, err)
	} else {
		x.apply(policy.Discovered{Plan: plan})
		planJSON, _ := json.Marshal(plan)
		x.journalAttempt(io, store.Attempt{Number: a.Attempt, Plan: planJSON, Phase: store.PhaseDiscovered})
	}
	return x.save(io)
}

// startStep admits the attempt (or makes it wait for room) and launches
// it: the run then waits on Glue.
func (x *stepper) startStep(ctx, io context.Context, a policy.Action) (*Status, error) {
	w, err := x.admit(io, &a)
	if err == nil && w == nil && x.s.Phase == policy.PhaseStart {
		err = x.start(ctx, io, a)
		if errors.Is(err, errNoRoom) {
			a.Plan = x.s.Current().Plan
			w, err = x.waitForRoom(io, &a)
		}
	}
	if err == nil && (w != nil || x.s.Phase != policy.PhaseWait) {
		// Waiting for room, or the wait ran out and the run ends.
		if err := x.save(io); err != nil {
			return nil, err
		}
		if w != nil {
			st := x.status(w)
			return &st, nil
		}
		return nil, nil
	}
	switch {
	case errors.Is(err, errStale):
		return nil, err
	case err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// Interrupted while waiting for the lock: nothing changed.
		st := x.status(nil)
		return &st, err
	case err != nil:
		x.fail(io, err)
		return nil, x.save(io)
	}
	if err := x.save(io); err != nil {
		return nil, err
	}
	return x.runWait(x.rec.current().RunID), nil
}

// waitStep reads the run once: it goes on waiting, or it ended and the
// policy decides.
func (x *stepper) waitStep(io context.Context, a policy.Action) (*Status, error) {
	changed, ended := x.poll(io, a)
	if changed {
		if err := x.save(io); err != nil {
			return nil, err
		}
	}
	if !ended {
		return x.runWait(a.RunID), nil
	}
	return nil, nil
}

// stopStep asks Glue to stop the run after an interrupt; the run is then
// watched until it has stopped.
func (x *stepper) stopStep(io context.Context, a policy.Action) (*Status, error) {
	x.e.log().Warn("interrupted: stopping the Glue run", "run_id", a.RunID)
	if err := x.e.Cloud.StopRun(io, x.spec().Job, a.RunID); err != nil {
		x.e.log().Error("could not stop the run; it may still be going", "run_id", a.RunID, "err", err)
	}
	x.apply(policy.StopRequested{})
	if err := x.save(io); err != nil {
		return nil, err
	}
	return x.runWait(a.RunID), nil
}

// runWait is the status of a run waiting on Glue run id until the next
// poll.
func (x *stepper) runWait(id string) *Status {
	st := x.status(&Wait{For: WaitRun, GlueRunID: id, CheckAt: x.e.now().Add(x.spec().PollInterval)})
	return &st
}

// fail applies an error that stopped an action before a run started.
func (x *stepper) fail(ctx context.Context, err error) {
	v := x.e.Cloud.Classify(err)
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		// Another gluenet took the job's lock over after this one stalled
		// past its TTL: nothing started; rank and try again.
		v = classify.Verdict{Class: classify.Conflict, Retry: true, Rerank: true, Reason: "job lock lost"}
	case errors.Is(err, ErrLockTimeout):
		v = classify.Verdict{Class: classify.Conflict, Fatal: true, Reason: "job lock held too long by another gluenet"}
	}
	x.apply(policy.Failed{Verdict: v, Err: err.Error()})
	if x.s.Phase == policy.PhaseDone {
		x.rec.ErrClass = v.Class
		x.cause = err
		return
	}
	x.logWait(ctx, v, err.Error())
}

func (x *stepper) finish(ctx context.Context) {
	status := map[policy.Result]store.RunStatus{
		policy.ResultSucceeded: store.RunSucceeded, policy.ResultFailed: store.RunFailed,
		policy.ResultError: store.RunFailed, policy.ResultInterrupted: store.RunInterrupted,
	}[x.s.Result]
	outcome := string(x.s.Result)
	if x.s.Err != "" {
		outcome += ": " + x.s.Err
	}
	if err := x.e.Journal.FinishRun(ctx, x.key, status, outcome, x.e.now()); err != nil {
		x.e.log().Warn("could not record the run's end", "run_key", x.key, "err", err)
	}
}

// logWait says at INFO why the run waits before its next try: the class of
// the failure, what health memory ejected and until when.
func (x *stepper) logWait(ctx context.Context, v classify.Verdict, msg string) {
	cur := x.rec.current()
	attrs := []any{"run_key", x.key, "attempt", cur.Number, "class", string(v.Class), "until", x.rec.SleepUntil.UTC().Format(time.RFC3339),
		"delay", x.s.SleepFor.Round(time.Millisecond).String()}
	if v.Reason != "" {
		attrs = append(attrs, "reason", v.Reason)
	}
	if msg != "" {
		attrs = append(attrs, "error", msg)
	}
	why := string(v.Class)
	switch v.Class {
	case classify.ConcurrentRuns:
		why = "Glue refused the start: ConcurrentRunsExceeded (the job's MaxConcurrentRuns is reached)"
	case classify.Throttling:
		why = "AWS throttled the call beyond the SDK's retries"
	}
	if x.e.Memory != nil {
		if recs, err := x.e.Memory.HealthRecords(ctx); err == nil {
			now := x.e.now()
			var ej []string
			for _, r := range recs {
				if r.Ejected(now) {
					ej = append(ej, fmt.Sprintf("%s %s until %s", r.Scope, r.Key, r.EjectedUntil.UTC().Format(time.RFC3339)))
				}
			}
			if len(ej) > 0 {
				attrs = append(attrs, "ejected", ej)
				why += "; ejected: " + strings.Join(ej, ", ")
			}
		}
	}
	cur.Why = why
	x.e.log().Info("waiting before the next try: "+why, attrs...)
}

// discover learns the job's needs and the candidates' free IPs (one
// Survey: the cloud reads both at once where it can) and ranks them.
func (e *Executor) discover(ctx context.Context, spec Spec, seed uint64) (gluenet.Plan, error) {
	job, cands, err := e.Cloud.Survey(ctx, spec.Job, spec.NeedIPs, spec.Connections)
	// The one place where what discovery found stops everything before
	// any change in AWS: an error here ends the step before the job lock,
	// UpdateJob and StartJobRun.
	if err != nil {
		return gluenet.Plan{}, err
	}
	// A connection Glue says does not exist would fail every run, and
	// writing it into the job would keep it there: refuse it (exit 2).
	if err := gluenet.MissingConnections(cands); err != nil {
		return gluenet.Plan{}, err
	}
	if job.MaxRetries > 0 {
		e.log().Warn("the job sets MaxRetries: Glue retries a failed run itself, on the same connection, bypassing gluenet's failover; set MaxRetries to 0 and let gluenet retry",
			"job", spec.Job, "max_retries", job.MaxRetries)
	}
	// A run never needs more free IPs to start than it needs in all: a
	// Python shell job (one node, one IP) starts with one.
	plan, err := e.rank(ctx, spec, cands, gluenet.Need{IPs: job.Need.IPs, MinIPs: min(spec.MinIPs, job.Need.IPs)}, seed)
	if err != nil {
		return gluenet.Plan{}, err
	}
	full := gluenet.JobOrder(plan.Order(), spec.Connections, job.Connections)
	plan.Others = full[len(plan.Placements):]
	logPlan(e.log(), plan)
	return plan, nil
}

// Plan discovers and ranks without changing anything (`gluenet plan`).
// When the strategy's order is a random draw, a note says so.
func (e *Executor) Plan(ctx context.Context, spec Spec) (gluenet.Plan, error) {
	seed := e.Rand.Uint64() | 1
	plan, err := e.discover(ctx, spec, seed)
	if err != nil {
		return plan, err
	}
	largest, never := admit.NeverRoom(plan)
	if room := admit.Room(plan); spec.Admission.Enabled() && room == nil && never {
		plan.Notes = append(plan.Notes, fmt.Sprintf("a run now would not wait for room: it needs %d IPs and the largest candidate subnet has %d usable, even empty (--when-short %s decides)",
			plan.Need.IPs, largest, cmp.Or(spec.Admission.WhenShort, admit.DefaultWhenShort)))
	} else if spec.Admission.Enabled() && room == nil {
		plan.Notes = append(plan.Notes, fmt.Sprintf("a run now would wait for room, up to %s (--admit-wait): %s",
			spec.Admission.Wait, strings.TrimPrefix(admit.Waiting(plan, e.now().Add(spec.Admission.Wait), admit.Forecast{}), "waiting for room: ")))
	} else if short := admit.Short(plan); short != nil {
		plan.Notes = append(plan.Notes, fmt.Sprintf("a run now would start under capacity: it needs %d IPs, %s has %d free",
			short.Needed, short.Subnet, short.FreeAtStart))
	}
	// Rank the same facts with other draws: an order that changes is a
	// random draw, and the user should know that a run may differ.
	for i := range uint64(8) {
		other, err := e.rank(ctx, spec, plan.Candidates(spec.Connections), plan.Need, seed+2*(i+1))
		if err == nil && !slices.Equal(other.Order(), plan.Order()) {
			plan.Notes = append(plan.Notes, fmt.Sprintf("this order is a random draw of the %s strategy: another run may draw another order", spec.Strategy))
			break
		}
	}
	return plan, nil
}

// rank ranks discovered candidates with what memory says now: health and
// the IPs reserved by runs in flight. The attempt's seed makes its random
// draws the same at every ranking of the attempt.
func (e *Executor) rank(ctx context.Context, spec Spec, cands []gluenet.Candidate, need gluenet.Need, seed uint64) (gluenet.Plan, error) {
	strat, err := strategy.Lookup(spec.Strategy)
	if err != nil {
		return gluenet.Plan{}, err
	}
	now := e.now()
	in := strategy.Input{Candidates: cands, Need: need, Now: now, Rand: rand.New(rand.NewPCG(seed, 0x72616e6b)), PreferAZ: spec.PreferAZ}
	if e.Memory != nil {
		if in.Health, err = e.Memory.HealthRecords(ctx); err != nil {
			return gluenet.Plan{}, fmt.Errorf("read health memory: %w", err)
		}
		res, err := e.Memory.Reservations(ctx, now)
		if err != nil {
			return gluenet.Plan{}, fmt.Errorf("read reservations: %w", err)
		}
		reserved, settled := reserve.Apply(res, cands, now)
		in.Reserved = reserved
		in.InFlightByAZ = reserve.InFlightByAZ(res, settled)
		if len(settled) > 0 {
			if err := e.Memory.Release(ctx, settled); err != nil {
				e.log().Warn("could not release settled reservations", "err", err)
			}
		}
	}
	return strategy.Plan(in, strat)
}

// logPlan writes the post's log lines as structured records.
func logPlan(log *slog.Logger, plan gluenet.Plan) {
	good, usable := []any{}, []any{}
	for _, p := range plan.Placements {
		switch p.Group {
		case gluenet.GroupGood:
			good = append(good, fmt.Sprintf("(%s, %d)", p.Connection, strategy.FreeOf(p)))
		case gluenet.GroupUsable:
			usable = append(usable, fmt.Sprintf("(%s, %d)", p.Connection, strategy.FreeOf(p)))
		}
	}
	log.Info("ranked the connections", "order", plan.Order(), "strategy", plan.Strategy)
	log.Info("Good connections", "connections", good, "need_ips", plan.Need.IPs)
	log.Info("Usable connections", "connections", usable, "min_ips", plan.Need.MinIPs)
	for _, p := range plan.Placements {
		if p.Group == gluenet.GroupUnchecked {
			log.Warn("connection unchecked", "connection", p.Connection, "subnet", p.SubnetID, "problem", p.Problem)
		}
	}
	for _, n := range plan.Notes {
		log.Warn(n)
	}
}
