package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/gluenet/gluenet/sim"
)

func TestNewScenario(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2, 10, 50, MaxConnections} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			t.Parallel()
			sc, err := NewScenario(n)
			if err != nil {
				t.Fatalf("NewScenario(%d): %v", n, err)
			}
			if len(sc.Subnets) != n || len(sc.Connections) != n {
				t.Fatalf("got %d subnets and %d connections, want %d of each", len(sc.Subnets), len(sc.Connections), n)
			}
			azs := map[string]int{}
			for _, s := range sc.Subnets {
				azs[s.AZ]++
			}
			if want := min(n, len(zones)); len(azs) != want {
				t.Errorf("subnets span %d AZs (%v), want %d", len(azs), azs, want)
			}
			for i, c := range sc.Connections {
				if c.Name != ConnectionName(i) || c.Subnet != SubnetID(i) {
					t.Errorf("connection %d = %s → %s, want %s → %s", i, c.Name, c.Subnet, ConnectionName(i), SubnetID(i))
				}
			}
		})
	}
	for _, n := range []int{0, -1, MaxConnections + 1} {
		if _, err := NewScenario(n); err == nil {
			t.Errorf("NewScenario(%d) succeeded, want an error", n)
		}
	}
}

// TestCallCounts checks what issue 7 measures: the baseline makes 2N calls
// per decision, gluenet cold N+1 (2 above 16 connections: a GetConnections
// page and DescribeSubnets) and warm 1, as the region counts them and as
// the decisions report them, and all three learn the same free IPs.
func TestCallCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, n := range []int{2, 10, 50} {
		for _, v := range Variants {
			t.Run(fmt.Sprintf("N=%d/%s", n, v.Name), func(t *testing.T) {
				t.Parallel()
				e, err := NewEnv(ctx, Setup{N: n})
				if err != nil {
					t.Fatal(err)
				}
				const reps = 3
				s, err := Run(ctx, e, v, reps)
				if err != nil {
					t.Fatal(err)
				}
				want := ExpectedCalls(v.Name, n)
				for i, d := range s.Decisions {
					if d.Calls != want || d.Reported != want {
						t.Errorf("decision %d: region counted %d calls, decision reported %d, want %d", i, d.Calls, d.Reported, want)
					}
					if d.Checked != n || d.Throttled != 0 {
						t.Errorf("decision %d: %d checked, %d throttled, want %d and 0", i, d.Checked, d.Throttled, n)
					}
				}
				if s.Complete() != reps {
					t.Errorf("Complete() = %d, want %d", s.Complete(), reps)
				}
				for i, c := range s.Candidates {
					wantFree := 251 - BackgroundENIs(i)
					if c.Connection != ConnectionName(i) || c.SubnetID != SubnetID(i) || c.AZ != zones[i%len(zones)] || c.FreeIPs != wantFree {
						t.Errorf("candidate %d = %+v, want %s in %s (%s) with %d free IPs",
							i, c, ConnectionName(i), SubnetID(i), zones[i%len(zones)], wantFree)
					}
				}
			})
		}
	}
}

// TestCallsPerOperation checks which operations make up the counts: the
// baseline asks DescribeSubnets once per connection, gluenet once in all.
func TestCallsPerOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 10
	tests := []struct {
		variant                    Variant
		getConnection, descSubnets int
	}{
		{Baseline, n, n},
		{GluenetCold, n, 1},
		{GluenetWarm, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.variant.Name, func(t *testing.T) {
			t.Parallel()
			e, err := NewEnv(ctx, Setup{N: n})
			if err != nil {
				t.Fatal(err)
			}
			decide, err := tt.variant.Prepare(ctx, e)
			if err != nil {
				t.Fatal(err)
			}
			e.Region.ResetStats()
			if _, _, err := decide(ctx); err != nil {
				t.Fatal(err)
			}
			st := e.Region.Stats()
			if got := st.Calls("glue", "GetConnection"); got != tt.getConnection {
				t.Errorf("GetConnection calls = %d, want %d", got, tt.getConnection)
			}
			if got := st.Calls("ec2", "DescribeSubnets"); got != tt.descSubnets {
				t.Errorf("DescribeSubnets calls = %d, want %d", got, tt.descSubnets)
			}
		})
	}
}

// TestLatencyPerCall checks that the harness's latency reaches the region
// as one wait of the set length per API call, through the region's sleep
// (injected here, so nothing waits).
func TestLatencyPerCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, v := range Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var waits []time.Duration
			sleep := func(_ context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				if d > 0 {
					waits = append(waits, d)
				}
				return nil
			}
			const n = 10
			e, err := NewEnv(ctx, Setup{N: n, Latency: 20 * time.Millisecond, SimOptions: []sim.Option{sim.WithSleep(sleep)}})
			if err != nil {
				t.Fatal(err)
			}
			s, err := Run(ctx, e, v, 1)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			total := e.Region.Stats().TotalCalls() // priming calls of the warm variant included
			if len(waits) != total {
				t.Errorf("%d waits for %d calls, want one per call", len(waits), total)
			}
			for _, d := range waits {
				if d != 20*time.Millisecond {
					t.Errorf("a call waited %v, want 20ms", d)
				}
			}
			if s.Decisions[0].Calls != ExpectedCalls(v.Name, n) {
				t.Errorf("decision made %d calls, want %d", s.Decisions[0].Calls, ExpectedCalls(v.Name, n))
			}
		})
	}
}

