package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/errgroup"
)

// ThrottleCase is one row of the throttling table: a variant with a retry
// setting, measured over Reps decisions while the region throttles.
type ThrottleCase struct {
	Variant      Variant
	RetryMode    aws.RetryMode
	MaxAttempts  int
	FreshClients bool
	Reps         int
}

func (c ThrottleCase) clientText() string {
	if c.FreshClients {
		return "new per decision"
	}
	return "shared by the series"
}

// ThrottleResult is a case and what it measured.
type ThrottleResult struct {
	Case   ThrottleCase
	Series Series
}

// DefaultThrottleCases are the cases of docs/benchmarks.md: the SDK's
// default retry setting (standard mode, 3 attempts) against more attempts
// and the adaptive mode, for the post's way and for gluenet, cold with new
// clients per decision (one gluenet process per run) and with clients
// shared by the series (a long-running executor, whose SDK retry quota and
// adaptive rate carry over from one decision to the next), and warm.
// reps is the number of decisions per case; the baseline gets
// half of it (at least 5), because its 2N sequential calls each risk a
// backoff of a second or more.
func DefaultThrottleCases(reps int) []ThrottleCase {
	baseReps := max(reps/2, 5)
	std, adaptive := aws.RetryModeStandard, aws.RetryModeAdaptive
	return []ThrottleCase{
		{Variant: Baseline, RetryMode: std, MaxAttempts: 3, FreshClients: true, Reps: baseReps},
		{Variant: Baseline, RetryMode: std, MaxAttempts: 5, FreshClients: true, Reps: baseReps},
		{Variant: GluenetCold, RetryMode: std, MaxAttempts: 3, FreshClients: true, Reps: reps},
		{Variant: GluenetCold, RetryMode: std, MaxAttempts: 5, FreshClients: true, Reps: reps},
		{Variant: GluenetCold, RetryMode: adaptive, MaxAttempts: 3, FreshClients: true, Reps: reps},
		{Variant: GluenetCold, RetryMode: adaptive, MaxAttempts: 5, FreshClients: true, Reps: reps},
		{Variant: GluenetCold, RetryMode: std, MaxAttempts: 5, Reps: reps},
		{Variant: GluenetCold, RetryMode: adaptive, MaxAttempts: 5, Reps: reps},
		{Variant: GluenetWarm, RetryMode: std, MaxAttempts: 3, Reps: reps},
		{Variant: GluenetWarm, RetryMode: std, MaxAttempts: 5, Reps: reps},
	}
}

// RunThrottle measures each case against its own region with n
// connections, the given per-call latency and share of throttled calls.
// Every region is built from the same scenario and seed. The SDK's backoff
// sleeps on the wall clock (it cannot be injected through aws.Config), so
// a decision takes seconds; the cases therefore run concurrently, which
// hardly disturbs them since they spend nearly all their time asleep, and
// the table takes as long as its slowest case. progress, when not nil, is
// called (from one goroutine at a time) as each case ends. The results
// come back in the order of cases.
func RunThrottle(ctx context.Context, n int, latency time.Duration, rate float64, cases []ThrottleCase, progress func(ThrottleResult)) ([]ThrottleResult, error) {
	out := make([]ThrottleResult, len(cases))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	for i, c := range cases {
		g.Go(func() error {
			s, err := runThrottleCase(ctx, n, latency, rate, c)
			if err != nil {
				return fmt.Errorf("throttle case %s %s/%d: %w", c.Variant.Name, c.RetryMode, c.MaxAttempts, err)
			}
			out[i] = ThrottleResult{Case: c, Series: s}
			if progress != nil {
				mu.Lock()
				progress(out[i])
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func runThrottleCase(ctx context.Context, n int, latency time.Duration, rate float64, c ThrottleCase) (Series, error) {
	// Throttling starts once the variant is prepared, so that a warm
	// variant primes its cache unthrottled: the table is about the
	// decisions that follow.
	e, err := NewEnv(ctx, Setup{N: n, Latency: latency,
		RetryMode: c.RetryMode, MaxAttempts: c.MaxAttempts, FreshClients: c.FreshClients})
	if err != nil {
		return Series{}, err
	}
	e.Setup.Throttle = rate
	v := c.Variant
	prepare := v.Prepare
	v.Prepare = func(ctx context.Context, e *Env) (DecideFunc, error) {
		d, err := prepare(ctx, e)
		if err != nil {
			return nil, err
		}
		if err := e.Region.SetThrottle("*", rate); err != nil {
			return nil, fmt.Errorf("set throttle: %w", err)
		}
		return d, nil
	}
	return Run(ctx, e, v, c.Reps)
}
