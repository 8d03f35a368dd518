// Package runner is the in-process executor of gluenet's run policy: it
// performs each action the policy asks for with real AWS calls (through the
// awsclient adapter) and a real clock, and reports what happened back to the
// policy. `gluenet plan` and `gluenet run` use it.
//
// Health memory, in-flight reservations and the run journal are optional:
// with a nil Memory the runner behaves exactly like the post's DAG (rank on
// fresh free IPs, retry blindly).
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/reserve"
	"github.com/gluenet/gluenet/store"
	"github.com/gluenet/gluenet/strategy"
)

// Cloud is the part of AWS the runner drives; *awsclient.Client satisfies it.
type Cloud interface {
	JobNeeds(ctx context.Context, job string, overrideIPs int) (awsclient.Job, error)
	Discover(ctx context.Context, names []string) ([]gluenet.Candidate, awsclient.DiscoverStats, error)
	ApplyOrder(ctx context.Context, job string, candidates, ranked []string) (awsclient.ApplyResult, error)
	StartRun(ctx context.Context, job string, in awsclient.StartInput) (string, error)
	GetRun(ctx context.Context, job, runID string) (awsclient.RunStatus, error)
	StopRun(ctx context.Context, job, runID string) error
	RestoreOrder(ctx context.Context, job string, before []string) (awsclient.ApplyResult, error)
	// FollowLogs tails a run's CloudWatch logs.
	FollowLogs(runID string, since time.Time, groups ...string) *awsclient.LogFollower
	// FindRun returns the id of a run of the job started since since whose
	// arguments hold arg=value, or "" when there is none.
	FindRun(ctx context.Context, job, arg, value string, since time.Time) (string, error)
}

// Clock is the runner's time. Sleep returns early with ctx's error.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// WallClock is the real clock.
type WallClock struct{}

