// Package lab is gluenet's strategy lab: a discrete-event simulation, on
// virtual time, of a fleet of Glue job runs arriving over hours on the
// simulated region (package sim), each driven by the production run
// policy (package policy) and ranking code (strategy, health, reserve)
// with the strategy under test. It measures, per strategy and over several
// seeds, how many runs started at full capacity, under capacity, failed to
// start or failed on placement; attempts per run; time from request to
// RUNNING; and run time lost to failed attempts. It compares each strategy
// with an upper bound computed offline by an oracle that knows the future
// (see bound.go), and writes a terminal table, JSON and a self-contained
// HTML report.
//
// Nothing sleeps: every wait of the policy (poll interval, backoff) is an
// event on a priority queue, and the region's manual clock jumps from one
// event to the next. A seed fixes the fleet, the region's random draws and
// the executor's, so the same seed gives the same JSON.
package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gluenet/gluenet/classify"
	"github.com/gluenet/gluenet/policy"
	"github.com/gluenet/gluenet/sim"
)

// Options say what to compare and how.
type Options struct {
	// Variants to compare; empty means DefaultVariants.
	Variants []Variant
	// Seeds is the number of seeds (at least 1): seed i is the scenario's
	// seed plus i.
	Seeds int
	// SDK drives the region through the real AWS SDK and awsclient over
	// the in-process HTTP client instead of direct model calls: slower,
	// for fidelity checks.
	SDK bool
	// SkipBound leaves out the upper bound (benchmarks of the simulation
	// alone).
	SkipBound bool
	// Curve lists admission waits at which the first gluenet variant
	// (with memory) is simulated again, for the trade-off between runs at
	// full capacity and time to RUNNING (Result.Curve). Those simulations
	// also bound the oracle's waits.
	Curve []time.Duration
	// CurveBase names the variant the curve varies (gluenet's default
	// strategy); the first compared gluenet variant when absent.
	CurveBase string
}

// DefaultCurve is the lab's trade-off curve: admission waits of 0, 2, 5,
// 10, 30 and 60 minutes (gluenet run's default, admit.DefaultWait).
var DefaultCurve = []time.Duration{0, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour}

// CurvePoint is one admission wait of the trade-off curve.
type CurvePoint struct {
	// Base is the variant the curve varies, Variant the point's own.
	Base         string        `json:"base"`
	Variant      string        `json:"variant"`
	Wait         time.Duration `json:"-"`
	WaitText     string        `json:"admit_wait"`
	OfBound      Stat          `json:"of_bound"`
	Under        Stat          `json:"under_rate"`
	ToRunningP95 Stat          `json:"to_running_p95_s"`
	Waited       Stat          `json:"waited_rate"`
	WaitP95      Stat          `json:"wait_for_room_p95_s"`
	LateP95      Stat          `json:"late_p95_s"`
}

// Category is how one run of the fleet ended up.
type Category string

// The categories; every run is in exactly one.
const (
	// Full: the run succeeded, and the attempt that succeeded got every
	// IP it asked for.
	Full Category = "full"
	// Under: the run succeeded with fewer workers than asked.
	Under Category = "under"
	// FailedToStart: no attempt of the run ever reached RUNNING (Glue
	// could not place it, or AWS refused the start every time).
	FailedToStart Category = "failed-to-start"
	// FailedPlacement: an attempt reached RUNNING, but the run failed for
	// good on a placement failure (its zone lost the workers).
	FailedPlacement Category = "failed-placement"
	// FailedOther: the run failed for good for another reason (its own
	// code, a timeout).
	FailedOther Category = "failed-other"
)

// Outcome is what happened to one run of the fleet in one simulation.
type Outcome struct {
	Job      string        `json:"job"`
	Arrival  time.Duration `json:"arrival"`
	Category Category      `json:"category"`
	// Attempts is the number of Glue runs started for it.
	Attempts int `json:"attempts"`
	// ToRunning is the time from the request to RUNNING of the attempt
	// that decided the run; -1 when it never ran.
	ToRunning time.Duration `json:"to_running"`
	// Lost is the Glue run time of its failed attempts.
	Lost time.Duration `json:"lost"`
	// Late is how much later the run ended than it would have had it
	// started at once with all its workers: the waits, the failed
	// attempts and the slowdown of a start under capacity together; -1
	// when it did not succeed.
	Late time.Duration `json:"late"`
	// FinalStart is when the deciding attempt started, since the
	// simulation's start; FinalSubnet is where Glue placed it.
	FinalStart  time.Duration `json:"final_start"`
	FinalSubnet string        `json:"final_subnet,omitempty"`
	Result      policy.Result `json:"result"`
	// WaitedForRoom is how long the run's attempts waited for room
	// (capacity-aware admission), in all.
	WaitedForRoom time.Duration `json:"waited_for_room"`
}

