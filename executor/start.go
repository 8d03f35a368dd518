package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/reserve"
	"github.com/gluenet/gluenet/store"
)

// reservationsLease serializes ranking-and-reserving across every job that
// shares the store, so that launches of different jobs into the same
// subnets see each other's reservations before StartJobRun.
const reservationsLease = "reservations"

// start takes the job's lock, adopts a run this attempt already started,
// or re-ranks, reserves, journals the order and the marker, applies the
// order and starts the run. It returns the error to report as Failed, or
// nil after applying Started. Cancelling ctx interrupts only the lock
// waits.
func (x *stepper) start(ctx, io context.Context, a policy.Action) error {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	lock, err := e.lock(ctx, io, "job/"+spec.Job)
	if err != nil {
		return err
	}
	defer lock.release(io)
	// Under the lock, the journal is the truth: another process may have
	// stepped this run meanwhile.
	if rs, err := e.Journal.RunState(io, x.key); err != nil {
		return fmt.Errorf("read the state of run %q: %w", x.key, err)
	} else if rs.Revision != x.rev {
		return errStale
	}
	if id, err := x.adopt(io, cur); err != nil {
		return err
	} else if id != "" {
		e.log().Warn("this attempt's run was already started; re-attaching with the plan it was started with",
			"run_key", x.key, "attempt", a.Attempt, "run_id", id, "order", cur.Order)
		cur.Verified = true
		x.apply(policy.Started{RunID: id})
		e.failpoint("after-reattach")
		return nil
	}
	plan := a.Plan
	var res *gluenet.Reservation
	if e.Memory != nil {
		rl, err := e.lock(ctx, io, reservationsLease)
		if err != nil {
			return err
		}
		// Launches that discovered at the same time all saw the same
		// reservations: rank again with the ones taken since (no AWS call:
		// the same free IPs, the attempt's same random draw).
		again, err := e.rank(io, spec, plan.Candidates(spec.Connections), plan.Need, cur.Seed)
		if err != nil {
			rl.release(io)
			return err
		}
		again.Others = plan.Others
		if !slices.Equal(again.Order(), plan.Order()) {
			e.log().Info("re-ranked under the job lock: the order changed because memory changed since discovery (reservations of launches that went first, health)",
				"before", plan.Order(), "after", again.Order(), "changes", changes(*plan, again))
		}
		x.apply(policy.Discovered{Plan: again})
		plan = x.s.Current().Plan
		if x.mustWait(plan) {
			rl.release(io)
			return errNoRoom
		}
		res, err = x.reserve(io, plan)
		rl.release(io)
		if err != nil {
			return err
		}
	}
	if plan.UnderCapacity = admit.Short(*plan); plan.UnderCapacity != nil {
		u := plan.UnderCapacity
		e.log().Warn(fmt.Sprintf("starting the run under capacity: it needs %d IPs, the first subnet Glue will try, %s, has %d free: Glue starts it with fewer workers than asked",
			u.Needed, u.Subnet, u.FreeAtStart), "run_key", x.key, "attempt", a.Attempt, "needed", u.Needed, "free_at_start", u.FreeAtStart, "subnet", u.Subnet)
	}
	cur = x.rec.current()
	cur.StartingAt, cur.Marker, cur.Order = e.now(), marker(x.key, a.Attempt), plan.FullOrder()
	if res != nil {
		cur.Reservation = res.ID
	}
	planJSON, _ := json.Marshal(plan)
	x.journalAttempt(io, store.Attempt{Number: a.Attempt, Plan: planJSON, Phase: "starting", StartedAt: cur.StartingAt})
	// Durably, before UpdateJob: the plan and order this attempt applies,
	// and the marker its run carries. A process that dies from here on is
	// followed by one that finds the run and keeps this plan.
	if err := x.save(io); err != nil {
		x.release(io, res)
		return err
	}
	e.log().Info("Running Glue job with the connection order", "order", plan.FullOrder(), "attempt", a.Attempt)
	e.failpoint("before-update")
	applied, err := e.Cloud.ApplyOrder(io, spec.Job, spec.Connections, plan.Order())
	if err != nil {
		x.release(io, res)
		cur.StartingAt = time.Time{} // StartJobRun was never sent: no run to look for
		return err
	}
	cur.Order = applied.After
	x.journalAttempt(io, store.Attempt{Number: a.Attempt, OrderApplied: applied.After, Phase: store.PhaseApplied})
	e.failpoint("after-update")
	in := spec.Start
	in.Arguments = maps.Clone(spec.Start.Arguments)
	if in.Arguments == nil {
		in.Arguments = map[string]string{}
	}
	in.Arguments[MarkerArgument] = cur.Marker
	if err := lock.confirm(io); err != nil {
		x.release(io, res)
		return err
	}
	runID, err := e.Cloud.StartRun(io, spec.Job, in)
	if err != nil {
		x.release(io, res)
		v := x.e.Cloud.Classify(err)
		if refused(v) {
			// AWS answered and refused the start: no run exists, so the
			// next try need not look for one by its marker.
			cur.StartingAt = time.Time{}
		}
		if applied.Updated && (v.Fatal || !v.Retry) {
			// Leave no half-done change: the run did not start, so put the
			// job's connection order back as it was.
			if rerr := e.Cloud.RestoreOrder(io, spec.Job, applied.Before); rerr != nil {
				e.log().Error("could not restore the job's connection order", "job", spec.Job, "order", applied.Before, "err", rerr)
			}
		}
		return err
	}
	e.failpoint("after-start")
	if err := e.Journal.RecordRunID(io, x.key, a.Attempt, runID, e.now()); err != nil {
		// The run goes on and this step records it in the state below;
		// only a crash now would leave it to be found by its marker.
		e.log().Error("could not record the run id durably", "run_key", x.key, "run_id", runID, "err", err)
	}
	cur.Verified = true
	x.apply(policy.Started{RunID: runID})
	x.journalAttempt(io, store.Attempt{Number: a.Attempt, Phase: store.PhaseStarted, States: []store.StateChange{{State: "STARTING", At: e.now()}}})
	if res != nil {
		// Settle the provisional reservation: it now belongs to the run.
		res.RunID = runID
		if err := e.Memory.Reserve(io, *res); err != nil {
			e.log().Warn("could not settle the IP reservation", "err", err)
		}
	}
	conn := ""
	if f := plan.First(); f != nil {
		conn = f.Connection
	}
	e.log().Info("started Glue job run", "run_id", runID, "attempt", a.Attempt, "expected_connection", conn)
	return nil
}

