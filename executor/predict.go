package executor

import (
	"context"
	"time"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/admit"
	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/store"
)

// runLister is what admission's prediction reads beside the journal: the
// runs in flight and the recent ones. store.Store and MemJournal have it;
// with a journal that does not, admission waits without predicting.
type runLister interface {
	ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error)
}

// Prediction's reach into the past: each job's durations come from its
// last durationRuns successful runs of the last predictHistory.
const (
	predictHistory = 7 * 24 * time.Hour
	durationRuns   = 10
	recentRuns     = 500
)

// forecast predicts when room for the plan appears, from the runs in
// flight that the journal knows (every process sharing the store), each
// job's recent durations and the ENI linger.
func (x *stepper) forecast(ctx context.Context, plan gluenet.Plan, horizon time.Time) admit.Forecast {
	lister, ok := x.e.Journal.(runLister)
	if !ok {
		return admit.Forecast{}
	}
	now := x.e.now()
	running, err := lister.ListRuns(ctx, store.RunFilter{Status: store.RunRunning})
	if err != nil {
		x.e.log().Warn("could not read the runs in flight to predict room; waiting without a prediction", "err", err)
		return admit.Forecast{}
	}
	recent, err := lister.ListRuns(ctx, store.RunFilter{Since: now.Add(-predictHistory), Limit: recentRuns})
	if err != nil {
		x.e.log().Warn("could not read recent runs to predict room; waiting without a prediction", "err", err)
		return admit.Forecast{}
	}
	durations := map[string][]time.Duration{}
	var flights []admit.Flight
	for _, r := range recent {
		if r.FinishedAt.IsZero() {
			continue
		}
		lingering := now.Before(r.FinishedAt.Add(admit.DefaultLinger))
		if !lingering && (r.Status != store.RunSucceeded || len(durations[r.Job]) >= durationRuns) {
			continue
		}
		cur := x.peek(ctx, r.Key)
		if cur == nil || cur.StartingAt.IsZero() || !r.FinishedAt.After(cur.StartingAt) {
			continue
		}
		if r.Status == store.RunSucceeded && len(durations[r.Job]) < durationRuns {
			durations[r.Job] = append(durations[r.Job], r.FinishedAt.Sub(cur.StartingAt))
		}
		// A run that ended a moment ago still holds its ENIs: its IPs
		// come back when the linger is over.
		if f, ok := flightOf(cur); ok && lingering && cur.RunID != "" {
			f.Back = r.FinishedAt.Add(admit.DefaultLinger)
			f.Earliest = f.Back
			flights = append(flights, f)
		}
	}
	for _, r := range running {
		if r.Key == x.key {
			continue
		}
		cur := x.peek(ctx, r.Key)
		// A run holds IPs from its start to its end; one queued by Glue
		// (WAITING) holds none yet.
		if cur == nil || cur.RunID == "" || cur.StartingAt.IsZero() || classify.Terminal(cur.State) || cur.State == StateWaiting {
			continue
		}
		f, ok := flightOf(cur)
		if !ok {
			continue
		}
		if d := admit.Median(durations[r.Job]); d > 0 {
			f.Back = cur.StartingAt.Add(d + admit.DefaultLinger)
			f.Earliest = cur.StartingAt.Add(admit.Shortest(durations[r.Job]) + admit.DefaultLinger)
		}
		flights = append(flights, f)
	}
	return admit.Predict(plan, flights, now, horizon)
}

// flightOf is the subnet and IPs an attempt's run holds: its plan's first
// subnet, with the IPs it started with.
func flightOf(cur *attemptRecord) (admit.Flight, bool) {
	p := cur.Plan.plan()
	if p == nil || p.First() == nil {
		return admit.Flight{}, false
	}
	ips := p.Need.IPs
	if p.UnderCapacity != nil {
		ips = p.UnderCapacity.FreeAtStart
	}
	return admit.Flight{Subnet: p.First().SubnetID, IPs: ips}, true
}

// peek reads another run's current attempt from the journal, without
// keeping it in the executor's cache; nil when it cannot be read.
func (x *stepper) peek(ctx context.Context, key string) *attemptRecord {
	rs, err := x.e.Journal.RunState(ctx, key)
	if err != nil {
		return nil
	}
	if rec, ok := x.e.cached(key, rs.Revision); ok {
		return rec.current()
	}
	rec, err := decodeRecord(rs.Data)
	if err != nil {
		return nil
	}
	return rec.current()
}