// Simulation is the outcome of one variant on one seed.
type Simulation struct {
	Variant  string    `json:"variant"`
	Seed     int64     `json:"seed"`
	Outcomes []Outcome `json:"-"`
	Metrics  Metrics   `json:"metrics"`
	// APICalls counts the calls the fleet made to the region.
	APICalls int `json:"api_calls"`
	// End is when the last run ended, since the start.
	End time.Duration `json:"end"`
	// AdmitWait is the variant's admission wait: the bound lets the
	// oracle wait as long.
	AdmitWait time.Duration `json:"-"`
}

// Simulate runs one variant of the scenario on one seed.
func Simulate(ctx context.Context, sc *Scenario, v Variant, seed int64, sdk bool) (*Simulation, error) {
	region, err := sc.RegionScenario()
	if err != nil {
		return nil, err
	}
	e, err := newEngine(sc, region, v, seed, sdk)
	if err != nil {
		return nil, err
	}
	if err := e.run(ctx); err != nil {
		return nil, fmt.Errorf("simulate %s, seed %d: %w", v.Name, seed, err)
	}
	sim := &Simulation{Variant: v.Name, Seed: seed, APICalls: e.region.Stats().TotalCalls(), End: e.now().Sub(epoch), AdmitWait: v.Admission.Wait}
	sim.Outcomes = outcomes(e)
	sim.Metrics = measure(sim.Outcomes)
	return sim, nil
}

// outcomes classifies every run of the fleet from the policy's final
// state and the region's records of the Glue runs.
func outcomes(e *engine) []Outcome {
	recs := map[string]sim.RunRecord{}
	for _, r := range e.region.RunRecords() {
		recs[r.ID] = r
	}
	out := make([]Outcome, len(e.procs))
	for i, p := range e.procs {
		o := Outcome{Job: p.job, Arrival: p.arrival.At, ToRunning: -1, Late: -1, Result: p.st.Result}
		var final *sim.RunRecord
		everRan := false
		var lastClass classify.Class
		for _, a := range p.st.Attempts {
			o.WaitedForRoom += time.Duration(a.WaitedForRoom * float64(time.Second))
			if a.RunID == "" {
				continue
			}
			r, ok := recs[a.RunID]
			if !ok {
				continue
			}
			o.Attempts++
			final = &r
			lastClass = a.Class
			if !r.RunningSince.IsZero() {
				everRan = true
			}
			if a.Class != classify.Succeeded && !r.CompletedOn.IsZero() {
				o.Lost += r.CompletedOn.Sub(r.StartedOn)
			}
		}
		if final != nil {
			o.FinalStart = final.StartedOn.Sub(epoch)
			o.FinalSubnet = final.SubnetID
			if !final.RunningSince.IsZero() {
				o.ToRunning = final.RunningSince.Sub(epoch) - p.arrival.At
			}
			if p.st.Result == policy.ResultSucceeded && !final.CompletedOn.IsZero() {
				o.Late = max(final.CompletedOn.Sub(epoch)-p.arrival.At-p.life, 0)
			}
		}
		switch {
		case p.st.Result == policy.ResultSucceeded && final != nil && final.AllocatedIPs >= final.RequestedIPs:
			o.Category = Full
		case p.st.Result == policy.ResultSucceeded:
			o.Category = Under
		case !everRan:
			o.Category = FailedToStart
		case lastClass == classify.Placement:
			o.Category = FailedPlacement
		default:
			o.Category = FailedOther
		}
		out[i] = o
	}
	return out
}

// Metrics are the figures of one simulation.
type Metrics struct {
	Runs int `json:"runs"`
	// Rates are shares of all runs, in [0, 1].
	Full            float64 `json:"full_rate"`
	Under           float64 `json:"under_rate"`
	FailedToStart   float64 `json:"failed_to_start_rate"`
	FailedPlacement float64 `json:"failed_placement_rate"`
	FailedOther     float64 `json:"failed_other_rate"`
	FullCount       int     `json:"full_runs"`
	// AttemptsPerRun is the mean number of Glue runs started per run.
	AttemptsPerRun float64 `json:"attempts_per_run"`
	// ToRunningP50 and ToRunningP95 are seconds from request to RUNNING,
	// over the runs that ran.
	ToRunningP50 float64 `json:"to_running_p50_s"`
	ToRunningP95 float64 `json:"to_running_p95_s"`
	// LostHours is the Glue run time of failed attempts, in hours.
	LostHours float64 `json:"lost_hours"`
	// LateP50 and LateP95 are seconds by which runs that succeeded ended
	// later than had they started at once with all their workers
	// (Outcome.Late): what a user waits for the result, beyond the job's
	// own length.
	LateP50 float64 `json:"late_p50_s"`
	LateP95 float64 `json:"late_p95_s"`
	// OfBound is FullCount / the upper bound's count (1 when the bound is
	// 0); 0 when the bound was skipped.
	OfBound float64 `json:"of_bound"`
	// Waited is the share of runs that waited for room before a start;
	// WaitMean and WaitP95 are seconds waited, over those runs.
	Waited   float64 `json:"waited_rate"`
	WaitMean float64 `json:"wait_for_room_mean_s"`
	WaitP95  float64 `json:"wait_for_room_p95_s"`
}

