package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/gluenet/gluenet"
	"github.com/gluenet/gluenet/awsclient"
	"github.com/gluenet/gluenet/sim"
)

// Setup says what region a measurement runs against and how the SDK
// retries.
type Setup struct {
	// N is the number of connections (and subnets) of the scenario.
	N int
	// Latency is added by the region to every API call, waited through
	// the region's sleep (the wall clock unless SimOptions say otherwise).
	Latency time.Duration
	// Throttle is the share of calls the region refuses with its
	// throttling error, in [0, 1].
	Throttle float64
	// RetryMode and MaxAttempts go to awsclient.Options. Left empty or
	// zero they are set to the SDK's defaults (standard, 3) explicitly, so
	// that AWS_RETRY_MODE or AWS_MAX_ATTEMPTS in the environment cannot
	// change a measurement.
	RetryMode   aws.RetryMode
	MaxAttempts int
	// FreshClients gives every decision a new aws.Config and new SDK
	// clients, built before its timing starts, as when each decision is a
	// new gluenet process: the SDK's retry quota and adaptive rate start
	// afresh. Otherwise one configuration serves the whole series, as in a
	// long-running executor. Warm variants need the shared one.
	FreshClients bool
	// SimOptions are passed to sim.New after the harness's own (a manual
	// clock, so the model never moves on its own).
	SimOptions []sim.Option
}

// Env is one simulated region and the SDK configuration that reaches it.
type Env struct {
	Setup  Setup
	Region *sim.Region
	// Names are the connections a decision is asked about.
	Names []string
	// Config is what awsclient.LoadConfig built; the baseline's and
	// gluenet's clients both come from it, so they share the SDK stack.
	Config aws.Config
}

// NewEnv builds a region for s and the SDK configuration that reaches it
// in-process.
func NewEnv(ctx context.Context, s Setup) (*Env, error) {
	sc, err := NewScenario(s.N)
	if err != nil {
		return nil, err
	}
	// The model's clock is frozen: discovery reads state, it does not wait
	// for runs, and a frozen clock keeps every decision's answer the same.
	clock := sim.NewManualClock(time.Date(2024, 6, 11, 9, 0, 0, 0, time.UTC))
	r, err := sim.New(sc, append([]sim.Option{sim.WithClock(clock)}, s.SimOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("bench env: %w", err)
	}
	if s.Latency > 0 {
		if err := r.SetLatency("*", s.Latency); err != nil {
			return nil, fmt.Errorf("bench env: %w", err)
		}
	}
	if s.Throttle > 0 {
		if err := r.SetThrottle("*", s.Throttle); err != nil {
			return nil, fmt.Errorf("bench env: %w", err)
		}
	}
	if s.RetryMode == "" {
		s.RetryMode = aws.RetryModeStandard
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = 3
	}
	e := &Env{Setup: s, Region: r, Names: ConnectionNames(s.N)}
	if e.Config, err = e.loadConfig(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// loadConfig builds an SDK configuration that reaches the region
// in-process, with fresh retry state (retry quota, adaptive rate).
func (e *Env) loadConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsclient.LoadConfig(ctx, awsclient.Options{
		Region:       "us-east-1",
		HTTPClient:   e.Region.HTTPClient(),
		BaseEndpoint: sim.InProcessEndpoint,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench-secret", ""),
		RetryMode:    e.Setup.RetryMode,
		MaxAttempts:  e.Setup.MaxAttempts,
	})
	if err != nil {
		return aws.Config{}, fmt.Errorf("bench env: %w", err)
	}
	return cfg, nil
}

// DecideFunc makes one decision's discovery and returns the candidates
// and the API calls it says it made (DiscoverStats for gluenet, its own
// count for the baseline), to cross-check against the region's count.
type DecideFunc func(ctx context.Context) ([]gluenet.Candidate, int, error)

// Variant is one way of deciding.
type Variant struct {
	// Name appears in the tables: baseline, gluenet-cold, gluenet-warm.
	Name string
	// Prepare returns the decision function of one series. Warm variants
	// fill their cache there, so the priming call is not measured.
	Prepare func(ctx context.Context, e *Env) (DecideFunc, error)
}

// Variants are the three ways of deciding, in table order.
var Variants = []Variant{Baseline, GluenetCold, GluenetWarm}

// Baseline discovers the way the AWS post does: for each connection, one
// after another, GetConnection then DescribeSubnets(SubnetIds=[id]), with
// the SDK clients built from the same aws.Config as gluenet's. Like the
// post, a connection whose lookup fails is logged and left unchecked.
var Baseline = Variant{Name: "baseline", Prepare: func(_ context.Context, e *Env) (DecideFunc, error) {
	b := &baseline{glue: glue.NewFromConfig(e.Config), ec2: ec2.NewFromConfig(e.Config), names: e.Names}
	return b.decide, nil
}}

// GluenetCold is awsclient.Client.Discover with a fresh, empty
// MemoryCache for every decision: N GetConnection calls, at most
// awsclient.DefaultConcurrency at a time, then one DescribeSubnets.
var GluenetCold = Variant{Name: "gluenet-cold", Prepare: func(_ context.Context, e *Env) (DecideFunc, error) {
	base := newClient(e)
	return func(ctx context.Context) ([]gluenet.Candidate, int, error) {
		c := *base
		c.Cache = awsclient.NewMemoryCache(0, nil)
		cands, st, err := c.Discover(ctx, e.Names)
		return cands, st.Calls(), err
	}, nil
}}

// GluenetWarm is awsclient.Client.Discover with a MemoryCache filled by
// one discovery before the series: one DescribeSubnets per decision.
var GluenetWarm = Variant{Name: "gluenet-warm", Prepare: func(ctx context.Context, e *Env) (DecideFunc, error) {
	c := newClient(e)
	c.Cache = awsclient.NewMemoryCache(awsclient.DefaultCacheTTL, nil)
	if _, _, err := c.Discover(ctx, e.Names); err != nil {
		return nil, fmt.Errorf("prime the subnet cache: %w", err)
	}
	return func(ctx context.Context) ([]gluenet.Candidate, int, error) {
		cands, st, err := c.Discover(ctx, e.Names)
		return cands, st.Calls(), err
	}, nil
}}

// quiet discards the warnings about unchecked connections, which the
// throttling runs produce by the hundred; Series counts them instead.
var quiet = slog.New(slog.DiscardHandler)

func newClient(e *Env) *awsclient.Client {
	c := awsclient.New(e.Config)
	c.Logger = quiet
	return c
}

type baseline struct {
	glue  *glue.Client
	ec2   *ec2.Client
	names []string
}

func (b *baseline) decide(ctx context.Context) ([]gluenet.Candidate, int, error) {
	out := make([]gluenet.Candidate, len(b.names))
	calls := 0
	for i, name := range b.names {
		out[i] = gluenet.Candidate{Connection: name}
		calls++
		conn, err := b.glue.GetConnection(ctx, &glue.GetConnectionInput{Name: aws.String(name)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, calls, fmt.Errorf("baseline: %w", ctx.Err())
			}
			out[i].Problem = fmt.Sprintf("get connection %q: %v", name, err)
			continue
		}
		var subnetID string
		if pcr := conn.Connection.PhysicalConnectionRequirements; pcr != nil {
			subnetID = aws.ToString(pcr.SubnetId)
		}
		out[i].SubnetID = subnetID
		calls++
		subs, err := b.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{subnetID}})
		if err != nil {
			if ctx.Err() != nil {
				return nil, calls, fmt.Errorf("baseline: %w", ctx.Err())
			}
			out[i].Problem = fmt.Sprintf("describe subnet %s: %v", subnetID, err)
			continue
		}
		if len(subs.Subnets) != 1 || subs.Subnets[0].AvailableIpAddressCount == nil {
			out[i].Problem = fmt.Sprintf("describe subnet %s: no free IP count", subnetID)
			continue
		}
		out[i].AZ = aws.ToString(subs.Subnets[0].AvailabilityZone)
		out[i].FreeIPs = int(*subs.Subnets[0].AvailableIpAddressCount)
		out[i].Checked = true
	}
	return out, calls, nil
}

