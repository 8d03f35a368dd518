package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/store"
)

// poll reads the run's state once. It reports whether the record changed
// and whether the run's wait is over (ended, lost, or unreadable for good).
func (x *stepper) poll(ctx context.Context, a policy.Action) (changed, ended bool) {
	info, err := x.e.Cloud.GetRun(ctx, x.spec().Job, a.RunID)
	failpoint("while-waiting")
	if err != nil {
		return true, x.unreadable(ctx, a, err)
	}
	cur := x.rec.current()
	if !cur.UnreadableSince.IsZero() {
		cur.UnreadableSince, changed = time.Time{}, true
	}
	if !cur.Verified {
		if cur.Marker == "" || info.Arguments[MarkerArgument] != cur.Marker {
			x.lost(ctx, fmt.Sprintf("recorded run %s does not carry this attempt's marker %s=%s: it is not this run key's run", a.RunID, MarkerArgument, marker(x.key, cur.Number)))
			return true, true
		}
		cur.Verified, changed = true, true
	}
	switch {
	case classify.Terminal(info.State):
		x.settle(ctx, a, info)
		return true, true
	case info.State != cur.State:
		x.stateChanged(ctx, a, info)
		return true, false
	}
	return changed, false
}

// unreadable handles a GetJobRun that failed: a run Glue does not know is
// lost; a fatal error, or errors for longer than UnreadableFor, end the
// attempt (the run may still be going); anything else is tried again at
// the next poll. It reports whether the run's wait is over.
func (x *stepper) unreadable(ctx context.Context, a policy.Action, err error) bool {
	e, cur := x.e, x.rec.current()
	v := e.Cloud.Classify(err)
	switch {
	case v.Class == classify.NotFound:
		x.lost(ctx, fmt.Sprintf("Glue has no run %s (EntityNotFoundException)", a.RunID))
		return true
	case v.Fatal:
		// The run may still be going, but we can no longer see it.
		e.log().Error("cannot read the run's state; it may still be going", "run_id", a.RunID, "err", err)
		x.apply(policy.Failed{Verdict: v, Err: err.Error()})
		x.rec.ErrClass, x.cause = v.Class, err
		return true
	}
	now := e.now()
	if cur.UnreadableSince.IsZero() {
		cur.UnreadableSince = now
	}
	bound := e.UnreadableFor
	if bound <= 0 {
		bound = DefaultUnreadableFor
	}
	if now.Sub(cur.UnreadableSince) >= bound {
		msg := fmt.Sprintf("could not read Glue run %s for %s (%v); it may still be going: check it in the Glue console, then `gluenet resume --run-key %s` reads it again",
			a.RunID, now.Sub(cur.UnreadableSince).Round(time.Second), err, x.key)
		e.log().Error(msg)
		x.apply(policy.Failed{Verdict: classify.Verdict{Class: v.Class, Fatal: true, Reason: "run unreadable"}, Err: msg})
		x.rec.ErrClass, x.cause = v.Class, errors.New(msg)
		return true
	}
	cur.Why = fmt.Sprintf("could not read the run's state (%s); will try again", v.Class)
	e.log().Warn("could not read the run's state; will try again", "run_id", a.RunID, "class", string(v.Class), "err", err)
	return false
}

// settle ends an attempt whose run reached a final state: the outcome
// classified, health memory told, the reservation released, the attempt
// journaled, and the policy's decision applied.
func (x *stepper) settle(ctx context.Context, a policy.Action, info gluenet.JobRun) {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	v := classify.RunOutcome(info.State, info.ErrorMessage).WithOptions(spec.Classify)
	classify.LogUnknown(e.log(), info.State, info.ErrorMessage, v)
	logState(x, a, info.State, info.ErrorMessage, cur.State)
	x.observe(ctx, x.s.Current().Plan, v)
	ids := []string{spec.Job + "/" + a.RunID}
	if cur.Reservation != "" {
		ids = append(ids, cur.Reservation)
	}
	if e.Memory != nil {
		// The run is over: by now EC2 counts whatever ENIs it still
		// holds, so its reservation would count them twice.
		if err := e.Memory.Release(ctx, ids); err != nil {
			e.log().Warn("could not release the run's IP reservation", "err", err)
		}
	}
	now := e.now()
	ended := store.Attempt{Number: a.Attempt, Phase: store.PhaseEnded, FinalState: info.State, ErrorMessage: info.ErrorMessage,
		Class: string(v.Class), EndedAt: now, States: []store.StateChange{{State: info.State, At: now}}}
	if p := x.s.Current().Plan; p != nil {
		if f := p.First(); f != nil {
			ended.Subnet, ended.AZ = f.SubnetID, f.AZ
		}
	}
	x.journalAttempt(ctx, ended)
	x.apply(policy.Ended{State: info.State, ErrorMessage: info.ErrorMessage, Verdict: v})
	if x.s.Phase == policy.PhaseSleep {
		x.logWait(ctx, v, info.ErrorMessage)
	}
}