// Now implements Clock.
func (WallClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (WallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Config is one job's run settings.
type Config struct {
	Job         string
	Connections []string
	Strategy    strategy.Strategy
	// NeedIPs overrides the IPs a run needs (0: from the job definition).
	NeedIPs int
	// MinIPs is the fewest free IPs Glue starts a run with.
	MinIPs   int
	PreferAZ []string
	Policy   policy.Config
	// Classify tunes the failure classification.
	Classify classify.Options
	// PollInterval is the time between GetJobRun calls.
	PollInterval time.Duration
	// Start holds the arguments and per-run overrides of StartJobRun.
	Start awsclient.StartInput
	// RunKey names the run in the journal (idempotency key).
	RunKey string
	// FollowLogs streams the run's output and error logs to Runner.LogLine
	// while it runs.
	FollowLogs bool
}

// Memory is what the runner remembers between runs and processes: health
// of subnets and zones, and IPs reserved by runs in flight.
type Memory interface {
	HealthRecords(ctx context.Context) ([]gluenet.HealthRecord, error)
	Observe(ctx context.Context, now time.Time, subnet, az string, v classify.Verdict) error
	Reservations(ctx context.Context, now time.Time) ([]gluenet.Reservation, error)
	Reserve(ctx context.Context, r gluenet.Reservation) error
	Release(ctx context.Context, ids []string) error
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

// Runner executes the policy.
type Runner struct {
	Cloud  Cloud
	Clock  Clock
	Rand   *rand.Rand
	Log    *slog.Logger
	Memory Memory // optional
	// Progress, when set, is called on every step (status line, demo).
	Progress func(Progress)
	// LogLine receives the run's log events when Config.FollowLogs is set.
	LogLine func(awsclient.LogLine)
	// ReservationTTL bounds how long a reservation counts.
	ReservationTTL time.Duration
	// Journal records runs durably and locks jobs; optional.
	Journal Journal
	// Holder names this process in job locks (host/pid).
	Holder string
	// LockTTL is how long a job lock lives (DefaultLockTTL when zero).
	LockTTL time.Duration
	// Failpoint, when set, is called at named points of an attempt
	// ("before-update", "after-update", "after-start", "while-waiting"):
	// crash tests kill the process there.
	Failpoint func(name string)
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
	Err   error        `json:"-"`
	State policy.State `json:"-"`
}

// AttemptReport is one attempt as reported to the user.
type AttemptReport struct {
	Attempt      int                 `json:"attempt"`
	Order        []string            `json:"order"`
	Connections  []gluenet.Placement `json:"connections"`
	Expected     string              `json:"expected_connection,omitempty"`
	RunID        string              `json:"run_id,omitempty"`
	State        string              `json:"state,omitempty"`
	ErrorMessage string              `json:"error_message,omitempty"`
	Class        classify.Class      `json:"class,omitempty"`
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

func (r *Runner) progress(p Progress) {
	if r.Progress != nil {
		r.Progress(p)
	}
}

// Plan discovers and ranks without changing anything: `gluenet plan`.
func (r *Runner) Plan(ctx context.Context, cfg Config) (gluenet.Plan, error) {
	return r.discover(ctx, cfg)
}

func (r *Runner) discover(ctx context.Context, cfg Config) (gluenet.Plan, error) {
	info, err := r.Cloud.JobNeeds(ctx, cfg.Job, cfg.NeedIPs)
	if err != nil {
		return gluenet.Plan{}, err
	}
	if info.MaxRetries > 0 {
		r.log().Warn("the job sets MaxRetries: Glue retries a failed run itself, on the same connection, bypassing gluenet's failover; set MaxRetries to 0 and let gluenet retry",
			"job", cfg.Job, "max_retries", info.MaxRetries)
	}
	cands, _, err := r.Cloud.Discover(ctx, cfg.Connections)
	if err != nil {
		return gluenet.Plan{}, err
	}
	// A connection Glue says does not exist would fail every run: refuse
	// it here, before anything changes (exit 2).
	if err := gluenet.MissingConnections(cands); err != nil {
		return gluenet.Plan{}, err
	}
	// A run never needs more free IPs to start than it needs in all: a
	// Python shell job (one node, one IP) starts with one.
	plan, err := r.rank(ctx, cfg, cands, gluenet.Need{IPs: info.Need.IPs, MinIPs: min(cfg.MinIPs, info.Need.IPs)})
	if err != nil {
		return gluenet.Plan{}, err
	}
	full := gluenet.JobOrder(plan.Order(), cfg.Connections, info.Connections)
	plan.Others = full[len(plan.Placements):]
	logPlan(r.log(), plan)
	return plan, nil
}

// rank ranks discovered candidates with what memory says now: health and
// the IPs reserved by runs in flight.
func (r *Runner) rank(ctx context.Context, cfg Config, cands []gluenet.Candidate, need gluenet.Need) (gluenet.Plan, error) {
	var err error
	now := r.Clock.Now()
	in := strategy.Input{
		Candidates: cands,
		Need:       need,
		Now:        now,
		Rand:       r.Rand,
		PreferAZ:   cfg.PreferAZ,
	}
	if r.Memory != nil {
		if in.Health, err = r.Memory.HealthRecords(ctx); err != nil {
			return gluenet.Plan{}, fmt.Errorf("read health memory: %w", err)
		}
		res, err := r.Memory.Reservations(ctx, now)
		if err != nil {
			return gluenet.Plan{}, fmt.Errorf("read reservations: %w", err)
		}
		reserved, settled := reserve.Apply(res, cands, now)
		in.Reserved = reserved
		in.InFlightByAZ = reserve.InFlightByAZ(res, settled)
		if len(settled) > 0 {
			if err := r.Memory.Release(ctx, settled); err != nil {
				r.log().Warn("could not release settled reservations", "err", err)
			}
		}
	}
	return strategy.Plan(in, cfg.Strategy)
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
	log.Info("Good connections", "connections", good, "need_ips", plan.Need.IPs)
	log.Info("Usable connections", "connections", usable, "min_ips", plan.Need.MinIPs)
	for _, n := range plan.Notes {
		log.Warn(n)
	}
}

// Run drives the policy to the end. Cancelling ctx is an interrupt: the
// runner stops the Glue run (unless the policy says not to), waits for it
// to end, and returns a report with ResultInterrupted. AWS calls in flight
// when ctx is cancelled are allowed to finish, so that a run that was
// started is never forgotten.
//
// With a Journal and a run key, Run first looks the key up: a key whose run
// succeeded returns that result and starts nothing; a key whose run is in
// flight re-attaches to its Glue run instead of starting another.
func (r *Runner) Run(ctx context.Context, cfg Config) Report {
	s, done, err := r.begin(context.WithoutCancel(ctx), cfg)
	if err != nil {
		return Report{Job: cfg.Job, RunKey: cfg.RunKey, Result: policy.ResultError, Error: err.Error(), Err: err}
	}
	if done != nil {
		done.RunKey = cfg.RunKey
		return *done
	}
	return r.RunFrom(ctx, cfg, s)
}

func (r *Runner) failpoint(name string) {
	if r.Failpoint != nil {
		r.Failpoint(name)
	}
}

// RunFrom drives the policy from a given state (re-attaching to a run
// started by an earlier process).
func (r *Runner) RunFrom(ctx context.Context, cfg Config, s policy.State) Report {
	p := policy.Policy{Config: cfg.Policy, Rand: r.Rand.Float64}
	io := context.WithoutCancel(ctx) // AWS calls outlive an interrupt
	interrupted := false
	var attemptStart time.Time
	attemptOf := -1
	var lastErr error
	fail := func(err error) {
		lastErr = err
		v := classify.APIError(err)
		if errors.Is(err, store.ErrLeaseLost) {
			// Another runner took the job's lock over after this one
			// stalled past its TTL: nothing started; rank and try again.
			v = classify.Verdict{Class: classify.Conflict, Retry: true, Rerank: true, Reason: "job lock lost"}
		}
		s = p.Apply(s, policy.Failed{Verdict: v, Err: err.Error()})
	}
	for {
		if !interrupted && ctx.Err() != nil {
			interrupted = true
			s = p.Apply(s, policy.Interrupted{})
		}
		a := p.Next(s)
		if a.Attempt != attemptOf && a.Kind != policy.Sleep {
			attemptOf, attemptStart = a.Attempt, r.Clock.Now()
		}
		switch a.Kind {
		case policy.Discover:
			r.progress(Progress{Attempt: a.Attempt, Action: a.Kind, Message: "ranking connections"})
			plan, err := r.discover(io, cfg)
			if err != nil {
				fail(err)
				continue
			}
			s = p.Apply(s, policy.Discovered{Plan: plan})
			planJSON, _ := json.Marshal(plan)
			r.record(io, cfg, store.Attempt{Number: a.Attempt, Plan: planJSON, Phase: phaseDiscovered})
		case policy.Start:
			if err := r.start(io, cfg, a, &s, p); err != nil {
				fail(err)
			}
		case policy.Wait:
			s = r.wait(ctx, io, cfg, p, s, a, attemptStart)
		case policy.Stop:
			r.log().Warn("interrupted: stopping the Glue run", "run_id", a.RunID)
			if err := r.Cloud.StopRun(io, cfg.Job, a.RunID); err != nil {
				r.log().Error("could not stop the run; it may still be going", "run_id", a.RunID, "err", err)
			}
			s = p.Apply(s, policy.StopRequested{})
		case policy.Sleep:
			r.log().Info("waiting before the next try", "attempt", a.Attempt, "delay", a.Delay.Round(time.Millisecond).String())
			r.progress(Progress{Attempt: a.Attempt, Action: a.Kind, Message: fmt.Sprintf("retrying in %s", a.Delay.Round(time.Second))})
			if err := r.Clock.Sleep(ctx, a.Delay); err != nil {
				continue // interrupted: handled at the top of the loop
			}
			s = p.Apply(s, policy.Slept{})
		case policy.Finish, policy.GiveUp:
			r.finishRun(io, cfg, s)
			rep := report(cfg.Job, s)
			rep.RunKey = cfg.RunKey
			if s.Result == policy.ResultError {
				rep.Err = lastErr
			}
			return rep
		}
	}
}

// start applies the order and starts the run. It returns the error to
// report as Failed, or nil after applying Started.
func (r *Runner) start(io context.Context, cfg Config, a policy.Action, s *policy.State, p policy.Policy) error {
	order := a.Plan.Order()
	// Two runs of one job must not interleave UpdateJob and StartJobRun,
	// or one starts with the other's order: hold the job's lock across both.
	lock, err := r.lockJob(io, cfg.Job)
	if err != nil {
		return err
	}
	defer lock.release(io)
	// Under the lock, the journal tells whether this attempt already has a
	// run: one started by another process with the same run key, or by a
	// process that died before recording it. Adopt it; never start twice.
	if id, err := r.adoptStarted(io, cfg, a.Attempt); err != nil {
		return err
	} else if id != "" {
		r.log().Warn("this attempt's run was already started; re-attaching", "run_key", cfg.RunKey, "attempt", a.Attempt, "run_id", id)
		*s = p.Apply(*s, policy.Started{RunID: id})
		return nil
	}
	if r.Memory != nil {
		// Launches that discovered at the same time all saw the same
		// reservations; under the lock, rank again with the reservations
		// of the launches that went first (no AWS call: same free IPs).
		plan, err := r.rank(io, cfg, a.Plan.Candidates(cfg.Connections), a.Plan.Need)
		if err != nil {
			return err
		}
		plan.Others = a.Plan.Others
		*s = p.Apply(*s, policy.Discovered{Plan: plan})
		a.Plan = s.Current().Plan
		order = plan.Order()
		planJSON, _ := json.Marshal(plan)
		r.record(io, cfg, store.Attempt{Number: a.Attempt, Plan: planJSON})
	}
	r.log().Info("Running Glue job with the connection order", "order", a.Plan.FullOrder(), "attempt", a.Attempt)
	r.record(io, cfg, store.Attempt{Number: a.Attempt, Phase: phaseStarting, StartedAt: r.Clock.Now()})
	r.failpoint("before-update")
	applied, err := r.Cloud.ApplyOrder(io, cfg.Job, cfg.Connections, order)
	if err != nil {
		return err
	}
	r.record(io, cfg, store.Attempt{Number: a.Attempt, OrderApplied: applied.After})
	r.failpoint("after-update")
	start := cfg.Start
	if r.Journal != nil && cfg.RunKey != "" {
		start.Arguments = make(map[string]string, len(cfg.Start.Arguments)+1)
		for k, v := range cfg.Start.Arguments {
			start.Arguments[k] = v
		}
		start.Arguments[MarkerArgument] = marker(cfg.RunKey, a.Attempt)
	}
	if err := lock.confirm(io); err != nil {
		return err
	}
	runID, err := r.Cloud.StartRun(io, cfg.Job, start)
	if err != nil {
		v := classify.APIError(err)
		if applied.Updated && (v.Fatal || !v.Retry) {
			// Leave no half-done change: the run did not start, so put the
			// job's connection order back as it was.
			if _, rerr := r.Cloud.RestoreOrder(io, cfg.Job, applied.Before); rerr != nil {
				r.log().Error("could not restore the job's connection order", "job", cfg.Job, "order", applied.Before, "err", rerr)
			}
		}
		return err
	}
	r.failpoint("after-start")
	if r.Journal != nil && cfg.RunKey != "" {
		if err := r.Journal.RecordRunID(io, cfg.RunKey, a.Attempt, runID, r.Clock.Now()); err != nil {
			// The run goes on and this process keeps waiting for it; only
			// a crash now would lose track of it.
			r.log().Error("could not record the run id durably", "run_key", cfg.RunKey, "run_id", runID, "err", err)
		}
		r.record(io, cfg, store.Attempt{Number: a.Attempt, Phase: phaseStarted, States: []store.StateChange{{State: "STARTING", At: r.Clock.Now()}}})
	}
	first := a.Plan.First()
	conn := ""
	if first != nil {
		conn = first.Connection
	}
	r.log().Info("started Glue job run", "run_id", runID, "attempt", a.Attempt, "expected_connection", conn)
	if r.Memory != nil && first != nil {
		ips := a.Plan.Need.IPs
		if first.Free != nil && *first.Free < ips {
			ips = *first.Free
		}
		res := reserve.New(first.SubnetID, first.AZ, cfg.Job, runID, ips, first.FreeIPs, r.Clock.Now(), r.reservationTTL())
		if err := r.Memory.Reserve(io, res); err != nil {
			r.log().Warn("could not record the IP reservation", "err", err)
		}
	}
	*s = p.Apply(*s, policy.Started{RunID: runID})
	return nil
}

func (r *Runner) reservationTTL() time.Duration {
	if r.ReservationTTL > 0 {
		return r.ReservationTTL
	}
	return reserve.DefaultTTL
}

func (r *Runner) wait(ctx, io context.Context, cfg Config, p policy.Policy, s policy.State, a policy.Action, since time.Time) policy.State {
	cur := s.Current()
	conn := ""
	if cur.Plan != nil && cur.Plan.First() != nil {
		conn = cur.Plan.First().Connection
	}
	last := cur.State
	polled := false
	var follower *awsclient.LogFollower
	if cfg.FollowLogs && r.LogLine != nil {
		follower = r.Cloud.FollowLogs(a.RunID, since.Add(-time.Minute))
	}
	for {
		st, err := r.Cloud.GetRun(io, cfg.Job, a.RunID)
		switch {
		case err != nil:
			v := classify.APIError(err)
			if v.Fatal {
				// The run may still be going, but we can no longer see it.
				r.log().Error("cannot read the run's state; it may still be going", "run_id", a.RunID, "err", err)
				return p.Apply(s, policy.Failed{Verdict: v, Err: err.Error()})
			}
			r.log().Warn("could not read the run's state; will try again", "run_id", a.RunID, "err", err)
		case awsclient.IsTerminal(st.State):
			r.drainLogs(ctx, io, follower, cfg.PollInterval)
			v := classify.RunOutcome(st.State, st.ErrorMessage).WithOptions(cfg.Classify)
			classify.LogUnknown(r.log(), st.State, st.ErrorMessage, v)
			r.logState(a, st.State, st.ErrorMessage, last)
			r.observe(io, cur.Plan, v)
			if r.Memory != nil {
				// The run is over: by now EC2 counts whatever ENIs it still
				// holds, so its reservation would count them twice.
				if err := r.Memory.Release(io, []string{cfg.Job + "/" + a.RunID}); err != nil {
					r.log().Warn("could not release the run's IP reservation", "err", err)
				}
			}
			r.progress(Progress{Attempt: a.Attempt, Action: policy.Wait, Connection: conn, RunID: a.RunID, State: st.State, Elapsed: r.Clock.Now().Sub(since), Message: st.ErrorMessage})
			ended := store.Attempt{Number: a.Attempt, Phase: phaseEnded, FinalState: st.State, ErrorMessage: st.ErrorMessage,
				Class: string(v.Class), EndedAt: r.Clock.Now(), States: []store.StateChange{{State: st.State, At: r.Clock.Now()}}}
			if cur.Plan != nil {
				if f := cur.Plan.First(); f != nil {
					ended.Subnet, ended.AZ = f.SubnetID, f.AZ
				}
			}
			r.record(io, cfg, ended)
			return p.Apply(s, policy.Ended{State: st.State, ErrorMessage: st.ErrorMessage, Verdict: v})
		case st.State != last:
			r.logState(a, st.State, "", last)
			last = st.State
			s = p.Apply(s, policy.StateChanged{State: st.State})
			r.record(io, cfg, store.Attempt{Number: a.Attempt, Phase: phaseStarted, States: []store.StateChange{{State: st.State, At: r.Clock.Now()}}})
		}
		if !polled {
			polled = true
			r.failpoint("while-waiting")
		}
		r.pollLogs(io, follower)
		r.progress(Progress{Attempt: a.Attempt, Action: policy.Wait, Connection: conn, RunID: a.RunID, State: last, Elapsed: r.Clock.Now().Sub(since)})
		if err := r.Clock.Sleep(ctx, cfg.PollInterval); err != nil {
			if !s.Interrupted {
				return s // the loop applies the interrupt, then stops the run
			}
			// Already interrupted: keep polling until the run ends.
			if err := r.Clock.Sleep(io, cfg.PollInterval); err != nil {
				return s
			}
		}
	}
}

func (r *Runner) logState(a policy.Action, state, msg, prev string) {
	attrs := []any{"run_id", a.RunID, "attempt", a.Attempt, "state", state}
	if prev != "" {
		attrs = append(attrs, "previous", prev)
	}
	if msg != "" {
		attrs = append(attrs, "error_message", msg)
	}
	r.log().Info("job run state", attrs...)
}

// observe feeds the outcome to health memory, blaming the subnet Glue was
// expected to use (the first startable connection of the plan: Glue does not
// say which connection it used).
func (r *Runner) observe(ctx context.Context, plan *gluenet.Plan, v classify.Verdict) {
	if r.Memory == nil || plan == nil || plan.First() == nil {
		return
	}
	first := plan.First()
	if err := r.Memory.Observe(ctx, r.Clock.Now(), first.SubnetID, first.AZ, v); err != nil {
		r.log().Warn("could not update health memory", "err", err)
	}
	if f, ok := r.Cloud.(subnetForgetter); ok && v.BlameSubnet {
		f.ForgetSubnet(ctx, first.Connection)
	}
}

// subnetForgetter is a Cloud with a connection->subnet cache.
type subnetForgetter interface {
	ForgetSubnet(ctx context.Context, connection string)
}

func report(job string, s policy.State) Report {
	rep := Report{Job: job, Result: s.Result, Error: s.Err, State: s}
	for _, a := range s.Attempts {
		ar := AttemptReport{Attempt: a.Number, RunID: a.RunID, State: a.State, ErrorMessage: a.ErrorMessage, Class: a.Class}
		if a.Plan != nil {
			ar.Order = a.Plan.FullOrder()
			ar.Connections = a.Plan.Placements
			if f := a.Plan.First(); f != nil {
				ar.Expected = f.Connection
			}
			rep.Final = a.Plan
		}
		rep.Attempts = append(rep.Attempts, ar)
	}
	return rep
}

func (r *Runner) pollLogs(ctx context.Context, f *awsclient.LogFollower) int {
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
func (r *Runner) drainLogs(ctx, io context.Context, f *awsclient.LogFollower, every time.Duration) {
	if f == nil {
		return
	}
	for range 3 {
		if r.pollLogs(io, f) == 0 {
			return
		}
		if r.Clock.Sleep(ctx, every) != nil {
			return
		}
	}
}
