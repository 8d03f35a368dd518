// Command benchtables measures gluenet's decision latency and API calls
// against the in-process simulated region, next to the AWS post's way of
// discovering subnets, and prints the tables of docs/benchmarks.md as
// Markdown on stdout (progress goes to stderr). scripts/bench.sh runs it.
//
//	go run ./bench/cmd/benchtables                  # every table
//	go run ./bench/cmd/benchtables -sections latency -reps 5
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gluenet/gluenet/bench"
)

type flags struct {
	sections      []string
	ns            []int
	latency       time.Duration
	reps          int
	slowReps      int
	slowAbove     time.Duration
	throttleN     int
	throttleRate  float64
	throttleReps  int
	throttleRefRs int
	scenarioYAML  int
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtables:", err)
		os.Exit(2)
	}
	if f.scenarioYAML > 0 {
		// For scripts/bench.sh: the same generated region, served by
		// `gluenet sim serve --scenario`, for whole-process measurements.
		os.Stdout.Write(bench.ScenarioYAML(f.scenarioYAML))
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, f, os.Stdout, log); err != nil {
		fmt.Fprintln(os.Stderr, "benchtables:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("benchtables", flag.ContinueOnError)
	sections := fs.String("sections", "latency,throttle", "tables to measure: latency, throttle")
	ns := fs.String("n", "2,10,50,200", "connection counts for the latency tables")
	fs.DurationVar(&f.latency, "latency", 20*time.Millisecond, "latency the region adds to every API call")
	fs.IntVar(&f.reps, "reps", 20, "decisions per variant and N")
	fs.IntVar(&f.slowReps, "slow-reps", 5, "decisions for a series whose expected time exceeds -slow-above")
	fs.DurationVar(&f.slowAbove, "slow-above", 60*time.Second, "expected series time above which -slow-reps applies")
	fs.IntVar(&f.throttleN, "throttle-n", 10, "connections in the throttling table")
	fs.Float64Var(&f.throttleRate, "throttle-rate", 0.3, "share of calls the region throttles")
	fs.IntVar(&f.throttleReps, "throttle-reps", 50, "decisions per throttling case (the baseline gets half)")
	fs.IntVar(&f.throttleRefRs, "throttle-ref-reps", 20, "unthrottled decisions measured as the throttling table's reference")
	fs.IntVar(&f.scenarioYAML, "scenario-yaml", 0, "print the generated scenario with this many connections as YAML and exit")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if f.scenarioYAML != 0 && (f.scenarioYAML < 1 || f.scenarioYAML > bench.MaxConnections) {
		return f, fmt.Errorf("-scenario-yaml %d: want a connection count between 1 and %d", f.scenarioYAML, bench.MaxConnections)
	}
	for _, s := range strings.Split(*sections, ",") {
		s = strings.TrimSpace(s)
		if s != "latency" && s != "throttle" {
			return f, fmt.Errorf("-sections: unknown section %q (use latency, throttle)", s)
		}
		f.sections = append(f.sections, s)
	}
	for _, s := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > bench.MaxConnections {
			return f, fmt.Errorf("-n: %q is not a connection count between 1 and %d", s, bench.MaxConnections)
		}
		f.ns = append(f.ns, n)
	}
	if f.reps < 1 || f.slowReps < 1 || f.throttleReps < 1 || f.throttleRefRs < 1 {
		return f, fmt.Errorf("repetitions must be at least 1")
	}
	if f.throttleRate < 0 || f.throttleRate > 1 {
		return f, fmt.Errorf("-throttle-rate %v: want a share between 0 and 1", f.throttleRate)
	}
	return f, nil
}

func run(ctx context.Context, f flags, w io.Writer, log *slog.Logger) error {
	if slices.Contains(f.sections, "latency") {
		if err := latencyTables(ctx, f, w, log); err != nil {
			return err
		}
	}
	if slices.Contains(f.sections, "throttle") {
		if err := throttleTable(ctx, f, w, log); err != nil {
			return err
		}
	}
	return nil
}

func latencyTables(ctx context.Context, f flags, w io.Writer, log *slog.Logger) error {
	var all []bench.Series
	for _, n := range f.ns {
		for _, v := range bench.Variants {
			reps := f.reps
			// The baseline at N = 200 takes 400 round trips a decision:
			// a few decisions give its median without minutes of waiting.
			if expected := time.Duration(reps*bench.RoundTrips(v.Name, n)) * f.latency; expected > f.slowAbove {
				reps = f.slowReps
			}
			e, err := bench.NewEnv(ctx, bench.Setup{N: n, Latency: f.latency})
			if err != nil {
				return err
			}
			s, err := bench.Run(ctx, e, v, reps)
			if err != nil {
				return err
			}
			log.Info("measured", "n", n, "variant", v.Name, "decisions", reps, "median", s.Median(), "p95", s.P95(),
				"calls", s.CallsPerDecision())
			all = append(all, s)
		}
	}
	fmt.Fprintf(w, "### Decision latency and API calls, %s per call\n\n", f.latency)
	if err := bench.WriteLatencyTable(w, all); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n### Baseline / gluenet, median decision latency, %s per call\n\n", f.latency)
	if err := bench.WriteRatioTable(w, all); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}

func throttleTable(ctx context.Context, f flags, w io.Writer, log *slog.Logger) error {
	// The unthrottled reference, measured in the same run, gives the
	// latency that throttling adds.
	ref := map[string]time.Duration{}
	for _, v := range bench.Variants {
		e, err := bench.NewEnv(ctx, bench.Setup{N: f.throttleN, Latency: f.latency})
		if err != nil {
			return err
		}
		s, err := bench.Run(ctx, e, v, f.throttleRefRs)
		if err != nil {
			return err
		}
		ref[v.Name] = s.Median()
		log.Info("reference", "variant", v.Name, "median", s.Median())
	}
	results, err := bench.RunThrottle(ctx, f.throttleN, f.latency, f.throttleRate, bench.DefaultThrottleCases(f.throttleReps),
		func(r bench.ThrottleResult) {
			s := r.Series
			log.Info("throttled", "variant", s.Variant, "mode", s.Setup.RetryMode, "attempts", s.Setup.MaxAttempts,
				"fresh", s.Setup.FreshClients, "complete", s.Complete(), "of", len(s.Decisions), "median", s.Median(), "p95", s.P95())
		})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### Throttling: %.0f%% of calls throttled, N = %d, %s per call\n\n", 100*f.throttleRate, f.throttleN, f.latency)
	fmt.Fprintf(w, "Unthrottled medians (reference, %d decisions each):", f.throttleRefRs)
	for _, v := range bench.Variants {
		fmt.Fprintf(w, " %s %.1f ms;", v.Name, float64(ref[v.Name])/float64(time.Millisecond))
	}
	fmt.Fprint(w, "\n\n")
	if err := bench.WriteThrottleTable(w, results, ref); err != nil {
		return err
	}
	fmt.Fprintln(w)
	return nil
}
