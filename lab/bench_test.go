package lab

import (
	"context"
	"fmt"
	"os"
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

// BenchmarkLab10k simulates a fleet of about 10,000 runs with gluenet's
// capacity strategy (health memory and reservations), direct model calls,
// no bound.
func BenchmarkLab10k(b *testing.B) {
	sc := scaled(b, 10_000)
	v := mustVariant(b, "gluenet-capacity")
	runs := 0
	for b.Loop() {
		s, err := Simulate(context.Background(), sc, v, sc.Seed, false)
		if err != nil {
			b.Fatal(err)
		}
		runs = len(s.Outcomes)
	}
	b.ReportMetric(float64(runs), "runs/op")
	b.ReportMetric(float64(runs)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// TestLabSpeed prints how the simulation's speed grows with the fleet:
// GLUENET_LAB_SPEED=1 go test ./lab -run TestLabSpeed -v. It measures;
// it asserts nothing about time.
func TestLabSpeed(t *testing.T) {
	if os.Getenv("GLUENET_LAB_SPEED") == "" {
		t.Skip("set GLUENET_LAB_SPEED=1 to print the lab's speed for 1k, 10k and 100k runs")
	}
	v := mustVariant(t, "gluenet-capacity")
	fmt.Println("| fleet (runs) | simulated time | wall time | runs/s | API calls |")
	fmt.Println("|---|---|---|---|---|")
	for _, n := range []int{1_000, 10_000, 100_000} {
		sc := scaled(t, n)
		start := time.Now()
		s, err := Simulate(context.Background(), sc, v, sc.Seed, false)
		if err != nil {
			t.Fatal(err)
		}
		wall := time.Since(start)
		fmt.Printf("| %d | %.0f h | %.2f s | %.0f | %d |\n", len(s.Outcomes), s.End.Hours(), wall.Seconds(),
			float64(len(s.Outcomes))/wall.Seconds(), s.APICalls)
	}
}
