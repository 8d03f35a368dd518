package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method: the smallest value that at least p% of the values
// do not exceed. With 20 values the 95th is the 19th smallest; with 5 it is
// the largest. It returns 0 for no values.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// p*n before the division keeps 95% of 20 at exactly 19.
	rank := int(math.Ceil(p * float64(len(s)) / 100))
	rank = min(max(rank, 1), len(s))
	return s[rank-1]
}

// Latencies returns the wall time of each decision.
func (s Series) Latencies() []time.Duration {
	out := make([]time.Duration, len(s.Decisions))
	for i, d := range s.Decisions {
		out[i] = d.Elapsed
	}
	return out
}

// Median is the 50th percentile of the decisions' latency (nearest rank).
func (s Series) Median() time.Duration { return Percentile(s.Latencies(), 50) }

// P95 is the 95th percentile of the decisions' latency (nearest rank).
func (s Series) P95() time.Duration { return Percentile(s.Latencies(), 95) }

// CallsPerDecision is the mean number of API calls per decision, as the
// region counted them (retries included).
func (s Series) CallsPerDecision() float64 {
	return s.mean(func(d Decision) int { return d.Calls })
}

// ReportedPerDecision is the mean number of calls the decisions counted
// themselves (DiscoverStats.Calls for gluenet).
func (s Series) ReportedPerDecision() float64 {
	return s.mean(func(d Decision) int { return d.Reported })
}

// ThrottledPerDecision is the mean number of throttled calls per decision.
func (s Series) ThrottledPerDecision() float64 {
	return s.mean(func(d Decision) int { return d.Throttled })
}

// Complete counts the decisions that learned the free IPs of all N
// candidates: under throttling, a decision whose calls ran out of retries
// leaves some unchecked, and ranks them last.
func (s Series) Complete() int {
	n := 0
	for _, d := range s.Decisions {
		if d.Checked == s.Setup.N {
			n++
		}
	}
	return n
}

// Unchecked is the mean number of unchecked candidates per decision.
func (s Series) Unchecked() float64 {
	return s.mean(func(d Decision) int { return s.Setup.N - d.Checked })
}

func (s Series) mean(f func(Decision) int) float64 {
	if len(s.Decisions) == 0 {
		return 0
	}
	sum := 0
	for _, d := range s.Decisions {
		sum += f(d)
	}
	return float64(sum) / float64(len(s.Decisions))
}
