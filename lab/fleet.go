package lab

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// arrival is one run of the fleet: which job, and when it is requested,
// as an offset from the start of the simulation.
type arrival struct {
	Job int // index in Scenario.Jobs
	At  time.Duration
}

// fleet draws the arrivals of a scenario for a seed. It has its own random
// stream, so every strategy sees the very same fleet for a seed.
func fleet(sc *Scenario, seed int64) []arrival {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x666c656574))
	var out []arrival
	horizon := sc.Duration.D()
	for ji, j := range sc.Jobs {
		for _, a := range j.Arrivals {
			switch {
			case a.Poisson != nil:
				p := a.Poisson
				until := p.Until.D()
				if until == 0 || until > horizon {
					until = horizon
				}
				mean := float64(time.Hour) / p.PerHour
				t := p.From.D()
				for {
					t += time.Duration(rng.ExpFloat64() * mean)
					if t >= until {
						break
					}
					out = append(out, arrival{Job: ji, At: t.Round(time.Millisecond)})
				}
			case a.Burst != nil:
				b := a.Burst
				for at := b.At.D(); at <= horizon; at += b.Every.D() {
					for range b.Count {
						off := time.Duration(0)
						if b.Spread > 0 {
							off = time.Duration(rng.Float64() * float64(b.Spread.D()))
						}
						out = append(out, arrival{Job: ji, At: (at + off).Round(time.Millisecond)})
					}
					if b.Every <= 0 {
						break
					}
				}
			default:
				for _, at := range a.Fixed {
					out = append(out, arrival{Job: ji, At: at.D()})
				}
			}
		}
	}
	// Stable: simultaneous arrivals keep the job order of the file.
	// sort.SliceStable, not slices.SortStableFunc (compiled again for each
	// struct type): binary size.
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}

// fullLife is how long run i of the fleet lasts, from StartJobRun to its
// end, when it starts with all its workers: its job's startup and the
// code duration the region draws for the run (the engine names every run
// to the region: sim.RunIDArgument). def is the region's scenario with its
// defaults filled in.
func fullLife(def *sim.Scenario, job string, i int) time.Duration {
	for _, j := range def.Jobs {
		if j.Name == job {
			return j.Startup.D() + j.CodeDuration(sim.RunJitter(def.Seed, j.Name, runID(i))).Round(time.Millisecond)
		}
	}
	return 0
}

// percentile is the p-th percentile (0..1) of sorted values, by the
// nearest-rank method; NaN for no values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	k := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}
