package lab

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gluenet/gluenet/sim"
)

// scaled is the ip-pressure scenario with arrivals going on long enough
// for about n runs, at the same load: the fleet grows, the concurrency
// does not.
func scaled(tb testing.TB, n int) *Scenario {
	tb.Helper()
	sc, err := Load("ip-pressure")
	if err != nil {
		tb.Fatal(err)
	}
	perHour := 0.0
	for _, j := range sc.Jobs {
		for _, a := range j.Arrivals {
			perHour += a.Poisson.PerHour
		}
	}
	sc.Duration = sim.Duration(time.Duration(float64(n) / perHour * float64(time.Hour)))
	return sc
}

// BenchmarkLabFleet simulates fleets of about 1k, 10k and 100k runs with
// gluenet's capacity strategy (health memory and reservations), direct
// model calls, no bound, and reports runs per second: how the lab's speed
// grows with the fleet.
//
//	go test ./lab -run '^$' -bench BenchmarkLabFleet -benchtime 1x
func BenchmarkLabFleet(b *testing.B) {
	v := mustVariant(b, "gluenet-capacity")
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			sc := scaled(b, n)
			runs, calls := 0, 0
			var simulated time.Duration
			for b.Loop() {
				s, err := Simulate(context.Background(), sc, v, sc.Seed, false)
				if err != nil {
					b.Fatal(err)
				}
				runs, calls, simulated = len(s.Outcomes), s.APICalls, s.End
			}
			b.ReportMetric(float64(runs), "runs/op")
			b.ReportMetric(float64(runs)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
			b.ReportMetric(float64(calls), "calls/op")
			b.ReportMetric(simulated.Hours(), "sim-hours/op")
		})
	}
}

// BenchmarkBound computes the upper bound of one seed of ip-pressure
// stretched to about 250, 1k, 2k and 10k runs, against gluenet-weighted with
// its default 10-minute admission wait (every run gets a 10-minute start
// window), and reports the bound's share of runs: what the bound costs,
// both relaxations included.
//
//	go test ./lab -run '^$' -bench BenchmarkBound -benchtime 1x
func BenchmarkBound(b *testing.B) {
	v := mustVariant(b, "gluenet-weighted")
	for _, n := range []int{250, 1_000, 2_000, 10_000} {
		b.Run(fmt.Sprintf("runs=%d", n), func(b *testing.B) {
			sc := scaled(b, n)
			s, err := Simulate(context.Background(), sc, v, sc.Seed, false)
			if err != nil {
				b.Fatal(err)
			}
			var res BoundResult
			for b.Loop() {
				if res, err = Bound(sc, sc.Seed, []*Simulation{s}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Runs), "runs/op")
			b.ReportMetric(res.Rate, "bound-rate")
			b.ReportMetric(float64(s.Metrics.FullCount)/float64(res.Count), "of-bound")
		})
	}
}
