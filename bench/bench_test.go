package bench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// benchNs are the connection counts of issue 7.
var benchNs = []int{2, 10, 50, 200}

// BenchmarkDecisionCPU is the pure cost of one decision, with no injected
// latency: the SDK clients, the in-process transport and the simulated
// region's own handling of the calls, all in this process. Run with
// -benchmem for allocs/op. cpu-ns/op is the process's CPU time per
// decision, which a busy machine inflates less than ns/op.
func BenchmarkDecisionCPU(b *testing.B) {
	for _, n := range benchNs {
		for _, v := range Variants {
			b.Run(fmt.Sprintf("N=%d/%s", n, v.Name), func(b *testing.B) {
				benchDecisions(b, Setup{N: n}, v)
			})
		}
	}
}

// BenchmarkDecisionLatency is one decision against a region that adds
// 20 ms to every call. Besides ns/op (the mean), it reports the median and
// the p95 in milliseconds and the API calls per decision. The baseline at
// N = 200 takes 400 round trips, about 8 s, so the default -benchtime
// runs it once.
func BenchmarkDecisionLatency(b *testing.B) {
	for _, n := range benchNs {
		for _, v := range Variants {
			b.Run(fmt.Sprintf("N=%d/%s", n, v.Name), func(b *testing.B) {
				benchDecisions(b, Setup{N: n, Latency: 20 * time.Millisecond}, v)
			})
		}
	}
}

func benchDecisions(b *testing.B, s Setup, v Variant) {
	ctx := context.Background()
	e, err := NewEnv(ctx, s)
	if err != nil {
		b.Fatal(err)
	}
	decide, err := v.Prepare(ctx, e)
	if err != nil {
		b.Fatal(err)
	}
	var elapsed []time.Duration
	if s.Latency > 0 {
		elapsed = make([]time.Duration, 0, b.N)
	}
	before := e.Region.Stats().TotalCalls()
	cpu0 := processCPU()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		cands, _, err := decide(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if s.Latency > 0 {
			elapsed = append(elapsed, time.Since(start))
		}
		if len(cands) != s.N || !cands[s.N-1].Checked {
			b.Fatalf("decision left candidates unchecked: %+v", cands[s.N-1])
		}
	}
	b.StopTimer()
	if cpu := processCPU() - cpu0; cpu > 0 {
		// Every goroutine of the process: the SDK clients, the simulated
		// region answering in-process, and the garbage collector.
		b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	}
	calls := e.Region.Stats().TotalCalls() - before
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
	if s.Latency > 0 {
		b.ReportMetric(float64(Percentile(elapsed, 50))/float64(time.Millisecond), "median-ms")
		b.ReportMetric(float64(Percentile(elapsed, 95))/float64(time.Millisecond), "p95-ms")
	}
}

// BenchmarkConnectionLookup compares the two ways a cold discovery can learn
// the subnets of `want` connections out of a catalog of 200 NETWORK
// connections (the largest generated scenario), 20 ms per call and none:
// "lookup", concurrent GetConnection calls (16 in flight), and "list",
// GetConnections pages of up to 1000 connections. Each decision ends with
// the same DescribeSubnets. docs/benchmarks.md has the figures and the
// choice they led to.
func BenchmarkConnectionLookup(b *testing.B) {
	for _, lat := range []time.Duration{20 * time.Millisecond, 0} {
		for _, want := range []int{2, 10, 16, 17, 50, 200} {
			for _, mode := range []string{"lookup", "list"} {
				b.Run(fmt.Sprintf("latency=%v/want=%d/%s", lat, want, mode), func(b *testing.B) {
					ctx := context.Background()
					e, err := NewEnv(ctx, Setup{N: MaxConnections, Latency: lat})
					if err != nil {
						b.Fatal(err)
					}
					c := newClient(e)
					c.ListAbove = -1 // never list
					if mode == "list" {
						c.ListAbove = 1 // list whenever more than one is wanted
					}
					names := e.Names[:want]
					var elapsed []time.Duration
					before := e.Region.Stats().TotalCalls()
					cpu0 := processCPU()
					b.ResetTimer()
					for b.Loop() {
						start := time.Now()
						cands, _, err := c.Discover(ctx, names)
						if err != nil {
							b.Fatal(err)
						}
						elapsed = append(elapsed, time.Since(start))
						if !cands[0].Checked {
							b.Fatalf("candidate 0 unchecked: %+v", cands[0])
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
					b.ReportMetric(float64(e.Region.Stats().TotalCalls()-before)/float64(b.N), "calls/op")
					b.ReportMetric(float64(Percentile(elapsed, 0.5))/1e6, "median-ms")
				})
			}
		}
	}
}