// mustWait reports whether the attempt must wait for room rather than
// start on plan: admission is on, its wait has not run out, and no healthy
// candidate has room for the whole run.
func (x *stepper) mustWait(plan *gluenet.Plan) bool {
	return x.spec().Admission.Enabled() && !x.rec.current().Admitted && admit.Room(*plan) == nil
}

// refused reports whether a failed StartJobRun certainly started nothing:
// the service answered with an error. A network failure or an unknown
// error may hide a run that started.
func refused(v classify.Verdict) bool {
	switch v.Class {
	case classify.Network, classify.Unknown, classify.Canceled, classify.Timeout:
		return false
	}
	return true
}

// changes lists, in words, the candidates whose place changed.
func changes(before, after gluenet.Plan) []string {
	at := map[string]gluenet.Placement{}
	for _, p := range before.Placements {
		at[p.Connection] = p
	}
	var out []string
	for _, p := range after.Placements {
		if b, ok := at[p.Connection]; ok && b.Rank != p.Rank {
			out = append(out, fmt.Sprintf("%s: rank %d -> %d (%s)", p.Connection, b.Rank, p.Rank, p.Reason))
		}
	}
	return out
}

// reserve holds the IPs the run will take in the subnet Glue is expected
// to use, before StartJobRun, so that every launch that ranks after this
// one (any job sharing the store) sees them.
func (x *stepper) reserve(ctx context.Context, plan *gluenet.Plan) (*gluenet.Reservation, error) {
	first := plan.First()
	if first == nil || x.e.Memory == nil {
		return nil, nil
	}
	ips := plan.Need.IPs
	if first.Free != nil && *first.Free < ips {
		ips = *first.Free
	}
	ttl := x.e.ReservationTTL
	r := reserve.New(first.SubnetID, first.AZ, x.spec().Job, "", ips, first.FreeIPs, x.e.now(), ttl)
	r.ID = "attempt/" + marker(x.key, x.rec.current().Number)
	if err := x.e.Memory.Reserve(ctx, r); err != nil {
		return nil, fmt.Errorf("reserve IPs in %s: %w", first.SubnetID, err)
	}
	return &r, nil
}

func (x *stepper) release(ctx context.Context, r *gluenet.Reservation) {
	if r == nil {
		return
	}
	if err := x.e.Memory.Release(ctx, []string{r.ID}); err != nil {
		x.e.log().Warn("could not release the IP reservation", "id", r.ID, "err", err)
	}
}

// adopt looks, under the job lock, for a run this attempt already started:
// recorded by another process, or started by one that died before
// recording it (found by its marker). A recorded run id is adopted only
// when the run carries the attempt's marker. It returns the run id, or "".
func (x *stepper) adopt(ctx context.Context, cur *attemptRecord) (string, error) {
	e, spec := x.e, x.spec()
	if cur.StartingAt.IsZero() {
		return "", nil // no process ever got as far as starting it
	}
	if cur.Marker == "" {
		cur.Marker = marker(x.key, cur.Number)
	}
	stored, err := e.Journal.Attempts(ctx, x.key)
	if err != nil {
		return "", fmt.Errorf("read attempts of run %q: %w", x.key, err)
	}
	for _, a := range stored {
		if a.Number != cur.Number || a.GlueRunID == "" {
			continue
		}
		info, err := e.Cloud.GetRun(ctx, spec.Job, a.GlueRunID)
		if err == nil && info.Arguments[MarkerArgument] == cur.Marker {
			return a.GlueRunID, nil
		}
		e.log().Error("the recorded run does not carry this attempt's marker; not adopting it", "run_key", x.key,
			"run_id", a.GlueRunID, "marker", cur.Marker, "err", err)
	}
	id, err := e.Cloud.FindRun(ctx, spec.Job, MarkerArgument, cur.Marker, cur.StartingAt.Add(-time.Minute))
	if err != nil {
		return "", fmt.Errorf("look for the run an earlier process may have started: %w", err)
	}
	if id != "" {
		if err := e.Journal.RecordRunID(ctx, x.key, cur.Number, id, e.now()); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", err
		}
	}
	return id, nil
}