// stateChanged records a run's move to another state that is not final;
// a run Glue queued (WAITING) gives its IP reservation back, since it holds
// no IPs while it waits.
func (x *stepper) stateChanged(ctx context.Context, a policy.Action, info gluenet.JobRun) {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	logState(x, a, info.State, "", cur.State)
	if info.State == StateWaiting {
		cur.Why = "Glue queued the run (job run queuing)"
		if info.StateDetail != "" {
			cur.Why += ": " + info.StateDetail
		}
		if cur.Reservation != "" && e.Memory != nil {
			if err := e.Memory.Release(ctx, []string{cur.Reservation, spec.Job + "/" + a.RunID}); err != nil {
				e.log().Warn("could not release the IP reservation of a queued run", "err", err)
			} else {
				cur.Reservation = ""
			}
		}
	}
	x.apply(policy.StateChanged{State: info.State})
	x.journalAttempt(ctx, store.Attempt{Number: a.Attempt, Phase: store.PhaseStarted, States: []store.StateChange{{State: info.State, At: e.now()}}})
}

// lost settles an attempt whose recorded run cannot be this attempt's run
// (Glue does not know it, or it lacks the marker). It asks Glue, through
// GetJobRuns, for a run with the attempt's marker: one found is adopted;
// when there is none, no run of this attempt exists, so starting a new
// attempt cannot duplicate one. The lost attempt does not use up an
// attempt.
func (x *stepper) lost(ctx context.Context, why string) {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	if cur.Marker == "" {
		cur.Marker = marker(x.key, cur.Number)
	}
	since := cur.StartingAt.Add(-time.Minute)
	if cur.StartingAt.IsZero() {
		since = time.Time{}
	}
	id, err := e.Cloud.FindRun(ctx, spec.Job, MarkerArgument, cur.Marker, since)
	if err != nil {
		msg := fmt.Sprintf("%s, and looking for a run with its marker failed (%v): `gluenet resume --run-key %s` tries again", why, err, x.key)
		e.log().Error(msg)
		v := x.e.Cloud.Classify(err)
		x.apply(policy.Failed{Verdict: classify.Verdict{Class: v.Class, Fatal: true, Reason: "run lost"}, Err: msg})
		x.rec.ErrClass, x.cause = v.Class, errors.New(msg)
		return
	}
	if id != "" && id != cur.RunID {
		e.log().Warn(why+"; found this attempt's run by its marker: re-attaching", "run_key", x.key, "run_id", id)
		cur.RunID, cur.Verified = id, true
		x.s.Current().RunID = id
		return
	}
	msg := fmt.Sprintf("%s; no run with %s=%s exists (GetJobRuns): starting a new attempt", why, MarkerArgument, cur.Marker)
	e.log().Warn(msg, "run_key", x.key, "attempt", cur.Number)
	x.rec.Lost++
	x.p = e.policy(x.rec)
	if e.Memory != nil && cur.Reservation != "" {
		_ = e.Memory.Release(ctx, []string{cur.Reservation})
	}
	x.journalAttempt(ctx, store.Attempt{Number: cur.Number, Phase: store.PhaseEnded, FinalState: StateLost, ErrorMessage: msg,
		Class: string(ClassLost), EndedAt: e.now()})
	v := classify.Verdict{Class: ClassLost, Retry: true, Rerank: true, Reason: "run lost"}
	x.apply(policy.Ended{State: StateLost, ErrorMessage: msg, Verdict: v})
	if x.s.Phase == policy.PhaseSleep {
		x.logWait(ctx, v, msg)
	}
}

func logState(x *stepper, a policy.Action, state, msg, prev string) {
	attrs := []any{"run_id", a.RunID, "attempt", a.Attempt, "state", state}
	if prev != "" {
		attrs = append(attrs, "previous", prev)
	}
	if msg != "" {
		attrs = append(attrs, "error_message", msg)
	}
	x.e.log().Info("job run state", attrs...)
}

// observe feeds the outcome to health memory, blaming the subnet Glue was
// expected to use (the first startable connection of the plan: Glue does not
// say which connection it used), and drops the cached subnet of a
// connection whose placement failed.
func (x *stepper) observe(ctx context.Context, plan *gluenet.Plan, v classify.Verdict) {
	if plan == nil || plan.First() == nil {
		return
	}
	first := plan.First()
	if x.e.Memory != nil {
		subnet, az := v.Blame(first.SubnetID, first.AZ, plan.Placements) // the place Glue's message names, if any
		if err := x.e.Memory.Observe(ctx, x.e.now(), subnet, az, v); err != nil {
			x.e.log().Warn("could not update health memory", "err", err)
		}
	}
	if v.BlameSubnet {
		x.e.Cloud.ForgetSubnet(ctx, first.Connection)
	}
}