// Decision is what one measured decision cost.
type Decision struct {
	Elapsed time.Duration
	// Calls is the region's count of API calls the decision caused,
	// retries included; Reported is what the decision counted itself
	// (without the SDK's retries).
	Calls, Reported int
	// Throttled is the number of those calls the region throttled.
	Throttled int
	// Checked is the number of candidates whose free IPs are known.
	Checked int
}

// Series is a variant measured over several decisions.
type Series struct {
	Variant   string
	Setup     Setup
	Decisions []Decision
	// Candidates is what the last decision returned.
	Candidates []gluenet.Candidate
}

// errNoDecisions refuses a series of zero decisions. A decision that leaves
// candidates unchecked is not an error: it is a measured outcome (see
// Series.Complete).
var errNoDecisions = errors.New("no decisions")

// Run measures reps decisions of variant v in e, one after another, timing
// each on the wall clock and counting its calls with the region's Stats.
func Run(ctx context.Context, e *Env, v Variant, reps int) (Series, error) {
	if reps < 1 {
		return Series{}, fmt.Errorf("run %s: %w", v.Name, errNoDecisions)
	}
	if e.Setup.FreshClients && v.Name == GluenetWarm.Name {
		return Series{}, fmt.Errorf("run %s: a warm cache needs clients shared by the series", v.Name)
	}
	decide, err := v.Prepare(ctx, e)
	if err != nil {
		return Series{}, fmt.Errorf("run %s: %w", v.Name, err)
	}
	s := Series{Variant: v.Name, Setup: e.Setup, Decisions: make([]Decision, 0, reps)}
	for i := range reps {
		if e.Setup.FreshClients && i > 0 {
			if e.Config, err = e.loadConfig(ctx); err != nil {
				return s, fmt.Errorf("run %s: %w", v.Name, err)
			}
			if decide, err = v.Prepare(ctx, e); err != nil {
				return s, fmt.Errorf("run %s: %w", v.Name, err)
			}
		}
		before := e.Region.Stats()
		start := time.Now()
		cands, reported, err := decide(ctx)
		elapsed := time.Since(start)
		if err != nil {
			return s, fmt.Errorf("run %s: %w", v.Name, err)
		}
		after := e.Region.Stats()
		d := Decision{
			Elapsed:   elapsed,
			Calls:     after.TotalCalls() - before.TotalCalls(),
			Reported:  reported,
			Throttled: throttled(after) - throttled(before),
		}
		for _, c := range cands {
			if c.Checked {
				d.Checked++
			}
		}
		s.Decisions = append(s.Decisions, d)
		s.Candidates = cands
	}
	return s, nil
}

func throttled(st sim.Stats) int {
	n := 0
	for _, s := range st.Services {
		n += s.Throttled
	}
	return n
}
