package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
)

// ClassNoRoom is the class of a run that waited for room for its whole
// need, found none in time, and was not started (--when-short fail).
const ClassNoRoom classify.Class = "no-room"

// errNoRoom: under the reservations lock, the re-ranked plan has no room
// for the run any more (a launch that went first took it): wait instead
// of starting short.
var errNoRoom = errors.New("no room for the whole run after re-ranking")

// admit decides, before an attempt starts, whether it waits for room: a
// healthy candidate with free IPs (EC2's count minus reservations) for the
// run's whole need. While it waits it holds no lease and no reservation
// and changes nothing in AWS; each Step looks again (one DescribeSubnets,
// the subnets cached) and starts as soon as there is room, or when the
// wait runs out (then the spec's WhenShort decides). It returns the wait,
// or nil to start now; a is updated with the fresh plan.
func (x *stepper) admit(ctx context.Context, a *policy.Action) (*Wait, error) {
	cfg, cur := x.spec().Admission, x.rec.current()
	if !cfg.Enabled() || cur.Admitted || !cur.StartingAt.IsZero() || a.Plan == nil {
		return nil, nil
	}
	if !cur.AdmitSince.IsZero() && cur.AdmittedAt.IsZero() {
		// Waiting for room: look again.
		plan, err := x.e.discover(ctx, x.spec(), cur.Seed)
		if err != nil {
			return nil, err
		}
		x.apply(policy.Discovered{Plan: plan})
		a.Plan = x.s.Current().Plan
		cur = x.rec.current()
	}
	if admit.Room(*a.Plan) != nil {
		if !cur.AdmitSince.IsZero() {
			cur.AdmittedAt = x.e.now()
			x.e.log().Info("room for the whole run appeared: starting", "run_key", x.key, "attempt", cur.Number,
				"waited", admit.Round(x.e.now().Sub(cur.AdmitSince)).String())
		}
		return nil, nil
	}
	return x.waitForRoom(ctx, a)
}

// noRoomExpected is the reason of an attempt that does not wait because
// prediction expects no room within the wait.
const noRoomExpected = "no room for the whole run, and the runs in flight are not expected to make room within --admit-wait"

// neverRoom is the reason of an attempt that does not wait because no
// candidate subnet is large enough for the run at all.
const neverRoom = "no candidate subnet is large enough for the whole run, even empty"

// predict bounds a new wait for room by the forecast: until room is
// expected plus a margin, or no wait at all when the runs in flight are
// not expected to make room within it. With nothing to go on (no run in
// flight holds IPs in a healthy candidate) the wait stays as it is.
func (x *stepper) predict(ctx context.Context, plan gluenet.Plan, cur *attemptRecord) {
	fc := x.forecast(ctx, plan, cur.AdmitUntil)
	cur.Forecast = fc
	switch {
	case !fc.Known:
	case fc.Earliest.IsZero() || fc.Earliest.After(cur.AdmitUntil):
		cur.AdmitUntil, cur.Why = cur.AdmitSince, noRoomExpected
		x.e.log().Info(noRoomExpected, "run_key", x.key, "attempt", cur.Number)
	case !fc.Unsure && !fc.At.IsZero():
		if until := fc.At.Add(admit.Margin(x.spec().PollInterval)); until.Before(cur.AdmitUntil) {
			cur.AdmitUntil = until
		}
	}
}

// waitForRoom starts or continues the attempt's wait for room, or ends it
// when it ran out: nil to start short, NoRoom applied to fail.
func (x *stepper) waitForRoom(ctx context.Context, a *policy.Action) (*Wait, error) {
	cfg, cur, now := x.spec().Admission, x.rec.current(), x.e.now()
	if cur.AdmitSince.IsZero() {
		cur.AdmitSince, cur.AdmitUntil = now, now.Add(cfg.Wait)
		if cfg.Predict {
			x.predict(ctx, *a.Plan, cur)
		}
		if largest, never := admit.NeverRoom(*a.Plan); never {
			cur.AdmitUntil, cur.Why = cur.AdmitSince, neverRoom
			x.e.log().Info(neverRoom+": not waiting", "run_key", x.key, "attempt", cur.Number,
				"needs", a.Plan.Need.IPs, "largest_subnet_usable_ips", largest)
		}
	}
	cur.AdmittedAt = time.Time{}
	if now.Before(cur.AdmitUntil) {
		cur.Why = admit.Waiting(*a.Plan, cur.AdmitUntil, cur.Forecast)
		x.e.log().Info(cur.Why, "run_key", x.key, "attempt", cur.Number, "until", cur.AdmitUntil.UTC().Format(time.RFC3339))
		next := now.Add(x.spec().PollInterval)
		if next.After(cur.AdmitUntil) {
			next = cur.AdmitUntil
		}
		cur.RoomCheckAt = next
		return &Wait{For: WaitRoom, Until: next}, nil
	}
	cur.Admitted, cur.AdmittedAt = true, now
	waited := admit.Round(now.Sub(cur.AdmitSince))
	if cfg.WhenShort == admit.FailShort {
		why := fmt.Sprintf("after waiting %s for room (--admit-wait)", waited)
		switch cur.Why {
		case noRoomExpected:
			why = "and the runs in flight are not expected to make room within --admit-wait"
		case neverRoom:
			why = "and none ever can: each candidate subnet's CIDR block is smaller than that"
		}
		best := ""
		if b := admit.Best(*a.Plan); b != nil && b.Free != nil {
			best = fmt.Sprintf(": the best, %s, had %d free", b.SubnetID, *b.Free)
		}
		msg := fmt.Sprintf("no healthy subnet had room for the run's %d IPs %s%s; not started (--when-short fail)", a.Plan.Need.IPs, why, best)
		x.e.log().Error(msg, "run_key", x.key, "attempt", cur.Number)
		x.apply(policy.NoRoom{Class: ClassNoRoom, Err: msg})
		x.rec.ErrClass = ClassNoRoom
		return nil, nil
	}
	if cur.Why == neverRoom {
		x.e.log().Warn(neverRoom+": starting with what there is (--when-short start); give the job connections in larger subnets, or fewer workers",
			"run_key", x.key, "attempt", cur.Number, "needs", a.Plan.Need.IPs)
		return nil, nil
	}
	if cur.Why == noRoomExpected {
		x.e.log().Warn("no room for the whole run, and none expected within --admit-wait from the runs in flight: starting with what there is (--when-short start)",
			"run_key", x.key, "attempt", cur.Number)
		return nil, nil
	}
	x.e.log().Warn("no room for the whole run after waiting for it: starting with what there is (--when-short start)",
		"run_key", x.key, "attempt", cur.Number, "waited", waited.String())
	return nil, nil
}
