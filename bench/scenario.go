// Package bench measures what one gluenet decision costs against the
// simulated region (issue 7): its latency, the API calls it makes and its
// CPU cost, for gluenet's discovery (awsclient.Client.Discover, cold and
// warm) and for a baseline that discovers the way the AWS post does, one
// GetConnection and one DescribeSubnets per connection, one after another.
//
// The baseline lives only here, as the yardstick. Everything runs
// in-process: a sim.Region built from a generated scenario with N subnets
// and N connections, reached by the real SDK clients through
// Region.HTTPClient, with the region's injected per-call latency standing
// in for the network. The Benchmark functions in this package and the
// benchtables command (bench/cmd/benchtables, run by scripts/bench.sh)
// print the figures kept in docs/benchmarks.md.
package bench

import (
	"fmt"
	"strings"

	"github.com/gluenet/gluenet/sim"
)

// zones are the Availability Zones the generated subnets spread over.
var zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// MaxConnections is the largest N a generated scenario holds: one /24 per
// subnet in a /16 VPC, and DescribeSubnets' 200 filter values per call.
const MaxConnections = 200

// JobName is the job of the generated scenario.
const JobName = "BenchJob"

// ConnectionName is the name of the i-th generated connection (from 0).
func ConnectionName(i int) string { return fmt.Sprintf("bench-conn-%03d", i) }

// SubnetID is the ID of the i-th generated subnet (from 0).
func SubnetID(i int) string { return fmt.Sprintf("subnet-0be%014x", i+1) }

// ConnectionNames returns the names of the n generated connections, in the
// order a caller passes them to a decision.
func ConnectionNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = ConnectionName(i)
	}
	return names
}

// BackgroundENIs is how many ENIs of other workloads the generated scenario
// puts in the i-th subnet, so that the subnets report different free IPs
// (251 minus this) and a ranking has something to order.
func BackgroundENIs(i int) int { return (i * 37) % 240 }

// ScenarioYAML writes the scenario of an n-connection benchmark as YAML:
// n /24 subnets spread round-robin over three AZs, n NETWORK connections,
// one per subnet, and a job. The YAML goes through sim.ParseScenario like a
// user's file would, so the benchmark exercises the same validation.
func ScenarioYAML(n int) []byte {
	var b strings.Builder
	b.WriteString("seed: 7\nregion: us-east-1\n")
	b.WriteString("vpc: {id: vpc-0be0000000000b001, cidr: 10.60.0.0/16, name: bench}\n")
	b.WriteString("subnets:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {id: %s, name: bench-%03d, cidr: 10.60.%d.0/24, az: %s}\n",
			SubnetID(i), i, i, zones[i%len(zones)])
	}
	b.WriteString("connections:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - {name: %s, subnet: %s}\n", ConnectionName(i), SubnetID(i))
	}
	fmt.Fprintf(&b, "jobs:\n  - name: %s\n    role: arn:aws:iam::123456789012:role/service-role/AWSGlueServiceRole-Bench\n", JobName)
	b.WriteString("    workers: 10\n    worker_type: G.1X\n    connections: []\n")
	b.WriteString("background:")
	if n == 1 { // subnet 0 has no background ENIs
		b.WriteString(" []")
	}
	b.WriteString("\n")
	for i := range n {
		if e := BackgroundENIs(i); e > 0 {
			fmt.Fprintf(&b, "  - {subnet: %s, enis: %d}\n", SubnetID(i), e)
		}
	}
	return []byte(b.String())
}

// NewScenario returns the parsed scenario of an n-connection benchmark,
// 1 <= n <= MaxConnections.
func NewScenario(n int) (*sim.Scenario, error) {
	if n < 1 || n > MaxConnections {
		return nil, fmt.Errorf("bench scenario: n must be between 1 and %d, got %d", MaxConnections, n)
	}
	sc, err := sim.ParseScenario(ScenarioYAML(n))
	if err != nil {
		return nil, fmt.Errorf("bench scenario with %d connections: %w", n, err)
	}
	return sc, nil
}
