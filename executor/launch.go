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
// or re-ranks and reserves under the reservations lease, then launches:
// journals the order and the marker, applies the order and starts the run.
// It returns the error to report as Failed (errNoRoom when the re-ranked
// plan has no room any more), or nil after applying Started. Cancelling
// ctx interrupts only the lock waits.
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
		failpoint("after-reattach")
		return nil
	}
	plan, res, err := x.reserveUnderLease(ctx, io, a.Plan)
	if err != nil {
		return err
	}
	return x.launch(io, a, lock, plan, res)
}

// reserveUnderLease ranks the plan again under the store-wide
// reservations lease, with the reservations taken since discovery, and
// reserves the IPs of the run in the first subnet: every launch that ranks
// after this one (any job sharing the store) sees them. Without memory the
// plan is used as it is. errNoRoom when admission must wait instead.
func (x *stepper) reserveUnderLease(ctx, io context.Context, plan *gluenet.Plan) (*gluenet.Plan, *gluenet.Reservation, error) {
	e, spec, cur := x.e, x.spec(), x.rec.current()
	if e.Memory == nil {
		return plan, nil, nil
	}
	rl, err := e.lock(ctx, io, reservationsLease)
	if err != nil {
		return nil, nil, err
	}
	defer rl.release(io)
	// Launches that discovered at the same time all saw the same
	// reservations: rank again with the ones taken since (no AWS call: the
	// same free IPs, the attempt's same random draw).
	again, err := e.rank(io, spec, plan.Candidates(spec.Connections), plan.Need, cur.Seed)
	if err != nil {
		return nil, nil, err
	}
	again.Others = plan.Others
	if !slices.Equal(again.Order(), plan.Order()) {
		e.log().Info("re-ranked under the job lock: the order changed because memory changed since discovery (reservations of launches that went first, health)",
			"before", plan.Order(), "after", again.Order(), "changes", changes(*plan, again))
	}
	x.apply(policy.Discovered{Plan: again})
	plan = x.s.Current().Plan
	if x.mustWait(plan) {
		return nil, nil, errNoRoom
	}
	res, err := x.reserve(io, plan)
	return plan, res, err
}

// launch journals the plan, the order and the marker, applies the order
// and starts the run, under the job's lock; a start that fails leaves the
// job's order as it was.
func (x *stepper) launch(io context.Context, a policy.Action, lock *lease, plan *gluenet.Plan, res *gluenet.Reservation) error {
	e, spec := x.e, x.spec()
	if plan.UnderCapacity = admit.Short(*plan); plan.UnderCapacity != nil {
		u := plan.UnderCapacity
		e.log().Warn(fmt.Sprintf("starting the run under capacity: it needs %d IPs, the first subnet Glue will try, %s, has %d free: Glue starts it with fewer workers than asked",
			u.Needed, u.Subnet, u.FreeAtStart), "run_key", x.key, "attempt", a.Attempt, "needed", u.Needed, "free_at_start", u.FreeAtStart, "subnet", u.Subnet)
	}
	cur := x.rec.current()
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
	failpoint("before-update")
	applied, err := e.Cloud.ApplyOrder(io, spec.Job, spec.Connections, plan.Order())
	if err != nil {
		x.release(io, res)
		cur.StartingAt = time.Time{} // StartJobRun was never sent: no run to look for
		return err
	}
	cur.Order = applied.After
	x.journalAttempt(io, store.Attempt{Number: a.Attempt, OrderApplied: applied.After, Phase: store.PhaseApplied})
	failpoint("after-update")
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
			if _, rerr := e.Cloud.RestoreOrder(io, spec.Job, applied.Before); rerr != nil {
				e.log().Error("could not restore the job's connection order", "job", spec.Job, "order", applied.Before, "err", rerr)
			}
		}
		return err
	}
	failpoint("after-start")
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