func measure(os []Outcome) Metrics {
	m := Metrics{Runs: len(os)}
	if len(os) == 0 {
		return m
	}
	counts := map[Category]int{}
	attempts := 0
	var lost time.Duration
	var toRun, waits, late []float64
	for _, o := range os {
		if o.Late >= 0 {
			late = append(late, o.Late.Seconds())
		}
		if o.WaitedForRoom > 0 {
			waits = append(waits, o.WaitedForRoom.Seconds())
		}
		counts[o.Category]++
		attempts += o.Attempts
		lost += o.Lost
		if o.ToRunning >= 0 {
			toRun = append(toRun, o.ToRunning.Seconds())
		}
	}
	n := float64(len(os))
	m.FullCount = counts[Full]
	m.Full = float64(counts[Full]) / n
	m.Under = float64(counts[Under]) / n
	m.FailedToStart = float64(counts[FailedToStart]) / n
	m.FailedPlacement = float64(counts[FailedPlacement]) / n
	m.FailedOther = float64(counts[FailedOther]) / n
	m.AttemptsPerRun = float64(attempts) / n
	m.LostHours = lost.Hours()
	slices.Sort(toRun)
	// No run ran at all: report 0 rather than NaN, which JSON cannot hold.
	if len(toRun) > 0 {
		m.ToRunningP50 = percentile(toRun, 0.5)
		m.ToRunningP95 = percentile(toRun, 0.95)
	}
	if len(late) > 0 {
		slices.Sort(late)
		m.LateP50 = percentile(late, 0.5)
		m.LateP95 = percentile(late, 0.95)
	}
	if len(waits) > 0 {
		slices.Sort(waits)
		m.Waited = float64(len(waits)) / n
		for _, w := range waits {
			m.WaitMean += w
		}
		m.WaitMean /= float64(len(waits))
		m.WaitP95 = percentile(waits, 0.95)
	}
	return m
}

// Stat is a figure over seeds: mean, spread and extremes.
type Stat struct {
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func stat(xs []float64) Stat {
	var vals []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			vals = append(vals, x)
		}
	}
	if len(vals) == 0 {
		return Stat{}
	}
	s := Stat{Min: vals[0], Max: vals[0]}
	for _, x := range vals {
		s.Mean += x
		s.Min = min(s.Min, x)
		s.Max = max(s.Max, x)
	}
	s.Mean /= float64(len(vals))
	if len(vals) > 1 {
		var ss float64
		for _, x := range vals {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.StdDev = math.Sqrt(ss / float64(len(vals)-1))
	}
	return s
}

// Summary is one variant's figures over all seeds.
type Summary struct {
	Variant         Variant `json:"variant"`
	Full            Stat    `json:"full_rate"`
	Under           Stat    `json:"under_rate"`
	FailedToStart   Stat    `json:"failed_to_start_rate"`
	FailedPlacement Stat    `json:"failed_placement_rate"`
	FailedOther     Stat    `json:"failed_other_rate"`
	AttemptsPerRun  Stat    `json:"attempts_per_run"`
	ToRunningP50    Stat    `json:"to_running_p50_s"`
	ToRunningP95    Stat    `json:"to_running_p95_s"`
	LostHours       Stat    `json:"lost_hours"`
	OfBound         Stat    `json:"of_bound"`
	Waited          Stat    `json:"waited_rate"`
	WaitMean        Stat    `json:"wait_for_room_mean_s"`
	WaitP95         Stat    `json:"wait_for_room_p95_s"`
	LateP50         Stat    `json:"late_p50_s"`
	LateP95         Stat    `json:"late_p95_s"`
}

// Result is a whole lab run.
type Result struct {
	Scenario    string  `json:"scenario"`
	Description string  `json:"description,omitempty"`
	Seeds       []int64 `json:"seeds"`
	// Runs is the fleet size of each seed.
	Runs []int `json:"runs_per_seed"`
	// Bound is the oracle's full-capacity count and rate, per seed; nil
	// when skipped.
	Bound     []BoundResult `json:"bound,omitempty"`
	BoundRate Stat          `json:"bound_full_rate"`
	Summaries []Summary     `json:"strategies"`
	// Curve is the admission trade-off (Options.Curve), empty when not
	// asked for or when no gluenet variant is compared.
	Curve       []CurvePoint  `json:"admission_curve,omitempty"`
	Simulations []*Simulation `json:"simulations"`
}

