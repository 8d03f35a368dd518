package lab

import (
	"math"
	"time"
)

// The time-indexed bound.
//
// The interval bound (bound.go) charges a run only for its core, the time
// it holds IPs whatever its start in [a_i, a_i + D_i]. With admission
// waits of ten minutes the core of a 33-minute run is 23 minutes long: the
// oracle gets a third of every large run's IPs for free, and the bound
// says every run could have been full where no schedule comes close.
//
// This bound lets the oracle choose each run's start too. Time is cut
// into steps of boundStep; a run that starts in the step (g_{j−1}, g_j]
// holds its IPs at every grid instant in [g_j, g_{j−1} + hold), whatever
// its start within the step, so each start step is one option that
// charges exactly those instants. Capacity is required at the grid
// instants only (fewer constraints than "at every instant"), so every
// real schedule of the compared strategies is a solution of
//
//	maximize Σ x_io over the runs' options o = (subnet, start step)
//	subject to Σ_o x_io ≤ 1 for each run,
//	           Σ n_i x_io over the options holding subnet s at instant g ≤ C_s,
//	           x ≥ 0,
//
// and its optimum bounds theirs. Dualizing the capacity constraints with
// multipliers μ_sg ≥ 0 leaves, for each run alone, the choice of its best
// option or none:
//
//	L(μ) = Σ_sg C_s μ_sg + Σ_i max(0, max_o 1 − n_i Σ_{g held by o} μ_sg),
//
// an upper bound of the LP for every μ ≥ 0 (weak duality) and, because
// each run's choice is integral, the minimum over μ equals the LP
// optimum. Subgradient steps on μ approach it; every iterate is valid and
// the smallest is kept. Bound takes the smaller of this and the interval
// bound: both are valid, each is tighter where the other is loose (this
// one loses up to one step per run, the interval bound a whole window).

// boundStep is the grid of the time-indexed bound.
const boundStep = 30 * time.Second

// brun is one run as the time-indexed bound sees it.
type brun struct {
	at   time.Duration // arrival
	wait time.Duration // D_i: the latest start is at + wait
	hold time.Duration // IPs held from the start at least this long
	n    int
	// ok reports whether a run that starts in [from, to] can succeed in
	// subnet k.
	ok func(k int, from, to time.Duration) bool
}

// toption is one option: run i in subnet k holds grid instants [lo, hi).
type toption struct {
	run, k, lo, hi int
}

// timeIndexed returns the time-indexed bound of the runs on the subnets
// (see above); lower is a value the LP is known to reach (the best
// strategy's count), the target of the subgradient steps.
func timeIndexed(runs []brun, subnets []bsubnet, lower float64) float64 {
	g := int64(boundStep)
	var opts []toption
	horizon := 0
	for i, r := range runs {
		first := int((int64(r.at) + g - 1) / g) // g_j ≥ at
		last := int((int64(r.at+r.wait) + g - 1) / g)
		for k, s := range subnets {
			if r.n > s.cap {
				continue
			}
			for j := first; j <= last; j++ {
				from := max(r.at, time.Duration(int64(j-1)*g))
				to := min(r.at+r.wait, time.Duration(int64(j)*g))
				if !r.ok(k, from, to) {
					continue
				}
				// The instants held whatever the start in (from, to]:
				// [g_j, from + hold).
				end := from + r.hold
				hi := int((int64(end) + g - 1) / g) // first instant ≥ end
				if hi <= j {
					hi = j // holds no instant
				}
				opts = append(opts, toption{run: i, k: k, lo: j, hi: hi})
				horizon = max(horizon, hi)
			}
		}
	}
	nk := len(subnets)
	width := horizon + 1
	mu := make([]float64, nk*width)
	prefix := make([]float64, nk*(width+1))
	load := make([]float64, nk*(width+1)) // difference array of the chosen options' IPs
	grad := make([]float64, nk*width)
	byRun := make([][]toption, len(runs))
	for _, o := range opts {
		byRun[o.run] = append(byRun[o.run], o)
	}

	sg := polyak{best: math.Inf(1), theta: 1, patience: 30, minTheta: 1e-5, lower: lower}
	const maxIter = 5000
	for it := 0; it < maxIter; it++ {
		val := 0.0
		for k, s := range subnets {
			p := prefix[k*(width+1):]
			for t := 0; t < width; t++ {
				m := mu[k*width+t]
				val += float64(s.cap) * m
				p[t+1] = p[t] + m
			}
		}
		clear(load)
		for i, r := range runs {
			bestV, bestO := 0.0, -1
			for x, o := range byRun[i] {
				p := prefix[o.k*(width+1):]
				v := 1 - float64(r.n)*(p[o.hi]-p[o.lo])
				if v > bestV {
					bestV, bestO = v, x
				}
			}
			if bestO < 0 {
				continue
			}
			val += bestV
			o := byRun[i][bestO]
			l := load[o.k*(width+1):]
			l[o.lo] += float64(r.n)
			l[o.hi] -= float64(r.n)
		}
		if sg.done(val) {
			break
		}
		norm := 0.0
		for k, s := range subnets {
			l := load[k*(width+1):]
			cur := 0.0
			for t := 0; t < width; t++ {
				cur += l[t]
				d := float64(s.cap) - cur // ∂L/∂μ
				grad[k*width+t] = d
				if mu[k*width+t] > 0 || d < 0 {
					norm += d * d
				}
			}
		}
		if norm < 1e-12 {
			break // a zero subgradient: μ is optimal
		}
		step := sg.step(val, norm)
		for x := range mu {
			mu[x] = math.Max(0, mu[x]-step*grad[x])
		}
	}
	return sg.best
}
