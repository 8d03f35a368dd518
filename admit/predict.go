package admit

import (
	"slices"
	"sort"
	"time"

	"github.com/gluenet/gluenet"
)

// DefaultLinger is how long after a Glue run ends its IPs come back: Glue
// deletes a run's ENIs after the run, and EC2's free count shows them
// again a little later. The simulated region models two minutes
// (sim/scenarios/default.yaml cites the sources); prediction adds it to
// every run's expected end.
const DefaultLinger = 2 * time.Minute

// Flight is a run in flight whose IPs come back when it ends.
type Flight struct {
	Subnet string
	IPs    int
	// Back is when its IPs are expected back (its expected end plus the
	// linger), Earliest the soonest they may be (its job's shortest
	// recent run); both zero when unknown (no duration known for its
	// job).
	Back, Earliest time.Time
}

// Forecast is when room for the whole run is expected.
type Forecast struct {
	// Known is false when prediction had nothing to go on (no run in
	// flight holds IPs in a healthy candidate's subnet).
	Known bool `json:"known"`
	// At is when room is expected (zero when no expected return of IPs
	// makes room). Subnet is where, Flights how many runs must end first.
	At      time.Time `json:"at,omitzero"`
	Subnet  string    `json:"subnet,omitempty"`
	Flights int       `json:"flights,omitempty"`
	// Unsure is true when At relies on a run whose end is unknown.
	Unsure bool `json:"unsure,omitempty"`
	// Earliest is the soonest room may appear, if every run in flight
	// ends as soon as its job's shortest recent run (zero: never).
	Earliest time.Time `json:"earliest,omitzero"`
}

// Predict says when room for the plan's whole need is expected in a
// healthy candidate, from the runs in flight. Runs of unknown duration are
// assumed to end at horizon (now + the wait), so that they count without
// bringing room earlier than the wait allows.
func Predict(p gluenet.Plan, flights []Flight, now, horizon time.Time) Forecast {
	f := predict(p, flights, now, horizon, func(fl Flight) time.Time { return fl.Back })
	early := predict(p, flights, now, horizon, func(fl Flight) time.Time {
		if fl.Earliest.IsZero() {
			return fl.Back
		}
		return fl.Earliest
	})
	f.Earliest = early.At
	return f
}

func predict(p gluenet.Plan, flights []Flight, now, horizon time.Time, when func(Flight) time.Time) Forecast {
	var f Forecast
	for _, pl := range p.Placements {
		if pl.Free == nil || pl.EjectedUntil != nil || pl.Group == gluenet.GroupUnchecked {
			continue
		}
		var mine []Flight
		for _, fl := range flights {
			if fl.Subnet == pl.SubnetID && fl.IPs > 0 {
				mine = append(mine, fl)
			}
		}
		if len(mine) == 0 {
			continue
		}
		f.Known = true
		back := func(fl Flight) time.Time {
			if t := when(fl); !t.IsZero() {
				return t
			}
			return horizon
		}
		sort.SliceStable(mine, func(i, j int) bool { return back(mine[i]).Before(back(mine[j])) })
		free := *pl.Free
		for i, fl := range mine {
			free += fl.IPs
			if free < p.Need.IPs {
				continue
			}
			at := back(fl)
			if at.Before(now) {
				at = now
			}
			if f.At.IsZero() || at.Before(f.At) {
				f.At, f.Subnet, f.Flights = at, pl.SubnetID, i+1
				f.Unsure = slices.ContainsFunc(mine[:i+1], func(x Flight) bool { return x.Back.IsZero() })
			}
			break
		}
	}
	return f
}

// Shortest is the shortest of durations, 0 for none.
func Shortest(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return slices.Min(ds)
}

// Median is the median of durations, 0 for none.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