// Run compares the variants on the scenario over the seeds.
func Run(ctx context.Context, sc *Scenario, o Options) (*Result, error) {
	if o.Seeds < 1 {
		return nil, errors.New("lab: seeds must be at least 1")
	}
	vs := o.Variants
	if len(vs) == 0 {
		for _, n := range DefaultVariants {
			v, err := LookupVariant(n)
			if err != nil {
				return nil, err
			}
			vs = append(vs, v)
		}
	}
	res := &Result{Scenario: sc.Name, Description: sc.Description}
	// The curve's variants run beside the compared ones (and bound the
	// oracle's waits too), but are reported apart.
	compared := len(vs)
	var (
		curve     []Variant
		curveBase string
	)
	for _, v := range vs {
		if !v.Memory || o.CurveBase != "" && v.Name != o.CurveBase && slices.ContainsFunc(vs, func(x Variant) bool { return x.Name == o.CurveBase }) {
			continue
		}
		base := v
		if b, _, ok := strings.Cut(v.Name, "+wait"); ok {
			if bv, err := LookupVariant(b); err == nil {
				base = bv
			}
		}
		for _, w := range o.Curve {
			curve = append(curve, withWait(base, w))
		}
		curveBase = base.Name
		break
	}
	vs = append(slices.Clip(vs), curve...)
	bySeed := make([][]*Simulation, o.Seeds)
	for i := range o.Seeds {
		seed := sc.Seed + int64(i)
		res.Seeds = append(res.Seeds, seed)
		for _, v := range vs {
			s, err := Simulate(ctx, sc, v, seed, o.SDK)
			if err != nil {
				return nil, err
			}
			bySeed[i] = append(bySeed[i], s)
			res.Simulations = append(res.Simulations, s)
		}
		res.Runs = append(res.Runs, len(bySeed[i][0].Outcomes))
		if !o.SkipBound {
			b, err := Bound(sc, seed, bySeed[i])
			if err != nil {
				return nil, err
			}
			res.Bound = append(res.Bound, b)
			for _, s := range bySeed[i] {
				s.Metrics.OfBound = 1
				if b.Count > 0 {
					s.Metrics.OfBound = float64(s.Metrics.FullCount) / float64(b.Count)
				}
			}
		}
	}
	var rates []float64
	for _, b := range res.Bound {
		rates = append(rates, b.Rate)
	}
	res.BoundRate = stat(rates)
	for k, v := range vs {
		col := func(f func(Metrics) float64) Stat {
			xs := make([]float64, o.Seeds)
			for i := range o.Seeds {
				xs[i] = f(bySeed[i][k].Metrics)
			}
			return stat(xs)
		}
		if k >= compared {
			res.Curve = append(res.Curve, CurvePoint{Base: curveBase, Variant: v.Name, Wait: v.Admission.Wait, WaitText: v.Admission.Wait.String(),
				OfBound: col(func(m Metrics) float64 { return m.OfBound }), Under: col(func(m Metrics) float64 { return m.Under }),
				ToRunningP95: col(func(m Metrics) float64 { return m.ToRunningP95 }), Waited: col(func(m Metrics) float64 { return m.Waited }),
				WaitP95: col(func(m Metrics) float64 { return m.WaitP95 }), LateP95: col(func(m Metrics) float64 { return m.LateP95 })})
			continue
		}
		res.Summaries = append(res.Summaries, Summary{
			Variant:         v,
			Full:            col(func(m Metrics) float64 { return m.Full }),
			Under:           col(func(m Metrics) float64 { return m.Under }),
			FailedToStart:   col(func(m Metrics) float64 { return m.FailedToStart }),
			FailedPlacement: col(func(m Metrics) float64 { return m.FailedPlacement }),
			FailedOther:     col(func(m Metrics) float64 { return m.FailedOther }),
			AttemptsPerRun:  col(func(m Metrics) float64 { return m.AttemptsPerRun }),
			ToRunningP50:    col(func(m Metrics) float64 { return m.ToRunningP50 }),
			ToRunningP95:    col(func(m Metrics) float64 { return m.ToRunningP95 }),
			LostHours:       col(func(m Metrics) float64 { return m.LostHours }),
			OfBound:         col(func(m Metrics) float64 { return m.OfBound }),
			Waited:          col(func(m Metrics) float64 { return m.Waited }),
			WaitMean:        col(func(m Metrics) float64 { return m.WaitMean }),
			WaitP95:         col(func(m Metrics) float64 { return m.WaitP95 }),
			LateP50:         col(func(m Metrics) float64 { return m.LateP50 }),
			LateP95:         col(func(m Metrics) float64 { return m.LateP95 }),
		})
	}
	return res, nil
}