// TestThrottledDecisions checks the accounting of the throttling table:
// with every call throttled and no retries, no decision is complete, every
// candidate is unchecked, and the throttled calls are counted.
func TestThrottledDecisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n, reps = 4, 2
	cases := []ThrottleCase{
		{Variant: Baseline, RetryMode: aws.RetryModeStandard, MaxAttempts: 1, FreshClients: true, Reps: reps},
		{Variant: GluenetCold, RetryMode: aws.RetryModeStandard, MaxAttempts: 1, FreshClients: true, Reps: reps},
		{Variant: GluenetWarm, RetryMode: aws.RetryModeStandard, MaxAttempts: 1, Reps: reps},
	}
	results, err := RunThrottle(ctx, n, 0, 1, cases, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every GetConnection fails, so neither the baseline nor a cold
	// discovery has a subnet to describe; the warm one knows the subnets
	// and loses its one DescribeSubnets.
	wantCalls := map[string]int{Baseline.Name: n, GluenetCold.Name: n, GluenetWarm.Name: 1}
	for _, r := range results {
		s := r.Series
		if len(s.Decisions) != reps {
			t.Fatalf("%s: %d decisions, want %d", s.Variant, len(s.Decisions), reps)
		}
		if s.Complete() != 0 || s.Unchecked() != n {
			t.Errorf("%s: %d complete, %.1f unchecked per decision, want 0 and %d", s.Variant, s.Complete(), s.Unchecked(), n)
		}
		if w := float64(wantCalls[s.Variant]); s.CallsPerDecision() != w || s.ThrottledPerDecision() != w {
			t.Errorf("%s: %.1f calls and %.1f throttled per decision, want %v of each",
				s.Variant, s.CallsPerDecision(), s.ThrottledPerDecision(), w)
		}
		if s.Setup.Throttle != 1 || s.Setup.MaxAttempts != 1 {
			t.Errorf("%s: setup %+v, want throttle 1 and 1 attempt", s.Variant, s.Setup)
		}
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, err := NewEnv(ctx, Setup{N: 2, FreshClients: true})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		variant Variant
		reps    int
		want    string
	}{
		{"no decisions", GluenetCold, 0, "no decisions"},
		{"warm with fresh clients", GluenetWarm, 1, "warm cache"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(ctx, e, tt.variant, tt.reps)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	twenty := ms(20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
	tests := []struct {
		name string
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 95, 7 * time.Millisecond},
		{"median of odd", ms(3, 1, 2), 50, 2 * time.Millisecond},
		{"median of even is the lower", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p95 of 20 is the 19th", twenty, 95, 19 * time.Millisecond},
		{"p95 of 5 is the largest", ms(5, 1, 4, 2, 3), 95, 5 * time.Millisecond},
		{"p100", ms(5, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Percentile(tt.ds, tt.p); got != tt.want {
				t.Errorf("Percentile(%v, %v) = %v, want %v", tt.ds, tt.p, got, tt.want)
			}
		})
	}
}

func TestRoundTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		variant string
		n, want int
	}{
		{Baseline.Name, 10, 20},
		{Baseline.Name, 200, 400},
		{GluenetCold.Name, 2, 2},
		{GluenetCold.Name, 16, 2},
		{GluenetCold.Name, 17, 2},
		{GluenetCold.Name, 50, 2},
		{GluenetCold.Name, 200, 2},
		{GluenetWarm.Name, 200, 1},
		{"unknown", 10, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/N=%d", tt.variant, tt.n), func(t *testing.T) {
			t.Parallel()
			if got := RoundTrips(tt.variant, tt.n); got != tt.want {
				t.Errorf("RoundTrips(%s, %d) = %d, want %d", tt.variant, tt.n, got, tt.want)
			}
		})
	}
}

func TestTables(t *testing.T) {
	t.Parallel()
	series := func(v string, n int, elapsed ...time.Duration) Series {
		s := Series{Variant: v, Setup: Setup{N: n, Latency: 20 * time.Millisecond, RetryMode: aws.RetryModeStandard, MaxAttempts: 3}}
		for i, d := range elapsed {
			checked := n
			if i == 0 {
				checked = n - 1
			}
			s.Decisions = append(s.Decisions, Decision{Elapsed: d, Calls: ExpectedCalls(v, n), Reported: ExpectedCalls(v, n), Checked: checked})
		}
		return s
	}
	all := []Series{
		series(Baseline.Name, 10, 400*time.Millisecond, 410*time.Millisecond),
		series(GluenetCold.Name, 10, 40*time.Millisecond, 50*time.Millisecond),
		series(GluenetWarm.Name, 10, 20*time.Millisecond, 20*time.Millisecond),
	}
	tests := []struct {
		name  string
		write func(*strings.Builder) error
		want  []string
	}{
		{"latency", func(b *strings.Builder) error { return WriteLatencyTable(b, all) }, []string{
			"| 10 | baseline | 2 | 400 ms | 410 ms | 20 × 20ms = 400 ms | 20 | 20 |",
			"| 10 | gluenet-cold | 2 | 40.0 ms | 50.0 ms | 2 × 20ms = 40.0 ms | 11 | 11 |",
		}},
		{"ratio", func(b *strings.Builder) error { return WriteRatioTable(b, all) }, []string{
			"| 10 | 400 ms | 40.0 ms | 10.0× | 20.0 ms | 20.0× |",
		}},
		{"throttle", func(b *strings.Builder) error {
			return WriteThrottleTable(b, []ThrottleResult{{Case: ThrottleCase{FreshClients: true}, Series: all[1]}},
				map[string]time.Duration{GluenetCold.Name: 30 * time.Millisecond})
		}, []string{
			"| gluenet-cold | standard | 3 | new per decision | 2 | 1 (50%) | 40.0 ms | 50.0 ms | +10.0 ms | 11 | 0 | 0.50 |",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b strings.Builder
			if err := tt.write(&b); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("table lacks row\n%s\ngot:\n%s", w, b.String())
				}
			}
		})
	}
}