// poll reads the run's state once. It reports whether the record changed
// and whether the run's wait is over (ended, lost, or unreadable for good).
func (x *stepper) poll(ctx context.Context, a policy.Action) (changed, ended bool) {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	info, err := e.Cloud.GetRun(ctx, spec.Job, a.RunID)
	e.failpoint("while-waiting")
	if err != nil {
		v := x.e.Cloud.Classify(err)
		switch {
		case v.Class == classify.NotFound:
			x.lost(ctx, fmt.Sprintf("Glue has no run %s (EntityNotFoundException)", a.RunID))
			return true, true
		case v.Fatal:
			// The run may still be going, but we can no longer see it.
			e.log().Error("cannot read the run's state; it may still be going", "run_id", a.RunID, "err", err)
			x.apply(policy.Failed{Verdict: v, Err: err.Error()})
			x.rec.ErrClass, x.cause = v.Class, err
			return true, true
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
			return true, true
		}
		cur.Why = fmt.Sprintf("could not read the run's state (%s); will try again", v.Class)
		e.log().Warn("could not read the run's state; will try again", "run_id", a.RunID, "class", string(v.Class), "err", err)
		return true, false
	}
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
	now := e.now()
	switch {
	case classify.Terminal(info.State):
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
		return true, true
	case info.State != cur.State:
		logState(x, a, info.State, "", cur.State)
		if info.State == StateWaiting {
			cur.Why = "Glue queued the run (job run queuing)"
			if info.StateDetail != "" {
				cur.Why += ": " + info.StateDetail
			}
		}
		if info.State == StateWaiting && cur.Reservation != "" && e.Memory != nil {
			// Glue queued the run: it holds no IPs while it waits, so its
			// reservation must not hold them either.
			if err := e.Memory.Release(ctx, []string{cur.Reservation, spec.Job + "/" + a.RunID}); err != nil {
				e.log().Warn("could not release the IP reservation of a queued run", "err", err)
			} else {
				cur.Reservation = ""
			}
		}
		x.apply(policy.StateChanged{State: info.State})
		x.journalAttempt(ctx, store.Attempt{Number: a.Attempt, Phase: store.PhaseStarted, States: []store.StateChange{{State: info.State, At: now}}})
		return true, false
	}
	return changed, false
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

// lease is a held lock.
type lease struct {
	e *Executor
	l store.Lease
}

func (e *Executor) lockTTL() time.Duration {
	if e.LockTTL > 0 {
		return e.LockTTL
	}
	return DefaultLockTTL
}

func (e *Executor) holder() string {
	if e.Holder != "" {
		return e.Holder
	}
	return "gluenet"
}

// lock takes the named lease, waiting for another holder at most the lock
// timeout. Cancelling ctx ends the wait (ctx's error); the journal calls
// use io, so they are never cut in half.
func (e *Executor) lock(ctx, io context.Context, name string) (*lease, error) {
	timeout := e.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	deadline := e.now().Add(timeout)
	delay := 50 * time.Millisecond
	logged := false
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l, ok, err := e.Journal.AcquireLease(io, name, e.holder(), e.lockTTL(), e.now())
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		if ok {
			return &lease{e: e, l: l}, nil
		}
		left := deadline.Sub(e.now())
		if left <= 0 {
			return nil, fmt.Errorf("%w: %s is held by %s; gave up after %s (--lock-timeout)", ErrLockTimeout, name, l.Holder, timeout)
		}
		if !logged {
			logged = true
			e.log().Info("waiting for the lock held by another gluenet", "lock", name, "holder", l.Holder, "timeout", timeout.String())
		}
		if err := e.Clock.Sleep(ctx, min(delay, left)); err != nil {
			return nil, err
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// confirm renews the lease and so proves it is still ours: another holder
// may have taken it over if this one stalled past its TTL.
func (l *lease) confirm(ctx context.Context) error {
	n, err := l.e.Journal.RenewLease(ctx, l.l, l.e.lockTTL(), l.e.now())
	if err != nil {
		return fmt.Errorf("lock %s lost before starting the run: %w", l.l.Name, err)
	}
	l.l = n
	return nil
}

func (l *lease) release(ctx context.Context) {
	if err := l.e.Journal.ReleaseLease(ctx, l.l); err != nil {
		l.e.log().Warn("could not release the lock; it expires by itself", "lock", l.l.Name, "err", err)
	}
}
